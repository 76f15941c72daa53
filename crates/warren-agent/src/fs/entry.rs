//! `EntryInfo` for a path, shaped like envd's (which reports Go's `os.FileInfo`): `lstat` data,
//! with a symlink's `type` and `mode` taken from its target and `symlinkTarget` set to the
//! resolved target; `permissions` is Go's `FileMode.String()`; owner and group are names from
//! the sandbox's user database when they have one.

use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use warren_agent_proto::{EntryInfo, FileType, format_timestamp};

use crate::users::UserDb;

/// Describe `path` (not following a final symlink except for `type`/`mode`).
pub fn entry_info(path: &Path, users: &UserDb) -> std::io::Result<EntryInfo> {
    let meta = std::fs::symlink_metadata(path)?;
    Ok(from_metadata(path, &meta, users))
}

/// Describe `path` given its `lstat` metadata.
pub fn from_metadata(path: &Path, meta: &Metadata, users: &UserDb) -> EntryInfo {
    let ft = meta.file_type();
    let (r#type, mode, symlink_target) = if ft.is_symlink() {
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        match std::fs::metadata(path) {
            Ok(t) => (kind(&t), t.mode() & 0o777, Some(target)),
            Err(_) => (FileType::Unspecified, 0, Some(target)),
        }
    } else {
        (kind(meta), meta.mode() & 0o777, None)
    };
    EntryInfo {
        name: path
            .file_name()
            .map_or_else(|| "/".into(), |n| n.to_string_lossy().into_owned()),
        r#type,
        path: path.to_string_lossy().into_owned(),
        size: meta.size() as i64,
        mode,
        permissions: go_mode_string(meta),
        owner: users.user_name(meta.uid()),
        group: users.group_name(meta.gid()),
        modified_time: Some(format_timestamp(meta.mtime(), meta.mtime_nsec() as u32)),
        symlink_target: symlink_target.map(|t| t.to_string_lossy().into_owned()),
        metadata: super::xattr::get_all(path),
    }
}

fn kind(meta: &Metadata) -> FileType {
    let ft = meta.file_type();
    if ft.is_file() {
        FileType::File
    } else if ft.is_dir() {
        FileType::Directory
    } else if ft.is_symlink() {
        FileType::Symlink
    } else {
        FileType::Unspecified
    }
}

/// Go's `os.FileMode.String()` for a file's metadata.
pub fn go_mode_string(meta: &Metadata) -> String {
    let ft = meta.file_type();
    go_mode_string_raw(
        meta.mode(),
        ft.is_dir(),
        ft.is_symlink(),
        ft.is_char_device(),
        ft.is_block_device(),
        ft.is_fifo(),
        ft.is_socket(),
    )
}

fn go_mode_string_raw(
    mode: u32,
    dir: bool,
    symlink: bool,
    chr: bool,
    blk: bool,
    fifo: bool,
    sock: bool,
) -> String {
    let mut s = String::new();
    // Go's order: "dalTLDpSugct?".
    let flags = [
        (dir, 'd'),
        (symlink, 'L'),
        (chr || blk, 'D'),
        (fifo, 'p'),
        (sock, 'S'),
        (mode & 0o4000 != 0, 'u'),
        (mode & 0o2000 != 0, 'g'),
        (chr, 'c'),
        (mode & 0o1000 != 0, 't'),
    ];
    for (on, c) in flags {
        if on {
            s.push(c);
        }
    }
    if s.is_empty() {
        s.push('-');
    }
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        s.push(if mode & (1 << (8 - i)) != 0 { c } else { '-' });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_strings() {
        assert_eq!(
            go_mode_string_raw(0o644, false, false, false, false, false, false),
            "-rw-r--r--"
        );
        assert_eq!(
            go_mode_string_raw(0o755, true, false, false, false, false, false),
            "drwxr-xr-x"
        );
        assert_eq!(
            go_mode_string_raw(0o777, false, true, false, false, false, false),
            "Lrwxrwxrwx"
        );
        assert_eq!(
            go_mode_string_raw(0o1777, true, false, false, false, false, false),
            "dtrwxrwxrwx"
        );
        assert_eq!(
            go_mode_string_raw(0o4755, false, false, false, false, false, false),
            "urwxr-xr-x"
        );
        assert_eq!(
            go_mode_string_raw(0o666, false, false, true, false, false, false),
            "Dcrw-rw-rw-"
        );
    }

    #[test]
    fn describes_files_and_symlinks() {
        let d = std::env::temp_dir().join(format!("warren-entry-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("f"), b"hello").unwrap();
        std::os::unix::fs::symlink(d.join("f"), d.join("l")).unwrap();
        let db = UserDb::default();
        let f = entry_info(&d.join("f"), &db).unwrap();
        assert_eq!(
            (f.name.as_str(), f.r#type, f.size),
            ("f", FileType::File, 5)
        );
        assert!(f.modified_time.unwrap().ends_with('Z'));
        let l = entry_info(&d.join("l"), &db).unwrap();
        assert_eq!(l.r#type, FileType::File);
        assert!(l.permissions.starts_with('L'));
        assert_eq!(
            l.symlink_target.as_deref(),
            Some(d.join("f").to_str().unwrap())
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
