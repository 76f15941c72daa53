//! `Authorization: Bearer <key>` on every `/v1` route, or the web dashboard's session cookie
//! (with its CSRF guards; see `crate::ui::session`); `/mcp` takes the header only (see
//! `crate::mcp`).

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use warren_api_types::ErrorCode;
use warren_core::Principal;

use crate::{ApiError, AppState};

/// Reject the request unless it carries a valid API key (the header, or the dashboard's
/// session cookie standing for one), the key is within its rate limit and its scope allows the
/// request; on success the [`Principal`] is available to handlers as an extension.
pub(crate) async fn require_api_key(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, Response> {
    let token = match req.headers().get(AUTHORIZATION) {
        Some(_) => bearer(req.headers()),
        None => crate::ui::session::key_for_request(&state.sessions, req.method(), req.headers())
            .and_then(|key| key.ok_or_else(missing_key)),
    }
    .map_err(IntoResponse::into_response)?;
    let principal = check_key(&state, &token).await?;
    crate::scope::check(&principal, req.method(), req.headers())
        .map_err(IntoResponse::into_response)?;
    if let Some(id) = activity_of(req.method(), req.uri().path()) {
        state.core.note_activity(id);
    }
    req.extensions_mut().insert(principal);
    Ok(next.run(req).await)
}

/// The principal of a request's `Authorization: Bearer <key>` and the key itself, once the
/// key is valid and within its rate limit (the scope is the caller's to check). The error is
/// the response to send: `401 unauthorized` or `429 rate_limited`.
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(Principal, String), Response> {
    let token = bearer(headers).map_err(IntoResponse::into_response)?;
    let principal = check_key(state, &token).await?;
    Ok((principal, token))
}

/// The key in `Authorization: Bearer <key>`.
fn bearer(headers: &HeaderMap) -> Result<String, ApiError> {
    let header = headers.get(AUTHORIZATION).ok_or_else(missing_key)?;
    header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthorized,
                "malformed Authorization header: expected Bearer <key>",
            )
        })
}

fn missing_key() -> ApiError {
    ApiError::new(
        ErrorCode::Unauthorized,
        "missing API key: send Authorization: Bearer <key>",
    )
}

/// The principal of a valid key within its rate limit; else the response to send.
async fn check_key(state: &AppState, token: &str) -> Result<Principal, Response> {
    let principal = state.core.authenticate(token).await.map_err(|_| {
        ApiError::new(
            ErrorCode::Unauthorized,
            "invalid, expired or revoked API key",
        )
        .into_response()
    })?;
    if let Some(limited) = state.rate_limiter.check(&principal.key_id) {
        return Err(limited);
    }
    Ok(principal)
}

/// The sandbox an authenticated call is activity on (idle policies): any call about one
/// sandbox except watching it — reading the sandbox object or its metrics — so that a dashboard
/// or monitor looking at a sandbox does not keep it from idling out.
fn activity_of<'a>(method: &Method, path: &'a str) -> Option<&'a str> {
    let rest = path.strip_prefix("/v1/sandboxes/")?;
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if !sandbox_id_like(id) {
        return None;
    }
    let watching = *method == Method::GET && matches!(tail, "" | "metrics");
    (!watching).then_some(id)
}

/// Shaped like a sandbox id (`sb-` and up to 61 of `[a-z0-9]`): only such path segments are
/// noted as activity.
pub(crate) fn sandbox_id_like(s: &str) -> bool {
    s.len() <= 64
        && s.strip_prefix("sb-").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_counts_as_activity() {
        fn on(m: Method, p: &str) -> Option<&str> {
            activity_of(&m, p)
        }
        assert_eq!(
            on(Method::POST, "/v1/sandboxes/sb-abc123/exec"),
            Some("sb-abc123")
        );
        assert_eq!(
            on(Method::GET, "/v1/sandboxes/sb-abc123/files"),
            Some("sb-abc123")
        );
        assert_eq!(
            on(Method::GET, "/v1/sandboxes/sb-abc123/pty"),
            Some("sb-abc123")
        );
        assert_eq!(
            on(Method::PATCH, "/v1/sandboxes/sb-abc123"),
            Some("sb-abc123")
        );
        assert_eq!(on(Method::GET, "/v1/sandboxes/sb-abc123"), None);
        assert_eq!(on(Method::GET, "/v1/sandboxes/sb-abc123/metrics"), None);
        assert_eq!(on(Method::GET, "/v1/sandboxes"), None);
        assert_eq!(on(Method::POST, "/v1/sandboxes/../x"), None);
    }
}
