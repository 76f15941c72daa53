//! The individual checks behind [`super::probe`]: each reads the host, classifies with
//! [`super::parse`] / [`super::cgroup`], and says what to do when something is missing.

use std::path::Path;
use std::time::Duration;

use super::cgroup::{self, CgroupMode};
use super::command::{RunError, find_binary, run};
use super::parse::{self, KvmKind};
use super::{Check, Probe};

const ROOT: Probe = Probe {
    name: "root",
    required: true,
};
const RUNC: Probe = Probe {
    name: "runc",
    required: true,
};
const CGROUPS: Probe = Probe {
    name: "cgroups",
    required: true,
};
const USERNS: Probe = Probe {
    name: "user_namespaces",
    required: true,
};
const OVERLAYFS: Probe = Probe {
    name: "overlayfs",
    required: true,
};
const SECCOMP: Probe = Probe {
    name: "seccomp",
    required: true,
};
const CRIU: Probe = Probe {
    name: "criu",
    required: false,
};
const IPTABLES: Probe = Probe {
    name: "iptables",
    required: false,
};
const DISK_QUOTA: Probe = Probe {
    name: "disk_quota",
    required: false,
};
const KVM: Probe = Probe {
    name: "kvm",
    required: false,
};

const SHORT: Duration = Duration::from_secs(5);
const SETUP: &str = "run scripts/setup-host.sh as root";

/// `err` and its causes, for a one-line detail.
fn describe(err: &RunError) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

pub(super) fn root() -> Check {
    let euid = nix::unistd::geteuid();
    if euid.is_root() {
        ROOT.ok("running as root")
    } else {
        ROOT.fail(
            format!("running as uid {euid}; warren needs root for now"),
            "run warren as root (e.g. sudo warren ...)",
        )
    }
}

pub(super) fn runc() -> Check {
    let Some(bin) = find_binary("runc") else {
        return RUNC.fail(
            "runc not found in PATH or sbin directories",
            "apt-get install runc",
        );
    };
    let reinstall = "apt-get install --reinstall runc";
    match run(&bin, &["--version"], SHORT) {
        Ok(out) => match parse::parse_runc_version(&out.stdout) {
            Some(v) => {
                let seccomp = v.libseccomp.map(|s| format!(" (libseccomp {s})"));
                RUNC.ok(format!(
                    "runc {} at {}{}",
                    v.version,
                    bin.display(),
                    seccomp.unwrap_or_default()
                ))
            }
            None => RUNC.fail(
                format!("unrecognised `runc --version` output: {}", out.first_line()),
                reinstall,
            ),
        },
        Err(e) => RUNC.fail(
            format!("{} --version: {}", bin.display(), describe(&e)),
            reinstall,
        ),
    }
}

pub(super) fn criu() -> Check {
    let fix = format!("{SETUP} (builds CRIU 4.1.1 into /usr/local/sbin/criu)");
    let Some(bin) = find_binary("criu") else {
        return CRIU.warn(
            "criu not found: hibernate and snapshots are unavailable",
            fix,
        );
    };
    let version = run(&bin, &["--version"], SHORT)
        .ok()
        .and_then(|out| parse::parse_criu_version(&out.stdout));
    let Some((major, minor, patch)) = version else {
        return CRIU.warn(format!("cannot read the version of {}", bin.display()), fix);
    };
    let found = format!("criu {major}.{minor}.{patch} at {}", bin.display());
    if major < 4 {
        return CRIU.warn(format!("{found}: version 4 or newer is needed"), fix);
    }
    match run(&bin, &["check"], Duration::from_secs(20)) {
        Ok(out) if out.success => CRIU.ok(format!("{found}: `criu check` passed")),
        Ok(out) => CRIU.warn(
            format!("{found}: `criu check` failed: {}", out.last_error_line()),
            fix,
        ),
        Err(e) => CRIU.warn(format!("{found}: `criu check`: {}", describe(&e)), fix),
    }
}

pub(super) fn cgroups(root: &Path) -> Check {
    let info = cgroup::classify_cgroups(root);
    let missing = info.missing(cgroup::REQUIRED_CONTROLLERS);
    let detail = match info.mode {
        CgroupMode::None => format!("no cgroup hierarchy found at {}", root.display()),
        mode => format!(
            "{mode} at {}; controllers: {}",
            root.display(),
            info.controllers.join(" ")
        ),
    };
    if !missing.is_empty() {
        return CGROUPS.fail(
            format!("{detail}; missing: {}", missing.join(" ")),
            format!(
                "enable the {} cgroup controller(s): mount them (v1) or list them in the parent's \
                 cgroup.subtree_control (v2); some kernels need `cgroup_enable=memory` on the \
                 kernel command line",
                missing.join(", ")
            ),
        );
    }
    if info.mode != CgroupMode::V2 && !info.has("freezer") {
        return CGROUPS.warn(
            format!("{detail}; no freezer: pausing sandboxes is unavailable"),
            "mount the cgroup v1 freezer controller (or boot with cgroup v2)",
        );
    }
    CGROUPS.ok(detail)
}

pub(super) fn user_namespaces() -> Check {
    let fix = "enable user namespaces (kernel CONFIG_USER_NS; sysctls user.max_user_namespaces > 0 \
               and kernel.unprivileged_userns_clone=1): run scripts/setup-host.sh";
    let max = read_trimmed("/proc/sys/user/max_user_namespaces");
    let mut facts = vec![format!(
        "user.max_user_namespaces={}",
        max.as_deref().unwrap_or("?")
    )];
    if let Some(clone) = read_trimmed("/proc/sys/kernel/unprivileged_userns_clone") {
        facts.push(format!("kernel.unprivileged_userns_clone={clone}"));
    }
    if max.as_deref() == Some("0") {
        return USERNS.fail(facts.join(", "), fix);
    }
    let Some(unshare) = find_binary("unshare") else {
        facts.push("unshare(1) not found, so not tried".into());
        return USERNS.ok(facts.join(", "));
    };
    match run(&unshare, &["--user", "true"], SHORT) {
        Ok(out) if out.success => {
            facts.insert(0, "`unshare --user true` works".into());
            USERNS.ok(facts.join(", "))
        }
        Ok(out) => {
            let why = format!("`unshare --user true` failed: {}", out.last_error_line());
            facts.insert(0, why);
            USERNS.fail(facts.join(", "), fix)
        }
        Err(e) => USERNS.fail(format!("`unshare --user true`: {}", describe(&e)), fix),
    }
}

pub(super) fn overlayfs() -> Check {
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if parse::has_filesystem(&filesystems, "overlay") {
        return OVERLAYFS.ok("overlay listed in /proc/filesystems");
    }
    // Not registered yet: a loadable module is auto-loaded by the first overlay mount.
    let loadable = find_binary("modprobe")
        .and_then(|m| run(&m, &["--dry-run", "--quiet", "overlay"], SHORT).ok())
        .is_some_and(|out| out.success);
    if loadable {
        OVERLAYFS.ok("overlay module available (loaded by the first mount)")
    } else {
        OVERLAYFS.fail(
            "overlay is neither in /proc/filesystems nor a loadable module",
            "modprobe overlay (the kernel needs CONFIG_OVERLAY_FS)",
        )
    }
}

/// Disk quotas need a loop device, ext4 and mkfs.ext4 (see `container/disk.rs`).
pub(super) fn disk_quota() -> Check {
    let off = "or run `warren serve --default-disk-mb 0` (sandboxes without disk quotas)";
    if !Path::new("/dev/loop-control").exists() {
        return DISK_QUOTA.warn(
            "no /dev/loop-control: sandboxes cannot get disk quotas",
            format!("modprobe loop (the kernel needs CONFIG_BLK_DEV_LOOP), {off}"),
        );
    }
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !parse::has_filesystem(&filesystems, "ext4") {
        return DISK_QUOTA.warn(
            "ext4 is not in /proc/filesystems: sandboxes cannot get disk quotas",
            format!("modprobe ext4, {off}"),
        );
    }
    match find_binary("mkfs.ext4") {
        Some(mkfs) => DISK_QUOTA.ok(format!(
            "loop devices, ext4 and {} (a sparse ext4 image per sandbox)",
            mkfs.display()
        )),
        None => DISK_QUOTA.warn(
            "mkfs.ext4 not found: sandboxes cannot get disk quotas",
            format!("apt-get install e2fsprogs, {off}"),
        ),
    }
}

pub(super) fn seccomp() -> Check {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let actions = read_trimmed("/proc/sys/kernel/seccomp/actions_avail");
    match (parse::parse_seccomp_mode(&status), actions) {
        (Some(mode), Some(actions)) => SECCOMP.ok(format!(
            "seccomp filters supported (actions: {actions}; this process: mode {mode})"
        )),
        (Some(mode), None) => SECCOMP.ok(format!("seccomp supported (this process: mode {mode})")),
        (None, _) => SECCOMP.fail(
            "the kernel has no seccomp (no Seccomp: line in /proc/self/status)",
            "use a kernel built with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER",
        ),
    }
}

pub(super) fn iptables() -> Check {
    let fix = "apt-get install iptables";
    let Some(bin) = find_binary("iptables") else {
        return IPTABLES.warn(
            "iptables not found: CRIU needs it to checkpoint sandboxes",
            fix,
        );
    };
    match run(&bin, &["--version"], SHORT) {
        Ok(out) if out.success => IPTABLES.ok(out.first_line().to_string()),
        Ok(out) => IPTABLES.warn(
            format!("`iptables --version` failed: {}", out.last_error_line()),
            fix,
        ),
        Err(e) => IPTABLES.warn(format!("{}: {}", bin.display(), describe(&e)), fix),
    }
}

pub(super) fn kvm() -> Check {
    let modules = std::fs::read_to_string("/proc/modules").unwrap_or_default();
    let pvm =
        Path::new("/sys/module/kvm_pvm").exists() || parse::module_loaded(&modules, "kvm_pvm");
    match parse::classify_kvm(Path::new("/dev/kvm").exists(), pvm) {
        KvmKind::Real => KVM.ok("real (hardware-assisted KVM at /dev/kvm)"),
        KvmKind::Pvm => KVM.warn(
            "PVM (stock guest kernels hang; microVMs will use TCG)",
            "nothing to do for containers; for fast microVMs use a host with VT-x/AMD-V \
             (kvm_intel/kvm_amd)",
        ),
        KvmKind::Absent => KVM.warn(
            "absent (no /dev/kvm; microVMs will use TCG)",
            "enable VT-x/AMD-V (or nested virtualization) and modprobe kvm_intel or kvm_amd",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    fn fake_v1(root: &Path, controllers: &[&str]) {
        for c in controllers {
            std::fs::create_dir(root.join(c)).unwrap();
            std::fs::write(root.join(c).join("cgroup.procs"), "").unwrap();
        }
    }

    #[test]
    fn cgroups_fail_without_memory_controller() {
        let dir = tempfile::tempdir().unwrap();
        fake_v1(dir.path(), &["cpu", "pids", "freezer"]);
        let check = cgroups(dir.path());
        assert_eq!(check.status, Status::Fail);
        assert!(check.required);
        assert!(check.detail.contains("missing: memory"), "{}", check.detail);
        assert!(check.fix.unwrap().contains("memory"));
    }

    #[test]
    fn cgroups_warn_without_v1_freezer() {
        let dir = tempfile::tempdir().unwrap();
        fake_v1(dir.path(), &["cpu", "pids", "memory"]);
        let check = cgroups(dir.path());
        assert_eq!(check.status, Status::Warn);
        assert!(check.detail.starts_with("cgroup v1 at"), "{}", check.detail);
    }

    #[test]
    fn cgroups_ok_on_v2() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cgroup.controllers"),
            "cpu io memory pids\n",
        )
        .unwrap();
        let check = cgroups(dir.path());
        assert_eq!(check.status, Status::Ok, "{}", check.detail);
        assert!(check.detail.contains("cgroup v2"), "{}", check.detail);
    }

    #[test]
    fn cgroups_fail_on_empty_tree() {
        let dir = tempfile::tempdir().unwrap();
        let check = cgroups(dir.path());
        assert_eq!(check.status, Status::Fail);
        assert!(
            check.detail.starts_with("no cgroup hierarchy"),
            "{}",
            check.detail
        );
    }

    #[test]
    fn describe_includes_the_cause() {
        let err = run(Path::new("/nonexistent/criu"), &[], SHORT).unwrap_err();
        let text = describe(&err);
        assert!(text.starts_with("cannot start it: "), "{text}");
        assert!(text.len() > "cannot start it: ".len(), "{text}");
    }
}
