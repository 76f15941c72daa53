//! OCI whiteouts translated to overlayfs's on-disk form.
//!
//! - `dir/.wh.name` → a 0:0 character device at `dir/name` (owned by the
//!   shifted root), which overlayfs reads as "deleted in this layer".
//! - `dir/.wh..wh..opq` → xattr `trusted.overlay.opaque=y` on `dir` (and
//!   `user.overlay.opaque=y`, best effort, for overlays mounted with
//!   `userxattr` inside a user namespace), hiding lower layers' contents.
//!
//! Per the OCI spec a whiteout only hides lower layers, so if `name` already
//! exists in this same layer the whiteout is ignored.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::safe_path::{io_err, prepare_parents};
use super::sys;
use crate::IdShift;
use crate::error::UnpackError;

const PREFIX: &[u8] = b".wh.";
const OPAQUE: &[u8] = b".wh..wh..opq";

/// What a file name means as a whiteout.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Whiteout<'a> {
    /// Not a whiteout.
    None,
    /// Make the containing directory opaque.
    Opaque,
    /// Hide this sibling name.
    Remove(&'a OsStr),
    /// Some other `.wh.` name (e.g. AUFS `.wh..wh.plnk`): skip it.
    Other,
}

/// Classifies the last component of an entry name.
pub(crate) fn classify(name: &OsStr) -> Whiteout<'_> {
    let b = name.as_bytes();
    if b == OPAQUE {
        return Whiteout::Opaque;
    }
    match b.strip_prefix(PREFIX) {
        None => Whiteout::None,
        Some(rest)
            if rest.is_empty() || rest == b"." || rest == b".." || rest.starts_with(PREFIX) =>
        {
            Whiteout::Other
        }
        Some(rest) => Whiteout::Remove(OsStr::from_bytes(rest)),
    }
}

/// Applies a whiteout entry `rel` (already normalised) under `root`.
pub(crate) fn apply(
    root: &Path,
    rel: &Path,
    kind: &Whiteout<'_>,
    shift: &IdShift,
) -> Result<(), UnpackError> {
    let dir_rel = rel.parent().unwrap_or(Path::new(""));
    // Validates (and creates) every directory down to and including dir_rel.
    let dir = prepare_parents(root, &dir_rel.join("x"), shift)?
        .parent()
        .map(Path::to_path_buf);
    let dir = dir.unwrap_or_else(|| root.to_path_buf());
    match kind {
        Whiteout::Opaque => {
            sys::lsetxattr(&dir, "trusted.overlay.opaque", b"y")
                .map_err(io_err("set opaque xattr on", &dir))?;
            if let Err(e) = sys::lsetxattr(&dir, "user.overlay.opaque", b"y") {
                tracing::debug!(dir = %dir.display(), error = %e, "cannot set user.overlay.opaque");
            }
        }
        Whiteout::Remove(name) => {
            let target = dir.join(name);
            if std::fs::symlink_metadata(&target).is_ok() {
                tracing::debug!(path = %target.display(), "whiteout for a name present in the same layer: ignored");
                return Ok(());
            }
            sys::mknod_whiteout(&target).map_err(io_err("create whiteout", &target))?;
            std::os::unix::fs::lchown(&target, Some(shift.uid(0)), Some(shift.gid(0)))
                .map_err(io_err("chown", &target))?;
        }
        Whiteout::None | Whiteout::Other => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(classify(OsStr::new("a")), Whiteout::None);
        assert_eq!(classify(OsStr::new(".wh..wh..opq")), Whiteout::Opaque);
        assert_eq!(
            classify(OsStr::new(".wh.foo")),
            Whiteout::Remove(OsStr::new("foo"))
        );
        assert_eq!(classify(OsStr::new(".wh..wh.plnk")), Whiteout::Other);
        assert_eq!(classify(OsStr::new(".wh..")), Whiteout::Other);
        assert_eq!(classify(OsStr::new(".wh.")), Whiteout::Other);
    }
}
