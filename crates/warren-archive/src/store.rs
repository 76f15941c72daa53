//! The two backends: a local directory and S3-compatible storage, both as `object_store`
//! stores.

use std::io::Read;
use std::path::PathBuf;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;

use crate::ArchiveError;

/// Where archives are stored.
#[derive(Clone, PartialEq, Eq)]
pub enum ArchiveConfig {
    /// A directory on this host (warren's default: `<state>/archive`). Created if missing.
    Local {
        /// The directory; key `a/b` is stored as the file `dir/a/b`.
        dir: PathBuf,
    },
    /// An S3 bucket (AWS or any S3-compatible server: MinIO, Ceph RGW, Garage, moto...).
    S3 {
        /// The bucket; it must exist.
        bucket: String,
        /// The server's URL, e.g. `http://127.0.0.1:9000`; `None` for AWS itself. Requests use
        /// path-style addressing (`ENDPOINT/BUCKET/KEY`).
        endpoint: Option<String>,
        /// The region, e.g. `us-east-1` (S3-compatible servers mostly accept any).
        region: String,
        /// Access key id.
        access_key_id: String,
        /// Secret access key. Never printed (not even by `Debug`).
        secret_access_key: String,
        /// Allow a plain `http://` endpoint (for a server on loopback); HTTPS otherwise.
        allow_http: bool,
    },
}

impl std::fmt::Debug for ArchiveConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArchiveConfig::Local { dir } => f.debug_struct("Local").field("dir", dir).finish(),
            ArchiveConfig::S3 {
                bucket,
                endpoint,
                region,
                access_key_id,
                secret_access_key: _,
                allow_http,
            } => f
                .debug_struct("S3")
                .field("bucket", bucket)
                .field("endpoint", endpoint)
                .field("region", region)
                .field("access_key_id", access_key_id)
                .field("secret_access_key", &"<redacted>")
                .field("allow_http", allow_http)
                .finish(),
        }
    }
}

impl ArchiveConfig {
    /// How [`crate::Archive::describe`] names this storage.
    fn describe(&self) -> String {
        match self {
            ArchiveConfig::Local { dir } => format!("local:{}", dir.display()),
            ArchiveConfig::S3 {
                bucket,
                endpoint,
                region,
                ..
            } => format!(
                "s3://{bucket} ({}, region {region})",
                endpoint.as_deref().unwrap_or("AWS")
            ),
        }
    }
}

/// An open backend.
pub(crate) struct Store {
    pub store: Box<dyn ObjectStore>,
    /// [`ArchiveConfig::describe`].
    pub target: String,
    /// The directory of a local archive.
    pub local_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only the description: the store's own Debug would show its whole configuration.
        f.debug_struct("Store")
            .field("target", &self.target)
            .finish()
    }
}

impl Store {
    pub(crate) fn open(cfg: &ArchiveConfig) -> Result<Store, ArchiveError> {
        let target = cfg.describe();
        let config_err = |source| ArchiveError::Config {
            target: target.clone(),
            source: Box::new(source),
        };
        let store: Box<dyn ObjectStore> = match cfg {
            ArchiveConfig::Local { dir } => {
                std::fs::create_dir_all(dir).map_err(|source| ArchiveError::CreateDir {
                    dir: dir.clone(),
                    source,
                })?;
                Box::new(
                    LocalFileSystem::new_with_prefix(dir)
                        .map_err(config_err)?
                        // Deleting the last archive under `a/` removes the directory `a`.
                        .with_automatic_cleanup(true),
                )
            }
            ArchiveConfig::S3 {
                bucket,
                endpoint,
                region,
                access_key_id,
                secret_access_key,
                allow_http,
            } => {
                install_crypto_provider();
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_access_key_id(access_key_id)
                    .with_secret_access_key(secret_access_key)
                    .with_allow_http(*allow_http);
                if let Some(endpoint) = endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                Box::new(builder.build().map_err(config_err)?)
            }
        };
        let local_dir = match cfg {
            ArchiveConfig::Local { dir } => Some(dir.clone()),
            ArchiveConfig::S3 { .. } => None,
        };
        Ok(Store {
            store,
            target,
            local_dir,
        })
    }
}

/// The HTTPS client under object_store is reqwest with rustls but no built-in crypto provider
/// (the workspace's choice): install ring's as the process default, unless the daemon (or
/// another crate) already installed one.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: any provider will do.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The contents of a local object as a stream of 1 MiB chunks (object_store's own stream reads
/// 8 KiB per blocking task).
pub(crate) fn file_stream(
    file: std::fs::File,
    path: PathBuf,
) -> BoxStream<'static, object_store::Result<Bytes>> {
    let read = move |(mut file, path): (std::fs::File, PathBuf)| async move {
        let (file, path, chunk) = tokio::task::spawn_blocking(move || {
            let mut chunk = Vec::with_capacity(crate::pack::CHUNK);
            let result = (&mut file)
                .take(crate::pack::CHUNK as u64)
                .read_to_end(&mut chunk);
            (file, path, result.map(|_| chunk))
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        match chunk {
            Ok(chunk) if chunk.is_empty() => Ok(None),
            Ok(chunk) => Ok(Some((Bytes::from(chunk), (file, path)))),
            Err(source) => Err(object_store::Error::Generic {
                store: "LocalFileSystem",
                source: format!("cannot read {}: {source}", path.display()).into(),
            }),
        }
    };
    Box::pin(futures_util::stream::try_unfold((file, path), read))
}
