//! Fork/exec of one process as a given user, with pipes or files for its stdio.
//!
//! The child runs `setgroups`/`setgid`/`setuid` (all async-signal-safe syscalls, with every
//! argument prepared before the fork), then `execvp` with a fully built environment. A process
//! on a PTY first runs `setsid` and takes the terminal as its controlling one; every other one
//! stays in the agent's session and process group. That way no process is ever left in a
//! session or group whose leader has exited (what `sh -c "server &"` leaves behind when each
//! command has a session of its own): CRIU restores such a process through a helper task, and
//! here that helper fails to join the sandbox's mount namespace, so the sandbox could not be
//! resumed from hibernation or branched.
//! `std::process::Command` reports an `exec` failure (missing binary, EACCES) as the spawn
//! error, which is how "command not found" reaches the client.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, Stdio};

use tokio::sync::oneshot;

use crate::reaper::{Exit, Reaper};
use crate::users::User;

/// Where the child's stdout and stderr go.
#[derive(Debug)]
pub enum Output {
    /// Pipes the agent reads.
    Pipes,
    /// The agent's own stdout/stderr.
    Inherit,
    /// A PTY slave as stdin, stdout and stderr, made the controlling terminal.
    Pty(std::os::fd::OwnedFd),
}

/// Everything needed to start a process.
#[derive(Debug)]
pub struct SpawnSpec {
    /// Program (path or name looked up in the child's `PATH`).
    pub cmd: String,
    /// Arguments.
    pub args: Vec<String>,
    /// The complete environment.
    pub env: Vec<(String, String)>,
    /// Working directory (must exist).
    pub cwd: PathBuf,
    /// Who it runs as.
    pub user: User,
    /// Keep a stdin pipe (else `/dev/null`).
    pub stdin_pipe: bool,
    /// Output handling.
    pub output: Output,
}

/// A started child.
#[derive(Debug)]
pub struct Spawned {
    /// Its pid.
    pub pid: u32,
    /// Write end of its stdin, when piped.
    pub stdin: Option<ChildStdin>,
    /// Read end of its stdout, when piped.
    pub stdout: Option<ChildStdout>,
    /// Read end of its stderr, when piped.
    pub stderr: Option<ChildStderr>,
    /// Resolves when the reaper collects it.
    pub exit: oneshot::Receiver<Exit>,
}

/// Start a process.
pub fn spawn(reaper: &Reaper, spec: SpawnSpec) -> io::Result<Spawned> {
    let mut cmd = Command::new(&spec.cmd);
    cmd.args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.cwd);
    cmd.stdin(if spec.stdin_pipe {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let pty = matches!(spec.output, Output::Pty(_));
    match spec.output {
        Output::Pipes => {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        Output::Inherit => {
            cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
        }
        Output::Pty(slave) => {
            cmd.stdin(slave.try_clone()?)
                .stdout(slave.try_clone()?)
                .stderr(slave);
        }
    }
    // Only root can change credentials; an unprivileged agent (tests) runs children as itself.
    let change_creds = nix::unistd::geteuid().is_root();
    if !change_creds && spec.user.uid != nix::unistd::geteuid().as_raw() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the agent is not root and cannot run processes as uid {}",
                spec.user.uid
            ),
        ));
    }
    let groups: Vec<libc::gid_t> = spec.user.groups.clone();
    let (uid, gid) = (spec.user.uid, spec.user.gid);
    // SAFETY: the closure runs in the forked child before exec and only makes async-signal-safe
    // syscalls (open/write/close of a static path, setsid, ioctl TIOCSCTTY on fd 0, setgroups,
    // setgid, setuid) on data prepared before the fork; it does not allocate or take locks.
    unsafe {
        cmd.pre_exec(move || {
            // Processes go before the agent when the sandbox runs out of memory: if PID 1 were
            // OOM-killed the whole sandbox would die. Raising one's own score needs no privilege;
            // failing to (an unusual /proc) is not worth refusing the command for.
            let fd = libc::open(
                c"/proc/self/oom_score_adj".as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC,
            );
            if fd >= 0 {
                libc::write(fd, b"500".as_ptr().cast(), 3);
                libc::close(fd);
            }
            // A session of its own, whose controlling terminal is the PTY slave (already
            // dup'ed onto fd 0).
            if pty && (libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0) {
                return Err(io::Error::last_os_error());
            }
            if change_creds
                && (libc::setgroups(groups.len(), groups.as_ptr()) < 0
                    || libc::setgid(gid) < 0
                    || libc::setuid(uid) < 0)
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (mut child, exit) = reaper.spawn(&mut cmd)?;
    Ok(Spawned {
        pid: child.id(),
        stdin: child.stdin.take(),
        stdout: child.stdout.take(),
        stderr: child.stderr.take(),
        exit,
    })
}
