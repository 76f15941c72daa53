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

/// E2B end times are kept across a daemon restart: a sandbox whose time ran out while the
/// daemon was down is ended by the next one, and one whose timeout was moved later before the
/// restart keeps running.
#[tokio::test(flavor = "multi_thread")]
async fn timeouts_survive_a_daemon_restart() {
    let Some(env) = common::env() else {
        return;
    };
    let registry = common::Registry::start();
    let image = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let args = ["--e2b-default-template", image.as_str()];
    let mut first = common::Daemon::start_with_args(&env, &args);
    let dir = first.take_dir().expect("owns its state dir");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let api = |d: &common::Daemon, path: &str| format!("{}/e2b{path}", d.url);
    let create = |d: &common::Daemon| {
        http.post(api(d, "/v2/sandboxes"))
            .header("X-API-KEY", common::TEST_KEY)
            .json(&serde_json::json!({"templateID": "base", "timeout": 6}))
            .send()
    };
    let ends: serde_json::Value = create(&first).await.unwrap().json().await.unwrap();
    let stays: serde_json::Value = create(&first).await.unwrap().json().await.unwrap();
    let (ends, stays) = (
        ends["sandboxID"].as_str().unwrap().to_owned(),
        stays["sandboxID"].as_str().unwrap().to_owned(),
    );
    let moved = http
        .post(api(&first, &format!("/sandboxes/{stays}/timeout")))
        .header("X-API-KEY", common::TEST_KEY)
        .json(&serde_json::json!({"timeout": 600}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 204);
    first.kill9();
    drop(first);
    // Both were running when the daemon died; one's end passes while no daemon runs.
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    let second = common::Daemon::start_in_with_args(&env, dir.path(), &args);
    let status = |id: String| {
        let req = http
            .get(api(&second, &format!("/sandboxes/{id}")))
            .header("X-API-KEY", common::TEST_KEY);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while status(ends.clone()).await != 404 {
        assert!(
            std::time::Instant::now() < deadline,
            "sandbox {ends} outlived its end by 20 s after the restart"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(
        status(stays.clone()).await,
        200,
        "the moved timeout must count"
    );
    let info: serde_json::Value = http
        .get(api(&second, &format!("/sandboxes/{stays}")))
        .header("X-API-KEY", common::TEST_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["state"], "running", "{info}");
}
