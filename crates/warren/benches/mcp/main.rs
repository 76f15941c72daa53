//! MCP `run_command` round trip (issue 7's target: p50 ≤ 20 ms), next to a raw REST exec
//! measured in the same run against the same sandbox.
//!
//! ```text
//! export WARREN_FIXTURES=$PWD/.cache/fixtures
//! export WARREN_AGENT_BIN=$PWD/target/x86_64-unknown-linux-gnu/release/warren-agent
//! cargo bench -p warren --bench mcp                 # -- --json <file> to keep the figures
//! ```
//!
//! It starts a registry and a daemon, creates one busybox sandbox and times `sh -c true` in
//! it, one call after another: through `warren_client` (REST, Rust), then from Python (the
//! client venv of the e2e tests, tests/mcp/bench_mcp.py): REST with httpx (the HTTP library
//! the `mcp` client uses; the baseline of the MCP rows), the official `mcp` client over
//! streamable HTTP (`/mcp`), and over stdio (`warren mcp`). `WARREN_BENCH_N` sets the calls
//! per path (300). It prints PASS/MISS and never fails on a number.
#![allow(clippy::print_stdout)]

#[path = "../common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::Context;
use warren_api_types::{CreateSandboxRequest, ExecRequest};

use crate::common::e2e::{TEST_KEY, clients};
use crate::common::setup::{self, Stack, env_usize};
use crate::common::stats::{self, Report, Target};

/// The issue's target for an MCP `run_command` round trip (p50).
const TARGET_MS: f64 = 20.0;

fn main() -> anyhow::Result<()> {
    let n = env_usize("WARREN_BENCH_N", 300);
    let Some(python) = clients::python() else {
        return Ok(());
    };
    let Some(stack) = setup::start("MCP", &format!("n={n}"), &["busybox"])? else {
        return Ok(());
    };
    let rt = tokio::runtime::Runtime::new()?;
    let result = rt.block_on(run(&stack, &python, n));
    stack.finish(result)
}

async fn run(stack: &Stack, python: &std::path::Path, n: usize) -> anyhow::Result<()> {
    let client = stack.daemon.client();
    let sb = client
        .create_sandbox(&CreateSandboxRequest::new(stack.image("busybox")))
        .await
        .context("create the sandbox")?;
    let req = ExecRequest::new(["sh", "-c", "true"]);
    stats::time_each(20, || client.exec(&sb.id, &req)).await?;
    let rust = stats::time_each(n, || client.exec(&sb.id, &req)).await?;

    let out = Command::new(python)
        .arg(clients::repo_root().join("tests/mcp/bench_mcp.py"))
        .args([
            "--url",
            &stack.daemon.url,
            "--key",
            TEST_KEY,
            "--sandbox",
            &sb.id,
        ])
        .args([
            "--warren",
            env!("CARGO_BIN_EXE_warren"),
            "--n",
            &n.to_string(),
        ])
        .output()
        .context("run bench_mcp.py")?;
    anyhow::ensure!(
        out.status.success(),
        "bench_mcp.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: BTreeMap<String, Vec<f64>> =
        serde_json::from_slice(&out.stdout).context("bench_mcp.py's output")?;
    let get = |k: &str| samples.get(k).cloned().unwrap_or_default();
    let httpx = stats::row(
        "REST exec, Python httpx (baseline)",
        &get("rest_httpx"),
        "ms",
        None,
    );
    let http = stats::row(
        "MCP run_command, streamable HTTP (/mcp)",
        &get("mcp_http"),
        "ms",
        Some(Target::AtMost(TARGET_MS)),
    );
    let stdio = stats::row(
        "MCP run_command, stdio (warren mcp)",
        &get("mcp_stdio"),
        "ms",
        Some(Target::AtMost(TARGET_MS)),
    );
    let rows = vec![
        stats::durations("REST exec, Rust warren_client", &rust, None),
        stats::difference("MCP over HTTP minus REST (httpx)", &http, &httpx, None),
        stats::difference("MCP over stdio minus REST (httpx)", &stdio, &httpx, None),
        httpx,
        http,
        stdio,
    ];
    let mut report = Report::default();
    report.table("round trip of `sh -c true` in a running sandbox", rows);
    client.delete_sandbox(&sb.id).await?;
    if let Some(path) = setup::json_arg() {
        std::fs::write(&path, serde_json::to_vec_pretty(&report.json())?)?;
    }
    Ok(())
}
