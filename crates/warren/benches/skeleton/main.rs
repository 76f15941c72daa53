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
//! [`daemon_log`] parses the daemon's "sandbox created" line. What the `api` bench shares with
//! this one lives in `benches/common/` ([`common`]): starting the registry and daemon
//! ([`common::setup`]), `exec ["true"]` and the warm-up ([`common::rest`]), the percentiles and
//! the table ([`common::stats`]), the /proc and cgroup readings ([`common::host`]).
//!
//! A benchmark never fails on a number: it prints PASS/MISS next to each target and fails only if
//! something errors.
#![allow(clippy::print_stdout)]

#[path = "../common/mod.rs"]
mod common;

mod baseline;
mod bundle;
mod daemon_log;
mod memory;
mod replay;
mod sandbox;

use std::time::Duration;

use warren_client::Client;

use crate::common::e2e::Daemon;
use crate::common::host::vm_rss;
use crate::common::rest::warm_up;
use crate::common::setup::{self, env_usize};

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let n = env_usize("WARREN_BENCH_N", 50);
    let Some(stack) = setup::start(
        "warren skeleton benchmark",
        &format!("N={n}"),
        &["busybox", "python"],
    )?
    else {
        return Ok(());
    };
    std::thread::sleep(Duration::from_secs(1));
    let rss_fresh = vm_rss(stack.pid).unwrap_or(0);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = stack.daemon.client();
    let images = [
        ("busybox", stack.image("busybox")),
        ("python", stack.image("python")),
    ];
    let result = rt.block_on(run(
        &client,
        &stack.daemon,
        &images,
        n,
        stack.pid,
        rss_fresh,
    ));
    stack.finish(result)
}

/// The five sections in order; `images` is busybox first, then python.
async fn run(
    client: &Client,
    daemon: &Daemon,
    images: &[(&str, &str)],
    n: usize,
    pid: u32,
    rss_fresh: u64,
) -> anyhow::Result<()> {
    let busybox = images[0].1;
    let refs: Vec<&str> = images.iter().map(|&(_, image)| image).collect();
    warm_up(client, &refs).await?;
    sandbox::create_section(client, daemon, images, n).await?;
    baseline::section(client, daemon, busybox, n).await?;
    sandbox::exec_round_trip(client, busybox, n).await?;
    sandbox::concurrent_creates(client, busybox, n).await?;
    memory::section(client, daemon, images, pid, rss_fresh).await
}
