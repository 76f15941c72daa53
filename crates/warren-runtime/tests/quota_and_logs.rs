//! The disk quota (a loop-mounted ext4 image per sandbox) and the main process's rotated log,
//! with real runc and the static agent. Root, runc, busybox-static and the agent are needed;
//! otherwise the tests skip loudly.

mod common;

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use common::{Fixture, loop_devices_under, unique_id};
use warren_runtime::{LogOptions, Runtime};

const MIB: u64 = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_past_the_disk_quota_fail_with_enospc_and_the_host_stays_bounded() {
    require_host!();
    let f = Fixture::new().await;
    let id = unique_id("quota");
    let mut spec = f.spec(&id);
    spec.limits.disk_bytes = 64 * MIB;
    f.rt.create(&spec).await.expect("create with a quota");
    let bundle = f.rt.bundle_dir(&id);
    assert_eq!(loop_devices_under(&bundle).len(), 1, "one loop device");

    // Fill the root filesystem (the overlay's upper dir is on the quota disk).
    let (code, out) = f.exec(
        &id,
        &["dd", "if=/dev/zero", "of=/big", "bs=1048576", "count=200"],
    );
    assert_ne!(
        code, 0,
        "writing 200 MiB into a 64 MiB quota must fail: {out}"
    );
    assert!(out.contains("No space left on device"), "{out}");
    // The runtime directory the sandbox can write (/.warren/run) is inside the quota too.
    let (code, out) = f.exec(
        &id,
        &[
            "dd",
            "if=/dev/zero",
            "of=/.warren/run/fill",
            "bs=1048576",
            "count=200",
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("No space left on device"), "{out}");

    // On the host the image holds at most the quota (it is sparse: allocated blocks count).
    let img = std::fs::metadata(bundle.join("disk.img")).unwrap();
    let allocated = img.blocks() * 512;
    assert!(
        allocated <= 64 * MIB + MIB,
        "disk.img uses {allocated} bytes on the host"
    );
    let usage = f.rt.stats(&id, true).await.unwrap().unwrap();
    assert!(
        usage
            .disk_bytes
            .is_some_and(|d| d > 50 * MIB && d <= 64 * MIB),
        "{usage:?}"
    );

    // The sandbox still works, and space comes back when files are removed.
    let (code, out) = f.exec(
        &id,
        &[
            "sh",
            "-c",
            "rm /big /.warren/run/fill && echo ok > /small && cat /small",
        ],
    );
    assert_eq!((code, out.trim()), (0, "ok"));
    f.rt.agent(&id)
        .await
        .unwrap()
        .health()
        .await
        .expect("agent healthy");

    f.rt.delete(&id).await.expect("delete");
    f.assert_gone(&id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_quota_no_loop_device_is_used() {
    require_host!();
    let f = Fixture::new().await;
    let id = unique_id("noquota");
    f.rt.create(&f.spec(&id)).await.expect("create");
    let bundle = f.rt.bundle_dir(&id);
    assert!(loop_devices_under(&bundle).is_empty());
    assert!(!bundle.join("disk.img").exists());
    let (code, out) = f.exec(&id, &["sh", "-c", "echo hi > /x && cat /x"]);
    assert_eq!((code, out.trim()), (0, "hi"));
    f.rt.delete(&id).await.expect("delete");
    f.assert_gone(&id);
}

async fn collect(rx: &mut warren_runtime::LogChunks, until: &str, timeout: Duration) -> String {
    let mut out = String::new();
    let deadline = Instant::now() + timeout;
    while !out.contains(until) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(chunk)) => out.push_str(&String::from_utf8_lossy(&chunk.unwrap())),
            Ok(None) => break,
            Err(_) => panic!("no {until:?} within {timeout:?}; got {out:?}"),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_process_log_is_rotated_tailed_and_followed() {
    require_host!();
    let f = Fixture::new().await;
    let id = unique_id("logs");
    let mut spec = f.spec(&id);
    spec.limits.disk_bytes = 64 * MIB;
    // ~40 KiB of output (the fixture rotates at 4 KiB, 3 files), stderr too (after a pause:
    // stdout and stderr are separate pipes, so only time orders them), a late line, a sleep.
    spec.main_cmd = Some(vec![
        "sh".into(),
        "-c".into(),
        "i=0; while [ $i -lt 4000 ]; do echo line-$i; i=$((i+1)); done; sleep 1; echo to-stderr >&2; \
         sleep 1; echo done; sleep 2; echo late; exec sleep 1000"
            .into(),
    ]);
    f.rt.create(&spec).await.expect("create");

    let tail = |n| LogOptions {
        tail: Some(n),
        follow: false,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last3 = String::new();
    while !last3.ends_with("done\n") {
        assert!(
            Instant::now() < deadline,
            "main output never finished: {last3:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut rx = f.rt.logs(&id, tail(3)).await.unwrap();
        last3 = collect(&mut rx, "\u{0}", Duration::from_secs(5)).await;
    }
    if last3 != "line-3999\nto-stderr\ndone\n" {
        let mut rx = f.rt.logs(&id, LogOptions::default()).await.unwrap();
        let all = collect(&mut rx, "\u{0}", Duration::from_secs(5)).await;
        panic!(
            "tail 3 gave {last3:?}; the whole log ends {:?}",
            &all[all.len().saturating_sub(200)..]
        );
    }

    // Retained but bounded: at most 3 files of 4 KiB, the oldest output is gone.
    let run = f.rt.bundle_dir(&id).join("disk/run");
    let mut total = 0;
    for name in ["main.log", "main.log.1", "main.log.2"] {
        total += std::fs::metadata(run.join(name)).unwrap().len();
    }
    assert!(total <= 3 * 4096, "{total}");
    assert!(!run.join("main.log.3").exists());
    let mut rx = f.rt.logs(&id, LogOptions::default()).await.unwrap();
    let all = collect(&mut rx, "\u{0}", Duration::from_secs(5)).await;
    assert!(!all.contains("line-0\n") && all.ends_with("line-3999\nto-stderr\ndone\n"));

    // Following from the end sees the late line as it is written.
    let mut rx =
        f.rt.logs(
            &id,
            LogOptions {
                tail: Some(0),
                follow: true,
            },
        )
        .await
        .unwrap();
    let late = collect(&mut rx, "late\n", Duration::from_secs(10)).await;
    assert_eq!(late, "late\n");

    f.rt.delete(&id).await.expect("delete");
    // A follower ends once the sandbox is gone (until then its open files keep the lazily
    // unmounted disk, and so its loop device, alive).
    assert!(
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("follow ends")
            .is_none()
    );
    drop(rx);
    tokio::time::sleep(Duration::from_millis(200)).await;
    f.assert_gone(&id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_disks_are_used_and_refilled() {
    require_host!();
    let f = Fixture::new().await;
    let agent = warren_runtime::find_agent_binary().unwrap();
    let mut cfg = warren_runtime::ContainerConfig::new(f.tmp.path().join("sandboxes"), agent);
    cfg.runc_root = f.tmp.path().join("runc");
    cfg.pooled_disk_bytes = 64 * MIB;
    let rt = warren_runtime::ContainerRuntime::new(cfg).await.unwrap();
    let pool = f.tmp.path().join("sandboxes/.disk-pool");
    let ready_names = || -> Vec<String> {
        std::fs::read_dir(&pool)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("ready-"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let ready = || ready_names().len();
    let wait_full = || async {
        let deadline = Instant::now() + Duration::from_secs(20);
        while ready() < 4 {
            assert!(
                Instant::now() < deadline,
                "the pool did not fill: {}",
                ready()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    wait_full().await;
    let before = ready_names();

    let id = unique_id("pooled");
    let mut spec = f.spec(&id);
    spec.limits.disk_bytes = 64 * MIB;
    rt.create(&spec).await.expect("create from the pool");
    // One pooled image moved into the sandbox (refills get new names, so it stays gone).
    let after = ready_names();
    assert_eq!(
        before.iter().filter(|n| !after.contains(n)).count(),
        1,
        "{before:?} → {after:?}"
    );
    let (code, out) = f.exec(&id, &["sh", "-c", "echo pooled > /p && cat /p"]);
    assert_eq!((code, out.trim()), (0, "pooled"));
    let (code, out) = f.exec(
        &id,
        &["dd", "if=/dev/zero", "of=/big", "bs=1048576", "count=100"],
    );
    assert!(
        code != 0 && out.contains("No space left on device"),
        "{out}"
    );
    wait_full().await;
    rt.delete(&id).await.unwrap();
    f.assert_gone(&id);
}
