//! `GET /v1/host`: what the host is, has, and can do.

use serde::{Deserialize, Serialize};

/// The host warren runs on: version, capacity, and `warren doctor`'s checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostInfo {
    /// The daemon's version.
    pub version: String,
    /// The kernel's release (`uname -r`).
    pub kernel: String,
    /// CPUs the daemon may use.
    pub cpus: u32,
    /// Memory installed, bytes.
    pub memory_total_bytes: u64,
    /// Memory available for new work (`MemAvailable`), bytes.
    pub memory_available_bytes: u64,
    /// Size of the file system holding the state directory, bytes.
    pub disk_total_bytes: u64,
    /// Free space on it, bytes.
    pub disk_available_bytes: u64,
    /// Sandboxes that exist, in any state.
    pub sandboxes: u64,
    /// Whether every check sandboxes need passed.
    pub can_run_sandboxes: bool,
    /// `warren doctor`'s checks, required ones first.
    pub checks: Vec<HostCheck>,
}

/// One host capability and what was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostCheck {
    /// Stable name: `root`, `runc`, `cgroups`, `user_namespaces`, `overlayfs`, `seccomp`, `criu`,
    /// `iptables`, `kvm`, ...
    pub name: String,
    /// Whether the capability is usable.
    pub status: HostCheckStatus,
    /// What was found.
    pub detail: String,
    /// How to fix a `warn` or `fail`.
    pub fix: Option<String>,
    /// Whether sandboxes need it.
    pub required: bool,
}

/// Outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HostCheckStatus {
    /// Present and usable.
    Ok,
    /// Degraded: sandboxes run, some feature is slower or missing.
    Warn,
    /// Missing or broken.
    Fail,
}
