//! Reading a sandbox's main-process log from the host: `main.log.N` ... `main.log.1`,
//! `main.log` in its run directory (the agent writes and rotates them; see the agent's
//! `mainlog`), from the last `tail` lines, then — when following — new output as it is written,
//! across rotations, until the reader goes away or the sandbox is deleted.
//!
//! The run directory is writable by the sandbox's root, so its entries are untrusted: each file
//! is opened relative to the directory with `O_NOFOLLOW | O_NONBLOCK` and must be a regular file
//! (a symlink to a host file, or a FIFO that would block the reader, is refused).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use tokio::sync::mpsc;

use crate::{LogChunks, LogOptions};

/// Bytes per chunk sent to the reader.
const CHUNK: usize = 64 * 1024;
/// How often a follower looks for new output.
const POLL: Duration = Duration::from_millis(100);
/// Chunks buffered between the reading thread and the consumer.
const BUFFER: usize = 16;

/// The log's files, oldest first, that exist now.
fn open_all(dir: &OwnedFd, files: u32) -> std::io::Result<Vec<File>> {
    let mut out = Vec::new();
    for n in (0..files.max(1)).rev() {
        if let Some(f) = open_one(dir, &file_name(n))? {
            out.push(f);
        }
    }
    Ok(out)
}

fn file_name(n: u32) -> String {
    if n == 0 {
        "main.log".to_owned()
    } else {
        format!("main.log.{n}")
    }
}

/// Open one log file safely; `None` if it does not exist.
fn open_one(dir: &OwnedFd, name: &str) -> std::io::Result<Option<File>> {
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let fd = match openat(dir.as_fd(), name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let file = File::from(fd);
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{name} in the sandbox's run directory is not a regular file"),
        ));
    }
    Ok(Some(file))
}

/// Where the last `lines` lines begin: (index into `files`, byte offset). A final newline does
/// not start a line.
fn tail_start(files: &mut [File], lines: u64) -> std::io::Result<(usize, u64)> {
    let mut seen = 0u64;
    let mut at_end = true;
    let mut buf = vec![0u8; CHUNK];
    for idx in (0..files.len()).rev() {
        let mut pos = files[idx].metadata()?.len();
        while pos > 0 {
            let n = usize::try_from(pos.min(CHUNK as u64)).unwrap_or(CHUNK);
            pos -= n as u64;
            let block = &mut buf[..n];
            files[idx].seek(SeekFrom::Start(pos))?;
            files[idx].read_exact(block)?;
            for (i, b) in block.iter().enumerate().rev() {
                if *b == b'\n' && !at_end {
                    seen += 1;
                    if seen == lines {
                        return Ok((idx, pos + i as u64 + 1));
                    }
                }
                at_end = false;
            }
        }
    }
    Ok((0, 0))
}

/// Send `file` from its current position to its end; false when the consumer is gone.
fn pump(file: &mut File, tx: &mpsc::Sender<std::io::Result<Vec<u8>>>) -> bool {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => {
                if tx.blocking_send(Ok(buf[..n].to_vec())).is_err() {
                    return false;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return tx.blocking_send(Err(e)).is_ok(),
        }
    }
}

/// Start reading the log of the sandbox whose run directory is `run_dir`; `bundle` is checked to
/// end a follow once the sandbox is deleted.
pub(crate) fn read(
    run_dir: &Path,
    bundle: PathBuf,
    files: u32,
    opts: LogOptions,
) -> std::io::Result<LogChunks> {
    let dir: OwnedFd = nix::fcntl::open(
        run_dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut all = open_all(&dir, files)?;
    let (start_idx, offset) = match opts.tail {
        Some(0) => (all.len(), 0),
        Some(n) => tail_start(&mut all, n)?,
        None => (0, 0),
    };
    let (tx, rx) = mpsc::channel(BUFFER);
    std::thread::Builder::new()
        .name("warren-logs".into())
        .spawn(move || {
            let newest = all.len().checked_sub(1);
            let mut current: Option<File> = None;
            for (idx, mut f) in all.into_iter().enumerate() {
                if idx < start_idx {
                    // Nothing to send from here (tail 0); a follower starts at the end.
                    if Some(idx) == newest && f.seek(SeekFrom::End(0)).is_ok() {
                        current = Some(f);
                    }
                    continue;
                }
                let at = if idx == start_idx { offset } else { 0 };
                if f.seek(SeekFrom::Start(at)).is_err() || !pump(&mut f, &tx) {
                    return;
                }
                current = Some(f);
            }
            if opts.follow {
                follow(&dir, current, &bundle, &tx);
            }
        })?;
    Ok(rx)
}

/// Keep sending what is appended to `main.log`, switching to the new file after a rotation.
fn follow(
    dir: &OwnedFd,
    mut current: Option<File>,
    bundle: &Path,
    tx: &mpsc::Sender<std::io::Result<Vec<u8>>>,
) {
    loop {
        if let Some(f) = current.as_mut()
            && !pump(f, tx)
        {
            return;
        }
        std::thread::sleep(POLL);
        if tx.is_closed() || !bundle.exists() {
            return;
        }
        let latest = match open_one(dir, "main.log") {
            Ok(Some(f)) => f,
            // Between a rotation's rename and the new file's creation.
            Ok(None) => continue,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        let same = match (&current, latest.metadata()) {
            (Some(cur), Ok(new)) => cur
                .metadata()
                .is_ok_and(|c| c.ino() == new.ino() && c.dev() == new.dev()),
            _ => false,
        };
        if !same {
            // Rotated (or created): finish the old file, then read the new one from its start.
            if let Some(f) = current.as_mut()
                && !pump(f, tx)
            {
                return;
            }
            current = Some(latest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(mut rx: LogChunks) -> String {
        let mut out = Vec::new();
        while let Some(chunk) = rx.blocking_recv() {
            out.extend(chunk.unwrap());
        }
        String::from_utf8(out).unwrap()
    }

    fn setup(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("run")).unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join("run").join(name), content).unwrap();
        }
        dir
    }

    fn read_all(dir: &tempfile::TempDir, tail: Option<u64>) -> String {
        let opts = LogOptions {
            tail,
            follow: false,
        };
        collect(read(&dir.path().join("run"), dir.path().to_owned(), 3, opts).unwrap())
    }

    #[test]
    fn reads_rotated_files_oldest_first_and_tails_across_them() {
        let dir = setup(&[
            ("main.log.2", "a\nb\n"),
            ("main.log.1", "c\nd\n"),
            ("main.log", "e\nf"),
        ]);
        assert_eq!(read_all(&dir, None), "a\nb\nc\nd\ne\nf");
        assert_eq!(read_all(&dir, Some(1)), "f");
        assert_eq!(read_all(&dir, Some(3)), "d\ne\nf");
        assert_eq!(read_all(&dir, Some(100)), "a\nb\nc\nd\ne\nf");
        assert_eq!(read_all(&dir, Some(0)), "");
    }

    #[test]
    fn a_final_newline_does_not_count_as_a_line() {
        let dir = setup(&[("main.log", "one\ntwo\nthree\n")]);
        assert_eq!(read_all(&dir, Some(2)), "two\nthree\n");
        let empty = setup(&[]);
        assert_eq!(read_all(&empty, Some(5)), "");
    }

    #[test]
    fn symlinks_and_fifos_are_refused() {
        let dir = setup(&[]);
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("run/main.log")).unwrap();
        let opts = LogOptions {
            tail: None,
            follow: false,
        };
        assert!(read(&dir.path().join("run"), dir.path().to_owned(), 3, opts).is_err());
        std::fs::remove_file(dir.path().join("run/main.log")).unwrap();
        nix::unistd::mkfifo(&dir.path().join("run/main.log"), Mode::S_IRWXU).unwrap();
        assert!(read(&dir.path().join("run"), dir.path().to_owned(), 3, opts).is_err());
    }

    #[test]
    fn follow_sees_appends_and_rotations_and_ends_when_the_sandbox_goes() {
        let dir = setup(&[("main.log", "first\n")]);
        let run = dir.path().join("run");
        let opts = LogOptions {
            tail: None,
            follow: true,
        };
        let mut rx = read(&run, dir.path().to_owned(), 3, opts).unwrap();
        let mut got = String::new();
        let next =
            |rx: &mut LogChunks| String::from_utf8(rx.blocking_recv().unwrap().unwrap()).unwrap();
        got.push_str(&next(&mut rx));
        assert_eq!(got, "first\n");
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(run.join("main.log"))
            .unwrap();
        f.write_all(b"second\n").unwrap();
        assert_eq!(next(&mut rx), "second\n");
        // Rotate: the old file gets one more line, then a new file starts.
        f.write_all(b"third\n").unwrap();
        std::fs::rename(run.join("main.log"), run.join("main.log.1")).unwrap();
        std::fs::write(run.join("main.log"), "fourth\n").unwrap();
        let mut rest = String::new();
        while !rest.ends_with("fourth\n") {
            rest.push_str(&next(&mut rx));
        }
        assert_eq!(rest, "third\nfourth\n");
        let bundle = dir.path().to_owned();
        drop(dir);
        assert!(!bundle.exists());
        assert!(
            rx.blocking_recv().is_none(),
            "the follow ends with the sandbox"
        );
    }
}
