//! `POST /v1/sandboxes/{id}/{pause,resume,hibernate,stop,start,archive}`: state changes of a
//! sandbox.

use axum::Extension;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use warren_api_types as api;
use warren_core::{LifecycleOp, Principal};

use crate::openapi::{
    Conflict, Forbidden, Internal, RateLimited, SANDBOX_ID, SandboxNotFound, Unauthorized,
};
use crate::{ApiError, AppState, convert};

/// `/sandboxes/{id}/{pause,resume,stop,start}`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sandboxes/{id}/pause", post(pause))
        .route("/sandboxes/{id}/resume", post(resume))
        .route("/sandboxes/{id}/hibernate", post(hibernate))
        .route("/sandboxes/{id}/stop", post(stop))
        .route("/sandboxes/{id}/start", post(start))
        .route("/sandboxes/{id}/archive", post(archive))
}

/// The OpenAPI operations of [`routes`].
#[derive(utoipa::OpenApi)]
#[openapi(paths(pause, resume, hibernate, stop, start, archive))]
pub(crate) struct Api;

async fn apply(
    st: &AppState,
    who: &Principal,
    id: &str,
    op: LifecycleOp,
) -> Result<axum::Json<api::Sandbox>, ApiError> {
    let sb = st.core.change_sandbox_state(id, op, &who.key_name).await?;
    Ok(axum::Json(convert::sandbox(sb)))
}

/// Pause a sandbox
///
/// Freezes every process (cgroup freezer): memory stays, CPU use drops to zero. Only a `running`
/// sandbox can be paused; commands, files and terminals answer 409 until it is resumed.
/// Recorded as a `sandbox.pause` event.
#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/pause",
    tag = "lifecycle",
    operation_id = "pause_sandbox",
    params(("id" = String, Path, description = SANDBOX_ID)),
    responses(
        (status = 200, description = "The sandbox, now `paused`.", body = api::Sandbox),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = SandboxNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn pause(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<axum::Json<api::Sandbox>, ApiError> {
    apply(&st, &who, &id, LifecycleOp::Pause).await
}

/// Resume a paused or hibernated sandbox
///
/// A `paused` sandbox's processes are thawed where they were; a `hibernated` one is restored from
/// its checkpoint (memory, open files, listening sockets) and continues from the instant it was
/// hibernated. Recorded as a `sandbox.resume` event.
#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/resume",
    tag = "lifecycle",
    operation_id = "resume_sandbox",
    params(("id" = String, Path, description = SANDBOX_ID)),
    responses(
        (status = 200, description = "The sandbox, `running` again.", body = api::Sandbox),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = SandboxNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn resume(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<axum::Json<api::Sandbox>, ApiError> {
    apply(&st, &who, &id, LifecycleOp::Resume).await
}

/// Hibernate a sandbox
///
/// Checkpoints every process to disk with CRIU — memory, open files, listening sockets — and
/// releases its memory; `resume` brings it back exactly where it was. From `running` or `paused`.
/// Open terminals and attached streams are closed. Established TCP connections are not kept.
/// Recorded as a `sandbox.hibernate` event.
#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/hibernate",
    tag = "lifecycle",
    operation_id = "hibernate_sandbox",
    params(("id" = String, Path, description = SANDBOX_ID)),
    responses(
        (status = 200, description = "The sandbox, now `hibernated`.", body = api::Sandbox),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = SandboxNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn hibernate(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<axum::Json<api::Sandbox>, ApiError> {
    apply(&st, &who, &id, LifecycleOp::Hibernate).await
}

/// Stop a sandbox
///
/// Ends every process — SIGTERM, up to 5 s for them to exit, then SIGKILL — and releases the
/// sandbox's mounts and cgroups. Its files (everything it wrote) stay; `start` boots it again.
/// From `running`, `paused` or `hibernated` (the checkpoint is discarded). Recorded as a
/// `sandbox.stop` event.
#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/stop",
    tag = "lifecycle",
    operation_id = "stop_sandbox",
    params(("id" = String, Path, description = SANDBOX_ID)),
    responses(
        (status = 200, description = "The sandbox, now `stopped`.", body = api::Sandbox),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = SandboxNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn stop(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<axum::Json<api::Sandbox>, ApiError> {
    apply(&st, &who, &id, LifecycleOp::Stop).await
}

/// Start a stopped sandbox
///
/// Boots it again on the files it has: a fresh agent, the main process started anew, the same
/// id, limits and disk. Only a `stopped` sandbox can be started. Recorded as a `sandbox.start`
/// event.
#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/start",
    tag = "lifecycle",
    operation_id = "start_sandbox",
    params(("id" = String, Path, description = SANDBOX_ID)),
    responses(
        (status = 200, description = "The sandbox, `running` again.", body = api::Sandbox),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = SandboxNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn start(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<axum::Json<api::Sandbox>, ApiError> {
    apply(&st, &who, &id, LifecycleOp::Start).await
}

/// Archive a stopped or hibernated sandbox
///
/// Moves all of its files (disk, and the checkpoint of a hibernated one) to the archive — a local
/// directory, or S3-compatible storage when the daemon is configured so — and removes the local
/// copy. `start` (a stopped one) or `resume` (a hibernated one) brings it back transparently.
/// While the transfer runs, `GET /v1/sandboxes/{id}` shows its progress in `transfer`. Recorded
/// as `sandbox.archive` (and `sandbox.unarchive` when it comes back).
#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/archive",
    tag = "lifecycle",
    operation_id = "archive_sandbox",
    params(("id" = String, Path, description = SANDBOX_ID)),
    responses(
        (status = 200, description = "The sandbox, now `archived`.", body = api::Sandbox),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = SandboxNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn archive(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<axum::Json<api::Sandbox>, ApiError> {
    let sb = st.core.archive_sandbox(&id, &who.key_name).await?;
    Ok(axum::Json(convert::sandbox(sb)))
}
