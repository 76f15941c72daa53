//! Path handling that never leaves the layer directory.
//!
//! Entry names are normalised to a list of plain components (leading `/`
//! and `.` dropped, `..` refused). Parents are then walked one component at
//! a time with `symlink_metadata`: a missing parent is created as a real
//! directory, an existing one must be a real directory — never a symlink,
//! so a layer holding `evil -> /etc` and then `evil/passwd` is refused.
//!
//! This is race-free because the unpacker is the only writer: the layer is
//! unpacked into a fresh private temp directory that nothing else touches
//! until it is renamed into place.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::IdShift;
use crate::error::UnpackError;

/// Longest entry name accepted, in bytes (Linux PATH_MAX).
pub(crate) const MAX_PATH: usize = 4096;

/// Normalises a tar entry name to a relative path of plain components.
/// An empty result means the layer root itself (`./`).
pub(crate) fn normalize(raw: &[u8]) -> Result<PathBuf, &'static str> {
    if raw.len() > MAX_PATH {
        return Err("path is longer than 4096 bytes");
    }
    if raw.contains(&0) {
        return Err("path contains a NUL byte");
    }
    if raw.is_empty() {
        return Err("empty path");
    }
    let mut out = PathBuf::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("path contains a '..' component"),
            c => out.push(OsStr::from_bytes(c)),
        }
    }
    Ok(out)
}

fn unsafe_parent(rel: &Path) -> UnpackError {
    UnpackError::UnsafeEntry {
        path: rel.to_string_lossy().into_owned(),
        reason: "a parent component is a symlink or not a directory",
    }
}

/// Makes sure every parent of `rel` under `root` is a real directory,
/// creating missing ones (mode 0755, owned by the shifted root).
/// Returns `root/rel`.
pub(crate) fn prepare_parents(
    root: &Path,
    rel: &Path,
    shift: &IdShift,
) -> Result<PathBuf, UnpackError> {
    let mut cur = root.to_path_buf();
    if let Some(parent) = rel.parent() {
        for c in parent.components() {
            cur.push(c);
            match std::fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_dir() => {}
                Ok(_) => return Err(unsafe_parent(rel)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    std::fs::DirBuilder::new()
                        .mode(0o755)
                        .create(&cur)
                        .map_err(io_err("create directory", &cur))?;
                    std::os::unix::fs::lchown(&cur, Some(shift.uid(0)), Some(shift.gid(0)))
                        .map_err(io_err("chown", &cur))?;
                }
                Err(e) => return Err(io_err("inspect", &cur)(e)),
            }
        }
    }
    Ok(root.join(rel))
}

/// True when every component of `rel` under `root` exists and is a real
/// directory (none is a symlink).
pub(crate) fn is_real_dir_chain(root: &Path, rel: &Path) -> bool {
    let mut cur = root.to_path_buf();
    rel.components().all(|c| {
        cur.push(c);
        std::fs::symlink_metadata(&cur).is_ok_and(|m| m.file_type().is_dir())
    })
}

/// Resolves a hardlink target: it must be an existing regular file inside
/// `root`, reached through real directories only.
pub(crate) fn resolve_link_target(root: &Path, raw: &[u8]) -> Result<PathBuf, &'static str> {
    let rel = normalize(raw)?;
    if rel.as_os_str().is_empty() {
        return Err("hardlink target is the layer root");
    }
    if let Some(parent) = rel.parent()
        && !is_real_dir_chain(root, parent)
    {
        return Err("hardlink target's parent is missing, a symlink or not a directory");
    }
    let full = root.join(&rel);
    match std::fs::symlink_metadata(&full) {
        Ok(m) if m.file_type().is_file() => Ok(full),
        Ok(_) => Err("hardlink target is not a regular file"),
        Err(_) => Err("hardlink target does not exist in this layer"),
    }
}

pub(crate) fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> UnpackError {
    let path = path.to_path_buf();
    move |source| UnpackError::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize(b"./a/b/").unwrap(), PathBuf::from("a/b"));
        assert_eq!(normalize(b"/abs//x").unwrap(), PathBuf::from("abs/x"));
        assert_eq!(normalize(b"./").unwrap(), PathBuf::new());
        assert!(normalize(b"a/../b").is_err());
        assert!(normalize(b"..").is_err());
        assert!(normalize(b"").is_err());
        assert!(normalize(&[b'a'; 4097]).is_err());
        assert!(normalize(b"a\0b").is_err());
    }
}
