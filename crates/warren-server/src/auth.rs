//! `Authorization: Bearer <key>` on every `/v1` route.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use warren_api_types::ErrorCode;
use warren_core::Principal;

use crate::{ApiError, AppState};

/// Reject the request unless it carries a valid API key, the key is within
/// its rate limit and its scope allows the request; on success the
/// [`Principal`] is available to handlers as an extension.
pub(crate) async fn require_api_key(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let unauthorized = |m: &str| ApiError::new(ErrorCode::Unauthorized, m);
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing API key: send Authorization: Bearer <key>"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| unauthorized("malformed Authorization header: expected Bearer <key>"))?;
    let principal: Principal = state
        .core
        .authenticate(token)
        .await
        .map_err(|_| unauthorized("invalid, expired or revoked API key"))?;
    if let Some(limited) = state.rate_limiter.check(&principal.key_id) {
        return Ok(limited);
    }
    crate::scope::check(&principal, req.method(), req.headers())?;
    req.extensions_mut().insert(principal);
    Ok(next.run(req).await)
}
