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
use crate::{ApiError, AppState, convert};

/// `/sandboxes...` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sandboxes", post(create).get(list))
        .route("/sandboxes/{id}", get(get_one).patch(update).delete(delete))
        .route("/sandboxes/{id}/exec", post(exec))
}

pub(crate) async fn create(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Json(req): Json<api::CreateSandboxRequest>,
) -> Result<(StatusCode, axum::Json<api::Sandbox>), ApiError> {
    let input = CreateSandbox {
        image: req.image,
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
    };
    let sb = st.core.create_sandbox(input, &who.key_name).await?;
    Ok((StatusCode::CREATED, axum::Json(convert::sandbox(sb))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    cursor: Option<String>,
    limit: Option<u32>,
    /// Only sandboxes in this state.
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

pub(crate) async fn get_one(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<api::Sandbox>, ApiError> {
    Ok(axum::Json(convert::sandbox(
        st.core.get_sandbox(&id).await?,
    )))
}

pub(crate) async fn update(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Json(req): Json<api::UpdateSandboxRequest>,
) -> Result<axum::Json<api::Sandbox>, ApiError> {
    let change = UpdateSandbox {
        labels: req.labels,
        metadata: req.metadata,
    };
    let sb = st.core.update_sandbox(&id, change, &who.key_name).await?;
    Ok(axum::Json(convert::sandbox(sb)))
}

pub(crate) async fn delete(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.core.delete_sandbox(&id, &who.key_name).await?;
    Ok(StatusCode::NO_CONTENT)
}

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
