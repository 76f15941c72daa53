//! What a key's scope allows: `read` keys may only read.
//!
//! A read-only key may use GET and HEAD routes (listing, fetching, reading
//! files, the event stream). Anything else, and any protocol upgrade (a
//! WebSocket, even on GET, can run commands), is `403 forbidden`.

use axum::http::header::UPGRADE;
use axum::http::{HeaderMap, Method};
use warren_api_types::ErrorCode;
use warren_core::{Principal, Scope};

use crate::ApiError;

/// Whether a key with `scope` may make a request with this method and headers.
pub(crate) fn allows(scope: Scope, method: &Method, headers: &HeaderMap) -> bool {
    match scope {
        Scope::Full => true,
        Scope::Read => {
            (method == Method::GET || method == Method::HEAD) && !headers.contains_key(UPGRADE)
        }
    }
}

/// `Err(403)` unless the principal's scope allows the request.
pub(crate) fn check(who: &Principal, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    if allows(who.scope, method, headers) {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::Forbidden,
        format!(
            "API key {:?} is read-only: it may only use GET and HEAD routes, not {method}",
            who.key_name
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_keys_only_read() {
        let none = HeaderMap::new();
        let mut ws = HeaderMap::new();
        ws.insert(UPGRADE, "websocket".parse().unwrap());
        for m in [Method::GET, Method::HEAD] {
            assert!(allows(Scope::Read, &m, &none));
        }
        for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(!allows(Scope::Read, &m, &none), "{m}");
            assert!(allows(Scope::Full, &m, &none), "{m}");
        }
        assert!(!allows(Scope::Read, &Method::GET, &ws));
        assert!(allows(Scope::Full, &Method::GET, &ws));
    }
}
