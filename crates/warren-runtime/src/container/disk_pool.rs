//! Pre-formatted disk images of the default quota size, so that `mkfs.ext4` (~10 ms) is off the
//! create path: a create of that size takes a ready image (a rename into its bundle) and a
//! background task formats a replacement.
//!
//! `<pool>/tmp-<n>.img` while being formatted, renamed to `<pool>/ready-<n>.img` once complete,
//! so a crash leaves either a complete image or a temp file (removed at start). Ready images of
//! another size (the default changed) are removed at start too.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::disk;

/// A pool of formatted images of one size.
#[derive(Debug)]
pub(crate) struct DiskPool {
    dir: PathBuf,
    bytes: u64,
    target: usize,
    ready: Mutex<Vec<PathBuf>>,
    refilling: AtomicBool,
    counter: AtomicU64,
}

impl DiskPool {
    /// Open the pool directory, keeping complete images of `bytes` and removing anything else.
    pub(crate) fn open(dir: PathBuf, bytes: u64, target: usize) -> std::io::Result<Arc<Self>> {
        std::fs::create_dir_all(&dir)?;
        let mut ready = Vec::new();
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let keep = name.starts_with("ready-")
                && entry
                    .metadata()
                    .is_ok_and(|m| m.is_file() && m.len() == bytes);
            if keep && ready.len() < target {
                ready.push(path);
            } else {
                let _ = std::fs::remove_file(&path);
            }
        }
        Ok(Arc::new(Self {
            dir,
            bytes,
            target,
            ready: Mutex::new(ready),
            refilling: AtomicBool::new(false),
            counter: AtomicU64::new(0),
        }))
    }

    fn ready(&self) -> std::sync::MutexGuard<'_, Vec<PathBuf>> {
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Move a ready image of `bytes` to `dest`; false when the size differs or none is ready
    /// (the caller formats one itself). Starts a refill either way when the pool is short.
    pub(crate) fn take(self: &Arc<Self>, bytes: u64, dest: &Path) -> bool {
        if bytes != self.bytes {
            return false;
        }
        let taken = self.ready().pop();
        self.refill();
        match taken {
            Some(img) => match std::fs::rename(&img, dest) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(image = %img.display(), error = %e, "pooled disk unusable");
                    let _ = std::fs::remove_file(&img);
                    false
                }
            },
            None => false,
        }
    }

    /// Format images in the background until the pool is full (one refill task at a time).
    pub(crate) fn refill(self: &Arc<Self>) {
        if self.ready().len() >= self.target || self.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        let pool = self.clone();
        tokio::spawn(async move {
            while pool.ready().len() < pool.target {
                let n = pool.counter.fetch_add(1, Ordering::Relaxed);
                let tmp = pool.dir.join(format!("tmp-{}-{n}.img", std::process::id()));
                let ready = pool
                    .dir
                    .join(format!("ready-{}-{n}.img", std::process::id()));
                let made = match disk::create(&tmp, pool.bytes).await {
                    Ok(()) => std::fs::rename(&tmp, &ready).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = made {
                    tracing::warn!(error = %e, "cannot format a pooled disk; creates format their own");
                    let _ = std::fs::remove_file(&tmp);
                    break;
                }
                pool.ready().push(ready);
            }
            pool.refilling.store(false, Ordering::Release);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_keeps_complete_images_of_the_size_and_removes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pool");
        std::fs::create_dir(&p).unwrap();
        let sized = |name: &str, len: u64| {
            let f = std::fs::File::create(p.join(name)).unwrap();
            f.set_len(len).unwrap();
        };
        sized("ready-1-0.img", 1 << 20);
        sized("ready-1-1.img", 2 << 20);
        sized("tmp-1-2.img", 1 << 20);
        let pool = DiskPool::open(p.clone(), 1 << 20, 4).unwrap();
        assert_eq!(pool.ready().len(), 1);
        assert!(p.join("ready-1-0.img").exists());
        assert!(!p.join("ready-1-1.img").exists(), "wrong size");
        assert!(!p.join("tmp-1-2.img").exists(), "incomplete");
    }

    #[tokio::test]
    async fn take_moves_a_ready_image_only_of_the_pooled_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pool");
        std::fs::create_dir(&p).unwrap();
        std::fs::File::create(p.join("ready-1-0.img"))
            .unwrap()
            .set_len(1 << 20)
            .unwrap();
        let pool = DiskPool::open(p, 1 << 20, 1).unwrap();
        // As if a refill were running: no background mkfs in this test.
        pool.refilling.store(true, Ordering::Release);
        let dest = dir.path().join("disk.img");
        assert!(!pool.take(2 << 20, &dest), "other sizes are not pooled");
        assert!(pool.take(1 << 20, &dest));
        assert_eq!(std::fs::metadata(&dest).unwrap().len(), 1 << 20);
        assert!(
            !pool.take(1 << 20, &dir.path().join("other.img")),
            "empty now"
        );
    }
}
