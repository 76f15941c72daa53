//! What the host says about load, CPU and memory: /proc/loadavg, /proc/stat, a process's CPU
//! time and age, VmRSS and smaps_rollup fields, MemAvailable, the daemon's and a sandbox's pid, a
//! sandbox's cgroup memory and CPU time (v1 or v2), and where the
//! busybox layer is in the daemon's image store.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

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

/// CPU seconds (user + system) a process has used, from /proc/<pid>/stat.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) start at state, field 3; utime and
    // stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clock_ticks())
}

/// How long ago a process started, from its start time in /proc/<pid>/stat and /proc/uptime.
pub fn process_age(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22, starttime (ticks after boot), is the 20th after the command.
    let rest = &stat[stat.rfind(')')? + 2..];
    let started = rest.split_whitespace().nth(19)?.parse::<u64>().ok()? as f64 / clock_ticks();
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    let uptime = uptime.split_whitespace().next()?.parse::<f64>().ok()?;
    Some(Duration::from_secs_f64((uptime - started).max(0.0)))
}

/// `sysconf(_SC_CLK_TCK)`.
fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// The host's (busy, total) CPU seconds over all cores from /proc/stat; busy is everything but
/// idle and iowait (steal counts as busy: the VM did not get that time).
pub fn host_cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    let hz = clock_ticks();
    Some(((total - idle) as f64 / hz, total as f64 / hz))
}

/// CPU seconds charged to a sandbox's cgroup (v1 cpuacct, or v2 cpu.stat).
pub fn cgroup_cpu_seconds(id: &str) -> Option<f64> {
    let read = |p: String| std::fs::read_to_string(p).ok();
    if let Some(ns) = read(format!("/sys/fs/cgroup/cpuacct/warren/{id}/cpuacct.usage")) {
        return Some(ns.trim().parse::<f64>().ok()? / 1e9);
    }
    let stat = read(format!("/sys/fs/cgroup/warren/{id}/cpu.stat"))?;
    let usec = stat
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec "))?
        .trim()
        .parse::<f64>()
        .ok()?;
    Some(usec / 1e6)
}

/// The unpacked busybox layer in the daemon's store (`layers/<diffid>/` holding `bin/busybox`).
pub fn busybox_layer(state: &Path) -> anyhow::Result<PathBuf> {
    for e in std::fs::read_dir(state.join("layers"))?.flatten() {
        let p = e.path();
        if p.join("bin/busybox").is_file() && !p.join("usr/bin/python3").exists() {
            return Ok(p);
        }
    }
    bail!("no busybox layer under {}", state.join("layers").display())
}
