//! Watching a directory (envd's `WatchDir` stream and its polled watchers) with inotify.
//!
//! A [`Watch`] owns one inotify instance with a watch on the directory and, when recursive, on
//! every directory under it (directories created later are added as they appear). Events are
//! named by their path relative to the watched directory and mapped to fsnotify's kinds, as
//! envd reports them: created or moved in → create, modified → write, deleted → remove, moved
//! away → rename, attributes → chmod.
//!
//! Polled watchers (`CreateWatcher`) are a task per watcher collecting events into a buffer
//! that `GetWatcherEvents` drains; `RemoveWatcher` (or the agent's end) stops it.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use tokio::io::unix::AsyncFd;
use warren_agent_proto::{ConnectCode, ConnectError, EventType, FilesystemEvent};

/// Most events a polled watcher keeps between two reads (older ones are dropped).
const MAX_BUFFERED: usize = 65_536;
/// Most directories one recursive watch follows.
const MAX_DIRS: usize = 8192;

struct Fd(Inotify);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// One watched directory tree.
pub struct Watch {
    fd: AsyncFd<Fd>,
    root: PathBuf,
    recursive: bool,
    /// Watch descriptor → the directory it watches, relative to `root` ("" for the root).
    dirs: HashMap<WatchDescriptor, PathBuf>,
}

fn flags() -> AddWatchFlags {
    AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_MODIFY
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_ATTRIB
        | AddWatchFlags::IN_ONLYDIR
}

fn internal(what: &str, e: impl std::fmt::Display) -> ConnectError {
    ConnectError::new(ConnectCode::Internal, format!("{what}: {e}"))
}

impl Watch {
    /// Start watching `root` (a directory), with its subdirectories if `recursive`.
    pub fn new(root: &Path, recursive: bool) -> Result<Self, ConnectError> {
        match std::fs::metadata(root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(ConnectError::new(
                    ConnectCode::InvalidArgument,
                    format!("{} is not a directory", root.display()),
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConnectError::new(
                    ConnectCode::NotFound,
                    format!("{} does not exist", root.display()),
                ));
            }
            Err(e) => return Err(internal(&format!("stat {}", root.display()), e)),
        }
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(|e| internal("inotify_init1", e))?;
        // SAFETY: `Fd` owns the inotify descriptor, which stays open (and is not registered
        // anywhere else) for as long as the `AsyncFd` holds it.
        let fd = unsafe { AsyncFd::register(Fd(inotify)) }
            .map_err(|e| internal("inotify fd", e.into_parts().1))?;
        let mut w = Self {
            fd,
            root: root.to_owned(),
            recursive,
            dirs: HashMap::new(),
        };
        w.add_tree(PathBuf::new())?;
        Ok(w)
    }

    /// Watch `rel` (relative to the root) and, when recursive, every directory under it.
    fn add_tree(&mut self, rel: PathBuf) -> Result<(), ConnectError> {
        let mut todo = vec![rel];
        while let Some(rel) = todo.pop() {
            if self.dirs.len() >= MAX_DIRS {
                break;
            }
            let abs = self.root.join(&rel);
            let wd = match self.fd.get_ref().0.add_watch(&abs, flags()) {
                Ok(wd) => wd,
                // Gone again, or not a directory any more: nothing to watch.
                Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => continue,
                Err(e) => return Err(internal(&format!("watch {}", abs.display()), e)),
            };
            self.dirs.insert(wd, rel.clone());
            if self.recursive
                && let Ok(rd) = std::fs::read_dir(&abs)
            {
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        todo.push(rel.join(e.file_name()));
                    }
                }
            }
        }
        Ok(())
    }

    /// The next events (waits until there is at least one).
    pub async fn next(&mut self) -> Result<Vec<FilesystemEvent>, ConnectError> {
        loop {
            let mut guard = self
                .fd
                .readable()
                .await
                .map_err(|e| internal("inotify", e))?;
            let raw = match guard.get_inner().0.read_events() {
                Ok(evs) => evs,
                Err(nix::errno::Errno::EAGAIN) => {
                    guard.clear_ready();
                    continue;
                }
                Err(e) => return Err(internal("read inotify events", e)),
            };
            drop(guard);
            let mut out = Vec::new();
            for ev in raw {
                let Some(dir) = self.dirs.get(&ev.wd).cloned() else {
                    continue;
                };
                if ev.mask.contains(AddWatchFlags::IN_IGNORED) {
                    self.dirs.remove(&ev.wd);
                    continue;
                }
                let Some(name) = ev.name else { continue };
                let rel = dir.join(&name);
                let is_dir = ev.mask.contains(AddWatchFlags::IN_ISDIR);
                let kind = if ev
                    .mask
                    .intersects(AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO)
                {
                    EventType::Create
                } else if ev.mask.contains(AddWatchFlags::IN_MODIFY) {
                    EventType::Write
                } else if ev.mask.contains(AddWatchFlags::IN_DELETE) {
                    EventType::Remove
                } else if ev.mask.contains(AddWatchFlags::IN_MOVED_FROM) {
                    EventType::Rename
                } else if ev.mask.contains(AddWatchFlags::IN_ATTRIB) {
                    EventType::Chmod
                } else {
                    continue;
                };
                if kind == EventType::Create && is_dir && self.recursive {
                    self.add_tree(rel.clone())?;
                }
                out.push(FilesystemEvent {
                    name: rel.to_string_lossy().into_owned(),
                    r#type: kind,
                });
            }
            if !out.is_empty() {
                return Ok(out);
            }
        }
    }
}

/// A polled watcher: its buffer and the task filling it.
struct Polled {
    events: Arc<Mutex<Vec<FilesystemEvent>>>,
    task: tokio::task::JoinHandle<()>,
}

fn watchers() -> &'static Mutex<HashMap<String, Polled>> {
    static W: OnceLock<Mutex<HashMap<String, Polled>>> = OnceLock::new();
    W.get_or_init(Mutex::default)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `CreateWatcher`: start collecting events of `root`; returns the watcher's id.
pub fn create_watcher(root: &Path, recursive: bool) -> Result<String, ConnectError> {
    let mut watch = Watch::new(root, recursive)?;
    let events: Arc<Mutex<Vec<FilesystemEvent>>> = Arc::default();
    let sink = events.clone();
    let task = tokio::spawn(async move {
        while let Ok(evs) = watch.next().await {
            let mut buf = lock(&sink);
            buf.extend(evs);
            let excess = buf.len().saturating_sub(MAX_BUFFERED);
            buf.drain(..excess);
        }
    });
    let id = format!("w-{:016x}", rand_u64());
    lock(watchers()).insert(id.clone(), Polled { events, task });
    Ok(id)
}

/// `GetWatcherEvents`: the events since the last call.
pub fn watcher_events(id: &str) -> Result<Vec<FilesystemEvent>, ConnectError> {
    let all = lock(watchers());
    let w = all.get(id).ok_or_else(|| not_found(id))?;
    Ok(std::mem::take(&mut *lock(&w.events)))
}

/// `RemoveWatcher`.
pub fn remove_watcher(id: &str) -> Result<(), ConnectError> {
    let w = lock(watchers()).remove(id).ok_or_else(|| not_found(id))?;
    w.task.abort();
    Ok(())
}

fn not_found(id: &str) -> ConnectError {
    ConnectError::new(ConnectCode::NotFound, format!("no watcher {id}"))
}

/// A random id part (from the kernel's pool).
fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        return t.as_nanos() as u64;
    }
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sees_creates_writes_removes_recursively() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("old")).unwrap();
        let mut w = Watch::new(dir.path(), true).unwrap();
        std::fs::write(dir.path().join("a.txt"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("new")).unwrap();
        let mut seen = Vec::new();
        let until = |want: &str, kind: EventType, seen: &mut Vec<FilesystemEvent>| {
            seen.iter().any(|e| e.name == want && e.r#type == kind)
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while !(until("a.txt", EventType::Create, &mut seen)
            && until("new", EventType::Create, &mut seen))
        {
            seen.extend(
                tokio::time::timeout_at(deadline, w.next())
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        // The directory made after the watch started is watched too, and the old one.
        std::fs::write(dir.path().join("new/b.txt"), b"y").unwrap();
        std::fs::remove_file(dir.path().join("a.txt")).unwrap();
        std::fs::write(dir.path().join("old/c.txt"), b"z").unwrap();
        while !(until("new/b.txt", EventType::Create, &mut seen)
            && until("a.txt", EventType::Remove, &mut seen)
            && until("old/c.txt", EventType::Write, &mut seen))
        {
            seen.extend(
                tokio::time::timeout_at(deadline, w.next())
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        assert!(Watch::new(&dir.path().join("nope"), false).is_err());
    }
}
