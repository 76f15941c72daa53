//! Route table.
//!
//! Each resource module contributes its routes (`routes()`) and, next to them, their OpenAPI
//! operations (`Api`); [`openapi`] collects the latter. `tests/openapi.rs` checks that both
//! lists name the same routes.

mod docs;
mod events;
mod files;
mod health;
mod host;
mod images;
mod keys;
mod lifecycle;
mod logs;
mod metrics;
mod ports;
mod process_stream;
mod processes;
mod sandboxes;
mod snapshots;
mod ssh_keys;
mod terminal;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::AppState;

/// Largest JSON request body.
const MAX_JSON_BODY: usize = 1024 * 1024;

/// Every route, in two groups. [`crate::router`] puts the API key check on `authenticated` and
/// adds the state and the fallbacks; `tests/openapi.rs` compares the table with the OpenAPI
/// document (through [`crate::route_table`]).
pub(crate) struct Table {
    /// Routes that need no API key: liveness and the API's documentation.
    pub(crate) public: Router<AppState>,
    /// Everything else.
    pub(crate) authenticated: Router<AppState>,
}

pub(crate) fn table() -> Table {
    Table {
        public: Router::new()
            .route("/healthz", get(health::healthz))
            .merge(docs::routes()),
        // Prometheus scrapers expect `/metrics`; it is the same exposition as `/v1/metrics`.
        authenticated: Router::new()
            .route("/metrics", get(metrics::prometheus_unversioned))
            .nest("/v1", v1()),
    }
}

/// The OpenAPI operations of every route, from each module's `Api`.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi as _;
    let mut doc = health::Api::openapi();
    for part in [
        docs::Api::openapi(),
        sandboxes::Api::openapi(),
        images::Api::openapi(),
        files::Api::openapi(),
        keys::Api::openapi(),
        ssh_keys::Api::openapi(),
        events::Api::openapi(),
        processes::Api::openapi(),
        terminal::Api::openapi(),
        metrics::Api::openapi(),
        logs::Api::openapi(),
        lifecycle::Api::openapi(),
        snapshots::Api::openapi(),
        ports::Api::openapi(),
        host::Api::openapi(),
    ] {
        doc.merge(part);
    }
    doc
}

/// The authenticated `/v1` API: each resource module contributes its routes.
pub(crate) fn v1() -> Router<AppState> {
    Router::new()
        .merge(sandboxes::routes())
        .merge(lifecycle::routes())
        .merge(snapshots::routes())
        .merge(images::routes())
        .merge(files::routes())
        .merge(keys::routes())
        .merge(ssh_keys::routes())
        .merge(events::routes())
        .merge(processes::routes())
        .merge(terminal::routes())
        .merge(metrics::routes())
        .merge(logs::routes())
        .merge(ports::routes())
        .merge(host::routes())
        .route_layer(axum::middleware::from_fn(crate::http_metrics::track))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
}
