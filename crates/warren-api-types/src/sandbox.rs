//! Sandboxes: `/v1/sandboxes`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Body of `POST /v1/sandboxes`: the image of a new sandbox and, optionally, its command,
/// environment, limits, labels and metadata; an absent field takes the server's default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"image": "python:3.12-slim", "cmd": ["sleep", "infinity"], "env": {"APP_ENV": "dev"}, "cpu": 0.5, "memory_mb": 256, "labels": {"team": "ml"}}))
)]
#[serde(deny_unknown_fields)]
pub struct CreateSandboxRequest {
    /// Image reference or digest; pulled first if it is not local. Required unless `snapshot`
    /// is given.
    #[serde(default)]
    pub image: String,
    /// Create from this snapshot (id or name) instead of an image: the sandbox starts with the
    /// snapshot's files, and — for a memory snapshot — continues its processes from the
    /// captured instant (then `cmd`, `env`, `workdir` and `user` cannot be given). Absent
    /// limits take the snapshot's values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// Main process to run (replaces the image's Entrypoint + Cmd). The
    /// sandbox stays up when it exits; commands run through exec.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// Environment added to the image's.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// CPU cores (0.1..=64, default 1.0).
    #[serde(default)]
    pub cpu: Option<f64>,
    /// Memory limit in MiB (16..=1048576, default 512).
    #[serde(default)]
    pub memory_mb: Option<u64>,
    /// Process limit (16..=65536, default 1024).
    #[serde(default)]
    pub pids_limit: Option<u32>,
    /// Default working directory of commands (absolute); defaults to the image's WorkingDir.
    #[serde(default)]
    pub workdir: Option<String>,
    /// Default user of commands (name, uid or uid:gid); defaults to the image's User.
    #[serde(default)]
    pub user: Option<String>,
    /// Disk quota in MiB for everything the sandbox writes (its filesystem changes and its
    /// logs; the image's layers are shared and not counted); 64..=1048576, default 10240.
    /// Past it, writes inside the sandbox fail with ENOSPC.
    #[serde(default)]
    pub disk_mb: Option<u64>,
    /// Labels for filtering: keys of 1-63 characters (letters, digits, `._/-`), values of 0-63.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Free-form data for the caller (at most 64 entries, keys 1-128 bytes, values up to 4096
    /// bytes); warren stores and returns it and never interprets it.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Lifecycle policy (idle timeout and action, auto-archive, auto-delete, TTL); absent fields
    /// take the server's defaults, `0` turns a rule off.
    #[serde(default)]
    pub lifecycle: crate::LifecyclePolicy,
    /// Egress policy (default: `outbound`). From a snapshot, absent means the snapshot's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::NetworkPolicy>,
    /// Ports the preview proxy serves without a token (default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ports: Option<Vec<u16>>,
}

impl CreateSandboxRequest {
    /// A request for `image` with every other field left to the server's defaults.
    pub fn new(image: impl Into<String>) -> Self {
        Self {
            image: image.into(),
            snapshot: None,
            cmd: None,
            env: BTreeMap::new(),
            cpu: None,
            memory_mb: None,
            pids_limit: None,
            workdir: None,
            user: None,
            disk_mb: None,
            labels: BTreeMap::new(),
            metadata: BTreeMap::new(),
            lifecycle: crate::LifecyclePolicy::default(),
            network: None,
            public_ports: None,
        }
    }
}

/// A sandbox's lifecycle state: `creating`, then `running`; `paused` (frozen, memory kept in RAM),
/// `hibernated` (memory on disk), `stopped` (processes gone, files kept), `archived` (in object
/// storage); `deleting`; `error` (broken: its `error` says why; delete always works).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SandboxState {
    /// Being created.
    Creating,
    /// Processes running.
    Running,
    /// Frozen in place; memory kept in RAM.
    Paused,
    /// Memory written to disk and released.
    Hibernated,
    /// Processes gone, filesystem kept.
    Stopped,
    /// Moved to object storage.
    Archived,
    /// Being deleted.
    Deleting,
    /// Broken; `error` says why. Delete always works.
    Error,
}

impl SandboxState {
    /// Wire name, e.g. `"running"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "creating",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Hibernated => "hibernated",
            Self::Stopped => "stopped",
            Self::Archived => "archived",
            Self::Deleting => "deleting",
            Self::Error => "error",
        }
    }
}

impl std::fmt::Display for SandboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sandbox as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sandbox {
    /// Identifier, e.g. `sb-3f9k2x7m`.
    pub id: String,
    /// Current state.
    pub state: SandboxState,
    /// The image reference it was created from.
    pub image: String,
    /// The image's manifest digest.
    pub image_digest: String,
    /// Main process, if any.
    pub cmd: Option<Vec<String>>,
    /// Environment given at creation (not the image's).
    pub env: BTreeMap<String, String>,
    /// CPU cores.
    pub cpu: f64,
    /// Memory limit in MiB.
    pub memory_mb: u64,
    /// Process limit.
    pub pids_limit: u32,
    /// Default working directory of commands, when set at creation (else the image's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// Default user of commands, when set at creation (else the image's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Disk quota in MiB (filesystem changes and logs).
    pub disk_mb: u64,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Caller's free-form data.
    pub metadata: BTreeMap<String, String>,
    /// Why the sandbox is in `error`, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Creation time (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last state change (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// The snapshot it was created from (lineage), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_snapshot: Option<String>,
    /// Its lifecycle policy; a rule that is `null` is off.
    #[serde(default)]
    pub lifecycle: crate::LifecyclePolicy,
    /// Last activity (API call, exec, file operation, terminal input) the daemon recorded
    /// (RFC 3339); idle timeouts count from it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_active_at: Option<OffsetDateTime>,
    /// A transfer to or from the archive in progress (while `archive`, or a `start`/`resume`
    /// of an archived sandbox, runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<ArchiveTransfer>,
    /// Its network: policy, public ports, address and preview access token.
    #[serde(default)]
    pub network: crate::SandboxNetwork,
}

/// Progress of a transfer to or from the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArchiveTransfer {
    /// `true`: to the archive; `false`: back from it.
    pub upload: bool,
    /// Bytes moved so far (compressed).
    pub done_bytes: u64,
    /// Total bytes, when known (downloads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_bytes: Option<u64>,
}

impl CreateSandboxRequest {
    /// A request for a sandbox made from `snapshot` (id or name), everything else as captured.
    pub fn from_snapshot(snapshot: impl Into<String>) -> Self {
        Self {
            snapshot: Some(snapshot.into()),
            ..Self::new("")
        }
    }
}

/// Answer to `GET /v1/sandboxes`: one page of sandboxes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SandboxList {
    /// Sandboxes on this page, oldest first.
    pub items: Vec<Sandbox>,
    /// Pass as `?cursor=` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Body of `PATCH /v1/sandboxes/{id}`: change what can change on a live sandbox. A field that is present
/// replaces the whole map (or policy); an absent field is left as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"labels": {"team": "ml", "stage": "review"}}))
)]
#[serde(deny_unknown_fields)]
pub struct UpdateSandboxRequest {
    /// New labels (same rules as at creation), replacing the old ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// New metadata (same rules as at creation), replacing the old one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// New lifecycle policy, replacing the old one (as at creation: absent fields take the
    /// server's defaults, `0` turns a rule off). Idle timers count from the last activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<crate::LifecyclePolicy>,
    /// New egress policy, in force at once (connections it no longer allows stop getting new
    /// packets through; established ones already allowed continue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::NetworkPolicy>,
    /// New list of public ports, replacing the old one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ports: Option<Vec<u16>>,
}
