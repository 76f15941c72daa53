//! Errors of the runtime layer: one top-level [`RuntimeError`] that wraps the per-area errors
//! (spec validation, rootfs, runc, agent binary, agent) and says which sandbox failed.

use std::path::PathBuf;
use std::time::Duration;

use crate::AgentError;
use crate::agent_binary::AgentBinaryError;
use crate::container::rootfs::RootfsError;
use crate::container::runc::RuncError;

/// Why a [`crate::SandboxSpec`] was rejected before anything was created.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// Ids are `[a-z0-9-]`, 1 to 64 characters, not starting with `-`.
    #[error("invalid sandbox id {id:?}: use 1-64 characters of [a-z0-9-], not starting with '-'")]
    InvalidId {
        /// The rejected id.
        id: String,
    },
    /// Hostnames are 1-64 characters of `[A-Za-z0-9.-]`.
    #[error("invalid hostname {hostname:?}: use 1-64 characters of [A-Za-z0-9.-]")]
    InvalidHostname {
        /// The rejected hostname.
        hostname: String,
    },
    /// Environment entries are `KEY=VALUE` with a non-empty key and no NUL byte.
    #[error("invalid environment entry {entry:?}: expected KEY=VALUE")]
    InvalidEnv {
        /// The rejected entry.
        entry: String,
    },
    /// Layer paths must be absolute and free of the overlay option separators `:` and `,`.
    #[error("invalid layer path {path:?}: must be absolute and contain no ':' or ','")]
    InvalidLayerPath {
        /// The rejected path.
        path: PathBuf,
    },
    /// `main_cmd` was given but empty.
    #[error("main_cmd is empty")]
    EmptyMainCmd,
    /// The CPU limit is below what the kernel accepts (1 ms per 100 ms period).
    #[error("cpu limit of {millis} millicores is too small: the minimum is 10")]
    CpuTooSmall {
        /// The rejected value.
        millis: u32,
    },
    /// A snapshot id is not a valid id, or `restore_from` is not the top snapshot layer.
    #[error(
        "invalid snapshot reference {id:?}: snapshot ids are like sandbox ids, and a restore must be from the top snapshot layer"
    )]
    InvalidSnapshot {
        /// The rejected id.
        id: String,
    },
    /// A string field holds a NUL byte or a newline, which cannot be passed on.
    #[error("field {field} contains a NUL byte or a newline")]
    BadCharacters {
        /// Name of the field.
        field: &'static str,
    },
}

/// Everything that can go wrong in a [`crate::Runtime`] call.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The spec was invalid; nothing was created.
    #[error("invalid sandbox spec")]
    InvalidSpec(#[from] SpecError),
    /// The runtime knows no sandbox with this id.
    #[error("sandbox {id} not found")]
    NotFound {
        /// Sandbox id.
        id: String,
    },
    /// A sandbox with this id already exists (it was left untouched).
    #[error("sandbox {id} already exists")]
    AlreadyExists {
        /// Sandbox id.
        id: String,
    },
    /// The agent binary could not be found or is unusable.
    #[error("agent binary unusable")]
    AgentBinary(#[from] AgentBinaryError),
    /// The runtime's own directories could not be prepared.
    #[error("cannot {action} {path}")]
    Host {
        /// What was being done, e.g. "create directory".
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A sandbox's files could not be prepared or removed.
    #[error("sandbox {id}: cannot {action} {path}")]
    Io {
        /// Sandbox id.
        id: String,
        /// What was being done, e.g. "write".
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Mounting or unmounting the sandbox's root filesystem failed.
    #[error("sandbox {id}: root filesystem")]
    Rootfs {
        /// Sandbox id.
        id: String,
        /// What failed.
        #[source]
        source: RootfsError,
    },
    /// The sandbox's disk (quota) could not be made or mounted.
    #[error("sandbox {id}: disk")]
    Disk {
        /// Sandbox id.
        id: String,
        /// What failed.
        #[source]
        source: crate::container::DiskError,
    },
    /// The checkpoint (hibernate) failed; the sandbox was left as it was.
    #[error("sandbox {id}: checkpoint failed; CRIU's log ends: {criu_log}")]
    Checkpoint {
        /// Sandbox id.
        id: String,
        /// runc's error.
        #[source]
        source: RuncError,
        /// The tail of CRIU's dump log.
        criu_log: String,
    },
    /// Linking the sandbox to its network failed.
    #[error("sandbox {id}: cannot link it to its network: {detail}")]
    Network {
        /// Sandbox id.
        id: String,
        /// What the network said.
        detail: String,
    },
    /// The restore (wake from hibernation) failed.
    #[error("sandbox {id}: restore failed; CRIU's log ends: {criu_log}")]
    Restore {
        /// Sandbox id.
        id: String,
        /// runc's error.
        #[source]
        source: RuncError,
        /// The tail of CRIU's restore log.
        criu_log: String,
    },
    /// The sandbox has no running (or paused) container for this operation.
    #[error("sandbox {id} is not running")]
    NotRunning {
        /// Sandbox id.
        id: String,
    },
    /// The sandbox is being checkpointed: its agent takes no new connection until that ends.
    #[error("sandbox {id} is being checkpointed; try again when it is done")]
    Checkpointing {
        /// Sandbox id.
        id: String,
    },
    /// There is no such (complete) snapshot.
    #[error("snapshot {id} does not exist or is incomplete")]
    SnapshotNotFound {
        /// Snapshot id.
        id: String,
    },
    /// A snapshot with this id exists already.
    #[error("snapshot {id} already exists")]
    SnapshotExists {
        /// Snapshot id.
        id: String,
    },
    /// Copying a sandbox's files into a snapshot (or back) failed.
    #[error("snapshot {id}: cannot copy {from} to {to}: {detail}")]
    SnapshotCopy {
        /// Snapshot id.
        id: String,
        /// Source directory.
        from: PathBuf,
        /// Destination directory.
        to: PathBuf,
        /// What `cp` said.
        detail: String,
    },
    /// There is no complete checkpoint to restore from.
    #[error("sandbox {id} has no checkpoint to restore (missing or incomplete)")]
    NoCheckpoint {
        /// Sandbox id.
        id: String,
    },
    /// The checkpoint's files do not match what was written (truncated, missing).
    #[error("sandbox {id}: the checkpoint is damaged: {detail}")]
    DamagedCheckpoint {
        /// Sandbox or snapshot id.
        id: String,
        /// What does not match.
        detail: String,
    },
    /// A runc command failed.
    #[error("sandbox {id}: runc")]
    Runc {
        /// Sandbox id.
        id: String,
        /// What failed.
        #[source]
        source: RuncError,
    },
    /// The sandbox's cgroups could not be removed.
    #[error("sandbox {id}: cannot remove cgroup {path}")]
    Cgroup {
        /// Sandbox id.
        id: String,
        /// The cgroup directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The sandbox's processes exited while it was starting.
    #[error("sandbox {id} exited while starting; its log ends with:\n{log_tail}")]
    ExitedDuringStart {
        /// Sandbox id.
        id: String,
        /// The last lines of the sandbox's log (agent stdout/stderr).
        log_tail: String,
    },
    /// The agent did not answer `/health` in time.
    #[error(
        "sandbox {id}: agent did not answer /health within {timeout:?}; its log ends with:\n{log_tail}"
    )]
    AgentTimeout {
        /// Sandbox id.
        id: String,
        /// How long we waited.
        timeout: Duration,
        /// The last lines of the sandbox's log.
        log_tail: String,
        /// The last connection error, if any.
        #[source]
        source: Option<AgentError>,
    },
    /// The sandbox's agent could not be reached.
    #[error("sandbox {id}: cannot reach the agent")]
    Agent {
        /// Sandbox id.
        id: String,
        /// What failed.
        #[source]
        source: AgentError,
    },
}

impl RuntimeError {
    /// True when the error means "no such sandbox" (API: 404 `sandbox_not_found`).
    pub fn is_not_found(&self) -> bool {
        matches!(self, RuntimeError::NotFound { .. })
    }
}
