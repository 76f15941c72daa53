//! Pure parsers for the outputs and `/proc` files the doctor reads, kept apart so they can be
//! tested on captured text from hosts we don't have.

/// What `runc --version` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuncVersion {
    /// The version string, e.g. `1.1.5+ds1`.
    pub version: String,
    /// The libseccomp runc was built with, when it says.
    pub libseccomp: Option<String>,
}

/// Parses `runc --version`:
///
/// ```text
/// runc version 1.1.5+ds1
/// commit: 1.1.5+ds1-1+deb12u1
/// spec: 1.0.2-dev
/// go: go1.19.8
/// libseccomp: 2.5.4
/// ```
pub fn parse_runc_version(out: &str) -> Option<RuncVersion> {
    let version = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("runc version "))?
        .trim();
    if version.is_empty() {
        return None;
    }
    let libseccomp = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("libseccomp:"))
        .map(|s| s.trim().to_string());
    Some(RuncVersion {
        version: version.to_string(),
        libseccomp,
    })
}

/// Parses `criu --version` (`Version: 4.1.1`, possibly followed by `GitID: ...`) into
/// `(major, minor, patch)`; a missing patch level is 0.
pub fn parse_criu_version(out: &str) -> Option<(u32, u32, u32)> {
    let v = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Version:"))?;
    let v = v.split_whitespace().next()?;
    // Each dotted part's leading digits: "4.2-rc1" is 4.2.0.
    let mut parts = v.split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    });
    let major = parts.next().flatten()?;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// Whether `/proc/filesystems` text lists filesystem `name` (last column, `nodev` or not).
pub fn has_filesystem(proc_filesystems: &str, name: &str) -> bool {
    proc_filesystems
        .lines()
        .any(|l| l.split_whitespace().last() == Some(name))
}

/// The `Seccomp:` mode from `/proc/self/status` (0 none, 1 strict, 2 filter); `None` when the
/// kernel has no seccomp at all (the field is then absent).
pub fn parse_seccomp_mode(proc_status: &str) -> Option<u8> {
    proc_status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Whether `/proc/modules` text lists module `name` as loaded.
pub fn module_loaded(proc_modules: &str, name: &str) -> bool {
    proc_modules
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

/// What kind of hardware virtualization `/dev/kvm` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvmKind {
    /// No `/dev/kvm`: microVMs fall back to TCG.
    Absent,
    /// `/dev/kvm` comes from the `kvm_pvm` module (PVM): stock guest kernels hang under it, so
    /// microVMs use TCG.
    Pvm,
    /// Hardware-assisted KVM (VT-x/AMD-V).
    Real,
}

/// Classifies KVM from whether `/dev/kvm` exists and whether `kvm_pvm` is loaded.
pub fn classify_kvm(dev_kvm_exists: bool, kvm_pvm_loaded: bool) -> KvmKind {
    match (dev_kvm_exists, kvm_pvm_loaded) {
        (false, _) => KvmKind::Absent,
        (true, true) => KvmKind::Pvm,
        (true, false) => KvmKind::Real,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_version_debian_bookworm() {
        let out = "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\nlibseccomp: 2.5.4\n";
        let v = parse_runc_version(out).unwrap();
        assert_eq!(v.version, "1.1.5+ds1");
        assert_eq!(v.libseccomp.as_deref(), Some("2.5.4"));
    }

    #[test]
    fn runc_version_without_libseccomp_and_garbage() {
        let v = parse_runc_version("runc version 1.2.0\ncommit: v1.2.0-0-g1234\n").unwrap();
        assert_eq!(v.version, "1.2.0");
        assert_eq!(v.libseccomp, None);
        assert_eq!(parse_runc_version("runc: command not found"), None);
        assert_eq!(parse_runc_version("runc version \n"), None);
        assert_eq!(parse_runc_version(""), None);
    }

    #[test]
    fn criu_versions() {
        assert_eq!(parse_criu_version("Version: 4.1.1\n"), Some((4, 1, 1)));
        assert_eq!(
            parse_criu_version("Version: 3.17.1\nGitID: v3.17.1\n"),
            Some((3, 17, 1))
        );
        assert_eq!(parse_criu_version("Version: 4.0\n"), Some((4, 0, 0)));
        assert_eq!(parse_criu_version("Version: 4.2-rc1\n"), Some((4, 2, 0)));
        assert_eq!(parse_criu_version("criu: unknown option\n"), None);
        assert_eq!(parse_criu_version("Version: \n"), None);
    }

    #[test]
    fn filesystems() {
        let text = "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\nnodev\tfuse\n";
        assert!(has_filesystem(text, "overlay"));
        assert!(has_filesystem(text, "ext4"));
        assert!(!has_filesystem(text, "btrfs"));
        assert!(!has_filesystem("nodev\toverlayfs\n", "overlay"));
    }

    #[test]
    fn seccomp_mode() {
        let status = "Name:\tcat\nNoNewPrivs:\t0\nSeccomp:\t2\nSeccomp_filters:\t1\n";
        assert_eq!(parse_seccomp_mode(status), Some(2));
        assert_eq!(
            parse_seccomp_mode("Seccomp:\t0\nSeccomp_filters:\t0\n"),
            Some(0)
        );
        assert_eq!(parse_seccomp_mode("Name:\tcat\nNoNewPrivs:\t0\n"), None);
    }

    #[test]
    fn kvm_classification_from_proc_modules() {
        let pvm = "kvm_pvm 126976 0 - Live 0x0000000000000000\nkvm 1200128 1 kvm_pvm, Live 0x0000000000000000\n";
        let intel = "kvm_intel 397312 0 - Live 0x0\nkvm 1200128 1 kvm_intel, Live 0x0\n";
        assert!(module_loaded(pvm, "kvm_pvm"));
        assert!(!module_loaded(intel, "kvm_pvm"));
        assert!(!module_loaded(
            "kvm 1200128 1 kvm_pvm, Live 0x0\n",
            "kvm_pvm"
        ));
        assert_eq!(
            classify_kvm(true, module_loaded(pvm, "kvm_pvm")),
            KvmKind::Pvm
        );
        assert_eq!(
            classify_kvm(true, module_loaded(intel, "kvm_pvm")),
            KvmKind::Real
        );
        assert_eq!(
            classify_kvm(false, module_loaded(intel, "kvm_pvm")),
            KvmKind::Absent
        );
        assert_eq!(classify_kvm(false, true), KvmKind::Absent);
    }
}
