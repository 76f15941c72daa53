//! Route table.

mod health;
mod images;
mod sandboxes;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::AppState;

/// Largest JSON request body.
const MAX_JSON_BODY: usize = 1024 * 1024;

/// Routes that need no API key.
pub(crate) fn health() -> Router<AppState> {
    Router::new().route("/healthz", get(health::healthz))
}

/// The authenticated `/v1` API.
pub(crate) fn v1() -> Router<AppState> {
    Router::new()
        .route("/sandboxes", post(sandboxes::create).get(sandboxes::list))
        .route(
            "/sandboxes/{id}",
            get(sandboxes::get).delete(sandboxes::delete),
        )
        .route("/sandboxes/{id}/exec", post(sandboxes::exec))
        .route(
            "/sandboxes/{id}/files",
            get(sandboxes::read_file)
                .put(sandboxes::write_file)
                .layer(DefaultBodyLimit::max(warren_core::MAX_FILE_BYTES)),
        )
        .route("/images", get(images::list))
        .route("/images/pull", post(images::pull))
        .route(
            "/images/import",
            post(images::import).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/images/{*reference}",
            get(images::get).delete(images::remove),
        )
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
}
