//! Section 4: `GET /v1/sandboxes` with 1,000 real sandboxes in the store.
//!
//! The sandboxes are real: created through the API (busybox, `concurrency` at a time, with
//! progress), each labelled `bench=api` and `group=g0`…`g9` (100 per group), and deleted again
//! at the end, also when a step in between fails. Baselines in the same run: the default page
//! with the store empty and with 100 sandboxes (the same page, a tenth of the table), and
//! `GET /v1/sandboxes/{id}` (the REST floor). Each query is timed `samples` times, one at a time.
//! Creating and deleting are timed too, and the daemon's RSS and idle CPU at 1,000 sandboxes
//! are read on the way.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::bail;
use warren_api_types::CreateSandboxRequest;
use warren_client::{Client, SandboxQuery};

use crate::common::host::{cpu_seconds, loadavg, mem_available, vm_rss};
use crate::common::stats::{MIB, Report, Row, durations, row, time_each};

/// How the section runs.
pub struct Plan<'a> {
    pub image: &'a str,
    /// Sandboxes to create.
    pub count: usize,
    /// Creates (and deletes) in flight at once.
    pub concurrency: usize,
    /// Timed requests per query.
    pub samples: usize,
    pub daemon_pid: u32,
}

/// `(index, result, time taken)` of each call of [`each_concurrently`].
type Outcome<T> = (usize, anyhow::Result<T>, Duration);

/// `op(i)` for every `i` in `range`, `concurrency` at a time, printing `what` and the progress
/// every 100.
async fn each_concurrently<T, F, Fut>(
    what: &str,
    range: std::ops::Range<usize>,
    concurrency: usize,
    op: F,
) -> Vec<Outcome<T>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let (next, done) = (&Cell::new(range.start), &Cell::new(0usize));
    let (started, total, end, op) = (Instant::now(), range.len(), range.end, &op);
    let workers = (0..concurrency.max(1)).map(|_| async move {
        let mut out = Vec::new();
        loop {
            let i = next.get();
            if i >= end {
                return out;
            }
            next.set(i + 1);
            let t = Instant::now();
            let r = op(i).await;
            out.push((i, r, t.elapsed()));
            done.set(done.get() + 1);
            if done.get() % 100 == 0 || done.get() == total {
                println!(
                    "  [{what} {}/{total}, {:.0}/s, load {}]",
                    done.get(),
                    done.get() as f64 / started.elapsed().as_secs_f64(),
                    loadavg()
                );
            }
        }
    });
    let mut all: Vec<_> = futures_util::future::join_all(workers)
        .await
        .into_iter()
        .flatten()
        .collect();
    all.sort_by_key(|(i, _, _)| *i);
    all
}

fn labelled(image: &str, i: usize) -> CreateSandboxRequest {
    let mut req = CreateSandboxRequest::new(image);
    req.labels = BTreeMap::from([
        ("bench".to_owned(), "api".to_owned()),
        ("group".to_owned(), format!("g{}", i % 10)),
    ]);
    req
}

/// Create sandboxes `range` (a failed create is retried twice); their ids go to `ids` as they
/// come, so the caller can delete them whatever happens.
async fn create(
    client: &Client,
    plan: &Plan<'_>,
    range: std::ops::Range<usize>,
    ids: &mut Vec<String>,
    times: &mut Vec<Duration>,
) -> anyhow::Result<()> {
    let outcomes = each_concurrently("created", range, plan.concurrency, |i| async move {
        let mut last = None;
        for _ in 0..3 {
            match client.create_sandbox(&labelled(plan.image, i)).await {
                Ok(sb) => return Ok(sb.id),
                Err(e) => last = Some(e),
            }
        }
        Err(anyhow::Error::from(last.expect("three tries")))
    })
    .await;
    let mut failed = Vec::new();
    for (i, r, t) in outcomes {
        match r {
            Ok(id) => {
                ids.push(id);
                times.push(t);
            }
            Err(e) => failed.push(format!("#{i}: {e:#}")),
        }
    }
    if let Some(first) = failed.first() {
        bail!(
            "{} creates failed three times (first {first})",
            failed.len()
        );
    }
    Ok(())
}

/// The whole section; every sandbox it creates is deleted before it returns.
pub async fn section(report: &mut Report, client: &Client, plan: &Plan<'_>) -> anyhow::Result<()> {
    let left = client.list_all_sandboxes().await?.len();
    if left != 0 {
        bail!("the store should be empty before the list section; it holds {left}");
    }
    let (mut ids, mut create_times) = (Vec::new(), Vec::new());
    let measured = fill_and_measure(client, plan, &mut ids, &mut create_times).await;
    let outcomes = each_concurrently("deleted", 0..ids.len(), plan.concurrency, |i| {
        let id = &ids[i];
        async move { client.delete_sandbox(id).await.map_err(anyhow::Error::from) }
    })
    .await;
    let mut delete_times = Vec::new();
    let mut failed = Vec::new();
    for (i, r, t) in outcomes {
        match r {
            Ok(()) => delete_times.push(t),
            Err(e) => failed.push(format!("{}: {e:#}", ids[i])),
        }
    }
    let (rows, notes) = measured?;
    report.table(
        &format!(
            "4. GET /v1/sandboxes with {} busybox sandboxes in the store (one at a time)",
            plan.count
        ),
        rows,
    );
    report.table(
        &format!(
            "4b. creating and deleting them, {} at a time",
            plan.concurrency
        ),
        vec![
            durations("POST /v1/sandboxes (create)", &create_times, None),
            durations("DELETE /v1/sandboxes/{id}", &delete_times, None),
        ],
    );
    for (key, value) in notes {
        println!("{key}: {value}");
        report.note(&key, value);
    }
    if let Some(first) = failed.first() {
        bail!("{} deletes failed (first {first})", failed.len());
    }
    Ok(())
}

type Notes = Vec<(String, serde_json::Value)>;

/// Baselines, the creates, then the timed queries.
async fn fill_and_measure(
    client: &Client,
    plan: &Plan<'_>,
    ids: &mut Vec<String>,
    create_times: &mut Vec<Duration>,
) -> anyhow::Result<(Vec<Row>, Notes)> {
    let n = plan.samples;
    let page = |q: SandboxQuery, limit: Option<u32>| async move {
        client.find_sandboxes(&q, None, limit).await
    };
    let default_page = || page(SandboxQuery::default(), None);
    let empty = time_each(n, default_page).await?;
    let rss_before = vm_rss(plan.daemon_pid).unwrap_or(0);
    let avail_before = mem_available().unwrap_or(0);
    let t_fill = Instant::now();
    let tenth = plan.count / 10;
    create(client, plan, 0..tenth, ids, create_times).await?;
    let at_tenth = time_each(n, default_page).await?;
    create(client, plan, tenth..plan.count, ids, create_times).await?;
    let fill = t_fill.elapsed();
    let stored = client.list_all_sandboxes().await?.len();
    if stored != plan.count {
        bail!("{stored} sandboxes listed after creating {}", plan.count);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = vm_rss(plan.daemon_pid).unwrap_or(0);
    let avail_after = mem_available().unwrap_or(0);
    let cpu0 = cpu_seconds(plan.daemon_pid).unwrap_or_default();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle_cpu = (cpu_seconds(plan.daemon_pid).unwrap_or_default() - cpu0) / 5.0;

    let label = |l: &str| SandboxQuery {
        label: Some(l.to_owned()),
        ..SandboxQuery::default()
    };
    let state = |s: &str| SandboxQuery {
        state: Some(s.to_owned()),
        ..SandboxQuery::default()
    };
    let both = SandboxQuery {
        state: Some("running".to_owned()),
        label: Some("bench=api,group=g3".to_owned()),
        ..SandboxQuery::default()
    };
    let mut queries: Vec<(&str, SandboxQuery, Option<u32>, Option<String>)> = vec![
        (
            "default page (limit 100)",
            SandboxQuery::default(),
            None,
            None,
        ),
        ("limit=500", SandboxQuery::default(), Some(500), None),
        (
            "label=group=g3 (a tenth match)",
            label("group=g3"),
            None,
            None,
        ),
        ("state=running (all match)", state("running"), None, None),
        ("state=running&label=bench=api,group=g3", both, None, None),
        (
            "label=group=none (none match: full scan)",
            label("group=none"),
            None,
            None,
        ),
        ("state=stopped (none match)", state("stopped"), None, None),
    ];
    // The second page of 500 when there is one (a cursor is the last seq of the page before).
    let first500 = page(SandboxQuery::default(), Some(500)).await?;
    if let Some(cursor) = first500.next_cursor {
        let q = (
            "limit=500, 2nd page (cursor)",
            SandboxQuery::default(),
            Some(500),
            Some(cursor),
        );
        queries.insert(2, q);
    }
    let mut rows = vec![
        durations("baseline: default page, store empty", &empty, None),
        durations(
            &format!("baseline: default page, {tenth} in the store"),
            &at_tenth,
            None,
        ),
    ];
    let mut sizes = serde_json::Map::new();
    for (name, q, limit, cursor) in &queries {
        let cursor = cursor.as_deref();
        let once = client.find_sandboxes(q, cursor, *limit).await?;
        let bytes = serde_json::to_vec(&once)?.len();
        sizes.insert(
            (*name).to_owned(),
            serde_json::json!({ "items": once.items.len(), "json_bytes": bytes }),
        );
        let times = time_each(n, || client.find_sandboxes(q, cursor, *limit)).await?;
        rows.push(durations(
            &format!("{name}, {} items", once.items.len()),
            &times,
            None,
        ));
    }
    let one = &ids[ids.len() / 2];
    let gets = time_each(n, || client.get_sandbox(one)).await?;
    rows.push(durations(
        "GET /v1/sandboxes/{id} (REST floor)",
        &gets,
        None,
    ));

    let per_sb = |before: u64, after: u64| (after as f64 - before as f64) / plan.count as f64 / MIB;
    rows.push(row(
        "daemon VmRSS growth per sandbox",
        &[per_sb(rss_before, rss_after)],
        "MiB",
        None,
    ));
    let notes = vec![
        (
            "create_wall_s".to_owned(),
            serde_json::json!(fill.as_secs_f64()),
        ),
        (
            "daemon_rss_mib".to_owned(),
            serde_json::json!({
                "before": rss_before as f64 / MIB,
                "with_all": rss_after as f64 / MIB,
            }),
        ),
        (
            "host_mem_available_drop_per_sandbox_mib".to_owned(),
            serde_json::json!(per_sb(avail_after, avail_before)),
        ),
        (
            "daemon_idle_cpu_cores_with_all".to_owned(),
            serde_json::json!(idle_cpu),
        ),
        ("page_sizes".to_owned(), serde_json::Value::Object(sizes)),
    ];
    Ok((rows, notes))
}
