//! Host capability checks behind `warren doctor`.
//!
//! [`probe`] inspects the machine once and returns a [`Report`]: one [`Check`] per capability
//! warren uses (root, runc, cgroup controllers, user namespaces, overlayfs, seccomp, CRIU,
//! iptables, KVM), each with what was found and, when something is wrong, the exact action that
//! fixes it. Checks marked `required` gate sandboxes: [`Report::can_run_sandboxes`] is false when
//! any of them failed. The others (CRIU for hibernate/snapshots, iptables for CRIU, KVM for fast
//! microVMs) only warn.
//!
//! The flow: `checks` reads files under `/proc` and `/sys` and runs a few read-only commands
//! (`runc --version`, `criu check`, `unshare --user true`, ...) through `command`, each under a
//! short timeout; it classifies what it saw with the pure functions in [`parse`] and [`cgroup`],
//! which are unit-tested against captured text and fake directory trees. Probing changes nothing
//! on the host; `scripts/setup-host.sh` is the fixer most checks point to.

pub mod cgroup;
mod checks;
mod command;
pub mod parse;

use serde::Serialize;

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Present and usable.
    Ok,
    /// Missing or degraded, but sandboxes still run (some feature is slower or unavailable).
    Warn,
    /// Missing or broken; if the check is required, sandboxes cannot run.
    Fail,
}

impl Status {
    /// Lower-case label for tables: `ok`, `warn`, `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One host capability and what was found.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable machine-readable name: `root`, `runc`, `cgroups`, `user_namespaces`, `overlayfs`,
    /// `seccomp`, `criu`, `iptables` or `kvm`.
    pub name: &'static str,
    /// Whether the capability is usable.
    pub status: Status,
    /// What was found, e.g. `runc 1.1.5+ds1 at /usr/sbin/runc (libseccomp 2.5.4)`.
    pub detail: String,
    /// The command or action that fixes a `warn`/`fail`; `None` when the check is `ok`.
    pub fix: Option<String>,
    /// Whether sandboxes need this check to pass.
    pub required: bool,
}

/// Result of [`probe`]: every check, in a stable order.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The checks, in the order they were run (required ones first).
    pub checks: Vec<Check>,
}

impl Report {
    /// True when no required check failed. A required check may `warn` (cgroups without the v1
    /// freezer: sandboxes run, pausing them does not) without blocking sandboxes.
    pub fn can_run_sandboxes(&self) -> bool {
        self.checks
            .iter()
            .all(|c| !c.required || c.status != Status::Fail)
    }

    /// The check with this name, if it was run.
    pub fn get(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// Inspects this host. Takes well under a second on a healthy host (~150 ms here); every command
/// it runs is bounded by a timeout, so a hung tool costs at most that long.
pub fn probe() -> Report {
    Report {
        checks: vec![
            checks::root(),
            checks::runc(),
            checks::cgroups(std::path::Path::new("/sys/fs/cgroup")),
            checks::user_namespaces(),
            checks::overlayfs(),
            checks::seccomp(),
            checks::disk_quota(),
            checks::criu(),
            checks::iptables(),
            checks::kvm(),
        ],
    }
}

/// A check's identity; builds its [`Check`] results so each call site names only the outcome.
#[derive(Debug, Clone, Copy)]
struct Probe {
    name: &'static str,
    required: bool,
}

impl Probe {
    fn result(self, status: Status, detail: impl Into<String>, fix: Option<String>) -> Check {
        Check {
            name: self.name,
            status,
            detail: detail.into(),
            fix,
            required: self.required,
        }
    }

    fn ok(self, detail: impl Into<String>) -> Check {
        self.result(Status::Ok, detail, None)
    }

    fn warn(self, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        self.result(Status::Warn, detail, Some(fix.into()))
    }

    fn fail(self, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        self.result(Status::Fail, detail, Some(fix.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: Probe = Probe {
        name: "runc",
        required: true,
    };
    const OPT: Probe = Probe {
        name: "kvm",
        required: false,
    };

    #[test]
    fn can_run_sandboxes_only_fails_on_required_failures() {
        let optional_failed = Report {
            checks: vec![REQ.ok("runc 1.1.5"), OPT.fail("absent", "x")],
        };
        assert!(optional_failed.can_run_sandboxes());
        let warned = Report {
            checks: vec![REQ.warn("no freezer", "x"), OPT.warn("PVM", "x")],
        };
        assert!(warned.can_run_sandboxes());
        let required_failed = Report {
            checks: vec![
                REQ.fail("not found", "apt-get install runc"),
                OPT.ok("real"),
            ],
        };
        assert!(!required_failed.can_run_sandboxes());
        assert_eq!(
            required_failed.get("runc").map(|c| c.status),
            Some(Status::Fail)
        );
        assert!(required_failed.get("criu").is_none());
    }

    #[test]
    fn report_serializes_for_json_output() {
        let report = Report {
            checks: vec![
                REQ.fail("not found", "apt-get install runc"),
                OPT.ok("real"),
            ],
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["checks"][0],
            serde_json::json!({
                "name": "runc", "status": "fail", "detail": "not found",
                "fix": "apt-get install runc", "required": true
            })
        );
        assert_eq!(json["checks"][1]["status"], "ok");
        assert_eq!(json["checks"][1]["fix"], serde_json::Value::Null);
    }

    #[test]
    fn probe_reports_every_check_once_with_fixes_for_problems() {
        let report = probe();
        let names: Vec<_> = report.checks.iter().map(|c| c.name).collect();
        let expected = [
            "root",
            "runc",
            "cgroups",
            "user_namespaces",
            "overlayfs",
            "seccomp",
            "disk_quota",
            "criu",
            "iptables",
            "kvm",
        ];
        assert_eq!(names, expected);
        for check in &report.checks {
            assert!(!check.detail.is_empty(), "{} has no detail", check.name);
            assert_eq!(
                check.fix.is_some(),
                check.status != Status::Ok,
                "{check:?}: a fix exactly when not ok"
            );
        }
        let required: Vec<_> = report
            .checks
            .iter()
            .filter(|c| c.required)
            .map(|c| c.name)
            .collect();
        assert_eq!(required, &expected[..6]);
    }
}
