//! warren's HTTP front door: the REST API under `/v1`, and `/healthz`.
//!
//! Handlers are thin: they parse a request into a `warren-core` call and turn
//! its result into JSON. Every error, including unknown routes, wrong
//! methods and malformed bodies, is `{"error": {"code", "message"}}` with a
//! stable code (see [`warren_api_types::ErrorCode`]). Every route except
//! `/healthz` needs `Authorization: Bearer <api key>`.
#![forbid(unsafe_code)]

mod auth;
mod convert;
mod error;
mod http_metrics;
mod json;
mod rate_limit;
mod routes;
mod scope;

use std::path::PathBuf;

use axum::Router;
use axum::middleware;
use warren_core::Core;

pub use error::ApiError;
pub use rate_limit::{RateLimit, RateLimiter};

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The domain service.
    pub core: Core,
    /// Where uploads (image archives) are spooled before import.
    pub tmp_dir: PathBuf,
    /// Per-API-key request rate limits.
    pub rate_limiter: RateLimiter,
}

/// The whole API as one router.
pub fn router(state: AppState) -> Router {
    let authenticated = || middleware::from_fn_with_state(state.clone(), auth::require_api_key);
    let v1 = routes::v1().route_layer(authenticated());
    Router::new()
        .merge(routes::health())
        .merge(routes::prometheus().route_layer(authenticated()))
        .nest("/v1", v1)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
}
