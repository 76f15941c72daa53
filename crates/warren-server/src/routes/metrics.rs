//! Metrics: one sandbox's resource use (JSON) and the daemon's Prometheus
//! exposition (`GET /v1/metrics`, text format 0.0.4).

use std::fmt::Write;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use warren_api_types as api;

use crate::convert::time_from_ms;
use crate::http_metrics::{self, label};
use crate::openapi::{Internal, RateLimited, SANDBOX_ID, SandboxNotFound, Unauthorized};
use crate::{ApiError, AppState};

/// `/metrics` and `/sandboxes/{id}/metrics`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(prometheus))
        .route("/sandboxes/{id}/metrics", get(sandbox_metrics))
}

/// The OpenAPI operations of [`routes`], and of `/metrics` (see `routes::prometheus`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(sandbox_metrics, prometheus, prometheus_unversioned))]
pub(crate) struct Api;

/// Description of the Prometheus exposition.
const EXPOSITION: &str = "The Prometheus text exposition (format 0.0.4): `warren_build_info`, \
    `warren_sandboxes` by state, per-sandbox gauges of the last sample \
    (`warren_sandbox_cpu_percent`, `warren_sandbox_memory_bytes`, `warren_sandbox_pids`, \
    `warren_sandbox_disk_bytes`), and request counters and latency histograms of the API by \
    route template, method and status.";

fn sample(s: warren_core::MetricsSample) -> api::MetricsSample {
    api::MetricsSample {
        at: time_from_ms(s.at_ms),
        cpu_percent: s.cpu_percent,
        memory_bytes: s.memory_bytes,
        memory_limit_bytes: s.memory_limit_bytes,
        pids: s.pids,
        pids_limit: s.pids_limit,
        disk_bytes: s.disk_bytes,
    }
}

/// Get a sandbox's resource use
///
/// A reading taken now, and the samples of the last 10 minutes (one every 5 s).
#[utoipa::path(
    get,
    path = "/v1/sandboxes/{id}/metrics",
    tag = "metrics",
    operation_id = "sandbox_metrics",
    params(("id" = String, Path, description = SANDBOX_ID)),
    responses(
        (status = 200, description = "The current reading and its history.",
            body = api::SandboxMetrics),
        (status = 401, response = Unauthorized),
        (status = 404, response = SandboxNotFound),
        (status = 409, description = "`conflict`: the sandbox is neither running nor paused.",
            body = api::ErrorBody),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn sandbox_metrics(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<api::SandboxMetrics>, ApiError> {
    let m = st.core.sandbox_metrics(&id).await?;
    Ok(axum::Json(api::SandboxMetrics {
        current: sample(m.current),
        history: m.history.into_iter().map(sample).collect(),
    }))
}

/// Reads one gauge's value from a sample (`None`: not measured yet).
type Gauge = fn(&warren_core::MetricsSample) -> Option<f64>;

/// Get Prometheus metrics
///
/// The daemon's metrics for a Prometheus scraper (configure it with the API key as a bearer
/// token). `GET /metrics` answers the same.
#[utoipa::path(
    get,
    path = "/v1/metrics",
    tag = "metrics",
    operation_id = "prometheus_metrics",
    responses(
        (status = 200, description = EXPOSITION, body = String,
            content_type = "text/plain; version=0.0.4; charset=utf-8",
            example = "# HELP warren_sandboxes Sandboxes by state.\n# TYPE warren_sandboxes gauge\n\
                warren_sandboxes{state=\"running\"} 3\n"),
        (status = 401, response = Unauthorized),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn prometheus(State(st): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let mut out = String::new();
    out.push_str(
        "# HELP warren_build_info The running warren's version.\n# TYPE warren_build_info gauge\n",
    );
    let _ = writeln!(
        out,
        "warren_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    out.push_str("# HELP warren_sandboxes Sandboxes by state.\n# TYPE warren_sandboxes gauge\n");
    for (state, n) in st.core.sandbox_counts().await? {
        let _ = writeln!(out, "warren_sandboxes{{state=\"{}\"}} {n}", state.as_str());
    }
    let samples = st.core.latest_samples();
    let gauges: [(&str, &str, Gauge); 4] = [
        (
            "warren_sandbox_cpu_percent",
            "CPU use in percent of one core, last sample.",
            |s| Some(s.cpu_percent),
        ),
        (
            "warren_sandbox_memory_bytes",
            "Memory charged to the sandbox, last sample.",
            |s| Some(s.memory_bytes as f64),
        ),
        (
            "warren_sandbox_pids",
            "Processes and threads, last sample.",
            |s| Some(s.pids as f64),
        ),
        (
            "warren_sandbox_disk_bytes",
            "Bytes in the sandbox's writable layer.",
            |s| s.disk_bytes.map(|d| d as f64),
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (id, s) in &samples {
            if let Some(v) = value(s) {
                let _ = writeln!(out, "{name}{{sandbox=\"{}\"}} {v}", label(id));
            }
        }
    }
    http_metrics::render(&mut out);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    ))
}

/// Get Prometheus metrics (unversioned path)
///
/// The same exposition as `GET /v1/metrics`, at the path Prometheus scrapers expect by default,
/// behind the same API key.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "metrics",
    operation_id = "prometheus_metrics_unversioned",
    responses(
        (status = 200, description = EXPOSITION, body = String,
            content_type = "text/plain; version=0.0.4; charset=utf-8"),
        (status = 401, response = Unauthorized),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn prometheus_unversioned(
    st: State<AppState>,
) -> Result<impl IntoResponse, ApiError> {
    prometheus(st).await
}
