//! Resource usage of a sandbox, read from its cgroups (v1 or v2) and its upper directory.
//!
//! cgroup v1 spreads the numbers over one directory per controller (`cpuacct.usage`,
//! `memory.usage_in_bytes`, `pids.current`); v2 keeps them in one (`cpu.stat`, `memory.current`,
//! `pids.current`). We look for each file in every directory of the sandbox's cgroup and take
//! the first we find, so hybrid hosts work too.

use std::path::{Path, PathBuf};

use crate::SandboxStats;

/// Most directory entries walked when measuring disk use; past it the figure is a lower bound.
const MAX_DISK_ENTRIES: usize = 1_000_000;

fn read_first(dirs: &[PathBuf], file: &str) -> Option<String> {
    dirs.iter()
        .find_map(|d| std::fs::read_to_string(d.join(file)).ok())
}

fn number(s: &str) -> Option<u64> {
    s.trim().parse().ok()
}

/// A limit file: a number, or `max` (v2) / a huge v1 value meaning none.
fn limit(s: &str) -> Option<u64> {
    match s.trim() {
        "max" => None,
        // v1 reports "no limit" as a page-aligned i64::MAX.
        v => number(v).filter(|&n| n < (1 << 62)),
    }
}

/// `usage_usec` from a v2 `cpu.stat`, in nanoseconds.
fn cpu_stat_usage_ns(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .and_then(number)
        .map(|us| us * 1000)
}

/// Usage from the cgroup directories of one sandbox (all hierarchies).
pub(crate) fn from_cgroups(dirs: &[PathBuf]) -> SandboxStats {
    let cpu_ns = read_first(dirs, "cpuacct.usage")
        .and_then(|s| number(&s))
        .or_else(|| read_first(dirs, "cpu.stat").and_then(|s| cpu_stat_usage_ns(&s)));
    let memory = read_first(dirs, "memory.usage_in_bytes")
        .or_else(|| read_first(dirs, "memory.current"))
        .and_then(|s| number(&s));
    let memory_limit = read_first(dirs, "memory.limit_in_bytes")
        .or_else(|| read_first(dirs, "memory.max"))
        .and_then(|s| limit(&s));
    SandboxStats {
        cpu_usage_ns: cpu_ns.unwrap_or(0),
        memory_bytes: memory.unwrap_or(0),
        memory_limit_bytes: memory_limit,
        pids: read_first(dirs, "pids.current")
            .and_then(|s| number(&s))
            .unwrap_or(0),
        pids_limit: read_first(dirs, "pids.max").and_then(|s| limit(&s)),
        disk_bytes: None,
    }
}

/// Bytes allocated under `dir` (what `du` reports), not following symlinks, each inode once.
pub(crate) fn disk_usage(dir: &Path) -> u64 {
    use std::collections::HashSet;
    use std::os::unix::fs::MetadataExt;
    let mut seen = HashSet::new();
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    let mut entries = 0usize;
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            entries += 1;
            if entries > MAX_DISK_ENTRIES {
                return total;
            }
            let Ok(meta) = e.path().symlink_metadata() else {
                continue;
            };
            if seen.insert((meta.dev(), meta.ino())) {
                total += meta.blocks() * 512;
            }
            if meta.is_dir() {
                stack.push(e.path());
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, file: &str, content: &str) {
        std::fs::write(dir.join(file), content).unwrap();
    }

    #[test]
    fn cgroup_v1_spread_over_controllers() {
        let root = tempfile::tempdir().unwrap();
        let (cpu, mem, pids) = (
            root.path().join("cpu"),
            root.path().join("mem"),
            root.path().join("pids"),
        );
        for d in [&cpu, &mem, &pids] {
            std::fs::create_dir(d).unwrap();
        }
        write(&cpu, "cpuacct.usage", "123456789\n");
        write(&mem, "memory.usage_in_bytes", "1048576\n");
        write(&mem, "memory.limit_in_bytes", "9223372036854771712\n");
        write(&pids, "pids.current", "7\n");
        write(&pids, "pids.max", "max\n");
        let s = from_cgroups(&[cpu, mem, pids]);
        assert_eq!(s.cpu_usage_ns, 123_456_789);
        assert_eq!(s.memory_bytes, 1_048_576);
        assert_eq!(s.memory_limit_bytes, None, "v1's huge value means no limit");
        assert_eq!((s.pids, s.pids_limit), (7, None));
    }

    #[test]
    fn cgroup_v2_unified() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "cpu.stat",
            "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n",
        );
        write(d.path(), "memory.current", "4096\n");
        write(d.path(), "memory.max", "536870912\n");
        write(d.path(), "pids.current", "3\n");
        write(d.path(), "pids.max", "1024\n");
        let s = from_cgroups(&[d.path().to_path_buf()]);
        assert_eq!(s.cpu_usage_ns, 2_500_000);
        assert_eq!(
            (s.memory_bytes, s.memory_limit_bytes),
            (4096, Some(536_870_912))
        );
        assert_eq!((s.pids, s.pids_limit), (3, Some(1024)));
    }

    #[test]
    fn disk_usage_counts_hardlinks_once() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/a"), vec![1u8; 64 * 1024]).unwrap();
        std::fs::hard_link(d.path().join("sub/a"), d.path().join("b")).unwrap();
        std::os::unix::fs::symlink("/etc", d.path().join("link")).unwrap();
        let used = disk_usage(d.path());
        assert!((64 * 1024..3 * 64 * 1024).contains(&used), "{used}");
    }
}
