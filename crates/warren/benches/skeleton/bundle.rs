//! Bundles laid out the way warren lays them out, and running runc on them by hand: overlay
//! and bind mount/umount, a fresh bundle directory, `runc run` in the foreground. Every baseline
//! uses the busybox layer in the daemon's store as its lower dir
//! ([`crate::common::host::busybox_layer`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// mount(2) an overlay of `lower` at `target`.
fn mount_overlay(lower: &Path, upper: &Path, work: &Path, target: &Path) -> anyhow::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    let src = CString::new("overlay")?;
    let tgt = CString::new(target.as_os_str().as_bytes())?;
    let data = CString::new(opts)?;
    // SAFETY: every pointer is a NUL-terminated string that outlives the call.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            tgt.as_ptr(),
            src.as_ptr(),
            libc::MS_NODEV,
            data.as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("mount overlay at {}", target.display()));
    }
    Ok(())
}

/// The overlay of a [`fresh_bundle`]: `layer` under `disk/upper`, at `rootfs/`.
pub fn mount_bundle_overlay(layer: &Path, bundle: &Path) -> anyhow::Result<()> {
    mount_overlay(
        layer,
        &bundle.join("disk/upper"),
        &bundle.join("disk/work"),
        &bundle.join("rootfs"),
    )
}

/// Bind-mount `src` at `target` (done by host root, so `src` may sit under a directory the
/// container's mapped root cannot traverse, like the daemon's 0700 image store).
pub fn bind_mount(src: &Path, target: &Path) -> anyhow::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let s = CString::new(src.as_os_str().as_bytes())?;
    let tgt = CString::new(target.as_os_str().as_bytes())?;
    // SAFETY: both pointers are NUL-terminated strings that outlive the call; a bind mount takes
    // no filesystem type or data.
    let rc = unsafe {
        libc::mount(
            s.as_ptr(),
            tgt.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("bind {} at {}", src.display(), target.display()));
    }
    Ok(())
}

pub fn umount(target: &Path) -> anyhow::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let tgt = std::ffi::CString::new(target.as_os_str().as_bytes())?;
    // SAFETY: a NUL-terminated path that outlives the call.
    if unsafe { libc::umount2(tgt.as_ptr(), 0) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("umount {}", target.display()));
    }
    Ok(())
}

/// A fresh bundle dir `<dir>/<name>` laid out the way warren lays one out without a disk quota:
/// `rootfs/`, and under `disk/` the overlay's `upper/` (owned by the shifted root) and `work/`,
/// and `run/` (bind-mounted at `/.warren/run`) holding the agent's `agent.log`.
pub fn fresh_bundle(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let b = dir.join(name);
    let shift = |p: &Path| std::os::unix::fs::chown(p, Some(100_000), Some(100_000));
    for (sub, mode, shifted) in [
        ("", 0o711, false),
        ("disk", 0o711, false),
        ("disk/upper", 0o755, true),
        ("disk/work", 0o700, false),
        ("rootfs", 0o755, false),
        ("disk/run", 0o700, true),
    ] {
        let p = b.join(sub);
        std::fs::create_dir(&p)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))?;
        if shifted {
            shift(&p)?;
        }
    }
    // The agent reopens its stdio file from inside, as the shifted root.
    std::fs::File::create(b.join("disk/run/agent.log"))?;
    shift(&b.join("disk/run/agent.log"))?;
    Ok(b)
}

/// `runc --root <root>` with stdin from /dev/null.
pub fn runc(root: &Path) -> Command {
    let mut c = Command::new("runc");
    c.arg("--root").arg(root);
    c.stdin(Stdio::null());
    c
}

/// `runc run` (foreground) of the config.json in `bundle`; the time of runc alone.
pub fn runc_run(runc_root: &Path, bundle: &Path, id: &str) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let out = runc(runc_root)
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(id)
        .output()?;
    let d = t.elapsed();
    if !out.status.success() {
        bail!(
            "runc run {id}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(d)
}
