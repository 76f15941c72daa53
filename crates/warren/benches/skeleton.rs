//! The walking skeleton's latency and memory, measured end to end against a real `warren serve`
//! and compared with plain `runc run` of an equivalent rootfs in the same run.
//!
//! ```text
//! export WARREN_FIXTURES=$(scripts/test-fixtures.sh)
//! RUSTFLAGS="-C target-feature=+crt-static" \
//!     cargo build --release -p warren-agent --target x86_64-unknown-linux-gnu
//! export WARREN_AGENT_BIN=$PWD/target/x86_64-unknown-linux-gnu/release/warren-agent
//! cargo bench -p warren --bench skeleton            # WARREN_BENCH_N=50 by default
//! ```
//!
//! Sections, in order (see docs/benchmarks.md for what each figure means):
//! 1. create → first exec (`POST /v1/sandboxes`, then `exec ["true"]`), busybox and python, images
//!    already local; delete timed separately; the daemon's own "sandbox created" log line splits
//!    the create into core (API, store, image lookup) and runtime (overlay, runc, agent up);
//! 2. baselines in the same run: plain `runc run /bin/true` on the same busybox layer with the same
//!    user namespace, with a fresh overlay each time and without; then warren's own `config.json`
//!    replayed by hand (with `/bin/true`, with and without seccomp, and with the agent until it
//!    answers `/health`), which splits the runtime's create into runc and agent start-up;
//! 3. exec round trip on a running sandbox (and a `GET /v1/sandboxes/{id}` as the REST floor);
//! 4. 4 concurrent creates, wall time;
//! 5. memory: daemon RSS idle (0 and 10+10 sandboxes), per idle sandbox cgroup usage, agent RSS/PSS.
//!
//! A benchmark never fails on a number: it prints PASS/MISS next to each target and fails only if
//! something errors.
#![allow(clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use warren_api_types::{CreateSandboxRequest, ExecRequest};
use warren_client::Client;

const MIB: f64 = 1024.0 * 1024.0;

// ---------------------------------------------------------------------------------------------
// Statistics and the table
// ---------------------------------------------------------------------------------------------

/// A target: the figure must be at most `max` (in the row's unit).
#[derive(Clone, Copy)]
struct Target {
    max: f64,
}

struct Row {
    name: String,
    n: usize,
    p50: f64,
    p99: f64,
    min: f64,
    max: f64,
    mean: f64,
    unit: &'static str,
    target: Option<Target>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[f64], p: f64) -> f64 {
    let idx = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

fn row(name: &str, values: &[f64], unit: &'static str, target: Option<Target>) -> Row {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return Row {
            name: name.to_owned(),
            n,
            p50: f64::NAN,
            p99: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
            mean: f64::NAN,
            unit,
            target,
        };
    }
    Row {
        name: name.to_owned(),
        n,
        p50: pct(&v, 0.5),
        p99: pct(&v, 0.99),
        min: v[0],
        max: v[n - 1],
        mean: v.iter().sum::<f64>() / n as f64,
        unit,
        target,
    }
}

fn durations(name: &str, values: &[Duration], target: Option<Target>) -> Row {
    let v: Vec<f64> = values.iter().copied().map(ms).collect();
    row(name, &v, "ms", target)
}

fn print_table(title: &str, rows: &[Row]) {
    println!("\n## {title}");
    println!(
        "{:<52} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9}  {:<12}",
        "", "n", "p50", "p99", "min", "max", "mean", "target"
    );
    for r in rows {
        let verdict = match r.target {
            // Every target is on the p50 (latency) or the mean (memory, where n is the count).
            Some(t) => {
                let v = if r.unit == "ms" { r.p50 } else { r.mean };
                format!(
                    "≤ {} {} {}",
                    t.max,
                    r.unit,
                    if v <= t.max { "PASS" } else { "MISS" }
                )
            }
            None => String::new(),
        };
        println!(
            "{:<52} {:>4} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}  {} {verdict}",
            r.name, r.n, r.p50, r.p99, r.min, r.max, r.mean, r.unit
        );
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------
// /proc helpers
// ---------------------------------------------------------------------------------------------

/// A `kB` field of /proc/<pid>/status or smaps_rollup, in bytes.
fn kb_field(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?
        .split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|kb| kb * 1024)
}

fn vm_rss(pid: u32) -> Option<u64> {
    kb_field(&format!("/proc/{pid}/status"), "VmRSS")
}

fn mem_available() -> Option<u64> {
    kb_field("/proc/meminfo", "MemAvailable")
}

/// The pid of the `warren serve --listen <addr>` process.
fn daemon_pid(addr: &str) -> anyhow::Result<u32> {
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
fn sandbox_pid(state: &Path, id: &str) -> anyhow::Result<u32> {
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
fn cgroup_memory(id: &str) -> Option<(u64, u64)> {
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

// ---------------------------------------------------------------------------------------------
// The daemon's log: its own measure of the runtime's part of a create
// ---------------------------------------------------------------------------------------------

/// Parse a `Debug`-printed Duration (`45.1ms`, `1.2s`, `950µs`, `12ns`).
fn parse_debug_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let secs = match unit {
        "s" => v,
        "ms" => v / 1e3,
        "µs" | "us" => v / 1e6,
        "ns" => v / 1e9,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `elapsed` of the runtime's "sandbox created" line for `id`.
fn runtime_create_time(log: &str, id: &str) -> Option<Duration> {
    log.lines()
        .map(strip_ansi)
        .find(|l| l.contains("sandbox created") && l.contains(id))
        .and_then(|l| {
            let rest = &l[l.find("elapsed=")? + "elapsed=".len()..];
            parse_debug_duration(rest.split_whitespace().next()?)
        })
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

fn create_req(image: &str) -> CreateSandboxRequest {
    CreateSandboxRequest {
        image: image.to_owned(),
        cmd: None,
        env: BTreeMap::new(),
        cpu: None,
        memory_mb: None,
        pids_limit: None,
        labels: BTreeMap::new(),
    }
}

fn exec_req(cmd: &[&str]) -> ExecRequest {
    ExecRequest {
        cmd: cmd.iter().map(|s| (*s).to_owned()).collect(),
        env: BTreeMap::new(),
        cwd: None,
        user: None,
        timeout_s: None,
    }
}

async fn exec_true(client: &Client, id: &str) -> anyhow::Result<()> {
    let out = client
        .exec(id, &exec_req(&["true"]))
        .await
        .with_context(|| format!("exec true in {id}"))?;
    if out.exit_code != 0 {
        bail!("`true` exited {} in {id}: {}", out.exit_code, out.stderr);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 1. create → first exec
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct CreateRun {
    total: Vec<Duration>,
    create: Vec<Duration>,
    first_exec: Vec<Duration>,
    delete: Vec<Duration>,
    runtime: Vec<Duration>,
    core: Vec<Duration>,
}

async fn create_to_first_exec(
    client: &Client,
    daemon: &common::Daemon,
    image: &str,
    n: usize,
) -> anyhow::Result<CreateRun> {
    let mut r = CreateRun::default();
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        let sb = client.create_sandbox(&create_req(image)).await?;
        let t1 = Instant::now();
        exec_true(client, &sb.id).await?;
        let t2 = Instant::now();
        client.delete_sandbox(&sb.id).await?;
        let t3 = Instant::now();
        r.create.push(t1 - t0);
        r.first_exec.push(t2 - t1);
        r.total.push(t2 - t0);
        r.delete.push(t3 - t2);
        ids.push((sb.id, t1 - t0));
    }
    let log = daemon.log();
    for (id, create) in ids {
        if let Some(rt) = runtime_create_time(&log, &id) {
            r.runtime.push(rt);
            r.core.push(create.saturating_sub(rt));
        }
    }
    Ok(r)
}

// ---------------------------------------------------------------------------------------------
// 2. Baselines: plain runc, and warren's spec replayed by hand
// ---------------------------------------------------------------------------------------------

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

fn umount(target: &Path) -> anyhow::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let tgt = std::ffi::CString::new(target.as_os_str().as_bytes())?;
    // SAFETY: a NUL-terminated path that outlives the call.
    if unsafe { libc::umount2(tgt.as_ptr(), 0) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("umount {}", target.display()));
    }
    Ok(())
}

/// A fresh bundle dir `<dir>/<name>` with `upper/` (owned by the shifted root), `work/`,
/// `rootfs/` and `run/`, the way warren lays one out.
fn fresh_bundle(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let b = dir.join(name);
    std::fs::create_dir(&b)?;
    std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o711))?;
    for (sub, mode, shifted) in [
        ("upper", 0o755, true),
        ("work", 0o700, false),
        ("rootfs", 0o755, false),
        ("run", 0o700, true),
    ] {
        let p = b.join(sub);
        std::fs::create_dir(&p)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))?;
        if shifted {
            std::os::unix::fs::chown(&p, Some(100_000), Some(100_000))?;
        }
    }
    Ok(b)
}

/// runc's default spec plus warren's user namespace (0 → 100000, 65536) and a cgroup namespace,
/// running `/bin/true` on `root`.
fn plain_spec(root: &Path) -> anyhow::Result<serde_json::Value> {
    let tmp = tempfile::tempdir()?;
    let ok = Command::new("runc")
        .arg("spec")
        .current_dir(tmp.path())
        .status()?;
    if !ok.success() {
        bail!("runc spec failed");
    }
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("config.json"))?)?;
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = serde_json::json!(["/bin/true"]);
    spec["root"] = serde_json::json!({"path": root, "readonly": false});
    let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    spec["linux"]["uidMappings"] = map.clone();
    spec["linux"]["gidMappings"] = map;
    let ns = spec["linux"]["namespaces"]
        .as_array_mut()
        .context("runc spec has no namespaces")?;
    ns.push(serde_json::json!({"type": "user"}));
    ns.push(serde_json::json!({"type": "cgroup"}));
    Ok(spec)
}

fn runc(root: &Path) -> Command {
    let mut c = Command::new("runc");
    c.arg("--root").arg(root);
    c.stdin(Stdio::null());
    c
}

/// `runc run` (foreground) of `spec`, written into `bundle`; the time of runc alone.
fn runc_run(runc_root: &Path, bundle: &Path, id: &str) -> anyhow::Result<Duration> {
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

/// Plain `runc run /bin/true` N times; with a fresh overlay each time (mount + run + umount
/// timed), or directly on the layer.
fn baseline_plain(
    work: &Path,
    layer: &Path,
    n: usize,
    overlay: bool,
) -> anyhow::Result<Vec<Duration>> {
    let runc_root = work.join(if overlay { "runc-ov" } else { "runc-plain" });
    let mut times = Vec::with_capacity(n);
    if !overlay {
        let b = fresh_bundle(work, "plain-direct")?;
        let mut spec = plain_spec(layer)?;
        spec["root"]["readonly"] = true.into();
        std::fs::write(b.join("config.json"), serde_json::to_vec(&spec)?)?;
        for i in 0..n {
            times.push(runc_run(&runc_root, &b, &format!("plain-{i}"))?);
        }
        return Ok(times);
    }
    for i in 0..n {
        let b = fresh_bundle(work, &format!("plain-ov-{i}"))?;
        let spec = plain_spec(&b.join("rootfs"))?;
        std::fs::write(b.join("config.json"), serde_json::to_vec(&spec)?)?;
        let t = Instant::now();
        mount_overlay(layer, &b.join("upper"), &b.join("work"), &b.join("rootfs"))?;
        let run = runc_run(&runc_root, &b, &format!("plain-ov-{i}"));
        umount(&b.join("rootfs"))?;
        run?;
        times.push(t.elapsed());
        std::fs::remove_dir_all(&b)?;
    }
    Ok(times)
}

/// Warren's own config.json (taken from a live sandbox), re-pointed at `bundle` and `id`.
fn replay_spec(donor: &Donor, bundle: &Path, id: &str) -> anyhow::Result<serde_json::Value> {
    let text = donor
        .config
        .replace(
            &donor.bundle.display().to_string(),
            &bundle.display().to_string(),
        )
        .replace(&donor.id, id);
    Ok(serde_json::from_str(&text)?)
}

struct Donor {
    id: String,
    bundle: PathBuf,
    config: String,
}

#[derive(Default)]
struct Replay {
    /// mount + `runc run` of `/bin/true` with warren's spec + umount.
    spec_true: Vec<Duration>,
    /// Same without the seccomp section.
    spec_true_noseccomp: Vec<Duration>,
    /// Agent variant: overlay mount + config write.
    mount: Vec<Duration>,
    /// `runc run --detach` until it exits (container created and started).
    runc_detach: Vec<Duration>,
    /// From runc's exit until the agent answers GET /health (polled every 0.25 ms).
    agent_up: Vec<Duration>,
    /// kill -9 + `runc delete --force` + umount.
    teardown: Vec<Duration>,
}

/// `GET /health` on the agent's socket over raw HTTP/1.1; true on 2xx.
fn agent_healthy(sock: &Path) -> bool {
    let Ok(mut s) = UnixStream::connect(sock) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /health HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 16];
    let mut got = 0;
    while got < 12 {
        match s.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => got += k,
        }
    }
    got >= 12 && buf[9] == b'2'
}

fn replay(work: &Path, layer: &Path, donor: &Donor, n: usize) -> anyhow::Result<Replay> {
    let runc_root = work.join("runc-replay");
    let mut r = Replay::default();
    for i in 0..n {
        for seccomp in [true, false] {
            let id = format!("rp{}{i}", if seccomp { "s" } else { "n" });
            let b = fresh_bundle(work, &id)?;
            let mut spec = replay_spec(donor, &b, &id)?;
            spec["process"]["args"] = serde_json::json!(["/bin/true"]);
            if !seccomp && let Some(l) = spec["linux"].as_object_mut() {
                l.remove("seccomp");
            }
            std::fs::write(b.join("config.json"), serde_json::to_vec(&spec)?)?;
            let t = Instant::now();
            mount_overlay(layer, &b.join("upper"), &b.join("work"), &b.join("rootfs"))?;
            let run = runc_run(&runc_root, &b, &id);
            umount(&b.join("rootfs"))?;
            run?;
            let d = t.elapsed();
            if seccomp {
                r.spec_true.push(d);
            } else {
                r.spec_true_noseccomp.push(d);
            }
            std::fs::remove_dir_all(&b)?;
        }

        // The agent, as warren starts it, until it answers.
        let id = format!("rpa{i}");
        let b = fresh_bundle(work, &id)?;
        let t = Instant::now();
        mount_overlay(layer, &b.join("upper"), &b.join("work"), &b.join("rootfs"))?;
        let spec = replay_spec(donor, &b, &id)?;
        std::fs::write(b.join("config.json"), serde_json::to_vec_pretty(&spec)?)?;
        let t_mounted = Instant::now();
        let log = std::fs::File::create(b.join("log"))?;
        let status = runc(&runc_root)
            .arg("--log")
            .arg(b.join("runc.log"))
            .args(["run", "--detach", "--bundle"])
            .arg(&b)
            .arg("--pid-file")
            .arg(b.join("pid"))
            .arg(&id)
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()?;
        let t_runc = Instant::now();
        if !status.success() {
            let _ = umount(&b.join("rootfs"));
            bail!(
                "replayed runc run --detach failed: {}",
                std::fs::read_to_string(b.join("runc.log")).unwrap_or_default()
            );
        }
        let sock = b.join("run/agent.sock");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !agent_healthy(&sock) {
            if Instant::now() > deadline {
                bail!("replayed agent {id} not healthy after 10 s");
            }
            std::thread::sleep(Duration::from_micros(250));
        }
        let t_up = Instant::now();
        let pid: i32 = std::fs::read_to_string(b.join("pid"))?.trim().parse()?;
        // SAFETY: kill(2) on the pid runc just wrote; no memory is involved.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        while Path::new(&format!("/proc/{pid}")).exists()
            && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| !s.contains(") Z"))
        {
            std::thread::sleep(Duration::from_micros(500));
        }
        let out = runc(&runc_root).args(["delete", "--force", &id]).output()?;
        if !out.status.success() {
            bail!("runc delete {id}: {}", String::from_utf8_lossy(&out.stderr));
        }
        umount(&b.join("rootfs"))?;
        let t_down = Instant::now();
        r.mount.push(t_mounted - t);
        r.runc_detach.push(t_runc - t_mounted);
        r.agent_up.push(t_up - t_runc);
        r.teardown.push(t_down - t_up);
        std::fs::remove_dir_all(&b)?;
    }
    Ok(r)
}

/// The unpacked busybox layer in the daemon's store (`layers/<diffid>/` holding `bin/busybox`).
fn busybox_layer(state: &Path) -> anyhow::Result<PathBuf> {
    for e in std::fs::read_dir(state.join("layers"))?.flatten() {
        let p = e.path();
        if p.join("bin/busybox").is_file() && !p.join("usr/bin/python3").exists() {
            return Ok(p);
        }
    }
    bail!("no busybox layer under {}", state.join("layers").display())
}

// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let Some(env) = common::env() else {
        println!("skeleton bench skipped (see above)");
        return Ok(());
    };
    let n: usize = std::env::var("WARREN_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let load_start = loadavg();
    let started = Instant::now();
    println!("# warren skeleton benchmark");
    println!(
        "N={n}, daemon {}, runc {}, {} cores, load average at start: {load_start}",
        env!("CARGO_BIN_EXE_warren"),
        Command::new("runc")
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.lines().next().map(str::to_owned))
            .unwrap_or_default(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );

    // The daemon's log must be parseable; no colours.
    // SAFETY: single-threaded here; no other thread reads the environment yet.
    unsafe { std::env::set_var("NO_COLOR", "1") };
    let registry = common::Registry::start();
    let busybox = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let python = registry.push(&env.fixtures.join("python"), "latest", "python");
    let daemon = common::Daemon::start(&env);
    let addr = daemon.addr.to_string();
    let pid = daemon_pid(&addr)?;
    std::thread::sleep(Duration::from_secs(1));
    let rss_fresh = vm_rss(pid).unwrap_or(0);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = daemon.client();
    let result = rt.block_on(run(&client, &daemon, &busybox, &python, n, pid, rss_fresh));
    drop(registry);
    let result = result.map(|()| {
        println!(
            "\nload average at end: {}   (at start: {load_start}); wall time {:.0} s",
            loadavg(),
            started.elapsed().as_secs_f64()
        );
    });
    if result.is_err() {
        eprintln!("daemon log tail:\n{}", tail(&daemon.log(), 30));
    }
    drop(daemon);
    result
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

async fn run(
    client: &Client,
    daemon: &common::Daemon,
    busybox: &str,
    python: &str,
    n: usize,
    pid: u32,
    rss_fresh: u64,
) -> anyhow::Result<()> {
    // Pull both images (a first create pulls) and warm the page cache.
    for image in [busybox, python] {
        for _ in 0..2 {
            let sb = client
                .create_sandbox(&create_req(image))
                .await
                .with_context(|| format!("warm-up create of {image}"))?;
            exec_true(client, &sb.id).await?;
            client.delete_sandbox(&sb.id).await?;
        }
    }

    // 1. create → first exec.
    let mut rows = Vec::new();
    let target60 = Some(Target { max: 60.0 });
    for (label, image) in [("busybox", busybox), ("python", python)] {
        let r = create_to_first_exec(client, daemon, image, n).await?;
        rows.push(durations(
            &format!("{label}: create → first exec (total)"),
            &r.total,
            target60,
        ));
        rows.push(durations(
            &format!("{label}:   POST /v1/sandboxes"),
            &r.create,
            None,
        ));
        rows.push(durations(
            &format!("{label}:     runtime create (daemon log)"),
            &r.runtime,
            None,
        ));
        rows.push(durations(
            &format!("{label}:     core: API, store, image (rest)"),
            &r.core,
            None,
        ));
        rows.push(durations(
            &format!("{label}:   first exec [true]"),
            &r.first_exec,
            None,
        ));
        rows.push(durations(&format!("{label}: delete"), &r.delete, None));
        println!("  [{label} create → first exec done; load {}]", loadavg());
    }
    print_table("1. create → first exec (images local)", &rows);

    // 2. Baselines on the same busybox layer, same user namespace.
    let layer = busybox_layer(&daemon.state)?;
    let work = tempfile::Builder::new()
        .prefix("warren-bench-")
        .tempdir_in(daemon.state.parent().unwrap_or(Path::new("/tmp")))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o711))?;
    }
    let sb = client.create_sandbox(&create_req(busybox)).await?;
    let bundle = daemon.state.join("sandboxes").join(&sb.id);
    let donor = Donor {
        config: std::fs::read_to_string(bundle.join("config.json"))?,
        bundle: std::fs::canonicalize(&bundle)?,
        id: sb.id.clone(),
    };
    client.delete_sandbox(&sb.id).await?;
    let w = work.path().to_owned();
    let (plain_ov, plain, rp) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let plain_ov = baseline_plain(&w, &layer, n, true)?;
        let plain = baseline_plain(&w, &layer, n, false)?;
        let rp = replay(&w, &layer, &donor, n)?;
        Ok((plain_ov, plain, rp))
    })
    .await??;
    print_table(
        "2. baselines in the same run (busybox layer, userns 0→100000/65536)",
        &[
            durations(
                "plain runc run /bin/true (fresh overlay each)",
                &plain_ov,
                None,
            ),
            durations("plain runc run /bin/true (no overlay)", &plain, None),
            durations(
                "warren's config.json, /bin/true (+overlay)",
                &rp.spec_true,
                None,
            ),
            durations(
                "warren's config.json, /bin/true, no seccomp",
                &rp.spec_true_noseccomp,
                None,
            ),
            durations(
                "replayed agent: overlay mount + config write",
                &rp.mount,
                None,
            ),
            durations("replayed agent: runc run --detach", &rp.runc_detach, None),
            durations("replayed agent: runc exit → /health OK", &rp.agent_up, None),
            durations(
                "replayed agent: kill + runc delete + umount",
                &rp.teardown,
                None,
            ),
        ],
    );
    println!("  [baselines done; load {}]", loadavg());

    // 3. Exec round trip on a running sandbox.
    let sb = client.create_sandbox(&create_req(busybox)).await?;
    exec_true(client, &sb.id).await?;
    let (mut execs, mut gets) = (Vec::new(), Vec::new());
    for _ in 0..(4 * n).max(200) {
        let t = Instant::now();
        exec_true(client, &sb.id).await?;
        execs.push(t.elapsed());
    }
    for _ in 0..(4 * n).max(200) {
        let t = Instant::now();
        client.get_sandbox(&sb.id).await?;
        gets.push(t.elapsed());
    }
    client.delete_sandbox(&sb.id).await?;
    print_table(
        "3. exec round trip on a running busybox sandbox (REST, warren_client)",
        &[
            durations("exec [\"true\"]", &execs, Some(Target { max: 5.0 })),
            durations("GET /v1/sandboxes/{id} (REST floor)", &gets, None),
        ],
    );

    // 4. Concurrent creates. A failed create is counted and shown, not fatal: it is a finding.
    let rounds = (n / 10).max(3);
    let (mut walls, mut each, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        let one = || async {
            let t = Instant::now();
            let sb = client.create_sandbox(&create_req(busybox)).await?;
            exec_true(client, &sb.id).await?;
            anyhow::Ok(t.elapsed())
        };
        let (a, b, c, d) = tokio::join!(one(), one(), one(), one());
        walls.push(t.elapsed());
        for r in [a, b, c, d] {
            match r {
                Ok(d) => each.push(d),
                Err(e) => failures.push(format!("{e:#}")),
            }
        }
        for sb in client.list_all_sandboxes().await? {
            client.delete_sandbox(&sb.id).await?;
        }
    }
    print_table(
        "4. 4 concurrent creates (busybox) → first exec",
        &[
            durations("wall time for 4", &walls, None),
            durations("each create → first exec (successful ones)", &each, None),
        ],
    );
    println!(
        "failed creates: {} of {}{}",
        failures.len(),
        4 * rounds,
        failures
            .first()
            .map(|f| format!(" (first: {f})"))
            .unwrap_or_default()
    );

    // 5. Memory.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_zero = vm_rss(pid).unwrap_or(0);
    let avail_before = mem_available().unwrap_or(0);
    let mut idle = Vec::new();
    for (label, image) in [("busybox", busybox), ("python", python)] {
        for _ in 0..10 {
            let sb = client.create_sandbox(&create_req(image)).await?;
            idle.push((label, sb.id));
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_twenty = vm_rss(pid).unwrap_or(0);
    let avail_after = mem_available().unwrap_or(0);
    let mut mem_rows = vec![
        row(
            "daemon VmRSS, fresh (1 s after start, no image)",
            &[rss_fresh as f64 / MIB],
            "MiB",
            Some(Target { max: 40.0 }),
        ),
        row(
            "daemon VmRSS, idle, 0 sandboxes (after the runs)",
            &[rss_zero as f64 / MIB],
            "MiB",
            Some(Target { max: 40.0 }),
        ),
        row(
            "daemon VmRSS, idle, 20 sandboxes",
            &[rss_twenty as f64 / MIB],
            "MiB",
            Some(Target { max: 40.0 }),
        ),
        row(
            "daemon VmRSS growth per sandbox",
            &[(rss_twenty as f64 - rss_zero as f64) / 20.0 / MIB],
            "MiB",
            None,
        ),
        row(
            "host MemAvailable drop per sandbox (noisy)",
            &[(avail_before as f64 - avail_after as f64) / 20.0 / MIB],
            "MiB",
            None,
        ),
    ];
    for label in ["busybox", "python"] {
        let (mut usage, mut stat, mut rss, mut pss) = (vec![], vec![], vec![], vec![]);
        for (_, id) in idle.iter().filter(|(l, _)| *l == label) {
            if let Some((u, s)) = cgroup_memory(id) {
                usage.push(u as f64 / MIB);
                stat.push(s as f64 / MIB);
            }
            let p = sandbox_pid(&daemon.state, id)?;
            let sm = format!("/proc/{p}/smaps_rollup");
            rss.push(kb_field(&sm, "Rss").unwrap_or(0) as f64 / MIB);
            pss.push(kb_field(&sm, "Pss").unwrap_or(0) as f64 / MIB);
        }
        let t8 = Some(Target { max: 8.0 });
        mem_rows.push(row(
            &format!("{label}: cgroup memory usage per idle sandbox"),
            &usage,
            "MiB",
            t8,
        ));
        mem_rows.push(row(
            &format!("{label}: cgroup rss+cache per idle sandbox"),
            &stat,
            "MiB",
            None,
        ));
        mem_rows.push(row(
            &format!("{label}: agent (PID 1) RSS"),
            &rss,
            "MiB",
            None,
        ));
        mem_rows.push(row(&format!("{label}: agent (PID 1) PSS"), &pss, "MiB", t8));
    }
    print_table(
        "5. memory (targets on the mean; p50..mean columns are over the sandboxes)",
        &mem_rows,
    );
    for (_, id) in &idle {
        client.delete_sandbox(id).await?;
    }
    Ok(())
}
