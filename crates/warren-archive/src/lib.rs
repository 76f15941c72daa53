//! Moves directories — stopped or hibernated sandboxes, snapshots — to object storage and back.
//!
//! [`Archive::put_dir`] packs a directory into one object; [`Archive::get_dir`] restores it into
//! a new directory. Two backends sit behind the `object_store` crate ([`ArchiveConfig`]): a
//! local directory (the default) and S3-compatible storage.
//!
//! # What round-trips
//!
//! The directories are sandbox filesystems as root sees them on the host, and everything in them
//! comes back exactly: file types (including overlayfs whiteouts, which are `0:0` character
//! devices, other device nodes, FIFOs and Unix sockets), modes with setuid/sticky bits, numeric
//! owners (the shifted uids 100000+), all extended attributes (`trusted.overlay.opaque`,
//! `security.*`, `user.*`), POSIX ACLs, hard links, symlinks exactly as stored (dangling or
//! absolute; never followed), nanosecond mtimes, and sparseness: a 10 GiB sparse disk image
//! holding a few MiB is read, stored and written back as a few MiB. Packing and restoring need
//! root (or at least the capabilities to read everything, chown, mknod and set `trusted.*`).
//!
//! # Object format
//!
//! One object per key, a valid `.tar.zst` file (`zstd -d < OBJ | tar -x` works by hand) made of
//! three zstd frames:
//!
//! 1. a *skippable frame* (magic `0x184D2A50`) holding a small JSON manifest: what the tar
//!    stream cannot carry, i.e. the Unix socket files, which GNU tar skips (restored as unbound
//!    socket files with their owner, mode and mtime);
//! 2. the zstd-compressed (level 3, with zstd's content checksum) stream of GNU
//!    `tar --create --format=posix --xattrs --xattrs-include='*' --acls --sparse
//!    --numeric-owner -C DIR .`, read from tar's stdout as it is produced;
//! 3. a 64-byte skippable trailer frame (magic `0x184D2A5E`, tag `WRNARC01`) holding the
//!    length of frames 1-2, the length of the uncompressed tar stream and the **sha256 of frames
//!    1-2**: the checksum of the stored bytes travels inside the object, so object and checksum
//!    can never be out of step.
//!
//! Nothing holds a whole archive in memory or on disk: tar's output is compressed into 1 MiB
//! chunks, gathered into parts of at least 8 MiB, and at most three parts upload at once.
//! Restoring streams the download through the decompressor into `tar --extract`.
//!
//! # Atomicity
//!
//! * **put**: the object is written with a multipart upload, which makes it visible only when
//!   complete (S3's `CompleteMultipartUpload`; the local store writes a staging file `KEY#N`
//!   and renames it). An error, a dropped future or a crash before that leaves nothing under the
//!   key (an existing object there stays as it was); an error or drop also aborts the upload.
//!   After a crash S3 keeps the parts of an unfinished upload until a bucket lifecycle rule
//!   (`AbortIncompleteMultipartUpload`) removes them. A put replaces any object already there.
//! * **get**: the archive is unpacked into a temporary sibling of the destination
//!   (`.NAME.partial-PID-N`), the sha256 of the stored bytes is checked against the trailer,
//!   and only then is the directory renamed into place (`renameat2(RENAME_NOREPLACE)`), so the
//!   destination appears complete or not at all. A corrupt or truncated object is an error
//!   ([`ArchiveError::ChecksumMismatch`], [`ArchiveError::Corrupt`],
//!   [`ArchiveError::Decompress`]) and leaves no destination. A crash during a get can leave a
//!   `.NAME.partial-*` directory behind, which is safe to delete.
//!
//! The checksum detects damage, not tampering: whoever can write the bucket can write a
//! consistent object. The archive storage must be trusted like the host's own disk.
//!
//! # Keys
//!
//! Keys are relative, slash-separated names from `[A-Za-z0-9._/-]` ([`validate_key`]); the local
//! backend stores `KEY` as the file `DIR/KEY`.
#![forbid(unsafe_code)]

mod error;
mod format;
mod key;
mod pack;
mod scan;
mod store;
mod tar;
mod unpack;
mod upload;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use object_store::ObjectStoreExt;
use tokio::sync::mpsc;

pub use error::{ArchiveError, TarOp};
pub use key::{MAX_KEY_LEN, validate_key};
pub use store::ArchiveConfig;

/// What [`Archive::put_dir`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveInfo {
    /// Size of the stored object in bytes.
    pub stored_bytes: u64,
    /// sha256 (lowercase hex) of the stored bytes before the 64-byte trailer, as recorded in
    /// the trailer and verified by [`Archive::get_dir`].
    pub sha256: String,
    /// Size of the uncompressed tar stream: the directory's data (without the holes of sparse
    /// files) plus tar's headers.
    pub source_bytes: u64,
}

/// An archive store. Cheap to clone; clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Archive {
    inner: Arc<store::Store>,
}

/// Downloaded bytes are passed to the unpacker in chunks of at least this size (the local
/// store yields 8 KiB pieces).
const DOWNLOAD_CHUNK: usize = 1 << 20;

impl Archive {
    /// Connects to (or, for a local directory, creates) the storage described by `cfg`. Does no
    /// network I/O: a wrong S3 endpoint or credentials show up at the first operation.
    pub fn open(cfg: &ArchiveConfig) -> Result<Archive, ArchiveError> {
        Ok(Archive {
            inner: Arc::new(store::Store::open(cfg)?),
        })
    }

    /// Removes what uploads cut short by a crash left in a local archive directory (staging
    /// files `KEY#N`); returns how many. Nothing to do for S3 (abandoned multipart uploads are
    /// for the bucket's lifecycle rule). Call it when no upload is running, at start-up.
    pub fn remove_stale_uploads(&self) -> usize {
        let Some(dir) = &self.inner.local_dir else {
            return 0;
        };
        let mut removed = 0;
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let path = e.path();
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(path);
                    continue;
                }
                let name = e.file_name();
                let staging = name
                    .to_str()
                    .and_then(|n| n.rsplit_once('#'))
                    .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
                if staging && std::fs::remove_file(&path).is_ok() {
                    removed += 1;
                }
            }
        }
        removed
    }

    /// Where archives go, for logs and messages: `local:/var/lib/warren/archive` or
    /// `s3://bucket (endpoint http://127.0.0.1:9000, region us-east-1)`. Never the secret.
    pub fn describe(&self) -> String {
        self.inner.target.clone()
    }

    /// Packs `dir` and uploads it under `key`, replacing any object there. The object becomes
    /// visible only once complete: an error, a crash or dropping this future half-way leaves
    /// no (new) object under `key`. `progress` is called with the number of bytes uploaded so
    /// far, each time a part finished uploading.
    pub async fn put_dir(
        &self,
        key: &str,
        dir: &Path,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<ArchiveInfo, ArchiveError> {
        validate_key(key)?;
        let location = object_store::path::Path::from(key);
        let (key_owned, dir_owned) = (key.to_owned(), dir.to_owned());
        let scan = tokio::task::spawn_blocking(move || scan::scan(&dir_owned))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
            .map_err(|(dir, source)| ArchiveError::Source {
                key: key_owned,
                dir,
                source,
            })?;
        let manifest = format::Manifest {
            format: format::MANIFEST_FORMAT,
            sockets: scan.sockets,
        };

        let multipart = self
            .inner
            .store
            .put_multipart(&location)
            .await
            .map_err(|e| self.storage_err(key, "upload", e))?;
        let mut upload =
            upload::Upload::new(multipart, upload::part_size(scan.allocated_bytes), progress);

        // Dropping `rx` (on an upload error, or when this future is dropped) makes the packer's
        // next send fail, which kills tar and ends the thread.
        let (tx, mut rx) = mpsc::channel::<Bytes>(4);
        let (key_owned, dir_owned) = (key.to_owned(), dir.to_owned());
        let packer = tokio::task::spawn_blocking(move || {
            pack::pack(&key_owned, &dir_owned, &manifest, &mut |chunk| {
                tx.blocking_send(chunk).map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped")
                })
            })
        });

        while let Some(chunk) = rx.recv().await {
            if let Err(e) = upload.push(chunk).await {
                drop(rx);
                upload.abort().await;
                return Err(self.storage_err(key, "upload", e));
            }
        }
        let packed = match packer.await {
            Ok(Ok(packed)) => packed,
            Ok(Err(e)) => {
                upload.abort().await;
                return Err(e);
            }
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        };
        upload
            .complete()
            .await
            .map_err(|e| self.storage_err(key, "upload", e))?;
        progress(packed.stored_bytes);
        Ok(ArchiveInfo {
            stored_bytes: packed.stored_bytes,
            sha256: hex::encode(packed.sha256),
            source_bytes: packed.tar_bytes,
        })
    }

    /// Downloads `key` and unpacks it into `dest`, which must not exist (its parent is created
    /// if missing). `dest` appears complete and verified, or not at all. `progress` is called
    /// with the bytes downloaded so far and the object's size.
    pub async fn get_dir(
        &self,
        key: &str,
        dest: &Path,
        progress: &(dyn Fn(u64, Option<u64>) + Send + Sync),
    ) -> Result<(), ArchiveError> {
        validate_key(key)?;
        let dest_err = |path: &Path, source| ArchiveError::Dest {
            key: key.to_owned(),
            path: path.to_owned(),
            source,
        };
        let Some(name) = dest.file_name() else {
            let invalid = std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the destination has no file name",
            );
            return Err(dest_err(dest, invalid));
        };
        if dest.symlink_metadata().is_ok() {
            return Err(ArchiveError::DestExists {
                key: key.to_owned(),
                dest: dest.to_owned(),
            });
        }
        let location = object_store::path::Path::from(key);
        let got = match self.inner.store.get(&location).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(ArchiveError::NotFound {
                    key: key.to_owned(),
                    target: self.describe(),
                });
            }
            Err(e) => return Err(self.storage_err(key, "download", e)),
        };
        let total = got.meta.size;
        let mut stream = match got.payload {
            object_store::GetResultPayload::File(file, path) => store::file_stream(file, path),
            object_store::GetResultPayload::Stream(stream) => stream,
        };

        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| dest_err(&parent, e))?;
        let tmp = make_temp_dir(&parent, name).map_err(|e| dest_err(&parent, e))?;

        // Dropping `tx` without `Msg::End` (on a download error, or when this future is
        // dropped) makes the unpacker kill tar and remove `tmp`.
        let (tx, rx) = mpsc::channel::<unpack::Msg>(4);
        let (key_owned, dest_owned) = (key.to_owned(), dest.to_owned());
        let unpacker =
            tokio::task::spawn_blocking(move || unpack::unpack(&key_owned, &tmp, &dest_owned, rx));

        let mut downloaded = 0u64;
        let mut batch = BytesMut::new();
        let download_err = loop {
            match stream.next().await {
                Some(Ok(bytes)) => {
                    downloaded += bytes.len() as u64;
                    progress(downloaded, Some(total));
                    batch.extend_from_slice(&bytes);
                    if batch.len() >= DOWNLOAD_CHUNK {
                        let chunk = batch.split().freeze();
                        if tx.send(unpack::Msg::Data(chunk)).await.is_err() {
                            break None; // the unpacker failed; its result says why
                        }
                    }
                }
                Some(Err(e)) => break Some(e),
                None => {
                    let chunk = batch.split().freeze();
                    let _ = tx.send(unpack::Msg::Data(chunk)).await;
                    let _ = tx.send(unpack::Msg::End).await;
                    break None;
                }
            }
        };
        drop(tx);
        let unpacked = unpacker
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        match download_err {
            Some(e) => Err(self.storage_err(key, "download", e)),
            None => unpacked,
        }
    }

    /// Deletes the object under `key`; deleting a missing key succeeds.
    pub async fn delete(&self, key: &str) -> Result<(), ArchiveError> {
        validate_key(key)?;
        match self
            .inner
            .store
            .delete(&object_store::path::Path::from(key))
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.storage_err(key, "delete", e)),
        }
    }

    /// Whether a (complete) object is stored under `key`.
    pub async fn exists(&self, key: &str) -> Result<bool, ArchiveError> {
        validate_key(key)?;
        match self
            .inner
            .store
            .head(&object_store::path::Path::from(key))
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.storage_err(key, "lookup", e)),
        }
    }

    fn storage_err(
        &self,
        key: &str,
        op: &'static str,
        source: object_store::Error,
    ) -> ArchiveError {
        ArchiveError::Storage {
            key: key.to_owned(),
            op,
            target: self.describe(),
            source: Box::new(source),
        }
    }
}

/// Creates an empty, private directory `.NAME.partial-PID-N` in `parent` (NAME cut to 200
/// bytes, to stay within the 255 a file name may have).
fn make_temp_dir(parent: &Path, name: &std::ffi::OsStr) -> std::io::Result<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::DirBuilderExt;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = std::ffi::OsStr::from_bytes(&name.as_bytes()[..name.len().min(200)]);
    loop {
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut file_name = std::ffi::OsString::from(".");
        file_name.push(name);
        file_name.push(format!(".partial-{}-{n}", std::process::id()));
        let path = parent.join(file_name);
        match std::fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}
