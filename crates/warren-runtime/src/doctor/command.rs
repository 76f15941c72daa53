//! Running the doctor's read-only probe commands: binary lookup that also covers sbin directories
//! a daemon's `PATH` may lack, and execution with captured output and a hard timeout.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Directories searched after `$PATH`.
const FALLBACK_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Looks `name` up in `$PATH`, then in [`FALLBACK_DIRS`].
pub(super) fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(FALLBACK_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Captured result of a command that exited.
#[derive(Debug)]
pub(super) struct Output {
    pub(super) success: bool,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

impl Output {
    /// First line of stdout, trimmed.
    pub(super) fn first_line(&self) -> &str {
        self.stdout.lines().next().unwrap_or("").trim()
    }

    /// The most telling line of a failure: the last non-empty stderr line, else stdout's.
    pub(super) fn last_error_line(&self) -> String {
        let last = |s: &str| {
            s.lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(ToOwned::to_owned)
        };
        last(&self.stderr)
            .or_else(|| last(&self.stdout))
            .unwrap_or_else(|| "(no output)".into())
    }
}

/// Why a probe command produced no [`Output`].
#[derive(Debug, thiserror::Error)]
pub(super) enum RunError {
    #[error("cannot start it")]
    Spawn(#[source] std::io::Error),
    #[error("cannot wait for it")]
    Wait(#[source] std::io::Error),
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
}

/// Runs `bin args` with no stdin and captured output; kills it once `timeout` has passed.
pub(super) fn run(bin: &Path, args: &[&str], timeout: Duration) -> Result<Output, RunError> {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(RunError::Spawn)?;
    // Drain both pipes on threads so a chatty child cannot block on a full pipe.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(RunError::Wait)? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            // The reader threads end when the pipes close; nothing waits for them.
            return Err(RunError::TimedOut(timeout));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok(Output {
        success: status.success(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh_and_not_nonsense() {
        assert!(find_binary("sh").is_some());
        assert!(find_binary("warren-no-such-binary").is_none());
    }

    #[test]
    fn captures_output_and_exit_status() {
        let sh = find_binary("sh").unwrap();
        let script = "echo hello; echo oops >&2; echo >&2; exit 3";
        let out = run(&sh, &["-c", script], Duration::from_secs(5)).unwrap();
        assert!(!out.success);
        assert_eq!(out.first_line(), "hello");
        assert_eq!(out.last_error_line(), "oops");
        let quiet = run(&sh, &["-c", "exit 1"], Duration::from_secs(5)).unwrap();
        assert_eq!(quiet.last_error_line(), "(no output)");
    }

    #[test]
    fn kills_a_hung_command() {
        let sh = find_binary("sh").unwrap();
        let started = Instant::now();
        let err = run(&sh, &["-c", "exec sleep 30"], Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, RunError::TimedOut(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn missing_binary_is_a_spawn_error() {
        let err = run(Path::new("/nonexistent/bin"), &[], Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, RunError::Spawn(_)), "{err}");
    }
}
