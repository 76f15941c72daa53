//! Unpacking a layer tar into its own fresh directory — security-critical,
//! since it runs as root on the host with attacker-chosen input.
//!
//! Flow: detect compression from magic bytes → hash the uncompressed stream
//! (it must equal the config's diff id) → walk tar entries one by one:
//! 1. normalise the name (`/a` → `a`, refuse `..`, NUL, > 4096 bytes);
//! 2. whiteouts become overlayfs whiteouts ([`whiteout`]);
//! 3. parents are checked to be real directories, never symlinks ([`safe_path`]);
//! 4. an existing entry at the name is replaced (a directory stays a
//!    directory if the new entry is one too);
//! 5. the entry is created without following symlinks (`O_NOFOLLOW`,
//!    `lchown`, `linkat`), ownership shifted by [`IdShift`], mode kept
//!    including setuid bits, mtime kept best effort. Device nodes and fifos
//!    are skipped; the runtime provides `/dev`.
//!
//! Any unsafe entry fails the whole layer: an image that tries to escape is
//! hostile or broken and should not run at all. The caller unpacks into a
//! temp directory and removes it on error.

pub(crate) mod decompress;
pub(crate) mod safe_path;
mod sys;
mod whiteout;

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use safe_path::{io_err, prepare_parents};
use tar::EntryType;
use whiteout::Whiteout;

use crate::digest::{Digest, HashingReader};
use crate::error::UnpackError;
use crate::{IdShift, UnpackLimits};

/// What an unpack did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct UnpackStats {
    pub entries: u64,
    pub bytes: u64,
}

/// Unpacks the (possibly compressed) layer `blob` into the existing empty
/// directory `dest`, verifying the uncompressed digest when `diff_id` is given.
pub(crate) fn unpack_layer(
    blob: impl Read,
    dest: &Path,
    diff_id: Option<&Digest>,
    shift: IdShift,
    limits: UnpackLimits,
) -> Result<UnpackStats, UnpackError> {
    let (compression, stream) = decompress::decoder(BufReader::with_capacity(256 * 1024, blob))
        .map_err(|source| UnpackError::Read {
            compression: "layer",
            source,
        })?;
    let read_err = |source| UnpackError::Read {
        compression: compression.name(),
        source,
    };
    let mut hashed = HashingReader::new(stream);
    let mut u = Unpacker {
        root: dest,
        shift,
        limits,
        stats: UnpackStats::default(),
        dirs: Vec::new(),
    };
    fs::set_permissions(dest, fs::Permissions::from_mode(0o755)).map_err(io_err("chmod", dest))?;
    std::os::unix::fs::lchown(dest, Some(shift.uid(0)), Some(shift.gid(0)))
        .map_err(io_err("chown", dest))?;
    {
        let mut archive = tar::Archive::new(&mut hashed);
        for entry in archive.entries().map_err(read_err)? {
            let entry = entry.map_err(read_err)?;
            u.entry(entry).map_err(|e| match e {
                EntryError::Unpack(e) => e,
                EntryError::Read(source) => read_err(source),
            })?;
        }
    }
    // The tar end marker may be followed by padding; the diff id covers it all.
    io::copy(&mut hashed, &mut io::sink()).map_err(read_err)?;
    let (_, actual) = hashed.finish();
    if let Some(expected) = diff_id
        && *expected != actual
    {
        return Err(UnpackError::DiffIdMismatch {
            expected: expected.to_string(),
            actual: actual.to_string(),
        });
    }
    u.finish_dirs();
    Ok(u.stats)
}

enum EntryError {
    Unpack(UnpackError),
    Read(io::Error),
}

impl From<UnpackError> for EntryError {
    fn from(e: UnpackError) -> Self {
        EntryError::Unpack(e)
    }
}

struct Unpacker<'a> {
    root: &'a Path,
    shift: IdShift,
    limits: UnpackLimits,
    stats: UnpackStats,
    /// Directories whose mtime to restore once all entries are written.
    dirs: Vec<(PathBuf, i64)>,
}

/// Ownership and mtime, with PAX overrides applied.
struct Meta {
    uid: u64,
    gid: u64,
    mode: u32,
    mtime: i64,
}

fn meta<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Meta, io::Error> {
    let h = entry.header();
    let mut m = Meta {
        uid: h.uid().unwrap_or(0),
        gid: h.gid().unwrap_or(0),
        mode: h.mode().unwrap_or(0o644) & 0o7777,
        mtime: h.mtime().map_or(0, |t| t as i64),
    };
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts.flatten() {
            let Ok(v) = ext.value() else { continue };
            let int = v.split('.').next().unwrap_or("");
            match ext.key() {
                Ok("uid") => m.uid = int.parse().unwrap_or(m.uid),
                Ok("gid") => m.gid = int.parse().unwrap_or(m.gid),
                Ok("mtime") => m.mtime = int.parse().unwrap_or(m.mtime),
                _ => {}
            }
        }
    }
    Ok(m)
}

fn unsafe_entry(raw: &[u8], reason: &'static str) -> UnpackError {
    UnpackError::UnsafeEntry {
        path: String::from_utf8_lossy(raw).into_owned(),
        reason,
    }
}

impl Unpacker<'_> {
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), EntryError> {
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            return Ok(());
        }
        self.stats.entries += 1;
        if self.stats.entries > self.limits.max_entries {
            return Err(UnpackError::Limit {
                what: "entries",
                limit: self.limits.max_entries,
            }
            .into());
        }
        let raw = entry.path_bytes().into_owned();
        let rel = safe_path::normalize(&raw).map_err(|r| unsafe_entry(&raw, r))?;
        let m = meta(&mut entry).map_err(EntryError::Read)?;
        let Some(name) = rel.file_name() else {
            // The layer root itself ("./"): only a directory may describe it.
            if kind.is_dir() {
                self.set_dir_meta(self.root, &m)?;
                self.dirs.push((PathBuf::new(), m.mtime));
                return Ok(());
            }
            return Err(unsafe_entry(&raw, "a non-directory entry names the layer root").into());
        };
        let wh = whiteout::classify(name);
        if wh != Whiteout::None {
            return Ok(whiteout::apply(self.root, &rel, &wh, &self.shift)?);
        }
        match kind {
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                tracing::debug!(path = %rel.display(), "skipping device node or fifo in layer");
                return Ok(());
            }
            EntryType::Regular
            | EntryType::Continuous
            | EntryType::GNUSparse
            | EntryType::Directory
            | EntryType::Symlink
            | EntryType::Link => {}
            other => {
                tracing::debug!(path = %rel.display(), kind = ?other, "skipping unsupported tar entry type");
                return Ok(());
            }
        }
        let full = prepare_parents(self.root, &rel, &self.shift)?;
        let existing = fs::symlink_metadata(&full).ok();
        if let Some(existing) = &existing {
            let keep = kind.is_dir() && existing.file_type().is_dir();
            if !keep {
                let removed = if existing.file_type().is_dir() {
                    fs::remove_dir_all(&full)
                } else {
                    fs::remove_file(&full)
                };
                removed.map_err(io_err("replace", &full))?;
            }
        }
        match kind {
            EntryType::Directory => {
                if !existing.as_ref().is_some_and(|e| e.file_type().is_dir()) {
                    fs::DirBuilder::new()
                        .mode(0o700)
                        .create(&full)
                        .map_err(io_err("create directory", &full))?;
                }
                self.set_dir_meta(&full, &m)?;
                self.dirs.push((rel.clone(), m.mtime));
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| unsafe_entry(&raw, "symlink without a target"))?;
                if target.is_empty() {
                    return Err(unsafe_entry(&raw, "symlink with an empty target").into());
                }
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &full)
                    .map_err(io_err("create symlink", &full))?;
                self.chown(&full, &m)?;
                if let Err(e) = sys::lutimes(&full, m.mtime) {
                    tracing::debug!(path = %full.display(), error = %e, "cannot set symlink mtime");
                }
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| unsafe_entry(&raw, "hardlink without a target"))?;
                let target = safe_path::resolve_link_target(self.root, &target)
                    .map_err(|r| unsafe_entry(&raw, r))?;
                fs::hard_link(&target, &full).map_err(io_err("create hardlink", &full))?;
            }
            _ => self.regular(&mut entry, &full, &m)?,
        }
        Ok(())
    }

    fn regular<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        full: &Path,
        m: &Meta,
    ) -> Result<(), EntryError> {
        self.stats.bytes = self.stats.bytes.saturating_add(entry.size());
        if self.stats.bytes > self.limits.max_bytes {
            return Err(UnpackError::Limit {
                what: "bytes",
                limit: self.limits.max_bytes,
            }
            .into());
        }
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(full)
            .map_err(io_err("create file", full))?;
        let mut buf = vec![0u8; 128 * 1024];
        loop {
            let n = entry.read(&mut buf).map_err(EntryError::Read)?;
            if n == 0 {
                break;
            }
            f.write_all(&buf[..n]).map_err(io_err("write", full))?;
        }
        // chown before chmod: chown clears setuid/setgid bits.
        std::os::unix::fs::fchown(&f, Some(self.shift.uid(m.uid)), Some(self.shift.gid(m.gid)))
            .map_err(io_err("chown", full))?;
        f.set_permissions(fs::Permissions::from_mode(m.mode))
            .map_err(io_err("chmod", full))?;
        let _ = f.set_modified(mtime(m.mtime));
        Ok(())
    }

    fn chown(&self, path: &Path, m: &Meta) -> Result<(), UnpackError> {
        std::os::unix::fs::lchown(
            path,
            Some(self.shift.uid(m.uid)),
            Some(self.shift.gid(m.gid)),
        )
        .map_err(io_err("chown", path))
    }

    /// `path` was just checked or created as a real directory, so following it is safe.
    fn set_dir_meta(&self, path: &Path, m: &Meta) -> Result<(), UnpackError> {
        self.chown(path, m)?;
        fs::set_permissions(path, fs::Permissions::from_mode(m.mode)).map_err(io_err("chmod", path))
    }

    /// Restores directory mtimes last (creating children changed them),
    /// deepest first, skipping any directory a later entry replaced.
    fn finish_dirs(&mut self) {
        let mut dirs = std::mem::take(&mut self.dirs);
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        for (rel, secs) in dirs {
            if safe_path::is_real_dir_chain(self.root, &rel) {
                let _ = sys::lutimes(&self.root.join(&rel), secs);
            }
        }
    }
}

fn mtime(secs: i64) -> SystemTime {
    if secs >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

#[cfg(test)]
mod tests;
