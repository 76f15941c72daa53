//! Networking's cost, measured against a real `warren serve` with baselines in the same run:
//!
//! 1. create → first exec with networking (address, egress chain, veth plugged before the create
//!    returns) and with `--no-network` (a second daemon), interleaved; the difference is what
//!    networking adds (target ≤ 10 ms);
//! 2. one small HTTP request through the preview proxy (path form, token header, keep-alive to
//!    the daemon) versus straight to the sandbox's address, keep-alive and new connection (the
//!    proxy opens one upstream connection per request); target: proxy p50 ≤ 1 ms over direct;
//! 3. throughput through the proxy with 16 concurrent clients for a few seconds, and straight to
//!    the sandbox in the same run (target ≥ 2,000 requests/s through the proxy).
//!
//! ```text
//! cargo bench -p warren --bench network      # WARREN_BENCH_N=50 creates, 1000 requests
//! ```
//! The sandbox's server is a small asyncio HTTP/1.1 server (keep-alive) in the python fixture.
#![allow(clippy::print_stdout)]

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use warren_api_types::CreateSandboxRequest;

use crate::common::e2e::Daemon;
use crate::common::rest::{exec_true, warm_up};
use crate::common::setup::{self, env_usize};
use crate::common::stats::{self, Target};

/// A minimal keep-alive HTTP server: answers every request with "ok".
const SERVER: &str = r#"
import asyncio
async def handle(r, w):
    try:
        while True:
            head = await r.readuntil(b"\r\n\r\n")
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
            await w.drain()
    except Exception:
        w.close()
async def main():
    s = await asyncio.start_server(handle, "0.0.0.0", 8080, backlog=1024)
    await s.serve_forever()
asyncio.run(main())
"#;

fn main() -> anyhow::Result<()> {
    let n = env_usize("WARREN_BENCH_N", 50);
    let requests = env_usize("WARREN_BENCH_REQUESTS", 1000);
    let Some(stack) = setup::start(
        "warren network benchmark",
        &format!("N={n} creates, {requests} requests"),
        &["busybox", "python"],
    )?
    else {
        return Ok(());
    };
    let plain = Daemon::start_with_args(&stack.env, &["--no-network"]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = rt.block_on(run(&stack, &plain, n, requests));
    drop(plain);
    stack.finish(result)
}

async fn run(
    stack: &setup::Stack,
    plain: &Daemon,
    n: usize,
    requests: usize,
) -> anyhow::Result<()> {
    let busybox = stack.image("busybox").to_owned();
    let python = stack.image("python").to_owned();
    let net = stack.daemon.client();
    let off = plain.client();
    warm_up(&net, &[&busybox, &python]).await?;
    warm_up(&off, &[&busybox]).await?;

    // 1. create → first exec, interleaved.
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..n {
        for (client, out) in [(&net, &mut with), (&off, &mut without)] {
            let started = Instant::now();
            let sb = client
                .create_sandbox(&CreateSandboxRequest::new(&busybox))
                .await?;
            exec_true(client, &sb.id).await?;
            out.push(started.elapsed());
            client.delete_sandbox(&sb.id).await?;
        }
    }
    let with = stats::durations("create → first exec, networking", &with, None);
    let without = stats::durations("create → first exec, --no-network", &without, None);
    let added = stats::difference(
        "networking adds (p50 difference)",
        &with,
        &without,
        Some(Target::AtMost(10.0)),
    );

    // 2. one request: proxy vs direct.
    let mut req = CreateSandboxRequest::new(&python);
    req.cmd = Some(vec!["python3".into(), "-c".into(), SERVER.into()]);
    let sb = net.create_sandbox(&req).await?;
    let token = sb.network.access_token.clone().unwrap_or_default();
    let addr = sb.network.address.clone().unwrap_or_default();
    let direct_url = format!("http://{addr}:8080/");
    let proxy_url = format!("{}/v1/sandboxes/{}/ports/8080/", stack.daemon.url, sb.id);
    let keep_alive = reqwest::Client::builder().build()?;
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while keep_alive.get(&direct_url).send().await.is_err() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the sandbox's server never answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let get = |client: reqwest::Client, url: String, token: Option<String>| async move {
        let mut r = client.get(&url);
        if let Some(t) = token {
            r = r.header("X-Warren-Token", t);
        }
        let resp = r.send().await?;
        anyhow::ensure!(resp.status() == 200, "{url}: {}", resp.status());
        resp.bytes().await?;
        anyhow::Ok(())
    };
    let times = |client: &reqwest::Client, url: &str, token: Option<&str>| {
        let (client, url, token) = (client.clone(), url.to_owned(), token.map(str::to_owned));
        async move {
            let mut out = Vec::with_capacity(requests);
            for _ in 0..requests {
                let started = Instant::now();
                get(client.clone(), url.clone(), token.clone()).await?;
                out.push(started.elapsed());
            }
            anyhow::Ok(out)
        }
    };
    let direct_ka = times(&keep_alive, &direct_url, None).await?;
    let direct_new = times(&fresh, &direct_url, None).await?;
    let proxied = times(&keep_alive, &proxy_url, Some(&token)).await?;
    let direct_ka = stats::durations("GET direct, keep-alive", &direct_ka, None);
    let direct_new = stats::durations("GET direct, new connection", &direct_new, None);
    let proxied = stats::durations("GET through the proxy", &proxied, None);
    let overhead = stats::difference(
        "proxy adds (p50, vs direct keep-alive)",
        &proxied,
        &direct_ka,
        Some(Target::AtMost(1.0)),
    );

    // 3. throughput, 16 concurrent clients, 3 s each.
    let proxy_rate = throughput(&keep_alive, &proxy_url, Some(&token)).await?;
    let direct_rate = throughput(&keep_alive, &direct_url, None).await?;
    let rows = vec![
        with,
        without,
        added,
        direct_ka,
        direct_new,
        proxied,
        overhead,
        stats::row(
            "requests/s through the proxy (16 clients)",
            &[proxy_rate],
            "req/s",
            Some(Target::AtLeast(2000.0)),
        ),
        stats::row(
            "requests/s direct (16 clients)",
            &[direct_rate],
            "req/s",
            None,
        ),
    ];
    stats::print_table("networking", &rows);
    net.delete_sandbox(&sb.id).await?;
    Ok(())
}

/// Requests per second 16 concurrent clients get in 3 s.
async fn throughput(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> anyhow::Result<f64> {
    let window = Duration::from_secs(3);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (client, url, token) = (client.clone(), url.to_owned(), token.map(str::to_owned));
        tasks.spawn(async move {
            let mut done = 0u64;
            while started.elapsed() < window {
                let mut r = client.get(&url);
                if let Some(t) = &token {
                    r = r.header("X-Warren-Token", t);
                }
                let resp = r.send().await?;
                anyhow::ensure!(resp.status() == 200, "{}", resp.status());
                resp.bytes().await?;
                done += 1;
            }
            anyhow::Ok(done)
        });
    }
    let mut total = 0;
    while let Some(r) = tasks.join_next().await {
        total += r??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
