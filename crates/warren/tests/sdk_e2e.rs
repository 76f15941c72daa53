//! The SDKs' own test suites against a real daemon: `pytest sdk/python/tests` with the client
//! venv's Python and `node --test sdk/typescript/test/`, each followed by one of the examples
//! (the Python agent loop that branches to try three fixes; the TypeScript CI job).
//!
//! Before the Python suite, `mypy --strict` checks the package's annotations (it ships
//! `py.typed`); before the TypeScript suite, `tsc --noEmit --strict` (pinned in tests/clients) compiles
//! `sdk/typescript/test/types-check.ts` against the SDK's declarations.
//!
//! Each SDK gets its own registry and daemon, with the `python` fixture pushed and pulled, and
//! the `busybox` fixture pushed (not pulled: the suites pull and delete it themselves). The suites
//! read `WARREN_URL`, `WARREN_API_KEY`, `WARREN_TEST_IMAGE` and `WARREN_TEST_SMALL_IMAGE`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::clients;
use warren_api_types::PullRequest;

/// A daemon with the python image pulled, and the images' references.
struct Setup {
    _registry: common::Registry,
    daemon: common::Daemon,
    image: String,
    small: String,
}

fn setup(env: &common::Env) -> Setup {
    let registry = common::Registry::start();
    let image = registry.push(&env.fixtures.join("python"), "latest", "python");
    let small = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let daemon = common::Daemon::start(env);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let req = PullRequest {
        reference: image.clone(),
        insecure: false,
        username: None,
        password: None,
    };
    rt.block_on(daemon.client().pull_image(&req, |_| {}))
        .expect("pull the python fixture");
    Setup {
        _registry: registry,
        daemon,
        image,
        small,
    }
}

/// `program args…` in the repository root with the suite's environment.
fn suite_command(program: &Path, s: &Setup) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(clients::repo_root())
        .env("WARREN_URL", &s.daemon.url)
        .env("WARREN_API_KEY", common::TEST_KEY)
        .env("WARREN_TEST_IMAGE", &s.image)
        .env("WARREN_TEST_SMALL_IMAGE", &s.small)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("NO_COLOR", "1");
    cmd
}

/// No sandbox or snapshot left behind by a suite (its context managers and clean-ups work).
fn assert_nothing_left(s: &Setup) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let left = rt.block_on(s.daemon.client().list_all_sandboxes()).unwrap();
    assert!(
        left.is_empty(),
        "sandboxes left behind: {:?}",
        left.iter()
            .map(|sb| (&sb.id, &sb.labels))
            .collect::<Vec<_>>()
    );
}

#[test]
fn python_sdk_suite_and_agent_example() {
    let Some(env) = common::env() else { return };
    let Some(python) = clients::python() else {
        return;
    };
    let mypy_cache = tempfile::tempdir().unwrap();
    let mut mypy = Command::new(&python);
    mypy.current_dir(clients::repo_root())
        .args(["-m", "mypy", "--strict", "--cache-dir"])
        .arg(mypy_cache.path())
        .args(["sdk/python/src/warren", "examples/agent_branch_fixes.py"])
        .env("MYPYPATH", clients::repo_root().join("sdk/python/src"));
    clients::run_ok(mypy);
    let s = setup(&env);
    let mut pytest = suite_command(&python, &s);
    pytest.args([
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "sdk/python/tests",
    ]);
    clients::run_ok(pytest);
    assert_nothing_left(&s);

    let mut example = suite_command(&python, &s);
    example
        .args(["examples/agent_branch_fixes.py", "--image", &s.image])
        .env("PYTHONPATH", clients::repo_root().join("sdk/python/src"));
    let out = clients::run_ok(example);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("PASS  mean of the two middles on even length")
            && stdout.matches("fail  ").count() == 2,
        "exactly the right fix passes: {stdout}"
    );
    assert_nothing_left(&s);
}

#[test]
fn typescript_sdk_suite_and_ci_example() {
    let Some(env) = common::env() else { return };
    let Some(node) = node() else { return };
    let Some(node_modules) = clients::node_modules() else {
        return;
    };
    type_check(&node, &node_modules);
    let s = setup(&env);
    let mut suite = suite_command(&node, &s);
    suite.args(["--test", "sdk/typescript/test/"]);
    clients::run_ok(suite);
    assert_nothing_left(&s);

    let mut example = suite_command(&node, &s);
    example.args(["examples/ci_job.mjs", "--image", &s.image]);
    let out = clients::run_ok(example);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("run | 3 the") && stdout.contains("job passed"),
        "the job ran every step: {stdout}"
    );
    assert_nothing_left(&s);
}

/// The declarations compile and describe the API as `types-check.ts` uses it.
fn type_check(node: &Path, node_modules: &Path) {
    let mut tsc = Command::new(node);
    tsc.current_dir(clients::repo_root())
        .arg(node_modules.join("typescript/bin/tsc"))
        .args([
            "--noEmit",
            "--strict",
            "--target",
            "es2022",
            "--module",
            "nodenext",
            "--moduleResolution",
            "nodenext",
            "--lib",
            "es2022,esnext.disposable,dom",
            "--types",
            "node",
            "--typeRoots",
        ])
        .arg(node_modules.join("@types"))
        .arg("sdk/typescript/test/types-check.ts");
    clients::run_ok(tsc);
}

/// `node` (20 or later) from PATH, or `None` (a panic under `WARREN_REQUIRE_E2E`).
fn node() -> Option<PathBuf> {
    match common::which("node") {
        Some(node) => Some(node),
        None if std::env::var("WARREN_REQUIRE_E2E").is_ok_and(|v| v == "1") => {
            panic!("end-to-end tests cannot run: node is not installed")
        }
        None => {
            eprintln!("skipping end-to-end test: node is not installed");
            None
        }
    }
}
