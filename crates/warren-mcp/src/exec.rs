//! `run_command` and `run_code`: run to completion, return bounded output and the exit code.
//!
//! The API already caps what it buffers (and says so with `truncated`); an agent's context is
//! smaller still, so each stream is cut to `max_output_bytes`, keeping its beginning and its
//! end (where errors usually are) around a marker saying how much was left out.

use serde::Serialize;
use warren_api_types::{ExecRequest, ExecResponse};
use warren_client::{Client, ClientError};

use crate::args::{Language, RunCode, RunCommand};
use crate::error::ToolError;

const DEFAULT_TIMEOUT_S: u64 = 60;
const MAX_TIMEOUT_S: u64 = 3600;
const DEFAULT_MAX_OUTPUT: usize = 20_000;
const MIN_MAX_OUTPUT: usize = 256;
const MAX_MAX_OUTPUT: usize = 1 << 20;

/// What `run_command` and `run_code` return.
#[derive(Debug, Serialize)]
pub(crate) struct CommandOutput {
    /// Exit status; -1 when a signal ended the command.
    pub exit_code: i32,
    /// Standard output (possibly cut, see `truncated`).
    pub stdout: String,
    /// Standard error (possibly cut, see `truncated`).
    pub stderr: String,
    /// True when some output was left out.
    pub truncated: bool,
    /// True when the command was killed because its timeout passed.
    pub timed_out: bool,
    /// Wall-clock duration in milliseconds.
    pub duration_ms: u64,
}

/// `run_command`: `sh -c <command>`.
pub(crate) async fn run_command(
    client: &Client,
    a: RunCommand,
) -> Result<CommandOutput, ToolError> {
    let limits = Limits::new(a.timeout_s, a.max_output_bytes)?;
    if a.command.trim().is_empty() {
        return Err(ToolError::InvalidArgument {
            argument: "command",
            reason: "is empty".into(),
        });
    }
    let mut req = ExecRequest::new(["sh", "-c", a.command.as_str()]);
    req.cwd = a.cwd;
    req.env = a.env;
    req.timeout_s = Some(limits.timeout_s);
    let resp = client.exec(&a.sandbox_id, &req).await?;
    Ok(limits.bound(resp))
}

/// `run_code`: write the code to a temporary file in the sandbox, run the language's
/// interpreter on it, remove the file.
pub(crate) async fn run_code(client: &Client, a: RunCode) -> Result<CommandOutput, ToolError> {
    let limits = Limits::new(a.timeout_s, a.max_output_bytes)?;
    let (program, ext, language) = match a.language {
        Language::Python => ("python3", "py", "Python"),
        Language::Node => ("node", "js", "Node.js"),
        Language::Bash => ("bash", "sh", "bash"),
    };
    let path = format!("/tmp/warren-mcp-{}.{ext}", unique());
    client
        .write_file(&a.sandbox_id, &path, a.code.into_bytes())
        .await?;
    let mut req = ExecRequest::new([program, path.as_str()]);
    req.timeout_s = Some(limits.timeout_s);
    let ran = client.exec(&a.sandbox_id, &req).await;
    if let Err(e) = client.remove_file(&a.sandbox_id, &path, false).await {
        tracing::debug!(error = %e, %path, "cannot remove run_code's file");
    }
    match ran {
        Ok(resp) => Ok(limits.bound(resp)),
        Err(e) if is_missing_program(&e, program) => {
            Err(ToolError::InterpreterMissing { language, program })
        }
        Err(e) => Err(e.into()),
    }
}

/// The agent's answer when the program to exec does not exist: `executable '<p>' not found`.
fn is_missing_program(e: &ClientError, program: &str) -> bool {
    matches!(e, ClientError::Api { message, .. }
        if message.contains(&format!("executable '{program}' not found")))
}

/// A name no other call uses: time and a process-wide counter.
fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:x}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A call's timeout and output bound, validated.
#[derive(Debug, Clone, Copy)]
struct Limits {
    timeout_s: u64,
    max_output: usize,
}

impl Limits {
    fn new(timeout_s: Option<u64>, max_output: Option<usize>) -> Result<Self, ToolError> {
        let timeout_s = timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
        if !(1..=MAX_TIMEOUT_S).contains(&timeout_s) {
            return Err(ToolError::InvalidArgument {
                argument: "timeout_s",
                reason: format!("{timeout_s} is not within 1..={MAX_TIMEOUT_S}"),
            });
        }
        let max_output = max_output.unwrap_or(DEFAULT_MAX_OUTPUT);
        if !(MIN_MAX_OUTPUT..=MAX_MAX_OUTPUT).contains(&max_output) {
            return Err(ToolError::InvalidArgument {
                argument: "max_output_bytes",
                reason: format!("{max_output} is not within {MIN_MAX_OUTPUT}..={MAX_MAX_OUTPUT}"),
            });
        }
        Ok(Self {
            timeout_s,
            max_output,
        })
    }

    fn bound(self, r: ExecResponse) -> CommandOutput {
        let (stdout, cut_out) = head_and_tail(r.stdout, self.max_output);
        let (stderr, cut_err) = head_and_tail(r.stderr, self.max_output);
        CommandOutput {
            exit_code: r.exit_code,
            stdout,
            stderr,
            truncated: r.truncated || cut_out || cut_err,
            timed_out: r.timed_out,
            duration_ms: r.duration_ms,
        }
    }
}

/// `s` if it fits in `max` bytes; else its first and last parts (on char boundaries) around a
/// marker, the whole at most `max` bytes, and `true`.
fn head_and_tail(s: String, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s, false);
    }
    // The marker's length depends on the count; budget for the longest.
    let budget = max.saturating_sub(format!("\n[... {} bytes left out ...]\n", s.len()).len());
    let head_end = floor_char_boundary(&s, budget / 2);
    let tail_start = ceil_char_boundary(&s, s.len() - (budget - budget / 2));
    let omitted = tail_start - head_end;
    let out = format!(
        "{}\n[... {omitted} bytes left out ...]\n{}",
        &s[..head_end],
        &s[tail_start..]
    );
    (out, true)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_kept_whole() {
        assert_eq!(head_and_tail("hello".into(), 256), ("hello".into(), false));
    }

    #[test]
    fn long_output_keeps_both_ends_within_the_bound() {
        let s = format!("BEGIN{}END", "x".repeat(10_000));
        let (out, cut) = head_and_tail(s, 300);
        assert!(cut);
        assert!(out.len() <= 300, "{} bytes", out.len());
        assert!(out.starts_with("BEGIN") && out.ends_with("END"), "{out}");
        assert!(out.contains("bytes left out"));
    }

    #[test]
    fn cuts_on_char_boundaries() {
        let s = "é".repeat(5_000);
        let (out, cut) = head_and_tail(s, 301);
        assert!(cut && out.len() <= 301);
        assert!(out.starts_with('é') && out.ends_with('é'));
    }

    #[test]
    fn limits_are_validated() {
        assert!(Limits::new(Some(0), None).is_err());
        assert!(Limits::new(Some(3601), None).is_err());
        assert!(Limits::new(None, Some(10)).is_err());
        let l = Limits::new(None, None).unwrap();
        assert_eq!((l.timeout_s, l.max_output), (60, 20_000));
    }
}
