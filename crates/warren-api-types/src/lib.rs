//! Request and response types of warren's REST API (`/v1`).
//!
//! This crate is the contract between the daemon and every client (the CLI,
//! `warren-client`, the SDKs, the web UI). It holds plain serde types and
//! nothing else: no HTTP, no I/O. Requests use `deny_unknown_fields` so a
//! misspelt field fails loudly instead of being ignored.
//!
//! With the `openapi` feature (the server enables it) every type also derives
//! `utoipa::ToSchema`: its `///` comments become the descriptions in the
//! OpenAPI document, so every type and field needs one.
#![forbid(unsafe_code)]

mod error;
mod events;
mod exec;
mod files;
mod host;
mod image;
mod keys;
mod metrics;
mod network;
mod policy;
mod process;
mod sandbox;
mod snapshot;
mod ssh_keys;

pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use events::{Event, EventList, EventResult};
pub use exec::{ExecRequest, ExecResponse};
pub use files::{
    ChmodRequest, ChownRequest, FileEntry, FileKind, FileList, MkdirRequest, MoveRequest,
};
pub use host::{HostCheck, HostCheckStatus, HostInfo};
pub use image::{Image, ImageConfig, ImageList, PullEvent, PullRequest};
pub use keys::{ApiKey, CreateKeyRequest, CreatedKey, KeyList, KeyScope};
pub use metrics::{MetricsSample, SandboxMetrics};
pub use network::{ListeningPort, NetworkMode, NetworkPolicy, PortList, SandboxNetwork};
pub use policy::{IdleAction, LifecyclePolicy};
pub use process::{
    OutputChunk, Process, ProcessExit, ProcessList, ProcessStarted, SignalName, SignalRequest,
    StartProcessRequest,
};
pub use sandbox::{
    ArchiveTransfer, CreateSandboxRequest, Sandbox, SandboxList, SandboxState, UpdateSandboxRequest,
};
pub use snapshot::{
    BranchRequest, BranchResponse, CreateSnapshotRequest, Snapshot, SnapshotList, SnapshotState,
};
pub use ssh_keys::{AddSshKeyRequest, SshKey, SshKeyList};

/// Answer to `GET /healthz`: the daemon is alive, and its version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// Always `"ok"` when the daemon answers.
    pub status: String,
    /// The daemon's version (the `warren` crate version).
    pub version: String,
}
