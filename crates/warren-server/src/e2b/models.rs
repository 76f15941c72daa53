//! The JSON of E2B's control plane (field names as E2B's OpenAPI document and SDKs spell them).
//! Requests accept fields warren does not use (the SDKs send more than every server needs);
//! fields whose request warren cannot honour are refused by the handlers with a 400.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `POST /sandboxes` (`/v2/sandboxes`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewSandbox {
    /// Template id or alias: a warren image, snapshot, or alias (see the template table).
    #[serde(rename = "templateID")]
    pub(crate) template_id: String,
    /// Seconds until the sandbox ends (default 300).
    pub(crate) timeout: Option<u64>,
    /// At its end time: hibernate (true) instead of kill.
    #[serde(default)]
    pub(crate) auto_pause: Option<bool>,
    /// Caller's metadata.
    #[serde(default)]
    pub(crate) metadata: Option<BTreeMap<String, String>>,
    /// Environment of every command.
    #[serde(default)]
    pub(crate) env_vars: Option<BTreeMap<String, String>>,
    /// False: no outbound network.
    #[serde(rename = "allow_internet_access", default)]
    pub(crate) allow_internet_access: Option<bool>,
    /// MCP gateway (not supported).
    #[serde(default)]
    pub(crate) mcp: Option<serde_json::Value>,
    /// Volume mounts (not supported).
    #[serde(default)]
    pub(crate) volume_mounts: Option<Vec<serde_json::Value>>,
}

/// `{timeout}` of connect, resume and set-timeout.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TimeoutBody {
    /// Seconds from now.
    pub(crate) timeout: Option<u64>,
    /// Legacy resume: whether to auto-pause.
    #[serde(default)]
    pub(crate) auto_pause: Option<bool>,
}

/// `POST /sandboxes/{id}/refreshes`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RefreshBody {
    /// Seconds from now.
    pub(crate) duration: Option<u64>,
}

/// `POST /sandboxes/{id}/fork`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ForkBody {
    /// Seconds each fork lives.
    pub(crate) timeout: Option<u64>,
    /// How many forks (default 1).
    pub(crate) count: Option<u32>,
}

/// `POST /sandboxes/{id}/snapshots`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SnapshotBody {
    /// A name for the snapshot.
    pub(crate) name: Option<String>,
    /// Capture memory too (default true).
    pub(crate) memory: Option<bool>,
}

/// A created, connected or resumed sandbox: what the SDK needs to reach it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SandboxCreated {
    #[serde(rename = "templateID")]
    pub(crate) template_id: String,
    #[serde(rename = "sandboxID")]
    pub(crate) sandbox_id: String,
    #[serde(rename = "clientID")]
    pub(crate) client_id: &'static str,
    pub(crate) envd_version: &'static str,
    pub(crate) envd_access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) domain: Option<String>,
}

/// `GET /sandboxes/{id}` and one item of the list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SandboxDetail {
    #[serde(rename = "templateID")]
    pub(crate) template_id: String,
    #[serde(rename = "sandboxID")]
    pub(crate) sandbox_id: String,
    #[serde(rename = "clientID")]
    pub(crate) client_id: &'static str,
    /// RFC 3339.
    pub(crate) started_at: String,
    /// RFC 3339.
    pub(crate) end_at: String,
    pub(crate) envd_version: &'static str,
    /// Only in the detail, not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) envd_access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) domain: Option<String>,
    pub(crate) cpu_count: u32,
    #[serde(rename = "memoryMB")]
    pub(crate) memory_mb: u64,
    #[serde(rename = "diskSizeMB")]
    pub(crate) disk_size_mb: u64,
    pub(crate) metadata: BTreeMap<String, String>,
    /// `running` or `paused`.
    pub(crate) state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) allow_internet_access: Option<bool>,
}

/// One metrics sample.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Metric {
    /// RFC 3339.
    pub(crate) timestamp: String,
    pub(crate) timestamp_unix: i64,
    pub(crate) cpu_count: u32,
    pub(crate) cpu_used_pct: f64,
    pub(crate) mem_used: u64,
    pub(crate) mem_total: u64,
    pub(crate) mem_cache: u64,
    pub(crate) disk_used: u64,
    pub(crate) disk_total: u64,
}

/// One result of a fork: a sandbox or an error.
#[derive(Debug, Serialize)]
pub(crate) struct ForkResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sandbox: Option<SandboxCreated>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<ForkError>,
}

/// The error of one fork.
#[derive(Debug, Serialize)]
pub(crate) struct ForkError {
    pub(crate) code: u16,
    pub(crate) message: String,
}

/// A snapshot as E2B describes it.
#[derive(Debug, Serialize)]
pub(crate) struct SnapshotInfo {
    #[serde(rename = "snapshotID")]
    pub(crate) snapshot_id: String,
    pub(crate) names: Vec<String>,
}
