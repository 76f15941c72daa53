//! Pause (= warren's hibernate: memory written to disk and released), connect (resumes a
//! paused sandbox: 201; a running one: 200) and the older resume route.
//!
//! The clock: a running sandbox ends at `end_at`. Pausing keeps what was left of its time and
//! stops the clock; resuming starts it again with the time asked for (or, if none was, what
//! was left, or E2B's default five minutes when nothing was).

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use warren_core::{Core, LifecycleOp, Principal, Sandbox, SandboxState};

use super::body::Json;
use super::error::E2bError;
use super::labels::{self, E2bState, now_ms};
use super::models::{SandboxCreated, TimeoutBody};
use super::sandboxes::{DEFAULT_TIMEOUT_S, find, timeout_ms};
use super::view;
use crate::AppState;

/// States E2B calls paused.
const PAUSED: &[SandboxState] = &[
    SandboxState::Hibernated,
    SandboxState::Archived,
    SandboxState::Stopped,
];

/// Hibernate `sb` and stop its clock. `Ok(false)`: it was paused already.
pub(crate) async fn pause_sandbox(
    core: &Core,
    sb: &Sandbox,
    actor: &str,
) -> Result<bool, E2bError> {
    if PAUSED.contains(&sb.state) {
        return Ok(false);
    }
    let mut state = E2bState::of(sb);
    let left = (state.end_at_ms - now_ms()).max(0);
    match core
        .change_sandbox_state(&sb.id, LifecycleOp::Hibernate, actor)
        .await
    {
        Ok(paused) => {
            state.remaining_ms = Some(left);
            labels::save(core, &paused, &state, actor).await?;
            Ok(true)
        }
        Err(e) if super::error::wrong_state_is(&e, PAUSED) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `POST /sandboxes/{id}/pause` → 204; 409 when it is paused already.
pub(crate) async fn pause(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, E2bError> {
    let sb = find(&st, &id).await?;
    if sb.state == SandboxState::Creating || sb.state == SandboxState::Error {
        return Err(E2bError::conflict(format!(
            "sandbox {id} cannot be paused while it is {}",
            sb.state
        )));
    }
    if pause_sandbox(&st.core, &sb, &who.key_name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(E2bError::conflict(format!(
            "sandbox {id} is already paused"
        )))
    }
}

/// `POST /v2/sandboxes/{id}/connect`: 200 with a running sandbox (its end moved later if the
/// timeout asks), 201 with a paused one resumed.
pub(crate) async fn connect(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<TimeoutBody>,
) -> Result<(StatusCode, axum::Json<SandboxCreated>), E2bError> {
    let sb = find(&st, &id).await?;
    let (status, sb) = wake(&st.core, sb, &body, &who.key_name).await?;
    Ok((
        status,
        axum::Json(view::created(&sb, view::domain(&st, &headers))),
    ))
}

/// `POST /sandboxes/{id}/resume` (older SDKs): 201, or 409 when it runs.
pub(crate) async fn resume(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<TimeoutBody>,
) -> Result<(StatusCode, axum::Json<SandboxCreated>), E2bError> {
    let sb = find(&st, &id).await?;
    if matches!(sb.state, SandboxState::Running | SandboxState::Creating) {
        return Err(E2bError::conflict(format!(
            "sandbox {id} is already running"
        )));
    }
    let (_, sb) = wake(&st.core, sb, &body, &who.key_name).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(view::created(&sb, view::domain(&st, &headers))),
    ))
}

/// Make `sb` run and set its clock; 200 if it ran already, 201 if it was resumed.
async fn wake(
    core: &Core,
    sb: Sandbox,
    body: &TimeoutBody,
    actor: &str,
) -> Result<(StatusCode, Sandbox), E2bError> {
    let asked = body.timeout.map(|s| timeout_ms("timeout", s)).transpose()?;
    let mut state = E2bState::of(&sb);
    if let Some(auto_pause) = body.auto_pause {
        state.auto_pause = auto_pause;
    }
    let now = now_ms();
    let op = match sb.state {
        SandboxState::Running | SandboxState::Creating => {
            if let Some(ms) = asked {
                state.end_at_ms = state.end_at_ms.max(now + ms);
            }
            if asked.is_some() || body.auto_pause.is_some() {
                let sb = labels::save(core, &sb, &state, actor).await?;
                return Ok((StatusCode::OK, sb));
            }
            return Ok((StatusCode::OK, sb));
        }
        SandboxState::Paused | SandboxState::Hibernated | SandboxState::Archived => {
            LifecycleOp::Resume
        }
        SandboxState::Stopped => LifecycleOp::Start,
        other => {
            return Err(E2bError::conflict(format!(
                "sandbox {} cannot be resumed: it is {other}{}",
                sb.id,
                sb.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            )));
        }
    };
    let resumed = match core.change_sandbox_state(&sb.id, op, actor).await {
        Ok(s) => s,
        // Someone else resumed it between our read and our lock.
        Err(e) if super::error::wrong_state_is(&e, &[SandboxState::Running]) => {
            core.get_sandbox(&sb.id).await?
        }
        Err(e) => return Err(e.into()),
    };
    let left = state.remaining_ms.filter(|r| *r > 0);
    let default_ms = i64::try_from(DEFAULT_TIMEOUT_S).unwrap_or(300) * 1000;
    state.end_at_ms = now_ms() + asked.or(left).unwrap_or(default_ms);
    state.remaining_ms = None;
    state.started_at_ms = now_ms();
    let sb = labels::save(core, &resumed, &state, actor).await?;
    Ok((StatusCode::CREATED, sb))
}
