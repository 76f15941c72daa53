//! Connect error codes, the wire error `{"code","message"}`, and the HTTP status mapping.
//!
//! Mapping follows the current Connect protocol spec (connectrpc.com/docs/protocol, after the
//! 2023 update that moved `failed_precondition` to 400, `unimplemented` to 501 and
//! `deadline_exceeded` to 504).

use serde::{Deserialize, Serialize};

/// A Connect (gRPC) status code, named as Connect writes it in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectCode {
    /// The caller cancelled.
    Canceled,
    /// Unknown error (also any code string this crate does not know).
    Unknown,
    /// Bad request contents.
    InvalidArgument,
    /// Deadline expired.
    DeadlineExceeded,
    /// No such file, process or user.
    NotFound,
    /// Already there.
    AlreadyExists,
    /// Forbidden.
    PermissionDenied,
    /// Out of some resource (disk, memory).
    ResourceExhausted,
    /// System not in the required state.
    FailedPrecondition,
    /// Concurrency conflict.
    Aborted,
    /// Past a valid range.
    OutOfRange,
    /// Not implemented by this agent.
    Unimplemented,
    /// Internal error.
    Internal,
    /// Try again later (also: connection to the agent lost).
    Unavailable,
    /// Unrecoverable data loss.
    DataLoss,
    /// Missing or bad credentials.
    Unauthenticated,
}

impl ConnectCode {
    /// The code as Connect writes it.
    pub fn as_str(self) -> &'static str {
        use ConnectCode::*;
        match self {
            Canceled => "canceled",
            Unknown => "unknown",
            InvalidArgument => "invalid_argument",
            DeadlineExceeded => "deadline_exceeded",
            NotFound => "not_found",
            AlreadyExists => "already_exists",
            PermissionDenied => "permission_denied",
            ResourceExhausted => "resource_exhausted",
            FailedPrecondition => "failed_precondition",
            Aborted => "aborted",
            OutOfRange => "out_of_range",
            Unimplemented => "unimplemented",
            Internal => "internal",
            Unavailable => "unavailable",
            DataLoss => "data_loss",
            Unauthenticated => "unauthenticated",
        }
    }

    /// Parse a code string; unknown strings are [`ConnectCode::Unknown`].
    pub fn parse(s: &str) -> Self {
        use ConnectCode::*;
        [
            Canceled,
            InvalidArgument,
            DeadlineExceeded,
            NotFound,
            AlreadyExists,
            PermissionDenied,
            ResourceExhausted,
            FailedPrecondition,
            Aborted,
            OutOfRange,
            Unimplemented,
            Internal,
            Unavailable,
            DataLoss,
            Unauthenticated,
        ]
        .into_iter()
        .find(|c| c.as_str() == s || (s == "cancelled" && *c == Canceled))
        .unwrap_or(Unknown)
    }

    /// HTTP status of a unary error response with this code (Connect spec).
    pub fn http_status(self) -> u16 {
        use ConnectCode::*;
        match self {
            Canceled => 499,
            Unknown => 500,
            InvalidArgument => 400,
            DeadlineExceeded => 504,
            NotFound => 404,
            AlreadyExists => 409,
            PermissionDenied => 403,
            ResourceExhausted => 429,
            FailedPrecondition => 400,
            Aborted => 409,
            OutOfRange => 400,
            Unimplemented => 501,
            Internal => 500,
            Unavailable => 503,
            DataLoss => 500,
            Unauthenticated => 401,
        }
    }

    /// Code to assume when a Connect error response has no parseable body (Connect spec's
    /// "HTTP to error code" table).
    pub fn from_connect_http_status(status: u16) -> Self {
        use ConnectCode::*;
        match status {
            400 => Internal,
            401 => Unauthenticated,
            403 => PermissionDenied,
            404 => Unimplemented,
            429 | 502..=504 => Unavailable,
            _ => Unknown,
        }
    }

    /// Code for a plain-HTTP (non-Connect) error status, as REST means it (`/files`).
    pub fn from_rest_http_status(status: u16) -> Self {
        use ConnectCode::*;
        match status {
            400 | 422 => InvalidArgument,
            401 => Unauthenticated,
            403 => PermissionDenied,
            404 => NotFound,
            405 | 501 => Unimplemented,
            409 => AlreadyExists,
            412 => FailedPrecondition,
            413 | 429 | 507 => ResourceExhausted,
            499 => Canceled,
            502 | 503 => Unavailable,
            504 => DeadlineExceeded,
            _ => {
                if (400..500).contains(&status) {
                    InvalidArgument
                } else {
                    Internal
                }
            }
        }
    }
}

impl Serialize for ConnectCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ConnectCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ConnectCode::parse(&String::deserialize(d)?))
    }
}

impl std::fmt::Display for ConnectCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Connect error as it travels: the body of a unary error response, or the `error` member of
/// a stream's end message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ConnectError {
    /// Machine-readable code.
    pub code: ConnectCode,
    /// Human-readable message naming what failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl ConnectError {
    /// An error with a code and message.
    pub fn new(code: ConnectCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let e = ConnectError::new(ConnectCode::NotFound, "file not found: /x");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":"not_found","message":"file not found: /x"}"#
        );
        let e: ConnectError = serde_json::from_str(r#"{"code":"whatever"}"#).unwrap();
        assert_eq!(e.code, ConnectCode::Unknown);
        let all = [
            ("canceled", 499),
            ("unknown", 500),
            ("invalid_argument", 400),
            ("deadline_exceeded", 504),
            ("not_found", 404),
            ("already_exists", 409),
            ("permission_denied", 403),
            ("resource_exhausted", 429),
            ("failed_precondition", 400),
            ("aborted", 409),
            ("out_of_range", 400),
            ("unimplemented", 501),
            ("internal", 500),
            ("unavailable", 503),
            ("data_loss", 500),
            ("unauthenticated", 401),
        ];
        for (name, status) in all {
            let c: ConnectCode = serde_json::from_value(serde_json::json!(name)).unwrap();
            assert_eq!(c.as_str(), name);
            assert_eq!(c.http_status(), status, "{name}");
        }
        assert_eq!(
            ConnectCode::from_connect_http_status(404),
            ConnectCode::Unimplemented
        );
        assert_eq!(
            ConnectCode::from_rest_http_status(404),
            ConnectCode::NotFound
        );
    }
}
