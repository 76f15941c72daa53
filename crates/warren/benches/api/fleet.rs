//! Many real sandboxes: creating them through the API a few at a time with progress, what
//! holding them costs the daemon (idle CPU, RSS) and the host (memory), and deleting them all.
//!
//! Every sandbox is busybox, labelled `bench=api` and `group=g<i mod 10>` so the list section
//! can filter a tenth of them; [`Fleet::pause_group`] pauses one group so that a state filter
//! has something to tell apart. The ids are recorded as the creates finish, so
//! [`Fleet::delete`] removes every one of them whatever failed in between.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::future::Future;
use std::ops::Range;
use std::time::{Duration, Instant};

use anyhow::bail;
use warren_api_types::CreateSandboxRequest;
use warren_client::Client;

use crate::common::host::{cpu_seconds, loadavg, mem_available, vm_rss};
use crate::common::stats::{MIB, Row, durations, row};

/// How long the daemon's idle CPU is read for.
const IDLE_WINDOW: Duration = Duration::from_secs(5);

/// `(index, result, time taken)` of each call of [`each_concurrently`].
type Outcome<T> = (usize, anyhow::Result<T>, Duration);

/// `op(i)` for every `i` in `range`, `concurrency` at a time, printing `what` and the progress
/// every 100; the outcomes in index order.
async fn each_concurrently<T, F, Fut>(
    what: &str,
    range: Range<usize>,
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

/// A daemon reading taken while the fleet held some number of sandboxes.
struct Reading {
    live: usize,
    rss: u64,
    idle_cores: f64,
}

/// The sandboxes created so far and what they cost.
pub struct Fleet<'a> {
    client: &'a Client,
    image: &'a str,
    concurrency: usize,
    daemon_pid: u32,
    pub ids: Vec<String>,
    creates: Vec<Duration>,
    pauses: Vec<Duration>,
    readings: Vec<Reading>,
    mem_available_empty: u64,
    mem_available_full: u64,
}

impl<'a> Fleet<'a> {
    /// An empty fleet; reads the daemon with no sandbox.
    pub async fn new(
        client: &'a Client,
        image: &'a str,
        concurrency: usize,
        daemon_pid: u32,
    ) -> Fleet<'a> {
        let mut f = Fleet {
            client,
            image,
            concurrency,
            daemon_pid,
            ids: Vec::new(),
            creates: Vec::new(),
            pauses: Vec::new(),
            readings: Vec::new(),
            mem_available_empty: mem_available().unwrap_or(0),
            mem_available_full: 0,
        };
        f.read_daemon().await;
        f
    }

    /// Grow to `count` sandboxes (a failed create is retried twice), then read the daemon.
    pub async fn grow_to(&mut self, count: usize) -> anyhow::Result<()> {
        let (client, image) = (self.client, self.image);
        let range = self.ids.len()..count;
        let outcomes = each_concurrently("created", range, self.concurrency, |i| async move {
            let mut last = None;
            for _ in 0..3 {
                match client.create_sandbox(&labelled(image, i)).await {
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
                    self.ids.push(id);
                    self.creates.push(t);
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
        self.mem_available_full = mem_available().unwrap_or(0);
        self.read_daemon().await;
        Ok(())
    }

    /// Pause the sandboxes of group `g<group>` (every tenth), one at a time.
    pub async fn pause_group(&mut self, group: usize) -> anyhow::Result<()> {
        for id in self.ids.iter().skip(group).step_by(10) {
            let t = Instant::now();
            self.client.pause_sandbox(id).await?;
            self.pauses.push(t.elapsed());
        }
        Ok(())
    }

    /// The daemon's RSS, and its CPU over [`IDLE_WINDOW`] while nothing is asked of it.
    async fn read_daemon(&mut self) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let cpu0 = cpu_seconds(self.daemon_pid).unwrap_or_default();
        tokio::time::sleep(IDLE_WINDOW).await;
        let cpu1 = cpu_seconds(self.daemon_pid).unwrap_or_default();
        self.readings.push(Reading {
            live: self.ids.len(),
            rss: vm_rss(self.daemon_pid).unwrap_or(0),
            idle_cores: (cpu1 - cpu0) / IDLE_WINDOW.as_secs_f64(),
        });
    }

    /// Delete every sandbox of the fleet; the rows of what creating, holding and deleting cost.
    pub async fn delete(self) -> anyhow::Result<Vec<Row>> {
        let client = self.client;
        let ids = &self.ids;
        let outcomes = each_concurrently("deleted", 0..ids.len(), self.concurrency, |i| {
            let id = &ids[i];
            async move { client.delete_sandbox(id).await.map_err(anyhow::Error::from) }
        })
        .await;
        let (mut deletes, mut failed) = (Vec::new(), Vec::new());
        for (i, r, t) in outcomes {
            match r {
                Ok(()) => deletes.push(t),
                Err(e) => failed.push(format!("{}: {e:#}", ids[i])),
            }
        }
        if let Some(first) = failed.first() {
            bail!("{} deletes failed (first {first})", failed.len());
        }
        Ok(self.rows(&deletes))
    }

    fn rows(&self, deletes: &[Duration]) -> Vec<Row> {
        let n = self.creates.len();
        let head = 100.min(n);
        let mut rows = vec![
            durations("POST /v1/sandboxes, all", &self.creates, None),
            durations(
                &format!("POST /v1/sandboxes, the first {head}"),
                &self.creates[..head],
                None,
            ),
            durations(
                &format!("POST /v1/sandboxes, the last {head}"),
                &self.creates[n - head..],
                None,
            ),
            durations(
                "POST /v1/sandboxes/{id}/pause (a tenth)",
                &self.pauses,
                None,
            ),
            durations("DELETE /v1/sandboxes/{id}, all", deletes, None),
            durations(
                &format!("DELETE, the first {head} ({n} live)"),
                &deletes[..head.min(deletes.len())],
                None,
            ),
            durations(
                &format!("DELETE, the last {head}"),
                &deletes[deletes.len().saturating_sub(head)..],
                None,
            ),
        ];
        for r in &self.readings {
            rows.push(row(
                &format!("daemon CPU while idle, {} sandboxes", r.live),
                &[r.idle_cores],
                "cores",
                None,
            ));
        }
        for r in &self.readings {
            rows.push(row(
                &format!("daemon VmRSS, {} sandboxes", r.live),
                &[r.rss as f64 / MIB],
                "MiB",
                None,
            ));
        }
        let drop = self.mem_available_empty as f64 - self.mem_available_full as f64;
        rows.push(row(
            "host MemAvailable drop per sandbox (noisy)",
            &[drop / n.max(1) as f64 / MIB],
            "MiB",
            None,
        ));
        rows
    }
}
