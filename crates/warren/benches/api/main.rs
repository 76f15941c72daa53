//! The full API's performance targets (issue 3), measured against a real `warren serve`, each
//! next to a baseline from the same run that bypasses the daemon.
//!
//! ```text
//! export WARREN_FIXTURES=$PWD/.cache/fixtures       # or $(scripts/test-fixtures.sh)
//! export WARREN_AGENT_BIN=$PWD/target/x86_64-unknown-linux-gnu/release/warren-agent
//! cargo bench -p warren --bench api                 # -- --json <file> to keep the figures
//! ```
//!
//! It starts a registry and a daemon (`common::setup`), pushes busybox, warms up, creates four
//! sandboxes and opens a direct connection to each one's agent, then runs (see
//! docs/benchmarks.md for the figures and how to read them):
//! 1. exec round trip: `exec ["true"]` through REST against the same Start RPC sent straight to
//!    the agent's socket, and against the agent as a plain host process ([`exec::round_trip`]);
//! 2. streaming: per-chunk latency of a timestamp printed every ~10 ms, through the daemon's
//!    SSE exec stream and straight from the agent ([`stream`]);
//! 3. throughput: 16 clients over the four sandboxes for 10 s, through REST and straight to the
//!    agents, with the CPU each party used ([`exec::throughput`]);
//! 4. `GET /v1/sandboxes` with 1,000 real sandboxes, created and deleted again ([`list`]), and
//!    what creating, holding and deleting them costs ([`fleet`]).
//!
//! Settings (environment): `WARREN_BENCH_N` (exec round trips per path, 500), `WARREN_BENCH_SECS`
//! (10), `WARREN_BENCH_CLIENTS` (16), `WARREN_BENCH_SANDBOXES` (4), `WARREN_BENCH_LIST`
//! (sandboxes for the list section, 1000; 0 skips it), `WARREN_BENCH_LIST_CONCURRENCY` (4).
//!
//! A benchmark never fails on a number: it prints PASS/MISS next to each target and fails only if
//! something errors. Every sandbox it creates is deleted before it ends, also on error (and the
//! harness deletes any left over when the daemon handle drops).
#![allow(clippy::print_stdout)]

#[path = "../common/mod.rs"]
mod common;

mod agent;
mod exec;
mod fleet;
mod list;
mod stream;

use std::time::Duration;

use warren_agent_proto::AgentClient;
use warren_api_types::CreateSandboxRequest;
use warren_client::Client;

use crate::common::host::busybox_layer;
use crate::common::rest::{exec_true, warm_up};
use crate::common::setup::{self, Stack, env_usize};
use crate::common::stats::Report;

/// Timestamps per streaming run (three runs per path).
const STREAM_RECORDS: usize = 100;

struct Settings {
    n: usize,
    secs: u64,
    clients: usize,
    sandboxes: usize,
    list: usize,
    list_concurrency: usize,
}

fn main() -> anyhow::Result<()> {
    let json = setup::json_arg();
    let s = Settings {
        n: env_usize("WARREN_BENCH_N", 500),
        secs: env_usize("WARREN_BENCH_SECS", 10) as u64,
        clients: env_usize("WARREN_BENCH_CLIENTS", 16),
        sandboxes: env_usize("WARREN_BENCH_SANDBOXES", 4).max(1),
        list: env_usize("WARREN_BENCH_LIST", 1000),
        list_concurrency: env_usize("WARREN_BENCH_LIST_CONCURRENCY", 4),
    };
    let params = format!(
        "N={}, {} clients × {} sandboxes × {} s, list with {} sandboxes",
        s.n, s.clients, s.sandboxes, s.secs, s.list
    );
    let Some(stack) = setup::start("warren API benchmark", &params, &["busybox"])? else {
        return Ok(());
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = stack.daemon.client();
    let mut report = Report::default();
    let mut result = rt.block_on(run(&mut report, &client, &stack, &s));
    if let (Ok(()), Some(path)) = (&result, json) {
        result = std::fs::write(&path, serde_json::to_vec_pretty(&report.json())?)
            .map_err(anyhow::Error::from)
            .map(|()| println!("figures written to {}", path.display()));
    }
    stack.finish(result)
}

async fn run(
    report: &mut Report,
    client: &Client,
    stack: &Stack,
    s: &Settings,
) -> anyhow::Result<()> {
    let busybox = stack.image("busybox");
    warm_up(client, &[busybox]).await?;
    let mut ids = Vec::new();
    let result = exec_sections(report, client, stack, s, &mut ids).await;
    for id in &ids {
        client.delete_sandbox(id).await?;
    }
    result?;
    if s.list == 0 {
        return Ok(());
    }
    let plan = list::Plan {
        image: busybox,
        count: s.list,
        concurrency: s.list_concurrency,
        samples: (s.n / 2).max(100),
        daemon_pid: stack.pid,
    };
    list::section(report, client, &plan).await
}

/// Sections 1–3 on `s.sandboxes` busybox sandboxes, whose ids go to `ids` as they are created.
async fn exec_sections(
    report: &mut Report,
    client: &Client,
    stack: &Stack,
    s: &Settings,
    ids: &mut Vec<String>,
) -> anyhow::Result<()> {
    let mut sandboxes: Vec<(String, AgentClient)> = Vec::new();
    for _ in 0..s.sandboxes {
        let sb = client
            .create_sandbox(&CreateSandboxRequest::new(stack.image("busybox")))
            .await?;
        ids.push(sb.id.clone());
        exec_true(client, &sb.id).await?;
        let direct = agent::connect(&stack.daemon.state, &sb.id).await?;
        sandboxes.push((sb.id, direct));
    }
    let host = agent::HostAgent::start(&stack.env.agent).await?;
    let busybox = busybox_layer(&stack.daemon.state)?.join("bin/busybox");
    let host_true = [busybox.to_str().unwrap_or_default(), "true"];
    let (id, direct) = &sandboxes[0];
    exec::round_trip(report, client, id, direct, (&host.client, &host_true), s.n).await?;
    drop(host);
    stream::section(report, client, id, direct, STREAM_RECORDS).await?;
    exec::throughput(
        report,
        client,
        stack.pid,
        &sandboxes,
        s.clients,
        Duration::from_secs(s.secs),
    )
    .await
}
