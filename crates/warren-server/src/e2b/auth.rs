//! `X-API-KEY: <warren API key>` on every E2B control-plane route: the same keys, scopes and
//! rate limit as `Authorization: Bearer` on `/v1` (which is accepted here too), with errors in
//! E2B's shape.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, RETRY_AFTER};
use axum::middleware::Next;
use axum::response::Response;
use warren_core::Principal;

use super::error::E2bError;
use crate::AppState;

/// The header E2B's SDKs send the API key in.
const API_KEY_HEADER: &str = "x-api-key";

/// Reject the request unless it carries a valid key within its rate limit and scope; on
/// success the [`Principal`] is available to handlers as an extension.
pub(crate) async fn require_api_key(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, E2bError> {
    let headers = req.headers();
    let key = headers
        .get(API_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .or_else(|| {
            headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
        })
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            E2bError::unauthorized("missing API key: send X-API-KEY: <warren API key>")
        })?;
    let principal: Principal = state
        .core
        .authenticate(key)
        .await
        .map_err(|_| E2bError::unauthorized("invalid, expired or revoked API key"))?;
    if let Some(limited) = state.rate_limiter.check(&principal.key_id) {
        let secs = limited
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        return Err(E2bError {
            retry_after: Some(secs),
            ..E2bError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("rate limit exceeded for this API key; retry in {secs} s"),
            )
        });
    }
    crate::scope::check(&principal, req.method(), req.headers())
        .map_err(|e| E2bError::new(StatusCode::FORBIDDEN, e.message))?;
    req.extensions_mut().insert(principal);
    Ok(next.run(req).await)
}
