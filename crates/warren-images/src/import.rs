//! `ImageStore::import`: docker-save tarballs (legacy `manifest.json` +
//! `<id>/layer.tar`, and Docker 25+'s OCI-layout-inside form), OCI layout
//! directories, and OCI archives (a tarred layout).
//!
//! A tar input is read once: every regular file is streamed into a private
//! temp dir under `<root>/tmp/` while hashed (names are only map keys, so
//! nothing in the archive can choose where we write). Every blob is then
//! checked against the digest that names it before it enters the store.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::blob::{BlobWriter, CommitError};
use crate::digest::{Digest, HashingReader};
use crate::error::ImportError;
use crate::registry::manifest::{self, ConfigFile, Document, ImageManifest};
use crate::unpack::decompress::{Compression, decoder};
use crate::{Image, ImageStore, Layer, Platform, PullEvent, PullProgress, Reference};

const MAX_JSON: u64 = 16 << 20;

/// Where the input's files are.
enum Source {
    Dir(PathBuf),
    /// Extracted tar: archive path → (temp file, digest).
    Tar {
        files: HashMap<String, (PathBuf, Digest)>,
        dir: PathBuf,
    },
}

impl Drop for Source {
    fn drop(&mut self) {
        if let Source::Tar { dir, .. } = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SaveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

impl ImageStore {
    /// Imports a docker-save tar, an OCI layout directory or an OCI archive
    /// tar. `tag` names the image when the input holds exactly one;
    /// otherwise names come from `RepoTags` or the layout's annotations, and
    /// unnamed images become `import/<short digest>`.
    pub async fn import(
        &self,
        path: &Path,
        tag: Option<&str>,
        progress: &dyn PullProgress,
    ) -> Result<Vec<Image>, ImportError> {
        let tag = tag.map(Reference::parse).transpose()?;
        let _gc = self.inner.gc.read().await;
        let meta = tokio::fs::metadata(path).await.map_err(io("read", path))?;
        let src = if meta.is_dir() {
            Source::Dir(path.to_path_buf())
        } else {
            self.extract(path).await?
        };
        let images = if let Some(bytes) = src.read_json("manifest.json").await? {
            let entries: Vec<SaveEntry> = json("manifest.json", &bytes)?;
            let mut out = Vec::new();
            for e in &entries {
                out.push(self.import_docker(&src, e, progress).await?);
            }
            out
        } else if src.exists("oci-layout") {
            let bytes = src
                .read_json("index.json")
                .await?
                .ok_or(ImportError::Missing {
                    file: "index.json".into(),
                })?;
            let index: manifest::ImageIndex = json("index.json", &bytes)?;
            let mut out = Vec::new();
            for d in &index.manifests {
                out.push(self.import_oci(&src, d, progress).await?);
            }
            out
        } else {
            return Err(ImportError::UnknownFormat {
                path: path.to_path_buf(),
            });
        };
        if images.is_empty() {
            return Err(ImportError::Empty);
        }
        let distinct: std::collections::HashSet<_> =
            images.iter().map(|(i, _)| i.digest.clone()).collect();
        if tag.is_some() && distinct.len() > 1 {
            return Err(ImportError::TagAmbiguous {
                count: distinct.len(),
            });
        }
        let mut stored = Vec::new();
        for (mut image, names) in images {
            let names: Vec<String> = match &tag {
                Some(t) => vec![t.to_string()],
                None if names.is_empty() => {
                    vec![Reference::parse(&format!("import/{}", &image.digest[7..19]))?.to_string()]
                }
                None => names,
            };
            for name in names {
                if stored.iter().any(|i: &Image| i.reference == name) {
                    continue;
                }
                image.reference = name;
                self.put_image(image.clone()).await?;
                progress.event(PullEvent::Done {
                    digest: image.digest.clone(),
                });
                stored.push(image.clone());
            }
        }
        Ok(stored)
    }

    async fn extract(&self, path: &Path) -> Result<Source, ImportError> {
        let dir = self
            .inner
            .tmp
            .join(format!("import-{}", crate::store::unique_suffix()));
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io("create", &dir))?;
        let (p, d) = (path.to_path_buf(), dir.clone());
        let res = tokio::task::spawn_blocking(move || extract_tar(&p, &d)).await;
        let files = match res {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(io("extract", path)(std::io::Error::other(e)));
            }
        };
        Ok(Source::Tar { files, dir })
    }

    async fn import_docker(
        &self,
        src: &Source,
        e: &SaveEntry,
        progress: &dyn PullProgress,
    ) -> Result<(Image, Vec<String>), ImportError> {
        let config_bytes = src
            .read_json(&e.config)
            .await?
            .ok_or(ImportError::Missing {
                file: e.config.clone(),
            })?;
        let config_digest = Digest::of(&config_bytes);
        check_name(&e.config, &config_digest)?;
        self.put_blob_bytes(&config_digest, &config_bytes)
            .await
            .map_err(|err| commit(err, &e.config))?;
        let config: ConfigFile = json(&e.config, &config_bytes)?;
        let mut descs = Vec::new();
        for (i, rel) in e.layers.iter().enumerate() {
            let digest = match src.known_digest(rel) {
                Some(d) => d.clone(),
                None => src.hash(rel).await?,
            };
            check_name(rel, &digest)?;
            let compression = src.compression(rel)?;
            // An uncompressed layer is its own diff id: check before storing anything.
            if let (Compression::None, Some(diff_id)) = (compression, config.rootfs.diff_ids.get(i))
                && *diff_id != digest.as_str()
            {
                return Err(ImportError::DigestMismatch {
                    file: rel.clone(),
                    expected: diff_id.clone(),
                    actual: digest.to_string(),
                });
            }
            let size = self.ingest(src, rel, &digest).await?;
            let media_type = match compression {
                Compression::Gzip => "application/vnd.docker.image.rootfs.diff.tar.gzip",
                Compression::Zstd => "application/vnd.docker.image.rootfs.diff.tar.zstd",
                Compression::None => manifest::DOCKER_LAYER_TAR,
            };
            descs.push(serde_json::json!({"mediaType": media_type, "size": size, "digest": digest.as_str()}));
        }
        let doc = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": manifest::DOCKER_MANIFEST,
            "config": {"mediaType": manifest::DOCKER_CONFIG, "size": config_bytes.len(), "digest": config_digest.as_str()},
            "layers": descs,
        });
        let bytes = serde_json::to_vec(&doc).map_err(|source| ImportError::InvalidJson {
            file: "generated manifest".into(),
            source,
        })?;
        let digest = Digest::of(&bytes);
        self.put_blob_bytes(&digest, &bytes)
            .await
            .map_err(|err| commit(err, "generated manifest"))?;
        let m: ImageManifest = json("generated manifest", &bytes)?;
        let names = e
            .repo_tags
            .iter()
            .flatten()
            .map(|t| Reference::parse(t).map(|r| r.to_string()))
            .collect::<Result<_, _>>()?;
        let image = self
            .finish_image(&m, &config, &digest, &config_digest, progress)
            .await?;
        Ok((image, names))
    }

    async fn import_oci(
        &self,
        src: &Source,
        top: &manifest::Descriptor,
        progress: &dyn PullProgress,
    ) -> Result<(Image, Vec<String>), ImportError> {
        let mut d = top.clone();
        let mut bytes = self.oci_blob(src, &d.digest).await?;
        let mut doc = parse_doc(&bytes, &d.digest)?;
        if let Document::Index(index) = &doc {
            let want = Platform::default();
            let chosen = manifest::select_platform(index, &want).map_err(|available| {
                ImportError::Unsupported {
                    problem: format!(
                        "no {want} manifest in {}; available: {}",
                        d.digest,
                        available.join(", ")
                    ),
                }
            })?;
            d = chosen.clone();
            bytes = self.oci_blob(src, &d.digest).await?;
            doc = parse_doc(&bytes, &d.digest)?;
        }
        let Document::Manifest(m) = doc else {
            return Err(ImportError::Unsupported {
                problem: format!("{} is a nested index", d.digest),
            });
        };
        let digest = digest(&d.digest, "index.json")?;
        let config_digest = digest_of(&m.config.digest)?;
        let config_bytes = self.oci_blob(src, &m.config.digest).await?;
        let config: ConfigFile = json(&m.config.digest, &config_bytes)?;
        for l in &m.layers {
            if !manifest::layer_supported(l) {
                return Err(ImportError::Unsupported {
                    problem: format!("layer {} has media type {:?}", l.digest, l.media_type),
                });
            }
            let ld = digest_of(&l.digest)?;
            self.ingest(src, &format!("blobs/sha256/{}", ld.hex()), &ld)
                .await?;
        }
        let mut names = Vec::new();
        let ann = |k: &str| top.annotations.get(k).or_else(|| d.annotations.get(k));
        if let Some(n) = ann("io.containerd.image.name") {
            names.push(Reference::parse(n)?.to_string());
        } else if let Some(n) = ann("org.opencontainers.image.ref.name") {
            let full = if n.contains('/') || n.contains('@') {
                n.clone()
            } else {
                format!("import/{}:{n}", digest.short())
            };
            names.push(Reference::parse(&full)?.to_string());
        }
        let image = self
            .finish_image(&m, &config, &digest, &config_digest, progress)
            .await?;
        Ok((image, names))
    }

    async fn finish_image(
        &self,
        m: &ImageManifest,
        config: &ConfigFile,
        digest: &Digest,
        config_digest: &Digest,
        progress: &dyn PullProgress,
    ) -> Result<Image, ImportError> {
        let layers: Vec<Layer> = crate::pull::layers_of(m, config, digest).map_err(|e| {
            ImportError::InvalidDocument {
                file: digest.to_string(),
                problem: e.to_string(),
            }
        })?;
        let size = layers.iter().map(|l| l.size).sum();
        progress.event(PullEvent::Resolved {
            reference: String::new(),
            digest: digest.to_string(),
            layers: layers.len(),
            total_bytes: size,
        });
        for l in &layers {
            if !self.has_layer_dir(l) {
                progress.event(PullEvent::Unpacking {
                    digest: l.digest.clone(),
                });
            }
            self.ensure_layer(l).await?;
            progress.event(PullEvent::LayerDone {
                digest: l.digest.clone(),
            });
        }
        Ok(Image {
            reference: String::new(),
            digest: digest.to_string(),
            config_digest: config_digest.to_string(),
            config: config.image_config(),
            layers,
            size,
            created_at: time::OffsetDateTime::now_utc(),
        })
    }

    /// Ingests `blobs/sha256/<hex>` of an OCI layout and returns its bytes (small documents).
    async fn oci_blob(&self, src: &Source, digest_str: &str) -> Result<Vec<u8>, ImportError> {
        let d = digest_of(digest_str)?;
        let rel = format!("blobs/sha256/{}", d.hex());
        self.ingest(src, &rel, &d).await?;
        let path = self.blob_path(&d);
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(io("read", &path))?;
        if meta.len() > MAX_JSON {
            return Err(ImportError::InvalidDocument {
                file: rel,
                problem: "document larger than 16 MiB".into(),
            });
        }
        tokio::fs::read(&path).await.map_err(io("read", &path))
    }

    /// Copies `rel` into the content store as `expected`, verifying it.
    async fn ingest(&self, src: &Source, rel: &str, expected: &Digest) -> Result<u64, ImportError> {
        let dest = self.blob_path(expected);
        if let Ok(m) = tokio::fs::metadata(&dest).await {
            return Ok(m.len());
        }
        let path = src.path(rel).ok_or_else(|| ImportError::Missing {
            file: rel.to_owned(),
        })?;
        if let Some(known) = src.known_digest(rel)
            && known != expected
        {
            return Err(ImportError::DigestMismatch {
                file: rel.to_owned(),
                expected: expected.to_string(),
                actual: known.to_string(),
            });
        }
        let mut f = tokio::fs::File::open(&path)
            .await
            .map_err(|_| ImportError::Missing {
                file: rel.to_owned(),
            })?;
        let mut w = BlobWriter::create(&self.inner.blobs, expected).await?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            use tokio::io::AsyncReadExt;
            let n = f.read(&mut buf).await.map_err(io("read", &path))?;
            if n == 0 {
                break;
            }
            w.write(&buf[..n]).await?;
        }
        w.commit().await.map_err(|e| commit(e, rel))
    }
}

impl Source {
    fn path(&self, rel: &str) -> Option<PathBuf> {
        let key = norm(rel)?;
        match self {
            Source::Dir(d) => Some(d.join(key)),
            Source::Tar { files, .. } => files.get(&key).map(|(p, _)| p.clone()),
        }
    }

    fn known_digest(&self, rel: &str) -> Option<&Digest> {
        match self {
            Source::Dir(_) => None,
            Source::Tar { files, .. } => files.get(&norm(rel)?).map(|(_, d)| d),
        }
    }

    fn compression(&self, rel: &str) -> Result<Compression, ImportError> {
        let path = self.path(rel).ok_or_else(|| ImportError::Missing {
            file: rel.to_owned(),
        })?;
        let mut head = [0u8; 4];
        let mut f = std::fs::File::open(&path).map_err(io("read", &path))?;
        let n = f.read(&mut head).map_err(io("read", &path))?;
        Ok(Compression::detect(&head[..n]))
    }

    fn exists(&self, rel: &str) -> bool {
        self.path(rel).is_some_and(|p| p.is_file())
    }

    async fn read_json(&self, rel: &str) -> Result<Option<Vec<u8>>, ImportError> {
        let Some(p) = self.path(rel).filter(|p| p.is_file()) else {
            return Ok(None);
        };
        let meta = tokio::fs::metadata(&p).await.map_err(io("read", &p))?;
        if meta.len() > MAX_JSON {
            return Err(ImportError::InvalidDocument {
                file: rel.to_owned(),
                problem: "larger than 16 MiB".into(),
            });
        }
        tokio::fs::read(&p).await.map(Some).map_err(io("read", &p))
    }

    async fn hash(&self, rel: &str) -> Result<Digest, ImportError> {
        let p = self.path(rel).ok_or_else(|| ImportError::Missing {
            file: rel.to_owned(),
        })?;
        let p2 = p.clone();
        let res = tokio::task::spawn_blocking(move || -> std::io::Result<Digest> {
            let mut r = HashingReader::new(std::fs::File::open(&p2)?);
            std::io::copy(&mut r, &mut std::io::sink())?;
            Ok(r.finish().1)
        })
        .await
        .map_err(|e| io("hash", &p)(std::io::Error::other(e)))?;
        res.map_err(|_| ImportError::Missing {
            file: rel.to_owned(),
        })
    }
}

/// Normalised archive path (`./a//b` → `a/b`); `None` for `..` or empty.
fn norm(rel: &str) -> Option<String> {
    let p = crate::unpack::safe_path::normalize(rel.as_bytes()).ok()?;
    let s = p.to_str()?.to_owned();
    (!s.is_empty()).then_some(s)
}

/// Reads a (possibly gzip/zstd-compressed) tar, storing each regular file
/// as `<dir>/<n>` and resolving symlinks between archive members.
fn extract_tar(path: &Path, dir: &Path) -> Result<HashMap<String, (PathBuf, Digest)>, ImportError> {
    let f = std::fs::File::open(path).map_err(io("open", path))?;
    let rerr = |e| io("read archive", path)(e);
    let (_, stream) = decoder(std::io::BufReader::with_capacity(256 * 1024, f)).map_err(rerr)?;
    let mut archive = tar::Archive::new(stream);
    let mut files = HashMap::new();
    let mut links = Vec::new();
    for (n, entry) in archive.entries().map_err(rerr)?.enumerate() {
        let mut entry = entry.map_err(rerr)?;
        let Some(name) = norm(&String::from_utf8_lossy(&entry.path_bytes())) else {
            continue;
        };
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let out = dir.join(n.to_string());
                let mut w = std::fs::File::create(&out).map_err(io("create", &out))?;
                let mut r = HashingReader::new(&mut entry);
                std::io::copy(&mut r, &mut w).map_err(rerr)?;
                files.insert(name, (out, r.finish().1));
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                if let Some(target) = entry.link_name_bytes() {
                    let target = String::from_utf8_lossy(&target).into_owned();
                    let base = if entry.header().entry_type() == tar::EntryType::Symlink {
                        Path::new(&name)
                            .parent()
                            .map(|p| p.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    } else {
                        String::new()
                    };
                    links.push((name, base, target));
                }
            }
            _ => {}
        }
    }
    for (name, base, target) in links {
        // Resolve `../x/layer.tar` style links lexically within the archive.
        let mut parts: Vec<&str> = if target.starts_with('/') {
            Vec::new()
        } else {
            base.split('/').filter(|s| !s.is_empty()).collect()
        };
        for c in target.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                c => parts.push(c),
            }
        }
        if let Some(v) = files.get(&parts.join("/")).cloned() {
            files.insert(name, v);
        }
    }
    Ok(files)
}

fn parse_doc(bytes: &[u8], file: &str) -> Result<Document, ImportError> {
    manifest::parse_document(bytes, None).map_err(|e| match e {
        manifest::DocumentError::Json(source) => ImportError::InvalidJson {
            file: file.to_owned(),
            source,
        },
        manifest::DocumentError::Unsupported(mt) => ImportError::Unsupported {
            problem: format!("{file} has media type {mt:?}"),
        },
    })
}

fn json<T: serde::de::DeserializeOwned>(file: &str, bytes: &[u8]) -> Result<T, ImportError> {
    serde_json::from_slice(bytes).map_err(|source| ImportError::InvalidJson {
        file: file.to_owned(),
        source,
    })
}

fn digest(s: &str, file: &str) -> Result<Digest, ImportError> {
    Digest::parse(s).map_err(|source| ImportError::BadDigest {
        file: file.to_owned(),
        source,
    })
}

fn digest_of(s: &str) -> Result<Digest, ImportError> {
    digest(s, s)
}

/// When a file is named after its digest (`<hex>.json`, `blobs/sha256/<hex>`), the content must match.
fn check_name(rel: &str, actual: &Digest) -> Result<(), ImportError> {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    let stem = file.strip_suffix(".json").unwrap_or(file);
    if stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit()) && stem != actual.hex() {
        return Err(ImportError::DigestMismatch {
            file: rel.to_owned(),
            expected: format!("sha256:{stem}"),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

fn commit(e: CommitError, file: &str) -> ImportError {
    match e {
        CommitError::Mismatch { expected, actual } => ImportError::DigestMismatch {
            file: file.to_owned(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        },
        CommitError::Store(e) => ImportError::Store(e),
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ImportError {
    let path = path.to_path_buf();
    move |source| ImportError::Io {
        action,
        path,
        source,
    }
}
