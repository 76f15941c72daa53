//! `GET /v1/sandboxes/{id}/logs`: the main process's output (stdout and stderr interleaved as
//! written), retained by the sandbox in rotated files. `?tail=N` starts N lines from the end;
//! `?follow=true` keeps the response open and streams new output until the client disconnects
//! or the sandbox is deleted. The body is `text/plain`, sent in chunks as it is read.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::json::Query;
use crate::openapi::{
    BadRequest, Internal, RateLimited, SANDBOX_ID, SandboxNotFound, Unauthorized,
};
use crate::{ApiError, AppState};

/// `/sandboxes/{id}/logs`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/sandboxes/{id}/logs", get(logs))
}

/// The OpenAPI operations of [`routes`].
#[derive(utoipa::OpenApi)]
#[openapi(paths(logs))]
pub(crate) struct Api;

/// Query of `GET /v1/sandboxes/{id}/logs`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogsQuery {
    /// Only the last this many lines, at most 1000000 (default: everything retained).
    #[param(maximum = 1_000_000)]
    tail: Option<u64>,
    /// Keep streaming new output (default false).
    #[serde(default)]
    follow: bool,
}

/// Read the main process's log
///
/// The sandbox's main process's output, stdout and stderr interleaved as written, as the
/// sandbox retains it (in rotated files: the oldest output is dropped first). `tail` starts that
/// many lines from the end; `follow` keeps the response open and streams new output until the
/// client disconnects or the sandbox is deleted. Works in any state in which the sandbox's files
/// exist. The body is sent in chunks as it is read.
#[utoipa::path(
    get,
    path = "/v1/sandboxes/{id}/logs",
    tag = "sandboxes",
    operation_id = "sandbox_logs",
    params(("id" = String, Path, description = SANDBOX_ID), LogsQuery),
    responses(
        (status = 200, description = "The log's text, streamed (with `follow`, without end).",
            body = String, content_type = "text/plain; charset=utf-8",
            example = "listening on :8080\nGET / 200\n"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = SandboxNotFound),
        (status = 409, description = "`conflict`: the sandbox is being created or deleted.",
            body = warren_api_types::ErrorBody),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn logs(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LogsQuery>,
) -> Result<Response, ApiError> {
    let rx = st.core.sandbox_logs(&id, q.tail, q.follow).await?;
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
        let item = rx.recv().await?;
        Some((item.map(bytes::Bytes::from), rx))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Body::from_stream(chunks),
    )
        .into_response())
}
