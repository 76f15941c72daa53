//! What the host says about load and memory: /proc/loadavg, VmRSS and smaps_rollup fields,
//! MemAvailable, the daemon's and a sandbox's pid, and a sandbox's cgroup memory (v1 or v2).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// The three load averages, as `/proc/loadavg` prints them.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `kB` field of /proc/<pid>/status or smaps_rollup, in bytes.
pub fn kb_field(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?
        .split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|kb| kb * 1024)
}

pub fn vm_rss(pid: u32) -> Option<u64> {
    kb_field(&format!("/proc/{pid}/status"), "VmRSS")
}

pub fn mem_available() -> Option<u64> {
    kb_field("/proc/meminfo", "MemAvailable")
}

/// The pid of the `warren serve --listen <addr>` process.
pub fn daemon_pid(addr: &str) -> anyhow::Result<u32> {
    for e in std::fs::read_dir("/proc")?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
        let has = |s: &str| args.contains(&s.as_bytes());
        if has("serve") && has("--listen") && has(addr) {
            return Ok(pid);
        }
    }
    bail!("no `warren serve --listen {addr}` process found")
}

/// The sandbox's PID 1 on the host, from `runc state`.
pub fn sandbox_pid(state: &Path, id: &str) -> anyhow::Result<u32> {
    let out = Command::new("runc")
        .arg("--root")
        .arg(state.join("runc"))
        .args(["state", id])
        .output()?;
    if !out.status.success() {
        bail!("runc state {id}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    v["pid"]
        .as_u64()
        .and_then(|p| u32::try_from(p).ok())
        .context("runc state has no pid")
}

/// Memory charged to a sandbox's cgroup: (usage, rss+cache / anon+file) in bytes.
pub fn cgroup_memory(id: &str) -> Option<(u64, u64)> {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let stat_sum = |text: &str, keys: &[&str]| -> u64 {
        text.lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(k, _)| keys.contains(k))
            .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
            .sum()
    };
    let v1 = format!("/sys/fs/cgroup/memory/warren/{id}");
    if let Some(usage) = read(&format!("{v1}/memory.usage_in_bytes")) {
        let stat = read(&format!("{v1}/memory.stat")).unwrap_or_default();
        return Some((
            usage.trim().parse().ok()?,
            stat_sum(&stat, &["rss", "cache"]),
        ));
    }
    let v2 = format!("/sys/fs/cgroup/warren/{id}");
    let usage = read(&format!("{v2}/memory.current"))?;
    let stat = read(&format!("{v2}/memory.stat")).unwrap_or_default();
    Some((
        usage.trim().parse().ok()?,
        stat_sum(&stat, &["anon", "file"]),
    ))
}
