//! The web dashboard's performance targets (issue 6), in Debian's headless Chromium against a
//! real `warren serve` holding a fleet of real sandboxes.
//!
//! ```text
//! export WARREN_FIXTURES=$PWD/.cache/fixtures
//! export WARREN_AGENT_BIN=$PWD/target/x86_64-unknown-linux-gnu/release/warren-agent
//! cargo bench -p warren --bench dashboard            # -- --json <file> to keep the figures
//! ```
//!
//! It creates `WARREN_BENCH_SANDBOXES` (500) busybox sandboxes with the API bench's fleet
//! helper, then runs `tests/dashboard/bench.mjs` (playwright-core), which measures: the
//! sandboxes page rendered with all of them (navigation start → table painted;
//! `WARREN_BENCH_RUNS` loads, 10), the bytes a cold first load transfers (the UI's files and
//! the API's data, then the terminal's xterm.js), and how long a state change (pause/resume,
//! `WARREN_BENCH_CHANGES`, 20) takes to show in the open table. Targets: render ≤ 500 ms, first
//! load ≤ 1 MB compressed, change visible ≤ 1 s. Prints PASS/MISS; never fails on a number.
//! Every sandbox is deleted at the end, also on error.
#![allow(clippy::print_stdout)]

#[path = "../common/mod.rs"]
mod common;

// The API bench's fleet; this bench does not pause groups.
#[path = "../api/fleet.rs"]
#[allow(dead_code)]
mod fleet;

use std::process::Command;

use anyhow::Context as _;
use serde_json::Value;
use warren_client::Client;

use crate::common::e2e::{TEST_KEY, clients};
use crate::common::setup::{self, Stack, env_usize};
use crate::common::stats::{Report, Target, row};

fn main() -> anyhow::Result<()> {
    let json = setup::json_arg();
    let count = env_usize("WARREN_BENCH_SANDBOXES", 500).max(1);
    let params = format!("{count} sandboxes in the table");
    // Without networking: the harness's /24 holds fewer addresses than the fleet.
    let Some(stack) = setup::start_with_args(
        "warren dashboard benchmark",
        &params,
        &["busybox"],
        &["--no-network"],
    )?
    else {
        return Ok(());
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = stack.daemon.client();
    let mut report = Report::default();
    let mut result = rt.block_on(run(&mut report, &client, &stack, count));
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
    count: usize,
) -> anyhow::Result<()> {
    let mut fleet = fleet::Fleet::new(client, stack.image("busybox"), 4, stack.pid).await;
    let measured = match fleet.grow_to(count).await {
        // The newest sandbox: on the first page of the table (newest first).
        Ok(()) => browser(report, stack, fleet.ids.last().expect("a fleet"), count),
        Err(e) => Err(e),
    };
    fleet.delete().await?;
    measured
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

fn browser(report: &mut Report, stack: &Stack, target: &str, count: usize) -> anyhow::Result<()> {
    let modules = clients::node_modules().context("tests/clients/node_modules missing")?;
    let root = clients::repo_root();
    let out = Command::new("node")
        .arg(root.join("tests/dashboard/bench.mjs"))
        .env("WARREN_URL", &stack.daemon.url)
        .env("WARREN_KEY", TEST_KEY)
        .env("WARREN_NODE_MODULES", modules)
        .env("WARREN_BENCH_TARGET", target)
        .env("WARREN_BENCH_EXPECT", count.to_string())
        .output()
        .context("node")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "bench.mjs failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("FIGURES "))
        .context("bench.mjs printed no FIGURES line")
        .and_then(|j| serde_json::from_str(j).context("FIGURES json"))?;
    let kib = |v: &Value| v.as_f64().unwrap_or(f64::NAN) / 1024.0;
    let first = &figures["transfer"]["first_load"];
    let term = &figures["transfer"]["with_terminal"];
    report.table(
        "dashboard in headless Chromium",
        vec![
            row(
                &format!("sandboxes page rendered, {count} rows (first load cold)"),
                &numbers(&figures["render_ms"]),
                "ms",
                Some(Target::AtMost(500.0)),
            ),
            row(
                "  of which: GET /v1/sandboxes?limit=500 (request → response end)",
                &numbers(&figures["api_list_ms"]),
                "ms",
                None,
            ),
            row(
                "  navigation start → data in hand",
                &numbers(&figures["data_at_ms"]),
                "ms",
                None,
            ),
            row(
                "  painting the table (script)",
                &numbers(&figures["paint_ms"]),
                "ms",
                None,
            ),
            row(
                "state change visible in the table, after the API answered",
                &numbers(&figures["change_after_answer_ms"]),
                "ms",
                Some(Target::AtMost(1000.0)),
            ),
            row(
                "state change visible in the table, from the API call",
                &numbers(&figures["change_from_call_ms"]),
                "ms",
                None,
            ),
            row(
                "first load: the UI's files (compressed)",
                &[kib(&first["ui"])],
                "KiB",
                Some(Target::AtMost(1024.0)),
            ),
            row(
                &format!("first load: the API's data ({count} sandboxes)"),
                &[kib(&first["api"])],
                "KiB",
                None,
            ),
            row(
                "first load + a terminal: the UI's files (with xterm.js)",
                &[kib(&term["ui"])],
                "KiB",
                Some(Target::AtMost(1024.0)),
            ),
        ],
    );
    Ok(())
}
