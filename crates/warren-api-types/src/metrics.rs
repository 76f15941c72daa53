//! Resource metrics of a sandbox: `GET /v1/sandboxes/{id}/metrics`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One reading of a sandbox's resource use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricsSample {
    /// When it was taken (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// CPU use since the previous reading, in percent of one core (200 = two cores busy).
    pub cpu_percent: f64,
    /// Memory charged to the sandbox (page cache included), bytes.
    pub memory_bytes: u64,
    /// Memory limit, bytes; `null` when unlimited.
    pub memory_limit_bytes: Option<u64>,
    /// Processes and threads.
    pub pids: u64,
    /// Process limit; `null` when unlimited.
    pub pids_limit: Option<u64>,
    /// Bytes written to the sandbox's filesystem (its writable layer), measured every 30 s;
    /// `null` until the first measurement.
    pub disk_bytes: Option<u64>,
}

/// Answer to `GET /v1/sandboxes/{id}/metrics`: a sandbox's resource use now and over the last
/// 10 minutes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SandboxMetrics {
    /// Taken when the request arrived.
    pub current: MetricsSample,
    /// Samples of the last 10 minutes (one every 5 s), oldest first.
    pub history: Vec<MetricsSample>,
}
