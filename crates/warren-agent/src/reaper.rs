//! The one place that waits for children.
//!
//! As PID 1 the agent inherits every orphan in the sandbox and must reap them, but it also needs
//! the exit status of the processes it started. Both needs are met by a single reaper: on every
//! `SIGCHLD` (and on a slow timer, in case a signal was coalesced away) it loops
//! `waitpid(-1, WNOHANG)` and hands each status to whoever registered that pid; unknown pids are
//! orphans and are just logged. Children are spawned with `std::process::Command` *while holding
//! the reaper's lock* and registered before the lock is released, so the reaper can never reap a
//! child before its waiter exists (and never steals the status `Command::spawn` itself collects
//! when `exec` fails). Nothing else may call `wait`: tokio::process is not used.

use std::collections::HashMap;
use std::io;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::oneshot;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It called `exit(code)`.
    Code(i32),
    /// A signal killed it.
    Signal {
        /// Signal number.
        signal: i32,
        /// A core dump was written.
        core: bool,
    },
}

/// Registered waiters, keyed by pid.
#[derive(Debug, Default)]
pub struct Reaper {
    waiters: Mutex<HashMap<i32, oneshot::Sender<Exit>>>,
}

impl Reaper {
    /// Spawn `cmd` and register for its exit, atomically with respect to reaping.
    pub fn spawn(&self, cmd: &mut Command) -> io::Result<(Child, oneshot::Receiver<Exit>)> {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        let child = cmd.spawn()?;
        let (tx, rx) = oneshot::channel();
        waiters.insert(child.id() as i32, tx);
        Ok((child, rx))
    }

    /// Reap every child that has exited, dispatching statuses to waiters.
    pub fn reap(&self) {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let (pid, exit) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, Exit::Code(code)),
                Ok(WaitStatus::Signaled(pid, sig, core)) => (
                    pid,
                    Exit::Signal {
                        signal: sig as i32,
                        core,
                    },
                ),
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => {
                    crate::log!("waitpid failed: {e}");
                    return;
                }
            };
            match waiters.remove(&pid.as_raw()) {
                Some(tx) => {
                    let _ = tx.send(exit);
                }
                None => crate::log!("reaped orphan pid {pid} ({exit:?})"),
            }
        }
    }

    /// Start reaping forever. The `SIGCHLD` handler is installed before this returns, so call
    /// it (inside the runtime) before spawning any child.
    pub fn start(self: std::sync::Arc<Self>) -> tokio::task::JoinHandle<()> {
        let sigchld = match signal(SignalKind::child()) {
            Ok(s) => Some(s),
            Err(e) => {
                crate::log!("cannot watch SIGCHLD ({e}); reaping on a timer only");
                None
            }
        };
        tokio::spawn(self.run(sigchld))
    }

    async fn run(self: std::sync::Arc<Self>, mut sigchld: Option<tokio::signal::unix::Signal>) {
        loop {
            self.reap();
            let tick =
                tokio::time::sleep(Duration::from_secs(if sigchld.is_some() { 5 } else { 1 }));
            match sigchld.as_mut() {
                Some(s) => {
                    tokio::select! {
                        _ = s.recv() => {}
                        _ = tick => {}
                    }
                }
                None => tick.await,
            }
        }
    }
}
