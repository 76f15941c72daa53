//! Isolation: what untrusted code inside a sandbox must not be able to do,
//! and that the daemon survives what it tries.

mod common;

use std::time::Duration;

use warren_api_types::{CreateSandboxRequest, ErrorCode, ExecRequest};
use warren_client::Client;

fn sh(script: &str, timeout_s: u64) -> ExecRequest {
    let mut req = ExecRequest::new(["sh", "-c", script]);
    req.timeout_s = Some(timeout_s);
    req
}

async fn create(client: &Client, image: &str, memory_mb: u64, pids: u32) -> String {
    let mut req = CreateSandboxRequest::new(image);
    req.cpu = Some(0.5);
    req.memory_mb = Some(memory_mb);
    req.pids_limit = Some(pids);
    client
        .create_sandbox(&req)
        .await
        .expect("create sandbox")
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxes_are_isolated_and_limited() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let python = registry.push(&env.fixtures.join("python"), "latest", "python");
    let daemon = common::Daemon::start(&env);
    let client = daemon.client();
    let id = create(&client, &python, 128, 64).await;

    // Container root is an unprivileged host uid.
    let out = client
        .exec(&id, &sh("cat /proc/self/uid_map; id -u", 10))
        .await
        .unwrap();
    let map: Vec<&str> = out
        .stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(map, ["0", "100000", "65536"], "uid_map: {}", out.stdout);
    assert!(out.stdout.ends_with("0\n"));

    // Privileged operations fail.
    let out = client
        .exec(&id, &sh("mount -t tmpfs none /mnt", 10))
        .await
        .unwrap();
    assert_ne!(out.exit_code, 0, "mount must fail: {}", out.stdout);
    let out = client
        .exec(&id, &sh("echo 1 > /proc/sys/kernel/sysrq", 10))
        .await
        .unwrap();
    assert_ne!(out.exit_code, 0, "writing /proc/sys must fail");
    let out = client
        .exec(&id, &sh("echo x > /sys/kernel/uevent_helper", 10))
        .await
        .unwrap();
    assert_ne!(out.exit_code, 0, "writing /sys must fail");
    let out = client
        .exec(&id, &sh("cat /proc/kcore | head -c 1 | wc -c", 10))
        .await
        .unwrap();
    assert_eq!(out.stdout.trim(), "0", "/proc/kcore must be masked");
    let out = client
        .exec(
            &id,
            &sh(
                "grep -E '^(NoNewPrivs|Seccomp|CapEff)' /proc/self/status",
                10,
            ),
        )
        .await
        .unwrap();
    assert!(out.stdout.contains("NoNewPrivs:\t1"), "{}", out.stdout);
    assert!(out.stdout.contains("Seccomp:\t2"), "{}", out.stdout);
    // Docker's default capabilities: no CAP_SYS_ADMIN (bit 21).
    let cap_eff = out
        .stdout
        .lines()
        .find(|l| l.starts_with("CapEff"))
        .unwrap();
    let caps = u64::from_str_radix(cap_eff.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(
        caps & (1 << 21),
        0,
        "CAP_SYS_ADMIN must be dropped: {cap_eff}"
    );
    // Commands are preferred OOM victims over the agent (PID 1), whose death would end the sandbox.
    let out = client
        .exec(
            &id,
            &sh("cat /proc/self/oom_score_adj /proc/1/oom_score_adj", 10),
        )
        .await
        .unwrap();
    assert_eq!(out.stdout, "500\n0\n", "{out:?}");
    // Its own network namespace: loopback and its link to the warren bridge, nothing of the
    // host's (network_e2e checks what the link can reach).
    let out = client
        .exec(&id, &sh("ls /sys/class/net", 10))
        .await
        .unwrap();
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["eth0", "lo"],
        "{}",
        out.stdout
    );

    host_users_cannot_read_sandbox_files(&daemon, &id);
    files_api_stays_inside(&client, &id).await;
    memory_hog_is_killed(&client, &id).await;
    fork_bomb_is_contained(&client, &daemon, &id).await;

    client.delete_sandbox(&id).await.unwrap();
    assert!(common::mounts_containing(&id).is_empty());
    assert!(common::cgroups_of(&id).is_empty());
}

async fn files_api_stays_inside(client: &Client, id: &str) {
    // A secret on the host that no sandbox may read.
    let secret = std::env::temp_dir().join(format!("warren-host-secret-{id}"));
    std::fs::write(&secret, b"HOST SECRET").unwrap();
    let secret_path = secret.to_str().unwrap().to_owned();

    for path in [
        format!("/../../../..{secret_path}"),
        secret_path.clone(),
        "/../../etc/shadow".to_owned(),
    ] {
        match client.read_file(id, &path).await {
            Ok(bytes) => assert!(
                !String::from_utf8_lossy(&bytes).contains("HOST SECRET")
                    && host_shadow() != bytes.as_ref(),
                "{path} leaked host data"
            ),
            Err(e) => assert_eq!(e.code(), Some(ErrorCode::FileNotFound), "{path}: {e}"),
        }
    }
    // Symlinks made inside the sandbox resolve inside it.
    let out = client
        .exec(
            id,
            &sh(
                &format!("ln -s {secret_path} /tmp/to-secret; ln -s /../../../../etc /tmp/to-etc"),
                10,
            ),
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    let err = client.read_file(id, "/tmp/to-secret").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::FileNotFound));
    let passwd = client.read_file(id, "/tmp/to-etc/passwd").await.unwrap();
    assert_ne!(
        passwd.as_ref(),
        std::fs::read("/etc/passwd").unwrap().as_slice(),
        "read the host's /etc/passwd"
    );
    // Writing through a symlink lands inside the sandbox too.
    client
        .write_file(id, "/tmp/to-secret", b"overwritten".to_vec())
        .await
        .ok();
    assert_eq!(std::fs::read(&secret).unwrap(), b"HOST SECRET");
    std::fs::remove_file(&secret).unwrap();
}

/// An unprivileged host user cannot reach a sandbox's files (its rootfs or
/// upper dir) or the image store under the state dir, while root can.
fn host_users_cannot_read_sandbox_files(daemon: &common::Daemon, id: &str) {
    let as_nobody = |path: &std::path::Path| {
        std::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "ls",
                "-d",
            ])
            .arg(path)
            .output()
            .expect("run setpriv")
            .status
            .success()
    };
    // The probe itself works: nobody can list a world-readable directory.
    assert!(
        as_nobody(std::path::Path::new("/tmp")),
        "setpriv as nobody must work here"
    );
    let sandbox = daemon.state.join("sandboxes").join(id);
    // `dir/.` needs search permission on `dir` itself, not only on its parents.
    for path in [
        sandbox.join("rootfs/etc/passwd"),
        sandbox.join("disk/upper/."),
        sandbox.join("disk/run/."),
        daemon.state.join("layers/."),
        daemon.state.join("content/."),
    ] {
        assert!(path.exists(), "{} should exist for root", path.display());
        assert!(
            !as_nobody(&path),
            "user nobody can reach {}",
            path.display()
        );
    }
}

fn host_shadow() -> Vec<u8> {
    std::fs::read("/etc/shadow").unwrap_or_default()
}

async fn memory_hog_is_killed(client: &Client, id: &str) {
    // 128 MiB limit; try to hold 1 GiB.
    let mut hog = ExecRequest::new([
        "python3",
        "-c",
        "x = [bytearray(16 << 20) for _ in range(64)]; print('survived')",
    ]);
    hog.timeout_s = Some(60);
    let out = client.exec(id, &hog).await.expect("exec hog");
    assert!(
        !out.stdout.contains("survived"),
        "the hog got 1 GiB past a 128 MiB limit"
    );
    assert!(out.exit_code != 0, "the hog must fail: {out:?}");
    // The sandbox (and its agent) are still fine.
    let ok = client.exec(id, &sh("echo alive", 10)).await.unwrap();
    assert_eq!(ok.stdout, "alive\n");
}

async fn fork_bomb_is_contained(client: &Client, daemon: &common::Daemon, id: &str) {
    let bomb_req = sh("bomb() { bomb | bomb & }; bomb; sleep 5", 8);
    let bomb = client.exec(id, &bomb_req);
    let watcher = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        // While the bomb runs, the daemon answers and another sandbox works.
        let health = common::http_status(daemon.addr, "/healthz");
        let pids = pids_current(id);
        (health, pids)
    };
    let (bomb_result, (health, pids)) = tokio::join!(bomb, watcher);
    let _ = bomb_result;
    assert_eq!(
        health,
        Some(200),
        "daemon stopped answering during a fork bomb"
    );
    if let Some(n) = pids {
        assert!(n <= 64, "pids.current {n} is over the limit of 64");
    }
    // Kill whatever is left of the bomb, then the sandbox still works.
    let _ = client
        .exec(id, &sh("kill -9 -1 2>/dev/null; true", 10))
        .await;
    let mut alive = false;
    for _ in 0..20 {
        if let Ok(out) = client.exec(id, &sh("echo alive", 10)).await
            && out.stdout == "alive\n"
        {
            alive = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(alive, "sandbox did not recover after the fork bomb");
}

/// The sandbox's current pid count from its cgroup (v1 or v2), if found.
fn pids_current(id: &str) -> Option<u64> {
    common::cgroups_of(id)
        .into_iter()
        .map(|d| d.join("pids.current"))
        .find(|p| p.exists())
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|s| s.trim().parse().ok())
}
