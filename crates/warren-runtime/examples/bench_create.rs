//! Sandbox creation latency: warren `create` (overlay + runc + agent healthy) vs plain `runc run`.
//!
//! `cargo run --release -p warren-runtime --example bench_create -- [N]` (root, runc, busybox-static
//! and the static agent needed; N defaults to 50). Prints p50/p99 of:
//! - warren create, until the agent answers /health, then delete;
//! - plain `runc run` of `/bin/true` on the same busybox rootfs with the same user namespace
//!   (create + start + exit + delete), the baseline;
//!
//! It also prints the memory charged to one idle sandbox's cgroup.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use warren_runtime::{ContainerConfig, ContainerRuntime, Limits, Runtime, SandboxSpec};

fn busybox_layer(dir: &Path) -> std::path::PathBuf {
    let layer = dir.join("layer");
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "root"] {
        std::fs::create_dir_all(layer.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", layer.join("bin/busybox")).unwrap();
    for applet in ["sh", "sleep", "cat", "true"] {
        std::os::unix::fs::symlink("busybox", layer.join("bin").join(applet)).unwrap();
    }
    let ok = Command::new("chown")
        .args(["-R", "-h", "100000:100000"])
        .arg(&layer)
        .status()
        .unwrap();
    assert!(ok.success());
    layer
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let idx = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[idx]
}

fn report(name: &str, v: &mut [Duration]) {
    let (p50, p99) = (pct(v, 0.50), pct(v, 0.99));
    println!(
        "{name:<44} p50 {:>7.1} ms   p99 {:>7.1} ms   (n={})",
        ms(p50),
        ms(p99),
        v.len()
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A bundle for plain runc: runc's default spec, our user namespace, `/bin/true`.
fn baseline_bundle(dir: &Path, layer: &Path) -> std::path::PathBuf {
    let bundle = dir.join("baseline");
    std::fs::create_dir_all(&bundle).unwrap();
    let ok = Command::new("runc")
        .arg("spec")
        .current_dir(&bundle)
        .status()
        .unwrap();
    assert!(ok.success());
    let path = bundle.join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = serde_json::json!(["/bin/true"]);
    spec["root"] = serde_json::json!({"path": layer, "readonly": true});
    let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    spec["linux"]["uidMappings"] = map.clone();
    spec["linux"]["gidMappings"] = map;
    let ns = spec["linux"]["namespaces"].as_array_mut().unwrap();
    ns.push(serde_json::json!({"type": "user"}));
    ns.push(serde_json::json!({"type": "cgroup"}));
    std::fs::write(&path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    bundle
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    if !nix::unistd::geteuid().is_root() {
        eprintln!("bench_create must run as root");
        std::process::exit(2);
    }
    let agent = warren_runtime::find_agent_binary().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let layer = busybox_layer(tmp.path());
    let mut cfg = ContainerConfig::new(tmp.path().join("sandboxes"), agent);
    cfg.runc_root = tmp.path().join("runc");
    let rt = ContainerRuntime::new(cfg).await.unwrap();
    let spec = |id: String| SandboxSpec {
        hostname: id.clone(),
        id,
        layers: vec![layer.clone()],
        env: vec!["PATH=/bin".into()],
        workdir: String::new(),
        user: String::new(),
        main_cmd: None,
        limits: Limits {
            memory_bytes: 256 << 20,
            cpu_millis: 1000,
            pids: 256,
            disk_bytes: 0,
        },
        snapshot_layers: Vec::new(),
        restore_from: None,
        network: None,
    };

    // Warm up caches (page cache of runc, the agent, busybox).
    let warm = spec("bench-warm".into());
    rt.create(&warm).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mem = rt.cgroup_dirs("bench-warm").into_iter().find_map(|d| {
        ["memory.usage_in_bytes", "memory.current"]
            .iter()
            .find_map(|f| std::fs::read_to_string(d.join(f)).ok())
    });
    rt.delete("bench-warm").await.unwrap();

    let (mut creates, mut deletes) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let s = spec(format!("bench-{i}"));
        let t = Instant::now();
        rt.create(&s).await.unwrap();
        creates.push(t.elapsed());
        let t = Instant::now();
        rt.delete(&s.id).await.unwrap();
        deletes.push(t.elapsed());
    }

    let bundle = baseline_bundle(tmp.path(), &layer);
    let root = tmp.path().join("runc-baseline");
    let mut plain = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        let out = Command::new("runc")
            .arg("--root")
            .arg(&root)
            .args(["run", "--bundle"])
            .arg(&bundle)
            .arg(format!("plain-{i}"))
            .output()
            .unwrap();
        plain.push(t.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    println!("warren-runtime create benchmark, N={n}");
    report("warren create (to agent /health)", &mut creates);
    report("warren delete", &mut deletes);
    report("plain `runc run /bin/true` (incl. delete)", &mut plain);
    if let Some(m) = mem {
        let bytes: u64 = m.trim().parse().unwrap_or(0);
        println!(
            "memory charged to one idle sandbox's cgroup: {:.1} MiB",
            bytes as f64 / (1 << 20) as f64
        );
    }
}
