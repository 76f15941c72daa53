//! Processes on a pseudo-terminal, as envd runs them for `Start` with `pty`.
//!
//! The agent opens a PTY pair, the child gets the slave as stdin, stdout and stderr and makes
//! it its controlling terminal (`setsid` then `TIOCSCTTY`, in [`super::spawn`]), and the agent
//! keeps the master: everything the child writes comes out of it as `data.pty` events,
//! `SendInput` with `pty` bytes is written into it, and `Update` resizes it (`TIOCSWINSZ`, which
//! also sends the child `SIGWINCH`). After the child exits, the master reads `EIO` once nothing
//! holds the slave any more; output still buffered is drained first.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;

use bytes::Bytes;
use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use nix::pty::{Winsize, openpty};
use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;
use warren_agent_proto::{DataEvent, ProcessEvent, PtySize};

use super::registry::{Proc, Registry};
use super::status::end_event;
use crate::reaper::Exit;

/// Bytes per read.
const CHUNK: usize = 32 * 1024;
/// Size when the request gives none (or zeros).
pub const DEFAULT_SIZE: PtySize = PtySize { cols: 80, rows: 24 };

fn winsize(size: PtySize) -> Winsize {
    let clamp = |v: u32, default: u32| {
        let v = if v == 0 { default } else { v };
        u16::try_from(v).unwrap_or(u16::MAX)
    };
    Winsize {
        ws_row: clamp(size.rows, DEFAULT_SIZE.rows),
        ws_col: clamp(size.cols, DEFAULT_SIZE.cols),
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// The agent's end of a PTY.
#[derive(Debug)]
pub struct Master {
    fd: AsyncFd<OwnedFd>,
}

impl Master {
    /// Open a PTY pair of `size`: the master (non-blocking, registered with tokio) and the
    /// slave for the child. Both are close-on-exec; the child gets the slave through dup2.
    pub fn open(size: PtySize) -> io::Result<(Self, OwnedFd)> {
        let pair = openpty(Some(&winsize(size)), None)?;
        for fd in [&pair.master, &pair.slave] {
            fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        }
        let flags = OFlag::from_bits_truncate(fcntl(pair.master.as_fd(), FcntlArg::F_GETFL)?);
        fcntl(
            pair.master.as_fd(),
            FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK),
        )?;
        // SAFETY: `OwnedFd` owns an open descriptor and always returns the same one from
        // `as_raw_fd`; it is closed only when the `AsyncFd` (which owns it) is dropped.
        let fd = unsafe { AsyncFd::register(pair.master) }.map_err(|e| e.into_parts().1)?;
        Ok((Self { fd }, pair.slave))
    }

    /// Read what the terminal has; `Ok(0)` once the slave side is gone (`EIO`).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| read_fd(fd.get_ref(), buf)) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// Everything buffered right now, without waiting.
    pub fn drain(&self) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; CHUNK];
        while let Ok(n @ 1..) = read_fd(self.fd.get_ref(), &mut buf) {
            out.push(Bytes::copy_from_slice(&buf[..n]));
        }
        out
    }

    /// Write all of `data` as terminal input.
    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|fd| nix::unistd::write(fd.get_ref(), data).map_err(io::Error::from))
            {
                Ok(Ok(n)) => data = &data[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }

    /// Set the terminal size; the foreground process group gets `SIGWINCH`.
    pub fn resize(&self, size: PtySize) -> io::Result<()> {
        let ws = winsize(size);
        // SAFETY: TIOCSWINSZ reads one `struct winsize` through the pointer, which points to a
        // live, initialised `Winsize` (the same layout as libc's) for the whole call; the fd is
        // an open PTY master owned by `self`.
        let r = unsafe { libc::ioctl(self.fd.get_ref().as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// One non-blocking read; `EIO` (slave closed) reads as end-of-file.
fn read_fd(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match nix::unistd::read(fd.as_fd(), buf) {
            Ok(n) => return Ok(n),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EIO) => return Ok(0),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The output pump of a PTY process: publish terminal output until the exit, drain, `end`.
pub async fn run(
    registry: Arc<Registry>,
    proc_: Arc<Proc>,
    master: Arc<Master>,
    exit: oneshot::Receiver<Exit>,
) -> Exit {
    let mut buf = vec![0u8; CHUNK];
    let mut open = true;
    tokio::pin!(exit);
    let status = loop {
        tokio::select! {
            r = master.read(&mut buf), if open => match r {
                Ok(n @ 1..) => {
                    let data = Bytes::copy_from_slice(&buf[..n]);
                    proc_.publish(ProcessEvent::Data(DataEvent::Pty(data))).await;
                }
                Ok(0) | Err(_) => open = false,
            },
            e = &mut exit => break e.unwrap_or(Exit::Code(-1)),
        }
    };
    for chunk in master.drain() {
        proc_
            .publish(ProcessEvent::Data(DataEvent::Pty(chunk)))
            .await;
    }
    registry.remove(&proc_);
    proc_.finish(ProcessEvent::End(end_event(status))).await;
    status
}
