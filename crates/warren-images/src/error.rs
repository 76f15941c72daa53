//! Error types, one enum per failure area, each message naming what failed.
//!
//! The daemon maps errors to HTTP statuses through [`ErrorKind`]: every
//! public error has a `kind()` so the API can tell a bad reference (400)
//! from a missing image (404), a registry refusing us (401/502) and a local
//! failure (500) without matching on variants.

use std::path::PathBuf;

/// What class of failure an error is, for API status codes and CLI exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The reference or digest text is malformed (HTTP 400).
    InvalidReference,
    /// The image, tag, manifest or blob does not exist (HTTP 404).
    NotFound,
    /// The registry refused our credentials or anonymous access (HTTP 401/403).
    Unauthorized,
    /// The request is understood but cannot be served: unsupported media
    /// type, no matching platform, ambiguous prefix, malformed import file (HTTP 400/422).
    Unsupported,
    /// The registry misbehaved: network error, bad status, bad digest, bad JSON (HTTP 502).
    Upstream,
    /// A local failure: disk, permissions, a corrupt store (HTTP 500).
    Internal,
}

/// A digest string is not `sha256:<64 lowercase hex>`.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// Not of the form `algorithm:hex` with 64 lowercase hex digits.
    #[error("{digest:?} is not a digest of the form sha256:<64 lowercase hex digits>")]
    Malformed { digest: String },
    /// An algorithm other than sha256.
    #[error("digest {digest:?} uses an unsupported algorithm (only sha256 is supported)")]
    UnsupportedAlgorithm { digest: String },
}

/// An image reference could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// The reason says which part is wrong.
    #[error("invalid image reference {reference:?}: {reason}")]
    Invalid { reference: String, reason: String },
}

/// Opening the store failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A directory of the store layout could not be created or read.
    #[error("cannot prepare store directory {path}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The image index could not be read.
    #[error("cannot read image index {path}")]
    ReadIndex {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The image index is not valid JSON of the expected shape.
    #[error("image index {path} is corrupt")]
    ParseIndex {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("cannot {action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The image index could not be serialised.
    #[error("cannot serialise the image index")]
    Serialize {
        #[source]
        source: serde_json::Error,
    },
    /// A blob that an image needs is not in the content store.
    #[error("blob {digest} is missing from the content store")]
    BlobMissing { digest: String },
    /// A digest prefix matches several different images.
    #[error("{query:?} matches several images: {}", matches.join(", "))]
    Ambiguous { query: String, matches: Vec<String> },
    /// Unpacking a layer failed.
    #[error("cannot unpack layer {digest}")]
    Unpack {
        digest: String,
        #[source]
        source: UnpackError,
    },
    /// The query is neither a valid reference nor a digest (prefix).
    #[error(transparent)]
    InvalidReference(#[from] ReferenceError),
    /// A background task panicked or was cancelled.
    #[error("background task for {what} failed")]
    Task {
        what: String,
        #[source]
        source: tokio::task::JoinError,
    },
}

impl StoreError {
    /// The class of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Ambiguous { .. } => ErrorKind::Unsupported,
            StoreError::InvalidReference(_) => ErrorKind::InvalidReference,
            StoreError::Unpack { source, .. } => source.kind(),
            _ => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    }
}

/// Unpacking a layer tar failed. Nothing is left in the layer directory.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The compressed or tar stream could not be read or decoded.
    #[error("cannot read the layer stream ({compression})")]
    Read {
        compression: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// An entry tried to escape the layer directory or is otherwise unsafe.
    #[error("refusing layer entry {path:?}: {reason}")]
    UnsafeEntry { path: String, reason: &'static str },
    /// The layer exceeds a configured limit.
    #[error("layer exceeds the limit of {limit} {what}")]
    Limit { what: &'static str, limit: u64 },
    /// The uncompressed stream does not hash to the config's diff id.
    #[error("uncompressed layer digest mismatch: expected diff id {expected}, received {actual}")]
    DiffIdMismatch { expected: String, actual: String },
    /// Writing the unpacked tree failed.
    #[error("cannot {action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl UnpackError {
    /// The class of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            UnpackError::Io { .. } => ErrorKind::Internal,
            _ => ErrorKind::Unsupported,
        }
    }
}

/// Pulling an image failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The reference text is malformed.
    #[error(transparent)]
    InvalidReference(#[from] ReferenceError),
    /// The HTTP request could not be made or its body not read.
    #[error("request to {url} failed")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the HTTP client")]
    Client {
        #[source]
        source: reqwest::Error,
    },
    /// The registry answered with an unexpected status.
    #[error("registry answered {status} for {url}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    /// Authentication was required and failed.
    #[error("registry {registry} refused access: {reason}")]
    Unauthorized { registry: String, reason: String },
    /// The manifest (tag or digest) does not exist in the repository.
    #[error("image {reference} not found in the registry")]
    NotFound { reference: String },
    /// A blob named by the manifest does not exist in the repository.
    #[error("blob {digest} of {reference} not found in the registry")]
    BlobNotFound { reference: String, digest: String },
    /// A manifest, index or config is not valid JSON of the expected shape.
    #[error("invalid {what} {digest}")]
    InvalidJson {
        what: &'static str,
        digest: String,
        #[source]
        source: serde_json::Error,
    },
    /// A document is structurally wrong (e.g. layer and diff id counts differ).
    #[error("invalid {what} {digest}: {problem}")]
    InvalidDocument {
        what: &'static str,
        digest: String,
        problem: String,
    },
    /// A digest string in a manifest is malformed.
    #[error("malformed digest in {what}")]
    BadDigest {
        what: &'static str,
        #[source]
        source: DigestError,
    },
    /// The manifest media type is not one we understand.
    #[error("unsupported manifest media type {media_type:?} for {reference}")]
    UnsupportedManifest {
        reference: String,
        media_type: String,
    },
    /// A layer uses a media type we cannot unpack, or is a foreign layer.
    #[error("unsupported layer {digest} with media type {media_type:?}")]
    UnsupportedLayer { digest: String, media_type: String },
    /// The index has no manifest for the requested platform.
    #[error("no manifest for platform {wanted} in {reference}; available: {}", if available.is_empty() { "none".to_owned() } else { available.join(", ") })]
    NoMatchingPlatform {
        reference: String,
        wanted: String,
        available: Vec<String>,
    },
    /// Content did not hash to the digest that named it.
    #[error("digest mismatch for {what}: expected {expected}, received {actual}")]
    DigestMismatch {
        what: &'static str,
        expected: String,
        actual: String,
    },
    /// A document or blob is larger than allowed or than its descriptor says.
    #[error("{what} {digest} is larger than {limit} bytes")]
    TooLarge {
        what: &'static str,
        digest: String,
        limit: u64,
    },
    /// Storing content locally failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PullError {
    /// The class of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PullError::InvalidReference(_) => ErrorKind::InvalidReference,
            PullError::NotFound { .. } | PullError::BlobNotFound { .. } => ErrorKind::NotFound,
            PullError::Unauthorized { .. } => ErrorKind::Unauthorized,
            PullError::UnsupportedManifest { .. }
            | PullError::UnsupportedLayer { .. }
            | PullError::NoMatchingPlatform { .. } => ErrorKind::Unsupported,
            PullError::Store(e) => e.kind(),
            PullError::Client { .. } => ErrorKind::Internal,
            _ => ErrorKind::Upstream,
        }
    }

    /// The image does not exist in the registry.
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }

    /// The reference text is malformed.
    pub fn is_invalid_reference(&self) -> bool {
        self.kind() == ErrorKind::InvalidReference
    }
}

/// Importing an image archive or layout failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Reading the input failed.
    #[error("cannot {action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The input is neither a docker-save tar, an OCI layout nor an OCI archive.
    #[error(
        "{path} is not a docker-save archive, OCI layout directory or OCI archive (no manifest.json or oci-layout+index.json)"
    )]
    UnknownFormat { path: PathBuf },
    /// A file the format requires is missing.
    #[error("{file} is missing from the import")]
    Missing { file: String },
    /// A JSON document in the input is invalid.
    #[error("invalid JSON in {file}")]
    InvalidJson {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    /// A document is structurally wrong.
    #[error("invalid {file}: {problem}")]
    InvalidDocument { file: String, problem: String },
    /// A blob does not hash to its digest.
    #[error("digest mismatch for {file}: expected {expected}, received {actual}")]
    DigestMismatch {
        file: String,
        expected: String,
        actual: String,
    },
    /// A digest string is malformed.
    #[error("malformed digest in {file}")]
    BadDigest {
        file: String,
        #[source]
        source: DigestError,
    },
    /// The tag argument or a name in the archive is not a valid reference.
    #[error(transparent)]
    InvalidReference(#[from] ReferenceError),
    /// A tag was given but the input holds several images.
    #[error("the input holds {count} images, so a single tag cannot name them")]
    TagAmbiguous { count: usize },
    /// The input holds no image at all.
    #[error("the input holds no images")]
    Empty,
    /// Media type / platform problems shared with pulling.
    #[error("unsupported content in import: {problem}")]
    Unsupported { problem: String },
    /// Storing content locally failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ImportError {
    /// The class of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ImportError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            ImportError::Io { .. } => ErrorKind::Internal,
            ImportError::InvalidReference(_) => ErrorKind::InvalidReference,
            ImportError::Store(e) => e.kind(),
            _ => ErrorKind::Unsupported,
        }
    }
}

/// Removing an image failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    /// No image has that reference or digest.
    #[error("image {query:?} not found")]
    NotFound { query: String },
    /// The digest is shared by several references; remove one by name.
    #[error("{query:?} names several references ({}); remove them by reference", references.join(", "))]
    Ambiguous {
        query: String,
        references: Vec<String>,
    },
    /// The store failed while removing or collecting garbage.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RemoveError {
    /// The class of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RemoveError::NotFound { .. } => ErrorKind::NotFound,
            RemoveError::Ambiguous { .. } => ErrorKind::Unsupported,
            RemoveError::Store(e) => e.kind(),
        }
    }
}
