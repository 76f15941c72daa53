//! Snapshots of a real sandbox, with and without memory, and sandboxes created from them: the
//! source keeps running, copies continue from the captured instant with their own hostname, and
//! copies diverge independently. Needs root, runc, CRIU ≥ 4, busybox-static and the static
//! agent; skips loudly otherwise.

mod common;

use std::time::Duration;

use common::{Fixture, criu_missing, unique_id};
use warren_runtime::{ActualState, Runtime, RuntimeError, SandboxSpec};

/// The counter the main process keeps in its memory (and mirrors to /tmp/c).
fn counter(f: &Fixture, id: &str) -> u64 {
    let (code, out) = f.exec(id, &["cat", "/tmp/c"]);
    assert_eq!(code, 0, "{out}");
    out.trim().parse().unwrap()
}

fn counting_spec(f: &Fixture, id: &str) -> SandboxSpec {
    let mut spec = f.spec(id);
    spec.limits.disk_bytes = 64 << 20;
    spec.main_cmd = Some(vec![
        "sh".into(),
        "-c".into(),
        "i=0; while true; do i=$((i+1)); echo $i > /tmp/c; sleep 0.05; done".into(),
    ]);
    spec
}

/// A sandbox created from `snapshot` (restoring its processes when `memory`).
fn from_snapshot(f: &Fixture, id: &str, chain: &[String], memory: bool) -> SandboxSpec {
    let mut spec = counting_spec(f, id);
    spec.snapshot_layers = chain.to_vec();
    spec.restore_from = memory.then(|| chain.last().unwrap().clone());
    spec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_snapshots_branch_into_independent_copies() {
    require_host!();
    if criu_missing() {
        return;
    }
    let f = Fixture::new().await;
    let src = unique_id("snap-src");
    f.rt.create(&counting_spec(&f, &src)).await.expect("create");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, out) = f.exec(&src, &["sh", "-c", "echo from-source > /data.txt"]);
    assert_eq!(code, 0, "{out}");

    let snap = unique_id("snap");
    let info = f.rt.snapshot(&src, &snap, true).await.expect("snapshot");
    assert!(info.memory_bytes > 0, "{info:?}");
    assert!(info.paused > Duration::ZERO && info.paused < Duration::from_secs(10));
    // The source goes on running.
    assert_eq!(f.rt.state(&src).await.unwrap(), Some(ActualState::Running));
    let at_snapshot = counter(&f, &src);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(counter(&f, &src) > at_snapshot);
    f.rt.agent(&src).await.unwrap().health().await.unwrap();

    // Two copies continue from the captured instant, each with its own hostname.
    let chain = vec![snap.clone()];
    let copies = [unique_id("snap-a"), unique_id("snap-b")];
    for id in &copies {
        f.rt.create(&from_snapshot(&f, id, &chain, true))
            .await
            .unwrap_or_else(|e| panic!("create {id} from {snap}: {e:?}"));
    }
    for id in &copies {
        let (code, out) = f.exec(id, &["hostname"]);
        assert_eq!((code, out.trim()), (0, id.as_str()));
        let (code, out) = f.exec(id, &["cat", "/data.txt"]);
        assert_eq!((code, out.trim()), (0, "from-source"));
        let c = counter(&f, id);
        // Continued from the snapshot's value (≤ the source's at that time + the freeze), not 0.
        assert!(c >= at_snapshot.saturating_sub(20), "{c} vs {at_snapshot}");
        f.rt.agent(id).await.unwrap().health().await.unwrap();
    }
    // They diverge independently.
    f.exec(&copies[0], &["sh", "-c", "echo a > /data.txt"]);
    f.exec(&copies[1], &["sh", "-c", "echo b > /data.txt"]);
    assert_eq!(f.exec(&copies[0], &["cat", "/data.txt"]).1.trim(), "a");
    assert_eq!(f.exec(&copies[1], &["cat", "/data.txt"]).1.trim(), "b");
    assert_eq!(f.exec(&src, &["cat", "/data.txt"]).1.trim(), "from-source");

    // A snapshot of a copy stacks on the first: a chain of two.
    let snap2 = unique_id("snap2");
    f.rt.snapshot(&copies[0], &snap2, true)
        .await
        .expect("snapshot of a copy");
    let chain2 = vec![snap.clone(), snap2.clone()];
    // The source and its copies can go; the snapshots hold everything they need.
    for id in [&src, &copies[0], &copies[1]] {
        f.rt.delete(id).await.unwrap();
        f.assert_gone(id);
    }
    let grandchild = unique_id("snap-c");
    f.rt.create(&from_snapshot(&f, &grandchild, &chain2, true))
        .await
        .expect("create from the second snapshot");
    assert_eq!(f.exec(&grandchild, &["cat", "/data.txt"]).1.trim(), "a");
    assert!(counter(&f, &grandchild) > 0);
    f.rt.delete(&grandchild).await.unwrap();

    let mut listed = f.rt.list_snapshots().await.unwrap();
    listed.sort();
    let mut want = vec![snap.clone(), snap2.clone()];
    want.sort();
    assert_eq!(listed, want);
    for s in [&snap, &snap2] {
        f.rt.delete_snapshot(s).await.unwrap();
        f.rt.delete_snapshot(s).await.unwrap();
    }
    assert!(f.rt.list_snapshots().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filesystem_snapshots_keep_a_paused_sandbox_paused_and_boot_fresh() {
    require_host!();
    let f = Fixture::new().await;
    let src = unique_id("fsnap-src");
    f.rt.create(&counting_spec(&f, &src)).await.expect("create");
    let (code, out) = f.exec(
        &src,
        &[
            "sh",
            "-c",
            "mkdir -p /work && echo kept > /work/f && rm /etc/group",
        ],
    );
    assert_eq!(code, 0, "{out}");
    f.rt.pause(&src).await.unwrap();

    let snap = unique_id("fsnap");
    let info = f.rt.snapshot(&src, &snap, false).await.expect("snapshot");
    assert_eq!(info.memory_bytes, 0);
    assert_eq!(f.rt.state(&src).await.unwrap(), Some(ActualState::Paused));
    assert!(matches!(
        f.rt.snapshot(&src, &snap, false).await,
        Err(RuntimeError::SnapshotExists { .. })
    ));

    // Booted fresh on the captured files: the file is there, the deletion (a whiteout) too.
    let copy = unique_id("fsnap-a");
    f.rt.create(&from_snapshot(
        &f,
        &copy,
        std::slice::from_ref(&snap),
        false,
    ))
    .await
    .expect("create from a filesystem snapshot");
    assert_eq!(f.exec(&copy, &["cat", "/work/f"]).1.trim(), "kept");
    assert_ne!(f.exec(&copy, &["cat", "/etc/group"]).0, 0);
    // A memory restore from a snapshot without memory is refused, and leaves nothing.
    let bad = unique_id("fsnap-b");
    let err =
        f.rt.create(&from_snapshot(&f, &bad, std::slice::from_ref(&snap), true))
            .await
            .unwrap_err();
    assert!(matches!(err, RuntimeError::NoCheckpoint { .. }), "{err:?}");
    f.assert_gone(&bad);

    for id in [&src, &copy] {
        f.rt.delete(id).await.unwrap();
    }
    f.rt.delete_snapshot(&snap).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_the_snapshot_cleanly_and_the_source_runs_on() {
    require_host!();
    if criu_missing() {
        return;
    }
    let f = Fixture::new().await;
    // The snapshots live on an 8 MiB filesystem; the sandbox holds ~24 MiB in memory.
    let root = f.rt.config().state_dir.join(".snapshots");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(&root)
        .status()
        .unwrap();
    assert!(mounted.success());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(root.clone());

    let id = unique_id("full");
    let mut spec = counting_spec(&f, &id);
    spec.limits.memory_bytes = 128 << 20;
    spec.main_cmd = Some(vec![
        "sh".into(),
        "-c".into(),
        "x=$(head -c 24000000 /dev/zero | tr '\\0' a); i=0; \
         while true; do i=$((i+1)); echo $i > /tmp/c; sleep 0.05; done"
            .into(),
    ]);
    f.rt.create(&spec).await.expect("create");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = counter(&f, &id);

    let err =
        f.rt.snapshot(&id, &unique_id("snap-full"), true)
            .await
            .expect_err("a memory image larger than the disk");
    assert!(
        matches!(
            err,
            RuntimeError::Checkpoint { .. } | RuntimeError::SnapshotCopy { .. }
        ),
        "{err:?}"
    );
    // The source runs on, thawed; nothing of the snapshot is left.
    assert_eq!(f.rt.state(&id).await.unwrap(), Some(ActualState::Running));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(counter(&f, &id) > before);
    f.rt.agent(&id).await.unwrap().health().await.unwrap();
    let left: Vec<_> = std::fs::read_dir(&root).unwrap().flatten().collect();
    assert!(left.is_empty(), "{left:?}");
    f.rt.delete(&id).await.unwrap();
}
