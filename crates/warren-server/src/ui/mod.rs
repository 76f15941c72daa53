//! The web dashboard: static files under `/ui/` (a single page of small ES modules, embedded
//! in the binary; see [`assets`]), `/` redirecting there, and the sign-in session at
//! `/ui/session` (see [`session`]).
//!
//! The page itself needs no key: it is the same for everyone and holds no data. Everything it
//! shows comes from the `/v1` API, called with the session cookie.

mod assets;
pub(crate) mod session;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::{LOCATION, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use warren_api_types::ErrorCode;
use warren_core::Scope;

pub use session::Sessions;

use crate::json::Json;
use crate::{ApiError, AppState};

/// `/`, `/ui`, `/ui/`, `/ui/{file}` and `/ui/session`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(redirect))
        .route("/ui", get(redirect))
        .route("/ui/", get(index))
        .route("/ui/session", get(whoami).post(sign_in).delete(sign_out))
        .route("/ui/{*path}", get(file))
}

async fn redirect() -> Response {
    (
        StatusCode::SEE_OTHER,
        [(LOCATION, HeaderValue::from_static("/ui/"))],
    )
        .into_response()
}

async fn index(headers: HeaderMap) -> Response {
    assets::find("index.html")
        .expect("index.html is embedded")
        .respond(&headers)
}

async fn file(Path(path): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let asset = assets::find(&path)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no route for /ui/{path}")))?;
    Ok(asset.respond(&headers))
}

/// `POST /ui/session` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    /// The API key.
    key: String,
}

/// Who a session is.
#[derive(Serialize)]
struct Whoami {
    key_name: String,
    key_id: String,
    scope: &'static str,
}

fn scope_name(s: Scope) -> &'static str {
    match s {
        Scope::Full => "full",
        Scope::Read => "read",
    }
}

/// Whether the page was loaded over HTTPS (directly or through a TLS-terminating proxy): the
/// browser's `Origin` says so.
fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get(ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_some_and(|o| o.starts_with("https://"))
}

/// Trade an API key for a session cookie. Needs `X-Warren-Csrf: 1` like every cookie-backed
/// write, so another site cannot sign a browser in with its own key.
async fn sign_in(
    State(st): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<SignIn>,
) -> Result<Response, ApiError> {
    session::check_csrf(&Method::POST, &headers)?;
    let key = body.key.trim().to_owned();
    let who = st.core.authenticate(&key).await.map_err(|_| {
        ApiError::new(
            ErrorCode::Unauthorized,
            "invalid, expired or revoked API key",
        )
    })?;
    if let Some(limited) = st.rate_limiter.check(&who.key_id) {
        return Ok(limited);
    }
    let token = st.sessions.create(key)?;
    let cookie = session::set_cookie(&token, over_https(&headers));
    let body = Whoami {
        key_name: who.key_name,
        key_id: who.key_id,
        scope: scope_name(who.scope),
    };
    Ok((
        [(
            SET_COOKIE,
            HeaderValue::from_str(&cookie).expect("hex token"),
        )],
        axum::Json(body),
    )
        .into_response())
}

/// The signed-in key, or `401`.
async fn whoami(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let unauthorized = || ApiError::new(ErrorCode::Unauthorized, "not signed in");
    let token = session::cookie_token(&headers).ok_or_else(unauthorized)?;
    let key = st.sessions.key_of(token).ok_or_else(unauthorized)?;
    let who = st
        .core
        .authenticate(&key)
        .await
        .map_err(|_| unauthorized())?;
    Ok(axum::Json(Whoami {
        key_name: who.key_name,
        key_id: who.key_id,
        scope: scope_name(who.scope),
    })
    .into_response())
}

/// End the session and clear the cookie.
async fn sign_out(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    session::check_csrf(&Method::DELETE, &headers)?;
    if let Some(token) = session::cookie_token(&headers) {
        st.sessions.remove(token);
    }
    let cookie = session::clear_cookie(over_https(&headers));
    Ok((
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, HeaderValue::from_str(&cookie).expect("ascii"))],
    )
        .into_response())
}
