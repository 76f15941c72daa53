//! The output pump of one process: read stdout and stderr as data arrives, publish each chunk
//! at once, and after the exit publish `end`.
//!
//! When the reaper reports the exit, whatever is still buffered in the pipes was written before
//! the process died, so it is drained with plain non-blocking reads (not waiting for EOF, which
//! never comes while a background grandchild holds the pipe open), then the process leaves the
//! registry and `end` goes out.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::sync::oneshot;
use warren_agent_proto::{DataEvent, ProcessEvent};

use super::registry::{Proc, Registry};
use super::status::end_event;
use crate::reaper::Exit;

/// Bytes per read (envd uses 32 KiB).
const CHUNK: usize = 32 * 1024;

/// A pipe read end as a tokio receiver (sets `O_NONBLOCK`).
pub fn receiver(fd: impl Into<OwnedFd>) -> std::io::Result<pipe::Receiver> {
    pipe::Receiver::from_owned_fd(fd.into())
}

/// Run the pump to completion.
pub async fn run(
    registry: Arc<Registry>,
    proc_: Arc<Proc>,
    mut stdout: Option<pipe::Receiver>,
    mut stderr: Option<pipe::Receiver>,
    exit: oneshot::Receiver<Exit>,
) -> Exit {
    let mut out_buf = vec![0u8; CHUNK];
    let mut err_buf = vec![0u8; CHUNK];
    tokio::pin!(exit);
    let status = loop {
        tokio::select! {
            r = read_some(&mut stdout, &mut out_buf), if stdout.is_some() => match r {
                Some(b) => proc_.publish(ProcessEvent::Data(DataEvent::Stdout(b))).await,
                None => stdout = None,
            },
            r = read_some(&mut stderr, &mut err_buf), if stderr.is_some() => match r {
                Some(b) => proc_.publish(ProcessEvent::Data(DataEvent::Stderr(b))).await,
                None => stderr = None,
            },
            e = &mut exit => break e.unwrap_or(Exit::Code(-1)),
        }
    };
    for (pipe, is_out) in [(stdout.take(), true), (stderr.take(), false)] {
        let Some(pipe) = pipe else { continue };
        for chunk in drain(&pipe) {
            let data = if is_out {
                DataEvent::Stdout(chunk)
            } else {
                DataEvent::Stderr(chunk)
            };
            proc_.publish(ProcessEvent::Data(data)).await;
        }
    }
    registry.remove(&proc_);
    proc_.finish(ProcessEvent::End(end_event(status))).await;
    status
}

async fn read_some(p: &mut Option<pipe::Receiver>, buf: &mut [u8]) -> Option<Bytes> {
    match p.as_mut()?.read(buf).await {
        Ok(0) | Err(_) => None,
        Ok(n) => Some(Bytes::copy_from_slice(&buf[..n])),
    }
}

/// Everything currently buffered in a pipe, by direct non-blocking reads.
fn drain(p: &pipe::Receiver) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        match nix::unistd::read(p.as_fd(), &mut buf) {
            Err(nix::errno::Errno::EINTR) => continue,
            Ok(0) | Err(_) => return out,
            Ok(n) => out.push(Bytes::copy_from_slice(&buf[..n])),
        }
    }
}
