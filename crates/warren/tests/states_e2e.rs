//! Pause/resume and stop/start through the daemon: the state machine, 409s from the wrong
//! state, events, the CLI, and a sandbox whose processes died while the daemon was down coming
//! back as `stopped` and starting again on its files.

mod common;

use warren_api_types::{CreateSandboxRequest, ErrorCode, ExecRequest};

fn sh(script: &str) -> ExecRequest {
    ExecRequest::new(["sh", "-c", script])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_stop_start() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let busybox = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let mut daemon = common::Daemon::start(&env);
    let dir = daemon.take_dir().expect("owns its state dir");
    let client = daemon.client();
    let mut req = CreateSandboxRequest::new(&busybox);
    req.cmd = Some(vec![
        "sh".into(),
        "-c".into(),
        "echo booted; exec sleep 3600".into(),
    ]);
    let sb = client.create_sandbox(&req).await.unwrap();
    client.exec(&sb.id, &sh("echo kept > /data")).await.unwrap();

    // Pause: the state says so, commands are refused with 409, resume from running is a 409.
    let paused = client.pause_sandbox(&sb.id).await.expect("pause");
    assert_eq!(paused.state.as_str(), "paused");
    let err = client.exec(&sb.id, &sh("true")).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict), "{err}");
    let err = client.pause_sandbox(&sb.id).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict));
    assert!(err.to_string().contains("paused"), "{err}");
    let resumed = client.resume_sandbox(&sb.id).await.expect("resume");
    assert_eq!(resumed.state.as_str(), "running");
    let err = client.resume_sandbox(&sb.id).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict));

    // Stop from paused, start again: files kept, the main process runs again.
    client.pause_sandbox(&sb.id).await.unwrap();
    let stopped = client.stop_sandbox(&sb.id).await.expect("stop");
    assert_eq!(stopped.state.as_str(), "stopped");
    assert!(common::mounts_containing(&sb.id).is_empty());
    assert!(common::cgroups_of(&sb.id).is_empty());
    let err = client.exec(&sb.id, &sh("true")).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict));
    let out = daemon.cli(&["sandbox", "start", &sb.id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\trunning\n", sb.id)
    );
    let out = client.exec(&sb.id, &sh("cat /data")).await.unwrap();
    assert_eq!(out.stdout, "kept\n");

    let events = client
        .list_events(&warren_client::EventQuery {
            sandbox: Some(sb.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = events.items.iter().map(|e| e.action.as_str()).collect();
    for a in [
        "sandbox.pause",
        "sandbox.resume",
        "sandbox.stop",
        "sandbox.start",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }

    // The sandbox's processes die while the daemon is down: after a restart it is `stopped`
    // (its files are intact), and starting it works.
    daemon.kill9();
    drop(daemon);
    let pid_file = dir.path().join("sandboxes").join(&sb.id).join("pid");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-9", pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success());
    std::thread::sleep(std::time::Duration::from_millis(200));
    let daemon = common::Daemon::start_in(&env, dir.path());
    let client = daemon.client();
    let found = client.get_sandbox(&sb.id).await.unwrap();
    assert_eq!(found.state.as_str(), "stopped");
    assert!(found.error.is_none());
    client
        .start_sandbox(&sb.id)
        .await
        .expect("start after the crash");
    let out = client.exec(&sb.id, &sh("cat /data")).await.unwrap();
    assert_eq!(out.stdout, "kept\n");
    client.delete_sandbox(&sb.id).await.unwrap();
    assert!(common::mounts_containing(&sb.id).is_empty());
}

/// The main process of the hibernate test: 100 MiB of state in memory, a checksum of it, and a
/// TCP server on 8080 that answers `sum=<checksum> n=<requests so far>`.
const STATEFUL_SERVER: &str = r#"
import hashlib, os, socket
state = bytearray(os.urandom(1024 * 1024) * 100)
digest = hashlib.sha256(state).hexdigest()[:16]
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 8080)); srv.listen(8)
n = 0
while True:
    c, _ = srv.accept(); n += 1
    c.sendall(f"sum={hashlib.sha256(state).hexdigest()[:16]} n={n} first={digest}".encode()); c.close()
"#;

const ASK: &str = "import socket\ns = socket.create_connection(('127.0.0.1', 8080), timeout=5)\n\
print(s.recv(200).decode())";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hibernate_keeps_memory_and_listening_sockets() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let python = registry.push(&env.fixtures.join("python"), "latest", "python");
    let daemon = common::Daemon::start(&env);
    let client = daemon.client();
    let mut req = CreateSandboxRequest::new(&python);
    req.memory_mb = Some(512);
    req.cmd = Some(vec!["python3".into(), "-c".into(), STATEFUL_SERVER.into()]);
    let sb = client.create_sandbox(&req).await.unwrap();
    let ask = ExecRequest::new(["python3", "-c", ASK]);
    let mut first = String::new();
    for _ in 0..100 {
        let out = client.exec(&sb.id, &ask).await.unwrap();
        if out.exit_code == 0 {
            first = out.stdout;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        first.contains(" n=1 "),
        "the server never answered: {first:?}"
    );
    let sum = first.split_whitespace().next().unwrap().to_owned();

    // A background process whose shell has exited (its session leader is gone), as `cmd &`
    // leaves one; and a command killed by its timeout, which takes its children with it.
    let bg = ExecRequest::new(["sh", "-c", "sleep 600 > /dev/null 2>&1 & echo started"]);
    let out = client.exec(&sb.id, &bg).await.unwrap();
    assert_eq!(out.stdout.trim(), "started");
    let mut timed = ExecRequest::new(["sh", "-c", "sleep 700; echo never"]);
    timed.timeout_s = Some(1);
    let out = client.exec(&sb.id, &timed).await.unwrap();
    assert_ne!(out.exit_code, 0, "{out:?}");
    let sleepers = ExecRequest::new([
        "sh",
        "-c",
        "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done | grep '^sleep' | sort",
    ]);
    let out = client.exec(&sb.id, &sleepers).await.unwrap();
    assert_eq!(
        out.stdout.trim(),
        "sleep 600",
        "the timed-out command's child outlived it: {out:?}"
    );

    let hibernated = client.hibernate_sandbox(&sb.id).await.expect("hibernate");
    assert_eq!(hibernated.state.as_str(), "hibernated");
    assert!(common::cgroups_of(&sb.id).is_empty(), "memory released");
    let err = client.exec(&sb.id, &ask).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict));

    let resumed = client.resume_sandbox(&sb.id).await.expect("resume");
    assert_eq!(resumed.state.as_str(), "running");
    let out = client.exec(&sb.id, &ask).await.unwrap();
    // Same 100 MiB (same checksum), the request counter went on, the socket still listens.
    assert!(
        out.stdout.starts_with(&format!("{sum} n=2 ")),
        "after resume: {out:?} (before: {first:?})"
    );
    let out = client.exec(&sb.id, &sleepers).await.unwrap();
    assert_eq!(
        out.stdout.trim(),
        "sleep 600",
        "the background process after resume"
    );

    // Hibernate → stop discards the checkpoint; start boots fresh (the counter starts over).
    client.hibernate_sandbox(&sb.id).await.unwrap();
    client
        .stop_sandbox(&sb.id)
        .await
        .expect("stop a hibernated sandbox");
    client.start_sandbox(&sb.id).await.unwrap();
    let mut again = String::new();
    for _ in 0..100 {
        let out = client.exec(&sb.id, &ask).await.unwrap();
        if out.exit_code == 0 {
            again = out.stdout;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(again.contains(" n=1 "), "{again:?}");
    client.delete_sandbox(&sb.id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_checkpoint_is_a_clear_error_not_a_hang() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let busybox = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let daemon = common::Daemon::start(&env);
    let client = daemon.client();
    let mut req = CreateSandboxRequest::new(&busybox);
    req.cmd = Some(vec!["sleep".into(), "3600".into()]);
    for damage in ["truncate", "remove"] {
        let sb = client.create_sandbox(&req).await.unwrap();
        client.hibernate_sandbox(&sb.id).await.unwrap();
        let checkpoint = daemon
            .state
            .join("sandboxes")
            .join(&sb.id)
            .join("checkpoint");
        if damage == "truncate" {
            // Cut every memory image in half.
            for e in std::fs::read_dir(&checkpoint).unwrap().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("pages-") {
                    let len = e.metadata().unwrap().len();
                    let f = std::fs::OpenOptions::new()
                        .write(true)
                        .open(e.path())
                        .unwrap();
                    f.set_len(len / 2).unwrap();
                }
            }
        } else {
            std::fs::remove_dir_all(&checkpoint).unwrap();
        }
        let started = std::time::Instant::now();
        let err = client.resume_sandbox(&sb.id).await.unwrap_err();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{damage}: took {:?}",
            started.elapsed()
        );
        let found = client.get_sandbox(&sb.id).await.unwrap();
        assert_eq!(found.state.as_str(), "error", "{damage}: {err}");
        let why = found.error.unwrap_or_default();
        assert!(why.contains("checkpoint"), "{damage}: {why}");
        client.delete_sandbox(&sb.id).await.unwrap();
        assert!(common::mounts_containing(&sb.id).is_empty());
        assert!(common::cgroups_of(&sb.id).is_empty());
    }
}
