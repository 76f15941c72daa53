//! A drop-in backend for the unmodified E2B SDKs (Python `e2b`, JavaScript `e2b`).
//!
//! Two doors, both on the daemon's own address (see docs/e2b.md):
//!
//! 1. The control plane under `/e2b` — `E2B_API_URL=http://HOST:PORT/e2b` — with both the
//!    `/v2/...` and the unversioned routes: create, connect, pause, kill, timeout, info, list,
//!    metrics, fork, snapshots. The API key is a warren key in `X-API-KEY`. Every error,
//!    unknown routes included, is `{"code": <status>, "message"}`.
//! 2. The sandbox side — `E2B_SANDBOX_URL=http://HOST:PORT` — routed by the `E2b-Sandbox-Id` /
//!    `E2b-Sandbox-Port` headers the SDKs send with every call (see [`envd`]), or by a
//!    `49983-<id>.<preview domain>` host name.
//!
//! The layer sits outside the rest of the router: requests for neither door pass through.
//! E2B's notion of a sandbox's end time lives in labels on the sandbox ([`labels`]); a loop
//! ends sandboxes at that time ([`timeouts`]).

mod auth;
mod body;
mod envd;
mod error;
mod extras;
mod labels;
mod lifecycle;
mod list;
mod models;
mod sandboxes;
mod templates;
mod timeouts;
mod view;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post};
use tower::ServiceExt as _;

pub use templates::{BadAlias, E2bConfig};
pub use timeouts::spawn_e2b_timeouts;

use crate::AppState;

/// Where the control plane is served.
const PREFIX: &str = "/e2b";

/// The E2B front door: its router and the daemon's state. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Front {
    state: AppState,
    api: Router,
}

impl Front {
    /// The front door over `state`.
    pub(crate) fn new(state: AppState) -> Self {
        let api = Router::new()
            .nest(PREFIX, control_plane(state.clone()))
            .fallback(error::not_found)
            .method_not_allowed_fallback(error::method_not_allowed)
            .with_state(state.clone());
        Self { state, api }
    }
}

/// The control plane's routes, each also under `/v2`.
fn control_plane(state: AppState) -> Router<AppState> {
    let routes = Router::new()
        .route("/sandboxes", post(sandboxes::create).get(list::list))
        .route(
            "/sandboxes/{id}",
            get(sandboxes::get).delete(sandboxes::kill),
        )
        .route("/sandboxes/{id}/timeout", post(sandboxes::set_timeout))
        .route("/sandboxes/{id}/refreshes", post(sandboxes::refresh))
        .route("/sandboxes/{id}/pause", post(lifecycle::pause))
        .route("/sandboxes/{id}/resume", post(lifecycle::resume))
        .route("/sandboxes/{id}/connect", post(lifecycle::connect))
        .route("/sandboxes/{id}/metrics", get(extras::metrics))
        .route("/sandboxes/{id}/fork", post(extras::fork))
        .route("/sandboxes/{id}/snapshots", post(extras::create_snapshot))
        .route("/snapshots", get(extras::list_snapshots))
        .route("/templates/{id}", delete(extras::delete_snapshot));
    Router::new()
        .merge(routes.clone())
        .nest("/v2", routes)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .route_layer(middleware::from_fn_with_state(state, auth::require_api_key))
}

/// The outermost middleware: E2B sandbox-side requests (by header or by a `49983-` host name)
/// and `/e2b/...` go to the E2B front door, everything else on.
pub(crate) async fn intercept(State(front): State<Front>, req: Request, next: Next) -> Response {
    if let Some(target) = envd::target_by_header(req.headers()) {
        return match target {
            Ok((id, port)) => envd::serve(&front.state, id, port, req).await,
            Err(e) => axum::response::IntoResponse::into_response(e),
        };
    }
    if let Some((id, envd::ENVD_PORT)) =
        crate::proxy::preview_target(&req, &front.state.preview_domain)
    {
        return envd::serve(&front.state, id, envd::ENVD_PORT, req).await;
    }
    let path = req.uri().path();
    if path == PREFIX || path.starts_with("/e2b/") {
        return match front.api.oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
    }
    next.run(req).await
}
