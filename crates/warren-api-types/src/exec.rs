//! Running a command in a sandbox and waiting for it: `POST /v1/sandboxes/{id}/exec`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Run one command to completion and return its output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"cmd": ["python3", "-c", "print(6*7)"], "timeout_s": 30}))
)]
#[serde(deny_unknown_fields)]
pub struct ExecRequest {
    /// Program and arguments, e.g. `["python3", "-c", "print(6*7)"]`. Not run
    /// through a shell; use `["sh", "-c", "..."]` for shell syntax.
    pub cmd: Vec<String>,
    /// Extra environment variables; they override the sandbox's.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory inside the sandbox; defaults to the image's WorkingDir.
    #[serde(default)]
    pub cwd: Option<String>,
    /// User to run as (name or uid); defaults to the image's User.
    #[serde(default)]
    pub user: Option<String>,
    /// Seconds before the command is killed (1..=86400, default 60).
    #[serde(default)]
    pub timeout_s: Option<u64>,
    /// Keep the command's stdin open so `POST /v1/sandboxes/{id}/processes/{pid}/stdin` can
    /// feed it (the pid comes in the `start` event). Streaming exec only (`Accept:
    /// text/event-stream`); without it the command reads end-of-file.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stdin: bool,
}

impl ExecRequest {
    /// Run `cmd` with the sandbox's defaults for everything else.
    pub fn new<S: Into<String>>(cmd: impl IntoIterator<Item = S>) -> Self {
        Self {
            cmd: cmd.into_iter().map(Into::into).collect(),
            env: BTreeMap::new(),
            cwd: None,
            user: None,
            timeout_s: None,
            stdin: false,
        }
    }
}

/// Output of a finished command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExecResponse {
    /// Exit status; `-1` when a signal ended the command (`timed_out` tells whether warren sent it).
    pub exit_code: i32,
    /// Everything the command wrote to stdout (UTF-8, invalid bytes replaced).
    pub stdout: String,
    /// Everything the command wrote to stderr (UTF-8, invalid bytes replaced).
    pub stderr: String,
    /// True when output went past the limit and was cut; the command still ran to the end.
    #[serde(default)]
    pub truncated: bool,
    /// True when the command was killed because `timeout_s` passed.
    #[serde(default)]
    pub timed_out: bool,
    /// Wall-clock duration in milliseconds.
    pub duration_ms: u64,
}
