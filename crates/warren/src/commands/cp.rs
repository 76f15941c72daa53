//! `warren cp SRC DST`: copy files and directory trees between the host and a sandbox, docker
//! cp style. One side is `SANDBOX_ID:/abs/path`. Files stream as files; directories travel as
//! tar streams built and extracted here, chunk by chunk, never whole in memory.
//!
//! If DST is an existing directory, SRC is copied into it under its own name; otherwise SRC is
//! copied to DST. A symlink named as SRC is followed (on either side); symlinks inside a copied
//! tree are copied as symlinks. Modes travel with the data; files extracted here belong to the caller, files
//! extracted in the sandbox to the sandbox's default user.

use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use warren_api_types::{ErrorCode, FileKind};
use warren_client::Client;

use crate::cli::Remote;
use crate::config;

const CHUNK: usize = 256 * 1024;

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Source: a local path or SANDBOX_ID:/abs/path.
    pub src: String,
    /// Destination: a local path or SANDBOX_ID:/abs/path.
    pub dst: String,
    #[command(flatten)]
    pub remote: Remote,
}

/// One side of a copy.
#[derive(Debug, PartialEq, Eq)]
enum Loc {
    Local(PathBuf),
    Sandbox { id: String, path: String },
}

fn parse_loc(s: &str) -> Loc {
    if let Some((id, path)) = s.split_once(':')
        && !id.is_empty()
        && !id.contains('/')
        && path.starts_with('/')
    {
        return Loc::Sandbox {
            id: id.to_owned(),
            path: path.to_owned(),
        };
    }
    Loc::Local(PathBuf::from(s))
}

fn base_name(p: &str) -> anyhow::Result<&str> {
    match p.trim_end_matches('/').rsplit('/').next() {
        Some(n) if !n.is_empty() && n != "." && n != ".." => Ok(n),
        _ => bail!("{p:?} has no file name to copy under"),
    }
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

pub async fn run(args: CpArgs) -> anyhow::Result<ExitCode> {
    let client = config::client(&args.remote)?;
    match (parse_loc(&args.src), parse_loc(&args.dst)) {
        (Loc::Local(src), Loc::Sandbox { id, path }) => upload(&client, &src, &id, &path).await?,
        (Loc::Sandbox { id, path }, Loc::Local(dst)) => download(&client, &id, &path, &dst).await?,
        (Loc::Local(_), Loc::Local(_)) => {
            bail!("one of SRC and DST must be SANDBOX_ID:/abs/path")
        }
        (Loc::Sandbox { .. }, Loc::Sandbox { .. }) => {
            bail!("copying between sandboxes is not supported; copy through the host")
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn upload(client: &Client, src: &Path, id: &str, dst: &str) -> anyhow::Result<()> {
    let meta = std::fs::metadata(src).with_context(|| format!("cannot read {}", src.display()))?;
    let dst_is_dir = match client.stat_file(id, dst).await {
        Ok(e) => e.kind == FileKind::Dir,
        Err(e) if e.code() == Some(ErrorCode::FileNotFound) => false,
        Err(e) => return Err(e.into()),
    };
    let target = if dst_is_dir {
        join(dst, base_name(&src.to_string_lossy())?)
    } else {
        dst.to_owned()
    };
    if meta.is_dir() {
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
        let root = src.to_path_buf();
        let builder = tokio::task::spawn_blocking(move || {
            let mut w = ChanWriter {
                tx: tx.clone(),
                buf: Vec::with_capacity(CHUNK),
            };
            let r = build_tar(&mut w, &root).and_then(|()| w.flush());
            if let Err(e) = &r {
                let _ = tx.blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
            }
            r
        });
        let mut rx = rx;
        let chunks = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let sent = client.write_archive_stream(id, &target, chunks).await;
        let built = builder.await.context("the tar builder failed")?;
        built.with_context(|| format!("cannot archive {}", src.display()))?;
        sent?;
    } else {
        client.upload_file(id, &target, src).await?;
        let mode = format!("{:04o}", meta.permissions().mode() & 0o7777);
        client.chmod_file(id, &target, &mode).await?;
    }
    Ok(())
}

async fn download(client: &Client, id: &str, src: &str, dst: &Path) -> anyhow::Result<()> {
    let mut entry = client.stat_file(id, src).await?;
    let target = if dst.is_dir() {
        dst.join(base_name(src)?)
    } else {
        dst.to_path_buf()
    };
    // A symlink named as SRC is followed, as on the local side: its target is copied.
    let resolved;
    let src = match (entry.kind, &entry.symlink_target) {
        (FileKind::Symlink, Some(t)) => {
            resolved = t.clone();
            entry = client.stat_file(id, &resolved).await?;
            resolved.as_str()
        }
        _ => src,
    };
    if entry.kind == FileKind::Dir {
        let mut stream = client.read_archive(id, src).await?;
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
        let root = target.clone();
        let extractor = tokio::task::spawn_blocking(move || {
            extract_tar(
                ChanReader {
                    rx,
                    cur: Bytes::new(),
                },
                &root,
            )
        });
        while let Some(chunk) = stream.next().await {
            let item = chunk.map_err(|e| io::Error::other(e.to_string()));
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
        drop(tx);
        extractor
            .await
            .context("the tar extractor failed")?
            .with_context(|| format!("cannot extract into {}", target.display()))?;
    } else {
        let mut f = tokio::fs::File::create(&target)
            .await
            .with_context(|| format!("cannot create {}", target.display()))?;
        client.download_file(id, src, &mut f).await?;
        let mode = u32::from_str_radix(&entry.mode, 8).unwrap_or(0o644);
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot chmod {}", target.display()))?;
    }
    Ok(())
}

struct ChanWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl Write for ChanWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped"))
    }
}

struct ChanReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for ChanReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(r) => self.cur = r?,
            }
        }
        let n = out.len().min(self.cur.len());
        out[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

/// A tar of the tree at `root`: `.` for the root, then its contents by relative name (sorted,
/// symlinks stored as symlinks, sockets skipped).
fn build_tar(w: &mut impl Write, root: &Path) -> io::Result<()> {
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(false);
    append_tree(&mut b, root, Path::new("."))?;
    b.finish()
}

fn append_tree<W: Write>(b: &mut tar::Builder<W>, src: &Path, name: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(src)?;
    if meta.file_type().is_socket() {
        return Ok(());
    }
    b.append_path_with_name(src, name)?;
    if meta.is_dir() {
        let mut names: Vec<_> = std::fs::read_dir(src)?
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for n in names {
            append_tree(b, &src.join(&n), &name.join(&n))?;
        }
    }
    Ok(())
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// An archive entry's path below the archive's top entry: only normal components.
fn strip_top(raw: &Path) -> io::Result<PathBuf> {
    let mut rel = PathBuf::new();
    for (i, c) in raw.components().enumerate() {
        match c {
            _ if i == 0 => {}
            Component::Normal(n) => rel.push(n),
            Component::CurDir => {}
            _ => {
                return Err(invalid(format!(
                    "archive entry {} is absolute or contains '..'",
                    raw.display()
                )));
            }
        }
    }
    if matches!(
        raw.components().next(),
        Some(Component::RootDir | Component::ParentDir)
    ) {
        return Err(invalid(format!(
            "archive entry {} is absolute or contains '..'",
            raw.display()
        )));
    }
    Ok(rel)
}

/// Make every parent of `rel` below `root` a real directory (never following a symlink).
fn parents(root: &Path, rel: &Path) -> io::Result<()> {
    let mut cur = root.to_path_buf();
    let Some(parent) = rel.parent() else {
        return Ok(());
    };
    for c in parent.components() {
        cur.push(c);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(invalid(format!(
                    "{} is not a directory (symlinks are not followed)",
                    cur.display()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::create_dir(&cur)?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn clear(p: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => Err(invalid(format!("{} is a directory", p.display()))),
        Ok(_) => std::fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Extract a tar whose entries sit under one top entry into `root`, which takes the top
/// entry's place.
fn extract_tar(r: impl Read, root: &Path) -> io::Result<()> {
    std::fs::create_dir_all(root)?;
    let mut ar = tar::Archive::new(r);
    for entry in ar.entries()? {
        let mut e = entry?;
        let raw = e.path()?.into_owned();
        let rel = strip_top(&raw)?;
        let dst = root.join(&rel);
        let mode = e.header().mode().unwrap_or(0o644) & 0o7777;
        parents(root, &rel)?;
        match e.header().entry_type() {
            tar::EntryType::Directory => {
                match std::fs::symlink_metadata(&dst) {
                    Ok(m) if m.is_dir() => {}
                    _ => {
                        clear(&dst)?;
                        std::fs::create_dir(&dst)?;
                    }
                }
                std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(mode))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if rel.as_os_str().is_empty() {
                    return Err(invalid(format!(
                        "archive entry {} is not a directory",
                        raw.display()
                    )));
                }
                clear(&dst)?;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&dst)?;
                io::copy(&mut e, &mut f)?;
                if let Ok(mtime) = e.header().mtime() {
                    let _ = f.set_modified(
                        std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime),
                    );
                }
                drop(f);
                std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(mode))?;
            }
            tar::EntryType::Symlink => {
                let link = e
                    .link_name()?
                    .ok_or_else(|| invalid(format!("symlink {} has no target", raw.display())))?
                    .into_owned();
                clear(&dst)?;
                std::os::unix::fs::symlink(&link, &dst)?;
            }
            tar::EntryType::Link => {
                let link = e
                    .link_name()?
                    .ok_or_else(|| invalid(format!("hard link {} has no target", raw.display())))?
                    .into_owned();
                let link_rel = strip_top(&link)?;
                clear(&dst)?;
                std::fs::hard_link(root.join(link_rel), &dst)?;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            parse_loc("sb-1:/tmp/x"),
            Loc::Sandbox {
                id: "sb-1".into(),
                path: "/tmp/x".into()
            }
        );
        assert_eq!(parse_loc("./a:/b"), Loc::Local("./a:/b".into()));
        assert_eq!(parse_loc("a:b"), Loc::Local("a:b".into()));
        assert_eq!(parse_loc("/x/y"), Loc::Local("/x/y".into()));
        assert_eq!(base_name("/a/b/").unwrap(), "b");
        assert!(base_name("/").is_err());
    }

    #[test]
    fn tar_round_trip_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::write(src.join("a/b/f"), b"data").unwrap();
        std::os::unix::fs::symlink("../a", src.join("link")).unwrap();
        // As the daemon sends it: everything under one top entry, which extraction replaces.
        let mut tar = Vec::new();
        {
            let mut b = tar::Builder::new(&mut tar);
            b.follow_symlinks(false);
            append_tree(&mut b, &src, Path::new("top")).unwrap();
            b.finish().unwrap();
        }
        let out = dir.path().join("out");
        extract_tar(&tar[..], &out).unwrap();
        assert_eq!(std::fs::read(out.join("a/b/f")).unwrap(), b"data");
        assert_eq!(
            std::fs::read_link(out.join("link")).unwrap(),
            Path::new("../a")
        );
        assert!(strip_top(Path::new("top/../../x")).is_err());
        assert!(strip_top(Path::new("/etc/x")).is_err());
        assert!(strip_top(Path::new("../x")).is_err());
        assert_eq!(strip_top(Path::new("./x/y")).unwrap(), Path::new("x/y"));
    }
}
