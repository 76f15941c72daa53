//! Create, get, kill, set timeout and refresh.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use warren_core::{CreateSandbox, EgressPolicy, NetworkMode, PolicyInput, Principal, SandboxState};

use super::body::Json;
use super::error::E2bError;
use super::labels::{self, E2bState, now_ms};
use super::models::{NewSandbox, RefreshBody, SandboxCreated, SandboxDetail, TimeoutBody};
use super::templates::{self, Source};
use super::view;
use crate::AppState;

/// E2B's default sandbox lifetime, seconds.
pub(crate) const DEFAULT_TIMEOUT_S: u64 = 300;
/// Longest lifetime one call may give: 30 days (E2B's plans cap it lower).
const MAX_TIMEOUT_S: u64 = 30 * 24 * 3600;
/// Longest `templateID` (it is kept in a label).
const MAX_TEMPLATE_LEN: usize = 63;

/// A `timeout` in seconds, checked, as milliseconds.
pub(crate) fn timeout_ms(field: &str, secs: u64) -> Result<i64, E2bError> {
    if !(1..=MAX_TIMEOUT_S).contains(&secs) {
        return Err(E2bError::bad_request(format!(
            "{field} must be 1..={MAX_TIMEOUT_S} seconds, not {secs}"
        )));
    }
    Ok(i64::try_from(secs).unwrap_or(i64::MAX / 2_000) * 1000)
}

/// `POST /sandboxes`: boot the template; it ends `timeout` seconds from now.
pub(crate) async fn create(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    Json(req): Json<NewSandbox>,
) -> Result<(StatusCode, axum::Json<SandboxCreated>), E2bError> {
    if req.mcp.as_ref().is_some_and(|m| !m.is_null()) {
        return Err(E2bError::bad_request(
            "MCP gateways are not supported by warren",
        ));
    }
    if req.volume_mounts.as_ref().is_some_and(|v| !v.is_empty()) {
        return Err(E2bError::bad_request(
            "volume mounts are not supported by warren",
        ));
    }
    let template = req.template_id.trim().to_owned();
    if template.chars().count() > MAX_TEMPLATE_LEN {
        return Err(E2bError::bad_request(format!(
            "templateID is longer than {MAX_TEMPLATE_LEN} characters: use an alias \
             (--e2b-template alias=IMAGE)"
        )));
    }
    let life_ms = timeout_ms("timeout", req.timeout.unwrap_or(DEFAULT_TIMEOUT_S))?;
    let source = templates::resolve(&st.core, &st.e2b, &template).await?;
    let now = now_ms();
    let state = E2bState {
        template,
        end_at_ms: now + life_ms,
        remaining_ms: None,
        auto_pause: req.auto_pause.unwrap_or(false),
        started_at_ms: now,
    };
    let mut labels = BTreeMap::new();
    state.apply(&mut labels);
    let (image, snapshot) = match source {
        Source::Image(i) => (i, None),
        Source::Snapshot(s) => (String::new(), Some(s)),
    };
    let input = CreateSandbox {
        image,
        snapshot,
        env: req.env_vars.unwrap_or_default(),
        labels,
        metadata: req.metadata.unwrap_or_default(),
        // E2B's timeout governs its life: warren's idle and ttl rules are off.
        lifecycle: PolicyInput {
            idle_timeout_s: Some(0),
            ttl_s: Some(0),
            ..PolicyInput::default()
        },
        network: (req.allow_internet_access == Some(false)).then(|| EgressPolicy {
            mode: NetworkMode::None,
            ..EgressPolicy::default()
        }),
        ..CreateSandbox::default()
    };
    let sb = st.core.create_sandbox(input, &who.key_name).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(view::created(&sb, view::domain(&st, &headers))),
    ))
}

/// `GET /sandboxes/{id}`.
pub(crate) async fn get(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<axum::Json<SandboxDetail>, E2bError> {
    let sb = find(&st, &id).await?;
    Ok(axum::Json(view::detail(
        &sb,
        true,
        Some(view::domain(&st, &headers)),
    )))
}

/// `DELETE /sandboxes/{id}` → 204.
pub(crate) async fn kill(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, E2bError> {
    find(&st, &id).await?;
    st.core.delete_sandbox(&id, &who.key_name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /sandboxes/{id}/timeout`: it now ends `timeout` seconds from now (earlier or later).
pub(crate) async fn set_timeout(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<TimeoutBody>,
) -> Result<StatusCode, E2bError> {
    let secs = body
        .timeout
        .ok_or_else(|| E2bError::bad_request("timeout is required"))?;
    let ms = timeout_ms("timeout", secs)?;
    let sb = find(&st, &id).await?;
    let mut state = E2bState::of(&sb);
    if state.remaining_ms.is_some() {
        // Paused: the clock stands still; the new time counts from the resume.
        state.remaining_ms = Some(ms);
    } else {
        state.end_at_ms = now_ms() + ms;
    }
    labels::save(&st.core, &sb, &state, &who.key_name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /sandboxes/{id}/refreshes`: it lives at least `duration` more seconds.
pub(crate) async fn refresh(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<RefreshBody>,
) -> Result<StatusCode, E2bError> {
    let secs = body.duration.unwrap_or(DEFAULT_TIMEOUT_S);
    let ms = timeout_ms("duration", secs)?;
    let sb = find(&st, &id).await?;
    let mut state = E2bState::of(&sb);
    if sb.state == SandboxState::Running || sb.state == SandboxState::Creating {
        state.end_at_ms = state.end_at_ms.max(now_ms() + ms);
        labels::save(&st.core, &sb, &state, &who.key_name).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The sandbox, or E2B's 404 (also for one being deleted).
pub(crate) async fn find(st: &AppState, id: &str) -> Result<warren_core::Sandbox, E2bError> {
    match st.core.get_sandbox(id).await {
        Ok(sb) if sb.state == SandboxState::Deleting => Err(E2bError::sandbox_not_found(id)),
        Ok(sb) => Ok(sb),
        Err(e) if e.kind() == warren_core::ErrorKind::SandboxNotFound => {
            Err(E2bError::sandbox_not_found(id))
        }
        Err(e) => Err(e.into()),
    }
}
