//! `GET /healthz`: liveness, no authentication.

use axum::Json;
use warren_api_types::Health;

/// The OpenAPI operations of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(healthz))]
pub(crate) struct Api;

/// Check that the daemon is alive
///
/// Answers as long as the daemon serves requests; needs no API key. For load balancers and
/// supervisors.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "system",
    operation_id = "healthz",
    security(()),
    responses((status = 200, description = "The daemon is up.", body = Health)),
)]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}
