//! Running one command to completion in a sandbox, with bounded output and a
//! timeout.
//!
//! The agent streams `start`, `data` and `end` events over the sandbox's one
//! HTTP/2 connection; this collects them. When the deadline passes the
//! process gets SIGKILL and its `end` event still arrives, so the caller
//! learns how it ended. Output past [`MAX_OUTPUT`] per stream is dropped and
//! `truncated` is set: a command that prints forever cannot exhaust memory.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use warren_agent_proto::{
    DataEvent, ProcessConfig, ProcessEvent, ProcessSelector, SendSignalRequest, Signal,
    StartRequest,
};

use crate::{Core, CoreError, validate};

/// Most bytes kept per output stream of a non-streaming exec.
pub const MAX_OUTPUT: usize = 16 * 1024 * 1024;
/// Default timeout when the request has none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long to wait for the `end` event after SIGKILL.
pub(crate) const KILL_GRACE: Duration = Duration::from_secs(5);

/// A command to run.
#[derive(Debug, Clone, Default)]
pub struct ExecInput {
    /// Program and arguments.
    pub cmd: Vec<String>,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
    /// Working directory.
    pub cwd: Option<String>,
    /// User (name or uid).
    pub user: Option<String>,
    /// Seconds before SIGKILL.
    pub timeout_s: Option<u64>,
}

/// How a command ended and what it printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit status; -1 when a signal ended it.
    pub exit_code: i32,
    /// Standard output bytes.
    pub stdout: Vec<u8>,
    /// Standard error bytes.
    pub stderr: Vec<u8>,
    /// Output went past [`MAX_OUTPUT`] and was cut.
    pub truncated: bool,
    /// Killed because the timeout passed.
    pub timed_out: bool,
    /// Wall-clock time.
    pub duration: Duration,
}

impl ExecOutput {
    fn push(&mut self, data: DataEvent) {
        let (buf, bytes) = match data {
            DataEvent::Stdout(b) => (&mut self.stdout, b),
            DataEvent::Stderr(b) | DataEvent::Pty(b) => (&mut self.stderr, b),
        };
        let room = MAX_OUTPUT.saturating_sub(buf.len());
        if bytes.len() > room {
            self.truncated = true;
        }
        buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

pub(crate) fn validate_exec(input: &ExecInput) -> Result<Duration, CoreError> {
    validate::command("cmd", &input.cmd)?;
    validate::env("env", &input.env)?;
    if let Some(cwd) = &input.cwd {
        validate::sandbox_path("cwd", cwd)?;
    }
    if let Some(user) = &input.user {
        validate::user("user", user)?;
    }
    match input.timeout_s {
        None => Ok(DEFAULT_TIMEOUT),
        Some(s @ 1..=86_400) => Ok(Duration::from_secs(s)),
        Some(s) => Err(CoreError::invalid(
            "timeout_s",
            format!("{s} is outside 1..=86400"),
        )),
    }
}

impl Core {
    /// Run `input` in sandbox `id` and wait for it to end.
    pub async fn exec(&self, id: &str, input: ExecInput) -> Result<ExecOutput, CoreError> {
        let timeout = validate_exec(&input)?;
        self.running_sandbox(id, "exec in").await?;
        let agent = self.agent(id).await?;

        let started = Instant::now();
        let program = input.cmd[0].clone();
        let refused = |e| CoreError::from_agent(id, &program, e, crate::ErrorKind::InvalidInput);
        let mut cmd = input.cmd.into_iter();
        let request = StartRequest {
            process: Some(ProcessConfig {
                cmd: cmd.next().unwrap_or_default(),
                args: cmd.collect(),
                envs: input.env,
                cwd: input.cwd,
            }),
            pty: None,
            tag: None,
            stdin: Some(false),
        };
        let mut stream = agent
            .start_as(request, input.user.as_deref())
            .await
            .map_err(refused)?;
        let mut out = ExecOutput::default();
        let mut pid = None;
        let mut deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(Ok(ProcessEvent::Start(s)))) => pid = Some(s.pid),
                Ok(Some(Ok(ProcessEvent::Data(d)))) => out.push(d),
                Ok(Some(Ok(ProcessEvent::End(end)))) => {
                    out.exit_code = if end.exited { end.exit_code } else { -1 };
                    break;
                }
                Ok(Some(Ok(ProcessEvent::Keepalive(_)))) => {}
                Ok(Some(Err(e))) => return Err(refused(e)),
                Ok(None) => {
                    return Err(CoreError::Agent {
                        id: id.to_owned(),
                        source: Box::new(warren_runtime::AgentError::Closed),
                    });
                }
                Err(_elapsed) if !out.timed_out => {
                    out.timed_out = true;
                    if let Some(pid) = pid {
                        let kill = SendSignalRequest {
                            process: ProcessSelector::Pid(pid),
                            signal: Signal::Sigkill,
                        };
                        if let Err(e) = agent.send_signal(kill).await {
                            tracing::warn!(sandbox = %id, pid, error = %e, "cannot kill timed-out command");
                        }
                    }
                    deadline = tokio::time::Instant::now() + KILL_GRACE;
                }
                Err(_elapsed) => {
                    out.exit_code = -1;
                    break;
                }
            }
        }
        out.duration = started.elapsed();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn output_is_bounded_and_flagged() {
        let mut out = ExecOutput::default();
        out.push(DataEvent::Stdout(Bytes::from(vec![b'a'; MAX_OUTPUT - 1])));
        assert!(!out.truncated);
        out.push(DataEvent::Stdout(Bytes::from_static(b"bc")));
        assert!(out.truncated);
        assert_eq!(out.stdout.len(), MAX_OUTPUT);
        out.push(DataEvent::Stderr(Bytes::from_static(b"e")));
        assert_eq!(out.stderr, b"e");
    }

    #[test]
    fn timeouts_are_validated() {
        let mut input = ExecInput {
            cmd: vec!["true".into()],
            ..ExecInput::default()
        };
        assert_eq!(validate_exec(&input).unwrap(), DEFAULT_TIMEOUT);
        input.timeout_s = Some(0);
        assert!(validate_exec(&input).is_err());
        input.timeout_s = Some(86_401);
        assert!(validate_exec(&input).is_err());
    }
}
