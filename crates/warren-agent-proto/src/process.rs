//! Messages of envd's `process.Process` service (`spec/process/process.proto`) in proto3-JSON.
//!
//! `oneof` groups are Rust enums serialized externally tagged, which is exactly proto3-JSON's
//! shape: `ProcessEvent::Start(..)` ↔ `{"start":{"pid":7}}`. Fields holding proto3 default values
//! are omitted on output and accepted as absent or `null` on input; unknown fields are ignored so
//! newer SDKs keep working.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::json::{b64, is_default, null_default};

/// What to run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessConfig {
    /// Program: a path, or a name looked up in `PATH`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub cmd: String,
    /// Arguments after `argv[0]`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub args: Vec<String>,
    /// Environment overrides on top of the agent's base environment.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub envs: BTreeMap<String, String>,
    /// Working directory; absent → the agent's default workdir or the user's home.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
}

/// Terminal size of a PTY.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtySize {
    /// Columns.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_default"
    )]
    pub cols: u32,
    /// Rows.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_default"
    )]
    pub rows: u32,
}

/// PTY request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pty {
    /// Initial size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<PtySize>,
}

/// `process.Process/Start` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartRequest {
    /// What to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessConfig>,
    /// Run on a new pseudo-terminal of this size: output comes as `data.pty`, input goes in
    /// as `SendInput` `pty` bytes, `Update` resizes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pty: Option<Pty>,
    /// Optional tag to find the process by later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Keep a stdin pipe open for `SendInput`/`CloseStdin`. Absent means **true** (envd's
    /// backwards-compatible default); `Some(false)` gives the process `/dev/null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<bool>,
}

/// One event of a process's life. Exactly one of the proto `oneof event` members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessEvent {
    /// The process started.
    Start(StartEvent),
    /// Output.
    Data(DataEvent),
    /// The process ended.
    End(EndEvent),
    /// Nothing happened for a while; keeps proxies from closing the stream.
    Keepalive(KeepAlive),
}

/// `ProcessEvent.StartEvent`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartEvent {
    /// The process id inside the sandbox.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_default"
    )]
    pub pid: u32,
}

/// `ProcessEvent.DataEvent`: one chunk of output, as soon as it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataEvent {
    /// Bytes from stdout.
    Stdout(#[serde(with = "b64")] Bytes),
    /// Bytes from stderr.
    Stderr(#[serde(with = "b64")] Bytes),
    /// Bytes from the PTY.
    Pty(#[serde(with = "b64")] Bytes),
}

/// `ProcessEvent.EndEvent`, shaped like Go's `os.ProcessState`, which envd reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndEvent {
    /// Exit status, or -1 when killed by a signal.
    #[serde(
        default,
        alias = "exit_code",
        deserialize_with = "null_default",
        skip_serializing_if = "is_default"
    )]
    pub exit_code: i32,
    /// True when the process called exit (false when a signal ended it).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_default"
    )]
    pub exited: bool,
    /// `"exit status 3"`, `"signal: killed"`, `"signal: aborted (core dumped)"`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub status: String,
    /// Set when the process did not exit 0 (the same text as `status`, like Go's `cmd.Wait`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `ProcessEvent.KeepAlive`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepAlive {}

/// `StartResponse` / `ConnectResponse`: one event per stream message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventResponse {
    /// The event.
    pub event: ProcessEvent,
}

/// `StartResponse`.
pub type StartResponse = EventResponse;
/// `ConnectResponse`.
pub type ConnectResponse = EventResponse;

/// Selects a process: `{"pid":7}` or `{"tag":"main"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessSelector {
    /// By pid.
    Pid(u32),
    /// By tag.
    Tag(String),
}

impl std::fmt::Display for ProcessSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProcessSelector::Pid(p) => write!(f, "pid {p}"),
            ProcessSelector::Tag(t) => write!(f, "tag '{t}'"),
        }
    }
}

/// `process.Process/Connect` request: re-attach to a running process's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectRequest {
    /// Which process.
    pub process: ProcessSelector,
}

/// `process.Process/List` request (empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRequest {}

/// One running process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// How it was started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ProcessConfig>,
    /// Its pid.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_default"
    )]
    pub pid: u32,
    /// Its tag, if any (`"main"` for the sandbox's main process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// `process.Process/List` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListResponse {
    /// Running processes started through the agent.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub processes: Vec<ProcessInfo>,
}

/// Input for a process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessInput {
    /// Bytes for the stdin pipe.
    Stdin(#[serde(with = "b64")] Bytes),
    /// Bytes for the PTY.
    Pty(#[serde(with = "b64")] Bytes),
}

/// `process.Process/SendInput` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendInputRequest {
    /// Which process.
    pub process: ProcessSelector,
    /// What to write.
    pub input: ProcessInput,
}

/// Signals envd lets a client send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Signal {
    /// `SIGNAL_UNSPECIFIED` (0): rejected by the agent.
    #[default]
    Unspecified,
    /// `SIGNAL_SIGTERM` (15).
    Sigterm,
    /// `SIGNAL_SIGKILL` (9).
    Sigkill,
}

impl Signal {
    /// The proto enum name.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Unspecified => "SIGNAL_UNSPECIFIED",
            Signal::Sigterm => "SIGNAL_SIGTERM",
            Signal::Sigkill => "SIGNAL_SIGKILL",
        }
    }
}

impl Serialize for Signal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Signal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Option::<crate::filesystem::EnumRepr>::deserialize(d)? {
            None => Ok(Signal::Unspecified),
            Some(r) => match (r.name(), r.number()) {
                (Some("SIGNAL_UNSPECIFIED"), _) | (_, Some(0)) => Ok(Signal::Unspecified),
                (Some("SIGNAL_SIGTERM"), _) | (_, Some(15)) => Ok(Signal::Sigterm),
                (Some("SIGNAL_SIGKILL"), _) | (_, Some(9)) => Ok(Signal::Sigkill),
                _ => Err(serde::de::Error::custom(format!("unknown signal {r}"))),
            },
        }
    }
}

/// `process.Process/SendSignal` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendSignalRequest {
    /// Which process.
    pub process: ProcessSelector,
    /// Which signal.
    #[serde(default, skip_serializing_if = "is_default")]
    pub signal: Signal,
}

/// `process.Process/CloseStdin` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseStdinRequest {
    /// Which process.
    pub process: ProcessSelector,
}

/// `process.Process/Update` request (PTY resize).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateRequest {
    /// Which process.
    pub process: ProcessSelector,
    /// New PTY size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pty: Option<Pty>,
}

/// Every empty response message (`SendInputResponse`, `SendSignalResponse`, ...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn roundtrip<T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug>(
        v: &T,
        expect: Value,
    ) {
        let got = serde_json::to_value(v).unwrap();
        assert_eq!(got, expect);
        let back: T = serde_json::from_value(expect).unwrap();
        assert_eq!(&back, v);
    }

    #[test]
    fn start_request_shape() {
        // What the Python SDK sends for `commands.run("x")`.
        let wire = json!({
            "process": {"cmd": "/bin/bash", "args": ["-l", "-c", "x"], "envs": {"A": "1"}, "cwd": "/tmp"},
            "tag": "t", "stdin": false
        });
        let req: StartRequest = serde_json::from_value(wire.clone()).unwrap();
        let p = req.process.as_ref().unwrap();
        assert_eq!(p.cmd, "/bin/bash");
        assert_eq!(p.args, ["-l", "-c", "x"]);
        assert_eq!(p.envs["A"], "1");
        assert_eq!(req.stdin, Some(false));
        roundtrip(&req, wire);
        // Defaults omitted, nulls accepted, unknown fields ignored.
        let req: StartRequest = serde_json::from_value(
            json!({"process": {"cmd": "ls", "args": null, "envs": null}, "future": 1}),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"process": {"cmd": "ls"}})
        );
        let pty: StartRequest = serde_json::from_value(
            json!({"process": {"cmd": "bash"}, "pty": {"size": {"cols": 80, "rows": 24}}}),
        )
        .unwrap();
        assert_eq!(pty.pty.unwrap().size.unwrap().cols, 80);
    }

    #[test]
    fn event_shapes() {
        roundtrip(
            &EventResponse {
                event: ProcessEvent::Start(StartEvent { pid: 42 }),
            },
            json!({"event": {"start": {"pid": 42}}}),
        );
        roundtrip(
            &EventResponse {
                event: ProcessEvent::Data(DataEvent::Stdout(Bytes::from_static(b"hi\n"))),
            },
            json!({"event": {"data": {"stdout": "aGkK"}}}),
        );
        roundtrip(
            &ProcessEvent::Data(DataEvent::Stderr(Bytes::from_static(b"\xff"))),
            json!({"data": {"stderr": "/w=="}}),
        );
        roundtrip(
            &ProcessEvent::End(EndEvent {
                exit_code: 3,
                exited: true,
                status: "exit status 3".into(),
                error: Some("exit status 3".into()),
            }),
            json!({"end": {"exitCode": 3, "exited": true, "status": "exit status 3", "error": "exit status 3"}}),
        );
        // exit 0: exitCode omitted (proto3 default).
        roundtrip(
            &ProcessEvent::End(EndEvent {
                exit_code: 0,
                exited: true,
                status: "exit status 0".into(),
                error: None,
            }),
            json!({"end": {"exited": true, "status": "exit status 0"}}),
        );
        roundtrip(
            &ProcessEvent::End(EndEvent {
                exit_code: -1,
                exited: false,
                status: "signal: killed".into(),
                error: Some("signal: killed".into()),
            }),
            json!({"end": {"exitCode": -1, "status": "signal: killed", "error": "signal: killed"}}),
        );
        roundtrip(
            &ProcessEvent::Keepalive(KeepAlive {}),
            json!({"keepalive": {}}),
        );
        let e: ProcessEvent = serde_json::from_value(json!({"end": {"exit_code": 2}})).unwrap();
        assert!(matches!(
            e,
            ProcessEvent::End(EndEvent { exit_code: 2, .. })
        ));
    }

    #[test]
    fn selectors_signals_input() {
        roundtrip(
            &SendSignalRequest {
                process: ProcessSelector::Pid(7),
                signal: Signal::Sigkill,
            },
            json!({"process": {"pid": 7}, "signal": "SIGNAL_SIGKILL"}),
        );
        let r: SendSignalRequest =
            serde_json::from_value(json!({"process": {"tag": "main"}, "signal": 15})).unwrap();
        assert_eq!(r.signal, Signal::Sigterm);
        assert_eq!(r.process, ProcessSelector::Tag("main".into()));
        assert!(
            serde_json::from_value::<SendSignalRequest>(
                json!({"process": {"pid": 1}, "signal": "SIGHUP"})
            )
            .is_err()
        );
        roundtrip(
            &SendInputRequest {
                process: ProcessSelector::Pid(1),
                input: ProcessInput::Stdin(Bytes::from_static(b"abc")),
            },
            json!({"process": {"pid": 1}, "input": {"stdin": "YWJj"}}),
        );
        roundtrip(
            &ListResponse {
                processes: vec![ProcessInfo {
                    config: Some(ProcessConfig {
                        cmd: "sleep".into(),
                        args: vec!["9".into()],
                        ..Default::default()
                    }),
                    pid: 9,
                    tag: Some("main".into()),
                }],
            },
            json!({"processes": [{"config": {"cmd": "sleep", "args": ["9"]}, "pid": 9, "tag": "main"}]}),
        );
        roundtrip(&ListResponse::default(), json!({}));
    }
}
