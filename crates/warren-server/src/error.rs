//! API errors: a stable code, a message, and the matching HTTP status.

use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use warren_api_types::{ErrorBody, ErrorCode, ErrorDetail};
use warren_core::{CoreError, ErrorKind};

/// An error as the API returns it.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Stable code.
    pub code: ErrorCode,
    /// Human message.
    pub message: String,
}

impl ApiError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A 400 naming what is wrong.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let code = match e.kind() {
            ErrorKind::InvalidInput => ErrorCode::InvalidRequest,
            ErrorKind::Unauthorized => ErrorCode::Unauthorized,
            ErrorKind::SandboxNotFound => ErrorCode::SandboxNotFound,
            ErrorKind::ImageNotFound => ErrorCode::ImageNotFound,
            ErrorKind::FileNotFound => ErrorCode::FileNotFound,
            ErrorKind::ProcessNotFound => ErrorCode::ProcessNotFound,
            ErrorKind::PermissionDenied => ErrorCode::PermissionDenied,
            ErrorKind::Conflict => ErrorCode::Conflict,
            ErrorKind::Registry => ErrorCode::RegistryError,
            ErrorKind::Agent => ErrorCode::AgentError,
            ErrorKind::Internal => ErrorCode::Internal,
            ErrorKind::NotFound => ErrorCode::NotFound,
            ErrorKind::SnapshotNotFound => ErrorCode::SnapshotNotFound,
            ErrorKind::PortUnreachable => ErrorCode::PortUnreachable,
        };
        let message = e.chain();
        if code == ErrorCode::Internal || code == ErrorCode::AgentError {
            tracing::error!(error = %message, "request failed");
        }
        Self { code, message }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        (status, axum::Json(body)).into_response()
    }
}

/// Fallback for unknown routes.
pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("no route for {}", uri.path()))
}

/// Fallback for a known route with the wrong method.
pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{method} is not allowed on {}", uri.path()),
    )
}
