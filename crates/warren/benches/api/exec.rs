//! Sections 1 and 3: short execs, through the daemon and straight to the agents.
//!
//! 1. Round trip of `exec ["true"]` on one idle sandbox, one at a time, in interleaved batches of
//!    50 so drift in the host's speed hits every series alike: `POST /v1/sandboxes/{id}/exec`
//!    (`warren_client`), the same Start RPC sent directly to the sandbox's agent (the baseline;
//!    the difference is the daemon's overhead), the agent as a host process running the same
//!    busybox `true` from the image's layer (what the sandbox adds), and `GET /v1/sandboxes/{id}` (the REST floor: HTTP, auth, one SQLite read).
//! 3. Throughput: `clients` concurrent loops of `exec ["true"]` spread over the sandboxes for a
//!    fixed time, through REST and then directly (one HTTP/2 connection per agent, shared by
//!    its clients, as the daemon does). CPU time of the daemon, the sandboxes' cgroups, this
//!    client and the whole host during each run says where the cores went.

use std::future::Future;
use std::time::{Duration, Instant};

use warren_agent_proto::AgentClient;
use warren_client::Client;

use crate::agent;
use crate::common::host::{cgroup_cpu_seconds, cpu_seconds, host_cpu_seconds, loadavg};
use crate::common::rest::exec_true;
use crate::common::stats::{Report, Target, difference, durations, row, time_each};

const BATCH: usize = 50;

/// Section 1 on sandbox `id`, whose agent is `direct`; `host` is the agent as a host process,
/// running `host_true` (the image's busybox `true`, by its path on the host).
pub async fn round_trip(
    report: &mut Report,
    client: &Client,
    id: &str,
    direct: &AgentClient,
    (host, host_true): (&AgentClient, &[&str]),
    n: usize,
) -> anyhow::Result<()> {
    let (mut rest, mut straight, mut hosted, mut gets) = (vec![], vec![], vec![], vec![]);
    for _ in 0..n.div_ceil(BATCH) {
        rest.extend(time_each(BATCH, || exec_true(client, id)).await?);
        straight.extend(time_each(BATCH, || agent::exec_ok(direct, &["true"])).await?);
        hosted.extend(time_each(BATCH, || agent::exec_ok(host, host_true)).await?);
        gets.extend(time_each(BATCH, || client.get_sandbox(id)).await?);
    }
    let via_rest = durations(
        "exec [true] via REST (POST .../exec)",
        &rest,
        Some(Target::AtMost(3.0)),
    );
    let via_agent = durations("exec [true] direct to the sandbox's agent", &straight, None);
    let overhead = difference(
        "  ⇒ daemon overhead (REST − direct; p50, p99)",
        &via_rest,
        &via_agent,
        None,
    );
    let on_host = durations("exec busybox true, agent as a host process", &hosted, None);
    let sandboxing = difference(
        "  ⇒ sandbox's share (direct − host agent)",
        &via_agent,
        &on_host,
        None,
    );
    let floor = durations("GET /v1/sandboxes/{id} (REST floor)", &gets, None);
    report.table(
        "1. exec round trip, one idle busybox sandbox, one at a time",
        vec![via_rest, via_agent, overhead, on_host, sandboxing, floor],
    );
    Ok(())
}

/// What a load run did.
struct Load {
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
    wall: Duration,
}

/// `clients` loops of `op(client index)` until `secs` have passed.
async fn drive<F, Fut>(clients: usize, secs: Duration, op: F) -> Load
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let start = Instant::now();
    let deadline = start + secs;
    let loops = (0..clients).map(|c| {
        let op = &op;
        async move {
            let (mut lat, mut errors, mut first) = (Vec::new(), 0, None);
            while Instant::now() < deadline {
                let t = Instant::now();
                match op(c).await {
                    Ok(()) => lat.push(t.elapsed()),
                    Err(e) => {
                        errors += 1;
                        first.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            (lat, errors, first)
        }
    });
    let done = futures_util::future::join_all(loops).await;
    let wall = start.elapsed();
    let mut load = Load {
        latencies: Vec::new(),
        errors: 0,
        first_error: None,
        wall,
    };
    for (lat, errors, first) in done {
        load.latencies.extend(lat);
        load.errors += errors;
        load.first_error = load.first_error.or(first);
    }
    load
}

/// CPU seconds used so far by the daemon, the sandboxes' cgroups, this process and the host.
struct Cpu {
    daemon: f64,
    sandboxes: f64,
    bench: f64,
    host_busy: f64,
}

impl Cpu {
    fn now(daemon_pid: u32, ids: &[String]) -> Self {
        let (host_busy, _) = host_cpu_seconds().unwrap_or_default();
        Self {
            daemon: cpu_seconds(daemon_pid).unwrap_or_default(),
            sandboxes: ids.iter().filter_map(|id| cgroup_cpu_seconds(id)).sum(),
            bench: cpu_seconds(std::process::id()).unwrap_or_default(),
            host_busy,
        }
    }

    /// Cores used between `self` and `later`, over `wall`.
    fn cores(&self, later: &Self, wall: Duration) -> serde_json::Value {
        let w = wall.as_secs_f64();
        serde_json::json!({
            "daemon": (later.daemon - self.daemon) / w,
            "sandboxes": (later.sandboxes - self.sandboxes) / w,
            "bench_client": (later.bench - self.bench) / w,
            "host_busy": (later.host_busy - self.host_busy) / w,
        })
    }
}

/// Section 3 on `sandboxes` (`(id, direct agent connection)`), `clients` loops for `secs`.
pub async fn throughput(
    report: &mut Report,
    client: &Client,
    daemon_pid: u32,
    sandboxes: &[(String, AgentClient)],
    clients: usize,
    secs: Duration,
) -> anyhow::Result<()> {
    let ids: Vec<String> = sandboxes.iter().map(|(id, _)| id.clone()).collect();
    let k = sandboxes.len();
    let before = Cpu::now(daemon_pid, &ids);
    let rest = drive(clients, secs, |c| exec_true(client, &ids[c % k])).await;
    let mid = Cpu::now(daemon_pid, &ids);
    println!("  [REST load done; load {}]", loadavg());
    let direct = drive(clients, secs, |c| {
        agent::exec_ok(&sandboxes[c % k].1, &["true"])
    })
    .await;
    let after = Cpu::now(daemon_pid, &ids);
    println!("  [direct load done; load {}]", loadavg());

    let mut rows = Vec::new();
    for (label, load, target) in [
        ("REST", &rest, Some(Target::AtLeast(200.0))),
        ("direct to the agents", &direct, None),
    ] {
        let rate = load.latencies.len() as f64 / load.wall.as_secs_f64();
        rows.push(row(&format!("{label}: execs/s"), &[rate], "exec/s", target));
        rows.push(durations(
            &format!("{label}: latency under load"),
            &load.latencies,
            None,
        ));
    }
    let title = format!(
        "3. throughput: {clients} clients over {k} busybox sandboxes, {} s each, exec [true]",
        secs.as_secs()
    );
    report.table(&title, rows);
    let (rest_cpu, direct_cpu) = (
        before.cores(&mid, rest.wall),
        mid.cores(&after, direct.wall),
    );
    for (label, load, cpu) in [("REST", &rest, &rest_cpu), ("direct", &direct, &direct_cpu)] {
        println!(
            "{label}: {} errors{}; cores used: daemon {:.2}, sandboxes (agents + `true`) {:.2}, \
             bench client {:.2}, host busy {:.2}",
            load.errors,
            load.first_error
                .as_deref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default(),
            cpu["daemon"].as_f64().unwrap_or_default(),
            cpu["sandboxes"].as_f64().unwrap_or_default(),
            cpu["bench_client"].as_f64().unwrap_or_default(),
            cpu["host_busy"].as_f64().unwrap_or_default(),
        );
    }
    report.note(
        "throughput_cpu_cores",
        serde_json::json!({ "rest": rest_cpu, "direct": direct_cpu }),
    );
    report.note(
        "throughput_errors",
        serde_json::json!({ "rest": rest.errors, "direct": direct.errors }),
    );
    Ok(())
}
