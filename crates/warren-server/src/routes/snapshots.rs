//! Snapshots and branches: `POST /v1/sandboxes/{id}/snapshot`, `POST /v1/sandboxes/{id}/branch`,
//! `GET /v1/snapshots`, `GET|DELETE /v1/snapshots/{id}`.

use axum::Extension;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use warren_api_types as api;
use warren_core::{CreateSnapshot, Principal};

use crate::json::{Json, Query};
use crate::openapi::{
    BadRequest, Conflict, Forbidden, Internal, RateLimited, SANDBOX_ID, SandboxNotFound,
    SnapshotConflict, SnapshotNotFound, Unauthorized,
};
use crate::{ApiError, AppState, convert};

/// Description of the `{id}` path parameter of snapshot routes.
const SNAPSHOT_ID: &str = "Snapshot id (`snap-…`) or name.";

/// Snapshot and branch routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sandboxes/{id}/snapshot", post(create))
        .route("/sandboxes/{id}/branch", post(branch))
        .route("/snapshots", get(list))
        .route("/snapshots/{id}", get(get_one).delete(delete))
        .route("/snapshots/{id}/archive", post(archive))
}

/// The OpenAPI operations of [`routes`].
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, branch, list, get_one, delete, archive))]
pub(crate) struct Api;

/// Snapshot a sandbox
///
/// Captures a `running` or `paused` sandbox as an immutable snapshot: its filesystem changes
/// and, with `memory`, every process (memory, open files, listening sockets). The sandbox is
/// frozen during the capture (`paused_ms` says how long) and then continues; a paused one stays
/// paused. A memory capture closes open exec streams and terminals of the sandbox (processes
/// keep running; re-attach to them). Recorded as `sandbox.snapshot` events.
#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/snapshot",
    tag = "snapshots",
    operation_id = "snapshot_sandbox",
    params(("id" = String, Path, description = SANDBOX_ID)),
    request_body = api::CreateSnapshotRequest,
    responses(
        (status = 201, description = "The snapshot, `ready`.", body = api::Snapshot),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = SandboxNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn create(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Json(req): Json<api::CreateSnapshotRequest>,
) -> Result<(StatusCode, axum::Json<api::Snapshot>), ApiError> {
    let input = CreateSnapshot {
        memory: req.memory,
        name: req.name,
        labels: req.labels,
    };
    let snap = st.core.snapshot_sandbox(&id, input, &who.key_name).await?;
    Ok((StatusCode::CREATED, axum::Json(convert::snapshot(snap))))
}

/// Branch a sandbox
///
/// Takes a memory snapshot of a `running` or `paused` sandbox and creates `count` new running
/// sandboxes from it, each continuing from that same instant with its own id and hostname, and
/// the source's labels and metadata. All or none: if one cannot be created, those made are
/// deleted (the snapshot stays). Branching a branch works; `parent_snapshot` links them.
#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/branch",
    tag = "snapshots",
    operation_id = "branch_sandbox",
    params(("id" = String, Path, description = SANDBOX_ID)),
    request_body = api::BranchRequest,
    responses(
        (status = 201, description = "The snapshot and the new sandboxes.", body = api::BranchResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = SandboxNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn branch(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Json(req): Json<api::BranchRequest>,
) -> Result<(StatusCode, axum::Json<api::BranchResponse>), ApiError> {
    let (snap, sandboxes) = st
        .core
        .branch_sandbox(&id, req.count, &who.key_name)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(api::BranchResponse {
            snapshot: convert::snapshot(snap),
            sandboxes: sandboxes.into_iter().map(convert::sandbox).collect(),
        }),
    ))
}

/// Query of `GET /v1/snapshots`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// The `next_cursor` of the previous page; absent: the first page.
    cursor: Option<String>,
    /// Page size (1..=500, default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Only snapshots taken from this sandbox.
    sandbox: Option<String>,
}

/// List snapshots
///
/// Oldest first, in pages. With `source_sandbox` and `parent_snapshot` on snapshots and
/// `parent_snapshot` on sandboxes, this is the lineage tree.
#[utoipa::path(
    get,
    path = "/v1/snapshots",
    tag = "snapshots",
    operation_id = "list_snapshots",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of snapshots.", body = api::SnapshotList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn list(
    State(st): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<api::SnapshotList>, ApiError> {
    let (items, next_cursor) = st
        .core
        .list_snapshots(q.sandbox.as_deref(), q.cursor.as_deref(), q.limit)
        .await?;
    Ok(axum::Json(api::SnapshotList {
        items: items.into_iter().map(convert::snapshot).collect(),
        next_cursor,
    }))
}

/// Get a snapshot
///
/// By id or name.
#[utoipa::path(
    get,
    path = "/v1/snapshots/{id}",
    tag = "snapshots",
    operation_id = "get_snapshot",
    params(("id" = String, Path, description = SNAPSHOT_ID)),
    responses(
        (status = 200, description = "The snapshot.", body = api::Snapshot),
        (status = 401, response = Unauthorized),
        (status = 404, response = SnapshotNotFound),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn get_one(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<api::Snapshot>, ApiError> {
    Ok(axum::Json(convert::snapshot(
        st.core.get_snapshot(&id).await?,
    )))
}

/// Delete a snapshot
///
/// Removes its files and record. Refused (409, naming them) while sandboxes or snapshots made
/// from it exist: delete those first. Recorded as `snapshot.delete` and `snapshot.deleted`.
#[utoipa::path(
    delete,
    path = "/v1/snapshots/{id}",
    tag = "snapshots",
    operation_id = "delete_snapshot",
    params(("id" = String, Path, description = SNAPSHOT_ID)),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = SnapshotNotFound),
        (status = 409, response = SnapshotConflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn delete(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.core.delete_snapshot(&id, &who.key_name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Archive a snapshot
///
/// Moves the snapshot's files to the archive and removes the local copy; creating a sandbox from
/// it fetches it back first. Only a `ready` snapshot that no sandbox or snapshot was made from
/// can be archived (409 naming them otherwise). Recorded as `snapshot.archive`.
#[utoipa::path(
    post,
    path = "/v1/snapshots/{id}/archive",
    tag = "snapshots",
    operation_id = "archive_snapshot",
    params(("id" = String, Path, description = SNAPSHOT_ID)),
    responses(
        (status = 200, description = "The snapshot, now `archived`.", body = api::Snapshot),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = SnapshotNotFound),
        (status = 409, response = SnapshotConflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn archive(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<axum::Json<api::Snapshot>, ApiError> {
    let snap = st.core.archive_snapshot(&id, &who.key_name).await?;
    Ok(axum::Json(convert::snapshot(snap)))
}
