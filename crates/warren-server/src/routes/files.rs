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
    ChmodRequest, ChownRequest, ErrorBody, FileEntry, FileKind, FileList, MkdirRequest, MoveRequest,
};
use warren_core::{AgentBody, EntryInfo, FileStream, FileType};

use crate::json::{Json, Query};
use crate::openapi::{
    AgentError, BadRequest, Conflict, FileForbidden, FileNotFound, Internal, PayloadTooLarge,
    PermissionDenied, RateLimited, SANDBOX_ID, Unauthorized,
};
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

/// The OpenAPI operations of [`routes`].
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    read_file,
    write_file,
    remove,
    list,
    stat,
    mkdir,
    move_file,
    chmod,
    chown,
    read_archive,
    write_archive
))]
pub(crate) struct Api;

/// A path and the user to act as.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct FileQuery {
    /// Absolute path inside the sandbox (at most 4096 bytes); `..` and symlinks resolve within
    /// the sandbox.
    #[param(example = "/srv/app/notes.txt")]
    path: String,
    /// User inside the sandbox (name or uid) to act as: the owner of what is created. Default:
    /// the sandbox's default user (its `user`, else the image's User).
    user: Option<String>,
}

/// The user to act as (the path is in the body).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct UserQuery {
    /// User inside the sandbox (name or uid) to act as: the owner of what is created. Default:
    /// the sandbox's default user (its `user`, else the image's User).
    user: Option<String>,
}

/// A directory, how deep to list it, and the user to act as.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Absolute path of the directory inside the sandbox.
    #[param(example = "/srv/app")]
    path: String,
    /// How many levels below the directory to list (1..=32, default 1).
    #[param(minimum = 1, maximum = 32)]
    depth: Option<u32>,
    /// User inside the sandbox (name or uid) to act as: the owner of what is created. Default:
    /// the sandbox's default user (its `user`, else the image's User).
    user: Option<String>,
}

/// What to remove, and the user to act as.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RemoveQuery {
    /// Absolute path of the file, symlink or directory to remove; `/` is refused.
    path: String,
    /// Remove a non-empty directory with everything in it (default false: a non-empty
    /// directory is a `409 conflict`).
    #[serde(default)]
    recursive: bool,
    /// User inside the sandbox (name or uid) to act as: the owner of what is created. Default:
    /// the sandbox's default user (its `user`, else the image's User).
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

/// Read a file
///
/// The file's bytes, streamed as they are read (no `Content-Length`). A directory is a
/// `400 invalid_request`; use `files/list` or `archive` for directories.
#[utoipa::path(
    get,
    path = "/v1/sandboxes/{id}/files",
    tag = "files",
    operation_id = "read_file",
    params(("id" = String, Path, description = SANDBOX_ID), FileQuery),
    responses(
        (status = 200, description = "The file's content.",
            content((Vec<u8> = "application/octet-stream"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = PermissionDenied),
        (status = 404, response = FileNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
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

/// Write a file
///
/// The raw request body (any content type, any size: the sandbox's disk is the limit) streams
/// into a temporary file that then replaces `path` atomically. Missing parent directories are
/// created; what is created is owned by `user`; an existing file keeps its mode. A `path`
/// ending in `/` is refused.
#[utoipa::path(
    put,
    path = "/v1/sandboxes/{id}/files",
    tag = "files",
    operation_id = "write_file",
    params(("id" = String, Path, description = SANDBOX_ID), FileQuery),
    request_body(description = "The file's new content, streamed.",
        content((Vec<u8> = "application/octet-stream"))),
    responses(
        (status = 204, description = "Written."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = FileForbidden),
        (status = 404, response = FileNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
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

/// Remove a file or directory
///
/// Removes a file, a symlink (not its target) or an empty directory; a non-empty directory
/// needs `recursive=true`.
#[utoipa::path(
    delete,
    path = "/v1/sandboxes/{id}/files",
    tag = "files",
    operation_id = "remove_file",
    params(("id" = String, Path, description = SANDBOX_ID), RemoveQuery),
    responses(
        (status = 204, description = "Removed."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = FileForbidden),
        (status = 404, response = FileNotFound),
        (status = 409, description = "`conflict`: the sandbox is not running, or the directory \
            is not empty and `recursive` is false.", body = ErrorBody),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
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

/// List a directory
///
/// Everything below the directory down to `depth` levels, depth-first in name order, without
/// the directory itself. Symlinks are not followed below the top. Not a directory:
/// `400 invalid_request`.
#[utoipa::path(
    get,
    path = "/v1/sandboxes/{id}/files/list",
    tag = "files",
    operation_id = "list_files",
    params(("id" = String, Path, description = SANDBOX_ID), ListQuery),
    responses(
        (status = 200, description = "The entries.", body = FileList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = PermissionDenied),
        (status = 404, response = FileNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
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

/// Describe a file, directory or symlink
///
/// What is at `path`: kind, size, mode, owner, modification time; a symlink is described
/// itself, with the path it resolves to.
#[utoipa::path(
    get,
    path = "/v1/sandboxes/{id}/files/stat",
    tag = "files",
    operation_id = "stat_file",
    params(("id" = String, Path, description = SANDBOX_ID), FileQuery),
    responses(
        (status = 200, description = "The entry.", body = FileEntry),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = PermissionDenied),
        (status = 404, response = FileNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
pub(crate) async fn stat(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Result<axum::Json<FileEntry>, ApiError> {
    let e = st.core.stat_file(&id, &q.path, q.user.as_deref()).await?;
    Ok(axum::Json(entry(e)))
}

/// Create a directory
///
/// Like `mkdir -p`: missing parents are created and an existing directory is not an error (its
/// mode is set when `mode` is given). A file in the way is `400 invalid_request`.
#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/files/mkdir",
    tag = "files",
    operation_id = "make_dir",
    params(("id" = String, Path, description = SANDBOX_ID), UserQuery),
    request_body = MkdirRequest,
    responses(
        (status = 200, description = "The directory.", body = FileEntry),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = FileForbidden),
        (status = 404, response = FileNotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
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

/// Move or rename
///
/// `rename(2)` from `from` to `to`, creating the destination's missing parents; a file at `to`
/// is replaced.
#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/files/move",
    tag = "files",
    operation_id = "move_file",
    params(("id" = String, Path, description = SANDBOX_ID), UserQuery),
    request_body = MoveRequest,
    responses(
        (status = 200, description = "The entry at its new path.", body = FileEntry),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = FileForbidden),
        (status = 404, response = FileNotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
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

/// Set permission bits
///
/// A symlink is followed: its target's mode changes.
#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/files/chmod",
    tag = "files",
    operation_id = "chmod_file",
    params(("id" = String, Path, description = SANDBOX_ID), UserQuery),
    request_body = ChmodRequest,
    responses(
        (status = 200, description = "The entry with its new mode.", body = FileEntry),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = FileForbidden),
        (status = 404, response = FileNotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
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

/// Set owner and group
///
/// Names come from the sandbox's user database, or are numeric ids; either may be left out,
/// not both. A symlink itself is changed, not its target. An unknown name is
/// `400 invalid_request`.
#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/files/chown",
    tag = "files",
    operation_id = "chown_file",
    params(("id" = String, Path, description = SANDBOX_ID), UserQuery),
    request_body = ChownRequest,
    responses(
        (status = 200, description = "The entry with its new owner and group.", body = FileEntry),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = FileForbidden),
        (status = 404, response = FileNotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
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

/// Download a tar archive
///
/// A tar stream of the file or directory tree at `path`, every entry named under the path's
/// base name (like `tar -C dirname basename`), in name order. Symlinks are stored as symlinks,
/// never followed; sockets are skipped; modes, owners and modification times are recorded.
#[utoipa::path(
    get,
    path = "/v1/sandboxes/{id}/archive",
    tag = "files",
    operation_id = "read_archive",
    params(("id" = String, Path, description = SANDBOX_ID), FileQuery),
    responses(
        (status = 200, description = "The tar stream.",
            content((Vec<u8> = "application/x-tar"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = PermissionDenied),
        (status = 404, response = FileNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
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

/// Upload and extract a tar archive
///
/// Extracts the tar stream in the body into directory `path` (created with its parents); an
/// entry named `.` describes `path` itself. Entries keep their modes and modification times;
/// what is extracted is owned by `user`. Entries with absolute names or `..`, and entries that
/// would be written through a symlink, are refused with `400 invalid_request` (what was
/// extracted before stays). Devices and FIFOs are skipped.
#[utoipa::path(
    put,
    path = "/v1/sandboxes/{id}/archive",
    tag = "files",
    operation_id = "write_archive",
    params(("id" = String, Path, description = SANDBOX_ID), FileQuery),
    request_body(description = "A tar stream (uncompressed).",
        content((Vec<u8> = "application/x-tar"))),
    responses(
        (status = 204, description = "Extracted."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = FileForbidden),
        (status = 404, response = FileNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
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
