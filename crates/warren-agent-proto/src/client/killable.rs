//! A byte stream the owner can cut: hyper's HTTP/2 client keeps driving its connection (in a
//! task of its own) while any stream is in flight, whatever happens to the handles, so the only
//! way to close the connection *now* is underneath it. After [`KillSwitch::kill`], reads fail
//! and writes fail; the connection task ends and drops (closes) the stream.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Cuts the streams made [`Killable`] with it.
#[derive(Debug, Default)]
pub(crate) struct KillSwitch {
    killed: AtomicBool,
    /// The last reader waiting: woken by `kill` so it sees the cut.
    reader: Mutex<Option<Waker>>,
}

impl KillSwitch {
    /// Cut the stream.
    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        let waker = self.reader.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }
}

fn cut() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "agent connection closed by the host",
    )
}

/// A stream `S` that a [`KillSwitch`] can cut.
pub(crate) struct Killable<S> {
    inner: S,
    switch: Arc<KillSwitch>,
}

impl<S> Killable<S> {
    pub(crate) fn new(inner: S, switch: Arc<KillSwitch>) -> Self {
        Self { inner, switch }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Killable<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.switch.killed() {
            return Poll::Ready(Err(cut()));
        }
        *self.switch.reader.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
        // A kill between the check and the registration must not be missed.
        if self.switch.killed() {
            return Poll::Ready(Err(cut()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Killable<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.switch.killed() {
            return Poll::Ready(Err(cut()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.switch.killed() {
            return Poll::Ready(Err(cut()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_kill_wakes_a_blocked_reader() {
        let (a, mut b) = tokio::io::duplex(64);
        let switch = Arc::new(KillSwitch::default());
        let mut k = Killable::new(a, switch.clone());
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            k.read(&mut buf).await
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        switch.kill();
        let r = tokio::time::timeout(std::time::Duration::from_secs(5), reader)
            .await
            .expect("the reader woke")
            .unwrap();
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::ConnectionAborted);
        // The other side is still usable on its own (only ours is cut).
        let _ = b.write_all(b"x").await;
    }
}
