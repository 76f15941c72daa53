//! The sandbox's cgroups: where they are and how to remove what runc left behind.
//!
//! runc creates the cgroup at the absolute path `/<cgroup_parent>/<id>` in every hierarchy
//! (cgroup v1: one per controller, e.g. `/sys/fs/cgroup/memory/warren/<id>`; v2: the single
//! unified tree, `/sys/fs/cgroup/warren/<id>`). Rather than guessing the layout, we look for that
//! path under every cgroup and cgroup2 mount in the mount table, which covers v1, v2 and hybrid.

use std::io::ErrorKind;
use std::path::PathBuf;
use std::time::Duration;

use super::mountinfo;

/// The host's cgroup and cgroup2 mount points, read from the mount table once: they do not
/// change while the daemon runs, and the mount table grows by two entries per sandbox, so
/// reading it for every sandbox on every metrics sample made the sampler quadratic.
fn roots() -> &'static [PathBuf] {
    static ROOTS: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    if let Some(roots) = ROOTS.get() {
        return roots;
    }
    let Ok(mounts) = mountinfo::read() else {
        return &[];
    };
    let mut found: Vec<PathBuf> = mounts
        .into_iter()
        .filter(|m| m.fs_type == "cgroup" || m.fs_type == "cgroup2")
        .map(|m| m.mount_point)
        .collect();
    found.sort();
    found.dedup();
    if found.is_empty() {
        return &[];
    }
    ROOTS.get_or_init(|| found)
}

/// The existing cgroup directories at relative path `rel` (e.g. `warren/sb-1`), one per hierarchy.
pub(crate) fn dirs(rel: &str) -> Vec<PathBuf> {
    roots()
        .iter()
        .map(|root| root.join(rel))
        .filter(|p| p.is_dir())
        .collect()
}

/// Kill what is left in the cgroups at `rel` and remove them (children first). Succeeds if none
/// exist.
pub(crate) async fn remove(rel: &str) -> Result<(), (PathBuf, std::io::Error)> {
    for dir in dirs(rel) {
        remove_tree(dir).await?;
    }
    Ok(())
}

async fn remove_tree(dir: PathBuf) -> Result<(), (PathBuf, std::io::Error)> {
    // Child cgroups first (a container may have created its own, with cgroupns + delegation).
    let mut stack = vec![dir.clone()];
    let mut order = Vec::new();
    while let Some(d) = stack.pop() {
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(e.path());
                }
            }
        }
        order.push(d);
    }
    for d in order.into_iter().rev() {
        rmdir_with_retry(d).await?;
    }
    Ok(())
}

async fn rmdir_with_retry(dir: PathBuf) -> Result<(), (PathBuf, std::io::Error)> {
    let mut last = None;
    for _ in 0..50 {
        match std::fs::remove_dir(&dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                // EBUSY: processes remain (a stray exec, or the container is dying). Kill them.
                kill_procs(&dir);
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    Err((dir, last.unwrap_or_else(|| ErrorKind::Other.into())))
}

fn kill_procs(dir: &std::path::Path) {
    // A frozen cgroup would hold the signal until thawed (v1 freezer / v2 cgroup.freeze).
    let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
    let _ = std::fs::write(dir.join("cgroup.freeze"), "0");
    let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}
