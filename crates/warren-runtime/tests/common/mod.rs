//! Shared fixture of the container runtime tests: a busybox layer, a runtime on temp dirs, and
//! helpers to look at the host (mounts, cgroups, runc state).
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use warren_runtime::{ContainerConfig, ContainerRuntime, Limits, SandboxSpec};

/// Why the tests cannot run here, if they cannot.
pub fn skip_reason() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root".into());
    }
    if Command::new("runc").arg("--version").output().is_err() {
        return Some("runc not installed (apt-get install runc)".into());
    }
    if !Path::new("/bin/busybox").exists() {
        return Some("/bin/busybox missing (apt-get install busybox-static)".into());
    }
    if let Err(e) = warren_runtime::find_agent_binary() {
        return Some(format!("no static agent: {e}"));
    }
    None
}

/// True (with a message) when CRIU is missing or `criu check` fails; a failure instead under
/// `WARREN_REQUIRE_E2E`.
pub fn criu_missing() -> bool {
    let ok = Command::new("criu")
        .arg("check")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("WARREN_REQUIRE_E2E").is_none(),
            "CRIU is missing or `criu check` fails (scripts/setup-host.sh builds it)"
        );
        eprintln!("SKIPPED: criu check fails");
    }
    !ok
}

/// Skip the calling test (with a loud message) when the host cannot run it.
#[macro_export]
macro_rules! require_host {
    () => {
        if let Some(why) = common::skip_reason() {
            eprintln!("SKIPPED {}: {why}", module_path!());
            return;
        }
    };
}

/// A runtime on temp dirs plus a busybox layer.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub rt: ContainerRuntime,
    pub layer: PathBuf,
}

/// Build a one-layer busybox rootfs owned by the shifted root (as the layer store would).
pub fn busybox_layer(dir: &Path) -> PathBuf {
    let layer = dir.join("layer");
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "root"] {
        std::fs::create_dir_all(layer.join(d)).unwrap();
    }
    std::fs::set_permissions(layer.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::copy("/bin/busybox", layer.join("bin/busybox")).unwrap();
    for applet in [
        "sh", "sleep", "cat", "id", "ls", "mount", "echo", "head", "tr", "hostname", "unshare",
        "true", "ip", "dd", "wc", "ps",
    ] {
        std::os::unix::fs::symlink("busybox", layer.join("bin").join(applet)).unwrap();
    }
    std::fs::write(
        layer.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(layer.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    let status = Command::new("chown")
        .args(["-R", "-h", "100000:100000"])
        .arg(&layer)
        .status()
        .unwrap();
    assert!(status.success());
    layer
}

impl Fixture {
    pub async fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let layer = busybox_layer(tmp.path());
        let rt = runtime(tmp.path()).await;
        Fixture { tmp, rt, layer }
    }

    pub fn spec(&self, id: &str) -> SandboxSpec {
        Self::spec_for(&self.layer, id)
    }

    /// A small sandbox over `layer`.
    pub fn spec_for(layer: &Path, id: &str) -> SandboxSpec {
        SandboxSpec {
            id: id.into(),
            hostname: id.into(),
            layers: vec![layer.to_path_buf()],
            env: vec!["PATH=/bin".into(), "HOME=/root".into()],
            workdir: String::new(),
            user: String::new(),
            main_cmd: None,
            limits: Limits {
                memory_bytes: 64 << 20,
                cpu_millis: 500,
                pids: 100,
                disk_bytes: 0,
            },
            snapshot_layers: Vec::new(),
            restore_from: None,
            network: None,
        }
    }

    /// `runc exec <id> args…` → (exit code, stdout + stderr).
    pub fn exec(&self, id: &str, args: &[&str]) -> (i32, String) {
        let out = Command::new("runc")
            .arg("--root")
            .arg(&self.rt.config().runc_root)
            .arg("exec")
            .arg(id)
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }

    /// Assert that nothing of sandbox `id` remains on the host.
    pub fn assert_gone(&self, id: &str) {
        let bundle = self.rt.bundle_dir(id);
        assert!(!bundle.exists(), "state dir {} remains", bundle.display());
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mounts.contains(&bundle.display().to_string()),
            "a mount under {} remains",
            bundle.display()
        );
        assert!(
            self.rt.cgroup_dirs(id).is_empty(),
            "cgroups remain: {:?}",
            self.rt.cgroup_dirs(id)
        );
        let cg = cgroup_leftovers(id);
        assert!(cg.is_empty(), "cgroup dirs remain: {cg:?}");
        let loops = loop_devices_under(&bundle);
        assert!(loops.is_empty(), "loop devices remain: {loops:?}");
        assert!(
            !self.rt.config().runc_root.join(id).exists(),
            "runc state remains"
        );
    }
}

impl Drop for Fixture {
    /// Delete whatever a failed test left running (mounts, cgroups, runc containers).
    fn drop(&mut self) {
        let dir = self.tmp.path().to_path_buf();
        let ids: Vec<String> = std::fs::read_dir(dir.join("sandboxes"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        if ids.is_empty() {
            return;
        }
        // We may be inside a tokio runtime: clean up from a plain thread with its own runtime.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let runtime = runtime(&dir).await;
                for id in ids {
                    if let Err(e) = warren_runtime::Runtime::delete(&runtime, &id).await {
                        eprintln!("fixture cleanup of {id} failed: {e}");
                    }
                }
            });
        })
        .join()
        .unwrap();
    }
}

/// Any `warren/<id>` directory under /sys/fs/cgroup (independent of the runtime's own lookup).
pub fn cgroup_leftovers(id: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let root = Path::new("/sys/fs/cgroup");
    if root.join("warren").join(id).exists() {
        out.push(root.join("warren").join(id));
    }
    if let Ok(rd) = std::fs::read_dir(root) {
        for e in rd.flatten() {
            let p = e.path().join("warren").join(id);
            if p.exists() {
                out.push(p);
            }
        }
    }
    out
}

/// A runtime whose state and runc root live under `dir`.
pub async fn runtime(dir: &Path) -> ContainerRuntime {
    let agent = warren_runtime::find_agent_binary().unwrap();
    let mut cfg = ContainerConfig::new(dir.join("sandboxes"), agent);
    cfg.runc_root = dir.join("runc");
    // Small, so that tests see rotation quickly.
    cfg.main_log = warren_runtime::LogRotation {
        file_bytes: 4096,
        files: 3,
    };
    ContainerRuntime::new(cfg).await.unwrap()
}

/// Loop devices whose backing file is under `dir`.
pub fn loop_devices_under(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let backing = std::fs::read_to_string(e.path().join("loop/backing_file")).ok()?;
            Path::new(backing.trim())
                .starts_with(dir)
                .then(|| format!("{name} ({})", backing.trim()))
        })
        .collect()
}

/// A unique sandbox id for this test run.
pub fn unique_id(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{n:x}", std::process::id())
}

/// Read the first existing file among `names` in the sandbox's cgroup dirs.
pub fn cgroup_value(rt: &ContainerRuntime, id: &str, names: &[&str]) -> Option<String> {
    for dir in rt.cgroup_dirs(id) {
        for n in names {
            if let Ok(v) = std::fs::read_to_string(dir.join(n)) {
                return Some(v.trim().to_owned());
            }
        }
    }
    None
}
