//! Section 5: memory. The daemon's VmRSS fresh (1 s after start, read by `main`), idle with 0
//! sandboxes after the runs and idle with 20 (10 busybox + 10 python); per idle sandbox, its
//! cgroup's usage and rss+cache (anon+file on v2), and its agent's (PID 1) RSS and PSS from
//! `smaps_rollup`. PSS is the fair share: the static agent is bind-mounted from one host file, so
//! its text pages are shared between all sandboxes.

use std::time::Duration;

use warren_api_types::CreateSandboxRequest;
use warren_client::Client;

use crate::common::e2e::Daemon;
use crate::common::host::{cgroup_memory, kb_field, mem_available, sandbox_pid, vm_rss};
use crate::common::stats::{MIB, Row, Target, print_table, row};

pub async fn section(
    client: &Client,
    daemon: &Daemon,
    images: &[(&str, &str)],
    pid: u32,
    rss_fresh: u64,
) -> anyhow::Result<()> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_zero = vm_rss(pid).unwrap_or(0);
    let avail_before = mem_available().unwrap_or(0);
    let mut idle = Vec::new();
    for &(label, image) in images {
        for _ in 0..10 {
            let sb = client
                .create_sandbox(&CreateSandboxRequest::new(image))
                .await?;
            idle.push((label, sb.id));
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_twenty = vm_rss(pid).unwrap_or(0);
    let avail_after = mem_available().unwrap_or(0);
    let t40 = Some(Target::AtMost(40.0));
    let mut rows = vec![
        row(
            "daemon VmRSS, fresh (1 s after start, no image)",
            &[rss_fresh as f64 / MIB],
            "MiB",
            t40,
        ),
        row(
            "daemon VmRSS, idle, 0 sandboxes (after the runs)",
            &[rss_zero as f64 / MIB],
            "MiB",
            t40,
        ),
        row(
            "daemon VmRSS, idle, 20 sandboxes",
            &[rss_twenty as f64 / MIB],
            "MiB",
            t40,
        ),
        row(
            "daemon VmRSS growth per sandbox",
            &[(rss_twenty as f64 - rss_zero as f64) / 20.0 / MIB],
            "MiB",
            None,
        ),
        row(
            "host MemAvailable drop per sandbox (noisy)",
            &[(avail_before as f64 - avail_after as f64) / 20.0 / MIB],
            "MiB",
            None,
        ),
    ];
    for &(label, _) in images {
        let ids: Vec<&str> = idle
            .iter()
            .filter(|(l, _)| *l == label)
            .map(|(_, id)| id.as_str())
            .collect();
        rows.extend(per_sandbox(daemon, label, &ids)?);
    }
    print_table(
        "5. memory (targets on the mean; p50..mean columns are over the sandboxes)",
        &rows,
    );
    for (_, id) in &idle {
        client.delete_sandbox(id).await?;
    }
    Ok(())
}

/// Cgroup usage, cgroup rss+cache, agent RSS and agent PSS over the idle sandboxes `ids`.
fn per_sandbox(daemon: &Daemon, label: &str, ids: &[&str]) -> anyhow::Result<[Row; 4]> {
    let (mut usage, mut stat, mut rss, mut pss) = (vec![], vec![], vec![], vec![]);
    for id in ids {
        if let Some((u, s)) = cgroup_memory(id) {
            usage.push(u as f64 / MIB);
            stat.push(s as f64 / MIB);
        }
        let p = sandbox_pid(&daemon.state, id)?;
        let sm = format!("/proc/{p}/smaps_rollup");
        rss.push(kb_field(&sm, "Rss").unwrap_or(0) as f64 / MIB);
        pss.push(kb_field(&sm, "Pss").unwrap_or(0) as f64 / MIB);
    }
    let t8 = Some(Target::AtMost(8.0));
    Ok([
        row(
            &format!("{label}: cgroup memory usage per idle sandbox"),
            &usage,
            "MiB",
            t8,
        ),
        row(
            &format!("{label}: cgroup rss+cache per idle sandbox"),
            &stat,
            "MiB",
            None,
        ),
        row(&format!("{label}: agent (PID 1) RSS"), &rss, "MiB", None),
        row(&format!("{label}: agent (PID 1) PSS"), &pss, "MiB", t8),
    ])
}
