//! API keys (scopes, expiry, revocation), per-key rate limits, and the
//! event log with its live stream, end to end through the API and the CLI.

mod common;

use std::time::Duration;

use warren_api_types::{
    CreateKeyRequest, CreateSandboxRequest, ErrorCode, Event, ExecRequest, KeyScope,
};
use warren_client::{Client, ClientError, EventQuery};

fn key_req(name: &str, scope: KeyScope, expires_in_s: Option<u64>) -> CreateKeyRequest {
    CreateKeyRequest {
        name: name.into(),
        scope,
        expires_in_s,
    }
}

fn client(daemon: &common::Daemon, key: &str) -> Client {
    Client::new(&daemon.url, Some(key.to_owned())).unwrap()
}

fn code<T: std::fmt::Debug>(r: Result<T, ClientError>) -> Option<ErrorCode> {
    r.expect_err("the call should fail").code()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_scopes_rate_limits_and_events() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let image = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let daemon = common::Daemon::start(&env);
    let admin = daemon.client();
    // A sandbox to try read-only keys against.
    let sb = admin
        .create_sandbox(&CreateSandboxRequest::new(&image))
        .await
        .expect("create sandbox");

    read_only_keys(&daemon, &admin, &image, &sb.id).await;
    revoked_and_expired_keys(&daemon, &admin).await;
    keys_list_never_shows_secrets(&daemon, &admin).await;
    events_of_a_sandbox(&daemon, &admin, &image).await;
    admin.delete_sandbox(&sb.id).await.expect("delete");
    drop(daemon);

    rate_limits(&env).await;
}

/// A read-only key reads everything and changes nothing.
async fn read_only_keys(daemon: &common::Daemon, admin: &Client, image: &str, sb: &str) {
    let created = admin
        .create_key(&key_req("reader", KeyScope::Read, None))
        .await
        .expect("create read key");
    assert_eq!(created.scope, KeyScope::Read);
    assert!(created.key.starts_with("wrn_"));
    let reader = client(daemon, &created.key);

    assert!(
        reader
            .list_all_sandboxes()
            .await
            .unwrap()
            .iter()
            .any(|s| s.id == sb)
    );
    assert_eq!(reader.get_sandbox(sb).await.unwrap().id, sb);
    assert!(reader.list_keys().await.is_ok());
    assert!(reader.list_events(&EventQuery::default()).await.is_ok());

    let forbidden = Some(ErrorCode::Forbidden);
    assert_eq!(
        code(
            reader
                .create_sandbox(&CreateSandboxRequest::new(image))
                .await
        ),
        forbidden
    );
    assert_eq!(
        code(reader.exec(sb, &ExecRequest::new(["true"])).await),
        forbidden
    );
    assert_eq!(code(reader.delete_sandbox(sb).await), forbidden);
    assert_eq!(
        code(
            reader
                .create_key(&key_req("sneaky", KeyScope::Full, None))
                .await
        ),
        forbidden
    );
    assert_eq!(code(reader.revoke_key(&created.id).await), forbidden);
    // Nothing was changed by the refused calls.
    assert_eq!(
        admin.get_sandbox(sb).await.unwrap().state.as_str(),
        "running"
    );

    // The CLI says why and exits with the "forbidden" code.
    let out = daemon.cli_with_key(&created.key, &["sandbox", "rm", sb]);
    assert_eq!(
        out.status.code(),
        Some(8),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only"));
    let out = daemon.cli_with_key(&created.key, &["sandbox", "ls"]);
    assert!(out.status.success());
}

/// Revoked keys stop working at once; expired keys after their time; the
/// admin key is unaffected; a key cannot revoke itself.
async fn revoked_and_expired_keys(daemon: &common::Daemon, admin: &Client) {
    let doomed = admin
        .create_key(&key_req("doomed", KeyScope::Full, None))
        .await
        .unwrap();
    let doomed_client = client(daemon, &doomed.key);
    assert!(doomed_client.list_all_sandboxes().await.is_ok());
    // A key cannot revoke itself.
    assert_eq!(
        code(doomed_client.revoke_key(&doomed.id).await),
        Some(ErrorCode::InvalidRequest)
    );
    // But another full key can.
    admin.revoke_key(&doomed.id).await.expect("revoke");
    assert_eq!(
        code(doomed_client.list_all_sandboxes().await),
        Some(ErrorCode::Unauthorized)
    );
    // Again is a no-op; an unknown id is not found.
    admin.revoke_key(&doomed.id).await.expect("revoke again");
    assert_eq!(
        code(admin.revoke_key("key-doesnotexist").await),
        Some(ErrorCode::NotFound)
    );

    let brief = admin
        .create_key(&key_req("brief", KeyScope::Read, Some(1)))
        .await
        .unwrap();
    let expires_at = brief.expires_at.expect("an expiry");
    let brief_client = client(daemon, &brief.key);
    assert!(brief_client.list_keys().await.is_ok());
    while time::OffsetDateTime::now_utc() <= expires_at + Duration::from_millis(100) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        code(brief_client.list_keys().await),
        Some(ErrorCode::Unauthorized)
    );

    // Through the CLI: create prints the key (and only the key) on stdout.
    let out = daemon.cli(&[
        "keys",
        "create",
        "from-cli",
        "--read-only",
        "--expires-in",
        "1h",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli_key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        cli_key.starts_with("wrn_") && cli_key.len() == 44,
        "{cli_key:?}"
    );
    let listed = client(daemon, &cli_key).list_keys().await.unwrap();
    let from_cli = listed.iter().find(|k| k.name == "from-cli").unwrap();
    assert_eq!(from_cli.scope, KeyScope::Read);
    assert!(from_cli.expires_at.is_some());
    let out = daemon.cli(&["keys", "revoke", &from_cli.id]);
    assert!(out.status.success());
    assert_eq!(
        code(client(daemon, &cli_key).list_keys().await),
        Some(ErrorCode::Unauthorized)
    );
    let out = daemon.cli_with_key(&cli_key, &["keys", "ls"]);
    assert_eq!(out.status.code(), Some(5));

    // The admin key still works.
    assert!(admin.list_keys().await.is_ok());
}

/// Listings show ids, names, prefixes and states, never a secret.
async fn keys_list_never_shows_secrets(daemon: &common::Daemon, admin: &Client) {
    let made = admin
        .create_key(&key_req("lister", KeyScope::Full, None))
        .await
        .unwrap();
    let keys = admin.list_keys().await.unwrap();
    let listed = serde_json::to_string(&keys).unwrap();
    assert!(!listed.contains(&made.key), "a secret in {listed}");
    assert!(
        !listed.contains(common::TEST_KEY),
        "the admin key in {listed}"
    );
    let mine = keys.iter().find(|k| k.id == made.id).unwrap();
    assert_eq!(mine.prefix, made.key[..8]);
    let names: Vec<_> = keys.iter().map(|k| k.name.as_str()).collect();
    for name in ["admin", "reader", "doomed", "brief", "from-cli", "lister"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(
        keys.iter()
            .find(|k| k.name == "doomed")
            .unwrap()
            .revoked_at
            .is_some()
    );

    let out = daemon.cli(&["keys", "ls"]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(!table.contains(&made.key) && !table.contains(common::TEST_KEY));
    for word in ["lister", "revoked", "expired", "read", "full"] {
        assert!(table.contains(word), "{word} missing from:\n{table}");
    }
    let out = daemon.cli(&["keys", "ls", "--json"]);
    let json = String::from_utf8(out.stdout).unwrap();
    assert!(!json.contains(&made.key) && !json.contains(common::TEST_KEY));
}

async fn next_event(stream: &mut warren_client::EventStream) -> Event {
    tokio::time::timeout(Duration::from_secs(60), stream.next())
        .await
        .expect("an event within a minute")
        .expect("the stream stays open")
        .expect("a well-formed event")
}

/// Every state change is recorded with the key that made it, and the live
/// stream delivers events while they happen.
async fn events_of_a_sandbox(daemon: &common::Daemon, admin: &Client, image: &str) {
    let ci = admin
        .create_key(&key_req("ci", KeyScope::Full, None))
        .await
        .unwrap();
    let ci = client(daemon, &ci.key);
    // A read-only key may watch.
    let watcher = admin
        .create_key(&key_req("watcher", KeyScope::Read, None))
        .await
        .unwrap();
    let watcher = client(daemon, &watcher.key);
    let mut live = watcher
        .stream_events(&EventQuery {
            action: Some("sandbox.".into()),
            ..EventQuery::default()
        })
        .await
        .expect("subscribe");

    let sb = ci
        .create_sandbox(&CreateSandboxRequest::new(image))
        .await
        .expect("create");
    let first = next_event(&mut live).await;
    assert_eq!(first.action, "sandbox.create");
    assert_eq!(first.sandbox_id.as_deref(), Some(sb.id.as_str()));
    assert_eq!(first.actor.as_deref(), Some("ci"));
    let second = next_event(&mut live).await;
    assert_eq!(second.action, "sandbox.started");
    assert!(second.seq > first.seq);
    assert_eq!(second.to_state.map(|s| s.as_str()), Some("running"));

    admin.delete_sandbox(&sb.id).await.expect("delete");
    let page = admin
        .list_events(&EventQuery {
            sandbox: Some(sb.id.clone()),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    let seen: Vec<(&str, &str)> = page
        .items
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        seen,
        [
            ("sandbox.create", "ci"),
            ("sandbox.started", "ci"),
            ("sandbox.delete", "admin"),
            ("sandbox.deleted", "admin"),
        ]
    );
    assert!(
        page.items
            .iter()
            .all(|e| e.sandbox_id.as_deref() == Some(sb.id.as_str()))
    );
    // The stream saw the deletion too, in order.
    assert_eq!(next_event(&mut live).await.action, "sandbox.delete");
    assert_eq!(next_event(&mut live).await.action, "sandbox.deleted");

    // Paging forwards with the cursor.
    let one = admin
        .list_events(&EventQuery {
            sandbox: Some(sb.id.clone()),
            after: Some(0),
            limit: Some(1),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);
    let cursor: i64 = one.next_cursor.expect("more pages").parse().unwrap();
    let rest = admin
        .list_events(&EventQuery {
            sandbox: Some(sb.id.clone()),
            after: Some(cursor),
            limit: Some(10),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 3);
    assert_eq!(rest.next_cursor, None);

    // Key management is recorded as well.
    let keys = admin
        .list_events(&EventQuery {
            action: Some("key.".into()),
            limit: Some(1000),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert!(keys.items.iter().any(|e| e.action == "key.revoke"
        && e.actor.as_deref() == Some("admin")
        && e.message.as_deref().is_some_and(|m| m.contains("doomed"))));
    assert!(keys.items.iter().all(|e| e.action.starts_with("key.")));

    // A replay from a cursor delivers the recorded events first.
    let mut replay = watcher
        .stream_events(&EventQuery {
            sandbox: Some(sb.id.clone()),
            after: Some(0),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    for action in [
        "sandbox.create",
        "sandbox.started",
        "sandbox.delete",
        "sandbox.deleted",
    ] {
        assert_eq!(next_event(&mut replay).await.action, action);
    }

    // The CLI prints them as NDJSON with --json.
    let out = daemon.cli(&["events", "--sandbox", &sb.id, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Event> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one event per line"))
        .collect();
    assert_eq!(lines, page.items);
    let out = daemon.cli(&["events", "--sandbox", &sb.id]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("sandbox.deleted") && table.contains("creating → running"));
}

/// A key over its rate limit gets 429 with Retry-After; other keys and the
/// daemon carry on.
async fn rate_limits(env: &common::Env) {
    let daemon =
        common::Daemon::start_with_args(env, &["--rate-limit-rps", "1", "--rate-limit-burst", "5"]);
    let admin = daemon.client();
    let other = admin
        .create_key(&key_req("other", KeyScope::Read, None))
        .await
        .expect("create key");
    let other = client(&daemon, &other.key);

    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let req = http
            .get(format!("{}/v1/sandboxes", daemon.url))
            .bearer_auth(common::TEST_KEY);
        burst.spawn(async move {
            let resp = req.send().await.expect("daemon answers");
            let status = resp.status().as_u16();
            let retry = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, retry, resp.text().await.unwrap())
        });
    }
    let mut ok = 0;
    let mut limited = 0;
    while let Some(answer) = burst.join_next().await {
        let (status, retry, body) = answer.unwrap();
        match status {
            200 => ok += 1,
            429 => {
                limited += 1;
                let retry: u64 = retry
                    .expect("a Retry-After header")
                    .parse()
                    .expect("Retry-After in seconds");
                assert!(retry >= 1);
                let body: serde_json::Value = serde_json::from_str(&body).expect("a JSON body");
                assert_eq!(body["error"]["code"], "rate_limited");
            }
            s => panic!("unexpected status {s}: {body}"),
        }
    }
    assert!(limited > 0, "no request was limited ({ok} ok)");
    assert!(ok >= 4, "the burst allowance was not honoured: {ok} ok");
    // Other keys have their own allowance; the daemon keeps answering.
    assert!(other.list_all_sandboxes().await.is_ok());
    assert!(other.health().await.is_ok());
}
