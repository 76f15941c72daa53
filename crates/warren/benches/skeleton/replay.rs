//! Warren's own config.json, replayed by hand to split the runtime's create into phases.
//!
//! The donor is the `config.json` warren wrote for a live sandbox in this run, re-pointed at a
//! fresh bundle. Per iteration:
//! 1. `/bin/true` instead of the agent, with and without the `linux.seccomp` section: overlay
//!    mount + `runc run` + umount; the difference is the cost of warren's seccomp filter;
//! 2. the agent as PID 1, started the way warren starts it (`runc run --detach`), then polled
//!    every 0.25 ms with a raw `GET /health` on its socket until it answers; then kill -9,
//!    `runc delete --force` and umount.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::bundle::{fresh_bundle, mount_bundle_overlay, runc, runc_run, umount};

/// A live sandbox's config.json and the bundle and id it names.
pub struct Donor {
    pub id: String,
    pub bundle: PathBuf,
    pub config: String,
}

#[derive(Default)]
pub struct Replay {
    /// mount + `runc run` of `/bin/true` with warren's spec + umount.
    pub spec_true: Vec<Duration>,
    /// Same without the seccomp section.
    pub spec_true_noseccomp: Vec<Duration>,
    /// Agent variant: overlay mount + config write.
    pub mount: Vec<Duration>,
    /// `runc run --detach` until it exits (container created and started).
    pub runc_detach: Vec<Duration>,
    /// From runc's exit until the agent answers GET /health (polled every 0.25 ms).
    pub agent_up: Vec<Duration>,
    /// kill -9 + `runc delete --force` + umount.
    pub teardown: Vec<Duration>,
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

pub fn replay(work: &Path, layer: &Path, donor: &Donor, n: usize) -> anyhow::Result<Replay> {
    let runc_root = work.join("runc-replay");
    let mut r = Replay::default();
    for i in 0..n {
        for seccomp in [true, false] {
            let d = replay_true(work, layer, donor, &runc_root, i, seccomp)?;
            if seccomp {
                r.spec_true.push(d);
            } else {
                r.spec_true_noseccomp.push(d);
            }
        }
        replay_agent(work, layer, donor, &runc_root, i, &mut r)?;
    }
    Ok(r)
}

/// Warren's spec with `/bin/true` as the process: overlay mount + `runc run` + umount.
fn replay_true(
    work: &Path,
    layer: &Path,
    donor: &Donor,
    runc_root: &Path,
    i: usize,
    seccomp: bool,
) -> anyhow::Result<Duration> {
    let id = format!("rp{}{i}", if seccomp { "s" } else { "n" });
    let b = fresh_bundle(work, &id)?;
    let mut spec = replay_spec(donor, &b, &id)?;
    spec["process"]["args"] = serde_json::json!(["/bin/true"]);
    if !seccomp && let Some(l) = spec["linux"].as_object_mut() {
        l.remove("seccomp");
    }
    std::fs::write(b.join("config.json"), serde_json::to_vec(&spec)?)?;
    let t = Instant::now();
    mount_bundle_overlay(layer, &b)?;
    let run = runc_run(runc_root, &b, &id);
    umount(&b.join("rootfs"))?;
    run?;
    let d = t.elapsed();
    std::fs::remove_dir_all(&b)?;
    Ok(d)
}

/// The agent, as warren starts it, until it answers; then torn down. Pushes one sample to each
/// of the four phase series of `r`.
fn replay_agent(
    work: &Path,
    layer: &Path,
    donor: &Donor,
    runc_root: &Path,
    i: usize,
    r: &mut Replay,
) -> anyhow::Result<()> {
    let id = format!("rpa{i}");
    let b = fresh_bundle(work, &id)?;
    let t = Instant::now();
    mount_bundle_overlay(layer, &b)?;
    let spec = replay_spec(donor, &b, &id)?;
    std::fs::write(b.join("config.json"), serde_json::to_vec_pretty(&spec)?)?;
    let t_mounted = Instant::now();
    let log = std::fs::File::create(b.join("disk/run/agent.log"))?;
    let status = runc(runc_root)
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
    let sock = b.join("disk/run/agent.sock");
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
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"))
    {
        std::thread::sleep(Duration::from_micros(500));
    }
    let out = runc(runc_root).args(["delete", "--force", &id]).output()?;
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
    Ok(())
}
