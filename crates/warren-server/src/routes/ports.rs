//! A sandbox's listening ports and their preview URLs (the proxy itself is `crate::proxy`).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::HOST;
use axum::routing::get;
use warren_api_types as api;

use crate::openapi::{Conflict, Internal, RateLimited, SANDBOX_ID, SandboxNotFound, Unauthorized};
use crate::{ApiError, AppState};

/// `/sandboxes/{id}/ports`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/sandboxes/{id}/ports", get(list))
}

/// The OpenAPI operations of [`routes`].
#[derive(utoipa::OpenApi)]
#[openapi(paths(list))]
pub(crate) struct Api;

/// List a sandbox's listening ports
///
/// The TCP ports the running sandbox listens on for other hosts (ports bound to its loopback
/// only are left out: the proxy cannot reach them), each with its preview URLs. URLs are built
/// from the `Host` this request was sent to.
#[utoipa::path(
    get,
    path = "/v1/sandboxes/{id}/ports",
    tag = "networking",
    operation_id = "list_ports",
    params(("id" = String, Path, description = SANDBOX_ID)),
    responses(
        (status = 200, description = "Listening ports, lowest first.", body = api::PortList),
        (status = 401, response = Unauthorized),
        (status = 404, response = SandboxNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn list(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<axum::Json<api::PortList>, ApiError> {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let daemon_port = host
        .rsplit_once(':')
        .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        .map(|(_, p)| format!(":{p}"))
        .unwrap_or_default();
    let items = st
        .core
        .listening_ports(&id)
        .await?
        .into_iter()
        .map(|(port, public)| api::ListeningPort {
            port,
            public,
            url: format!("http://{port}-{id}.{}{daemon_port}/", st.preview_domain),
            path_url: format!("http://{host}/v1/sandboxes/{id}/ports/{port}/"),
        })
        .collect();
    Ok(axum::Json(api::PortList { items }))
}
