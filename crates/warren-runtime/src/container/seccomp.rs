//! The seccomp filter of a sandbox: Docker's default policy, resolved for our capabilities.
//!
//! `seccomp_default.json` holds the policy as conditional rules (a rule may apply only when a
//! capability is granted, only when one is *not*, only on some architectures, or only from some
//! kernel version on). [`resolve`] turns it into the OCI `linux.seccomp` section for a capability
//! set, the way moby's profile loader does:
//! - `caps`: keep the rule only if every listed capability is granted;
//! - `excludeCaps`: drop the rule if any listed capability is granted;
//! - `arches`: keep only if the host architecture (Go's name, `amd64`) is listed;
//! - `minKernel`: keep only if the running kernel is at least that version.
//!
//! With Docker's default capabilities (no `CAP_SYS_ADMIN`), `mount`, `unshare`, `setns` and
//! friends are denied (EPERM), `clone` is allowed only without `CLONE_NEW*` flags, and `clone3`
//! fails with ENOSYS so that libc falls back to `clone`.

use serde::{Deserialize, Serialize};

use super::spec::{Seccomp, SeccompArg, SeccompSyscall};

const PROFILE: &str = include_str!("seccomp_default.json");

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    default_errno_ret: u32,
    architectures: Vec<String>,
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    action: String,
    names: Vec<String>,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Vec<RuleArg>,
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    exclude_caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
    #[serde(default)]
    min_kernel: Option<(u32, u32)>,
}

#[derive(Deserialize, Serialize)]
struct RuleArg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

/// The host architecture in the profile's vocabulary (Go's `GOARCH`).
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The running kernel's (major, minor), or (0, 0) when unknown (conservative: drops
/// version-gated allowances).
pub(crate) fn kernel_version() -> (u32, u32) {
    let Ok(uts) = nix::sys::utsname::uname() else {
        return (0, 0);
    };
    parse_kernel_version(&uts.release().to_string_lossy())
}

fn parse_kernel_version(release: &str) -> (u32, u32) {
    let mut it = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|s| s.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// Resolve Docker's default profile for `caps` (names like `CAP_CHOWN`) on a kernel `kernel`;
/// with `compat_32bit` false, only the first (native) architecture of the profile is kept.
pub(crate) fn resolve(caps: &[&str], kernel: (u32, u32), compat_32bit: bool) -> Seccomp {
    // The profile is compiled in; a parse failure is a build defect caught by the unit tests.
    let profile: Profile = serde_json::from_str(PROFILE).expect("seccomp_default.json is valid");
    let arch = host_arch();
    let granted = |c: &String| caps.contains(&c.as_str());
    let syscalls = profile
        .rules
        .into_iter()
        .filter(|r| r.caps.iter().all(granted))
        .filter(|r| !r.exclude_caps.iter().any(granted))
        .filter(|r| r.arches.is_empty() || r.arches.iter().any(|a| a == arch))
        .filter(|r| r.min_kernel.is_none_or(|min| kernel >= min))
        .map(|r| SeccompSyscall {
            names: r.names,
            action: r.action,
            errno_ret: r.errno_ret,
            args: r
                .args
                .into_iter()
                .map(|a| SeccompArg {
                    index: a.index,
                    value: a.value,
                    value_two: a.value_two,
                    op: a.op,
                })
                .collect(),
        })
        .collect();
    Seccomp {
        default_action: profile.default_action,
        default_errno_ret: Some(profile.default_errno_ret),
        architectures: if compat_32bit {
            profile.architectures
        } else {
            profile.architectures.into_iter().take(1).collect()
        },
        syscalls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::spec::DEFAULT_CAPS;

    fn allowed_unconditionally(s: &Seccomp, name: &str) -> bool {
        s.syscalls.iter().any(|r| {
            r.action == "SCMP_ACT_ALLOW" && r.args.is_empty() && r.names.iter().any(|n| n == name)
        })
    }

    fn mentioned(s: &Seccomp, name: &str) -> bool {
        s.syscalls.iter().any(|r| r.names.iter().any(|n| n == name))
    }

    #[test]
    fn kernel_versions_parse() {
        assert_eq!(parse_kernel_version("6.18.44-fc-v657"), (6, 18));
        assert_eq!(parse_kernel_version("4.8.0"), (4, 8));
        assert_eq!(parse_kernel_version("garbage"), (0, 0));
    }

    #[test]
    fn default_caps_deny_namespace_and_mount_syscalls() {
        let s = resolve(DEFAULT_CAPS, (6, 1), false);
        assert_eq!(s.default_action, "SCMP_ACT_ERRNO");
        assert_eq!(s.default_errno_ret, Some(1));
        for name in [
            "mount",
            "umount2",
            "unshare",
            "setns",
            "bpf",
            "perf_event_open",
            "reboot",
        ] {
            assert!(!mentioned(&s, name), "{name} must not be allowed");
        }
        for name in [
            "read",
            "execve",
            "chroot",
            "arch_prctl",
            "modify_ldt",
            "ptrace",
        ] {
            assert!(allowed_unconditionally(&s, name), "{name} must be allowed");
        }
    }

    #[test]
    fn clone3_is_enosys_and_clone_is_flag_checked() {
        let s = resolve(DEFAULT_CAPS, (6, 1), false);
        let clone3: Vec<_> = s
            .syscalls
            .iter()
            .filter(|r| r.names == ["clone3"])
            .collect();
        assert_eq!(clone3.len(), 1);
        assert_eq!(clone3[0].action, "SCMP_ACT_ERRNO");
        assert_eq!(clone3[0].errno_ret, Some(38));
        let clone: Vec<_> = s
            .syscalls
            .iter()
            .filter(|r| r.names.contains(&"clone".into()))
            .collect();
        assert_eq!(clone.len(), 1, "only the flag-checked clone rule");
        assert_eq!(clone[0].args[0].op, "SCMP_CMP_MASKED_EQ");
        assert_eq!(clone[0].args[0].value, 0x7E02_0000);
    }

    #[test]
    fn sys_admin_allows_mount_and_plain_clone3() {
        let mut caps = DEFAULT_CAPS.to_vec();
        caps.push("CAP_SYS_ADMIN");
        let s = resolve(&caps, (6, 1), false);
        assert!(allowed_unconditionally(&s, "mount"));
        assert!(allowed_unconditionally(&s, "clone3"));
        assert!(!s.syscalls.iter().any(|r| r.errno_ret == Some(38)));
    }

    #[test]
    fn ptrace_needs_kernel_4_8() {
        assert!(!allowed_unconditionally(
            &resolve(DEFAULT_CAPS, (4, 4), false),
            "ptrace"
        ));
        assert!(allowed_unconditionally(
            &resolve(DEFAULT_CAPS, (4, 8), false),
            "ptrace"
        ));
    }

    #[test]
    fn socket_denies_only_vsock() {
        let s = resolve(DEFAULT_CAPS, (6, 1), false);
        let sock: Vec<_> = s
            .syscalls
            .iter()
            .filter(|r| r.names == ["socket"])
            .collect();
        assert_eq!(sock.len(), 1);
        assert_eq!(sock[0].args[0].op, "SCMP_CMP_NE");
        assert_eq!(sock[0].args[0].value, 40);
    }

    #[test]
    fn native_abi_only_unless_32bit_compat_is_asked_for() {
        let native = resolve(DEFAULT_CAPS, (6, 1), false);
        assert_eq!(native.architectures, ["SCMP_ARCH_X86_64"]);
        let compat = resolve(DEFAULT_CAPS, (6, 1), true);
        assert_eq!(
            compat.architectures,
            ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        );
        assert_eq!(native.syscalls.len(), compat.syscalls.len());
    }
}
