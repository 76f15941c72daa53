//! `/v1/sandboxes/{id}/files...` and `/v1/sandboxes/{id}/archive`: files, directories and tar
//! streams inside a sandbox. Uploads and downloads stream both ways; the daemon holds one chunk
//! at a time, whatever the file's size.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use futures_util::TryStreamExt;
use http_body_util::BodyExt;
use serde::Deserialize;
use warren_api_types::{
    ChmodRequest, ChownRequest, FileEntry, FileKind, FileList, MkdirRequest, MoveRequest,
};
use warren_core::{AgentBody, EntryInfo, FileStream, FileType};

use crate::json::{Json, Query};
use crate::{ApiError, AppState};

/// `/sandboxes/{id}/files...` and `/sandboxes/{id}/archive` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/sandboxes/{id}/files",
            get(read_file).put(write_file).delete(remove),
        )
        .route("/sandboxes/{id}/files/list", get(list))
        .route("/sandboxes/{id}/files/stat", get(stat))
        .route("/sandboxes/{id}/files/mkdir", post(mkdir))
        .route("/sandboxes/{id}/files/move", post(move_file))
        .route("/sandboxes/{id}/files/chmod", post(chmod))
        .route("/sandboxes/{id}/files/chown", post(chown))
        .route(
            "/sandboxes/{id}/archive",
            get(read_archive).put(write_archive),
        )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileQuery {
    path: String,
    user: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserQuery {
    user: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    path: String,
    depth: Option<u32>,
    user: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemoveQuery {
    path: String,
    #[serde(default)]
    recursive: bool,
    user: Option<String>,
}

/// The API shape of an agent entry.
fn entry(e: EntryInfo) -> FileEntry {
    let kind = if e.symlink_target.is_some() {
        FileKind::Symlink
    } else {
        match e.r#type {
            FileType::File => FileKind::File,
            FileType::Directory => FileKind::Dir,
            FileType::Symlink => FileKind::Symlink,
            FileType::Unspecified => FileKind::Other,
        }
    };
    FileEntry {
        name: e.name,
        path: e.path,
        kind,
        size: e.size.max(0) as u64,
        mode: format!("{:04o}", e.mode),
        owner: e.owner,
        group: e.group,
        modified_at: e.modified_time,
        symlink_target: e.symlink_target,
    }
}

/// A request body as a stream for the agent.
fn stream_body(body: axum::body::Body) -> AgentBody {
    body.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        .boxed_unsync()
}

fn octet_stream(stream: FileStream, content_type: &'static str) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, content_type)],
        axum::body::Body::from_stream(stream.into_stream().map_err(axum::Error::new)),
    )
}

pub(crate) async fn read_file(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let stream = st
        .core
        .read_file_stream(&id, &q.path, q.user.as_deref())
        .await?;
    Ok(octet_stream(stream, "application/octet-stream"))
}

pub(crate) async fn write_file(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<FileQuery>,
    body: axum::body::Body,
) -> Result<StatusCode, ApiError> {
    st.core
        .write_file_stream(&id, &q.path, q.user.as_deref(), stream_body(body))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn remove(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<RemoveQuery>,
) -> Result<StatusCode, ApiError> {
    st.core
        .remove_file(&id, &q.path, q.recursive, q.user.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn list(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<FileList>, ApiError> {
    let entries = st
        .core
        .list_files(&id, &q.path, q.depth.unwrap_or(1), q.user.as_deref())
        .await?;
    Ok(axum::Json(FileList {
        entries: entries.into_iter().map(entry).collect(),
    }))
}

pub(crate) async fn stat(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Result<axum::Json<FileEntry>, ApiError> {
    let e = st.core.stat_file(&id, &q.path, q.user.as_deref()).await?;
    Ok(axum::Json(entry(e)))
}

pub(crate) async fn mkdir(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<UserQuery>,
    Json(r): Json<MkdirRequest>,
) -> Result<axum::Json<FileEntry>, ApiError> {
    let e = st
        .core
        .make_dir(&id, &r.path, r.mode.as_deref(), q.user.as_deref())
        .await?;
    Ok(axum::Json(entry(e)))
}

pub(crate) async fn move_file(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<UserQuery>,
    Json(r): Json<MoveRequest>,
) -> Result<axum::Json<FileEntry>, ApiError> {
    let e = st
        .core
        .move_file(&id, &r.from, &r.to, q.user.as_deref())
        .await?;
    Ok(axum::Json(entry(e)))
}

pub(crate) async fn chmod(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<UserQuery>,
    Json(r): Json<ChmodRequest>,
) -> Result<axum::Json<FileEntry>, ApiError> {
    let e = st
        .core
        .chmod_file(&id, &r.path, &r.mode, q.user.as_deref())
        .await?;
    Ok(axum::Json(entry(e)))
}

pub(crate) async fn chown(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<UserQuery>,
    Json(r): Json<ChownRequest>,
) -> Result<axum::Json<FileEntry>, ApiError> {
    let e = st
        .core
        .chown_file(
            &id,
            &r.path,
            r.owner.as_deref(),
            r.group.as_deref(),
            q.user.as_deref(),
        )
        .await?;
    Ok(axum::Json(entry(e)))
}

pub(crate) async fn read_archive(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let stream = st
        .core
        .read_archive(&id, &q.path, q.user.as_deref())
        .await?;
    Ok(octet_stream(stream, "application/x-tar"))
}

pub(crate) async fn write_archive(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<FileQuery>,
    body: axum::body::Body,
) -> Result<StatusCode, ApiError> {
    st.core
        .write_archive(&id, &q.path, q.user.as_deref(), stream_body(body))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
