//! `GET`/`PUT /warren/archive?path=`: tar streams of directory trees.
//!
//! - `GET` streams a tar of the file or tree at `path`, entries named under the path's base
//!   name (`tar -C dirname basename`); symlinks are stored as symlinks, never followed; sockets
//!   are skipped.
//! - `PUT` extracts a tar stream into directory `path` (created, with missing parents, for the
//!   requesting user). An entry named `.` describes `path` itself. Entries with `..` or an
//!   absolute name are refused, and nothing is ever written through a symlink: every parent is
//!   checked with `lstat`, existing non-directories are replaced, files are created with
//!   `O_EXCL`. Everything extracted is owned by the requesting user; modes come from the
//!   archive, as do file modification times.
//!
//! Both directions stream through a small bounded channel between the HTTP body and a blocking
//! worker, so memory stays bounded whatever the tree's size.

// Handlers return a finished error `Response` through `Result`.
#![allow(clippy::result_large_err)]

use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use tokio::sync::mpsc;
use warren_agent_proto::{ConnectCode, ConnectError, Empty};

use super::files_http::query_param;
use super::ops::{self, io_error};
use crate::agent::Agent;
use crate::rpc::{self, Body};
use crate::server::request_user;
use crate::users::User;

const CHUNK: usize = 256 * 1024;

fn target(agent: &Agent, req: &Request<Incoming>) -> Result<(User, PathBuf), ConnectError> {
    let user = agent.user(request_user(req.headers()).as_deref())?;
    let p = query_param(req.uri().query(), "path").ok_or_else(|| {
        ConnectError::new(
            ConnectCode::InvalidArgument,
            "path query parameter is required",
        )
    })?;
    let path = ops::resolve(&p, &user)?;
    Ok((user, path))
}

/// `GET /warren/archive`.
pub async fn get(agent: Arc<Agent>, req: Request<Incoming>) -> Response<Body> {
    let (_, path) = match target(&agent, &req) {
        Ok(t) => t,
        Err(e) => return rpc::unary_error(&e),
    };
    if let Err(e) = std::fs::symlink_metadata(&path) {
        return rpc::unary_error(&io_error("cannot archive", &path, &e));
    }
    let (tx, mut rx) = mpsc::channel::<io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut w = ChanWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let r = (|| {
            let mut b = tar::Builder::new(&mut w);
            b.follow_symlinks(false);
            let name = path
                .file_name()
                .map_or_else(|| PathBuf::from("."), PathBuf::from);
            append_tree(&mut b, &path, &name)?;
            b.finish()
        })()
        .and_then(|()| w.flush());
        if let Err(e) = r {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let chunks =
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).map(|r| r.map(Frame::data));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-tar")
        .body(BodyExt::boxed_unsync(StreamBody::new(chunks.boxed())))
        .expect("valid response")
}

/// Append `src` as `name`, and everything below it when it is a directory (sorted, symlinks
/// never followed, sockets skipped).
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
            match append_tree(b, &src.join(&n), &name.join(&n)) {
                // Entries can vanish while we walk.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                r => r?,
            }
        }
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
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader went away"))
    }
}

/// `PUT /warren/archive`.
pub async fn put(agent: Arc<Agent>, req: Request<Incoming>) -> Response<Body> {
    let (user, root) = match target(&agent, &req) {
        Ok(t) => t,
        Err(e) => return rpc::unary_error(&e),
    };
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
    let mut body = req.into_body();
    let pump = tokio::spawn(async move {
        while let Some(frame) = body.frame().await {
            let item = match frame {
                Ok(f) => match f.into_data() {
                    Ok(d) => Ok(d),
                    Err(_) => continue,
                },
                Err(e) => Err(io::Error::other(format!("reading request body: {e}"))),
            };
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    });
    let result = tokio::task::spawn_blocking(move || {
        let reader = ChanReader {
            rx,
            cur: Bytes::new(),
        };
        extract(reader, &root, &user)
    })
    .await
    .unwrap_or_else(|e| {
        Err(ConnectError::new(
            ConnectCode::Internal,
            format!("worker failed: {e}"),
        ))
    });
    pump.abort();
    match result {
        Ok(()) => rpc::unary_ok(&Empty {}),
        Err(e) => rpc::unary_error(&e),
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

fn invalid(msg: String) -> ConnectError {
    ConnectError::new(ConnectCode::InvalidArgument, msg)
}

/// The relative path of an archive entry: only normal components (`.` is dropped).
fn relative(raw: &Path) -> Result<PathBuf, ConnectError> {
    let mut rel = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(n) => rel.push(n),
            Component::CurDir => {}
            _ => {
                return Err(invalid(format!(
                    "archive entry '{}' is absolute or contains '..'",
                    raw.display()
                )));
            }
        }
    }
    Ok(rel)
}

/// Make sure every directory between `root` and `rel`'s parent exists and is a real directory
/// (never a symlink), creating missing ones for `user`.
fn parents(root: &Path, rel: &Path, user: &User) -> Result<(), ConnectError> {
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
                    "'{}' is not a directory (symlinks are not followed when extracting)",
                    cur.display()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir(&cur)
                    .map_err(|e| io_error("cannot create directory", &cur, &e))?;
                ops::chown(&cur, user)?;
            }
            Err(e) => return Err(io_error("cannot stat", &cur, &e)),
        }
    }
    Ok(())
}

/// Remove whatever non-directory is at `p` (a symlink is removed, not followed).
fn clear(p: &Path) -> Result<(), ConnectError> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => Err(invalid(format!(
            "'{}' is a directory; cannot replace it",
            p.display()
        ))),
        Ok(_) => std::fs::remove_file(p).map_err(|e| io_error("cannot replace", p, &e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("cannot stat", p, &e)),
    }
}

fn lchown(p: &Path, user: &User) -> Result<(), ConnectError> {
    match std::os::unix::fs::lchown(p, Some(user.uid), Some(user.gid)) {
        Err(e)
            if e.kind() == io::ErrorKind::PermissionDenied && !nix::unistd::geteuid().is_root() =>
        {
            Ok(())
        }
        r => r.map_err(|e| io_error("cannot chown", p, &e)),
    }
}

/// Extract a tar stream into `root`.
pub fn extract(r: impl Read, root: &Path, user: &User) -> Result<(), ConnectError> {
    ops::ensure_dirs(root, user)?;
    let bad_tar = |e: io::Error| invalid(format!("cannot read the archive: {e}"));
    let mut ar = tar::Archive::new(r);
    for entry in ar.entries().map_err(bad_tar)? {
        let mut e = entry.map_err(bad_tar)?;
        let raw = e.path().map_err(bad_tar)?.into_owned();
        let rel = relative(&raw)?;
        let dst = root.join(&rel);
        let mode = e.header().mode().unwrap_or(0o644) & 0o7777;
        parents(root, &rel, user)?;
        let set_mode = |p: &Path| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
                .map_err(|err| io_error("cannot chmod", p, &err))
        };
        match e.header().entry_type() {
            tar::EntryType::Directory => {
                match std::fs::symlink_metadata(&dst) {
                    Ok(m) if m.is_dir() => {}
                    _ => {
                        clear(&dst)?;
                        std::fs::create_dir(&dst)
                            .map_err(|err| io_error("cannot create directory", &dst, &err))?;
                    }
                }
                set_mode(&dst)?;
                lchown(&dst, user)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if rel.as_os_str().is_empty() {
                    return Err(invalid(format!(
                        "archive entry '{}' names the target directory but is a file",
                        raw.display()
                    )));
                }
                clear(&dst)?;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&dst)
                    .map_err(|err| io_error("cannot create", &dst, &err))?;
                io::copy(&mut e, &mut f).map_err(|err| io_error("cannot write", &dst, &err))?;
                if let Ok(mtime) = e.header().mtime() {
                    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime);
                    let _ = f.set_modified(t);
                }
                drop(f);
                set_mode(&dst)?;
                lchown(&dst, user)?;
            }
            tar::EntryType::Symlink => {
                let link = e
                    .link_name()
                    .map_err(bad_tar)?
                    .ok_or_else(|| invalid(format!("symlink '{}' has no target", raw.display())))?
                    .into_owned();
                clear(&dst)?;
                std::os::unix::fs::symlink(&link, &dst)
                    .map_err(|err| io_error("cannot create symlink", &dst, &err))?;
                lchown(&dst, user)?;
            }
            tar::EntryType::Link => {
                let link = e
                    .link_name()
                    .map_err(bad_tar)?
                    .ok_or_else(|| invalid(format!("hard link '{}' has no target", raw.display())))?
                    .into_owned();
                let link_rel = relative(&link)?;
                parents(root, &link_rel, user)?;
                clear(&dst)?;
                let src = root.join(&link_rel);
                std::fs::hard_link(&src, &dst)
                    .map_err(|err| io_error("cannot create hard link", &dst, &err))?;
            }
            // Devices and FIFOs cannot be created in a sandbox; long-name and pax records are
            // consumed by the tar reader.
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names() {
        assert_eq!(relative(Path::new("./a/b")).unwrap(), Path::new("a/b"));
        assert_eq!(relative(Path::new(".")).unwrap(), Path::new(""));
        assert!(relative(Path::new("../x")).is_err());
        assert!(relative(Path::new("a/../../x")).is_err());
        assert!(relative(Path::new("/etc/passwd")).is_err());
    }

    #[test]
    fn round_trip_refuses_symlink_escape() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/f"), b"hello").unwrap();
        std::os::unix::fs::symlink("/etc", src.join("link")).unwrap();
        let mut tar = Vec::new();
        {
            let mut b = tar::Builder::new(&mut tar);
            b.follow_symlinks(false);
            append_tree(&mut b, &src, Path::new("src")).unwrap();
            b.finish().unwrap();
        }
        let user = User {
            name: "me".into(),
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            groups: vec![],
            home: "/".into(),
        };
        let out = dir.path().join("out");
        extract(&tar[..], &out, &user).unwrap();
        assert_eq!(std::fs::read(out.join("src/sub/f")).unwrap(), b"hello");
        assert_eq!(
            std::fs::read_link(out.join("src/link")).unwrap(),
            Path::new("/etc")
        );
        // An entry that goes through the symlink is refused.
        let mut evil = Vec::new();
        {
            let mut b = tar::Builder::new(&mut evil);
            let mut h = tar::Header::new_gnu();
            h.set_size(1);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, "src/link/x", &b"x"[..]).unwrap();
            b.finish().unwrap();
        }
        let err = extract(&evil[..], &out, &user).unwrap_err();
        assert_eq!(err.code, ConnectCode::InvalidArgument, "{}", err.message);
    }
}
