//! `ImageStore::pull`: resolve → fetch manifest (and the platform's manifest
//! through an index) → fetch config → fetch layers (3 at a time), each
//! streamed to disk and verified → unpack each layer, verifying its diff id →
//! record the image.
//!
//! Everything is verified before it is stored; nothing is trusted from the
//! registry except bytes that hash to the digest we asked for.

use futures_util::{StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode};

use crate::blob::{BlobWriter, CommitError};
use crate::digest::Digest;
use crate::error::PullError;
use crate::progress::Throttle;
use crate::registry::client::{RegistryClient, build_http, content_type};
use crate::registry::manifest::{self, ConfigFile, Descriptor, Document, ImageManifest};
use crate::{Image, ImageStore, Layer, PullEvent, PullOptions, PullProgress, Reference};

const MAX_DOCUMENT: u64 = 4 << 20;
const MAX_CONFIG: u64 = 16 << 20;
const PARALLEL_LAYERS: usize = 3;

impl ImageStore {
    /// Pulls `reference` from its registry, stores it, unpacks its layers and
    /// records it under the normalised reference. Already-present blobs and
    /// layers are reused (reported as `LayerCached`).
    pub async fn pull(
        &self,
        reference: &str,
        opts: &PullOptions,
        progress: &dyn PullProgress,
    ) -> Result<Image, PullError> {
        let r = Reference::parse(reference)?;
        let _gc = self.inner.gc.read().await;
        let http = match self.inner.http.get() {
            Some(h) => h.clone(),
            None => {
                let h = build_http()?;
                self.inner.http.get_or_init(|| h).clone()
            }
        };
        let client = RegistryClient::new(http, &r, opts.insecure, opts.credentials.clone());
        let name = r.to_string();

        let (mut digest, mut doc) = self
            .fetch_document(&client, &r.manifest_ref(), r.digest.as_ref(), &name)
            .await?;
        if let Document::Index(index) = &doc {
            let d = manifest::select_platform(index, &opts.platform).map_err(|available| {
                PullError::NoMatchingPlatform {
                    reference: name.clone(),
                    wanted: opts.platform.to_string(),
                    available,
                }
            })?;
            let platform_digest = parse_digest(&d.digest, "index")?;
            (digest, doc) = self
                .fetch_document(
                    &client,
                    platform_digest.as_str(),
                    Some(&platform_digest),
                    &name,
                )
                .await?;
        }
        let Document::Manifest(m) = doc else {
            return Err(PullError::InvalidDocument {
                what: "index",
                digest: digest.to_string(),
                problem: "an index points to another index".into(),
            });
        };
        if let Some(bad) = m.layers.iter().find(|l| !manifest::layer_supported(l)) {
            return Err(PullError::UnsupportedLayer {
                digest: bad.digest.clone(),
                media_type: bad.media_type.clone(),
            });
        }
        let total_bytes = m.layers.iter().map(|l| l.size).sum();
        progress.event(PullEvent::Resolved {
            reference: name.clone(),
            digest: digest.to_string(),
            layers: m.layers.len(),
            total_bytes,
        });

        let config_digest = parse_digest(&m.config.digest, "manifest config")?;
        let config = self
            .fetch_config(&client, &m.config, &config_digest, &name)
            .await?;
        let layers = layers_of(&m, &config, &digest)?;

        // Collected first: a closure inside the stream's type would make this
        // future fail the higher-ranked `Send` check callers need (rustc #102211).
        let mut jobs = Vec::with_capacity(layers.len());
        for (l, d) in layers.iter().zip(&m.layers) {
            jobs.push(self.pull_layer(&client, l, d, &name, progress));
        }
        futures_util::stream::iter(jobs)
            .buffer_unordered(PARALLEL_LAYERS)
            .try_collect::<Vec<()>>()
            .await?;

        let image = Image {
            reference: name,
            digest: digest.to_string(),
            config_digest: config_digest.to_string(),
            config: config.image_config(),
            size: total_bytes,
            layers,
            created_at: time::OffsetDateTime::now_utc(),
        };
        self.put_image(image.clone()).await?;
        progress.event(PullEvent::Done {
            digest: image.digest.clone(),
        });
        Ok(image)
    }

    /// Fetches a manifest or index by tag or digest, verifies it when the
    /// digest is known (and against `Docker-Content-Digest` otherwise), and
    /// stores it. A HEAD first avoids the download when we already have it.
    async fn fetch_document(
        &self,
        client: &RegistryClient,
        r: &str,
        pinned: Option<&Digest>,
        name: &str,
    ) -> Result<(Digest, Document), PullError> {
        let url = client.manifest_url(r);
        let known = match pinned {
            Some(d) => Some(d.clone()),
            None => {
                let head = client
                    .send(Method::HEAD, &url, Some(manifest::ACCEPT))
                    .await?;
                if head.status() == StatusCode::NOT_FOUND {
                    return Err(PullError::NotFound {
                        reference: name.to_owned(),
                    });
                }
                head.headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| Digest::parse(v).ok())
            }
        };
        if let Some(d) = &known
            && let Ok(bytes) = tokio::fs::read(self.blob_path(d)).await
            && Digest::of(&bytes) == *d
            && let Ok(doc) = manifest::parse_document(&bytes, None)
        {
            return Ok((d.clone(), doc));
        }
        let resp = client
            .send(Method::GET, &url, Some(manifest::ACCEPT))
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => {
                return Err(PullError::NotFound {
                    reference: name.to_owned(),
                });
            }
            s if !s.is_success() => return Err(RegistryClient::status_error(&url, resp).await),
            _ => {}
        }
        let ctype = content_type(&resp);
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = read_limited(resp, &url, MAX_DOCUMENT, "manifest", r).await?;
        let actual = Digest::of(&bytes);
        let expected = match (pinned, header_digest) {
            (Some(d), _) => Some(d.to_string()),
            (None, Some(h)) if h.starts_with("sha256:") => Some(h),
            _ => None,
        };
        if let Some(expected) = expected
            && expected != actual.as_str()
        {
            return Err(PullError::DigestMismatch {
                what: "manifest",
                expected,
                actual: actual.to_string(),
            });
        }
        let doc = manifest::parse_document(&bytes, ctype.as_deref()).map_err(|e| match e {
            manifest::DocumentError::Json(source) => PullError::InvalidJson {
                what: "manifest",
                digest: actual.to_string(),
                source,
            },
            manifest::DocumentError::Unsupported(media_type) => PullError::UnsupportedManifest {
                reference: name.to_owned(),
                media_type,
            },
        })?;
        self.put_blob_bytes(&actual, &bytes)
            .await
            .map_err(|e| commit_err(e, "manifest"))?;
        Ok((actual, doc))
    }

    async fn fetch_config(
        &self,
        client: &RegistryClient,
        d: &Descriptor,
        digest: &Digest,
        name: &str,
    ) -> Result<ConfigFile, PullError> {
        if d.size > MAX_CONFIG {
            return Err(PullError::TooLarge {
                what: "config",
                digest: digest.to_string(),
                limit: MAX_CONFIG,
            });
        }
        let bytes = match tokio::fs::read(self.blob_path(digest)).await {
            Ok(b) if Digest::of(&b) == *digest => b,
            _ => {
                let url = client.blob_url(digest);
                let resp = client.send(Method::GET, &url, None).await?;
                match resp.status() {
                    StatusCode::NOT_FOUND => {
                        return Err(PullError::BlobNotFound {
                            reference: name.to_owned(),
                            digest: digest.to_string(),
                        });
                    }
                    s if !s.is_success() => {
                        return Err(RegistryClient::status_error(&url, resp).await);
                    }
                    _ => {}
                }
                let b = read_limited(resp, &url, MAX_CONFIG, "config", digest.as_str()).await?;
                self.put_blob_bytes(digest, &b)
                    .await
                    .map_err(|e| commit_err(e, "config"))?;
                b
            }
        };
        serde_json::from_slice(&bytes).map_err(|source| PullError::InvalidJson {
            what: "config",
            digest: digest.to_string(),
            source,
        })
    }

    async fn pull_layer(
        &self,
        client: &RegistryClient,
        layer: &Layer,
        d: &Descriptor,
        name: &str,
        progress: &dyn PullProgress,
    ) -> Result<(), PullError> {
        let digest = parse_digest(&layer.digest, "manifest layer")?;
        if self.has_blob(&digest).await {
            progress.event(PullEvent::LayerCached {
                digest: layer.digest.clone(),
                size: d.size,
            });
        } else {
            progress.event(PullEvent::LayerStarted {
                digest: layer.digest.clone(),
                size: d.size,
            });
            let url = client.blob_url(&digest);
            let resp = client.send(Method::GET, &url, None).await?;
            match resp.status() {
                StatusCode::NOT_FOUND => {
                    return Err(PullError::BlobNotFound {
                        reference: name.to_owned(),
                        digest: digest.to_string(),
                    });
                }
                s if !s.is_success() => return Err(RegistryClient::status_error(&url, resp).await),
                _ => {}
            }
            let mut w = BlobWriter::create(&self.inner.blobs, &digest).await?;
            let mut stream = resp.bytes_stream();
            let mut throttle = Throttle::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|source| PullError::Request {
                    url: url.clone(),
                    source,
                })?;
                if w.written() + chunk.len() as u64 > d.size {
                    return Err(PullError::TooLarge {
                        what: "layer",
                        digest: digest.to_string(),
                        limit: d.size,
                    });
                }
                w.write(&chunk).await?;
                if throttle.due(w.written()) {
                    progress.event(PullEvent::LayerProgress {
                        digest: layer.digest.clone(),
                        downloaded: w.written(),
                        size: d.size,
                    });
                }
            }
            let size = w.written();
            w.commit().await.map_err(|e| commit_err(e, "layer"))?;
            progress.event(PullEvent::LayerProgress {
                digest: layer.digest.clone(),
                downloaded: size,
                size: d.size,
            });
        }
        if !self.has_layer_dir(layer) {
            progress.event(PullEvent::Unpacking {
                digest: layer.digest.clone(),
            });
        }
        self.ensure_layer(layer).await?;
        progress.event(PullEvent::LayerDone {
            digest: layer.digest.clone(),
        });
        Ok(())
    }

    pub(crate) fn has_layer_dir(&self, layer: &Layer) -> bool {
        let hex = layer
            .diff_id
            .strip_prefix("sha256:")
            .unwrap_or(&layer.diff_id);
        self.inner.layers.join(hex).is_dir()
    }
}

/// Pairs manifest layers with the config's diff ids.
pub(crate) fn layers_of(
    m: &ImageManifest,
    config: &ConfigFile,
    digest: &Digest,
) -> Result<Vec<Layer>, PullError> {
    if m.layers.len() != config.rootfs.diff_ids.len() {
        return Err(PullError::InvalidDocument {
            what: "image",
            digest: digest.to_string(),
            problem: format!(
                "manifest has {} layers but config has {} diff ids",
                m.layers.len(),
                config.rootfs.diff_ids.len()
            ),
        });
    }
    m.layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(l, diff_id)| {
            parse_digest(&l.digest, "manifest layer")?;
            parse_digest(diff_id, "config diff_ids")?;
            Ok(Layer {
                digest: l.digest.clone(),
                diff_id: diff_id.clone(),
                size: l.size,
                media_type: l.media_type.clone(),
            })
        })
        .collect()
}

fn parse_digest(s: &str, what: &'static str) -> Result<Digest, PullError> {
    Digest::parse(s).map_err(|source| PullError::BadDigest { what, source })
}

fn commit_err(e: CommitError, what: &'static str) -> PullError {
    match e {
        CommitError::Mismatch { expected, actual } => PullError::DigestMismatch {
            what,
            expected: expected.to_string(),
            actual: actual.to_string(),
        },
        CommitError::Store(e) => PullError::Store(e),
    }
}

async fn read_limited(
    resp: reqwest::Response,
    url: &str,
    limit: u64,
    what: &'static str,
    id: &str,
) -> Result<Vec<u8>, PullError> {
    if resp.content_length().is_some_and(|l| l > limit) {
        return Err(PullError::TooLarge {
            what,
            digest: id.to_owned(),
            limit,
        });
    }
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|source| PullError::Request {
            url: url.to_owned(),
            source,
        })?;
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(PullError::TooLarge {
                what,
                digest: id.to_owned(),
                limit,
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
