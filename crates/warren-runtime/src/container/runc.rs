//! A thin wrapper over the runc CLI (`runc --root <runc_root> …`).
//!
//! Every call has a timeout and kills runc if it expires. Errors carry runc's own message, taken
//! from its JSON log lines (`--log-format json`) on stderr, or from the `--log` file for
//! `runc run --detach`, whose stdout/stderr belong to the container (they go to the sandbox log,
//! never to a pipe the daemon owns, so the sandbox outlives the daemon).

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde::Deserialize;
use tokio::process::Command;

/// Why a runc command failed.
#[derive(Debug, thiserror::Error)]
pub enum RuncError {
    /// runc could not be started.
    #[error("cannot run {runc} {command}")]
    Spawn {
        /// The runc binary.
        runc: PathBuf,
        /// The subcommand.
        command: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// runc did not finish in time (it was killed).
    #[error("runc {command} did not finish within {timeout:?}")]
    Timeout {
        /// The subcommand.
        command: &'static str,
        /// The time limit.
        timeout: Duration,
    },
    /// runc exited with an error.
    #[error("runc {command} failed ({status}): {message}")]
    Failed {
        /// The subcommand.
        command: &'static str,
        /// runc's exit status.
        status: ExitStatus,
        /// runc's error messages.
        message: String,
    },
    /// runc's output could not be parsed.
    #[error("cannot parse the output of runc {command}")]
    BadOutput {
        /// The subcommand.
        command: &'static str,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A file runc needs or writes could not be opened or read.
    #[error("runc {command}: cannot use {path}")]
    File {
        /// The subcommand.
        command: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// `runc state` / `runc list` entry.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ContainerState {
    pub id: String,
    pub pid: i64,
    pub status: String,
    pub bundle: PathBuf,
}

/// How to invoke runc.
#[derive(Debug, Clone)]
pub(crate) struct Runc {
    pub bin: PathBuf,
    pub root: PathBuf,
    pub timeout: Duration,
}

/// runc's error messages from JSON log lines (`{"level":"error","msg":…}`), or the raw text.
fn messages(text: &str) -> String {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) if v.get("msg").is_some() => {
                let level = v["level"].as_str().unwrap_or("");
                if matches!(level, "error" | "fatal" | "panic") {
                    out.push(v["msg"].as_str().unwrap_or("").to_owned());
                }
            }
            _ => out.push(line.to_owned()),
        }
    }
    out.dedup();
    out.join("; ")
}

fn is_not_exist(msg: &str) -> bool {
    msg.contains("does not exist")
}

impl Runc {
    fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root")
            .arg(&self.root)
            .arg("--log-format")
            .arg("json");
        c.stdin(Stdio::null()).kill_on_drop(true);
        c
    }

    /// Run a short command and return its stdout.
    async fn output(&self, command: &'static str, args: &[OsString]) -> Result<Vec<u8>, RuncError> {
        let mut c = self.command();
        c.arg(command).args(args);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = c.spawn().map_err(|source| RuncError::Spawn {
            runc: self.bin.clone(),
            command,
            source,
        })?;
        let out = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| RuncError::Timeout {
                command,
                timeout: self.timeout,
            })?
            .map_err(|source| RuncError::Spawn {
                runc: self.bin.clone(),
                command,
                source,
            })?;
        if !out.status.success() {
            return Err(RuncError::Failed {
                command,
                status: out.status,
                message: messages(&String::from_utf8_lossy(&out.stderr)),
            });
        }
        Ok(out.stdout)
    }

    /// `runc run --detach`: create and start the container. Its stdio: /dev/null in, `log` out.
    pub(crate) async fn run_detached(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        log: &Path,
        runc_log: &Path,
    ) -> Result<(), RuncError> {
        // No per-container session keyring: every sandbox's root is the same host uid, whose
        // key quota (kernel.keys.maxkeys, 200 by default) would cap the host at ~200 sandboxes.
        // Sandboxes inherit the daemon's session keyring but cannot reach it: the seccomp profile
        // denies keyctl, add_key and request_key.
        let args: [OsString; 1] = ["--no-new-keyring".into()];
        self.detached("run", &args, id, bundle, pid_file, log, runc_log)
            .await
    }

    /// `runc restore --detach`: bring a checkpointed container back from `image_dir` (CRIU's
    /// own log goes to `work_dir`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn restore_detached(
        &self,
        id: &str,
        bundle: &Path,
        image_dir: &Path,
        work_dir: &Path,
        pid_file: &Path,
        log: &Path,
        runc_log: &Path,
    ) -> Result<(), RuncError> {
        let args: [OsString; 4] = [
            "--image-path".into(),
            image_dir.into(),
            "--work-path".into(),
            work_dir.into(),
        ];
        self.detached("restore", &args, id, bundle, pid_file, log, runc_log)
            .await
    }

    /// `runc checkpoint`: dump the container's processes into `image_dir` with CRIU; the
    /// container is gone afterwards.
    pub(crate) async fn checkpoint(
        &self,
        id: &str,
        image_dir: &Path,
        work_dir: &Path,
        leave_running: bool,
    ) -> Result<(), RuncError> {
        let mut args: Vec<OsString> = vec![
            "--image-path".into(),
            image_dir.into(),
            "--work-path".into(),
            work_dir.into(),
            // A connection from the daemon that is still closing is dumped as external
            // (restored disconnected) instead of failing the dump.
            "--ext-unix-sk".into(),
        ];
        if leave_running {
            args.push("--leave-running".into());
        }
        args.push(id.into());
        self.output("checkpoint", &args).await.map(drop)
    }

    /// A `runc` command that leaves a container running detached, its stdio to `log`.
    #[allow(clippy::too_many_arguments)]
    async fn detached(
        &self,
        cmd: &'static str,
        extra: &[OsString],
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        log: &Path,
        runc_log: &Path,
    ) -> Result<(), RuncError> {
        let file_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RuncError::File {
                command: cmd,
                path,
                source,
            }
        };
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(file_err(log))?;
        let err = out.try_clone().map_err(file_err(log))?;
        let mut c = self.command();
        c.arg("--log").arg(runc_log);
        // Only this command's messages in the log we read on failure.
        let _ = std::fs::remove_file(runc_log);
        c.arg(cmd)
            .args(extra)
            .arg("--detach")
            .arg("--bundle")
            .arg(bundle);
        c.arg("--pid-file").arg(pid_file).arg(id);
        c.stdout(Stdio::from(out)).stderr(Stdio::from(err));
        let mut child = c.spawn().map_err(|source| RuncError::Spawn {
            runc: self.bin.clone(),
            command: cmd,
            source,
        })?;
        let status = tokio::time::timeout(self.timeout, child.wait())
            .await
            .map_err(|_| RuncError::Timeout {
                command: cmd,
                timeout: self.timeout,
            })?
            .map_err(|source| RuncError::Spawn {
                runc: self.bin.clone(),
                command: cmd,
                source,
            })?;
        if !status.success() {
            let text = std::fs::read_to_string(runc_log).unwrap_or_default();
            return Err(RuncError::Failed {
                command: cmd,
                status,
                message: messages(&text),
            });
        }
        Ok(())
    }

    /// `runc state <id>`; `None` when runc has no such container.
    pub(crate) async fn state(&self, id: &str) -> Result<Option<ContainerState>, RuncError> {
        match self.output("state", &[id.into()]).await {
            Ok(out) => {
                serde_json::from_slice(&out)
                    .map(Some)
                    .map_err(|source| RuncError::BadOutput {
                        command: "state",
                        source,
                    })
            }
            Err(RuncError::Failed { message, .. }) if is_not_exist(&message) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `runc list --format json` (runc prints `null` when there are none).
    pub(crate) async fn list(&self) -> Result<Vec<ContainerState>, RuncError> {
        let out = self
            .output("list", &["--format".into(), "json".into()])
            .await?;
        let list: Option<Vec<ContainerState>> =
            serde_json::from_slice(&out).map_err(|source| RuncError::BadOutput {
                command: "list",
                source,
            })?;
        Ok(list.unwrap_or_default())
    }

    /// `runc kill <id> KILL`; a container that is not running (or gone) is not an error.
    pub(crate) async fn kill(&self, id: &str) -> Result<(), RuncError> {
        match self.output("kill", &[id.into(), "KILL".into()]).await {
            Err(RuncError::Failed { message, .. })
                if is_not_exist(&message) || message.contains("not running") =>
            {
                Ok(())
            }
            other => other.map(drop),
        }
    }

    /// `runc pause <id>`: freeze every process (cgroup freezer).
    pub(crate) async fn pause(&self, id: &str) -> Result<(), RuncError> {
        self.output("pause", &[id.into()]).await.map(drop)
    }

    /// `runc kill --all <id> <signal>`: every process of the container; a container that is not
    /// running is not an error.
    pub(crate) async fn signal_all(&self, id: &str, signal: &str) -> Result<(), RuncError> {
        match self
            .output("kill", &["--all".into(), id.into(), signal.into()])
            .await
        {
            Err(RuncError::Failed { message, .. })
                if is_not_exist(&message) || message.contains("not running") =>
            {
                Ok(())
            }
            other => other.map(drop),
        }
    }

    /// `runc resume <id>`.
    pub(crate) async fn resume(&self, id: &str) -> Result<(), RuncError> {
        self.output("resume", &[id.into()]).await.map(drop)
    }

    /// `runc delete --force <id>`; succeeds if the container is already gone.
    pub(crate) async fn delete_force(&self, id: &str) -> Result<(), RuncError> {
        match self.output("delete", &["--force".into(), id.into()]).await {
            Err(RuncError::Failed { message, .. }) if is_not_exist(&message) => Ok(()),
            other => other.map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_log_lines_become_messages() {
        let text = "{\"level\":\"warning\",\"msg\":\"meh\",\"time\":\"t\"}\n\
                    {\"level\":\"error\",\"msg\":\"container does not exist\",\"time\":\"t\"}\n\
                    container does not exist\n";
        let m = messages(text);
        assert_eq!(m, "container does not exist");
        assert!(is_not_exist(&m));
    }
}
