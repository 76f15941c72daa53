//! Section 2: how late a streamed chunk arrives, through the daemon's SSE exec stream and
//! directly from the agent's streaming Start RPC.
//!
//! The command prints a host-clock timestamp about every 10 ms. A sandbox shares the host's
//! `CLOCK_REALTIME` (time namespaces only offset the monotonic and boot clocks), so the bench
//! can subtract the embedded timestamp from its own receive time. Busybox 1.35's `date` has no
//! `%N`, and its `ts` block-buffers into a pipe, so the timestamp comes from busybox `adjtimex`:
//! it reads the clock (`adjtimex(2)` with no modes, allowed to anyone) and prints `time.tv_sec`
//! and `time.tv_usec` in one write when it exits. The latency of a chunk therefore includes
//! adjtimex's exit and the pipe, identical on both paths; the difference is the daemon's part.
//! The paths alternate, three runs each.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::bail;
use warren_agent_proto::{AgentClient, DataEvent, ProcessEvent};
use warren_api_types::ExecRequest;
use warren_client::{Client, ProcessStreamEvent};

use crate::agent::start_request;
use crate::common::stats::{Report, Target, difference, row};

const RUNS: usize = 3;

/// A shell loop printing `records` timestamps, one about every 10 ms.
fn script(records: usize) -> String {
    format!("i=0; while [ $i -lt {records} ]; do adjtimex; usleep 10000; i=$((i+1)); done")
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Timestamps (µs since the epoch) pulled out of adjtimex's output, however it is chunked.
#[derive(Default)]
struct Stamps {
    text: String,
    sec: Option<u64>,
}

impl Stamps {
    /// Feed a chunk; the timestamps of the records it completed.
    fn feed(&mut self, chunk: &[u8]) -> Vec<u64> {
        self.text.push_str(&String::from_utf8_lossy(chunk));
        let mut done = Vec::new();
        while let Some(nl) = self.text.find('\n') {
            let line: String = self.text.drain(..=nl).collect();
            let line = line.trim();
            if let Some(v) = line.strip_prefix("time.tv_sec:") {
                self.sec = v.trim().parse().ok();
            } else if let Some(v) = line.strip_prefix("time.tv_usec:")
                && let (Some(s), Ok(us)) = (self.sec.take(), v.trim().parse::<u64>())
            {
                done.push(s * 1_000_000 + us);
            }
        }
        done
    }

    /// Latencies (ms) of the records completed by `chunk`, received at `at` (µs).
    fn latencies(&mut self, chunk: &[u8], at: u64) -> impl Iterator<Item = f64> {
        self.feed(chunk)
            .into_iter()
            .map(move |ts| (at as f64 - ts as f64) / 1000.0)
    }
}

/// Through `POST /v1/sandboxes/{id}/exec` with `Accept: text/event-stream`.
async fn via_sse(client: &Client, id: &str, records: usize) -> anyhow::Result<Vec<f64>> {
    let cmd = script(records);
    let mut events = client
        .exec_stream(id, &ExecRequest::new(["sh", "-c", cmd.as_str()]))
        .await?;
    let (mut stamps, mut lat) = (Stamps::default(), Vec::new());
    while let Some(ev) = events.next().await {
        let at = now_us();
        match ev? {
            ProcessStreamEvent::Stdout(b) => lat.extend(stamps.latencies(&b, at)),
            ProcessStreamEvent::Exit(e) if e.exit_code != 0 => bail!("stream loop: {e:?}"),
            _ => {}
        }
    }
    Ok(lat)
}

/// Through the agent's `process.Process/Start` stream.
async fn via_agent(agent: &AgentClient, records: usize) -> anyhow::Result<Vec<f64>> {
    let cmd = script(records);
    let mut events = agent.start(start_request(&["sh", "-c", &cmd])).await?;
    let (mut stamps, mut lat) = (Stamps::default(), Vec::new());
    while let Some(ev) = events.next().await {
        let at = now_us();
        match ev? {
            ProcessEvent::Data(DataEvent::Stdout(b)) => lat.extend(stamps.latencies(&b, at)),
            ProcessEvent::End(e) if e.exit_code != 0 => bail!("stream loop: {e:?}"),
            _ => {}
        }
    }
    Ok(lat)
}

/// Section 3 on sandbox `id`, whose agent is `direct`: `RUNS` alternating runs of `records`
/// timestamps per path.
pub async fn section(
    report: &mut Report,
    client: &Client,
    id: &str,
    direct: &AgentClient,
    records: usize,
) -> anyhow::Result<()> {
    let (mut sse, mut agent) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        sse.extend(via_sse(client, id, records).await?);
        agent.extend(via_agent(direct, records).await?);
    }
    if sse.len() < RUNS * records || agent.len() < RUNS * records {
        bail!(
            "expected {} timestamps per path, got {} (SSE) and {} (agent): does adjtimex work?",
            RUNS * records,
            sse.len(),
            agent.len()
        );
    }
    let sse = row(
        "per-chunk latency via the daemon (SSE exec)",
        &sse,
        "ms",
        None,
    );
    let agent = row(
        "per-chunk latency direct from the agent (Start)",
        &agent,
        "ms",
        None,
    );
    let added = difference(
        "  ⇒ added by the daemon (p50, p99)",
        &sse,
        &agent,
        Some(Target::AtMost(1.0)),
    );
    report.table(
        "2. streaming exec: receive time − timestamp printed in the sandbox, ~10 ms apart",
        vec![sse, agent, added],
    );
    Ok(())
}
