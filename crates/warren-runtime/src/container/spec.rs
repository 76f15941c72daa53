//! The OCI runtime spec (`config.json`) of a sandbox: the few fields warren uses, and [`build`].
//!
//! The sandbox's PID 1 is the agent (`/.warren/agent`, bind-mounted read-only from the host),
//! running as container root with Docker's default capabilities and seccomp profile, in new
//! pid/net/ipc/uts/mount/cgroup/user namespaces. Container root is an unprivileged host uid
//! (`IdMap::host_base`, 100000 by default). Mounts, masked and read-only paths follow runc's and
//! Docker's defaults.

use std::path::Path;

use serde::Serialize;

use super::IdMap;
use crate::{LogRotation, SandboxSpec};

/// Where the agent binary appears inside the sandbox.
pub(crate) const AGENT_PATH: &str = "/.warren/agent";
/// Where the sandbox's `run/` directory (agent socket) appears inside the sandbox.
pub(crate) const RUN_DIR: &str = "/.warren/run";
/// The agent's listening socket, as seen inside the sandbox.
pub(crate) const AGENT_SOCKET: &str = "/.warren/run/agent.sock";
/// The main process's log as the agent sees it (`<bundle>/disk/run/main.log` on the host).
pub(crate) const MAIN_LOG: &str = "/.warren/run/main.log";
/// The agent's own output, reopened from inside at start (`<bundle>/disk/run/agent.log`).
pub(crate) const AGENT_LOG: &str = "/.warren/run/agent.log";
/// Where the agent keeps the sandbox's identity (world-readable; see
/// `warren_agent_proto::identity`).
pub(crate) const IDENTITY_FILE: &str = warren_agent_proto::identity::IDENTITY_FILE;

/// Docker's default capability set (moby `oci/caps/defaults.go`).
pub(crate) const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Docker's default `maskedPaths` (moby `oci/defaults.go`, including the newer `/proc/interrupts`).
const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's default `readonlyPaths`.
const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// CFS period used for the CPU limit, in microseconds.
pub(crate) const CPU_PERIOD_US: u64 = 100_000;

/// `config.json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Spec {
    pub oci_version: &'static str,
    pub process: Process,
    pub root: Root,
    pub hostname: String,
    pub mounts: Vec<Mount>,
    pub linux: Linux,
    /// `org.criu.config`: the CRIU configuration file runc hands to CRIU for this container.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<&'static str, String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Process {
    pub terminal: bool,
    pub user: User,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub capabilities: Capabilities,
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct User {
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Serialize)]
pub(crate) struct Capabilities {
    pub bounding: Vec<String>,
    pub effective: Vec<String>,
    pub permitted: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Rlimit {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub hard: u64,
    pub soft: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct Root {
    pub path: String,
    pub readonly: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct Mount {
    pub destination: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Linux {
    pub namespaces: Vec<Namespace>,
    pub uid_mappings: Vec<IdMapping>,
    pub gid_mappings: Vec<IdMapping>,
    pub resources: Resources,
    pub cgroups_path: String,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    pub seccomp: Seccomp,
}

#[derive(Debug, Serialize)]
pub(crate) struct Namespace {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IdMapping {
    #[serde(rename = "containerID")]
    pub container_id: u32,
    #[serde(rename = "hostID")]
    pub host_id: u32,
    pub size: u32,
}

#[derive(Debug, Serialize)]
pub(crate) struct Resources {
    pub devices: Vec<DeviceRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<Pids>,
}

#[derive(Debug, Serialize)]
pub(crate) struct DeviceRule {
    pub allow: bool,
    pub access: &'static str,
}

#[derive(Debug, Serialize)]
pub(crate) struct Memory {
    pub limit: i64,
    /// Memory + swap; equal to `limit` means no swap.
    pub swap: i64,
}

#[derive(Debug, Serialize)]
pub(crate) struct Cpu {
    pub quota: i64,
    pub period: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct Pids {
    pub limit: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Seccomp {
    pub default_action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    pub architectures: Vec<String>,
    pub syscalls: Vec<SeccompSyscall>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeccompSyscall {
    pub names: Vec<String>,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<SeccompArg>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeccompArg {
    pub index: u32,
    pub value: u64,
    pub value_two: u64,
    pub op: String,
}

/// Host-side inputs of [`build`] besides the sandbox spec.
#[derive(Debug)]
pub(crate) struct HostParts<'a> {
    pub id_map: IdMap,
    pub agent_binary: &'a Path,
    pub run_dir: &'a Path,
    /// Absolute cgroup path, e.g. `/warren/sb-1`.
    pub cgroups_path: String,
    pub kernel: (u32, u32),
    /// Include the 32-bit ABIs in the seccomp filter.
    pub compat_32bit: bool,
    /// Rotation of the main process's log (passed to the agent).
    pub main_log: LogRotation,
    /// The file bind-mounted at `/etc/resolv.conf` (with a network attachment).
    pub resolv_conf: Option<&'a Path>,
    /// The CRIU configuration file for checkpoints and restores of this sandbox.
    pub criu_config: Option<&'a Path>,
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn mount(dest: &str, kind: &str, source: &str, options: &[&str]) -> Mount {
    Mount {
        destination: dest.into(),
        kind: kind.into(),
        source: source.into(),
        options: strs(options),
    }
}

/// The agent's command line: flags, then `--` and the main command if any.
pub(crate) fn agent_args(spec: &SandboxSpec, log: LogRotation) -> Vec<String> {
    let user = if spec.user.is_empty() {
        "0:0"
    } else {
        &spec.user
    };
    let workdir = if spec.workdir.is_empty() {
        "/"
    } else {
        &spec.workdir
    };
    let mut args = strs(&[AGENT_PATH, "--listen"]);
    args.push(format!("unix:{AGENT_SOCKET}"));
    args.extend(["--default-user".into(), user.to_owned()]);
    args.extend(["--workdir".into(), workdir.to_owned()]);
    args.extend(["--hostname".into(), spec.hostname.clone()]);
    args.extend(["--stdio".into(), AGENT_LOG.to_owned()]);
    args.extend(["--identity-file".into(), IDENTITY_FILE.to_owned()]);
    args.extend(["--log".into(), MAIN_LOG.to_owned()]);
    args.extend(["--log-file-bytes".into(), log.file_bytes.to_string()]);
    args.extend(["--log-files".into(), log.files.to_string()]);
    if spec.network.is_some() {
        // The host links the sandbox to its network right after it starts: the main process
        // waits for that (a server binding, a download) rather than starting without one.
        args.push("--wait-for-network".into());
    }
    if let Some(cmd) = &spec.main_cmd {
        args.push("--".into());
        args.extend(cmd.iter().cloned());
    }
    args
}

/// Build the OCI spec of a sandbox.
pub(crate) fn build(spec: &SandboxSpec, host: &HostParts<'_>) -> Spec {
    let caps = strs(DEFAULT_CAPS);
    let map = vec![IdMapping {
        container_id: 0,
        host_id: host.id_map.host_base,
        size: host.id_map.size,
    }];
    let gid_map = vec![IdMapping {
        container_id: 0,
        host_id: host.id_map.host_base,
        size: host.id_map.size,
    }];
    let l = spec.limits;
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let resources = Resources {
        devices: vec![DeviceRule {
            allow: false,
            access: "rwm",
        }],
        memory: (l.memory_bytes > 0).then(|| Memory {
            limit: clamp(l.memory_bytes),
            swap: clamp(l.memory_bytes),
        }),
        cpu: (l.cpu_millis > 0).then(|| Cpu {
            quota: clamp(u64::from(l.cpu_millis) * CPU_PERIOD_US / 1000),
            period: CPU_PERIOD_US,
        }),
        pids: (l.pids > 0).then(|| Pids {
            limit: i64::from(l.pids),
        }),
    };
    // devpts gid=5 ("tty") is fine: gid 5 is inside the mapped range.
    let mut mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        // The sandbox owns its network namespace, so sysfs can be mounted from the user namespace.
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", "ro"],
        ),
    ];
    mounts.push(Mount {
        destination: AGENT_PATH.into(),
        kind: "bind".into(),
        source: host.agent_binary.display().to_string(),
        options: strs(&["bind", "ro", "nosuid", "nodev"]),
    });
    mounts.push(Mount {
        destination: RUN_DIR.into(),
        kind: "bind".into(),
        source: host.run_dir.display().to_string(),
        options: strs(&["bind", "rw", "nosuid", "nodev", "noexec"]),
    });
    if let Some(resolv) = host.resolv_conf {
        mounts.push(Mount {
            destination: "/etc/resolv.conf".into(),
            kind: "bind".into(),
            source: resolv.display().to_string(),
            options: strs(&["bind", "ro", "nosuid", "nodev", "noexec"]),
        });
    }
    let namespaces = ["pid", "network", "ipc", "uts", "mount", "cgroup", "user"]
        .into_iter()
        .map(|kind| Namespace { kind })
        .collect();
    Spec {
        oci_version: "1.0.2",
        process: Process {
            terminal: false,
            user: User { uid: 0, gid: 0 },
            args: agent_args(spec, host.main_log),
            env: spec.env.clone(),
            cwd: "/".into(),
            capabilities: Capabilities {
                bounding: caps.clone(),
                effective: caps.clone(),
                permitted: caps,
            },
            // Raising NOFILE above the daemon's hard limit would fail (no CAP_SYS_RESOURCE on
            // some hosts); 1024 is runc's default and always fits.
            rlimits: vec![Rlimit {
                kind: "RLIMIT_NOFILE",
                hard: 1024,
                soft: 1024,
            }],
            no_new_privileges: true,
        },
        root: Root {
            path: "rootfs".into(),
            readonly: false,
        },
        hostname: spec.hostname.clone(),
        mounts,
        annotations: host
            .criu_config
            .map(|p| ("org.criu.config", p.display().to_string()))
            .into_iter()
            .collect(),
        linux: Linux {
            namespaces,
            uid_mappings: map,
            gid_mappings: gid_map,
            resources,
            cgroups_path: host.cgroups_path.clone(),
            masked_paths: strs(MASKED_PATHS),
            readonly_paths: strs(READONLY_PATHS),
            seccomp: super::seccomp::resolve(DEFAULT_CAPS, host.kernel, host.compat_32bit),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;
    use serde_json::Value;

    fn sample() -> SandboxSpec {
        SandboxSpec {
            id: "sb-1".into(),
            hostname: "box".into(),
            layers: vec![],
            env: vec!["PATH=/bin".into()],
            workdir: String::new(),
            user: "app".into(),
            main_cmd: Some(vec!["sleep".into(), "100".into()]),
            limits: Limits {
                memory_bytes: 256 << 20,
                cpu_millis: 500,
                pids: 64,
                disk_bytes: 0,
            },
            snapshot_layers: Vec::new(),
            restore_from: None,
            network: None,
        }
    }

    fn json() -> Value {
        let host = HostParts {
            id_map: IdMap::default(),
            agent_binary: Path::new("/opt/warren-agent"),
            run_dir: Path::new("/var/lib/warren/sandboxes/sb-1/run"),
            cgroups_path: "/warren/sb-1".into(),
            kernel: (6, 1),
            compat_32bit: false,
            main_log: LogRotation::default(),
            resolv_conf: None,
            criu_config: None,
        };
        serde_json::to_value(build(&sample(), &host)).unwrap()
    }

    #[test]
    fn process_runs_agent_as_root_with_docker_caps_only() {
        let j = json();
        let p = &j["process"];
        assert_eq!(p["user"]["uid"], 0);
        assert_eq!(p["terminal"], false);
        assert_eq!(p["noNewPrivileges"], true);
        let args: Vec<&str> = p["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "/.warren/agent",
                "--listen",
                "unix:/.warren/run/agent.sock",
                "--default-user",
                "app",
                "--workdir",
                "/",
                "--hostname",
                "box",
                "--stdio",
                "/.warren/run/agent.log",
                "--identity-file",
                "/.warren/identity.json",
                "--log",
                "/.warren/run/main.log",
                "--log-file-bytes",
                "8388608",
                "--log-files",
                "3",
                "--",
                "sleep",
                "100"
            ]
        );
        let caps = p["capabilities"]["bounding"].as_array().unwrap();
        assert_eq!(caps.len(), 14);
        assert!(!caps.iter().any(|c| c == "CAP_SYS_ADMIN"));
        assert_eq!(
            p["capabilities"]["effective"],
            p["capabilities"]["bounding"]
        );
        assert!(p["capabilities"].get("ambient").is_none());
        assert!(p["capabilities"].get("inheritable").is_none());
        assert_eq!(p["rlimits"][0]["type"], "RLIMIT_NOFILE");
    }

    #[test]
    fn all_namespaces_and_the_shifted_mapping() {
        let j = json();
        let ns: Vec<&str> = j["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        for want in ["pid", "network", "ipc", "uts", "mount", "cgroup", "user"] {
            assert!(ns.contains(&want), "missing {want}");
        }
        for key in ["uidMappings", "gidMappings"] {
            assert_eq!(
                j["linux"][key],
                serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}])
            );
        }
    }

    #[test]
    fn limits_become_cgroup_resources() {
        let r = &json()["linux"]["resources"];
        assert_eq!(r["memory"]["limit"], 256 << 20);
        assert_eq!(r["memory"]["swap"], 256 << 20);
        assert_eq!(r["cpu"]["quota"], 50_000);
        assert_eq!(r["cpu"]["period"], 100_000);
        assert_eq!(r["pids"]["limit"], 64);
        assert_eq!(json()["linux"]["cgroupsPath"], "/warren/sb-1");
    }

    #[test]
    fn zero_limits_are_omitted() {
        let mut s = sample();
        s.limits = Limits::default();
        let host = HostParts {
            id_map: IdMap::default(),
            agent_binary: Path::new("/a"),
            run_dir: Path::new("/r"),
            cgroups_path: "/warren/sb-1".into(),
            kernel: (6, 1),
            compat_32bit: false,
            main_log: LogRotation::default(),
            resolv_conf: None,
            criu_config: None,
        };
        let j = serde_json::to_value(build(&s, &host)).unwrap();
        let r = &j["linux"]["resources"];
        assert!(r.get("memory").is_none() && r.get("cpu").is_none() && r.get("pids").is_none());
    }

    #[test]
    fn agent_and_run_dir_are_bind_mounted_safely() {
        let j = json();
        let mounts = j["mounts"].as_array().unwrap();
        let find = |d: &str| {
            mounts
                .iter()
                .find(|m| m["destination"] == d)
                .unwrap()
                .clone()
        };
        let agent = find("/.warren/agent");
        assert_eq!(agent["source"], "/opt/warren-agent");
        for o in ["bind", "ro", "nosuid", "nodev"] {
            assert!(agent["options"].as_array().unwrap().iter().any(|x| x == o));
        }
        let run = find("/.warren/run");
        for o in ["bind", "nosuid", "nodev", "noexec"] {
            assert!(run["options"].as_array().unwrap().iter().any(|x| x == o));
        }
        assert_eq!(find("/proc")["type"], "proc");
        assert_eq!(find("/sys")["type"], "sysfs");
    }

    #[test]
    fn docker_masked_and_readonly_paths() {
        let j = json();
        let masked = j["linux"]["maskedPaths"].as_array().unwrap();
        assert!(masked.iter().any(|p| p == "/proc/kcore"));
        assert!(masked.iter().any(|p| p == "/sys/firmware"));
        let ro = j["linux"]["readonlyPaths"].as_array().unwrap();
        assert!(ro.iter().any(|p| p == "/proc/sys"));
        assert!(ro.iter().any(|p| p == "/proc/sysrq-trigger"));
    }

    #[test]
    fn seccomp_section_has_oci_shape() {
        let s = &json()["linux"]["seccomp"];
        assert_eq!(s["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(s["defaultErrnoRet"], 1);
        assert_eq!(s["architectures"], serde_json::json!(["SCMP_ARCH_X86_64"]));
        let rules = s["syscalls"].as_array().unwrap();
        let clone3 = rules
            .iter()
            .find(|r| r["names"] == serde_json::json!(["clone3"]))
            .unwrap();
        assert_eq!(clone3["errnoRet"], 38);
        assert!(
            !rules
                .iter()
                .any(|r| r["names"].as_array().unwrap().iter().any(|n| n == "mount"))
        );
        let clone = rules
            .iter()
            .find(|r| r["names"] == serde_json::json!(["clone"]))
            .unwrap();
        assert_eq!(clone["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
        assert_eq!(clone["args"][0]["valueTwo"], 0);
    }

    #[test]
    fn empty_user_means_root() {
        let mut s = sample();
        s.user.clear();
        s.main_cmd = None;
        let args = agent_args(&s, LogRotation::default());
        assert_eq!(args[4], "0:0");
        assert!(!args.contains(&"--".to_string()));
    }
}
