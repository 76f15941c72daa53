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
