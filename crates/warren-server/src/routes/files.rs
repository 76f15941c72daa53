//! `/v1/sandboxes/{id}/files`: read and write files inside a sandbox.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Deserialize;

use crate::json::{Body, Query};
use crate::{ApiError, AppState};

/// `/sandboxes/{id}/files...` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(
        "/sandboxes/{id}/files",
        get(read_file)
            .put(write_file)
            .layer(DefaultBodyLimit::max(warren_core::MAX_FILE_BYTES)),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileQuery {
    path: String,
    user: Option<String>,
}

pub(crate) async fn read_file(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let bytes = st.core.read_file(&id, &q.path, q.user.as_deref()).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}

pub(crate) async fn write_file(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<FileQuery>,
    Body(body): Body,
) -> Result<StatusCode, ApiError> {
    st.core
        .write_file(&id, &q.path, q.user.as_deref(), body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
