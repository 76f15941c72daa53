//! Sections 1, 3 and 4: what a client of warren's REST API sees (through `warren_client`).
//!
//! 1. create → first exec: `POST /v1/sandboxes` (image already local), then `exec ["true"]`; the
//!    delete is timed separately; the daemon's "sandbox created" log line splits the POST into
//!    the runtime's part (overlay, runc, agent up) and the core's (API, store, image lookup);
//! 3. exec round trip on one running sandbox, with `GET /v1/sandboxes/{id}` as the REST floor;
//! 4. four concurrent create → first exec, wall time; a failed create is counted, not fatal.

use std::time::{Duration, Instant};

use warren_api_types::CreateSandboxRequest;
use warren_client::Client;

use crate::common::e2e::Daemon;
use crate::common::host::loadavg;
use crate::common::rest::exec_true;
use crate::common::stats::{Target, durations, print_table, time_each};
use crate::daemon_log::runtime_create_time;

#[derive(Default)]
struct CreateRun {
    total: Vec<Duration>,
    create: Vec<Duration>,
    first_exec: Vec<Duration>,
    delete: Vec<Duration>,
    runtime: Vec<Duration>,
    core: Vec<Duration>,
}

async fn create_to_first_exec(
    client: &Client,
    daemon: &Daemon,
    image: &str,
    n: usize,
) -> anyhow::Result<CreateRun> {
    let mut r = CreateRun::default();
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        let sb = client
            .create_sandbox(&CreateSandboxRequest::new(image))
            .await?;
        let t1 = Instant::now();
        exec_true(client, &sb.id).await?;
        let t2 = Instant::now();
        client.delete_sandbox(&sb.id).await?;
        let t3 = Instant::now();
        r.create.push(t1 - t0);
        r.first_exec.push(t2 - t1);
        r.total.push(t2 - t0);
        r.delete.push(t3 - t2);
        ids.push((sb.id, t1 - t0));
    }
    let log = daemon.log();
    for (id, create) in ids {
        if let Some(rt) = runtime_create_time(&log, &id) {
            r.runtime.push(rt);
            r.core.push(create.saturating_sub(rt));
        }
    }
    Ok(r)
}

/// Section 1, for each `(label, image)`.
pub async fn create_section(
    client: &Client,
    daemon: &Daemon,
    images: &[(&str, &str)],
    n: usize,
) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let target60 = Some(Target::AtMost(60.0));
    for &(label, image) in images {
        let r = create_to_first_exec(client, daemon, image, n).await?;
        let series = [
            ("create → first exec (total)", &r.total, target60),
            ("  POST /v1/sandboxes", &r.create, None),
            ("    runtime create (daemon log)", &r.runtime, None),
            ("    core: API, store, image (rest)", &r.core, None),
            ("  first exec [true]", &r.first_exec, None),
            ("delete", &r.delete, None),
        ];
        for (name, values, target) in series {
            rows.push(durations(&format!("{label}: {name}"), values, target));
        }
        println!("  [{label} create → first exec done; load {}]", loadavg());
    }
    print_table("1. create → first exec (images local)", &rows);
    Ok(())
}

/// Section 3: 4·N (≥ 200) `exec ["true"]`, then as many `GET /v1/sandboxes/{id}`.
pub async fn exec_round_trip(client: &Client, image: &str, n: usize) -> anyhow::Result<()> {
    let sb = client
        .create_sandbox(&CreateSandboxRequest::new(image))
        .await?;
    exec_true(client, &sb.id).await?;
    let samples = (4 * n).max(200);
    let execs = time_each(samples, || exec_true(client, &sb.id)).await?;
    let gets = time_each(samples, || client.get_sandbox(&sb.id)).await?;
    client.delete_sandbox(&sb.id).await?;
    print_table(
        "3. exec round trip on a running busybox sandbox (REST, warren_client)",
        &[
            durations("exec [\"true\"]", &execs, Some(Target::AtMost(5.0))),
            durations("GET /v1/sandboxes/{id} (REST floor)", &gets, None),
        ],
    );
    Ok(())
}

/// Section 4: N/10 (≥ 3) rounds of four concurrent create → first exec; every sandbox is deleted
/// after each round.
pub async fn concurrent_creates(client: &Client, image: &str, n: usize) -> anyhow::Result<()> {
    let rounds = (n / 10).max(3);
    let (mut walls, mut each, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        let one = || async {
            let t = Instant::now();
            let sb = client
                .create_sandbox(&CreateSandboxRequest::new(image))
                .await?;
            exec_true(client, &sb.id).await?;
            anyhow::Ok(t.elapsed())
        };
        let (a, b, c, d) = tokio::join!(one(), one(), one(), one());
        walls.push(t.elapsed());
        for r in [a, b, c, d] {
            match r {
                Ok(d) => each.push(d),
                Err(e) => failures.push(format!("{e:#}")),
            }
        }
        for sb in client.list_all_sandboxes().await? {
            client.delete_sandbox(&sb.id).await?;
        }
    }
    print_table(
        "4. 4 concurrent creates (busybox) → first exec",
        &[
            durations("wall time for 4", &walls, None),
            durations("each create → first exec (successful ones)", &each, None),
        ],
    );
    println!(
        "failed creates: {} of {}{}",
        failures.len(),
        4 * rounds,
        failures
            .first()
            .map(|f| format!(" (first: {f})"))
            .unwrap_or_default()
    );
    Ok(())
}
