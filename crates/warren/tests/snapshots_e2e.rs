//! Snapshots and branches through the daemon, with real CRIU: a Python process's memory and its
//! listening socket continue in every branch; branches diverge; snapshot → delete source →
//! create from the snapshot; chains; lineage; 409s and 400s; garbage collection; and a daemon
//! killed in the middle of a capture.

mod common;

use std::time::Duration;

use warren_api_types::{CreateSandboxRequest, CreateSnapshotRequest, ErrorCode, ExecRequest};
use warren_client::Client;

/// A counter server: 20 MiB of state, a TCP server on 8080 answering
/// `sum=<checksum> n=<requests so far> host=<hostname>`.
const COUNTER: &str = r#"
import hashlib, os, socket
state = bytearray(os.urandom(1024 * 1024) * 20)
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 8080)); srv.listen(8)
n = 0
while True:
    c, _ = srv.accept(); n += 1
    c.sendall(f"sum={hashlib.sha256(state).hexdigest()[:16]} n={n} host={socket.gethostname()}".encode()); c.close()
"#;

const ASK: &str = "import socket\ns = socket.create_connection(('127.0.0.1', 8080), timeout=5)\n\
print(s.recv(200).decode())";

/// Ask the counter server, waiting for it to listen: `(sum, n, host)`.
async fn ask(client: &Client, id: &str) -> (String, u32, String) {
    let req = ExecRequest::new(["python3", "-c", ASK]);
    for _ in 0..100 {
        let out = client.exec(id, &req).await.unwrap();
        if out.exit_code == 0 {
            let mut sum = String::new();
            let mut n = 0;
            let mut host = String::new();
            for word in out.stdout.split_whitespace() {
                match word.split_once('=') {
                    Some(("sum", v)) => sum = v.to_owned(),
                    Some(("n", v)) => n = v.parse().unwrap(),
                    Some(("host", v)) => host = v.to_owned(),
                    _ => {}
                }
            }
            return (sum, n, host);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the counter server in {id} never answered");
}

fn counter_request(image: &str) -> CreateSandboxRequest {
    let mut req = CreateSandboxRequest::new(image);
    req.memory_mb = Some(256);
    req.cmd = Some(vec!["python3".into(), "-c".into(), COUNTER.into()]);
    req.labels.insert("app".into(), "counter".into());
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branches_continue_from_the_same_instant_and_diverge() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let python = registry.push(&env.fixtures.join("python"), "latest", "python");
    let mut daemon = common::Daemon::start(&env);
    let dir = daemon.take_dir().expect("owns its state dir");
    let client = daemon.client();
    let src = client
        .create_sandbox(&counter_request(&python))
        .await
        .unwrap();
    let (sum, n, host) = ask(&client, &src.id).await;
    assert_eq!((n, host.as_str()), (1, src.id.as_str()));
    let booted = client
        .exec(
            &src.id,
            &ExecRequest::new(["cat", "/.warren/identity.json"]),
        )
        .await
        .unwrap()
        .stdout;
    assert!(
        booted.contains(&src.id) && booted.contains("\"restores\": 0"),
        "{booted}"
    );
    client
        .exec(&src.id, &ExecRequest::new(["sh", "-c", "echo v1 > /data"]))
        .await
        .unwrap();

    // Branch ×3: every copy continues from n=1 with the same memory, its own id and hostname.
    let out = daemon.cli(&["sandbox", "branch", &src.id, "-n", "3", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let branched: warren_api_types::BranchResponse = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(branched.sandboxes.len(), 3);
    assert!(branched.snapshot.memory);
    assert!(branched.snapshot.paused_ms > 0.0);
    assert_eq!(
        branched.snapshot.source_sandbox.as_deref(),
        Some(src.id.as_str())
    );
    let snap1 = branched.snapshot.id.clone();
    for b in &branched.sandboxes {
        assert_eq!(b.state.as_str(), "running");
        assert_eq!(b.parent_snapshot.as_deref(), Some(snap1.as_str()));
        assert_eq!(b.labels.get("app").map(String::as_str), Some("counter"));
        let (bsum, bn, bhost) = ask(&client, &b.id).await;
        assert_eq!((bsum.as_str(), bn), (sum.as_str(), 2), "{}", b.id);
        assert_eq!(bhost, b.id, "a fresh hostname");
        // Its own id for new processes, and the identity file says it was restored.
        let who = client
            .exec(
                &b.id,
                &ExecRequest::new([
                    "sh",
                    "-c",
                    "echo $WARREN_SANDBOX_ID; cat /.warren/identity.json",
                ]),
            )
            .await
            .unwrap()
            .stdout;
        let (env_id, file) = who.split_once('\n').unwrap();
        assert_eq!(env_id, b.id);
        let identity: serde_json::Value = serde_json::from_str(file).unwrap();
        assert_eq!(identity["sandbox_id"], b.id.as_str(), "{identity}");
        assert_eq!(identity["restored_from"], snap1.as_str(), "{identity}");
        assert_eq!(identity["restores"], 1, "{identity}");
    }
    // The source kept running and counts on by itself.
    assert_eq!(ask(&client, &src.id).await.1, 2);
    // Branches diverge: more requests to one do not move another.
    let (b0, b1) = (&branched.sandboxes[0].id, &branched.sandboxes[1].id);
    assert_eq!(ask(&client, b0).await.1, 3);
    assert_eq!(ask(&client, b0).await.1, 4);
    assert_eq!(ask(&client, b1).await.1, 3);
    client
        .exec(b0, &ExecRequest::new(["sh", "-c", "echo b0 > /data"]))
        .await
        .unwrap();
    let data = |id: String| {
        let client = client.clone();
        async move {
            client
                .exec(&id, &ExecRequest::new(["cat", "/data"]))
                .await
                .unwrap()
                .stdout
        }
    };
    assert_eq!(data(b0.clone()).await, "b0\n");
    assert_eq!(data(b1.clone()).await, "v1\n");

    // A branch of a branch: the chain grows, lineage links it.
    let grand = client.branch_sandbox(b0, 1).await.expect("branch a branch");
    assert_eq!(
        grand.snapshot.parent_snapshot.as_deref(),
        Some(snap1.as_str())
    );
    assert_eq!(grand.snapshot.depth, 2);
    let g = &grand.sandboxes[0];
    assert_eq!(ask(&client, &g.id).await.1, 5);
    assert_eq!(data(g.id.clone()).await, "b0\n");

    // A named files-only snapshot of a paused sandbox; it stays paused.
    client.pause_sandbox(b1).await.unwrap();
    let named = client
        .snapshot_sandbox(
            b1,
            &CreateSnapshotRequest {
                memory: false,
                name: Some("files-of-b1".into()),
                labels: Default::default(),
            },
        )
        .await
        .expect("files snapshot");
    assert!(!named.memory && named.memory_bytes == 0);
    assert_eq!(
        client.get_sandbox(b1).await.unwrap().state.as_str(),
        "paused"
    );
    assert_eq!(
        client.get_snapshot("files-of-b1").await.unwrap().id,
        named.id
    );
    // Made from it by name: the files, a fresh main process (n starts over).
    let fresh = client
        .create_sandbox(&CreateSandboxRequest::from_snapshot("files-of-b1"))
        .await
        .expect("create from a files snapshot");
    assert_eq!(data(fresh.id.clone()).await, "v1\n");
    assert_eq!(ask(&client, &fresh.id).await.1, 1);

    // Bad input: clear errors, nothing created.
    let before = client.list_all_sandboxes().await.unwrap().len();
    let mut both = CreateSandboxRequest::from_snapshot(&snap1);
    both.image = python.clone();
    let err = client.create_sandbox(&both).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");
    let mut with_cmd = CreateSandboxRequest::from_snapshot(&snap1);
    with_cmd.cmd = Some(vec!["true".into()]);
    let err = client.create_sandbox(&with_cmd).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");
    assert!(err.to_string().contains("cmd"), "{err}");
    let err = client
        .create_sandbox(&CreateSandboxRequest::from_snapshot("no-such-snapshot"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SnapshotNotFound), "{err}");
    let err = client.branch_sandbox(&src.id, 0).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");
    let err = client
        .snapshot_sandbox(
            &src.id,
            &CreateSnapshotRequest {
                name: Some("files-of-b1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");
    client.stop_sandbox(&fresh.id).await.unwrap();
    let err = client
        .snapshot_sandbox(&fresh.id, &CreateSnapshotRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict), "{err}");
    assert_eq!(client.list_all_sandboxes().await.unwrap().len(), before);

    // In use: a 409 that names the users.
    let err = client.delete_snapshot(&snap1).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict), "{err}");
    assert!(err.to_string().contains(b0.as_str()), "{err}");

    // The lineage, as the CLI draws it.
    let out = daemon.cli(&["snapshot", "tree"]);
    let tree = String::from_utf8_lossy(&out.stdout);
    for id in [&src.id, &snap1, b0, &grand.snapshot.id, &g.id, &named.id] {
        assert!(tree.contains(id.as_str()), "{id} missing from\n{tree}");
    }

    // Snapshot → delete the source → create from the snapshot still works.
    client.delete_sandbox(&src.id).await.unwrap();
    let again = client
        .create_sandbox(&CreateSandboxRequest::from_snapshot(&snap1))
        .await
        .expect("create from a snapshot whose source is gone");
    assert_eq!(ask(&client, &again.id).await.1, 2);

    // Everything deleted (dependents first) leaves no snapshot files, layers or mounts.
    let all = client.list_all_sandboxes().await.unwrap();
    for sb in &all {
        client.delete_sandbox(&sb.id).await.unwrap();
    }
    for s in [&grand.snapshot.id, &named.id, &snap1] {
        client.delete_snapshot(s).await.unwrap();
    }
    assert!(client.list_all_snapshots(None).await.unwrap().is_empty());
    let snapshots_dir = dir.path().join("sandboxes/.snapshots");
    let left: Vec<_> = std::fs::read_dir(&snapshots_dir)
        .unwrap()
        .flatten()
        .collect();
    assert!(left.is_empty(), "{left:?}");
    for sb in all.iter().map(|s| &s.id).chain([&src.id]) {
        assert!(common::mounts_containing(sb).is_empty(), "{sb}");
    }
    let events = client
        .list_events(&warren_client::EventQuery {
            action: Some("snapshot.".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(events.items.iter().any(|e| e.action == "snapshot.deleted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_killed_mid_capture_leaves_no_half_snapshot() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let python = registry.push(&env.fixtures.join("python"), "latest", "python");
    let mut daemon = common::Daemon::start(&env);
    let dir = daemon.take_dir().expect("owns its state dir");
    let src = daemon
        .client()
        .create_sandbox(&counter_request(&python))
        .await
        .unwrap();
    ask(&daemon.client(), &src.id).await;

    // Kill the daemon at several points of a memory capture; each time, after a restart, no
    // snapshot is half there and the source runs (thawed) with its memory.
    for delay_ms in [30u64, 150, 400] {
        let client = daemon.client();
        let capture = {
            let client = client.clone();
            let id = src.id.clone();
            tokio::spawn(async move {
                client
                    .snapshot_sandbox(
                        &id,
                        &CreateSnapshotRequest {
                            memory: true,
                            ..Default::default()
                        },
                    )
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        daemon.kill9();
        let _ = capture.await;
        drop(daemon);
        daemon = common::Daemon::start_in(&env, dir.path());
        let client = daemon.client();
        let snaps = client.list_all_snapshots(None).await.unwrap();
        assert!(
            snaps
                .iter()
                .all(|s| s.state == warren_api_types::SnapshotState::Ready),
            "after a kill at {delay_ms} ms: {snaps:?}"
        );
        let tmp: Vec<_> = std::fs::read_dir(dir.path().join("sandboxes/.snapshots"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(tmp.is_empty(), "{tmp:?}");
        let sb = client.get_sandbox(&src.id).await.unwrap();
        assert_eq!(
            sb.state.as_str(),
            "running",
            "after a kill at {delay_ms} ms"
        );
        assert!(ask(&client, &src.id).await.1 > 1);
        for s in snaps {
            client.delete_snapshot(&s.id).await.unwrap();
        }
    }
    daemon.client().delete_sandbox(&src.id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_killed_mid_branch_or_hibernate_loses_nothing() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let python = registry.push(&env.fixtures.join("python"), "latest", "python");
    let mut daemon = common::Daemon::start(&env);
    let dir = daemon.take_dir().expect("owns its state dir");
    let src = daemon
        .client()
        .create_sandbox(&counter_request(&python))
        .await
        .unwrap();
    ask(&daemon.client(), &src.id).await;

    for (op, delay_ms) in [
        ("branch", 100u64),
        ("branch", 600),
        ("hibernate", 80),
        ("hibernate", 250),
    ] {
        let client = daemon.client();
        let job = {
            let client = client.clone();
            let id = src.id.clone();
            tokio::spawn(async move {
                match op {
                    "branch" => client.branch_sandbox(&id, 3).await.map(drop),
                    _ => client.hibernate_sandbox(&id).await.map(drop),
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        daemon.kill9();
        let _ = job.await;
        drop(daemon);
        daemon = common::Daemon::start_in(&env, dir.path());
        let client = daemon.client();
        // No half-made snapshot; every sandbox listed is whole and answers.
        for s in client.list_all_snapshots(None).await.unwrap() {
            assert_eq!(
                s.state,
                warren_api_types::SnapshotState::Ready,
                "{op} killed at {delay_ms} ms: {s:?}"
            );
        }
        let all = client.list_all_sandboxes().await.unwrap();
        for sb in &all {
            let state = sb.state.as_str();
            assert!(
                matches!(state, "running" | "paused" | "hibernated"),
                "{op} killed at {delay_ms} ms: {} is {state}",
                sb.id
            );
            match state {
                "paused" | "hibernated" => {
                    client.resume_sandbox(&sb.id).await.unwrap();
                }
                _ => {}
            }
            assert!(ask(&client, &sb.id).await.1 > 1, "{}", sb.id);
        }
        // Back to just the source for the next round.
        for sb in all.iter().filter(|s| s.id != src.id) {
            client.delete_sandbox(&sb.id).await.unwrap();
        }
        for s in client.list_all_snapshots(None).await.unwrap() {
            client.delete_snapshot(&s.id).await.unwrap();
        }
    }
    daemon.client().delete_sandbox(&src.id).await.unwrap();
}
