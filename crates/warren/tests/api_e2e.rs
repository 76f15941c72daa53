//! The API's contract at its edges: authentication, JSON errors for every
//! kind of bad request, and the CLI's exit codes and `--json` output.

mod common;

use serde_json::Value;

async fn raw(
    daemon: &common::Daemon,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<(&str, &str)>,
) -> (u16, Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let mut req = http.request(method, format!("{}{path}", daemon.url));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some((content_type, body)) = body {
        req = req
            .header("content-type", content_type)
            .body(body.to_owned());
    }
    let resp = req.send().await.expect("daemon reachable");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text:?}"));
    (status, json)
}

fn code(v: &Value) -> &str {
    v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_json_with_stable_codes() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let busybox = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let not_pulled = registry.push(&env.fixtures.join("busybox"), "latest", "not-pulled");
    let daemon = common::Daemon::start(&env);
    use reqwest::Method;
    let key = Some(common::TEST_KEY);

    // /healthz needs no key; everything under /v1 does.
    let (s, v) = raw(&daemon, Method::GET, "/healthz", None, None).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("ok")));
    let (s, v) = raw(&daemon, Method::GET, "/v1/sandboxes", None, None).await;
    assert_eq!((s, code(&v)), (401, "unauthorized"));
    let (s, v) = raw(
        &daemon,
        Method::GET,
        "/v1/sandboxes",
        Some("wrn_wrong_key_000000000000"),
        None,
    )
    .await;
    assert_eq!((s, code(&v)), (401, "unauthorized"));
    let (s, _) = raw(&daemon, Method::GET, "/v1/sandboxes", key, None).await;
    assert_eq!(s, 200);

    // Unknown sandbox, route and method.
    let (s, v) = raw(
        &daemon,
        Method::GET,
        "/v1/sandboxes/sb-doesnotexist",
        key,
        None,
    )
    .await;
    assert_eq!((s, code(&v)), (404, "sandbox_not_found"));
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sb-doesnotexist")
    );
    let (s, v) = raw(
        &daemon,
        Method::DELETE,
        "/v1/sandboxes/sb-doesnotexist",
        key,
        None,
    )
    .await;
    assert_eq!((s, code(&v)), (404, "sandbox_not_found"));
    let (s, v) = raw(&daemon, Method::GET, "/v1/nothing-here", key, None).await;
    assert_eq!((s, code(&v)), (404, "not_found"));
    let (s, v) = raw(&daemon, Method::PATCH, "/v1/sandboxes", key, None).await;
    assert_eq!((s, code(&v)), (405, "method_not_allowed"));

    // Malformed bodies: bad JSON, wrong types, unknown fields, out-of-range values.
    let json = "application/json";
    for (body, needle) in [
        ("{not json", "JSON"),
        (r#"{"image": 5}"#, "image"),
        (r#"{"image": "busybox", "colour": "red"}"#, "colour"),
        (r#"{"image": "busybox", "memory_mb": 1}"#, "memory_mb"),
        (r#"{"image": "busybox", "cpu": 1000}"#, "cpu"),
        (r#"{"image": "busybox", "env": {"1BAD": "x"}}"#, "env"),
        (r#"{"image": ""}"#, "image"),
    ] {
        let (s, v) = raw(
            &daemon,
            Method::POST,
            "/v1/sandboxes",
            key,
            Some((json, body)),
        )
        .await;
        assert_eq!((s, code(&v)), (400, "invalid_request"), "body {body}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains(needle),
            "message for {body} should name {needle}: {msg}"
        );
    }
    let (s, v) = raw(
        &daemon,
        Method::POST,
        "/v1/sandboxes",
        key,
        Some(("text/plain", "{}")),
    )
    .await;
    assert_eq!((s, code(&v)), (400, "invalid_request"));
    let (s, v) = raw(&daemon, Method::GET, "/v1/sandboxes?limit=abc", key, None).await;
    assert_eq!((s, code(&v)), (400, "invalid_request"));
    let (s, v) = raw(
        &daemon,
        Method::GET,
        "/v1/sandboxes?cursor=bogus",
        key,
        None,
    )
    .await;
    assert_eq!((s, code(&v)), (400, "invalid_request"));

    // An image that is neither local nor in the registry.
    let missing = format!("{}/no-such-image:latest", registry.addr);
    let body = format!(r#"{{"image": "{missing}"}}"#);
    let (s, v) = raw(
        &daemon,
        Method::POST,
        "/v1/sandboxes",
        key,
        Some((json, &body)),
    )
    .await;
    assert_eq!((s, code(&v)), (404, "image_not_found"), "{v}");

    // No failed create left a sandbox behind.
    let (_, v) = raw(&daemon, Method::GET, "/v1/sandboxes", key, None).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 0, "{v}");

    cli_contract(&daemon, &busybox).await;

    // `sandbox create` of an image that is not local pulls it first (with progress on stderr).
    let out = daemon.cli(&["sandbox", "create", &not_pulled]);
    assert!(
        out.status.success(),
        "create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(id.starts_with("sb-"), "stdout is the id: {id:?}");
    assert!(daemon.cli(&["sandbox", "rm", &id]).status.success());
}

async fn cli_contract(daemon: &common::Daemon, busybox: &str) {
    let run = |args: &[&str]| daemon.cli(args);
    let out = run(&["image", "pull", busybox]);
    assert!(
        out.status.success(),
        "pull: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["image", "ls", "--json"]);
    let images: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        images
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["reference"] == busybox),
        "{images}"
    );

    let out = run(&["sandbox", "create", busybox, "--json", "--memory-mb", "64"]);
    assert!(
        out.status.success(),
        "create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sb: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = sb["id"].as_str().unwrap().to_owned();
    assert_eq!(sb["memory_mb"], 64);

    // `exec` passes through stdout, stderr and the exit code.
    let out = run(&[
        "sandbox",
        "exec",
        &id,
        "--",
        "sh",
        "-c",
        "echo hi; echo oops >&2; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("oops"));
    let out = run(&["sandbox", "exec", &id, "--json", "--", "echo", "x"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["exit_code"].as_i64(), v["stdout"].as_str()),
        (Some(0), Some("x\n"))
    );

    // A JSON body over the 1 MiB limit is refused with a JSON 413 (file uploads stream and
    // have no limit).
    let big = format!("{{\"cmd\":[\"{}\"]}}", "x".repeat((1 << 20) + 1));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/sandboxes/{id}/exec", daemon.url))
        .bearer_auth(common::TEST_KEY)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("daemon answers");
    assert_eq!(resp.status().as_u16(), 413);
    let body: Value = resp.json().await.expect("JSON 413");
    assert_eq!(code(&body), "payload_too_large");

    let out = run(&["sandbox", "ls"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id));
    // Distinct exit codes: not found 3, invalid 4, unauthorized 5, conflict 6.
    assert_eq!(
        run(&["sandbox", "get", "sb-missing"]).status.code(),
        Some(3)
    );
    assert_eq!(
        run(&["sandbox", "create", busybox, "--cpu", "99"])
            .status
            .code(),
        Some(4)
    );
    assert_eq!(
        run(&["image", "rm", busybox]).status.code(),
        Some(6),
        "image in use must not be removed"
    );
    let out = daemon_cli_with_key(daemon, "wrn_wrong_key_000000000000", &["sandbox", "ls"]);
    assert_eq!(out.status.code(), Some(5));

    assert!(run(&["sandbox", "rm", &id]).status.success());
    assert_eq!(run(&["sandbox", "get", &id]).status.code(), Some(3));
    assert!(run(&["image", "rm", busybox]).status.success());
}

fn daemon_cli_with_key(daemon: &common::Daemon, key: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_warren"))
        .args(args)
        .env("WARREN_URL", &daemon.url)
        .env("WARREN_API_KEY", key)
        .env("WARREN_CONFIG", "/nonexistent/warren-config.json")
        .output()
        .unwrap()
}
