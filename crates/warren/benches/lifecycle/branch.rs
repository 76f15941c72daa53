//! Section 6: branch a Python sandbox holding 100 MiB into ten (issue 4: all ten running within
//! 1.5 s). `POST /v1/sandboxes/{id}/branch` returns when every copy runs; then each must answer
//! an exec. The memory the ten are charged (cgroup usage, page cache included) is read right
//! after. Between runs the ten and the snapshot are deleted.

use std::time::{Duration, Instant};

use anyhow::ensure;
use futures_util::future::try_join_all;
use warren_api_types::SandboxState;
use warren_client::Client;

use crate::common::host::cgroup_memory;
use crate::common::rest::exec_true;
use crate::common::stats::{self, MIB, Report, Target};
use crate::sandbox::Created;

/// Copies per branch call.
pub const BRANCHES: u32 = 10;

pub async fn section(
    report: &mut Report,
    client: &Client,
    src: &str,
    k: usize,
    created: &mut Created,
) -> anyhow::Result<()> {
    let (mut branch, mut answered, mut paused) = (vec![], vec![], vec![]);
    let (mut each_mib, mut total_mib) = (vec![], vec![]);
    for _ in 0..k {
        let t = Instant::now();
        let out = client.branch_sandbox(src, BRANCHES).await?;
        branch.push(t.elapsed());
        created.snapshot(&out.snapshot.id);
        for sb in &out.sandboxes {
            created.sandbox(&sb.id);
        }
        ensure!(
            out.sandboxes.len() == BRANCHES as usize
                && out
                    .sandboxes
                    .iter()
                    .all(|s| s.state == SandboxState::Running),
            "branch returned {} sandboxes, not {BRANCHES} running ones",
            out.sandboxes.len()
        );
        try_join_all(out.sandboxes.iter().map(|sb| exec_true(client, &sb.id))).await?;
        answered.push(t.elapsed());
        paused.push(Duration::from_secs_f64(out.snapshot.paused_ms / 1000.0));
        let usage: Vec<f64> = out
            .sandboxes
            .iter()
            .filter_map(|sb| cgroup_memory(&sb.id))
            .map(|(usage, _)| usage as f64 / MIB)
            .collect();
        total_mib.push(usage.iter().sum());
        each_mib.extend(usage);
        for sb in &out.sandboxes {
            created.delete_sandbox(client, &sb.id).await?;
        }
        created.delete_snapshot(client, &out.snapshot.id).await?;
    }
    let source_mib = cgroup_memory(src).map_or(f64::NAN, |(usage, _)| usage as f64 / MIB);
    let rows = vec![
        stats::durations(
            "branch ×10 via REST (returns when all ten run)",
            &branch,
            Some(Target::AtMost(1500.0)),
        ),
        stats::durations("branch ×10 → all ten answered an exec", &answered, None),
        stats::durations("  source frozen for the capture (paused_ms)", &paused, None),
        stats::row("memory per branch (cgroup usage)", &each_mib, "MiB", None),
        stats::row(
            "memory of the ten (cgroup usage, sum)",
            &total_mib,
            "MiB",
            None,
        ),
        stats::row(
            "memory of the source (cgroup usage)",
            &[source_mib],
            "MiB",
            None,
        ),
    ];
    report.table("6. branch ×10 of a Python sandbox holding 100 MiB", rows);
    Ok(())
}
