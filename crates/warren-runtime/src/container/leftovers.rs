//! Host commands a previous daemon left running.
//!
//! A daemon killed in the middle of an operation leaves its children running: `runc checkpoint`
//! (and the CRIU dump under it) goes on freezing and dumping, a `cp` goes on copying. Until they
//! end, what the runtime sees is in flux — a capture's source is frozen and will be frozen again
//! by CRIU when it finishes — so a new daemon waits for them before it looks (and before it
//! removes their half-written output).

use std::path::Path;
use std::time::{Duration, Instant};

/// Pids of processes (other than this one) with an argument naming `state_dir` or anything
/// under it, or `runc_root`: commands a daemon ran on sandboxes. The sandboxes' own processes
/// never see host paths, so they do not match.
pub(crate) fn find(state_dir: &Path, runc_root: &Path) -> Vec<u32> {
    let me = std::process::id();
    let (state, root) = (
        state_dir.as_os_str().as_encoded_bytes(),
        runc_root.as_os_str().as_encoded_bytes(),
    );
    let Ok(proc) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    proc.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            cmdline
                .split(|b| *b == 0)
                .any(|arg| arg == root || arg.starts_with(state))
        })
        .collect()
}

/// Wait (at most `limit`) until no such process is left; returns the pids still running then.
pub(crate) fn wait(state_dir: &Path, runc_root: &Path, limit: Duration) -> Vec<u32> {
    let deadline = Instant::now() + limit;
    loop {
        let left = find(state_dir, runc_root);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a CRIU run that never finished can leave of one sandbox: `criu` processes working in the
/// sandbox's bundle (their working directory is in it) and mounts under the bundle or runc's
/// state of the sandbox (CRIU's cgroup yard, its root overlay). Killed and detached, best effort,
/// before a delete.
pub(crate) fn release(bundle: &Path, runc_state: &Path) {
    let Ok(proc) = std::fs::read_dir("/proc") else {
        return;
    };
    for pid in proc
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
    {
        let is_criu = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|comm| comm.trim_end() == "criu");
        let in_bundle = is_criu
            && std::fs::read_link(format!("/proc/{pid}/cwd"))
                .is_ok_and(|cwd| cwd.starts_with(bundle));
        if in_bundle {
            tracing::warn!(pid, bundle = %bundle.display(), "killing a leftover CRIU process");
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    let Ok(mounts) = super::mountinfo::read() else {
        return;
    };
    let mut points: Vec<_> = mounts
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| p.starts_with(bundle) || p.starts_with(runc_state))
        .collect();
    // Deepest first.
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in points {
        let _ = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_commands_naming_the_state_dir_until_they_end() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("sandboxes");
        std::fs::create_dir(&state).unwrap();
        let runc_root = dir.path().join("runc");
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg("sleep 0.3")
            .arg(state.join("sb-1/disk/upper"))
            .spawn()
            .unwrap();
        // Until the child has exec'd, its command line is still this test's.
        let deadline = Instant::now() + Duration::from_secs(5);
        while find(&state, &runc_root).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(find(&state, &runc_root), vec![child.id()]);
        assert!(wait(&state, &runc_root, Duration::from_secs(10)).is_empty());
        child.wait().unwrap();
        // Other paths do not match.
        let other = dir.path().join("elsewhere");
        assert!(find(&other, &runc_root).is_empty());
    }
}
