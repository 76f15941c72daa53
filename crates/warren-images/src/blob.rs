//! Writing blobs into `content/blobs/sha256/`: stream into a temp file in
//! the same directory while hashing, fsync, compare with the expected
//! digest, rename. A mismatch removes the temp file and stores nothing.
//! Concurrent writers of the same digest are harmless: both verify, the
//! last rename wins, and the content is identical.

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use crate::digest::Digest;
use crate::error::StoreError;

/// Why committing a blob failed.
#[derive(Debug)]
pub(crate) enum CommitError {
    /// Content hashed to something else; nothing was stored.
    Mismatch { expected: Digest, actual: Digest },
    /// A local I/O failure.
    Store(StoreError),
}

impl From<StoreError> for CommitError {
    fn from(e: StoreError) -> Self {
        CommitError::Store(e)
    }
}

/// A blob being written. Dropping it without `commit` removes the temp file.
#[derive(Debug)]
pub(crate) struct BlobWriter {
    file: Option<tokio::fs::File>,
    tmp: PathBuf,
    dest: PathBuf,
    expected: Digest,
    hasher: Sha256,
    written: u64,
}

impl BlobWriter {
    pub(crate) async fn create(dir: &Path, expected: &Digest) -> Result<Self, StoreError> {
        let tmp = dir.join(format!(
            ".tmp-{}-{}",
            expected.short(),
            crate::store::unique_suffix()
        ));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .await
            .map_err(StoreError::io("create", &tmp))?;
        Ok(BlobWriter {
            file: Some(file),
            dest: dir.join(expected.hex()),
            tmp,
            expected: expected.clone(),
            hasher: Sha256::new(),
            written: 0,
        })
    }

    /// Bytes written so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    pub(crate) async fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        self.hasher.update(data);
        self.written += data.len() as u64;
        let f = self.file.as_mut().expect("file present until commit");
        f.write_all(data)
            .await
            .map_err(StoreError::io("write", &self.tmp))
    }

    /// Verifies the digest, makes the file durable and renames it into place.
    pub(crate) async fn commit(mut self) -> Result<u64, CommitError> {
        let actual = Digest::from_hasher(std::mem::take(&mut self.hasher));
        if actual != self.expected {
            return Err(CommitError::Mismatch {
                expected: self.expected.clone(),
                actual,
            });
        }
        let mut f = self.file.take().expect("file present until commit");
        f.flush()
            .await
            .map_err(StoreError::io("flush", &self.tmp))?;
        f.sync_all()
            .await
            .map_err(StoreError::io("fsync", &self.tmp))?;
        drop(f);
        tokio::fs::rename(&self.tmp, &self.dest)
            .await
            .map_err(StoreError::io("rename blob into", &self.dest))?;
        self.tmp = PathBuf::new();
        Ok(self.written)
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
