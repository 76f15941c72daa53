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
use crate::{ApiError, AppState};

/// `/sandboxes/{id}/logs`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/sandboxes/{id}/logs", get(logs))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogsQuery {
    /// Only the last this many lines (default: everything retained).
    tail: Option<u64>,
    /// Keep streaming new output (default false).
    #[serde(default)]
    follow: bool,
}

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
