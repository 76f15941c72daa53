//! `filesystem.Filesystem` operations (blocking; the server runs them on tokio's blocking pool).
//!
//! The agent runs as root inside the sandbox, like envd: it does not check the requesting user's
//! permissions, but everything it creates is chowned to that user. Errors carry the path and map
//! errno to Connect codes (see [`io_error`]).

use std::io;
use std::path::{Path, PathBuf};

use warren_agent_proto::{ConnectCode, ConnectError, EntryInfo};

use super::entry::{entry_info, from_metadata};
use super::path;
use crate::users::{User, UserDb};

/// Map an I/O error on `path` to a Connect error: ENOENT → not_found, EACCES/EPERM →
/// permission_denied, EEXIST → already_exists, ENOTDIR/EISDIR/EINVAL → invalid_argument, ELOOP →
/// failed_precondition, ENOSPC/EDQUOT → resource_exhausted, anything else → internal.
pub fn io_error(what: &str, path: &Path, e: &io::Error) -> ConnectError {
    use nix::errno::Errno;
    let code = match e.raw_os_error().map(Errno::from_raw) {
        Some(Errno::ENOENT) => ConnectCode::NotFound,
        Some(Errno::EACCES | Errno::EPERM | Errno::EROFS) => ConnectCode::PermissionDenied,
        Some(Errno::EEXIST | Errno::ENOTEMPTY) => ConnectCode::AlreadyExists,
        Some(
            Errno::ENOTDIR | Errno::EISDIR | Errno::EINVAL | Errno::ENAMETOOLONG | Errno::EXDEV,
        ) => ConnectCode::InvalidArgument,
        Some(Errno::ELOOP) => ConnectCode::FailedPrecondition,
        Some(Errno::ENOSPC | Errno::EDQUOT) => ConnectCode::ResourceExhausted,
        // Bad bytes from the client (a corrupt gzip body), not a failure of the agent's.
        None if e.kind() == io::ErrorKind::InvalidData => ConnectCode::InvalidArgument,
        _ => ConnectCode::Internal,
    };
    ConnectError::new(code, format!("{what} '{}': {e}", path.display()))
}

/// Resolve a request path for `user` (`invalid_argument` if empty, NUL, `~other`).
pub fn resolve(p: &str, user: &User) -> Result<PathBuf, ConnectError> {
    path::resolve(p, &user.home)
        .map_err(|e| ConnectError::new(ConnectCode::InvalidArgument, e.to_string()))
}

/// `Stat`.
pub fn stat(p: &Path, users: &UserDb) -> Result<EntryInfo, ConnectError> {
    entry_info(p, users).map_err(|e| io_error("cannot stat", p, &e))
}

/// `ListDir`: entries below `dir` down to `depth` levels (0 → 1), depth-first in name order.
/// A symlink to a directory is followed at the top, never below.
pub fn list_dir(dir: &Path, depth: u32, users: &UserDb) -> Result<Vec<EntryInfo>, ConnectError> {
    let depth = depth.max(1);
    let meta = std::fs::metadata(dir).map_err(|e| io_error("cannot list", dir, &e))?;
    if !meta.is_dir() {
        return Err(ConnectError::new(
            ConnectCode::InvalidArgument,
            format!("path is not a directory: {}", dir.display()),
        ));
    }
    let mut out = Vec::new();
    walk(dir, depth, users, &mut out)?;
    Ok(out)
}

fn walk(
    dir: &Path,
    depth: u32,
    users: &UserDb,
    out: &mut Vec<EntryInfo>,
) -> Result<(), ConnectError> {
    let rd = std::fs::read_dir(dir).map_err(|e| io_error("cannot read directory", dir, &e))?;
    let mut names: Vec<_> = rd.filter_map(Result::ok).map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        let p = dir.join(&name);
        // Entries can vanish while we walk; skip them.
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        out.push(from_metadata(&p, &meta, users));
        if depth > 1 && meta.is_dir() {
            walk(&p, depth - 1, users, out)?;
        }
    }
    Ok(())
}

/// Create every missing directory of `dir` (mode 0755), chowning the ones created to `user`.
pub fn ensure_dirs(dir: &Path, user: &User) -> Result<(), ConnectError> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        match std::fs::metadata(d) {
            Ok(m) if m.is_dir() => break,
            Ok(_) => {
                return Err(ConnectError::new(
                    ConnectCode::InvalidArgument,
                    format!("path is a file: {}", d.display()),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => missing.push(d),
            Err(e) => return Err(io_error("cannot stat", d, &e)),
        }
        cur = d.parent();
    }
    for d in missing.into_iter().rev() {
        match std::fs::create_dir(d) {
            Ok(()) => chown(d, user)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error("cannot create directory", d, &e)),
        }
    }
    Ok(())
}

/// Chown to the user; an unprivileged agent (tests) skips what it may not do.
pub fn chown(p: &Path, user: &User) -> Result<(), ConnectError> {
    match std::os::unix::fs::chown(p, Some(user.uid), Some(user.gid)) {
        Err(e)
            if e.kind() == io::ErrorKind::PermissionDenied && !nix::unistd::geteuid().is_root() =>
        {
            Ok(())
        }
        r => r.map_err(|e| io_error("cannot chown", p, &e)),
    }
}

/// `MakeDir`: like `mkdir -p`, but `already_exists` when the directory is there.
pub fn make_dir(p: &Path, user: &User, users: &UserDb) -> Result<EntryInfo, ConnectError> {
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => {
            return Err(ConnectError::new(
                ConnectCode::AlreadyExists,
                format!("directory already exists: {}", p.display()),
            ));
        }
        Ok(_) => {
            return Err(ConnectError::new(
                ConnectCode::InvalidArgument,
                format!(
                    "path already exists but it is not a directory: {}",
                    p.display()
                ),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error("cannot stat", p, &e)),
    }
    ensure_dirs(p, user)?;
    stat(p, users)
}

/// `Move`: rename, creating the destination's parents.
pub fn rename(
    from: &Path,
    to: &Path,
    user: &User,
    users: &UserDb,
) -> Result<EntryInfo, ConnectError> {
    std::fs::symlink_metadata(from).map_err(|e| io_error("cannot move", from, &e))?;
    if let Some(parent) = to.parent() {
        ensure_dirs(parent, user)?;
    }
    std::fs::rename(from, to)
        .map_err(|e| io_error(&format!("cannot move '{}' to", from.display()), to, &e))?;
    stat(to, users)
}

/// `Remove`: recursive; a missing path is success (envd's `os.RemoveAll`).
pub fn remove(p: &Path) -> Result<(), ConnectError> {
    let r = match std::fs::symlink_metadata(p) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
    };
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r.map_err(|e| io_error("cannot remove", p, &e)),
    }
}
