//! Sections 4 and 5: snapshots of a Python sandbox holding 100 MiB through REST — how long the
//! source is frozen (the daemon's `paused_ms`) and how long the request takes, for memory and
//! files-only snapshots — and sandboxes created from a memory snapshot, until they answer an
//! exec. Each is set next to the raw runc step of section 3 it is built on.

use std::time::{Duration, Instant};

use warren_api_types::{CreateSandboxRequest, CreateSnapshotRequest};
use warren_client::Client;

use crate::baseline::RawTimes;
use crate::common::rest::exec_true;
use crate::common::stats::{self, Report};
use crate::sandbox::Created;

fn request(memory: bool) -> CreateSnapshotRequest {
    CreateSnapshotRequest {
        memory,
        ..CreateSnapshotRequest::default()
    }
}

/// Section 4: K memory and K files-only snapshots of `src`, alternately, each deleted again;
/// the source must answer an exec after each.
pub async fn pause_section(
    report: &mut Report,
    client: &Client,
    src: &str,
    k: usize,
    raw: &RawTimes,
    created: &mut Created,
) -> anyhow::Result<()> {
    // [memory, files only] × (paused, wall); sizes: memory image, files of each.
    let mut paused: [Vec<Duration>; 2] = Default::default();
    let mut wall: [Vec<Duration>; 2] = Default::default();
    let (mut memory_bytes, mut fs_bytes) = (0, [0; 2]);
    for _ in 0..k {
        for (i, memory) in [true, false].into_iter().enumerate() {
            let t = Instant::now();
            let snap = client.snapshot_sandbox(src, &request(memory)).await?;
            wall[i].push(t.elapsed());
            created.snapshot(&snap.id);
            paused[i].push(Duration::from_secs_f64(snap.paused_ms / 1000.0));
            memory_bytes = memory_bytes.max(snap.memory_bytes);
            fs_bytes[i] = snap.fs_bytes;
            created.delete_snapshot(client, &snap.id).await?;
            exec_true(client, src).await?;
        }
    }
    report.note("snapshot_memory_bytes", memory_bytes.into());
    report.note("snapshot_memory_fs_bytes", fs_bytes[0].into());
    report.note("snapshot_files_fs_bytes", fs_bytes[1].into());
    let mib = |b: u64| b as f64 / stats::MIB;
    println!(
        "  [memory snapshot: {:.1} MiB of CRIU images, {:.2} MiB of files; files-only: {:.2} MiB]",
        mib(memory_bytes),
        mib(fs_bytes[0]),
        mib(fs_bytes[1]),
    );
    let memory_wall = stats::durations("memory snapshot: request via REST", &wall[0], None);
    let raw_dump = stats::durations(
        "runc checkpoint --leave-running, disk (section 3)",
        &raw.dump_leave_running,
        None,
    );
    let share = stats::difference(
        "  daemon's share (request − raw dump, p50/p99)",
        &memory_wall,
        &raw_dump,
        None,
    );
    let rows = vec![
        stats::durations(
            "memory snapshot: source frozen (paused_ms)",
            &paused[0],
            None,
        ),
        memory_wall,
        raw_dump,
        share,
        stats::durations(
            "files-only snapshot: source frozen (paused_ms)",
            &paused[1],
            None,
        ),
        stats::durations("files-only snapshot: request via REST", &wall[1], None),
    ];
    report.table(
        "4. snapshot of a Python sandbox holding 100 MiB (each deleted after)",
        rows,
    );
    Ok(())
}

/// Section 5: K sandboxes created one after another from one memory snapshot of `src`, each
/// until it answers an exec, then deleted.
pub async fn restore_section(
    report: &mut Report,
    client: &Client,
    src: &str,
    k: usize,
    raw: &RawTimes,
    created: &mut Created,
) -> anyhow::Result<()> {
    let snap = client.snapshot_sandbox(src, &request(true)).await?;
    created.snapshot(&snap.id);
    let from = CreateSandboxRequest::from_snapshot(&snap.id);
    let (mut create, mut answered) = (vec![], vec![]);
    for _ in 0..k {
        let t = Instant::now();
        let sb = client.create_sandbox(&from).await?;
        create.push(t.elapsed());
        created.sandbox(&sb.id);
        exec_true(client, &sb.id).await?;
        answered.push(t.elapsed());
        created.delete_sandbox(client, &sb.id).await?;
    }
    created.delete_snapshot(client, &snap.id).await?;
    let answered = stats::durations(
        "create from memory snapshot → exec answered",
        &answered,
        None,
    );
    let raw_restore = stats::durations(
        "runc restore --detach, disk (section 3)",
        &raw.restore,
        None,
    );
    let share = stats::difference(
        "  daemon's share (→ exec − raw restore, p50/p99)",
        &answered,
        &raw_restore,
        None,
    );
    let rows = vec![
        stats::durations("create from memory snapshot via REST", &create, None),
        answered,
        raw_restore,
        share,
    ];
    report.table("5. create from a memory snapshot (100 MiB)", rows);
    Ok(())
}
