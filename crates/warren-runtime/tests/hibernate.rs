//! Hibernate (CRIU checkpoint to disk, memory released) and restore of a real sandbox: its
//! processes continue from where they were. Needs root, runc, CRIU ≥ 4, busybox-static and the
//! static agent; skips loudly otherwise.

mod common;

use std::time::Duration;

use common::{Fixture, criu_missing, unique_id};
use warren_runtime::{ActualState, Runtime, RuntimeError};

/// The counter the main process keeps in its memory (and mirrors to /tmp/c).
fn counter(f: &Fixture, id: &str) -> u64 {
    let (code, out) = f.exec(id, &["cat", "/tmp/c"]);
    assert_eq!(code, 0, "{out}");
    out.trim().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hibernated_processes_continue_where_they_were() {
    require_host!();
    if criu_missing() {
        return;
    }
    let f = Fixture::new().await;
    let id = unique_id("hib");
    let mut spec = f.spec(&id);
    spec.limits.disk_bytes = 64 << 20;
    spec.main_cmd = Some(vec![
        "sh".into(),
        "-c".into(),
        "i=0; while true; do i=$((i+1)); echo $i > /tmp/c; sleep 0.05; done".into(),
    ]);
    f.rt.create(&spec).await.expect("create");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let before = counter(&f, &id);
    assert!(before > 0);

    f.rt.hibernate(&id).await.expect("hibernate");
    assert_eq!(
        f.rt.state(&id).await.unwrap(),
        Some(ActualState::Hibernated)
    );
    assert!(f.rt.cgroup_dirs(&id).is_empty(), "its memory is released");
    let at_checkpoint: u64 = std::fs::read_to_string(f.rt.bundle_dir(&id).join("disk/upper/tmp/c"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(at_checkpoint >= before);

    f.rt.restore(&spec).await.expect("restore");
    assert_eq!(f.rt.state(&id).await.unwrap(), Some(ActualState::Running));
    // The network namespace comes back with it: loopback up, with its address.
    let (code, out) = f.exec(&id, &["ip", "addr", "show", "lo"]);
    if !(code == 0 && out.contains("UP") && out.contains("127.0.0.1")) {
        let log = std::fs::read_to_string(f.rt.bundle_dir(&id).join("criu-work/restore.log"))
            .unwrap_or_default();
        let net: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("net") || l.contains("link"))
            .collect();
        panic!(
            "loopback after restore: {out}\nrestore.log (net):\n{}",
            net.join("\n")
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = counter(&f, &id);
    // The shell's variable survived: counting went on from the checkpoint, not from 0.
    assert!(after > at_checkpoint, "{after} <= {at_checkpoint}");
    assert!(after < at_checkpoint + 100, "{after}: too far for 300 ms");
    f.rt.agent(&id).await.unwrap().health().await.unwrap();

    // Hibernating a paused sandbox works too; a restore without a checkpoint is refused.
    f.rt.pause(&id).await.unwrap();
    f.rt.hibernate(&id).await.expect("hibernate from paused");
    f.rt.restore(&spec).await.expect("restore again");
    assert!(matches!(
        f.rt.restore(&spec).await,
        Err(RuntimeError::NoCheckpoint { .. }) | Err(RuntimeError::AlreadyExists { .. })
    ));
    f.rt.delete(&id).await.unwrap();
    f.assert_gone(&id);
}
