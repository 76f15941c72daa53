//! Issue 4's lifecycle targets — pause/resume, hibernate/resume, snapshots and branches —
//! measured against a real `warren serve`, next to raw runc doing the same on the same kind of
//! sandbox in the same run.
//!
//! ```text
//! export WARREN_FIXTURES=$PWD/.cache/fixtures
//! export WARREN_AGENT_BIN=$PWD/target/x86_64-unknown-linux-gnu/release/warren-agent
//! cargo bench -p warren --bench lifecycle            # -- --json <file> to keep the figures
//! ```
//!
//! 1. pause and resume of an idle busybox sandbox through REST, against `runc pause`/`resume` of
//!    another busybox sandbox driven directly (the daemon's share is the difference)
//!    ([`suspend::pause_section`]);
//! 2. hibernate and resume of a Python sandbox holding 100 MiB of state in memory (targets:
//!    hibernate ≤ 200 ms, resume ≤ 150 ms at the p50), each checked by the sandbox answering
//!    afterwards ([`suspend::hibernate_section`]);
//! 3. the baseline under 2, 4, 5 and 6: raw `runc checkpoint --leave-running`, and `runc
//!    checkpoint` + `runc restore`, of a twin 100 MiB sandbox, images on disk and on tmpfs
//!    ([`baseline`], [`criu`], [`reconciler`]);
//! 4. memory and files-only snapshots of a 100 MiB sandbox: how long it is frozen (the daemon's
//!    `paused_ms`) and the request's wall time ([`snapshot::pause_section`]);
//! 5. create from a memory snapshot, until the new sandbox answers an exec
//!    ([`snapshot::restore_section`]);
//! 6. branch ×10 of the 100 MiB sandbox (target: all ten running within 1.5 s), each answering
//!    an exec, and the memory the ten are charged ([`branch`]).
//!
//! Settings: `WARREN_BENCH_N` (pause/resume pairs, 50), `WARREN_BENCH_HIBERNATE` (hibernate/
//! resume pairs, 10), `WARREN_BENCH_CHECKPOINT` (raw checkpoints of each kind per image place,
//! 10), `WARREN_BENCH_SNAPSHOT` (snapshots of each kind, and creates from a memory snapshot,
//! 10), `WARREN_BENCH_BRANCH` (branch ×10 runs, 3).
//!
//! Everything the bench creates is deleted at the end, also when a step fails ([`sandbox`]).
#![allow(clippy::print_stdout)]

#[path = "../common/mod.rs"]
mod common;

mod baseline;
mod branch;
mod criu;
mod reconciler;
mod sandbox;
mod snapshot;
mod suspend;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use warren_client::Client;

use crate::common::rest::warm_up;
use crate::common::setup::{self, Stack, env_usize};
use crate::common::stats::Report;
use crate::reconciler::ReconcileClock;
use crate::sandbox::{Created, python_100_mib};

/// Runs of each kind.
struct Settings {
    pause: usize,
    hibernate: usize,
    checkpoint: usize,
    snapshot: usize,
    branch: usize,
}

fn main() -> anyhow::Result<()> {
    let json = setup::json_arg();
    let s = Settings {
        pause: env_usize("WARREN_BENCH_N", 50).max(1),
        hibernate: env_usize("WARREN_BENCH_HIBERNATE", 10).max(1),
        checkpoint: env_usize("WARREN_BENCH_CHECKPOINT", 10).max(1),
        snapshot: env_usize("WARREN_BENCH_SNAPSHOT", 10).max(1),
        branch: env_usize("WARREN_BENCH_BRANCH", 3).max(1),
    };
    let params = format!(
        "N={} pause/resume pairs, {} hibernate/resume pairs, {} raw checkpoints, \
         {} snapshots, {} branch ×{} runs",
        s.pause,
        s.hibernate,
        s.checkpoint,
        s.snapshot,
        s.branch,
        branch::BRANCHES
    );
    let Some(stack) = setup::start(
        "warren lifecycle benchmark",
        &params,
        &["busybox", "python"],
    )?
    else {
        return Ok(());
    };
    let clock = ReconcileClock::new(stack.pid, Instant::now());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = stack.daemon.client();
    let mut report = Report::default();
    let mut created = Created::default();
    let mut result = rt.block_on(run(&mut report, &client, &stack, &clock, &s, &mut created));
    if let Err(e) = rt.block_on(created.delete_all(&client)) {
        result = result.and(Err(e));
    }
    if let (Ok(()), Some(path)) = (&result, json) {
        result = std::fs::write(&path, serde_json::to_vec_pretty(&report.json())?)
            .map_err(anyhow::Error::from)
            .map(|()| println!("figures written to {}", path.display()));
    }
    stack.finish(result)
}

/// `runc <verb> <id>` against the daemon's runc root; how long it took.
fn runc(root: &Path, verb: &str, id: &str) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let out = Command::new("runc")
        .arg("--root")
        .arg(root)
        .args([verb, id])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "runc {verb} {id}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(t.elapsed())
}

async fn run(
    report: &mut Report,
    client: &Client,
    stack: &Stack,
    clock: &ReconcileClock,
    s: &Settings,
    created: &mut Created,
) -> anyhow::Result<()> {
    let busybox = stack.image("busybox");
    let python = stack.image("python");
    warm_up(client, &[busybox, python]).await?;
    let state = stack.daemon.state.as_path();

    suspend::pause_section(
        report,
        client,
        &state.join("runc"),
        busybox,
        s.pause,
        created,
    )
    .await?;
    suspend::hibernate_section(report, client, python, s.hibernate, created).await?;
    let daemon = baseline::Daemon {
        client,
        state,
        clock,
    };
    let raw = baseline::section(report, &daemon, python, s.checkpoint, created).await?;

    let src = python_100_mib(client, python, created).await?;
    snapshot::pause_section(report, client, &src.id, s.snapshot, &raw, created).await?;
    snapshot::restore_section(report, client, &src.id, s.snapshot, &raw, created).await?;
    branch::section(report, client, &src.id, s.branch, created).await
}
