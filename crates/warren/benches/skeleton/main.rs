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
//! It starts a registry and a daemon through the e2e harness (`tests/common`), pushes the busybox
//! and python fixtures, pulls both (warm-up creates), then runs the sections in order (see
//! docs/benchmarks.md for what each figure means):
//! 1. create → first exec, busybox and python, images local, split into core and runtime
//!    ([`sandbox::create_section`]);
//! 2. baselines in the same run: plain `runc run /bin/true` on the same busybox layer, and
//!    warren's own config.json replayed by hand ([`baseline`], [`replay`], [`bundle`]);
//! 3. exec round trip on a running sandbox ([`sandbox::exec_round_trip`]);
//! 4. 4 concurrent creates, wall time ([`sandbox::concurrent_creates`]);
//! 5. memory: daemon RSS, per idle sandbox cgroup usage, agent RSS/PSS ([`memory`]).
//!
//! [`stats`] holds the percentiles and the table, [`host`] the /proc and cgroup readings,
//! [`daemon_log`] the parsing of the daemon's "sandbox created" line.
//!
//! A benchmark never fails on a number: it prints PASS/MISS next to each target and fails only if
//! something errors.
#![allow(clippy::print_stdout)]

#[path = "../../tests/common/mod.rs"]
mod common;

mod baseline;
mod bundle;
mod daemon_log;
mod host;
mod memory;
mod replay;
mod sandbox;
mod stats;

use std::process::Command;
use std::time::{Duration, Instant};

use warren_client::Client;

use crate::host::{daemon_pid, loadavg, vm_rss};

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
    let pid = daemon_pid(&daemon.addr.to_string())?;
    std::thread::sleep(Duration::from_secs(1));
    let rss_fresh = vm_rss(pid).unwrap_or(0);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = daemon.client();
    let images = [("busybox", busybox.as_str()), ("python", python.as_str())];
    let result = rt.block_on(run(&client, &daemon, &images, n, pid, rss_fresh));
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

/// The five sections in order; `images` is busybox first, then python.
async fn run(
    client: &Client,
    daemon: &common::Daemon,
    images: &[(&str, &str)],
    n: usize,
    pid: u32,
    rss_fresh: u64,
) -> anyhow::Result<()> {
    let busybox = images[0].1;
    let refs: Vec<&str> = images.iter().map(|&(_, image)| image).collect();
    sandbox::warm_up(client, &refs).await?;
    sandbox::create_section(client, daemon, images, n).await?;
    baseline::section(client, daemon, busybox, n).await?;
    sandbox::exec_round_trip(client, busybox, n).await?;
    sandbox::concurrent_creates(client, busybox, n).await?;
    memory::section(client, daemon, images, pid, rss_fresh).await
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
