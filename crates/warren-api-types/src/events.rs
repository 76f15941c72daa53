//! Events: `/v1/events` and the live `/v1/events/stream`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::SandboxState;

/// Whether the recorded action succeeded: `ok`, or `error` (then `message` says why).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventResult {
    /// It succeeded.
    Ok,
    /// It failed; `message` says why.
    Error,
}

/// Something that happened: a state change or an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// Order of recording; strictly increasing. Use it as the `after` cursor.
    pub seq: i64,
    /// When (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The sandbox concerned, if any.
    pub sandbox_id: Option<String>,
    /// What happened, e.g. `sandbox.create`, `sandbox.started`,
    /// `sandbox.deleted`, `key.create`, `key.revoke`.
    pub action: String,
    /// State before, for state changes.
    pub from_state: Option<SandboxState>,
    /// State after, for state changes.
    pub to_state: Option<SandboxState>,
    /// Who did it: an API key's name, or `reconciler`.
    pub actor: Option<String>,
    /// Whether it succeeded.
    pub result: EventResult,
    /// Error or explanation.
    pub message: Option<String>,
}

/// Answer to `GET /v1/events`: one page of events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventList {
    /// Events, oldest first.
    pub items: Vec<Event>,
    /// Pass as `after` for the next page; `null` when this page is the last
    /// one (or when `after` was not given: the newest events were asked for).
    pub next_cursor: Option<String>,
}
