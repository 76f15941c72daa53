//! Running processes, by pid and tag, and the fan-out of their events.
//!
//! Every process started through the agent has a [`Proc`]: its config (for `List`), its stdin
//! pipe (for `SendInput`/`CloseStdin`) and its subscribers. The `Start` call subscribes before
//! the output pump begins, so it sees every event; `Connect` subscribes later and sees events
//! from then on. Each subscriber first receives `start {pid}`. A subscriber that joins after the
//! end still gets `start` then `end`. A dropped subscriber (client went away) is forgotten; the
//! process keeps running.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use tokio::net::unix::pipe;
use tokio::sync::mpsc;
use warren_agent_proto::{ProcessConfig, ProcessEvent, ProcessInfo, ProcessSelector, StartEvent};

/// Events buffered per subscriber before the pump waits for it.
const SUBSCRIBER_BUFFER: usize = 64;

/// One tracked process.
#[derive(Debug)]
pub struct Proc {
    /// Its pid.
    pub pid: u32,
    /// Its tag.
    pub tag: Option<String>,
    /// How it was started.
    pub config: ProcessConfig,
    stdin: tokio::sync::Mutex<Option<pipe::Sender>>,
    /// The PTY master, for a process started on a terminal.
    pty: Option<Arc<super::pty::Master>>,
    fanout: Mutex<Fanout>,
}

#[derive(Debug, Default)]
struct Fanout {
    subscribers: Vec<mpsc::Sender<ProcessEvent>>,
    end: Option<ProcessEvent>,
}

/// Why input could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Started without stdin, or stdin already closed.
    #[error("stdin of process {0} is not open (start it with stdin enabled)")]
    NotOpen(u32),
    /// The write failed (the process closed its end).
    #[error("cannot write to stdin of process {pid}")]
    Write {
        /// Process.
        pid: u32,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

impl Proc {
    /// A process record.
    pub fn new(
        pid: u32,
        tag: Option<String>,
        config: ProcessConfig,
        stdin: Option<pipe::Sender>,
    ) -> Self {
        Self {
            pid,
            tag,
            config,
            stdin: tokio::sync::Mutex::new(stdin),
            pty: None,
            fanout: Mutex::new(Fanout::default()),
        }
    }

    /// The same record for a process on a terminal.
    pub fn with_pty(mut self, master: Arc<super::pty::Master>) -> Self {
        self.pty = Some(master);
        self
    }

    /// Its PTY master, when it runs on a terminal.
    pub fn pty(&self) -> Option<&Arc<super::pty::Master>> {
        self.pty.as_ref()
    }

    fn fanout(&self) -> std::sync::MutexGuard<'_, Fanout> {
        self.fanout.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribe to events from now on; the first event is `start {pid}`.
    pub fn subscribe(&self) -> mpsc::Receiver<ProcessEvent> {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_BUFFER);
        let start = ProcessEvent::Start(StartEvent { pid: self.pid });
        let _ = tx.try_send(start);
        let mut f = self.fanout();
        match &f.end {
            Some(end) => {
                let _ = tx.try_send(end.clone());
            }
            None => f.subscribers.push(tx),
        }
        rx
    }

    /// Deliver an event to every subscriber, waiting for slow ones (back-pressure).
    pub async fn publish(&self, event: ProcessEvent) {
        let subs: Vec<_> = {
            let mut f = self.fanout();
            f.subscribers.retain(|s| !s.is_closed());
            f.subscribers.clone()
        };
        for s in subs {
            let _ = s.send(event.clone()).await;
        }
    }

    /// Deliver the final event and close every subscription.
    pub async fn finish(&self, end: ProcessEvent) {
        let subs = {
            let mut f = self.fanout();
            f.end = Some(end.clone());
            std::mem::take(&mut f.subscribers)
        };
        for s in subs {
            let _ = s.send(end.clone()).await;
        }
        *self.stdin.lock().await = None;
    }

    /// Write to stdin.
    pub async fn write_stdin(&self, data: &[u8]) -> Result<(), InputError> {
        let mut g = self.stdin.lock().await;
        let w = g.as_mut().ok_or(InputError::NotOpen(self.pid))?;
        w.write_all(data).await.map_err(|source| InputError::Write {
            pid: self.pid,
            source,
        })
    }

    /// Close stdin (EOF for the process). Closing twice is fine.
    pub async fn close_stdin(&self) {
        *self.stdin.lock().await = None;
    }

    /// Its `List` entry.
    pub fn info(&self) -> ProcessInfo {
        ProcessInfo {
            config: Some(self.config.clone()),
            pid: self.pid,
            tag: self.tag.clone(),
        }
    }
}

/// All running processes.
#[derive(Debug, Default)]
pub struct Registry {
    procs: Mutex<HashMap<u32, Arc<Proc>>>,
}

impl Registry {
    fn procs(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Arc<Proc>>> {
        self.procs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Track a process.
    pub fn insert(&self, p: Arc<Proc>) {
        self.procs().insert(p.pid, p);
    }

    /// Stop tracking a process (only if it is still this one).
    pub fn remove(&self, p: &Arc<Proc>) {
        let mut procs = self.procs();
        if procs.get(&p.pid).is_some_and(|q| Arc::ptr_eq(p, q)) {
            procs.remove(&p.pid);
        }
    }

    /// Find a process.
    pub fn get(&self, sel: &ProcessSelector) -> Option<Arc<Proc>> {
        let procs = self.procs();
        match sel {
            ProcessSelector::Pid(pid) => procs.get(pid).cloned(),
            ProcessSelector::Tag(tag) => procs
                .values()
                .filter(|p| p.tag.as_deref() == Some(tag))
                .min_by_key(|p| p.pid)
                .cloned(),
        }
    }

    /// Whether this exact process is still tracked.
    pub fn contains(&self, p: &Arc<Proc>) -> bool {
        self.procs().get(&p.pid).is_some_and(|q| Arc::ptr_eq(p, q))
    }

    /// `List` entries, by pid.
    pub fn list(&self) -> Vec<ProcessInfo> {
        let mut v: Vec<_> = self.procs().values().map(|p| p.info()).collect();
        v.sort_by_key(|p| p.pid);
        v
    }
}
