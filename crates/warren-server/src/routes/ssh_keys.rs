//! `/v1/ssh-keys`: public keys the SSH gateway accepts (register, list, delete).

use axum::Extension;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use warren_api_types as api;
use warren_core::{Principal, SshKey};

use crate::convert::time_from_ms;
use crate::json::Json;
use crate::openapi::{BadRequest, Forbidden, Internal, PayloadTooLarge, RateLimited, Unauthorized};
use crate::{ApiError, AppState};

/// `/ssh-keys...` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ssh-keys", get(list).post(add))
        .route("/ssh-keys/{id}", delete(remove))
}

/// The OpenAPI operations of [`routes`].
#[derive(utoipa::OpenApi)]
#[openapi(paths(add, list, remove))]
pub(crate) struct Api;

fn key(k: SshKey) -> api::SshKey {
    api::SshKey {
        id: k.id,
        name: k.name,
        fingerprint: k.fingerprint,
        public_key: k.public_key,
        comment: k.comment,
        created_at: time_from_ms(k.created_at),
    }
}

/// Register an SSH public key
///
/// The key then logs in to every sandbox through the SSH gateway
/// (`ssh -p 2222 <sandbox-id>@host`), with the rights of a `full` API key. Needs a key of
/// scope `full`. Recorded as an `ssh_key.add` event.
#[utoipa::path(
    post,
    path = "/v1/ssh-keys",
    tag = "ssh-keys",
    operation_id = "add_ssh_key",
    request_body = api::AddSshKeyRequest,
    responses(
        (status = 201, description = "The registered key.", body = api::SshKey),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, description = "`conflict`: this key is registered already.",
            body = api::ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn add(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Json(req): Json<api::AddSshKeyRequest>,
) -> Result<(StatusCode, axum::Json<api::SshKey>), ApiError> {
    let k = st
        .core
        .add_ssh_key(req.name.as_deref(), &req.public_key, &who)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(key(k))))
}

/// List SSH public keys
///
/// Every registered key, oldest first.
#[utoipa::path(
    get,
    path = "/v1/ssh-keys",
    tag = "ssh-keys",
    operation_id = "list_ssh_keys",
    responses(
        (status = 200, description = "The keys.", body = api::SshKeyList),
        (status = 401, response = Unauthorized),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn list(State(st): State<AppState>) -> Result<axum::Json<api::SshKeyList>, ApiError> {
    let items = st.core.list_ssh_keys().await?;
    Ok(axum::Json(api::SshKeyList {
        items: items.into_iter().map(key).collect(),
    }))
}

/// Delete an SSH public key
///
/// New SSH logins with the key are refused; connections already open stay. Recorded as an
/// `ssh_key.delete` event.
#[utoipa::path(
    delete,
    path = "/v1/ssh-keys/{id}",
    tag = "ssh-keys",
    operation_id = "delete_ssh_key",
    params(("id" = String, Path, description = "Key id, as listed by `GET /v1/ssh-keys` (e.g. \
        `sshkey-3k9x0q2m7d`).")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`not_found`: no SSH key has this id.",
            body = api::ErrorBody),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn remove(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.core.delete_ssh_key(&id, &who).await?;
    Ok(StatusCode::NO_CONTENT)
}
