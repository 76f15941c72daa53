//! warren's MCP server driven by the official `mcp` Python client library (PyPI, pinned in
//! tests/clients/requirements.txt), against a real daemon: over stdio (`warren mcp`, spawned
//! by the client with WARREN_URL / WARREN_API_KEY) and over streamable HTTP (`/mcp` with the
//! API key as a bearer token). tests/mcp/mcp_check.py lists the tools and checks their
//! descriptions and schemas, calls every tool and checks its result, and checks the errors:
//! unknown sandbox, bad arguments, a failing command, a missing interpreter, and (HTTP) a
//! request without a valid key (401) or with a read-only key.

mod common;

use std::process::Command;

use common::clients;
use warren_api_types::PullRequest;

/// Run `mcp_check.py` over one transport.
fn check(python: &std::path::Path, transport: &str, daemon: &common::Daemon, image: &str) {
    let mut cmd = Command::new(python);
    cmd.arg(clients::repo_root().join("tests/mcp/mcp_check.py"))
        .arg(transport)
        .args([
            "--url",
            &daemon.url,
            "--key",
            common::TEST_KEY,
            "--image",
            image,
        ])
        .args(["--warren", env!("CARGO_BIN_EXE_warren")]);
    clients::run_ok(cmd);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_tools_over_stdio_and_streamable_http() {
    let Some(env) = common::env() else { return };
    let Some(python) = clients::python() else {
        return;
    };
    let registry = common::Registry::start();
    let image = registry.push(&env.fixtures.join("python"), "latest", "python");
    let daemon = common::Daemon::start(&env);
    daemon
        .client()
        .pull_image(
            &PullRequest {
                reference: image.clone(),
                insecure: true,
                username: None,
                password: None,
            },
            |_| {},
        )
        .await
        .expect("pull the python image");
    // Both transports at once: they share nothing but the daemon (each labels its sandboxes).
    let (stdio, http) = std::thread::scope(|s| {
        let stdio = s.spawn(|| check(&python, "stdio", &daemon, &image));
        let http = s.spawn(|| check(&python, "http", &daemon, &image));
        (stdio.join(), http.join())
    });
    if let Err(e) = stdio {
        std::panic::resume_unwind(e);
    }
    if let Err(e) = http {
        std::panic::resume_unwind(e);
    }
}
