//! Compact views of the API's objects for tool results: what an agent acts on, without the
//! fields that only fill its context.

use std::collections::BTreeMap;

use serde::Serialize;
use warren_api_types::{Sandbox, SandboxState};

/// A sandbox, briefly.
#[derive(Debug, Serialize)]
pub(crate) struct SandboxView {
    /// Identifier: what every other tool takes as `sandbox_id`.
    pub id: String,
    /// State.
    pub state: SandboxState,
    /// Image reference.
    pub image: String,
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The snapshot it was created from, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_snapshot: Option<String>,
    /// Why it is in `error`, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Creation time, RFC 3339.
    pub created_at: String,
}

impl From<Sandbox> for SandboxView {
    fn from(s: Sandbox) -> Self {
        let created_at = s
            .created_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        Self {
            id: s.id,
            state: s.state,
            image: s.image,
            labels: s.labels,
            parent_snapshot: s.parent_snapshot,
            error: s.error,
            created_at,
        }
    }
}

/// A list of sandboxes (tool results must be JSON objects).
#[derive(Debug, Serialize)]
pub(crate) struct SandboxList {
    /// The sandboxes, oldest first.
    pub sandboxes: Vec<SandboxView>,
}

/// The answer of `delete_sandbox`.
#[derive(Debug, Serialize)]
pub(crate) struct Deleted {
    /// The deleted sandbox.
    pub deleted: String,
}

/// The answer of `branch_sandbox`.
#[derive(Debug, Serialize)]
pub(crate) struct Branched {
    /// The memory snapshot the branches continue from.
    pub snapshot: String,
    /// The new sandboxes.
    pub sandboxes: Vec<SandboxView>,
}
