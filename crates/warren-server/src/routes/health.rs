//! `GET /healthz`: liveness, no authentication.

use axum::Json;
use warren_api_types::Health;

pub(crate) async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}
