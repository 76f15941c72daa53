//! Dashboard sessions: an API key traded for an HttpOnly cookie.
//!
//! Flow: the sign-in form posts the key to `POST /ui/session`; the daemon checks it, makes a
//! random 256-bit session token, keeps only the token's SHA-256 (with the key, so every request
//! is authorized exactly as the key would be — a revoked or expired key ends its sessions at
//! once) and sets the token as the `warren_session` cookie (`HttpOnly; SameSite=Strict`, plus
//! `Secure` when the page came over HTTPS). [`crate::auth`] then accepts that cookie wherever it
//! accepts `Authorization: Bearer`, with two CSRF guards on top of SameSite:
//!
//! 1. a cookie-authenticated request that is not GET/HEAD must carry `X-Warren-Csrf: 1` — a
//!    header no cross-site form can send, and that a cross-site `fetch` cannot send without a
//!    CORS preflight this daemon never grants;
//! 2. a cookie-authenticated WebSocket upgrade must come from a page of this origin (`Origin`
//!    equals `Host`), since browsers send cookies on cross-site WebSocket handshakes.
//!
//! Sessions live in memory: a daemon restart signs everyone out (they sign in again with their
//! key). They last [`SESSION_TTL`] from sign-in; `DELETE /ui/session` ends one at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::header::{COOKIE, HOST, ORIGIN, UPGRADE};
use axum::http::{HeaderMap, Method};
use sha2::{Digest, Sha256};
use warren_api_types::ErrorCode;

use crate::ApiError;

/// The cookie's name.
pub(crate) const COOKIE_NAME: &str = "warren_session";
/// The header a cookie-authenticated state-changing request must carry.
pub(crate) const CSRF_HEADER: &str = "x-warren-csrf";
/// How long a session lasts after sign-in.
pub(crate) const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Most sessions kept at once; signing in beyond it drops the oldest.
const MAX_SESSIONS: usize = 10_000;

/// The dashboard's signed-in sessions (in memory, shared by clones).
#[derive(Clone, Default)]
pub struct Sessions {
    inner: Arc<Mutex<HashMap<[u8; 32], Session>>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys.
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

/// One session: the key it stands for, until when.
struct Session {
    secret: String,
    created: Instant,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    /// Start a session for an (already checked) API key; returns the cookie's token.
    pub(crate) fn create(&self, secret: String) -> Result<String, ApiError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| {
            ApiError::new(
                ErrorCode::Internal,
                format!("no randomness for a session: {e}"),
            )
        })?;
        let token = hex::encode(bytes);
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.created.elapsed() < SESSION_TTL);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(
            digest(&token),
            Session {
                secret,
                created: Instant::now(),
            },
        );
        Ok(token)
    }

    /// The API key of a live session.
    pub(crate) fn key_of(&self, token: &str) -> Option<String> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let d = digest(token);
        match map.get(&d) {
            Some(s) if s.created.elapsed() < SESSION_TTL => Some(s.secret.clone()),
            Some(_) => {
                map.remove(&d);
                None
            }
            None => None,
        }
    }

    /// End a session (no-op when it does not exist).
    pub(crate) fn remove(&self, token: &str) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&digest(token));
    }
}

/// The session token in a request's `Cookie` headers, if any.
pub(crate) fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// For a request without `Authorization`: the API key its session cookie stands for.
/// `Ok(None)` when it has no session cookie; `401` for an unknown or expired session, `403` when
/// a CSRF guard (see the module doc) fails.
pub(crate) fn key_for_request(
    sessions: &Sessions,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<String>, ApiError> {
    let Some(token) = cookie_token(headers) else {
        return Ok(None);
    };
    let secret = sessions.key_of(token).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unauthorized,
            "your dashboard session ended: sign in again",
        )
    })?;
    check_csrf(method, headers)?;
    Ok(Some(secret))
}

/// The CSRF guards of a cookie-authenticated request (see the module doc).
pub(crate) fn check_csrf(method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    let forbidden = |m: &str| ApiError::new(ErrorCode::Forbidden, m);
    if headers.contains_key(UPGRADE) && !same_origin(headers) {
        return Err(forbidden(
            "a WebSocket authenticated by the dashboard's cookie must come from the dashboard's \
             own origin",
        ));
    }
    let reads = *method == Method::GET || *method == Method::HEAD;
    if !reads && headers.get(CSRF_HEADER).is_none_or(|v| v != "1") {
        return Err(forbidden(
            "a request authenticated by the dashboard's cookie must send X-Warren-Csrf: 1",
        ));
    }
    Ok(())
}

/// Whether `Origin` names the host the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let (Some(origin), Some(host)) = (headers.get(ORIGIN), headers.get(HOST)) else {
        return false;
    };
    let (Ok(origin), Ok(host)) = (origin.to_str(), host.to_str()) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

/// The `Set-Cookie` value that starts a session.
pub(crate) fn set_cookie(token: &str, secure: bool) -> String {
    format!(
        "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_TTL.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that ends one.
pub(crate) fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderName;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn sessions_map_tokens_to_keys_by_hash() {
        let s = Sessions::default();
        let t = s.create("wk_secret".into()).unwrap();
        assert_eq!(t.len(), 64);
        assert_eq!(s.key_of(&t).as_deref(), Some("wk_secret"));
        assert!(s.key_of("other").is_none());
        s.remove(&t);
        assert!(s.key_of(&t).is_none());
        assert!(!format!("{s:?}").contains("wk_secret"));
    }

    #[test]
    fn cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; warren_session=abc ; b=2")]);
        assert_eq!(cookie_token(&h), Some("abc"));
        assert_eq!(
            cookie_token(&headers(&[("cookie", "warren_session=")])),
            None
        );
        assert_eq!(cookie_token(&HeaderMap::new()), None);
    }

    #[test]
    fn csrf_guards() {
        let get = Method::GET;
        let post = Method::POST;
        assert!(check_csrf(&get, &HeaderMap::new()).is_ok());
        assert!(check_csrf(&post, &HeaderMap::new()).is_err());
        assert!(check_csrf(&post, &headers(&[("x-warren-csrf", "1")])).is_ok());
        let ws = |origin: &str| {
            headers(&[
                ("upgrade", "websocket"),
                ("host", "127.0.0.1:7070"),
                ("origin", origin),
            ])
        };
        assert!(check_csrf(&get, &ws("http://127.0.0.1:7070")).is_ok());
        assert!(check_csrf(&get, &ws("https://127.0.0.1:7070")).is_ok());
        assert!(check_csrf(&get, &ws("http://evil.example")).is_err());
        assert!(check_csrf(&get, &headers(&[("upgrade", "websocket")])).is_err());
    }

    #[test]
    fn cookies_are_http_only_and_strict() {
        let c = set_cookie("t", false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"));
        assert!(set_cookie("t", true).ends_with("; Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }
}
