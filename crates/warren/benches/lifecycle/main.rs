//! Pause/resume and hibernate/resume (issue 4's targets), measured against a real
//! `warren serve`, next to raw `runc pause`/`resume` on the same kind of sandbox in the same run.
//!
//! ```text
//! export WARREN_FIXTURES=$PWD/.cache/fixtures
//! export WARREN_AGENT_BIN=$PWD/target/x86_64-unknown-linux-gnu/release/warren-agent
//! cargo bench -p warren --bench lifecycle            # -- --json <file> to keep the figures
//! ```
//!
//! 1. pause and resume of an idle busybox sandbox through REST, against `runc pause`/`resume` of
//!    another busybox sandbox driven directly (the daemon's share is the difference);
//! 2. hibernate and resume of a Python sandbox holding 100 MiB of state in memory (targets:
//!    hibernate ≤ 200 ms, resume ≤ 150 ms at the p50), each checked by the sandbox answering
//!    afterwards.
//!
//! Settings: `WARREN_BENCH_N` (pause/resume pairs, 50), `WARREN_BENCH_HIBERNATE` (hibernate/
//! resume pairs, 10).
#![allow(clippy::print_stdout)]

#[path = "../common/mod.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use warren_api_types::{CreateSandboxRequest, ExecRequest};
use warren_client::Client;

use crate::common::rest::warm_up;
use crate::common::setup::{self, Stack, env_usize};
use crate::common::stats::{self, Report, Target};

/// A Python main process holding 100 MiB of random state.
const HOLD_100_MIB: &str = "import os, time\nstate = bytearray(os.urandom(1 << 20) * 100)\n\
while True: time.sleep(3600)";

fn main() -> anyhow::Result<()> {
    let json = setup::json_arg();
    let n = env_usize("WARREN_BENCH_N", 50).max(1);
    let hib = env_usize("WARREN_BENCH_HIBERNATE", 10).max(1);
    let params = format!("N={n} pause/resume pairs, {hib} hibernate/resume pairs");
    let Some(stack) = setup::start(
        "warren lifecycle benchmark",
        &params,
        &["busybox", "python"],
    )?
    else {
        return Ok(());
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = stack.daemon.client();
    let mut report = Report::default();
    let mut ids = Vec::new();
    let mut result = rt.block_on(run(&mut report, &client, &stack, n, hib, &mut ids));
    for id in &ids {
        if let Err(e) = rt.block_on(client.delete_sandbox(id)) {
            result = result.and(Err(e.into()));
        }
    }
    if let (Ok(()), Some(path)) = (&result, json) {
        result = std::fs::write(&path, serde_json::to_vec_pretty(&report.json())?)
            .map_err(anyhow::Error::from)
            .map(|()| println!("figures written to {}", path.display()));
    }
    stack.finish(result)
}

/// `runc <verb> <id>` against the daemon's runc root; how long it took.
fn runc(stack: &Stack, verb: &str, id: &str) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let out = Command::new("runc")
        .arg("--root")
        .arg(stack.daemon.state.join("runc"))
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
    n: usize,
    hib: usize,
    ids: &mut Vec<String>,
) -> anyhow::Result<()> {
    let busybox = stack.image("busybox");
    let python = stack.image("python");
    warm_up(client, &[busybox, python]).await?;

    // 1. pause/resume: REST on one sandbox, raw runc on another.
    let mut req = CreateSandboxRequest::new(busybox);
    req.cmd = Some(vec!["sleep".into(), "3600".into()]);
    let rest_sb = client.create_sandbox(&req).await?;
    ids.push(rest_sb.id.clone());
    let raw_sb = client.create_sandbox(&req).await?;
    ids.push(raw_sb.id.clone());
    let (mut pause, mut resume, mut raw_pause, mut raw_resume) = (vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let t = Instant::now();
        client.pause_sandbox(&rest_sb.id).await?;
        pause.push(t.elapsed());
        let t = Instant::now();
        client.resume_sandbox(&rest_sb.id).await?;
        resume.push(t.elapsed());
        raw_pause.push(runc(stack, "pause", &raw_sb.id)?);
        raw_resume.push(runc(stack, "resume", &raw_sb.id)?);
    }
    let rows = vec![
        stats::durations("pause via REST", &pause, Some(Target::AtMost(10.0))),
        stats::durations("resume via REST", &resume, Some(Target::AtMost(10.0))),
        stats::durations("runc pause (baseline)", &raw_pause, None),
        stats::durations("runc resume (baseline)", &raw_resume, None),
    ];
    report.table("1. pause and resume, idle busybox sandbox", rows);

    // 2. hibernate/resume with 100 MiB of state.
    let mut req = CreateSandboxRequest::new(python);
    req.memory_mb = Some(512);
    req.cmd = Some(vec!["python3".into(), "-c".into(), HOLD_100_MIB.into()]);
    let sb = client.create_sandbox(&req).await?;
    ids.push(sb.id.clone());
    // Wait until the 100 MiB are allocated (RSS of the sandbox ≥ 100 MiB).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = client.sandbox_metrics(&sb.id).await?;
        if m.current.memory_bytes >= 100 << 20 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the sandbox never reached 100 MiB"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let probe = ExecRequest::new(["true"]);
    let (mut hibernate, mut wake) = (vec![], vec![]);
    for _ in 0..hib {
        let t = Instant::now();
        client.hibernate_sandbox(&sb.id).await?;
        hibernate.push(t.elapsed());
        let t = Instant::now();
        client.resume_sandbox(&sb.id).await?;
        wake.push(t.elapsed());
        anyhow::ensure!(client.exec(&sb.id, &probe).await?.exit_code == 0);
    }
    let rows = vec![
        stats::durations(
            "hibernate via REST (100 MiB RSS)",
            &hibernate,
            Some(Target::AtMost(200.0)),
        ),
        stats::durations(
            "resume from hibernation via REST",
            &wake,
            Some(Target::AtMost(150.0)),
        ),
    ];
    report.table("2. hibernate and resume, Python holding 100 MiB", rows);
    Ok(())
}
