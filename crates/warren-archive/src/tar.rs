//! Running GNU tar as a child process: the flags that make a sandbox filesystem round-trip
//! exactly, and the bookkeeping (stderr capture, kill on early exit) both directions share.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;

/// `tar --create` of the contents of `dir` to stdout.
///
/// posix (pax) format: nanosecond mtimes, long names, xattrs. `--xattrs-include='*'` keeps
/// every namespace (`trusted.overlay.*`, `security.*`), `--acls` the POSIX ACLs, `--sparse`
/// stores only the data of sparse files (found with SEEK_DATA/SEEK_HOLE, so a 10 GiB image
/// holding a few MiB is read and stored as a few MiB), `--numeric-owner` the shifted uids as
/// numbers. Symlinks are archived as links, never followed. Sockets are skipped silently (the
/// manifest carries them).
pub(crate) fn create_command(dir: &Path) -> Command {
    let mut cmd = Command::new("tar");
    cmd.args([
        "--create",
        "--file=-",
        "--format=posix",
        "--xattrs",
        "--xattrs-include=*",
        "--acls",
        "--sparse",
        "--numeric-owner",
        "--warning=no-file-ignored",
        // Atime and ctime in every pax header would only grow the archive: restore sets mtimes.
        "--pax-option=delete=atime,delete=ctime",
        "--directory",
    ])
    .arg(dir)
    .arg(".")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

/// `tar --extract` from stdin into `dir`, restoring owners, modes, xattrs and ACLs exactly.
pub(crate) fn extract_command(dir: &Path) -> Command {
    let mut cmd = Command::new("tar");
    cmd.args([
        "--extract",
        "--file=-",
        "--numeric-owner",
        "--same-owner",
        "--same-permissions",
        "--xattrs",
        "--xattrs-include=*",
        "--acls",
        "--directory",
    ])
    .arg(dir)
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    cmd
}

/// A running tar: killed and reaped when dropped before [`TarChild::wait`].
#[derive(Debug)]
pub(crate) struct TarChild {
    child: Option<Child>,
    stderr: Option<JoinHandle<String>>,
}

/// How much of tar's stderr is kept for the error message.
const STDERR_KEEP: usize = 4096;

impl TarChild {
    pub(crate) fn spawn(mut cmd: Command) -> std::io::Result<TarChild> {
        let mut child = cmd.spawn()?;
        let mut pipe = child.stderr.take().expect("stderr is piped");
        // Read stderr on the side: tar can print more than a pipe holds (a warning per file)
        // while its stdout is still being read.
        let stderr = std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > 2 * STDERR_KEEP {
                    kept.drain(..kept.len() - STDERR_KEEP);
                }
            }
            let start = kept.len().saturating_sub(STDERR_KEEP);
            String::from_utf8_lossy(&kept[start..]).trim().to_owned()
        });
        Ok(TarChild {
            child: Some(child),
            stderr: Some(stderr),
        })
    }

    /// Grows the pipe to tar to 1 MiB (from 64 KiB): fewer context switches between tar and
    /// this process. Best effort (the limit is `/proc/sys/fs/pipe-max-size`).
    pub(crate) fn widen_pipe(fd: impl std::os::fd::AsFd) {
        let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
    }

    pub(crate) fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("not yet waited")
    }

    /// Waits for tar to exit (its stdin must be closed by then); `Err` carries the exit status
    /// and the end of its stderr when it failed.
    pub(crate) fn wait(
        mut self,
    ) -> std::io::Result<Result<(), (std::process::ExitStatus, String)>> {
        let mut child = self.child.take().expect("waited once");
        drop(child.stdin.take());
        let status = child.wait()?;
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        Ok(if status.success() {
            Ok(())
        } else {
            Err((status, stderr))
        })
    }
}

impl Drop for TarChild {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            drop(child.stdin.take());
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
