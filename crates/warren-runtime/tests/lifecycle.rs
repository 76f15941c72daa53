//! Pause/resume and stop/start of a real sandbox (runc, the static agent, a quota disk).

mod common;

use std::time::Duration;

use common::{Fixture, cgroup_value, loop_devices_under, unique_id};
use warren_runtime::{ActualState, Runtime};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_stop_start_keep_the_files() {
    require_host!();
    let f = Fixture::new().await;
    let id = unique_id("life");
    let mut spec = f.spec(&id);
    spec.limits.disk_bytes = 64 << 20;
    spec.main_cmd = Some(vec![
        "sh".into(),
        "-c".into(),
        "echo booted; exec sleep 1000".into(),
    ]);
    f.rt.create(&spec).await.expect("create");
    let (code, out) = f.exec(&id, &["sh", "-c", "echo kept > /data"]);
    assert_eq!(code, 0, "{out}");

    // Pause: every process frozen, the state says so; resume thaws.
    f.rt.pause(&id).await.expect("pause");
    assert_eq!(f.rt.state(&id).await.unwrap(), Some(ActualState::Paused));
    let frozen = cgroup_value(&f.rt, &id, &["freezer.state", "cgroup.freeze"]).unwrap();
    assert!(frozen == "FROZEN" || frozen == "1", "{frozen}");
    f.rt.resume(&id).await.expect("resume");
    assert_eq!(f.rt.state(&id).await.unwrap(), Some(ActualState::Running));
    f.rt.agent(&id).await.unwrap().health().await.unwrap();

    // Stop: processes, cgroups, mounts and the loop device gone; the files stay.
    let bundle = f.rt.bundle_dir(&id);
    f.rt.stop(&id).await.expect("stop");
    assert_eq!(f.rt.state(&id).await.unwrap(), Some(ActualState::Stopped));
    assert!(f.rt.cgroup_dirs(&id).is_empty());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&bundle.display().to_string()),
        "mounts remain"
    );
    assert!(loop_devices_under(&bundle).is_empty());
    assert!(bundle.join("disk.img").exists());
    f.rt.stop(&id).await.expect("stop is idempotent");

    // Start boots again on the same files; the main process runs again.
    f.rt.start(&spec).await.expect("start");
    assert_eq!(f.rt.state(&id).await.unwrap(), Some(ActualState::Running));
    let (code, out) = f.exec(&id, &["cat", "/data"]);
    assert_eq!((code, out.trim()), (0, "kept"));
    let mut log = String::new();
    for _ in 0..100 {
        let mut rx = f.rt.logs(&id, Default::default()).await.unwrap();
        log.clear();
        while let Some(chunk) = rx.recv().await {
            log.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
        if log.matches("booted").count() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(log, "booted\nbooted\n");
    assert!(matches!(
        f.rt.start(&spec).await,
        Err(warren_runtime::RuntimeError::AlreadyExists { .. })
    ));

    f.rt.delete(&id).await.expect("delete");
    f.assert_gone(&id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_waits_for_processes_that_end_on_sigterm_and_kills_the_rest() {
    require_host!();
    let f = Fixture::new().await;
    let id = unique_id("grace");
    let mut spec = f.spec(&id);
    // Ignores SIGTERM: stop must fall back to SIGKILL after its grace period.
    spec.main_cmd = Some(vec![
        "sh".into(),
        "-c".into(),
        "trap '' TERM; while true; do sleep 1; done".into(),
    ]);
    f.rt.create(&spec).await.expect("create");
    let started = std::time::Instant::now();
    f.rt.stop(&id).await.expect("stop");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(4),
        "{took:?}: the grace period was skipped"
    );
    assert_eq!(f.rt.state(&id).await.unwrap(), Some(ActualState::Stopped));

    // A sandbox whose processes end on SIGTERM stops at once.
    f.rt.start(&f.spec(&id)).await.expect("start");
    let started = std::time::Instant::now();
    f.rt.stop(&id).await.expect("stop");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    f.rt.delete(&id).await.unwrap();
    f.assert_gone(&id);
}
