//! warren's domain layer: sandboxes, their states and operations, API keys,
//! and the reconciler that makes the store agree with the runtime.
//!
//! [`Core`] is the one object the front doors (REST, CLI-in-process, MCP)
//! call. It owns no HTTP and no SQL: it talks to a [`warren_store::Store`],
//! a [`warren_images::ImageStore`] and a [`warren_runtime::Runtime`].
//!
//! A create goes: validate → resolve the image (pull if absent) → record the
//! sandbox as `creating` → runtime creates it and waits for its agent →
//! record `running`. Any failure after the record exists undoes the runtime
//! side and removes the record, with an event saying why.
#![forbid(unsafe_code)]

mod archive;
mod auth;
mod clock;
mod error;
mod events;
mod exec;
mod files;
mod ids;
mod images;
mod keys;
mod lifecycle;
mod locks;
mod logs;
mod metrics;
mod network;
mod policy;
mod ports;
mod process;
mod reconcile;
mod reconcile_snapshots;
mod sandbox;
mod snapshot;
mod ssh_keys;
mod terminal;
mod validate;

use std::sync::Arc;

pub use archive::Transfer;
pub use auth::{ApiKey, Principal};
pub use error::{CoreError, ErrorKind};
pub use events::{EventFilter, MAX_EVENTS_PAGE};
pub use exec::{ExecInput, ExecOutput, MAX_OUTPUT};
pub use files::MAX_FILE_BYTES;
pub use keys::{CreateKey, CreatedKey, KeyInfo, MAX_KEY_LIFETIME_S, Scope};
pub use lifecycle::LifecycleOp;
pub use logs::MAX_TAIL_LINES;
pub use metrics::{MetricsSample, SandboxMetrics};
pub use network::{NetworkSpec, NetworkUpdate};
pub use policy::{IdleAction, POLICY_ACTOR, Policy, PolicyAction, PolicyInput};
pub use process::{
    ProcessEnd, ProcessEvent, ProcessEvents, ProcessSignal, RunningProcess, StartProcess,
};
pub use reconcile::ReconcileReport;
pub use sandbox::{CreateSandbox, MAX_PAGE, Sandbox, SandboxSpec, UpdateSandbox};
pub use snapshot::{CreateSnapshot, MAX_BRANCHES, Snapshot};
pub use ssh_keys::{SshKey, SshPublicKey, ssh_actor};
pub use terminal::{OpenTerminal, Terminal, TerminalInput};
/// Agent-side file types the files API passes through (streams, entries).
pub use warren_agent_proto::{
    AgentBody, AgentClient, ENVD_COMPAT_VERSION, EntryInfo, FileStream, FileType,
};
pub use warren_images::{
    Credentials, Image, ImageConfig, NoProgress, PullEvent, PullOptions, PullProgress,
};
pub use warren_net::{EgressPolicy, NetworkMode};
/// Host checks and capacity (the host page of the dashboard, `GET /v1/host`).
pub use warren_runtime::{doctor, host};
pub use warren_store::EventRecord;
pub use warren_store::SnapshotState;
pub use warren_store::{SandboxFilter, SandboxState};

use warren_images::ImageStore;
use warren_runtime::Runtime;
use warren_store::Store;

/// Defaults applied when a create request leaves a field out.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// CPU cores.
    pub cpu: f64,
    /// Memory limit in MiB.
    pub memory_mb: u64,
    /// Process limit.
    pub pids_limit: u32,
    /// Disk quota in MiB; 0: no quota.
    pub disk_mb: u64,
    /// Lifecycle policy of sandboxes that do not give one.
    pub policy: Policy,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            cpu: 1.0,
            memory_mb: 512,
            pids_limit: 1024,
            disk_mb: 10 * 1024,
            policy: Policy::default(),
        }
    }
}

/// The domain service. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    images: ImageStore,
    runtime: Arc<dyn Runtime>,
    defaults: Defaults,
    locks: locks::SandboxLocks,
    events: events::EventHub,
    metrics: metrics::MetricsStore,
    archive: warren_archive::Archive,
    transfers: archive::Transfers,
    activity: policy::ActivityLog,
    policy_backoff: policy::PolicyBackoff,
    network: Option<warren_net::Network>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("defaults", &self.inner.defaults)
            .finish_non_exhaustive()
    }
}

impl Core {
    /// Assemble the domain service from its backends.
    pub fn new(
        store: Arc<dyn Store>,
        images: ImageStore,
        runtime: Arc<dyn Runtime>,
        defaults: Defaults,
        archive: warren_archive::Archive,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                images,
                runtime,
                defaults,
                locks: locks::SandboxLocks::default(),
                events: events::EventHub::default(),
                metrics: metrics::MetricsStore::default(),
                archive,
                transfers: archive::Transfers::default(),
                activity: policy::ActivityLog::default(),
                policy_backoff: policy::PolicyBackoff::default(),
                network: None,
            }),
        }
    }

    /// Put sandboxes on `network` (call right after [`Core::new`], before the core is cloned).
    ///
    /// # Panics
    /// When the core was cloned already.
    pub fn with_network(mut self, network: warren_net::Network) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("with_network is called before the core is shared")
            .network = Some(network);
        self
    }
}
