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
use crate::{ApiError, AppState};

/// `/keys...` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/keys", get(list).post(create))
        .route("/keys/{id}", delete(revoke))
}

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

async fn list(State(st): State<AppState>) -> Result<axum::Json<api::KeyList>, ApiError> {
    let items = st.core.list_api_keys().await?;
    Ok(axum::Json(api::KeyList {
        items: items.into_iter().map(key).collect(),
    }))
}

async fn revoke(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.core.revoke_api_key(&id, &who).await?;
    Ok(StatusCode::NO_CONTENT)
}
