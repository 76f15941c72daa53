//! Lifecycle policies and the archive through the daemon: idle timeouts fire (and activity
//! holds them off), TTL and auto-delete delete, a pending policy survives a daemon restart,
//! every automatic action is an event with its reason; stopped and hibernated sandboxes and
//! snapshots go to the archive — a local directory and a real S3 server (moto) on loopback —
//! and come back transparently on start, resume and create.

mod common;

use std::time::{Duration, Instant};

use warren_api_types::{
    CreateSandboxRequest, CreateSnapshotRequest, ErrorCode, ExecRequest, IdleAction,
    LifecyclePolicy, Sandbox,
};
use warren_client::Client;

fn sh(script: &str) -> ExecRequest {
    ExecRequest::new(["sh", "-c", script])
}

/// Poll until sandbox `id` is in `state` (or gone, for `"deleted"`), for at most `limit`.
async fn wait_for(client: &Client, id: &str, state: &str, limit: Duration) -> Option<Sandbox> {
    let deadline = Instant::now() + limit;
    loop {
        match client.get_sandbox(id).await {
            Ok(sb) if sb.state.as_str() == state => return Some(sb),
            Err(e) if state == "deleted" && e.code() == Some(ErrorCode::SandboxNotFound) => {
                return None;
            }
            other => assert!(
                Instant::now() < deadline,
                "{id} did not become {state} within {limit:?}: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `sandbox.policy` events of `id`: their messages.
async fn policy_events(client: &Client, id: &str) -> Vec<String> {
    client
        .list_events(&warren_client::EventQuery {
            sandbox: Some(id.to_owned()),
            action: Some("sandbox.policy".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.message.unwrap_or_default())
        .collect()
}

fn with_policy(image: &str, policy: LifecyclePolicy) -> CreateSandboxRequest {
    let mut req = CreateSandboxRequest::new(image);
    req.lifecycle = policy;
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_fire_with_reasons_and_survive_restarts() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let busybox = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let args = ["--policy-interval-ms", "200"];
    let mut daemon = common::Daemon::start_with_args(&env, &args);
    let dir = daemon.take_dir().expect("owns its state dir");
    let client = daemon.client();

    // Bad input is refused.
    let err = client
        .create_sandbox(&with_policy(
            &busybox,
            LifecyclePolicy {
                ttl_s: Some(u64::MAX),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");
    assert!(err.to_string().contains("ttl_s"), "{err}");

    let idle = |secs, action| LifecyclePolicy {
        idle_timeout_s: Some(secs),
        idle_action: Some(action),
        ..Default::default()
    };
    // Idle 2 s → paused; the policy is shown on the sandbox.
    let pausing = client
        .create_sandbox(&with_policy(&busybox, idle(2, IdleAction::Pause)))
        .await
        .unwrap();
    assert_eq!(pausing.lifecycle.idle_timeout_s, Some(2));
    assert_eq!(pausing.lifecycle.idle_action, Some(IdleAction::Pause));
    // Idle 2 s → stopped, but kept busy for 4 s first.
    let busy = client
        .create_sandbox(&with_policy(&busybox, idle(2, IdleAction::Stop)))
        .await
        .unwrap();
    // TTL 3 s, and auto-delete 1 s after being stopped.
    let expiring = client
        .create_sandbox(&with_policy(
            &busybox,
            LifecyclePolicy {
                ttl_s: Some(3),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let stopped = client
        .create_sandbox(&with_policy(
            &busybox,
            LifecyclePolicy {
                auto_delete_after_s: Some(1),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    client.stop_sandbox(&stopped.id).await.unwrap();

    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(4) {
        client.exec(&busy.id, &sh("true")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert_eq!(
        client.get_sandbox(&busy.id).await.unwrap().state.as_str(),
        "running",
        "activity keeps it from idling out"
    );
    wait_for(&client, &pausing.id, "paused", Duration::from_secs(10)).await;
    wait_for(&client, &busy.id, "stopped", Duration::from_secs(10)).await;
    wait_for(&client, &expiring.id, "deleted", Duration::from_secs(10)).await;
    wait_for(&client, &stopped.id, "deleted", Duration::from_secs(10)).await;
    let reasons = policy_events(&client, &pausing.id).await;
    assert!(
        reasons.iter().any(|m| m.starts_with("pause: idle for")),
        "{reasons:?}"
    );
    let reasons = policy_events(&client, &expiring.id).await;
    assert!(
        reasons.iter().any(|m| m.contains("ttl of 3 s")),
        "{reasons:?}"
    );
    let reasons = policy_events(&client, &stopped.id).await;
    assert!(
        reasons.iter().any(|m| m.contains("auto_delete_after 1 s")),
        "{reasons:?}"
    );
    // The actions themselves are recorded with the actor `policy`.
    let events = client
        .list_events(&warren_client::EventQuery {
            sandbox: Some(busy.id.clone()),
            action: Some("sandbox.stop".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        events
            .items
            .iter()
            .any(|e| e.actor.as_deref() == Some("policy"))
    );

    // A policy pending when the daemon dies fires after the restart.
    let pending = client
        .create_sandbox(&with_policy(&busybox, idle(3, IdleAction::Stop)))
        .await
        .unwrap();
    daemon.kill9();
    drop(daemon);
    let daemon = common::Daemon::start_in_with_args(&env, dir.path(), &args);
    let client = daemon.client();
    assert_eq!(
        client
            .get_sandbox(&pending.id)
            .await
            .unwrap()
            .state
            .as_str(),
        "running"
    );
    wait_for(&client, &pending.id, "stopped", Duration::from_secs(15)).await;
    assert!(!policy_events(&client, &pending.id).await.is_empty());

    // A live sandbox's policy can change; the CLI keeps the rules it is not given.
    let mut req = with_policy(
        &busybox,
        LifecyclePolicy {
            ttl_s: Some(3600),
            ..Default::default()
        },
    );
    req.labels.insert("k".into(), "v".into());
    let later = client.create_sandbox(&req).await.unwrap();
    assert_eq!(later.lifecycle.idle_timeout_s, None);
    let out = daemon.cli(&[
        "sandbox",
        "update",
        &later.id,
        "--idle-timeout",
        "1s",
        "--idle-action",
        "stop",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let changed = client.get_sandbox(&later.id).await.unwrap();
    assert_eq!(changed.lifecycle.idle_timeout_s, Some(1));
    assert_eq!(changed.lifecycle.ttl_s, Some(3600), "kept");
    assert_eq!(changed.labels.get("k").map(String::as_str), Some("v"));
    wait_for(&client, &later.id, "stopped", Duration::from_secs(10)).await;
    for id in [&pausing.id, &busy.id, &pending.id, &later.id] {
        client.delete_sandbox(id).await.unwrap();
    }
}

const COUNTER: &str = "import socket\nsrv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, \
socket.SO_REUSEADDR, 1)\nsrv.bind(('127.0.0.1', 8080)); srv.listen(8)\nn = 0\nwhile True:\n    \
c, _ = srv.accept(); n += 1; c.sendall(f'n={n}'.encode()); c.close()\n";

const ASK: &str = "import socket, time\nfor _ in range(100):\n    try:\n        \
s = socket.create_connection(('127.0.0.1', 8080), timeout=5); break\n    \
except OSError: time.sleep(0.1)\nprint(s.recv(100).decode())";

/// Stopped and hibernated sandboxes, and a snapshot, through the archive and back.
async fn round_trips(client: &Client, busybox: &str, python: &str, objects: impl Fn() -> usize) {
    // Stopped: its files come back on start.
    let sb = client
        .create_sandbox(&CreateSandboxRequest::new(busybox))
        .await
        .unwrap();
    client.exec(&sb.id, &sh("echo kept > /data")).await.unwrap();
    client.stop_sandbox(&sb.id).await.unwrap();
    let archived = client.archive_sandbox(&sb.id).await.expect("archive");
    assert_eq!(archived.state.as_str(), "archived");
    assert_eq!(objects(), 1);
    let err = client.exec(&sb.id, &sh("true")).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict));
    let back = client
        .start_sandbox(&sb.id)
        .await
        .expect("start an archived sandbox");
    assert_eq!(back.state.as_str(), "running");
    assert_eq!(
        client.exec(&sb.id, &sh("cat /data")).await.unwrap().stdout,
        "kept\n"
    );
    assert_eq!(objects(), 0, "the object goes once the files are back");
    // Running sandboxes cannot be archived.
    let err = client.archive_sandbox(&sb.id).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict));

    // Hibernated: its processes come back on resume, where they were.
    let mut req = CreateSandboxRequest::new(python);
    req.cmd = Some(vec!["python3".into(), "-c".into(), COUNTER.into()]);
    let hib = client.create_sandbox(&req).await.unwrap();
    let ask = ExecRequest::new(["python3", "-c", ASK]);
    assert_eq!(client.exec(&hib.id, &ask).await.unwrap().stdout, "n=1\n");
    client.hibernate_sandbox(&hib.id).await.unwrap();
    client
        .archive_sandbox(&hib.id)
        .await
        .expect("archive hibernated");
    assert_eq!(objects(), 1);
    let back = client
        .resume_sandbox(&hib.id)
        .await
        .expect("resume archived");
    assert_eq!(back.state.as_str(), "running");
    assert_eq!(client.exec(&hib.id, &ask).await.unwrap().stdout, "n=2\n");

    // A snapshot nobody uses goes to the archive and is fetched back for a create.
    let snap = client
        .snapshot_sandbox(&sb.id, &CreateSnapshotRequest::default())
        .await
        .unwrap();
    let archived = client
        .archive_snapshot(&snap.id)
        .await
        .expect("archive snapshot");
    assert_eq!(archived.state, warren_api_types::SnapshotState::Archived);
    let made = client
        .create_sandbox(&CreateSandboxRequest::from_snapshot(&snap.id))
        .await
        .expect("create from an archived snapshot");
    assert_eq!(
        client
            .exec(&made.id, &sh("cat /data"))
            .await
            .unwrap()
            .stdout,
        "kept\n"
    );
    // Now it is used: it cannot be archived.
    let err = client.archive_snapshot(&snap.id).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict), "{err}");

    // An archived sandbox can be deleted; its object goes too.
    client.stop_sandbox(&hib.id).await.unwrap();
    client.archive_sandbox(&hib.id).await.unwrap();
    client.delete_sandbox(&hib.id).await.unwrap();
    for id in [&made.id, &sb.id] {
        client.delete_sandbox(id).await.unwrap();
    }
    client.delete_snapshot(&snap.id).await.unwrap();
    assert_eq!(objects(), 0);
}

fn count_files(dir: &std::path::Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_to_a_local_directory_and_back() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let busybox = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let python = registry.push(&env.fixtures.join("python"), "latest", "python");
    let daemon = common::Daemon::start_with_args(&env, &["--policy-interval-ms", "200"]);
    let client = daemon.client();
    let archive_dir = daemon.state.join("archive");
    round_trips(&client, &busybox, &python, || count_files(&archive_dir)).await;

    // auto_archive_after: a stopped sandbox goes to the archive by itself.
    let mut req = CreateSandboxRequest::new(&busybox);
    req.lifecycle.auto_archive_after_s = Some(1);
    let sb = client.create_sandbox(&req).await.unwrap();
    client.stop_sandbox(&sb.id).await.unwrap();
    wait_for(&client, &sb.id, "archived", Duration::from_secs(15)).await;
    // The record says `archived` first (the object counts from then on); the local files go
    // right after, under the same lock.
    let local = daemon.state.join("sandboxes").join(&sb.id);
    common::wait_until(
        "an archived sandbox's local files to go",
        Duration::from_secs(10),
        || !local.exists(),
    );
    let out = daemon.cli(&["sandbox", "start", &sb.id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    client.delete_sandbox(&sb.id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_to_s3_and_back() {
    let Some(env) = common::env() else { return };
    let Some(moto) = common::moto::Moto::start() else {
        return;
    };
    assert_eq!(moto.request("PUT", "/warren-e2e").unwrap(), 200);
    let registry = common::Registry::start();
    let busybox = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let python = registry.push(&env.fixtures.join("python"), "latest", "python");
    let endpoint = moto.endpoint();
    let daemon = common::Daemon::start_with_env(
        &env,
        &[
            "--archive-s3-bucket",
            "warren-e2e",
            "--archive-s3-endpoint",
            &endpoint,
        ],
        &[
            ("WARREN_ARCHIVE_S3_ACCESS_KEY_ID", "warren-test-key"),
            ("WARREN_ARCHIVE_S3_SECRET_ACCESS_KEY", "warren-test-secret"),
        ],
    );
    let client = daemon.client();
    round_trips(&client, &busybox, &python, || {
        moto.count_objects("warren-e2e", "")
    })
    .await;
    assert!(
        !daemon.log().contains("warren-test-secret"),
        "the secret must never be logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_killed_mid_archive_loses_nothing() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let busybox = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let mut daemon = common::Daemon::start(&env);
    let dir = daemon.take_dir().expect("owns its state dir");
    let sb = daemon
        .client()
        .create_sandbox(&CreateSandboxRequest::new(&busybox))
        .await
        .unwrap();
    // 48 MiB that do not compress, so the upload takes a while.
    daemon
        .client()
        .exec(
            &sb.id,
            &sh("head -c 50331648 /dev/urandom > /big && md5sum /big > /big.md5"),
        )
        .await
        .unwrap();
    for delay_ms in [50u64, 300, 900] {
        let client = daemon.client();
        if client.get_sandbox(&sb.id).await.unwrap().state.as_str() == "running" {
            client.stop_sandbox(&sb.id).await.unwrap();
        }
        let archiving = {
            let client = client.clone();
            let id = sb.id.clone();
            tokio::spawn(async move { client.archive_sandbox(&id).await })
        };
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        daemon.kill9();
        let _ = archiving.await;
        drop(daemon);
        daemon = common::Daemon::start_in(&env, dir.path());
        let client = daemon.client();
        let state = client.get_sandbox(&sb.id).await.unwrap().state;
        assert!(
            matches!(state.as_str(), "stopped" | "archived"),
            "after a kill at {delay_ms} ms: {state}"
        );
        // Whichever it is, it starts with its files intact, and nothing half-done is left.
        client
            .start_sandbox(&sb.id)
            .await
            .expect("start after the crash");
        let out = client
            .exec(&sb.id, &sh("md5sum -c /big.md5"))
            .await
            .unwrap();
        assert_eq!(out.exit_code, 0, "after a kill at {delay_ms} ms: {out:?}");
        let staging = count_files_named(&dir.path().join("archive"), '#');
        assert_eq!(staging, 0, "staging files after a kill at {delay_ms} ms");
    }
    daemon.client().delete_sandbox(&sb.id).await.unwrap();
}

/// Files under `dir` whose name contains `c`.
fn count_files_named(dir: &std::path::Path, c: char) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                count_files_named(&e.path(), c)
            } else {
                usize::from(e.file_name().to_string_lossy().contains(c))
            }
        })
        .sum()
}
