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

async fn list(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<api::ProcessList>, ApiError> {
    let items = st.core.list_processes(&id).await?;
    Ok(axum::Json(api::ProcessList {
        items: items.into_iter().map(process).collect(),
    }))
}

async fn events(
    State(st): State<AppState>,
    Path((id, raw)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let stream = st.core.process_events(&id, pid(&raw)?).await?;
    Ok(process_stream::sse(stream))
}

async fn stdin(
    State(st): State<AppState>,
    Path((id, raw)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    st.core.send_stdin(&id, pid(&raw)?, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn close_stdin(
    State(st): State<AppState>,
    Path((id, raw)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    st.core.close_stdin(&id, pid(&raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

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
