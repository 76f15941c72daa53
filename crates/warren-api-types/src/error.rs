//! The one error shape every route returns: `{"error": {"code", "message"}}`.

use serde::{Deserialize, Serialize};

/// Body of every non-2xx response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// A machine-readable code plus a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable code for programs, e.g. `sandbox_not_found`.
    pub code: ErrorCode,
    /// Explanation for humans; names the field or object at fault.
    pub message: String,
}

/// Stable error codes. Clients branch on these, never on messages.
///
/// Each comes with one HTTP status: `invalid_request` 400; `unauthorized` 401; `forbidden`
/// and `permission_denied` 403; `sandbox_not_found`, `image_not_found`, `file_not_found`,
/// `process_not_found` and `not_found` 404; `method_not_allowed` 405; `conflict` 409;
/// `payload_too_large` 413; `rate_limited` 429; `internal` 500; `registry_error`,
/// `agent_error` and `port_unreachable` 502.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request body or a parameter is malformed or out of range (400).
    InvalidRequest,
    /// No or wrong API key (401).
    Unauthorized,
    /// The sandbox does not exist (404).
    SandboxNotFound,
    /// The image is not in the local store (404).
    ImageNotFound,
    /// A file or directory inside the sandbox does not exist (404).
    FileNotFound,
    /// No process with this pid runs in the sandbox (404).
    ProcessNotFound,
    /// No snapshot has this id or name (404).
    SnapshotNotFound,
    /// The route does not exist (404).
    NotFound,
    /// The HTTP method is not allowed on this route (405).
    MethodNotAllowed,
    /// The operation conflicts with the object's current state (409).
    Conflict,
    /// Access inside the sandbox was denied (403).
    PermissionDenied,
    /// The request body is too large (413).
    PayloadTooLarge,
    /// A remote registry failed or refused (502).
    RegistryError,
    /// The sandbox's agent could not be reached or failed (502).
    AgentError,
    /// Anything else; the message and the daemon log say more (500).
    Internal,
    /// The API key's scope does not allow this request, e.g. a read-only key
    /// on a route that changes something (403).
    Forbidden,
    /// Too many requests with this API key; retry after the `Retry-After`
    /// header's seconds (429).
    RateLimited,
    /// Nothing answered on the sandbox's port (502).
    PortUnreachable,
}

impl ErrorCode {
    /// The code's wire name, e.g. `"sandbox_not_found"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::SandboxNotFound => "sandbox_not_found",
            Self::ImageNotFound => "image_not_found",
            Self::FileNotFound => "file_not_found",
            Self::ProcessNotFound => "process_not_found",
            Self::SnapshotNotFound => "snapshot_not_found",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::PermissionDenied => "permission_denied",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RegistryError => "registry_error",
            Self::AgentError => "agent_error",
            Self::Internal => "internal",
            Self::Forbidden => "forbidden",
            Self::RateLimited => "rate_limited",
            Self::PortUnreachable => "port_unreachable",
        }
    }

    /// The HTTP status that carries this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Unauthorized => 401,
            Self::PermissionDenied => 403,
            Self::SandboxNotFound | Self::ImageNotFound | Self::FileNotFound | Self::NotFound => {
                404
            }
            Self::ProcessNotFound | Self::SnapshotNotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::RegistryError | Self::AgentError | Self::PortUnreachable => 502,
            Self::Internal => 500,
            Self::Forbidden => 403,
            Self::RateLimited => 429,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_wire_shape() {
        let body = ErrorBody {
            error: ErrorDetail {
                code: ErrorCode::SandboxNotFound,
                message: "no sandbox sb-x".into(),
            },
        };
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["error"]["code"], "sandbox_not_found");
        assert_eq!(json["error"]["message"], "no sandbox sb-x");
        let code: ErrorCode = serde_json::from_str("\"invalid_request\"").unwrap();
        assert_eq!(code.as_str(), "invalid_request");
    }
}
