//! `/v1/keys`: create (the key is shown once), list, revoke.

use axum::Extension;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use warren_api_types as api;
use warren_core::{CreateKey, KeyInfo, Principal, Scope};

use crate::convert::time_from_ms;
use crate::json::Json;
use crate::openapi::{BadRequest, Forbidden, Internal, PayloadTooLarge, RateLimited, Unauthorized};
use crate::{ApiError, AppState};

/// `/keys...` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/keys", get(list).post(create))
        .route("/keys/{id}", delete(revoke))
}

/// The OpenAPI operations of [`routes`].
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, revoke))]
pub(crate) struct Api;

fn scope(s: Scope) -> api::KeyScope {
    match s {
        Scope::Read => api::KeyScope::Read,
        Scope::Full => api::KeyScope::Full,
    }
}

fn key(k: KeyInfo) -> api::ApiKey {
    api::ApiKey {
        id: k.id,
        name: k.name,
        prefix: k.prefix,
        scope: scope(k.scope),
        created_at: time_from_ms(k.created_at),
        expires_at: k.expires_at.map(time_from_ms),
        revoked_at: k.revoked_at.map(time_from_ms),
    }
}

/// Create an API key
///
/// The answer is the only time the key itself is shown: warren stores only its SHA-256.
/// Needs a key of scope `full`. Recorded as a `key.create` event.
#[utoipa::path(
    post,
    path = "/v1/keys",
    tag = "keys",
    operation_id = "create_key",
    request_body = api::CreateKeyRequest,
    responses(
        (status = 201, description = "The new key, with its secret.", body = api::CreatedKey),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn create(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Json(req): Json<api::CreateKeyRequest>,
) -> Result<(StatusCode, axum::Json<api::CreatedKey>), ApiError> {
    let input = CreateKey {
        name: req.name,
        scope: match req.scope {
            api::KeyScope::Read => Scope::Read,
            api::KeyScope::Full => Scope::Full,
        },
        expires_in_s: req.expires_in_s,
    };
    let created = st.core.create_api_key(input, &who).await?;
    let info = created.info;
    Ok((
        StatusCode::CREATED,
        axum::Json(api::CreatedKey {
            id: info.id,
            name: info.name,
            scope: scope(info.scope),
            key: created.secret,
            created_at: time_from_ms(info.created_at),
            expires_at: info.expires_at.map(time_from_ms),
        }),
    ))
}

/// List API keys
///
/// Every key, oldest first, revoked and expired ones included; never the keys themselves.
#[utoipa::path(
    get,
    path = "/v1/keys",
    tag = "keys",
    operation_id = "list_keys",
    responses(
        (status = 200, description = "The keys.", body = api::KeyList),
        (status = 401, response = Unauthorized),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn list(State(st): State<AppState>) -> Result<axum::Json<api::KeyList>, ApiError> {
    let items = st.core.list_api_keys().await?;
    Ok(axum::Json(api::KeyList {
        items: items.into_iter().map(key).collect(),
    }))
}

/// Revoke an API key
///
/// From now on the key gets `401 unauthorized`; revoking a revoked key changes nothing. A key
/// cannot revoke itself (`400 invalid_request`): revoke a key with another key of scope
/// `full`. Recorded as a `key.revoke` event.
#[utoipa::path(
    delete,
    path = "/v1/keys/{id}",
    tag = "keys",
    operation_id = "revoke_key",
    params(("id" = String, Path, description = "Key id, as listed by `GET /v1/keys` (e.g. \
        `key-3k9x0q2m7d`).")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 400, description = "`invalid_request`: the key tried to revoke itself.",
            body = api::ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`not_found`: no key has this id.", body = api::ErrorBody),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn revoke(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.core.revoke_api_key(&id, &who).await?;
    Ok(StatusCode::NO_CONTENT)
}
