//! The main process's log: its stdout and stderr, interleaved as they arrive, appended to a
//! file that is rotated when it reaches a size limit (`main.log` → `main.log.1` → ... up to
//! `files` files), so the log is retained but bounded.
//!
//! The file lives in the sandbox's run directory, which the host reads directly (a stopped
//! sandbox's log stays readable). A write that fails (the sandbox's disk quota is full, say)
//! drops that chunk and is reported once; the main process is never blocked by its log.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;
use warren_agent_proto::{DataEvent, ProcessEvent};

/// Rotation limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes per file before it is rotated.
    pub file_bytes: u64,
    /// Files kept, the current one included (at least 1).
    pub files: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            file_bytes: 8 * 1024 * 1024,
            files: 3,
        }
    }
}

/// An open, rotating log file.
#[derive(Debug)]
pub struct RotatingLog {
    path: PathBuf,
    limits: Limits,
    file: Option<File>,
    size: u64,
    failed: bool,
}

impl RotatingLog {
    /// Open (appending to) `path`.
    pub fn open(path: &Path, limits: Limits) -> std::io::Result<Self> {
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: path.to_owned(),
            limits: Limits {
                files: limits.files.max(1),
                file_bytes: limits.file_bytes.max(1),
            },
            file: Some(file),
            size,
            failed: false,
        })
    }

    /// `path.N` (`N` ≥ 1) or `path` itself for 0.
    fn numbered(&self, n: u32) -> PathBuf {
        if n == 0 {
            return self.path.clone();
        }
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    /// Shift `path.N-1` → `path.N` ... `path` → `path.1` and start a new `path`.
    fn rotate(&mut self) -> std::io::Result<()> {
        self.file = None;
        let last = self.limits.files - 1;
        if last == 0 {
            std::fs::remove_file(&self.path).or_else(ignore_missing)?;
        } else {
            for n in (0..last).rev() {
                std::fs::rename(self.numbered(n), self.numbered(n + 1)).or_else(ignore_missing)?;
            }
        }
        self.file = Some(open_append(&self.path)?);
        self.size = 0;
        Ok(())
    }

    /// Append `data`, rotating whenever the current file is full (a chunk may be split across
    /// files, so no file ever exceeds the limit).
    pub fn write(&mut self, mut data: &[u8]) {
        let result = (|| -> std::io::Result<()> {
            while !data.is_empty() {
                if self.size >= self.limits.file_bytes {
                    self.rotate()?;
                }
                let room =
                    usize::try_from(self.limits.file_bytes - self.size).unwrap_or(usize::MAX);
                let (now, rest) = data.split_at(data.len().min(room));
                let file = match &mut self.file {
                    Some(f) => f,
                    None => self.file.insert(open_append(&self.path)?),
                };
                file.write_all(now)?;
                self.size += now.len() as u64;
                data = rest;
            }
            Ok(())
        })();
        match result {
            Ok(()) => self.failed = false,
            Err(e) if !self.failed => {
                self.failed = true;
                crate::log!(
                    "main process log {}: {e}; dropping output",
                    self.path.display()
                );
            }
            Err(_) => {}
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn ignore_missing(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

/// Write a process's output events to `log` until the process ends.
pub async fn record(mut events: mpsc::Receiver<ProcessEvent>, mut log: RotatingLog) {
    while let Some(ev) = events.recv().await {
        match ev {
            ProcessEvent::Data(DataEvent::Stdout(b) | DataEvent::Stderr(b)) => log.write(&b),
            ProcessEvent::End(_) => break,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap_or_default()
    }

    #[test]
    fn rotates_and_keeps_a_bounded_number_of_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("main.log");
        let mut log = RotatingLog::open(
            &path,
            Limits {
                file_bytes: 10,
                files: 3,
            },
        )
        .unwrap();
        for chunk in [
            "aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n", "ffff\n", "gggg\n",
        ] {
            log.write(chunk.as_bytes());
        }
        assert_eq!(read(&path), "gggg\n");
        assert_eq!(read(&dir.path().join("main.log.1")), "eeee\nffff\n");
        assert_eq!(read(&dir.path().join("main.log.2")), "cccc\ndddd\n");
        assert!(!dir.path().join("main.log.3").exists());
    }

    #[test]
    fn reopening_appends_and_counts_the_existing_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("main.log");
        let limits = Limits {
            file_bytes: 8,
            files: 1,
        };
        RotatingLog::open(&path, limits).unwrap().write(b"12345");
        let mut again = RotatingLog::open(&path, limits).unwrap();
        again.write(b"678");
        assert_eq!(read(&path), "12345678");
        again.write(b"9");
        assert_eq!(read(&path), "9", "one file: the old content is dropped");
    }
}
