//! `GET /v1/host`: the host's version, capacity and `warren doctor` checks (the dashboard's host
//! page). The checks run commands (`runc --version`, `criu check`, ...), so their result is
//! kept for [`CHECKS_TTL`]; the capacity is read on every call.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use warren_api_types::{ErrorCode, HostCheck, HostCheckStatus, HostInfo};
use warren_core::doctor::{self, Report, Status};
use warren_core::host;

use crate::openapi::{Internal, RateLimited, Unauthorized};
use crate::{ApiError, AppState};

/// How long a doctor report is reused.
const CHECKS_TTL: Duration = Duration::from_secs(60);

/// `/host`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/host", get(host_info))
}

/// The OpenAPI operations of [`routes`].
#[derive(utoipa::OpenApi)]
#[openapi(paths(host_info))]
pub(crate) struct Api;

/// The last report and when it was made.
static CHECKS: Mutex<Option<(Instant, Report)>> = Mutex::new(None);

fn checks() -> Report {
    let mut cached = CHECKS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((at, report)) = cached.as_ref()
        && at.elapsed() < CHECKS_TTL
    {
        return report.clone();
    }
    let report = doctor::probe();
    *cached = Some((Instant::now(), report.clone()));
    report
}

/// Describe the host
///
/// The daemon's version, the kernel, CPUs, memory, the state directory's file system, how many
/// sandboxes exist, and the checks `warren doctor` runs (each with what was found and how to
/// fix it). The checks are cached for a minute.
#[utoipa::path(
    get,
    path = "/v1/host",
    tag = "system",
    operation_id = "host",
    responses(
        (status = 200, description = "The host.", body = HostInfo),
        (status = 401, response = Unauthorized),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn host_info(State(st): State<AppState>) -> Result<Json<HostInfo>, ApiError> {
    let dir = st.tmp_dir.clone();
    let (report, cap) = tokio::task::spawn_blocking(move || (checks(), host::capacity(&dir)))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("host probe failed: {e}")))?;
    let sandboxes = st.core.sandbox_counts().await?.iter().map(|(_, n)| n).sum();
    Ok(Json(HostInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        kernel: cap.kernel,
        cpus: u32::try_from(cap.cpus).unwrap_or(u32::MAX),
        memory_total_bytes: cap.memory_total_bytes,
        memory_available_bytes: cap.memory_available_bytes,
        disk_total_bytes: cap.disk_total_bytes,
        disk_available_bytes: cap.disk_available_bytes,
        sandboxes,
        can_run_sandboxes: report.can_run_sandboxes(),
        checks: report
            .checks
            .into_iter()
            .map(|c| HostCheck {
                name: c.name.to_owned(),
                status: match c.status {
                    Status::Ok => HostCheckStatus::Ok,
                    Status::Warn => HostCheckStatus::Warn,
                    Status::Fail => HostCheckStatus::Fail,
                },
                detail: c.detail,
                fix: c.fix,
                required: c.required,
            })
            .collect(),
    }))
}
