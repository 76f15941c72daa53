//! `/v1/sandboxes`: create, list, get, delete, exec, files.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use warren_api_types as api;
use warren_core::{
    CreateSandbox, ExecInput, Principal, SandboxFilter, SandboxState, UpdateSandbox,
};

use axum::Router;
use axum::routing::{get, post};

use crate::json::{Json, Query};
use crate::openapi::{
    AgentError, BadRequest, Conflict, Forbidden, Internal, PayloadTooLarge, RateLimited,
    SANDBOX_ID, SandboxNotFound, SnapshotConflict, Unauthorized,
};
use crate::{ApiError, AppState, convert};

/// `/sandboxes...` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sandboxes", post(create).get(list))
        .route("/sandboxes/{id}", get(get_one).patch(update).delete(delete))
        .route("/sandboxes/{id}/exec", post(exec))
}

/// The OpenAPI operations of [`routes`].
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, get_one, update, delete, exec))]
pub(crate) struct Api;

/// Create a sandbox
///
/// From an image: pulls it first when it is not in the local store, then starts the sandbox and
/// waits until its agent answers. From a `snapshot` (id or name): the sandbox starts with the
/// snapshot's files and, for a memory snapshot, continues its processes from the captured
/// instant, with its own id and hostname. The sandbox keeps running, whether or not it has a
/// main process, until it is deleted.
#[utoipa::path(
    post,
    path = "/v1/sandboxes",
    tag = "sandboxes",
    operation_id = "create_sandbox",
    request_body = api::CreateSandboxRequest,
    responses(
        (status = 201, description = "The sandbox, running.", body = api::Sandbox),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`image_not_found`: the image is a digest that is not \
            in the local store, or the registry has no such image. `snapshot_not_found`: no \
            snapshot has this id or name.", body = api::ErrorBody),
        (status = 409, response = SnapshotConflict),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, description = "`registry_error`: pulling the image failed or the \
            registry refused; `agent_error`: the sandbox started but its agent never \
            answered.", body = api::ErrorBody),
    ),
)]
pub(crate) async fn create(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Json(req): Json<api::CreateSandboxRequest>,
) -> Result<(StatusCode, axum::Json<api::Sandbox>), ApiError> {
    let input = CreateSandbox {
        image: req.image,
        snapshot: req.snapshot,
        cmd: req.cmd,
        env: req.env,
        cpu: req.cpu,
        memory_mb: req.memory_mb,
        pids_limit: req.pids_limit,
        workdir: req.workdir,
        user: req.user,
        disk_mb: req.disk_mb,
        labels: req.labels,
        metadata: req.metadata,
        lifecycle: convert::policy_input(&req.lifecycle),
        network: req.network.as_ref().map(convert::egress),
        public_ports: req.public_ports,
    };
    let sb = st.core.create_sandbox(input, &who.key_name).await?;
    Ok((StatusCode::CREATED, axum::Json(convert::sandbox(sb))))
}

/// Query of `GET /v1/sandboxes`: paging and filters (all filters must match).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// The `next_cursor` of the previous page; absent: the first page.
    cursor: Option<String>,
    /// Page size (1..=500, default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Only sandboxes in this state.
    #[param(value_type = Option<api::SandboxState>)]
    state: Option<String>,
    /// Only sandboxes created from this image reference.
    image: Option<String>,
    /// Label selector: `key=value[,key=value...]`; every pair must match.
    label: Option<String>,
}

impl ListQuery {
    fn filter(&self) -> Result<SandboxFilter, ApiError> {
        let state = match &self.state {
            None => None,
            Some(s) => Some(s.parse::<SandboxState>().map_err(|_| {
                let all: Vec<_> = SandboxState::ALL.iter().map(|s| s.as_str()).collect();
                ApiError::invalid(format!("state: {s:?} is not one of {}", all.join(", ")))
            })?),
        };
        let mut labels = Vec::new();
        for pair in self
            .label
            .iter()
            .flat_map(|l| l.split(','))
            .filter(|p| !p.is_empty())
        {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| ApiError::invalid(format!("label: {pair:?} is not key=value")))?;
            labels.push((k.to_owned(), v.to_owned()));
        }
        Ok(SandboxFilter {
            state,
            image: self.image.clone(),
            labels,
        })
    }
}

/// List sandboxes
///
/// One page of sandboxes, oldest first. Follow `next_cursor` for the next page.
#[utoipa::path(
    get,
    path = "/v1/sandboxes",
    tag = "sandboxes",
    operation_id = "list_sandboxes",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of sandboxes.", body = api::SandboxList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn list(
    State(st): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<api::SandboxList>, ApiError> {
    let filter = q.filter()?;
    let (items, next_cursor) = st
        .core
        .list_sandboxes(&filter, q.cursor.as_deref(), q.limit)
        .await?;
    Ok(axum::Json(api::SandboxList {
        items: items.into_iter().map(convert::sandbox).collect(),
        next_cursor,
    }))
}

/// Get a sandbox
///
/// The sandbox's current state, settings, labels and metadata.
#[utoipa::path(
    get,
    path = "/v1/sandboxes/{id}",
    tag = "sandboxes",
    operation_id = "get_sandbox",
    params(("id" = String, Path, description = SANDBOX_ID)),
    responses(
        (status = 200, description = "The sandbox.", body = api::Sandbox),
        (status = 401, response = Unauthorized),
        (status = 404, response = SandboxNotFound),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn get_one(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<api::Sandbox>, ApiError> {
    Ok(axum::Json(convert::sandbox(
        st.core.get_sandbox(&id).await?,
    )))
}

/// Change a sandbox's labels, metadata, lifecycle or network policy
///
/// A field that is present replaces the whole map (or policy); an absent one is left as it is.
/// A network policy takes effect at once, without a restart. Records a `sandbox.update` event
/// (and `sandbox.network` for network changes).
#[utoipa::path(
    patch,
    path = "/v1/sandboxes/{id}",
    tag = "sandboxes",
    operation_id = "update_sandbox",
    params(("id" = String, Path, description = SANDBOX_ID)),
    request_body = api::UpdateSandboxRequest,
    responses(
        (status = 200, description = "The sandbox as changed.", body = api::Sandbox),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = SandboxNotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn update(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Json(req): Json<api::UpdateSandboxRequest>,
) -> Result<axum::Json<api::Sandbox>, ApiError> {
    let network =
        (req.network.is_some() || req.public_ports.is_some()).then(|| warren_core::NetworkUpdate {
            egress: req.network.as_ref().map(convert::egress),
            public_ports: req.public_ports.clone(),
        });
    let change = UpdateSandbox {
        labels: req.labels,
        metadata: req.metadata,
        lifecycle: req.lifecycle.as_ref().map(convert::policy_input),
    };
    if let Some(n) = &network {
        n.validate()?;
    }
    let only_network = change.labels.is_none()
        && change.metadata.is_none()
        && change.lifecycle.is_none()
        && network.is_some();
    let mut sb = if only_network {
        st.core.get_sandbox(&id).await?
    } else {
        st.core.update_sandbox(&id, change, &who.key_name).await?
    };
    if let Some(network) = network {
        sb = st.core.update_network(&id, network, &who.key_name).await?;
    }
    Ok(axum::Json(convert::sandbox(sb)))
}

/// Delete a sandbox
///
/// Kills its processes and removes everything it wrote. Works in every state, `error`
/// included.
#[utoipa::path(
    delete,
    path = "/v1/sandboxes/{id}",
    tag = "sandboxes",
    operation_id = "delete_sandbox",
    params(("id" = String, Path, description = SANDBOX_ID)),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = SandboxNotFound),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn delete(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.core.delete_sandbox(&id, &who.key_name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Run a command
///
/// Runs one command in the sandbox. By default the call waits for the command to end and
/// answers with its whole output as JSON (`ExecResponse`).
///
/// With `Accept: text/event-stream` the answer is a stream of Server-Sent Events instead, sent
/// as the command runs: `event: start` (data `ProcessStarted`, with the pid), then any number of
/// `event: stdout` / `event: stderr` (data `OutputChunk`), and last `event: exit` (data
/// `ProcessExit`), or `event: error` (data `ErrorBody`) when the agent fails mid-stream. Only a
/// streaming exec may set `stdin: true` and feed the command through
/// `POST /v1/sandboxes/{id}/processes/{pid}/stdin`. The stream ends when the command does;
/// closing it early kills the command (use `POST /v1/sandboxes/{id}/processes` for a command
/// that should outlive the connection).
#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/exec",
    tag = "sandboxes",
    operation_id = "exec",
    params(
        ("id" = String, Path, description = SANDBOX_ID),
    ),
    request_body = api::ExecRequest,
    responses(
        (status = 200, description = "The command ran to its end (JSON), or runs and streams \
            its output (`text/event-stream`; each event's `data` is one JSON object: \
            `ProcessStarted`, `OutputChunk`, `ProcessExit` or `ErrorBody`).",
            content(
                (api::ExecResponse = "application/json"),
                (String = "text/event-stream", example = "event: start\ndata: {\"pid\":42}\n\n\
                    event: stdout\ndata: {\"data\":\"42\\n\"}\n\n\
                    event: exit\ndata: {\"exit_code\":0,\"timed_out\":false,\"status\":\"exit status 0\",\"duration_ms\":12}\n\n"),
            ),
        ),
        (status = 400, description = "`invalid_request`: a malformed body or a value out of \
            range, `stdin` without streaming, or an unknown program, user or working directory \
            (the message is the sandbox's).", body = api::ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: the API key has scope `read`. \
            `permission_denied`: the sandbox denied access.", body = api::ErrorBody),
        (status = 404, response = SandboxNotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
pub(crate) async fn exec(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(req): Json<api::ExecRequest>,
) -> Result<Response, ApiError> {
    let input = ExecInput {
        cmd: req.cmd,
        env: req.env,
        cwd: req.cwd,
        user: req.user,
        timeout_s: req.timeout_s,
    };
    if super::process_stream::wants_sse(&headers) {
        let stream = st.core.exec_stream(&id, input, req.stdin).await?;
        return Ok(super::process_stream::sse(stream));
    }
    if req.stdin {
        return Err(ApiError::invalid(
            "stdin: only a streaming exec (Accept: text/event-stream) can take input",
        ));
    }
    let out = st.core.exec(&id, input).await?;
    Ok(axum::Json(api::ExecResponse {
        exit_code: out.exit_code,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        truncated: out.truncated,
        timed_out: out.timed_out,
        duration_ms: u64::try_from(out.duration.as_millis()).unwrap_or(u64::MAX),
    })
    .into_response())
}
