//! The sandbox's root filesystem: an overlay of the image layers (read-only, shared) and a
//! private upper dir, mounted on the host at `<bundle>/rootfs` before runc starts.
//!
//! overlayfs takes lower dirs topmost first, so the layer list (lowest first) is reversed. The
//! mount options travel in one page (mount(2)'s data argument), which bounds the number of layers
//! with long paths; past that we fail clearly rather than silently truncating.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};

use super::mountinfo;

/// Why the root filesystem could not be mounted or unmounted.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// A layer directory does not exist or is not a directory.
    #[error("layer {path} is missing or not a directory")]
    MissingLayer {
        /// The layer path.
        path: PathBuf,
    },
    /// The overlay options are longer than one page.
    #[error(
        "overlay mount options are {len} bytes, more than the kernel's limit of {max}: too many layers or layer paths too long"
    )]
    OptionsTooLong {
        /// Length of the options string.
        len: usize,
        /// The limit (page size - 1).
        max: usize,
    },
    /// mount(2) failed.
    #[error("cannot mount overlay at {target}")]
    Mount {
        /// The mount point.
        target: PathBuf,
        /// The OS error.
        #[source]
        source: Errno,
    },
    /// umount2(2) failed.
    #[error("cannot unmount {target}")]
    Unmount {
        /// The mount point.
        target: PathBuf,
        /// The OS error.
        #[source]
        source: Errno,
    },
    /// The mount table could not be read.
    #[error("cannot read /proc/self/mountinfo")]
    MountInfo(#[source] std::io::Error),
}

/// The page size, which bounds mount(2)'s option string.
fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|v| usize::try_from(v).ok())
        .unwrap_or(4096)
}

/// The overlay option string: `lowerdir=<top>:...:<bottom>,upperdir=..,workdir=..`.
pub(crate) fn overlay_options(
    layers: &[PathBuf],
    empty_lower: &Path,
    upper: &Path,
    work: &Path,
) -> Result<String, RootfsError> {
    let lower: Vec<String> = if layers.is_empty() {
        vec![empty_lower.display().to_string()]
    } else {
        layers
            .iter()
            .rev()
            .map(|p| p.display().to_string())
            .collect()
    };
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        upper.display(),
        work.display()
    );
    let max = page_size() - 1;
    if opts.len() > max {
        return Err(RootfsError::OptionsTooLong {
            len: opts.len(),
            max,
        });
    }
    Ok(opts)
}

/// Mount the overlay at `target`. Every layer must be an existing directory.
pub(crate) fn mount_overlay(
    layers: &[PathBuf],
    empty_lower: &Path,
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), RootfsError> {
    if let Some(missing) = layers.iter().find(|l| !l.is_dir()) {
        return Err(RootfsError::MissingLayer {
            path: missing.clone(),
        });
    }
    let opts = overlay_options(layers, empty_lower, upper, work)?;
    nix::mount::mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::MS_NODEV,
        Some(opts.as_str()),
    )
    .map_err(|source| RootfsError::Mount {
        target: target.to_path_buf(),
        source,
    })
}

/// Unmount everything mounted at `target` (stacked mounts included). A busy mount is detached
/// lazily. Succeeds if nothing is mounted there.
pub(crate) fn unmount_all(target: &Path) -> Result<(), RootfsError> {
    for _ in 0..16 {
        if !mountinfo::is_mounted(target).map_err(RootfsError::MountInfo)? {
            return Ok(());
        }
        match nix::mount::umount2(target, MntFlags::empty()) {
            Ok(()) | Err(Errno::EINVAL | Errno::ENOENT) => {}
            Err(Errno::EBUSY) => {
                nix::mount::umount2(target, MntFlags::MNT_DETACH).map_err(|source| {
                    RootfsError::Unmount {
                        target: target.to_path_buf(),
                        source,
                    }
                })?;
            }
            Err(source) => {
                return Err(RootfsError::Unmount {
                    target: target.to_path_buf(),
                    source,
                });
            }
        }
    }
    Err(RootfsError::Unmount {
        target: target.to_path_buf(),
        source: Errno::EBUSY,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_dirs_are_topmost_first() {
        let layers = vec![
            PathBuf::from("/l/base"),
            PathBuf::from("/l/mid"),
            PathBuf::from("/l/top"),
        ];
        let o =
            overlay_options(&layers, Path::new("/e"), Path::new("/u"), Path::new("/w")).unwrap();
        assert_eq!(o, "lowerdir=/l/top:/l/mid:/l/base,upperdir=/u,workdir=/w");
    }

    #[test]
    fn no_layers_uses_the_empty_lower_dir() {
        let o = overlay_options(&[], Path::new("/e"), Path::new("/u"), Path::new("/w")).unwrap();
        assert_eq!(o, "lowerdir=/e,upperdir=/u,workdir=/w");
    }

    #[test]
    fn too_many_layers_fail_clearly() {
        let layers: Vec<PathBuf> = (0..200)
            .map(|i| PathBuf::from(format!("/var/lib/warren/layers/sha256-{i:064}")))
            .collect();
        let err = overlay_options(&layers, Path::new("/e"), Path::new("/u"), Path::new("/w"))
            .unwrap_err();
        assert!(matches!(err, RootfsError::OptionsTooLong { .. }));
        assert!(err.to_string().contains("too many layers"));
    }
}
