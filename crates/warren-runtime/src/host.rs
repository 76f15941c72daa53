//! What the host has: CPUs, memory, the state directory's file system, the kernel. Read from
//! `/proc` and `statvfs(2)` on demand (the dashboard's host page, `GET /v1/host`).

use std::path::Path;

/// The host's capacity at one instant.
#[derive(Debug, Clone, Default)]
pub struct Capacity {
    /// CPUs this process may run on.
    pub cpus: usize,
    /// `MemTotal`, bytes.
    pub memory_total_bytes: u64,
    /// `MemAvailable`, bytes.
    pub memory_available_bytes: u64,
    /// Size of the file system holding the state directory, bytes.
    pub disk_total_bytes: u64,
    /// Bytes of it available to unprivileged users.
    pub disk_available_bytes: u64,
    /// `uname -r`.
    pub kernel: String,
}

/// Read the capacity; `dir` is any path on the state directory's file system. A reading that
/// fails is left at zero (or empty).
pub fn capacity(dir: &Path) -> Capacity {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    // `dir` may not exist yet (a spool directory made on first use): its nearest ancestor that
    // does is on the same file system.
    let dir = dir.ancestors().find(|p| p.exists()).unwrap_or(dir);
    let (disk_total_bytes, disk_available_bytes) = nix::sys::statvfs::statvfs(dir)
        .map(|st| {
            (
                st.blocks().saturating_mul(st.fragment_size()),
                st.blocks_available().saturating_mul(st.fragment_size()),
            )
        })
        .unwrap_or_default();
    Capacity {
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory_total_bytes: meminfo_kb(&meminfo, "MemTotal").saturating_mul(1024),
        memory_available_bytes: meminfo_kb(&meminfo, "MemAvailable").saturating_mul(1024),
        disk_total_bytes,
        disk_available_bytes,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
    }
}

/// A `Name:   123 kB` field of `/proc/meminfo`, in kB (0 when absent).
fn meminfo_kb(text: &str, name: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .find_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_meminfo() {
        let text = "MemTotal:       24576000 kB\nMemFree: 1 kB\nMemAvailable:   12000 kB\n";
        assert_eq!(meminfo_kb(text, "MemTotal"), 24_576_000);
        assert_eq!(meminfo_kb(text, "MemAvailable"), 12_000);
        assert_eq!(meminfo_kb(text, "Nope"), 0);
    }

    #[test]
    fn reads_this_host() {
        let c = capacity(Path::new("/no/such/dir/yet"));
        assert!(c.cpus >= 1);
        assert!(c.memory_total_bytes > c.memory_available_bytes);
        assert!(c.disk_total_bytes >= c.disk_available_bytes && c.disk_total_bytes > 0);
        assert!(!c.kernel.is_empty());
    }
}
