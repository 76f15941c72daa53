//! `/v1/sandboxes/{id}/processes`: background processes, their output, stdin and signals.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use warren_api_types as api;
use warren_core::{ExecInput, ProcessSignal, RunningProcess, StartProcess};

use super::process_stream;
use crate::json::Json;
use crate::openapi::{
    AgentError, BadRequest, Conflict, Forbidden, Internal, PID, PayloadTooLarge, ProcessNotFound,
    RateLimited, SANDBOX_ID, SandboxNotFound, Unauthorized,
};
use crate::{ApiError, AppState};

/// `/sandboxes/{id}/processes...` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sandboxes/{id}/processes", post(start).get(list))
        .route("/sandboxes/{id}/processes/{pid}/events", get(events))
        .route("/sandboxes/{id}/processes/{pid}/stdin", post(stdin))
        .route(
            "/sandboxes/{id}/processes/{pid}/stdin/close",
            post(close_stdin),
        )
        .route("/sandboxes/{id}/processes/{pid}/signal", post(signal))
}

/// The OpenAPI operations of [`routes`].
#[derive(utoipa::OpenApi)]
#[openapi(paths(start, list, events, stdin, close_stdin, signal))]
pub(crate) struct Api;

fn pid(raw: &str) -> Result<u32, ApiError> {
    raw.parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| ApiError::invalid(format!("pid: '{raw}' is not a process id")))
}

fn process(p: RunningProcess) -> api::Process {
    api::Process {
        pid: p.pid,
        tag: p.tag,
        cmd: p.cmd,
        cwd: p.cwd,
    }
}

/// Start a background process
///
/// Starts the command and answers as soon as it runs, without waiting for it. Follow its
/// output with `GET .../processes/{pid}/events`; it runs until it ends, its `timeout_s` passes,
/// it is signalled, or the sandbox is deleted.
#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/processes",
    tag = "processes",
    operation_id = "start_process",
    params(("id" = String, Path, description = SANDBOX_ID)),
    request_body = api::StartProcessRequest,
    responses(
        (status = 201, description = "The process, running.", body = api::Process),
        (status = 400, description = "`invalid_request`: a malformed body or a value out of \
            range, or an unknown program, user or working directory (the message is the \
            sandbox's).", body = api::ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = SandboxNotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
async fn start(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Json(req): Json<api::StartProcessRequest>,
) -> Result<(StatusCode, axum::Json<api::Process>), ApiError> {
    let input = StartProcess {
        exec: ExecInput {
            cmd: req.cmd,
            env: req.env,
            cwd: req.cwd,
            user: req.user,
            timeout_s: req.timeout_s,
        },
        stdin: req.stdin,
        tag: req.tag,
    };
    let p = st.core.start_process(&id, input).await?;
    Ok((StatusCode::CREATED, axum::Json(process(p))))
}

/// List processes
///
/// The processes started through warren (and the sandbox's main process, tagged `main`) that
/// still run.
#[utoipa::path(
    get,
    path = "/v1/sandboxes/{id}/processes",
    tag = "processes",
    operation_id = "list_processes",
    params(("id" = String, Path, description = SANDBOX_ID)),
    responses(
        (status = 200, description = "The running processes.", body = api::ProcessList),
        (status = 401, response = Unauthorized),
        (status = 404, response = SandboxNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
async fn list(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<api::ProcessList>, ApiError> {
    let items = st.core.list_processes(&id).await?;
    Ok(axum::Json(api::ProcessList {
        items: items.into_iter().map(process).collect(),
    }))
}

/// Follow a process's output
///
/// Attaches to the process's output from now on, as Server-Sent Events, until it ends:
/// `event: start` (data `ProcessStarted`), then `event: stdout` / `event: stderr` (data
/// `OutputChunk`), and last `event: exit` (data `ProcessExit`), or `event: error` (data
/// `ErrorBody`) when the agent fails mid-stream. Output written before the call is not
/// replayed. Closing the stream detaches; the process keeps running.
#[utoipa::path(
    get,
    path = "/v1/sandboxes/{id}/processes/{pid}/events",
    tag = "processes",
    operation_id = "process_events",
    params(
        ("id" = String, Path, description = SANDBOX_ID),
        ("pid" = u32, Path, description = PID),
    ),
    responses(
        (status = 200, description = "The process's events as Server-Sent Events; each \
            event's `data` is one JSON object (`ProcessStarted`, `OutputChunk`, `ProcessExit` \
            or `ErrorBody`).",
            content((String = "text/event-stream", example = "event: start\ndata: {\"pid\":42}\n\n\
                event: stderr\ndata: {\"data\":\"warming up\\n\"}\n\n\
                event: exit\ndata: {\"exit_code\":0,\"timed_out\":false,\"status\":\"exit status 0\",\"duration_ms\":5012}\n\n"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = ProcessNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
async fn events(
    State(st): State<AppState>,
    Path((id, raw)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let stream = st.core.process_events(&id, pid(&raw)?).await?;
    Ok(process_stream::sse(stream))
}

/// Write to a process's stdin
///
/// The raw body is written to the process's stdin as it is. The process must have been
/// started with `stdin: true`.
#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/processes/{pid}/stdin",
    tag = "processes",
    operation_id = "write_stdin",
    params(
        ("id" = String, Path, description = SANDBOX_ID),
        ("pid" = u32, Path, description = PID),
    ),
    request_body(description = "Bytes for the process's stdin (at most 1 MiB per call).",
        content((Vec<u8> = "application/octet-stream"))),
    responses(
        (status = 204, description = "Written."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = ProcessNotFound),
        (status = 409, description = "`conflict`: the sandbox is not running, or the process \
            has no open stdin.", body = api::ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB. (This answer is plain \
            text, not an `ErrorBody`.)", body = String, content_type = "text/plain"),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
async fn stdin(
    State(st): State<AppState>,
    Path((id, raw)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    st.core.send_stdin(&id, pid(&raw)?, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Close a process's stdin
///
/// The process reads end-of-file.
#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/processes/{pid}/stdin/close",
    tag = "processes",
    operation_id = "close_stdin",
    params(
        ("id" = String, Path, description = SANDBOX_ID),
        ("pid" = u32, Path, description = PID),
    ),
    responses(
        (status = 204, description = "Closed (also when it was not open)."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = ProcessNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
async fn close_stdin(
    State(st): State<AppState>,
    Path((id, raw)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    st.core.close_stdin(&id, pid(&raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Signal a process
///
/// Sends `TERM` (ask it to end) or `KILL` (end it now).
#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/processes/{pid}/signal",
    tag = "processes",
    operation_id = "signal_process",
    params(
        ("id" = String, Path, description = SANDBOX_ID),
        ("pid" = u32, Path, description = PID),
    ),
    request_body = api::SignalRequest,
    responses(
        (status = 204, description = "Sent."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = ProcessNotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
async fn signal(
    State(st): State<AppState>,
    Path((id, raw)): Path<(String, String)>,
    Json(req): Json<api::SignalRequest>,
) -> Result<StatusCode, ApiError> {
    let sig = match req.signal {
        api::SignalName::Term => ProcessSignal::Term,
        api::SignalName::Kill => ProcessSignal::Kill,
    };
    st.core.signal_process(&id, pid(&raw)?, sig).await?;
    Ok(StatusCode::NO_CONTENT)
}
