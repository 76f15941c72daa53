//! The on-disk store: layout, the image index, lookups, layer unpacking
//! with per-layer locks, and garbage collection.
//!
//! Concurrency: pulls, imports and `layer_dirs` hold the GC lock shared for
//! their whole duration, so a `remove` (which takes it exclusively for its
//! sweep) can never delete a blob or layer that an in-flight operation has
//! written but not yet recorded. Unpacking a layer takes a per-diff-id
//! async lock, and the finished tree appears with one rename.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::digest::Digest;
use crate::error::{OpenError, RemoveError, StoreError};
use crate::reference::Reference;
use crate::{IdShift, Image, Layer, StoreOptions, UnpackLimits};

/// The OCI content store. Cheap to clone; all clones share state.
#[derive(Clone, Debug)]
pub struct ImageStore {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) blobs: PathBuf,
    pub(crate) layers: PathBuf,
    images: PathBuf,
    pub(crate) tmp: PathBuf,
    pub(crate) shift: IdShift,
    limits: Mutex<UnpackLimits>,
    index: tokio::sync::Mutex<BTreeMap<String, Image>>,
    pub(crate) gc: tokio::sync::RwLock<()>,
    layer_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pub(crate) http: std::sync::OnceLock<reqwest::Client>,
}

#[derive(Serialize, Deserialize)]
struct IndexFile {
    version: u32,
    images: Vec<Image>,
}

/// A name for temp files that no other writer (thread or process) uses.
pub(crate) fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000_000
    )
}

fn is_tmp(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with(".tmp-")
}

impl ImageStore {
    /// Opens (creating if needed) the store at `opts.root`, removing temp
    /// files a crash may have left behind.
    pub async fn open(opts: StoreOptions) -> Result<Self, OpenError> {
        let root = opts.root;
        let blobs = root.join("content/blobs/sha256");
        let layers = root.join("layers");
        let images = root.join("images");
        let tmp = root.join("tmp");
        for dir in [&blobs, &layers, &images] {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|source| OpenError::Dir {
                    path: dir.clone(),
                    source,
                })?;
            let mut rd = tokio::fs::read_dir(dir)
                .await
                .map_err(|source| OpenError::Dir {
                    path: dir.clone(),
                    source,
                })?;
            while let Ok(Some(e)) = rd.next_entry().await {
                if is_tmp(&e.file_name()) {
                    tracing::info!(path = %e.path().display(), "removing leftover temp file");
                    let _ = remove_any(&e.path()).await;
                }
            }
        }
        let _ = remove_any(&tmp).await;
        tokio::fs::create_dir_all(&tmp)
            .await
            .map_err(|source| OpenError::Dir {
                path: tmp.clone(),
                source,
            })?;
        // Only root reads the store: sandboxes see layers through their overlay
        // mount (made by root), never through these paths, and other host users
        // have no business reading private images.
        for dir in [
            root.join("content"),
            layers.clone(),
            images.clone(),
            tmp.clone(),
        ] {
            use std::os::unix::fs::PermissionsExt;
            tokio::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .await
                .map_err(|source| OpenError::Dir {
                    path: dir.clone(),
                    source,
                })?;
        }
        let index_path = images.join("index.json");
        let index = match tokio::fs::read(&index_path).await {
            Ok(bytes) => {
                let f: IndexFile =
                    serde_json::from_slice(&bytes).map_err(|source| OpenError::ParseIndex {
                        path: index_path.clone(),
                        source,
                    })?;
                f.images
                    .into_iter()
                    .map(|i| (i.reference.clone(), i))
                    .collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => {
                return Err(OpenError::ReadIndex {
                    path: index_path,
                    source,
                });
            }
        };
        Ok(ImageStore {
            inner: Arc::new(Inner {
                blobs,
                layers,
                images,
                tmp,
                shift: opts.id_shift,
                limits: Mutex::new(UnpackLimits::default()),
                index: tokio::sync::Mutex::new(index),
                gc: tokio::sync::RwLock::new(()),
                layer_locks: Mutex::new(HashMap::new()),
                http: std::sync::OnceLock::new(),
            }),
        })
    }

    /// Replaces the per-layer unpack limits (defaults: 1,000,000 entries, 64 GiB).
    pub fn set_unpack_limits(&self, limits: UnpackLimits) {
        *self.inner.limits.lock().unwrap_or_else(|e| e.into_inner()) = limits;
    }

    /// All images, sorted by reference.
    pub async fn list(&self) -> Result<Vec<Image>, StoreError> {
        Ok(self.inner.index.lock().await.values().cloned().collect())
    }

    /// Looks an image up by reference (`busybox`, `docker.io/library/busybox:latest`)
    /// or by manifest/config digest (`sha256:…` in full, or a unique prefix of at
    /// least 12 hex digits, with or without `sha256:`).
    pub async fn get(&self, reference_or_digest: &str) -> Result<Option<Image>, StoreError> {
        let index = self.inner.index.lock().await;
        let found = lookup(&index, reference_or_digest)?;
        Ok(found.into_iter().next())
    }

    /// Removes the reference (or the single reference a digest names), then
    /// deletes every blob and layer no remaining image uses.
    ///
    /// The caller must make sure no sandbox still uses the image's layers.
    pub async fn remove(&self, reference_or_digest: &str) -> Result<Image, RemoveError> {
        let _gc = self.inner.gc.write().await;
        let mut index = self.inner.index.lock().await;
        let found = lookup(&index, reference_or_digest)?;
        let image = match found.as_slice() {
            [] => {
                return Err(RemoveError::NotFound {
                    query: reference_or_digest.to_owned(),
                });
            }
            [one] => one.clone(),
            many => {
                return Err(RemoveError::Ambiguous {
                    query: reference_or_digest.to_owned(),
                    references: many.iter().map(|i| i.reference.clone()).collect(),
                });
            }
        };
        index.remove(&image.reference);
        self.persist(&index).await?;
        self.sweep(&index).await?;
        Ok(image)
    }

    /// Unpacked layer directories of `image`, lowest layer first (the order
    /// overlayfs wants reversed in `lowerdir=`). Unpacks any that are missing.
    pub async fn layer_dirs(&self, image: &Image) -> Result<Vec<PathBuf>, StoreError> {
        let _gc = self.inner.gc.read().await;
        let mut dirs = Vec::with_capacity(image.layers.len());
        for layer in &image.layers {
            dirs.push(self.ensure_layer(layer).await?);
        }
        Ok(dirs)
    }

    pub(crate) fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.inner.blobs.join(digest.hex())
    }

    pub(crate) async fn has_blob(&self, digest: &Digest) -> bool {
        tokio::fs::metadata(self.blob_path(digest))
            .await
            .is_ok_and(|m| m.is_file())
    }

    /// Stores small verified content (manifests, configs).
    pub(crate) async fn put_blob_bytes(
        &self,
        digest: &Digest,
        data: &[u8],
    ) -> Result<(), crate::blob::CommitError> {
        if self.has_blob(digest).await && Digest::of(data) == *digest {
            return Ok(());
        }
        let mut w = crate::blob::BlobWriter::create(&self.inner.blobs, digest).await?;
        w.write(data).await?;
        w.commit().await.map(|_| ())
    }

    /// Records `image` under its reference (replacing an older image there).
    pub(crate) async fn put_image(&self, image: Image) -> Result<(), StoreError> {
        let mut index = self.inner.index.lock().await;
        index.insert(image.reference.clone(), image);
        self.persist(&index).await
    }

    /// Makes sure `layer` is unpacked; returns its directory.
    pub(crate) async fn ensure_layer(&self, layer: &Layer) -> Result<PathBuf, StoreError> {
        let diff_id = Digest::parse(&layer.diff_id).map_err(|_| StoreError::BlobMissing {
            digest: layer.diff_id.clone(),
        })?;
        let blob_digest = Digest::parse(&layer.digest).map_err(|_| StoreError::BlobMissing {
            digest: layer.digest.clone(),
        })?;
        let dest = self.inner.layers.join(diff_id.hex());
        if tokio::fs::metadata(&dest).await.is_ok() {
            return Ok(dest);
        }
        let lock = {
            let mut locks = self
                .inner
                .layer_locks
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            locks.entry(diff_id.hex().to_owned()).or_default().clone()
        };
        let _guard = lock.lock().await;
        if tokio::fs::metadata(&dest).await.is_ok() {
            return Ok(dest);
        }
        let blob = self.blob_path(&blob_digest);
        let file = std::fs::File::open(&blob).map_err(|_| StoreError::BlobMissing {
            digest: layer.digest.clone(),
        })?;
        let tmp = self
            .inner
            .layers
            .join(format!(".tmp-{}-{}", diff_id.short(), unique_suffix()));
        tokio::fs::create_dir(&tmp)
            .await
            .map_err(StoreError::io("create", &tmp))?;
        let (shift, limits) = (
            self.inner.shift,
            *self.inner.limits.lock().unwrap_or_else(|e| e.into_inner()),
        );
        let tmp2 = tmp.clone();
        let started = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(move || {
            crate::unpack::unpack_layer(file, &tmp2, Some(&diff_id), shift, limits)
        })
        .await;
        let stats = match result {
            Ok(Ok(stats)) => stats,
            Ok(Err(source)) => {
                let _ = remove_any(&tmp).await;
                return Err(StoreError::Unpack {
                    digest: layer.digest.clone(),
                    source,
                });
            }
            Err(source) => {
                let _ = remove_any(&tmp).await;
                return Err(StoreError::Task {
                    what: format!("unpacking {}", layer.digest),
                    source,
                });
            }
        };
        sync_dir(&tmp).await;
        match tokio::fs::rename(&tmp, &dest).await {
            Ok(()) => {}
            // Another process finished it first: theirs is identical.
            Err(_) if tokio::fs::metadata(&dest).await.is_ok() => {
                let _ = remove_any(&tmp).await;
            }
            Err(e) => {
                let _ = remove_any(&tmp).await;
                return Err(StoreError::io("rename layer into", &dest)(e));
            }
        }
        sync_dir(&self.inner.layers).await;
        tracing::debug!(layer = %layer.digest, entries = stats.entries, bytes = stats.bytes,
            ms = started.elapsed().as_millis() as u64, "unpacked layer");
        Ok(dest)
    }

    /// Writes the index atomically: temp file, fsync, rename, fsync dir.
    async fn persist(&self, index: &BTreeMap<String, Image>) -> Result<(), StoreError> {
        let file = IndexFile {
            version: 1,
            images: index.values().cloned().collect(),
        };
        let bytes =
            serde_json::to_vec_pretty(&file).map_err(|source| StoreError::Serialize { source })?;
        let path = self.inner.images.join("index.json");
        write_atomic(&path, &bytes).await
    }

    /// Deletes blobs and layer trees that no image in `index` references.
    /// Runs with the GC lock held exclusively.
    async fn sweep(&self, index: &BTreeMap<String, Image>) -> Result<(), StoreError> {
        let mut blobs = HashSet::new();
        let mut layers = HashSet::new();
        for i in index.values() {
            blobs.insert(hex_of(&i.digest));
            blobs.insert(hex_of(&i.config_digest));
            for l in &i.layers {
                blobs.insert(hex_of(&l.digest));
                layers.insert(hex_of(&l.diff_id));
            }
        }
        for (dir, keep) in [(&self.inner.blobs, &blobs), (&self.inner.layers, &layers)] {
            let mut rd = tokio::fs::read_dir(dir)
                .await
                .map_err(StoreError::io("list", dir))?;
            while let Some(e) = rd.next_entry().await.map_err(StoreError::io("list", dir))? {
                let name = e.file_name().to_string_lossy().into_owned();
                if !keep.contains(name.as_str()) && !name.starts_with(".tmp-") {
                    tracing::debug!(path = %e.path().display(), "garbage-collecting");
                    remove_any(&e.path())
                        .await
                        .map_err(StoreError::io("remove", e.path()))?;
                }
            }
        }
        Ok(())
    }
}

fn hex_of(digest: &str) -> String {
    digest.strip_prefix("sha256:").unwrap_or(digest).to_owned()
}

/// Images matching a query, as described on [`ImageStore::get`]. Several
/// results only when a digest names several references of the same image;
/// a prefix matching different images is an error.
fn lookup(index: &BTreeMap<String, Image>, query: &str) -> Result<Vec<Image>, StoreError> {
    let hex = query.strip_prefix("sha256:");
    let is_hex = |s: &str| {
        s.len() >= 12 && s.len() <= 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if hex.is_none() {
        let reference = Reference::parse(query)?;
        if let Some(i) = index.get(&reference.to_string()) {
            return Ok(vec![i.clone()]);
        }
        if !is_hex(query) {
            return Ok(Vec::new());
        }
    }
    let hex = hex.unwrap_or(query);
    if !is_hex(hex) {
        return Err(StoreError::InvalidReference(
            crate::error::ReferenceError::Invalid {
                reference: query.to_owned(),
                reason: "a digest prefix needs 12 to 64 lowercase hex digits".into(),
            },
        ));
    }
    let matches: Vec<Image> = index
        .values()
        .filter(|i| hex_of(&i.digest).starts_with(hex) || hex_of(&i.config_digest).starts_with(hex))
        .cloned()
        .collect();
    let distinct: HashSet<&str> = matches.iter().map(|i| i.digest.as_str()).collect();
    if distinct.len() > 1 {
        return Err(StoreError::Ambiguous {
            query: query.to_owned(),
            matches: distinct.into_iter().map(str::to_owned).collect(),
        });
    }
    Ok(matches)
}

pub(crate) async fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".tmp-{}", unique_suffix()));
    let result = async {
        let mut f = tokio::fs::File::create(&tmp)
            .await
            .map_err(StoreError::io("create", &tmp))?;
        f.write_all(bytes)
            .await
            .map_err(StoreError::io("write", &tmp))?;
        f.sync_all().await.map_err(StoreError::io("fsync", &tmp))?;
        tokio::fs::rename(&tmp, path)
            .await
            .map_err(StoreError::io("rename into", path))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    sync_dir(dir).await;
    result
}

async fn sync_dir(dir: &Path) {
    if let Ok(f) = tokio::fs::File::open(dir).await {
        let _ = f.sync_all().await;
    }
}

pub(crate) async fn remove_any(path: &Path) -> std::io::Result<()> {
    match tokio::fs::symlink_metadata(path).await {
        Ok(m) if m.is_dir() => tokio::fs::remove_dir_all(path).await,
        Ok(_) => tokio::fs::remove_file(path).await,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}
