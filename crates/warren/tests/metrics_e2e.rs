//! Metrics: a sandbox's CPU, memory, pids and disk from its cgroups, with a
//! history, and the daemon's Prometheus exposition.

mod common;

use std::time::Duration;

use warren_api_types::{CreateSandboxRequest, ErrorCode, ExecRequest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_and_daemon_metrics() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let python = registry.push(&env.fixtures.join("python"), "latest", "python");
    let daemon = common::Daemon::start(&env);
    let client = daemon.client();
    let mut req = CreateSandboxRequest::new(&python);
    req.memory_mb = Some(256);
    req.pids_limit = Some(100);
    let id = client.create_sandbox(&req).await.unwrap().id;

    // Hold 64 MiB and burn CPU for longer than one sampling interval (5 s).
    let mut busy = ExecRequest::new([
        "python3",
        "-c",
        "import time; x = bytearray(64 << 20); t = time.time()\nwhile time.time() - t < 7: pass",
    ]);
    busy.timeout_s = Some(60);
    let burner = {
        let client = client.clone();
        let id = id.clone();
        tokio::spawn(async move { client.exec(&id, &busy).await })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Each reading is computed against the previous one, so two readings a second apart
    // while the loop burns show it, whatever the sampler's phase.
    client
        .sandbox_metrics(&id)
        .await
        .expect("metrics while busy");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let during = client
        .sandbox_metrics(&id)
        .await
        .expect("metrics while busy");
    assert!(
        during.current.cpu_percent > 10.0,
        "a busy loop shows up as CPU use: {:?}",
        during.current
    );
    assert!(
        during.current.memory_bytes >= 64 << 20,
        "64 MiB held: {:?}",
        during.current
    );
    assert_eq!(during.current.memory_limit_bytes, Some(256 << 20));
    assert_eq!(during.current.pids_limit, Some(100));
    assert!(
        during.current.pids >= 2,
        "agent + python: {:?}",
        during.current
    );
    assert!(
        during.current.disk_bytes.is_some(),
        "disk measured: {:?}",
        during.current
    );
    burner.await.unwrap().unwrap();

    // The sampler (every 5 s) keeps a history, oldest first.
    let mut history = Vec::new();
    for _ in 0..30 {
        history = client.sandbox_metrics(&id).await.unwrap().history;
        if history.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        history.len() >= 2,
        "the sampler kept a history: {history:?}"
    );
    assert!(
        history.windows(2).all(|w| w[0].at < w[1].at),
        "history is oldest first"
    );

    // Unknown sandbox → 404.
    let err = client.sandbox_metrics("sb-nope").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SandboxNotFound));

    // Prometheus: sandboxes by state, per-sandbox gauges, request counters by route template.
    let text = client.prometheus_metrics().await.unwrap();
    assert!(
        text.contains("warren_sandboxes{state=\"running\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(&format!("warren_sandbox_memory_bytes{{sandbox=\"{id}\"}}")),
        "{text}"
    );
    let exec_line = text
        .lines()
        .find(|l| {
            l.starts_with("warren_http_requests_total")
                && l.contains("/exec\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no exec counter in\n{text}"));
    assert!(
        !exec_line.contains(&id),
        "routes are templates, not ids: {exec_line}"
    );
    assert!(
        text.contains("warren_http_request_duration_seconds_bucket"),
        "{text}"
    );

    // Scrapers find the same exposition at /metrics, behind the API key.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let scraped = http
        .get(format!("{}/metrics", daemon.url))
        .bearer_auth(common::TEST_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status().as_u16(), 200);
    assert!(scraped.text().await.unwrap().contains("warren_build_info"));
    let anonymous = http
        .get(format!("{}/metrics", daemon.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    client.delete_sandbox(&id).await.unwrap();
}
