//! E2B-shaped errors: every answer that is not a success is `{"code": <HTTP status>, "message"}`,
//! as E2B's API writes them (the SDK parses every error body, unknown routes included).

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use warren_core::{CoreError, ErrorKind, SandboxState};

/// An error as the E2B routes answer it.
#[derive(Debug, Clone)]
pub(crate) struct E2bError {
    /// HTTP status (also the body's `code`).
    pub(crate) status: StatusCode,
    /// Human message.
    pub(crate) message: String,
    /// Seconds to wait, for a 429.
    pub(crate) retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: u16,
    message: &'a str,
}

impl E2bError {
    /// An error with this status and message.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401.
    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 404 for a sandbox id.
    pub(crate) fn sandbox_not_found(id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("sandbox {id} not found"))
    }

    /// 409.
    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
}

impl From<CoreError> for E2bError {
    fn from(e: CoreError) -> Self {
        let status = match e.kind() {
            ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorKind::SandboxNotFound
            | ErrorKind::ImageNotFound
            | ErrorKind::FileNotFound
            | ErrorKind::ProcessNotFound
            | ErrorKind::SnapshotNotFound
            | ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Registry | ErrorKind::Agent | ErrorKind::PortUnreachable => {
                StatusCode::BAD_GATEWAY
            }
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = e.chain();
        if status.is_server_error() {
            tracing::error!(error = %message, "E2B request failed");
        }
        Self::new(status, message)
    }
}

impl IntoResponse for E2bError {
    fn into_response(self) -> Response {
        let body = Body {
            code: self.status.as_u16(),
            message: &self.message,
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Is this core error "the sandbox is in the wrong state" with the sandbox in `state`?
pub(crate) fn wrong_state_is(e: &CoreError, wanted: &[SandboxState]) -> bool {
    matches!(e, CoreError::WrongState { state, .. } if wanted.contains(state))
}

/// Fallback for unknown routes under the E2B prefix.
pub(crate) async fn not_found(uri: Uri) -> E2bError {
    E2bError::new(
        StatusCode::NOT_FOUND,
        format!("no E2B route for {}", uri.path()),
    )
}

/// Fallback for a known E2B route with the wrong method.
pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> E2bError {
    E2bError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}
