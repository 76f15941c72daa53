//! Processes in a sandbox: streaming exec events (`text/event-stream`), background processes,
//! their stdin and signals.
//!
//! A streaming exec (`POST /v1/sandboxes/{id}/exec` with `Accept: text/event-stream`) and
//! `GET /v1/sandboxes/{id}/processes/{pid}/events` send Server-Sent Events, one JSON object per
//! event: `start` ([`ProcessStarted`]), `stdout` / `stderr` ([`OutputChunk`]) and finally `exit`
//! ([`ProcessExit`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `event: start`: the process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessStarted {
    /// Process id inside the sandbox.
    pub pid: u32,
}

/// `event: stdout` / `event: stderr`: one chunk of output, sent as soon as it was read.
///
/// Exactly one of `data` and `b64` is set: `data` when the chunk is valid UTF-8 (a character
/// split between two reads is held back and sent whole with the next chunk), `b64` (standard
/// base64 of the raw bytes) when it is not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutputChunk {
    /// The chunk as text, when it is valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The chunk's raw bytes in standard base64, when it is not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b64: Option<String>,
}

/// `event: exit`: how the process ended; the last event of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessExit {
    /// Exit status; `-1` when a signal ended the process.
    pub exit_code: i32,
    /// True when warren killed the process because its `timeout_s` passed.
    #[serde(default)]
    pub timed_out: bool,
    /// How it ended in words: `"exit status 3"`, `"signal: killed"`.
    #[serde(default)]
    pub status: String,
    /// Milliseconds from the start of this stream (not of the process) to its end.
    #[serde(default)]
    pub duration_ms: u64,
}

/// Body of `POST /v1/sandboxes/{id}/processes`: start a process and return without waiting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"cmd": ["python3", "-m", "http.server", "8080"], "tag": "web"}))
)]
#[serde(deny_unknown_fields)]
pub struct StartProcessRequest {
    /// Program and arguments; not run through a shell.
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
    /// Seconds before the process is killed (1..=86400); absent: it runs until it ends or the
    /// sandbox is deleted.
    #[serde(default)]
    pub timeout_s: Option<u64>,
    /// Keep a stdin pipe open for `POST .../stdin`; false gives the process `/dev/null`.
    #[serde(default)]
    pub stdin: bool,
    /// A name to recognise the process by in listings.
    #[serde(default)]
    pub tag: Option<String>,
}

impl StartProcessRequest {
    /// Run `cmd` in the background with the sandbox's defaults for everything else.
    pub fn new<S: Into<String>>(cmd: impl IntoIterator<Item = S>) -> Self {
        Self {
            cmd: cmd.into_iter().map(Into::into).collect(),
            env: BTreeMap::new(),
            cwd: None,
            user: None,
            timeout_s: None,
            stdin: false,
            tag: None,
        }
    }
}

/// A process running in a sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Process {
    /// Process id inside the sandbox.
    pub pid: u32,
    /// Its tag, if it was given one (`"main"` for the sandbox's main process).
    #[serde(default)]
    pub tag: Option<String>,
    /// Program and arguments.
    pub cmd: Vec<String>,
    /// Working directory it was started in, when one was given.
    #[serde(default)]
    pub cwd: Option<String>,
}

/// Answer to `GET /v1/sandboxes/{id}/processes`: the processes that still run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessList {
    /// Processes started through warren that still run.
    pub items: Vec<Process>,
}

/// A signal warren can deliver: `TERM` (ask the process to end) or `KILL` (end it now). The
/// agent protocol carries these two only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SignalName {
    /// SIGTERM: ask the process to end.
    #[serde(rename = "TERM")]
    Term,
    /// SIGKILL: end it now.
    #[serde(rename = "KILL")]
    Kill,
}

/// Body of `POST /v1/sandboxes/{id}/processes/{pid}/signal`: which signal to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignalRequest {
    /// `"TERM"` or `"KILL"`.
    pub signal: SignalName,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_shapes() {
        let chunk = OutputChunk {
            data: Some("a\n".into()),
            b64: None,
        };
        assert_eq!(
            serde_json::to_value(&chunk).unwrap(),
            json!({"data": "a\n"})
        );
        let sig: SignalRequest = serde_json::from_value(json!({"signal": "KILL"})).unwrap();
        assert_eq!(sig.signal, SignalName::Kill);
        assert!(serde_json::from_value::<SignalRequest>(json!({"signal": "HUP"})).is_err());
        let req: StartProcessRequest =
            serde_json::from_value(json!({"cmd": ["cat"], "stdin": true})).unwrap();
        assert!(req.stdin);
        assert!(
            serde_json::from_value::<StartProcessRequest>(json!({"cmd": ["x"], "stdn": true}))
                .is_err()
        );
    }
}
