//! Domain errors and the kinds the front doors map to status codes.

use warren_images::ErrorKind as ImageErrorKind;
use warren_runtime::AgentError;
use warren_runtime::RuntimeError;
use warren_store::StoreError;

use crate::SandboxState;

/// What class of failure a [`CoreError`] is. REST maps it to a status and a
/// stable code, the CLI to an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input from the caller.
    InvalidInput,
    /// Missing or wrong credentials.
    Unauthorized,
    /// No such sandbox.
    SandboxNotFound,
    /// No such image locally or in the registry.
    ImageNotFound,
    /// No such file or directory inside the sandbox.
    FileNotFound,
    /// No such process in the sandbox.
    ProcessNotFound,
    /// Access denied inside the sandbox.
    PermissionDenied,
    /// The object is in a state that does not allow the operation.
    Conflict,
    /// A registry failed or refused.
    Registry,
    /// The sandbox's agent failed or could not be reached.
    Agent,
    /// Anything else: a bug or a host problem.
    Internal,
    /// No such object of another kind (an API key).
    NotFound,
    /// No such snapshot.
    SnapshotNotFound,
    /// Nothing answered on a sandbox's port.
    PortUnreachable,
}

/// Why a domain operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A request field is invalid.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field at fault, e.g. `memory_mb`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The API key is missing, unknown or revoked.
    #[error("missing or invalid API key")]
    Unauthorized,
    /// No sandbox has this id.
    #[error("sandbox {id} not found")]
    SandboxNotFound {
        /// The id asked for.
        id: String,
    },
    /// The sandbox's state does not allow the operation.
    #[error("cannot {operation} sandbox {id}: it is {state}")]
    WrongState {
        /// Sandbox id.
        id: String,
        /// Its current state.
        state: SandboxState,
        /// What was attempted.
        operation: &'static str,
    },
    /// The image is still used by sandboxes or snapshots.
    #[error("image {reference} is used by {count} sandbox(es) or snapshot(s); delete them first")]
    ImageInUse {
        /// Image reference.
        reference: String,
        /// Sandboxes using it.
        count: u64,
    },
    /// No local image matches.
    #[error("image {reference} not found")]
    ImageNotFound {
        /// What was asked for.
        reference: String,
    },
    /// Pulling an image failed.
    #[error("cannot pull image {reference}")]
    Pull {
        /// The reference.
        reference: String,
        /// The image store's error.
        #[source]
        source: Box<warren_images::PullError>,
    },
    /// Importing an image archive failed.
    #[error("cannot import image archive")]
    Import {
        /// The image store's error.
        #[source]
        source: Box<warren_images::ImportError>,
    },
    /// Removing an image failed.
    #[error("cannot remove image {reference}")]
    RemoveImage {
        /// The reference.
        reference: String,
        /// The image store's error.
        #[source]
        source: Box<warren_images::RemoveError>,
    },
    /// The image store failed (disk, unpacking).
    #[error("image store failed")]
    Images {
        /// The image store's error.
        #[source]
        source: Box<warren_images::StoreError>,
    },
    /// The runtime could not create, inspect or delete a sandbox.
    #[error("runtime failed for sandbox {id}")]
    Runtime {
        /// Sandbox id.
        id: String,
        /// The runtime's error.
        #[source]
        source: Box<RuntimeError>,
    },
    /// The agent inside a sandbox failed a call.
    #[error("agent of sandbox {id} failed")]
    Agent {
        /// Sandbox id.
        id: String,
        /// The agent client's error.
        #[source]
        source: Box<AgentError>,
    },
    /// The agent refused a request for a reason the caller can fix: a
    /// missing file or program, a bad path, user or working directory.
    #[error("{subject}: {message}")]
    Rejected {
        /// What was refused: a path, a command.
        subject: String,
        /// The agent's explanation.
        message: String,
        /// Not found, permission denied, invalid input or conflict.
        kind: ErrorKind,
    },
    /// No snapshot has this id or name.
    #[error("snapshot {id} not found")]
    SnapshotNotFound {
        /// The id or name asked for.
        id: String,
    },
    /// The snapshot cannot be used or removed in its current state.
    #[error("snapshot {id} is {state}: {reason}")]
    SnapshotConflict {
        /// Snapshot id.
        id: String,
        /// Its state.
        state: String,
        /// Why that blocks the operation.
        reason: String,
    },
    /// The snapshot is used by sandboxes or other snapshots.
    #[error("snapshot {id} is used by {users}; delete them first")]
    SnapshotInUse {
        /// Snapshot id.
        id: String,
        /// Who uses it.
        users: String,
    },
    /// Moving files to or from the archive failed.
    #[error("archive transfer of {id} failed")]
    Archive {
        /// Sandbox or snapshot id.
        id: String,
        /// The archive's error.
        #[source]
        source: Box<warren_archive::ArchiveError>,
    },
    /// No API key has this id.
    #[error("API key {id} not found")]
    KeyNotFound {
        /// The id asked for.
        id: String,
    },
    /// No SSH public key has this id.
    #[error("SSH key {id} not found")]
    SshKeyNotFound {
        /// The id asked for.
        id: String,
    },
    /// The SSH public key is registered already.
    #[error("SSH key {fingerprint} is registered already (as {existing})")]
    SshKeyExists {
        /// Its fingerprint.
        fingerprint: String,
        /// The id of the registered key.
        existing: String,
    },
    /// The sandbox has no network address (networking is off, or it is not running).
    #[error("sandbox {id} has no network address{reason}")]
    NoNetwork {
        /// Sandbox id.
        id: String,
        /// Why, starting with `: `, or empty.
        reason: String,
    },
    /// A TCP connection to a sandbox's port failed.
    #[error("nothing answers on port {port} of sandbox {id}")]
    PortUnreachable {
        /// Sandbox id.
        id: String,
        /// The port.
        port: u16,
        /// Why the connection failed.
        #[source]
        source: std::io::Error,
    },
    /// The database failed.
    #[error("store failed")]
    Store {
        /// The store's error.
        #[source]
        source: Box<StoreError>,
    },
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        Self::Store {
            source: Box::new(e),
        }
    }
}

fn image_kind(kind: ImageErrorKind) -> ErrorKind {
    match kind {
        ImageErrorKind::InvalidReference | ImageErrorKind::Unsupported => ErrorKind::InvalidInput,
        ImageErrorKind::NotFound => ErrorKind::ImageNotFound,
        ImageErrorKind::Unauthorized | ImageErrorKind::Upstream => ErrorKind::Registry,
        ImageErrorKind::Internal => ErrorKind::Internal,
    }
}

impl CoreError {
    /// The class of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid { .. } => ErrorKind::InvalidInput,
            Self::Unauthorized => ErrorKind::Unauthorized,
            Self::SandboxNotFound { .. } => ErrorKind::SandboxNotFound,
            Self::KeyNotFound { .. } | Self::SshKeyNotFound { .. } => ErrorKind::NotFound,
            Self::WrongState { .. }
            | Self::NoNetwork { .. }
            | Self::ImageInUse { .. }
            | Self::SshKeyExists { .. }
            | Self::SnapshotConflict { .. }
            | Self::SnapshotInUse { .. } => ErrorKind::Conflict,
            Self::SnapshotNotFound { .. } => ErrorKind::SnapshotNotFound,
            Self::PortUnreachable { .. } => ErrorKind::PortUnreachable,
            Self::ImageNotFound { .. } => ErrorKind::ImageNotFound,
            Self::Pull { source, .. } => image_kind(source.kind()),
            Self::Import { source } => image_kind(source.kind()),
            Self::RemoveImage { source, .. } => image_kind(source.kind()),
            Self::Images { source } => image_kind(source.kind()),
            Self::Rejected { kind, .. } => *kind,
            Self::Agent { .. } => ErrorKind::Agent,
            Self::Runtime { source, .. } if source.is_not_found() => ErrorKind::SandboxNotFound,
            Self::Runtime { .. } | Self::Store { .. } | Self::Archive { .. } => ErrorKind::Internal,
        }
    }

    /// The whole cause chain on one line, for messages shown to users.
    pub fn chain(&self) -> String {
        chain_of(self)
    }

    /// Classify an agent failure: refusals the caller can fix become
    /// [`CoreError::Rejected`] about `subject`; transport and internal
    /// failures stay [`CoreError::Agent`].
    pub(crate) fn from_agent(id: &str, subject: &str, err: AgentError, missing: ErrorKind) -> Self {
        use warren_agent_proto::ConnectCode;
        let kind = match err.code() {
            ConnectCode::NotFound => missing,
            ConnectCode::PermissionDenied => ErrorKind::PermissionDenied,
            ConnectCode::InvalidArgument | ConnectCode::OutOfRange => ErrorKind::InvalidInput,
            ConnectCode::AlreadyExists | ConnectCode::FailedPrecondition => ErrorKind::Conflict,
            _ => {
                return Self::Agent {
                    id: id.to_owned(),
                    source: Box::new(err),
                };
            }
        };
        let message = match err {
            AgentError::Rpc { message, .. } => message,
            other => other.to_string(),
        };
        Self::Rejected {
            subject: subject.to_owned(),
            message,
            kind,
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// An error and its causes on one line: `outer: cause: root cause`.
pub(crate) fn chain_of(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}
