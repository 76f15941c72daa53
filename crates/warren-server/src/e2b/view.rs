//! warren sandboxes as E2B describes them.

use axum::http::HeaderMap;
use axum::http::header::HOST;
use time::format_description::well_known::Rfc3339;
use warren_core::{Sandbox, SandboxState};

use super::labels::{E2bState, now_ms};
use super::models::{SandboxCreated, SandboxDetail};
use crate::AppState;

/// The envd version warren's agent serves: the SDKs turn features on by it.
pub(crate) const ENVD_VERSION: &str = warren_core::ENVD_COMPAT_VERSION;
/// `clientID` of every sandbox (E2B's names the cluster node; there is one here).
pub(crate) const CLIENT_ID: &str = "warren";

/// E2B knows two states: `running` (warren's creating and running) and `paused` (every state
/// that keeps the sandbox but runs nothing: paused, hibernated, archived, stopped). `None` for
/// sandboxes on their way out (deleting) or broken (error).
pub(crate) fn e2b_state(s: SandboxState) -> Option<&'static str> {
    match s {
        SandboxState::Creating | SandboxState::Running => Some("running"),
        SandboxState::Paused
        | SandboxState::Hibernated
        | SandboxState::Archived
        | SandboxState::Stopped => Some("paused"),
        SandboxState::Deleting | SandboxState::Error => None,
    }
}

/// RFC 3339 of Unix ms.
pub(crate) fn rfc3339(ms: i64) -> String {
    crate::convert::time_from_ms(ms)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// The sandbox domain the SDK builds `{port}-{id}.{domain}` host names with: the preview
/// domain, with the port the client reached this server on (so `get_host(port)` names this
/// server's preview proxy).
pub(crate) fn domain(st: &AppState, headers: &HeaderMap) -> String {
    let port = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    match port {
        Some(p) => format!("{}:{p}", st.preview_domain),
        None => st.preview_domain.clone(),
    }
}

/// The answer to create, connect and resume.
pub(crate) fn created(sb: &Sandbox, domain: String) -> SandboxCreated {
    SandboxCreated {
        template_id: E2bState::of(sb).template,
        sandbox_id: sb.id.clone(),
        client_id: CLIENT_ID,
        envd_version: ENVD_VERSION,
        envd_access_token: sb.spec.network.access_token.clone(),
        domain: Some(domain),
    }
}

/// The detail (`with_token`: `GET /sandboxes/{id}`) or list item of a sandbox.
pub(crate) fn detail(sb: &Sandbox, with_token: bool, domain: Option<String>) -> SandboxDetail {
    let st = E2bState::of(sb);
    let state = e2b_state(sb.state).unwrap_or("paused");
    let end = if state == "paused" && st.remaining_ms.is_none() {
        // Paused outside E2B (warren's API or an idle policy): its end stands still too.
        st.end_at_ms.max(now_ms())
    } else {
        st.reported_end_ms(now_ms())
    };
    SandboxDetail {
        template_id: st.template,
        sandbox_id: sb.id.clone(),
        client_id: CLIENT_ID,
        started_at: rfc3339(st.started_at_ms),
        end_at: rfc3339(end),
        envd_version: ENVD_VERSION,
        envd_access_token: with_token.then(|| sb.spec.network.access_token.clone()),
        domain,
        cpu_count: sb.spec.cpu.ceil().max(1.0) as u32,
        memory_mb: sb.spec.memory_mb,
        disk_size_mb: sb.spec.disk_mb,
        metadata: sb.metadata.clone(),
        state,
        allow_internet_access: Some(sb.spec.network.egress.mode != warren_core::NetworkMode::None),
    }
}
