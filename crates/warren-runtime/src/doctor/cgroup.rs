//! Which cgroup hierarchy a host has and which controllers it offers, read from a cgroup root
//! directory (normally `/sys/fs/cgroup`) so tests can hand it a fake tree in a tempdir.
//!
//! - **v2** (unified): the root itself holds `cgroup.controllers`, listing the controllers.
//! - **hybrid**: v1 controller directories (`memory/`, `cpu/`, ...) plus a v2 mount at `unified/`
//!   (systemd's hybrid layout; the v2 part usually has no controllers).
//! - **v1**: controller directories only.
//!
//! A v1 controller counts when its directory holds `cgroup.procs`, i.e. the hierarchy is mounted
//! (`cpu` is often a symlink to `cpu,cpuacct`, which is followed).

use std::fmt;
use std::path::Path;

/// Controllers a sandbox cannot do without: memory and pids limits, CPU weight/quota.
pub const REQUIRED_CONTROLLERS: &[&str] = &["memory", "pids", "cpu"];

/// v1 controllers looked for; the order is the order reported.
const V1_CONTROLLERS: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "blkio", "devices", "io", "hugetlb",
];

/// The cgroup layout of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// Legacy: one hierarchy per controller.
    V1,
    /// v1 controllers plus an (often controller-less) v2 hierarchy at `unified/`.
    Hybrid,
    /// Unified v2 hierarchy at the root.
    V2,
    /// Nothing recognizable (cgroupfs not mounted).
    None,
}

impl fmt::Display for CgroupMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CgroupMode::V1 => "cgroup v1",
            CgroupMode::Hybrid => "cgroup v1 hybrid (v2 at unified/)",
            CgroupMode::V2 => "cgroup v2",
            CgroupMode::None => "no cgroups",
        })
    }
}

/// What [`classify_cgroups`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupInfo {
    /// The layout.
    pub mode: CgroupMode,
    /// Usable controllers: v1 mounted controllers, or the v2 root's `cgroup.controllers`.
    pub controllers: Vec<String>,
}

impl CgroupInfo {
    /// Whether `controller` is usable.
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    /// The ones of `wanted` that are not usable.
    pub fn missing<'a>(&self, wanted: &[&'a str]) -> Vec<&'a str> {
        wanted.iter().copied().filter(|c| !self.has(c)).collect()
    }
}

/// Classifies the cgroup tree under `root` (normally `/sys/fs/cgroup`).
pub fn classify_cgroups(root: &Path) -> CgroupInfo {
    if let Ok(list) = std::fs::read_to_string(root.join("cgroup.controllers")) {
        let controllers = list.split_whitespace().map(str::to_string).collect();
        return CgroupInfo {
            mode: CgroupMode::V2,
            controllers,
        };
    }
    let controllers: Vec<String> = V1_CONTROLLERS
        .iter()
        .filter(|c| root.join(c).join("cgroup.procs").is_file())
        .map(|c| (*c).to_string())
        .collect();
    let mode = match (
        controllers.is_empty(),
        root.join("unified/cgroup.controllers").is_file(),
    ) {
        (true, _) => CgroupMode::None,
        (false, true) => CgroupMode::Hybrid,
        (false, false) => CgroupMode::V1,
    };
    CgroupInfo { mode, controllers }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn v1_controller(root: &Path, name: &str) {
        fs::create_dir_all(root.join(name)).unwrap();
        fs::write(root.join(name).join("cgroup.procs"), "1\n").unwrap();
    }

    #[test]
    fn v2_reads_root_controllers() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("cgroup.controllers"),
            "cpuset cpu io memory hugetlb pids rdma misc\n",
        )
        .unwrap();
        let info = classify_cgroups(dir.path());
        assert_eq!(info.mode, CgroupMode::V2);
        assert!(info.missing(REQUIRED_CONTROLLERS).is_empty());
        assert!(!info.has("freezer"));
    }

    #[test]
    fn v2_without_memory_controller() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("cgroup.controllers"),
            "cpuset cpu io pids\n",
        )
        .unwrap();
        let info = classify_cgroups(dir.path());
        assert_eq!(info.missing(REQUIRED_CONTROLLERS), vec!["memory"]);
    }

    #[test]
    fn hybrid_like_debian_host() {
        let dir = tempfile::tempdir().unwrap();
        for c in [
            "blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids",
        ] {
            v1_controller(dir.path(), c);
        }
        fs::create_dir_all(dir.path().join("unified")).unwrap();
        fs::write(dir.path().join("unified/cgroup.controllers"), "").unwrap();
        let info = classify_cgroups(dir.path());
        assert_eq!(info.mode, CgroupMode::Hybrid);
        assert!(info.has("freezer"));
        assert!(info.missing(REQUIRED_CONTROLLERS).is_empty());
        assert_eq!(
            info.controllers[..2],
            ["cpu".to_string(), "cpuacct".to_string()]
        );
    }

    #[test]
    fn v1_with_cpu_symlink_and_unmounted_pids() {
        let dir = tempfile::tempdir().unwrap();
        v1_controller(dir.path(), "cpu,cpuacct");
        std::os::unix::fs::symlink("cpu,cpuacct", dir.path().join("cpu")).unwrap();
        v1_controller(dir.path(), "memory");
        fs::create_dir(dir.path().join("pids")).unwrap(); // empty: not mounted
        let info = classify_cgroups(dir.path());
        assert_eq!(info.mode, CgroupMode::V1);
        assert!(info.has("cpu"));
        assert_eq!(info.missing(REQUIRED_CONTROLLERS), vec!["pids"]);
    }

    #[test]
    fn empty_root_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let info = classify_cgroups(dir.path());
        assert_eq!(info.mode, CgroupMode::None);
        assert_eq!(
            info.missing(REQUIRED_CONTROLLERS),
            vec!["memory", "pids", "cpu"]
        );
    }
}
