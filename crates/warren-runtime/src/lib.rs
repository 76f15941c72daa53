//! How warren isolates sandboxes.
//!
//! [`Runtime`] is the one interface the domain layer (`warren-core`) uses to create, inspect and
//! remove sandboxes. A runtime turns a [`SandboxSpec`] (image layers, env, limits) into a running
//! sandbox whose PID 1 is `warren-agent`, and hands out an [`AgentClient`] to talk to that agent.
//!
//! Backends:
//! - [`ContainerRuntime`] (`container`): runc + overlayfs + a user namespace (container root is
//!   host uid 100000) + Docker's default capabilities and seccomp profile.
//! - `microvm` (later): QEMU/KVM, implementing the same trait.
//!
//! Sandboxes never depend on the daemon process: they survive its death, and a new daemon finds
//! them again through [`Runtime::list`] and reconnects with [`Runtime::agent`].
//!
//! This crate is where warren's raw syscalls live (mount, umount, cgroup files).

mod agent;
mod agent_binary;
pub mod container;
pub mod doctor;
mod error;
pub mod host;
mod validate;

use std::path::PathBuf;

pub use agent::{AgentClient, AgentError};
pub use agent_binary::{AgentBinaryError, find_agent_binary};
pub use container::{ContainerConfig, ContainerRuntime, DiskError, IdMap};
pub use error::{RuntimeError, SpecError};
pub use validate::{is_valid_id, validate_spec};

/// A boxed, sendable future, so that [`Runtime`] stays object safe (`Arc<dyn Runtime>`).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A way to isolate sandboxes. `container` today; a microVM backend will implement the same trait.
pub trait Runtime: Send + Sync + 'static {
    /// Which backend this is.
    fn kind(&self) -> RuntimeKind;

    /// Create and start a sandbox; returns once its agent answers /health (or fails, leaving
    /// nothing behind).
    fn create<'a>(
        &'a self,
        spec: &'a SandboxSpec,
    ) -> BoxFuture<'a, Result<SandboxInfo, RuntimeError>>;

    /// The state of one sandbox; `None` when the runtime knows nothing of it.
    fn state<'a>(&'a self, id: &'a str)
    -> BoxFuture<'a, Result<Option<ActualState>, RuntimeError>>;

    /// Every warren sandbox the runtime sees (after a daemon restart too).
    fn list(&self) -> BoxFuture<'_, Result<Vec<(String, ActualState)>, RuntimeError>>;

    /// A connection to the sandbox's agent: cached, reconnected when it was closed.
    fn agent<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<AgentClient, RuntimeError>>;

    /// Current resource usage; `None` when the sandbox has no cgroup (not running). Measuring
    /// disk use walks the sandbox's writable layer, so it is only done when `disk` is true.
    fn stats<'a>(
        &'a self,
        id: &'a str,
        disk: bool,
    ) -> BoxFuture<'a, Result<Option<SandboxStats>, RuntimeError>>;

    /// Freeze every process of a running sandbox; its memory stays, its CPU use drops to zero.
    fn pause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// Thaw a paused sandbox.
    fn resume<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// End every process (SIGTERM, a grace period, SIGKILL) and release the sandbox's kernel
    /// resources (cgroups, mounts); its files stay for [`Runtime::start`].
    fn stop<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// Boot a stopped sandbox again on the files it has (`spec` as at creation, or changed
    /// limits) and wait for its agent.
    fn start<'a>(
        &'a self,
        spec: &'a SandboxSpec,
    ) -> BoxFuture<'a, Result<SandboxInfo, RuntimeError>>;

    /// Checkpoint every process of a running or paused sandbox to disk (memory, open files,
    /// listening sockets) and release its memory; [`Runtime::restore`] brings it back.
    fn hibernate<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// Bring a hibernated sandbox back, continuing from its checkpoint.
    fn restore<'a>(
        &'a self,
        spec: &'a SandboxSpec,
    ) -> BoxFuture<'a, Result<SandboxInfo, RuntimeError>>;

    /// The main process's retained log (see [`LogOptions`]), as chunks of bytes. Works in any
    /// state in which the sandbox's files exist.
    fn logs<'a>(
        &'a self,
        id: &'a str,
        opts: LogOptions,
    ) -> BoxFuture<'a, Result<LogChunks, RuntimeError>>;

    /// Kill and remove everything: processes, runc state, mounts, cgroups, directories.
    /// Idempotent; succeeds if already gone.
    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// Capture an immutable snapshot of a running or paused sandbox: its filesystem changes and,
    /// with `memory`, every process. The sandbox is frozen during the capture and then continues
    /// (a paused one stays paused). A failure leaves no snapshot behind.
    fn snapshot<'a>(
        &'a self,
        id: &'a str,
        snapshot_id: &'a str,
        memory: bool,
    ) -> BoxFuture<'a, Result<SnapshotInfo, RuntimeError>>;

    /// Remove a snapshot's files. Idempotent. The caller makes sure nothing uses it.
    fn delete_snapshot<'a>(
        &'a self,
        snapshot_id: &'a str,
    ) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// Ids of every complete snapshot the runtime holds (after removing incomplete leftovers).
    fn list_snapshots(&self) -> BoxFuture<'_, Result<Vec<String>, RuntimeError>>;

    /// Make a stopped or hibernated sandbox self-contained on disk (no container, no mount) and
    /// return the directory that holds all of it, to be archived. Fails for a live sandbox.
    fn park<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<PathBuf, RuntimeError>>;

    /// Where a sandbox's files live (and where an archived one is unpacked to, as a whole).
    fn files_dir(&self, id: &str) -> PathBuf;

    /// The host pid of a running or paused sandbox's PID 1.
    fn main_pid<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<u32, RuntimeError>>;

    /// TCP ports a running sandbox listens on for other hosts (not bound to loopback only),
    /// lowest first.
    fn listening_ports<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Vec<u16>, RuntimeError>>;

    /// Where a snapshot's files live (and where an archived one is unpacked to, as a whole).
    fn snapshot_dir(&self, snapshot_id: &str) -> PathBuf;
}

/// What a snapshot captured and what it cost ([`Runtime::snapshot`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// How long the sandbox's processes were frozen.
    pub paused: std::time::Duration,
    /// Bytes on disk of the filesystem layer.
    pub fs_bytes: u64,
    /// Bytes on disk of the memory image (0 without memory).
    pub memory_bytes: u64,
}

/// The isolation technology behind a [`Runtime`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeKind {
    /// OCI container: runc + user namespace + seccomp.
    Container,
    /// KVM microVM (QEMU).
    MicroVm,
}

/// What the runtime observes about a sandbox (the reconciler compares it with the desired state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActualState {
    /// Being set up (mounts, runc create, waiting for the agent).
    Creating,
    /// Processes are running.
    Running,
    /// Frozen (cgroup freezer); memory stays in RAM.
    Paused,
    /// No processes; leftovers (filesystem, runc state) may remain until `delete`.
    Stopped,
    /// No processes, and a complete checkpoint to restore them from.
    Hibernated,
}

/// Everything a runtime needs to create a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSpec {
    /// Sandbox id, e.g. `sb-3f9k2x`: `[a-z0-9-]`, 1 to 64 characters, starting with a letter or digit.
    pub id: String,
    /// Hostname inside the sandbox.
    pub hostname: String,
    /// Unpacked image layer directories, lowest FIRST (read-only, owned by shifted ids already).
    pub layers: Vec<PathBuf>,
    /// `KEY=VALUE`, the final process environment (image env + sandbox env), PATH included.
    pub env: Vec<String>,
    /// Default cwd for commands (`""` means `/`).
    pub workdir: String,
    /// Image `User` for commands (`""` means root); passed to the agent, which itself runs as 0:0.
    pub user: String,
    /// The sandbox's main process, run by the agent (not as PID 1).
    pub main_cmd: Option<Vec<String>>,
    /// Resource limits.
    pub limits: Limits,
    /// Snapshots whose filesystem layers lie on the image's layers, lowest first: a sandbox
    /// created from a snapshot sees the files of the snapshot and its ancestors.
    pub snapshot_layers: Vec<String>,
    /// Create only: continue the processes captured in this memory snapshot instead of booting
    /// the main process (its layers must be `snapshot_layers`).
    pub restore_from: Option<String>,
    /// The sandbox will be linked to a network (by the caller, once its PID 1 exists): its
    /// resolver, and its main process waits for the link. `None`: loopback only.
    pub network: Option<NetworkAttachment>,
}

/// What a sandbox that gets a network link needs at boot (see `warren-net`).
#[derive(Clone)]
pub struct NetworkAttachment {
    /// Resolver addresses written to the sandbox's `/etc/resolv.conf`.
    pub nameservers: Vec<std::net::IpAddr>,
    /// Links the sandbox whose PID 1 has this host pid to its network: called by the runtime
    /// as soon as that process exists (after `runc run` or a restore), before it waits for the
    /// agent (which, booting fresh, waits for the link before it serves).
    pub plug: std::sync::Arc<dyn NetworkPlug>,
}

/// See [`NetworkAttachment::plug`].
pub trait NetworkPlug: Send + Sync + 'static {
    /// Link the sandbox whose PID 1 is `pid`.
    fn plug(&self, pid: u32) -> BoxFuture<'_, Result<(), String>>;
}

impl std::fmt::Debug for NetworkAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkAttachment")
            .field("nameservers", &self.nameservers)
            .finish_non_exhaustive()
    }
}

impl PartialEq for NetworkAttachment {
    fn eq(&self, other: &Self) -> bool {
        self.nameservers == other.nameservers && std::sync::Arc::ptr_eq(&self.plug, &other.plug)
    }
}

impl Eq for NetworkAttachment {}

/// Resource limits of a sandbox. A zero means "no limit" for that resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Memory limit in bytes (swap is not allowed on top of it).
    pub memory_bytes: u64,
    /// CPU bandwidth in thousandths of a core: 1000 = one core, 500 = half a core.
    pub cpu_millis: u32,
    /// Maximum number of processes and threads.
    pub pids: u32,
    /// Disk quota in bytes for everything the sandbox writes (its filesystem changes, logs and
    /// runtime files); 0 means unlimited.
    pub disk_bytes: u64,
}

/// What part of a main-process log to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Only the last this many lines; `None`: everything retained.
    pub tail: Option<u64>,
    /// Keep sending new output until the receiver is dropped or the sandbox is deleted.
    pub follow: bool,
}

/// Log output as it is read; an `Err` item ends the stream.
pub type LogChunks = tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>;

/// How a sandbox's main-process log is bounded: `files` files of at most `file_bytes` each (the
/// oldest is dropped when the newest fills up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRotation {
    /// Bytes per file.
    pub file_bytes: u64,
    /// Files kept, the current one included.
    pub files: u32,
}

impl Default for LogRotation {
    /// 3 files of 8 MiB.
    fn default() -> Self {
        Self {
            file_bytes: 8 * 1024 * 1024,
            files: 3,
        }
    }
}

/// Resource usage of one sandbox at one instant ([`Runtime::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct SandboxStats {
    /// CPU time used since the sandbox started, in nanoseconds (all its processes).
    pub cpu_usage_ns: u64,
    /// Memory charged to the sandbox, in bytes (page cache included).
    pub memory_bytes: u64,
    /// Memory limit in bytes; `None` when unlimited.
    pub memory_limit_bytes: Option<u64>,
    /// Processes and threads.
    pub pids: u64,
    /// Process limit; `None` when unlimited.
    pub pids_limit: Option<u64>,
    /// Bytes written to the sandbox's filesystem (its writable layer); `None` when not measured.
    pub disk_bytes: Option<u64>,
}

/// What [`Runtime::create`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxInfo {
    /// Sandbox id.
    pub id: String,
    /// Host pid of the agent (the sandbox's PID 1).
    pub pid: u32,
    /// The sandbox's bundle directory (holds `config.json`, the overlay dirs, the log).
    pub bundle: PathBuf,
}
