//! Sandboxes outlive the daemon: `kill -9` it, start a new one on the same
//! state dir, and the sandbox is still there, still running, still usable.

mod common;

use warren_api_types::{CreateSandboxRequest, ExecRequest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_survives_daemon_kill() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let busybox = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let mut first = common::Daemon::start(&env);
    let dir = first.take_dir().expect("owns its state dir");
    let client = first.client();
    let mut req = CreateSandboxRequest::new(busybox);
    req.cmd = Some(vec!["sleep".into(), "3600".into()]);
    req.memory_mb = Some(64);
    let sb = client.create_sandbox(&req).await.unwrap();
    let exec = ExecRequest::new([
        "sh",
        "-c",
        "echo $$ > /tmp/before; ps -o comm | grep -c sleep",
    ]);
    let out = client.exec(&sb.id, &exec).await.unwrap();
    assert_eq!(out.stdout.trim(), "1", "main process running: {out:?}");

    first.kill9();
    drop(first);

    let second = common::Daemon::start_in(&env, dir.path());
    let client = second.client();
    let listed = client.list_all_sandboxes().await.unwrap();
    let found = listed
        .iter()
        .find(|s| s.id == sb.id)
        .expect("sandbox still listed");
    assert_eq!(found.state.as_str(), "running");
    let out = client
        .exec(&sb.id, &exec)
        .await
        .expect("exec after restart");
    assert_eq!(out.stdout.trim(), "1", "the main process survived: {out:?}");
    // State from before the crash is still there.
    let before = client.read_file(&sb.id, "/tmp/before").await.unwrap();
    assert!(!before.is_empty());

    // Code in the sandbox swaps the agent socket for a symlink to a host
    // socket. The next daemon must refuse to connect through it.
    let host_sock = std::env::temp_dir().join(format!("warren-host-{}.sock", sb.id));
    let _ = std::fs::remove_file(&host_sock);
    let host = std::os::unix::net::UnixListener::bind(&host_sock).unwrap();
    host.set_nonblocking(true).unwrap();
    let swap = ExecRequest::new([
        "sh".to_owned(),
        "-c".to_owned(),
        format!(
            "rm /.warren/run/agent.sock && ln -s {} /.warren/run/agent.sock",
            host_sock.display()
        ),
    ]);
    let out = client.exec(&sb.id, &swap).await.unwrap();
    assert_eq!(out.exit_code, 0, "{out:?}");
    let mut second = second;
    second.kill9();
    drop(second);
    let third = common::Daemon::start_in(&env, dir.path());
    let client = third.client();
    let err = client
        .exec(&sb.id, &exec)
        .await
        .expect_err("must not reach the agent through a symlink");
    assert!(
        err.to_string().contains("socket") || err.to_string().contains("agent"),
        "{err}"
    );
    assert!(
        host.accept().is_err(),
        "the daemon connected to a host socket the sandbox pointed it at"
    );
    std::fs::remove_file(&host_sock).unwrap();

    client.delete_sandbox(&sb.id).await.unwrap();
    assert!(common::mounts_containing(&sb.id).is_empty());
    drop(third);
    drop(dir);
}
