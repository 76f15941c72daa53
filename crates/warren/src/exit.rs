//! Exit codes: distinct per failure class so scripts can branch.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | server or unexpected error |
//! | 2 | bad command line (clap) |
//! | 3 | not found (sandbox, image, file) |
//! | 4 | invalid input rejected by the daemon |
//! | 5 | unauthorized (missing or wrong API key) |
//! | 6 | conflict with the current state |
//! | 7 | the daemon cannot be reached |
//! | 8 | forbidden: the API key's scope does not allow it (read-only key) |
//! | 9 | rate limited: too many requests with this API key |
//!
//! `warren sandbox exec` exits with the command's own exit code instead.

use warren_api_types::ErrorCode;
use warren_client::ClientError;

pub const SERVER: u8 = 1;
pub const NOT_FOUND: u8 = 3;
pub const INVALID: u8 = 4;
pub const UNAUTHORIZED: u8 = 5;
pub const CONFLICT: u8 = 6;
pub const UNREACHABLE: u8 = 7;
pub const FORBIDDEN: u8 = 8;
pub const RATE_LIMITED: u8 = 9;

/// The exit code for an error that ended a command.
pub fn code_for(err: &anyhow::Error) -> u8 {
    let Some(client) = err.chain().find_map(|e| e.downcast_ref::<ClientError>()) else {
        return SERVER;
    };
    match client {
        ClientError::Api { code, .. } => match code {
            ErrorCode::SandboxNotFound
            | ErrorCode::ImageNotFound
            | ErrorCode::FileNotFound
            | ErrorCode::ProcessNotFound
            | ErrorCode::SnapshotNotFound
            | ErrorCode::NotFound => NOT_FOUND,
            ErrorCode::InvalidRequest
            | ErrorCode::PayloadTooLarge
            | ErrorCode::MethodNotAllowed => INVALID,
            ErrorCode::Unauthorized | ErrorCode::PermissionDenied => UNAUTHORIZED,
            ErrorCode::Conflict => CONFLICT,
            ErrorCode::Forbidden => FORBIDDEN,
            ErrorCode::RateLimited => RATE_LIMITED,
            _ => SERVER,
        },
        ClientError::Transport { .. } => UNREACHABLE,
        ClientError::BadUrl { .. } | ClientError::Io { .. } => INVALID,
        ClientError::Protocol { .. } => SERVER,
    }
}
