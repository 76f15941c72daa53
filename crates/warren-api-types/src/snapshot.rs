//! Snapshots and branches: `/v1/snapshots`, `/v1/sandboxes/{id}/snapshot`,
//! `/v1/sandboxes/{id}/branch`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Sandbox;

/// Body of `POST /v1/sandboxes/{id}/snapshot`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"memory": true, "name": "after-setup", "labels": {"stage": "ready"}}))
)]
#[serde(deny_unknown_fields)]
pub struct CreateSnapshotRequest {
    /// Capture every process (memory, open files, listening sockets) too, not only the files:
    /// sandboxes made from it continue from the captured instant. Default false.
    #[serde(default)]
    pub memory: bool,
    /// A unique name to use instead of the id: 1-63 characters of `[a-z0-9._-]`, starting with
    /// a letter or digit, not starting with `snap-`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Labels (same rules as sandboxes').
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A snapshot's state: `creating` (being captured), `ready` (immutable, usable), `archived` (in
/// object storage; fetched back when a sandbox is created from it), `deleting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SnapshotState {
    /// Being captured.
    Creating,
    /// Complete and immutable.
    Ready,
    /// Being deleted.
    Deleting,
    /// In object storage.
    Archived,
}

/// An immutable capture of a sandbox: its filesystem changes and, with `memory`, its processes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Snapshot {
    /// Identifier, e.g. `snap-3f9k2x7m1q`.
    pub id: String,
    /// Unique name, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// State.
    pub state: SnapshotState,
    /// The sandbox it was taken from (lineage; it may have been deleted since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sandbox: Option<String>,
    /// The snapshot that sandbox was created from (lineage), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_snapshot: Option<String>,
    /// Image reference of the source.
    pub image: String,
    /// Image manifest digest of the source.
    pub image_digest: String,
    /// Processes captured too.
    pub memory: bool,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Bytes on disk of its filesystem layer.
    pub fs_bytes: u64,
    /// Bytes on disk of its memory image (0 without memory).
    pub memory_bytes: u64,
    /// How long the source's processes were frozen for the capture, in milliseconds.
    pub paused_ms: f64,
    /// Snapshots in its layer chain, itself included (1 for a snapshot of a sandbox made from
    /// an image).
    pub depth: u32,
    /// Creation time (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Answer to `GET /v1/snapshots`: one page of snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotList {
    /// Snapshots on this page, oldest first.
    pub items: Vec<Snapshot>,
    /// Pass as `?cursor=` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Body of `POST /v1/sandboxes/{id}/branch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"count": 3})))]
#[serde(deny_unknown_fields)]
pub struct BranchRequest {
    /// How many copies (1..=32).
    pub count: u32,
}

/// Answer to `POST /v1/sandboxes/{id}/branch`: the memory snapshot taken, and the new running
/// sandboxes that each continue from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BranchResponse {
    /// The snapshot the branches were made from.
    pub snapshot: Snapshot,
    /// The new sandboxes, each with its own id and hostname.
    pub sandboxes: Vec<Sandbox>,
}
