//! The client programs some end-to-end tests drive against a real daemon: Python packages
//! (pytest, the SDK's dependencies, the unmodified `e2b` SDK, the `mcp` client) in a venv, and
//! npm packages (the `e2b` JS SDK, `playwright-core`) in `tests/clients/node_modules`. Both are
//! pinned in `tests/clients/` and installed by `scripts/setup-host.sh --with-test-deps`.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Where setup-host.sh puts the venv (`WARREN_CLIENTS_VENV` overrides).
const VENV_DEFAULT: &str = "/opt/warren-test/clients";

/// The repository's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// The venv's python, or `None` (a panic under `WARREN_REQUIRE_E2E`) when it is not installed.
pub fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("WARREN_CLIENTS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(VENV_DEFAULT));
    let python = venv.join("bin/python");
    present(
        python,
        "the client venv (scripts/setup-host.sh --with-test-deps)",
    )
}

/// `tests/clients/node_modules`, or `None` (a panic under `WARREN_REQUIRE_E2E`) when absent.
pub fn node_modules() -> Option<PathBuf> {
    let dir = repo_root().join("tests/clients/node_modules");
    present(
        dir,
        "tests/clients/node_modules (scripts/setup-host.sh --with-test-deps)",
    )
}

fn present(path: PathBuf, what: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    let reason = format!("{what} missing: {}", path.display());
    if std::env::var("WARREN_REQUIRE_E2E").is_ok_and(|v| v == "1") {
        panic!("end-to-end tests cannot run: {reason}");
    }
    eprintln!("skipping end-to-end test: {reason}");
    None
}

/// Run `cmd`, print its output (the test's own log shows what the client saw), and fail the
/// test with that output when it does not exit 0.
pub fn run_ok(mut cmd: Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd.output().unwrap_or_else(|e| panic!("{shown}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- {shown}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert!(
        out.status.success(),
        "{shown} failed: {}\n{stdout}\n{stderr}",
        out.status
    );
    out
}
