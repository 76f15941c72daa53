//! The rows warren keeps, as plain data.

use std::collections::BTreeMap;
use std::str::FromStr;

/// A sandbox's lifecycle state. The transition rules live in `warren-core`;
/// this is only its persisted name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SandboxState {
    /// Being created.
    Creating,
    /// Processes running.
    Running,
    /// Frozen in place, memory in RAM.
    Paused,
    /// Memory on disk.
    Hibernated,
    /// Processes gone, filesystem kept.
    Stopped,
    /// In object storage.
    Archived,
    /// Being deleted.
    Deleting,
    /// Broken; see the sandbox's `error`.
    Error,
}

impl SandboxState {
    /// Every state, for exhaustive tests and filters.
    pub const ALL: [Self; 8] = [
        Self::Creating,
        Self::Running,
        Self::Paused,
        Self::Hibernated,
        Self::Stopped,
        Self::Archived,
        Self::Deleting,
        Self::Error,
    ];

    /// Persisted and wire name.
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

impl FromStr for SandboxState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown state {s:?}"))
    }
}

/// A sandbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxRecord {
    /// Creation order, assigned by the store on insert (ignored on insert).
    pub seq: i64,
    /// Sandbox id.
    pub id: String,
    /// Current state.
    pub state: SandboxState,
    /// Image reference as created.
    pub image_ref: String,
    /// Image manifest digest.
    pub image_digest: String,
    /// The sandbox's specification as JSON; its shape belongs to warren-core.
    pub spec: serde_json::Value,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Caller's free-form metadata.
    pub metadata: BTreeMap<String, String>,
    /// Reason for `Error`.
    pub error: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of the last state change.
    pub updated_at: i64,
    /// The snapshot it was created from, if any (lineage; keeps that snapshot alive).
    pub parent_snapshot: Option<String>,
    /// Unix milliseconds of the last activity recorded (idle policies); `None`: none yet.
    pub last_active_at: Option<i64>,
}

/// A snapshot's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnapshotState {
    /// Being captured; not usable, invisible after a crash (removed at startup).
    Creating,
    /// Complete and immutable.
    Ready,
    /// Being deleted.
    Deleting,
    /// In object storage (its local files removed); fetched back when used.
    Archived,
}

impl SnapshotState {
    /// Every state.
    pub const ALL: [Self; 4] = [Self::Creating, Self::Ready, Self::Deleting, Self::Archived];

    /// Persisted and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "creating",
            Self::Ready => "ready",
            Self::Deleting => "deleting",
            Self::Archived => "archived",
        }
    }
}

impl std::fmt::Display for SnapshotState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SnapshotState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown snapshot state {s:?}"))
    }
}

/// A snapshot row.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRecord {
    /// Creation order (assigned on insert).
    pub seq: i64,
    /// Snapshot id.
    pub id: String,
    /// Optional unique name.
    pub name: Option<String>,
    /// State.
    pub state: SnapshotState,
    /// The sandbox it was captured from.
    pub source_sandbox: Option<String>,
    /// The snapshot that sandbox was created from, if any.
    pub parent_snapshot: Option<String>,
    /// Image reference of the source.
    pub image_ref: String,
    /// Image manifest digest of the source.
    pub image_digest: String,
    /// Processes captured too.
    pub memory: bool,
    /// Specification as JSON; its shape belongs to warren-core.
    pub spec: serde_json::Value,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Bytes of the filesystem layer.
    pub fs_bytes: u64,
    /// Bytes of the memory image.
    pub memory_bytes: u64,
    /// How long the source was frozen, in microseconds.
    pub paused_us: u64,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// What depends on a snapshot: it cannot be deleted while any does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotDependents {
    /// Sandboxes created from it.
    pub sandboxes: Vec<String>,
    /// Snapshots stacked on it (taken from sandboxes created from it).
    pub snapshots: Vec<String>,
}

impl SnapshotDependents {
    /// Nothing depends on it.
    pub fn is_empty(&self) -> bool {
        self.sandboxes.is_empty() && self.snapshots.is_empty()
    }
}

/// Which sandboxes a listing keeps; every given condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxFilter {
    /// Only sandboxes in this state.
    pub state: Option<SandboxState>,
    /// Only sandboxes created from this image reference (as stored).
    pub image: Option<String>,
    /// Only sandboxes carrying every one of these labels with these values.
    pub labels: Vec<(String, String)>,
}

/// A change of a sandbox's labels, metadata and/or spec; `None` leaves that field as it is.
#[derive(Debug, Clone)]
pub struct SandboxUpdate {
    /// Sandbox id.
    pub id: String,
    /// New labels.
    pub labels: Option<BTreeMap<String, String>>,
    /// New metadata.
    pub metadata: Option<BTreeMap<String, String>>,
    /// New spec (its shape belongs to warren-core).
    pub spec: Option<serde_json::Value>,
    /// Event to append in the same transaction.
    pub event: NewEvent,
}

/// A state change plus the event that records it.
#[derive(Debug, Clone)]
pub struct Transition {
    /// Sandbox id.
    pub id: String,
    /// Required current state; `None` accepts any.
    pub from: Option<SandboxState>,
    /// New state.
    pub to: SandboxState,
    /// Error reason to store (cleared when `None`).
    pub error: Option<String>,
    /// Unix milliseconds.
    pub at: i64,
    /// Event to append in the same transaction.
    pub event: NewEvent,
}

/// An event to record.
#[derive(Debug, Clone, Default)]
pub struct NewEvent {
    /// Unix milliseconds.
    pub at: i64,
    /// Sandbox concerned, if any.
    pub sandbox_id: Option<String>,
    /// What happened, e.g. `sandbox.create`.
    pub action: String,
    /// State before.
    pub from_state: Option<SandboxState>,
    /// State after.
    pub to_state: Option<SandboxState>,
    /// Who did it (API key name, `reconciler`, ...).
    pub actor: Option<String>,
    /// `true` when the action succeeded.
    pub ok: bool,
    /// Error message or reason.
    pub message: Option<String>,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Order of recording.
    pub seq: i64,
    /// Unix milliseconds.
    pub at: i64,
    /// Sandbox concerned.
    pub sandbox_id: Option<String>,
    /// What happened.
    pub action: String,
    /// State before.
    pub from_state: Option<SandboxState>,
    /// State after.
    pub to_state: Option<SandboxState>,
    /// Who did it.
    pub actor: Option<String>,
    /// Whether it succeeded.
    pub ok: bool,
    /// Error message or reason.
    pub message: Option<String>,
}

/// An API key as stored: never the key itself.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Key id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// sha256 hex of the key.
    pub hash: String,
    /// First characters of the key, for recognising it.
    pub prefix: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds, when revoked.
    pub revoked_at: Option<i64>,
    /// What the key may do: `read` or `full` (the store does not interpret it).
    pub scope: String,
    /// Unix milliseconds after which the key no longer authenticates.
    pub expires_at: Option<i64>,
}

/// A public key registered for the SSH gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKeyRecord {
    /// Key id.
    pub id: String,
    /// Human name; recorded (as `ssh:<name>`) as the actor of what the key does.
    pub name: String,
    /// OpenSSH fingerprint, `SHA256:<base64 without padding>`.
    pub fingerprint: String,
    /// `<algorithm> <base64>` (the comment is kept apart).
    pub public_key: String,
    /// The comment of the registered line (often `user@host`); may be empty.
    pub comment: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// Which events to return from [`crate::Store::query_events`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Only events about this sandbox.
    pub sandbox_id: Option<String>,
    /// Only events whose action starts with this, e.g. `sandbox.` or `sandbox.create`.
    pub action_prefix: Option<String>,
    /// Only events with `seq > after`, oldest first. `None`: the newest
    /// `limit` events (still oldest first).
    pub after: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

impl std::fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .field("created_at", &self.created_at)
            .field("revoked_at", &self.revoked_at)
            .field("scope", &self.scope)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip() {
        for st in SandboxState::ALL {
            assert_eq!(st.as_str().parse::<SandboxState>().unwrap(), st);
        }
        assert!("runing".parse::<SandboxState>().is_err());
    }
}
