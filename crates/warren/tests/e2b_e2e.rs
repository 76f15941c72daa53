//! The unmodified E2B SDKs against a real daemon: the Python `e2b` 2.63.0 package (create,
//! commands foreground/background/streaming/failing, files, info, timeouts, list with filters
//! and paging, pause → connect with memory intact, kill), the JavaScript `e2b` 2.51.0 package
//! (create, run, files), and the wire details the SDKs rely on (E2B-shaped errors everywhere,
//! 409 on a second pause, 200 vs 201 on connect, the sandbox side's access token).
//!
//! The daemon's `base` template is the `python` fixture image; the clients find it through
//! `E2B_API_URL=<daemon>/e2b` and `E2B_SANDBOX_URL=<daemon>`.

mod common;

use std::process::Command;

use common::clients;

/// A daemon whose E2B `base` template is the python fixture, and the env the SDKs need.
struct Setup {
    _registry: common::Registry,
    daemon: common::Daemon,
}

impl Setup {
    fn start(env: &common::Env) -> Self {
        let registry = common::Registry::start();
        let image = registry.push(&env.fixtures.join("python"), "latest", "python");
        let daemon = common::Daemon::start_with_args(
            env,
            &[
                "--e2b-default-template",
                &image,
                "--e2b-template",
                &format!("py={image}"),
            ],
        );
        Self {
            _registry: registry,
            daemon,
        }
    }

    fn command(&self, program: &std::path::Path, script: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.arg(clients::repo_root().join("tests/e2b").join(script))
            .env("E2B_API_URL", format!("{}/e2b", self.daemon.url))
            .env("E2B_SANDBOX_URL", &self.daemon.url)
            .env("E2B_API_KEY", common::TEST_KEY)
            .env_remove("E2B_DOMAIN")
            .env_remove("E2B_DEBUG");
        cmd
    }
}

#[test]
fn python_sdk_drives_warren() {
    let (Some(env), Some(python)) = (common::env(), clients::python()) else {
        return;
    };
    let setup = Setup::start(&env);
    clients::run_ok(setup.command(&python, "python_sdk.py"));
}

#[test]
fn js_sdk_and_wire_details() {
    let (Some(env), Some(python), Some(node_modules)) =
        (common::env(), clients::python(), clients::node_modules())
    else {
        return;
    };
    let setup = Setup::start(&env);
    clients::run_ok(setup.command(&python, "wire.py"));
    let node = common::which("node").expect("node is installed with the test clients");
    let mut js = setup.command(&node, "js_sdk.cjs");
    js.env("NODE_PATH", node_modules);
    clients::run_ok(js);
}
