//! Images in the local store: `/v1/images`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Body of `POST /v1/images/pull`: what to pull, and how to reach the registry.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"ref": "busybox:latest"}))
)]
#[serde(deny_unknown_fields)]
pub struct PullRequest {
    /// Image reference, e.g. `python:3.12-slim`, `ghcr.io/org/img:tag`, `127.0.0.1:5000/busybox`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Allow plain HTTP to a registry that is not on loopback.
    #[serde(default)]
    pub insecure: bool,
    /// Registry user name for basic or token auth.
    #[serde(default)]
    pub username: Option<String>,
    /// Registry password or token. Never logged.
    #[serde(default)]
    pub password: Option<String>,
}

impl std::fmt::Debug for PullRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullRequest")
            .field("reference", &self.reference)
            .field("insecure", &self.insecure)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// An image in the local store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Image {
    /// Normalized reference, e.g. `docker.io/library/busybox:latest`.
    pub reference: String,
    /// Manifest digest, `sha256:...`.
    pub digest: String,
    /// Sum of the compressed layer sizes in bytes.
    pub size: u64,
    /// Number of layers.
    pub layers: usize,
    /// Defaults the image gives to sandboxes.
    pub config: ImageConfig,
    /// When the image was stored locally.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The parts of an OCI image config that become sandbox defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImageConfig {
    /// `KEY=VALUE` environment.
    pub env: Vec<String>,
    /// Default command.
    pub cmd: Vec<String>,
    /// Entrypoint prepended to the command.
    pub entrypoint: Vec<String>,
    /// Default working directory.
    pub working_dir: String,
    /// Default user (`name`, `uid`, `uid:gid`); empty means root.
    pub user: String,
}

/// Answer to `GET /v1/images`: every image in the local store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImageList {
    /// Every image in the store.
    pub items: Vec<Image>,
}

/// One line of a streamed pull (`Accept: application/x-ndjson`): progress
/// events, then exactly one `image` or `error` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PullEvent {
    /// The manifest was fetched: how much there is to download.
    Resolved {
        /// Normalized reference.
        reference: String,
        /// Manifest digest.
        digest: String,
        /// Number of layers.
        layers: usize,
        /// Compressed bytes of all layers.
        total_bytes: u64,
    },
    /// A layer download started.
    LayerStarted {
        /// Layer digest.
        digest: String,
        /// Compressed size.
        size: u64,
    },
    /// Bytes of a layer received so far.
    LayerProgress {
        /// Layer digest.
        digest: String,
        /// Bytes received.
        downloaded: u64,
        /// Compressed size.
        size: u64,
    },
    /// The layer was already stored; nothing to download.
    LayerCached {
        /// Layer digest.
        digest: String,
        /// Compressed size.
        size: u64,
    },
    /// A layer is downloaded, verified and unpacked.
    LayerDone {
        /// Layer digest.
        digest: String,
    },
    /// A layer is being unpacked.
    Unpacking {
        /// Layer digest.
        digest: String,
    },
    /// Every blob is stored and verified.
    Done {
        /// Manifest digest.
        digest: String,
    },
    /// The pull succeeded: the stored image.
    Image {
        /// The image.
        image: Image,
    },
    /// The pull failed.
    Error {
        /// What went wrong.
        error: crate::ErrorDetail,
    },
}
