//! What has to be known about a directory before it is packed, from one walk that never
//! follows symlinks: the Unix socket files (GNU tar skips them, so the manifest carries them
//! and [`restore_sockets`] recreates them) and the space the directory takes on disk (to size
//! upload parts).

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::{Mode, SFlag, UtimensatFlags, mknod, utimensat};
use nix::sys::time::TimeSpec;

use crate::format::SocketEntry;

/// The result of [`scan`].
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Socket files, relative to the scanned directory.
    pub sockets: Vec<SocketEntry>,
    /// Bytes allocated on disk (`st_blocks * 512`), hard-linked files counted once.
    pub allocated_bytes: u64,
}

/// Walks `dir` (which may itself be a symlink to a directory, as for `tar -C`). Errors name the
/// entry that could not be read.
pub(crate) fn scan(dir: &Path) -> Result<Scan, (PathBuf, std::io::Error)> {
    let meta = std::fs::metadata(dir).map_err(|e| (dir.to_owned(), e))?;
    if !meta.is_dir() {
        return Err((
            dir.to_owned(),
            std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        ));
    }
    let mut out = Scan {
        allocated_bytes: meta.blocks() * 512,
        ..Scan::default()
    };
    let mut seen_links = HashSet::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let abs = dir.join(&rel);
        let entries = std::fs::read_dir(&abs).map_err(|e| (abs.clone(), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| (abs.clone(), e))?;
            let rel = rel.join(entry.file_name());
            let meta = entry.metadata().map_err(|e| (entry.path(), e))?;
            let ft = meta.file_type();
            if meta.nlink() > 1 && !ft.is_dir() && !seen_links.insert((meta.dev(), meta.ino())) {
                continue;
            }
            out.allocated_bytes += meta.blocks() * 512;
            if ft.is_dir() {
                stack.push(rel);
            } else if ft.is_socket() {
                out.sockets.push(SocketEntry {
                    path_hex: hex::encode(rel.as_os_str().as_bytes()),
                    mode: meta.mode() & 0o7777,
                    uid: meta.uid(),
                    gid: meta.gid(),
                    mtime_sec: meta.mtime(),
                    mtime_nsec: meta.mtime_nsec(),
                });
            }
        }
    }
    out.sockets.sort_by(|a, b| a.path_hex.cmp(&b.path_hex));
    Ok(out)
}

/// Recreates the sockets of a manifest under `root` (an unpacked, verified archive): each as an
/// unbound socket file with its owner, mode and mtime; the directories they are created in keep
/// the mtimes tar gave them. Errors name the path that failed.
pub(crate) fn restore_sockets(
    root: &Path,
    sockets: &[SocketEntry],
) -> Result<(), (PathBuf, std::io::Error)> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    // Parent directory -> its mtime before any socket was added to it.
    let mut parents: BTreeMap<PathBuf, TimeSpec> = BTreeMap::new();
    let mut paths = Vec::with_capacity(sockets.len());
    for s in sockets {
        let bytes = hex::decode(&s.path_hex).map_err(|_| {
            (
                root.to_owned(),
                invalid("socket path in manifest is not hex"),
            )
        })?;
        let rel = PathBuf::from(OsStr::from_bytes(&bytes));
        if rel.as_os_str().is_empty()
            || !rel.components().all(|c| matches!(c, Component::Normal(_)))
        {
            return Err((
                root.join(&rel),
                invalid("socket path in manifest escapes the archive"),
            ));
        }
        // Never create through a symlink the archive put in place of a directory.
        let mut dir = root.to_owned();
        for c in rel.parent().into_iter().flat_map(Path::components) {
            dir.push(c);
            let meta = std::fs::symlink_metadata(&dir).map_err(|e| (dir.clone(), e))?;
            if !meta.is_dir() {
                return Err((dir, invalid("parent of a socket is not a directory")));
            }
        }
        if !parents.contains_key(&dir) {
            let meta = std::fs::symlink_metadata(&dir).map_err(|e| (dir.clone(), e))?;
            parents.insert(dir.clone(), TimeSpec::new(meta.mtime(), meta.mtime_nsec()));
        }
        paths.push(root.join(rel));
    }
    for (s, path) in sockets.iter().zip(&paths) {
        let err = |e: std::io::Error| (path.clone(), e);
        mknod(path.as_path(), SFlag::S_IFSOCK, Mode::empty(), 0).map_err(|e| err(e.into()))?;
        std::os::unix::fs::lchown(path, Some(s.uid), Some(s.gid)).map_err(err)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(s.mode)).map_err(err)?;
        let mtime = TimeSpec::new(s.mtime_sec, s.mtime_nsec);
        utimensat(
            nix::fcntl::AT_FDCWD,
            path.as_path(),
            &TimeSpec::UTIME_OMIT,
            &mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| err(e.into()))?;
    }
    for (dir, mtime) in &parents {
        utimensat(
            nix::fcntl::AT_FDCWD,
            dir.as_path(),
            &TimeSpec::UTIME_OMIT,
            mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| (dir.clone(), e.into()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_sockets_and_counts_hard_links_once() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::create_dir_all(d.join("run/x")).unwrap();
        let _l = std::os::unix::net::UnixListener::bind(d.join("run/x/s.sock")).unwrap();
        std::fs::write(d.join("f"), vec![1u8; 1 << 20]).unwrap();
        std::fs::hard_link(d.join("f"), d.join("run/g")).unwrap();
        std::os::unix::fs::symlink("/nonexistent", d.join("dangling")).unwrap();
        let s = scan(d).unwrap();
        assert_eq!(s.sockets.len(), 1);
        assert_eq!(
            hex::decode(&s.sockets[0].path_hex).unwrap(),
            b"run/x/s.sock"
        );
        assert!(
            s.allocated_bytes >= 1 << 20 && s.allocated_bytes < 2 << 20,
            "{}",
            s.allocated_bytes
        );
        assert!(scan(&d.join("f")).is_err());
    }

    #[test]
    fn restore_rejects_escaping_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let entry = |p: &[u8]| SocketEntry {
            path_hex: hex::encode(p),
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime_sec: 0,
            mtime_nsec: 0,
        };
        std::os::unix::fs::symlink("/tmp", tmp.path().join("link")).unwrap();
        for bad in [&b"../x"[..], b"/abs", b"a/../../x", b"link/x", b""] {
            assert!(
                restore_sockets(tmp.path(), &[entry(bad)]).is_err(),
                "{bad:?}"
            );
        }
    }
}
