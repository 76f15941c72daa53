//! A multipart upload fed chunk by chunk: chunks are gathered into parts, a bounded number of
//! parts upload concurrently, and the object appears only at [`Upload::complete`]. Dropped or
//! failed before that, the upload is aborted (on S3 the parts are deleted; the local store
//! removes its staging file), so no object appears under the key.

use bytes::Bytes;
use object_store::{MultipartUpload, PutPayload};
use tokio::task::JoinSet;

/// Parts uploading at once: enough to keep a link busy, few enough to bound memory at about
/// `(MAX_IN_FLIGHT + 1) * part_size`.
const MAX_IN_FLIGHT: usize = 3;
/// Smallest part: S3's minimum for all parts but the last is 5 MiB.
pub(crate) const MIN_PART: usize = 8 << 20;
/// S3 allows 10,000 parts per upload; aim below that.
const MAX_PARTS: u64 = 9_000;

/// The part size for an archive of a directory taking `allocated` bytes on disk: the archive is
/// rarely larger (tar's metadata is small, and zstd does not expand data by more than a
/// fraction of a percent), so it fits in [`MAX_PARTS`].
pub(crate) fn part_size(allocated: u64) -> usize {
    let estimate = allocated + allocated / 16 + (1 << 20);
    let size = estimate.div_ceil(MAX_PARTS).next_multiple_of(1 << 20);
    usize::try_from(size).unwrap_or(usize::MAX).max(MIN_PART)
}

pub(crate) struct Upload<'p> {
    /// `None` once completed or aborted.
    inner: Option<Box<dyn MultipartUpload>>,
    parts: JoinSet<object_store::Result<usize>>,
    pending: Vec<Bytes>,
    pending_len: usize,
    part_size: usize,
    uploaded: u64,
    progress: &'p (dyn Fn(u64) + Send + Sync),
}

impl<'p> Upload<'p> {
    pub(crate) fn new(
        inner: Box<dyn MultipartUpload>,
        part_size: usize,
        progress: &'p (dyn Fn(u64) + Send + Sync),
    ) -> Self {
        Upload {
            inner: Some(inner),
            parts: JoinSet::new(),
            pending: Vec::new(),
            pending_len: 0,
            part_size,
            uploaded: 0,
            progress,
        }
    }

    /// Adds the next bytes of the object.
    pub(crate) async fn push(&mut self, chunk: Bytes) -> object_store::Result<()> {
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= self.part_size {
            self.send_part().await?;
        }
        // Report parts as they finish, not only when the next one has to wait for them.
        while let Some(done) = self.parts.try_join_next() {
            self.joined(done)?;
        }
        Ok(())
    }

    async fn send_part(&mut self) -> object_store::Result<()> {
        while self.parts.len() >= MAX_IN_FLIGHT {
            self.join_one().await?;
        }
        let len = std::mem::take(&mut self.pending_len);
        let payload: PutPayload = std::mem::take(&mut self.pending).into_iter().collect();
        let part = self.inner.as_mut().expect("upload open").put_part(payload);
        self.parts.spawn(async move { part.await.map(|()| len) });
        Ok(())
    }

    async fn join_one(&mut self) -> object_store::Result<()> {
        match self.parts.join_next().await {
            None => Ok(()),
            Some(done) => self.joined(done),
        }
    }

    fn joined(
        &mut self,
        done: Result<object_store::Result<usize>, tokio::task::JoinError>,
    ) -> object_store::Result<()> {
        match done {
            Ok(Ok(len)) => {
                self.uploaded += len as u64;
                (self.progress)(self.uploaded);
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            Err(join) => Err(object_store::Error::Generic {
                store: "multipart upload",
                source: Box::new(join),
            }),
        }
    }

    /// Uploads what is left and makes the object visible.
    pub(crate) async fn complete(mut self) -> object_store::Result<()> {
        if self.pending_len > 0 {
            self.send_part().await?;
        }
        while !self.parts.is_empty() {
            self.join_one().await?;
        }
        let mut inner = self.inner.take().expect("upload open");
        match inner.complete().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let _ = inner.abort().await;
                Err(e)
            }
        }
    }

    /// Discards the upload; nothing appears under the key.
    pub(crate) async fn abort(mut self) {
        self.parts.abort_all();
        while self.parts.join_next().await.is_some() {}
        if let Some(mut inner) = self.inner.take() {
            let _ = inner.abort().await;
        }
    }
}

impl Drop for Upload<'_> {
    fn drop(&mut self) {
        // Dropped half-way (the caller's future was cancelled): abort in the background.
        // The JoinSet aborts the part uploads in flight as it drops.
        if let Some(mut inner) = self.inner.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = inner.abort().await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_stay_within_s3_limits() {
        assert_eq!(part_size(0), MIN_PART);
        assert_eq!(part_size(10 << 30), MIN_PART);
        for allocated in [100u64 << 30, 1 << 40, 5 << 40] {
            let size = part_size(allocated) as u64;
            assert!(size.is_multiple_of(1 << 20));
            assert!(allocated.div_ceil(size) < 10_000, "{allocated}: {size}");
        }
    }
}
