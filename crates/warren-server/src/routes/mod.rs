//! Route table.

mod events;
mod files;
mod health;
mod images;
mod keys;
mod metrics;
mod process_stream;
mod processes;
mod sandboxes;
mod terminal;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::AppState;

/// Largest JSON request body.
const MAX_JSON_BODY: usize = 1024 * 1024;

/// Routes that need no API key.
pub(crate) fn health() -> Router<AppState> {
    Router::new().route("/healthz", get(health::healthz))
}

/// Prometheus scrapers expect `/metrics`; it is the same exposition as `/v1/metrics`, behind the
/// same API key.
pub(crate) fn prometheus() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics::prometheus))
}

/// The authenticated `/v1` API: each resource module contributes its routes.
pub(crate) fn v1() -> Router<AppState> {
    Router::new()
        .merge(sandboxes::routes())
        .merge(images::routes())
        .merge(files::routes())
        .merge(keys::routes())
        .merge(events::routes())
        .merge(processes::routes())
        .merge(terminal::routes())
        .merge(metrics::routes())
        .route_layer(axum::middleware::from_fn(crate::http_metrics::track))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
}
