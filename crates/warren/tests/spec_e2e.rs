//! The sandbox spec beyond the basics, through the daemon: metadata, label/metadata updates on a
//! live sandbox, the disk quota (ENOSPC inside, the host bounded), and the main process's
//! retained, streamable log (API and CLI).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use warren_api_types::{CreateSandboxRequest, ErrorCode, ExecRequest, UpdateSandboxRequest};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn sh(script: &str) -> ExecRequest {
    ExecRequest::new(["sh", "-c", script])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_labels_quota_and_logs() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let busybox = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let daemon = common::Daemon::start(&env);
    let client = daemon.client();

    // Metadata and a quota at creation; a main process that logs.
    let mut req = CreateSandboxRequest::new(&busybox);
    req.labels = map(&[("team", "a")]);
    req.metadata = map(&[("run id", "42: {\"json\": true}")]);
    req.disk_mb = Some(64);
    req.cmd = Some(vec![
        "sh".into(),
        "-c".into(),
        "echo booted; echo oops >&2; while sleep 0.2; do read -r l < /tmp/say 2>/dev/null && \
         rm /tmp/say && echo \"$l\"; done"
            .into(),
    ]);
    let sb = client.create_sandbox(&req).await.expect("create");
    assert_eq!(sb.metadata["run id"], "42: {\"json\": true}");
    assert_eq!(sb.disk_mb, 64);

    // Default quota comes from the server (10 GiB); bad values name the field.
    let plain = client
        .create_sandbox(&CreateSandboxRequest::new(&busybox))
        .await
        .unwrap();
    assert_eq!(plain.disk_mb, 10 * 1024);
    let mut bad = CreateSandboxRequest::new(&busybox);
    bad.disk_mb = Some(1);
    let err = client.create_sandbox(&bad).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest));
    assert!(err.to_string().contains("disk_mb"), "{err}");

    labels_and_metadata_update(&daemon, &client, &sb.id).await;
    quota(&client, &sb.id).await;
    logs(&daemon, &client, &sb.id).await;

    for id in [&sb.id, &plain.id] {
        client.delete_sandbox(id).await.unwrap();
    }
    assert!(
        common::mounts_containing(&sb.id).is_empty(),
        "{:?}",
        common::mounts_containing(&sb.id)
    );
}

async fn labels_and_metadata_update(
    daemon: &common::Daemon,
    client: &warren_client::Client,
    id: &str,
) {
    // A present field replaces the map; an absent one is kept.
    let updated = client
        .update_sandbox(
            id,
            &UpdateSandboxRequest {
                labels: Some(map(&[("team", "b"), ("tier", "gold")])),
                ..Default::default()
            },
        )
        .await
        .expect("update labels");
    assert_eq!(updated.labels, map(&[("team", "b"), ("tier", "gold")]));
    assert_eq!(updated.metadata["run id"], "42: {\"json\": true}");
    let found = client
        .find_all_sandboxes(&warren_client::SandboxQuery {
            label: Some("tier=gold".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, id);

    // Bad input: invalid label key, oversized metadata value, unknown field.
    let bad_label = UpdateSandboxRequest {
        labels: Some(map(&[("no spaces", "x")])),
        ..Default::default()
    };
    let err = client.update_sandbox(id, &bad_label).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest));
    assert!(err.to_string().contains("labels"), "{err}");
    let big = "v".repeat(5000);
    let bad_meta = UpdateSandboxRequest {
        metadata: Some(map(&[("k", &big)])),
        ..Default::default()
    };
    let err = client.update_sandbox(id, &bad_meta).await.unwrap_err();
    assert!(err.to_string().contains("metadata"), "{err}");
    let err = client
        .update_sandbox("sb-doesnotexist", &UpdateSandboxRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SandboxNotFound));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let resp = reqwest::Client::new()
        .patch(format!("{}/v1/sandboxes/{id}", daemon.url))
        .bearer_auth(common::TEST_KEY)
        .json(&serde_json::json!({"labels": {}, "state": "paused"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("state"));

    // The CLI merges edits (KEY=VALUE sets, KEY- removes) and records an event.
    let out = daemon.cli(&[
        "sandbox",
        "update",
        id,
        "--label",
        "tier-",
        "--metadata",
        "owner=ci",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["labels"], serde_json::json!({"team": "b"}));
    assert_eq!(v["metadata"]["owner"], "ci");
    assert_eq!(v["metadata"]["run id"], "42: {\"json\": true}");
    let events = client
        .list_events(&warren_client::EventQuery {
            sandbox: Some(id.to_owned()),
            action: Some("sandbox.update".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.items.len(), 2, "{:?}", events.items);
}

async fn quota(client: &warren_client::Client, id: &str) {
    let out = client
        .exec(
            id,
            &sh("dd if=/dev/zero of=/fill bs=1048576 count=200 2>&1; echo exit=$?"),
        )
        .await
        .unwrap();
    assert!(
        out.stdout.contains("No space left on device") && !out.stdout.contains("exit=0"),
        "{}",
        out.stdout
    );
    let out = client
        .exec(id, &sh("rm /fill && echo ok > /after && cat /after"))
        .await
        .unwrap();
    assert_eq!(out.stdout, "ok\n", "{}", out.stderr);
}

async fn logs(daemon: &common::Daemon, client: &warren_client::Client, id: &str) {
    async fn text(mut s: warren_client::ByteStream) -> String {
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        String::from_utf8(out).unwrap()
    }
    let all = text(client.sandbox_logs(id, None, false).await.unwrap()).await;
    assert!(
        all.contains("booted\n") && all.contains("oops\n"),
        "{all:?}"
    );

    // Follow from the end: a line the main process writes later arrives on the open stream.
    let mut follow = client.sandbox_logs(id, Some(0), true).await.unwrap();
    client
        .exec(id, &sh("echo said-later > /tmp/say"))
        .await
        .unwrap();
    let mut got = String::new();
    while !got.contains("said-later\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), follow.next())
            .await
            .unwrap_or_else(|_| panic!("no line within 10 s; got {got:?}"))
            .expect("stream open")
            .unwrap();
        got.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert_eq!(got, "said-later\n");
    drop(follow);

    // tail, and the CLI.
    let last = text(client.sandbox_logs(id, Some(1), false).await.unwrap()).await;
    assert_eq!(last, "said-later\n");
    let out = daemon.cli(&["sandbox", "logs", id, "-n", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "said-later\n");
    let err = client
        .sandbox_logs(id, Some(10_000_000), false)
        .await
        .err()
        .expect("tail too large");
    assert!(err.to_string().contains("tail"), "{err}");
    let err = client
        .sandbox_logs("sb-doesnotexist", None, false)
        .await
        .err()
        .expect("unknown sandbox");
    assert_eq!(err.code(), Some(ErrorCode::SandboxNotFound));
}
