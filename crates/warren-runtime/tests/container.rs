//! End-to-end tests of the container runtime with real runc, overlayfs and the static agent.
//! They need root, runc, busybox-static and the static agent build; otherwise they skip loudly.

mod common;

use common::{Fixture, cgroup_value, unique_id};
use warren_runtime::{ActualState, Runtime, RuntimeError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_leaves_nothing_behind() {
    require_host!();
    let f = Fixture::new().await;
    let id = unique_id("lc");
    let info = f.rt.create(&f.spec(&id)).await.expect("create");
    assert_eq!(info.id, id);
    assert_eq!(f.rt.state(&id).await.unwrap(), Some(ActualState::Running));
    assert!(
        f.rt.list()
            .await
            .unwrap()
            .contains(&(id.clone(), ActualState::Running))
    );

    let agent = f.rt.agent(&id).await.unwrap();
    agent.health().await.expect("agent healthy");
    // The agent serves files of the sandbox's root filesystem (the image layer).
    let passwd = agent
        .read_file("/etc/passwd", None)
        .await
        .expect("read via the agent");
    assert!(passwd.starts_with(b"root:x:0:0:"));

    // The agent is PID 1 of the sandbox, but not our child (nor runc's: runc has exited).
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", info.pid)).unwrap();
    let ppid: u32 = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(
        ppid,
        std::process::id(),
        "the sandbox must not be a child of the daemon"
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", info.pid)).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line.contains("100000"),
        "agent runs as the shifted root: {uid_line}"
    );

    let (code, out) = f.exec(&id, &["cat", "/proc/self/uid_map"]);
    assert_eq!(code, 0, "{out}");
    let fields: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(fields, ["0", "100000", "65536"]);
    let (_, host) = f.exec(&id, &["hostname"]);
    assert_eq!(host.trim(), id);

    f.rt.delete(&id).await.expect("delete");
    f.assert_gone(&id);
    assert_eq!(f.rt.state(&id).await.unwrap(), None);
    f.rt.delete(&id).await.expect("delete is idempotent");
    assert!(f.rt.agent(&id).await.unwrap_err().is_not_found());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_is_confined() {
    require_host!();
    let f = Fixture::new().await;
    let id = unique_id("conf");
    f.rt.create(&f.spec(&id)).await.expect("create");

    let (code, out) = f.exec(&id, &["mount", "-t", "tmpfs", "x", "/tmp"]);
    assert_ne!(code, 0, "mount must fail: {out}");
    let (code, out) = f.exec(&id, &["sh", "-c", "echo 3 > /proc/sys/vm/drop_caches"]);
    assert_ne!(code, 0, "/proc/sys must be read-only: {out}");
    let (code, out) = f.exec(&id, &["unshare", "-n", "true"]);
    assert_ne!(code, 0, "new namespaces must be denied: {out}");
    let (code, out) = f.exec(&id, &["cat", "/proc/kcore"]);
    assert!(
        code != 0 || out.is_empty(),
        "/proc/kcore must be masked: {out}"
    );
    // Loopback is up in the sandbox's own network namespace; nothing else exists.
    let (code, out) = f.exec(&id, &["ip", "-o", "link"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("lo:") && out.contains("UP"), "{out}");
    assert_eq!(out.lines().count(), 1, "only loopback: {out}");
    // The agent's socket directory is not reachable by non-root users inside.
    let (code, out) = f.exec(
        &id,
        &["sh", "-c", "ls -ld /.warren/run; ls -l /.warren/agent"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("drwx------"), "{out}");

    f.rt.delete(&id).await.expect("delete");
    f.assert_gone(&id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_enforced() {
    require_host!();
    let f = Fixture::new().await;
    let id = unique_id("lim");
    let mut spec = f.spec(&id);
    spec.limits.memory_bytes = 32 << 20;
    spec.limits.pids = 77;
    f.rt.create(&spec).await.expect("create");

    let mem = cgroup_value(&f.rt, &id, &["memory.limit_in_bytes", "memory.max"]).unwrap();
    assert_eq!(mem, (32u64 << 20).to_string());
    let pids = cgroup_value(&f.rt, &id, &["pids.max"]).unwrap();
    assert_eq!(pids, "77");
    let quota = cgroup_value(&f.rt, &id, &["cpu.cfs_quota_us", "cpu.max"]).unwrap();
    assert!(quota.starts_with("50000"), "{quota}");

    // Allocate 64 MiB in a shell variable: the kernel OOM-kills it.
    let (code, out) = f.exec(
        &id,
        &[
            "sh",
            "-c",
            // The hog volunteers as the OOM victim: much of its memory is pipe and page
            // cache, not its RSS, so the kernel could otherwise pick the agent.
            "echo 1000 > /proc/self/oom_score_adj; x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo ${#x}",
        ],
    );
    assert_ne!(code, 0, "allocation past the limit must fail: {out}");
    let oom = cgroup_value(&f.rt, &id, &["memory.oom_control", "memory.events"]).unwrap();
    let kills: u64 = oom
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(kills >= 1, "expected an OOM kill, got: {oom}");
    // The sandbox itself (the agent) survives a process of it being OOM-killed.
    assert_eq!(f.rt.state(&id).await.unwrap(), Some(ActualState::Running));

    f.rt.delete(&id).await.expect("delete");
    f.assert_gone(&id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_create_leaves_nothing_behind() {
    require_host!();
    let f = Fixture::new().await;
    let id = unique_id("fail");
    let mut spec = f.spec(&id);
    spec.layers.push(f.tmp.path().join("no-such-layer"));
    let err = f.rt.create(&spec).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Rootfs { .. }), "{err:?}");
    f.assert_gone(&id);
    assert_eq!(f.rt.state(&id).await.unwrap(), None);

    let mut spec = f.spec(&id);
    spec.workdir = "/a\0b".into();
    assert!(matches!(
        f.rt.create(&spec).await,
        Err(RuntimeError::InvalidSpec(_))
    ));
    f.assert_gone(&id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_that_dies_at_start_leaves_nothing_behind() {
    require_host!();
    let f = Fixture::new().await;
    // busybox is a static ELF but no agent: started as `/.warren/agent` it exits at once, after
    // runc has created the container, its cgroups and its state.
    let mut cfg =
        warren_runtime::ContainerConfig::new(f.tmp.path().join("sandboxes"), "/bin/busybox".into());
    cfg.runc_root = f.rt.config().runc_root.clone();
    let rt = warren_runtime::ContainerRuntime::new(cfg).await.unwrap();
    let id = unique_id("dies");
    let err = rt.create(&f.spec(&id)).await.unwrap_err();
    assert!(
        matches!(err, RuntimeError::ExitedDuringStart { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("applet not found"),
        "the log tail explains why: {err}"
    );
    f.assert_gone(&id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_id_is_refused_and_the_original_survives() {
    require_host!();
    let f = Fixture::new().await;
    let id = unique_id("dup");
    f.rt.create(&f.spec(&id)).await.expect("create");
    let err = f.rt.create(&f.spec(&id)).await.unwrap_err();
    assert!(matches!(err, RuntimeError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(f.rt.state(&id).await.unwrap(), Some(ActualState::Running));
    f.rt.agent(&id).await.unwrap().health().await.unwrap();
    f.rt.delete(&id).await.unwrap();
    f.assert_gone(&id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_runtime_finds_running_sandboxes() {
    require_host!();
    let f = Fixture::new().await;
    let id = unique_id("rs");
    let info = f.rt.create(&f.spec(&id)).await.expect("create");

    // A "restarted daemon": a fresh runtime over the same directories, with no cached state.
    let rt2 = common::runtime(f.tmp.path()).await;
    assert!(
        rt2.list()
            .await
            .unwrap()
            .contains(&(id.clone(), ActualState::Running))
    );
    assert_eq!(rt2.state(&id).await.unwrap(), Some(ActualState::Running));
    rt2.agent(&id)
        .await
        .expect("reconnect")
        .health()
        .await
        .expect("healthy");
    assert!(std::path::Path::new(&format!("/proc/{}", info.pid)).exists());

    rt2.delete(&id).await.unwrap();
    assert!(!f.tmp.path().join("sandboxes").join(&id).exists());
    assert!(common::cgroup_leftovers(&id).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_created_sandboxes_are_cleaned() {
    require_host!();
    let f = Fixture::new().await;
    // A directory with an overlay mounted and nothing else (a daemon that died mid-create).
    let id = unique_id("half");
    let dir = f.rt.bundle_dir(&id);
    for d in ["upper", "work", "rootfs"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        f.layer.display(),
        dir.join("upper").display(),
        dir.join("work").display()
    );
    nix::mount::mount(
        Some("overlay"),
        &dir.join("rootfs"),
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(opts.as_str()),
    )
    .unwrap();
    assert_eq!(f.rt.state(&id).await.unwrap(), Some(ActualState::Stopped));
    assert!(
        f.rt.list()
            .await
            .unwrap()
            .contains(&(id.clone(), ActualState::Stopped))
    );
    f.rt.delete(&id).await.unwrap();
    f.assert_gone(&id);
}

/// Not a test on its own: the child half of `sandbox_survives_kill_9_of_its_creator`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helper_create_then_hang() {
    let (Ok(dir), Ok(id)) = (
        std::env::var("WARREN_TEST_DIR"),
        std::env::var("WARREN_TEST_ID"),
    ) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let rt = common::runtime(&dir).await;
    let mut spec = Fixture::spec_for(&dir.join("layer"), &id);
    spec.main_cmd = Some(vec!["sleep".into(), "1000".into()]);
    rt.create(&spec).await.expect("create in the helper");
    println!("READY");
    tokio::time::sleep(std::time::Duration::from_secs(600)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_survives_kill_9_of_its_creator() {
    require_host!();
    use std::io::BufRead;
    let f = Fixture::new().await;
    let id = unique_id("k9");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_create_then_hang",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("WARREN_TEST_DIR", f.tmp.path())
        .env("WARREN_TEST_ID", &id)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let ready = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("READY"));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(ready, "the helper did not create the sandbox");

    assert_eq!(f.rt.state(&id).await.unwrap(), Some(ActualState::Running));
    f.rt.agent(&id)
        .await
        .expect("reconnect")
        .health()
        .await
        .expect("healthy after the creator died");
    f.rt.delete(&id).await.unwrap();
    f.assert_gone(&id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_command_runs_under_the_agent() {
    require_host!();
    let f = Fixture::new().await;
    let id = unique_id("main");
    let mut spec = f.spec(&id);
    spec.main_cmd = Some(vec![
        "sh".into(),
        "-c".into(),
        "echo main-ran > /tmp/main; exec sleep 1000".into(),
    ]);
    f.rt.create(&spec).await.expect("create");
    let agent = f.rt.agent(&id).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match agent.read_file("/tmp/main", None).await {
            Ok(b) if b.as_ref() == b"main-ran\n" => break,
            other if std::time::Instant::now() > deadline => {
                panic!("main command did not run: {other:?}")
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
    // The main process is not PID 1: the agent is.
    let (code, out) = f.exec(&id, &["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("/.warren/agent "), "{out}");
    f.rt.delete(&id).await.unwrap();
    f.assert_gone(&id);
}
