//! warren's HTTP front door: the REST API under `/v1`, `/healthz`, and the API's
//! documentation (`/v1/openapi.json`, Swagger UI at `/docs`; see [`openapi`]).
//!
//! Handlers are thin: they parse a request into a `warren-core` call and turn
//! its result into JSON. Every error, including unknown routes, wrong
//! methods and malformed bodies, is `{"error": {"code", "message"}}` with a
//! stable code (see [`warren_api_types::ErrorCode`]). Every route except
//! `/healthz`, `/v1/openapi.json` and `/docs` needs `Authorization: Bearer <api key>`.
//! `/mcp` serves warren's MCP tools to AI agents (see `mcp`).
#![forbid(unsafe_code)]

mod auth;
mod convert;
mod e2b;
mod error;
mod http_metrics;
mod json;
mod mcp;
pub mod openapi;
mod proxy;
mod rate_limit;
mod routes;
mod scope;
mod ui;

use std::path::PathBuf;

use axum::Router;
use axum::middleware;
use warren_core::Core;

pub use e2b::{BadAlias, E2bConfig, spawn_e2b_timeouts};
pub use error::ApiError;
pub use rate_limit::{RateLimit, RateLimiter};
pub use ui::Sessions;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The domain service.
    pub core: Core,
    /// Where uploads (image archives) are spooled before import.
    pub tmp_dir: PathBuf,
    /// Per-API-key request rate limits.
    pub rate_limiter: RateLimiter,
    /// The domain of preview host names: `<port>-<sandbox id>.<domain>` (default
    /// `localhost`).
    pub preview_domain: String,
    /// The web dashboard's signed-in sessions (see `ui::session`).
    pub sessions: Sessions,
    /// E2B templates: the alias table and the image of `base` (see `docs/e2b.md`).
    pub e2b: E2bConfig,
}

/// The whole API as one router.
pub fn router(state: AppState) -> Router {
    let routes = routes::table();
    let authenticated = middleware::from_fn_with_state(state.clone(), auth::require_api_key);
    Router::new()
        .merge(routes.public)
        .merge(routes.authenticated.route_layer(authenticated))
        .merge(mcp::routes(state.clone()))
        .merge(ui::routes())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            proxy::intercept,
        ))
        .layer(middleware::from_fn_with_state(
            e2b::Front::new(state.clone()),
            e2b::intercept,
        ))
        .with_state(state)
}

/// The route table of [`router`] as axum describes it (its `Debug` output), in the two groups
/// of `routes::Table`: for the test that checks that the OpenAPI document names every route and
/// says truly which need an API key (`tests/openapi.rs`). Not an API.
#[doc(hidden)]
#[derive(Debug)]
pub struct RouteTable {
    /// `Debug` of the routes that need no API key.
    pub public: String,
    /// `Debug` of the routes behind the API key.
    pub authenticated: String,
}

/// See [`RouteTable`].
#[doc(hidden)]
pub fn route_table() -> RouteTable {
    let routes = routes::table();
    RouteTable {
        public: format!("{:?}", routes.public),
        authenticated: format!("{:?}", routes.authenticated),
    }
}
