//! API key scopes, expiry and revocation, and filtered event queries.

use warren_store::{ApiKeyRecord, EventQuery, NewEvent, SqliteStore, Store, StoreError};

fn key(id: &str, hash: &str, expires_at: Option<i64>) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.into(),
        name: format!("name-{id}"),
        hash: hash.into(),
        prefix: "wrn_ab".into(),
        created_at: 1,
        revoked_at: None,
        scope: "read".into(),
        expires_at,
    }
}

fn event(sandbox: Option<&str>, action: &str) -> NewEvent {
    NewEvent {
        at: 1,
        sandbox_id: sandbox.map(Into::into),
        action: action.into(),
        ok: true,
        ..NewEvent::default()
    }
}

async fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("warren.db"))
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn keys_expire_and_revoke() {
    let (_dir, store) = open().await;
    store.insert_api_key(&key("k1", "h1", None)).await.unwrap();
    store
        .insert_api_key(&key("k2", "h2", Some(1)))
        .await
        .unwrap();
    let found = store.find_api_key("h1").await.unwrap().unwrap();
    assert_eq!(found.scope, "read");
    assert!(store.find_api_key("h2").await.unwrap().is_none(), "expired");

    let listed = store.list_api_keys().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1].expires_at, Some(1));

    store
        .revoke_api_key("k1", 5, &event(None, "key.revoke"))
        .await
        .unwrap();
    assert!(store.find_api_key("h1").await.unwrap().is_none());
    assert_eq!(
        store.get_api_key("k1").await.unwrap().unwrap().revoked_at,
        Some(5)
    );
    // Again: nothing changes, no second event.
    store
        .revoke_api_key("k1", 9, &event(None, "key.revoke"))
        .await
        .unwrap();
    assert_eq!(
        store.get_api_key("k1").await.unwrap().unwrap().revoked_at,
        Some(5)
    );
    assert_eq!(store.list_events(None, 10).await.unwrap().len(), 1);
    let err = store
        .revoke_api_key("nope", 5, &event(None, "key.revoke"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn events_filter_by_sandbox_action_and_cursor() {
    let (_dir, store) = open().await;
    for (sb, action) in [
        (Some("sb-a"), "sandbox.create"),
        (Some("sb-b"), "sandbox.create"),
        (Some("sb-a"), "sandbox.started"),
        (None, "key.create"),
        (Some("sb-a"), "sandbox.delete"),
    ] {
        store.append_event(&event(sb, action)).await.unwrap();
    }
    let q = |sandbox: Option<&str>, action: Option<&str>, after: Option<i64>, limit| EventQuery {
        sandbox_id: sandbox.map(Into::into),
        action_prefix: action.map(Into::into),
        after,
        limit,
    };
    let seqs = |v: Vec<warren_store::EventRecord>| v.iter().map(|e| e.seq).collect::<Vec<_>>();

    // No cursor: the newest, oldest first.
    let all = store.query_events(&q(None, None, None, 2)).await.unwrap();
    assert_eq!(seqs(all), [4, 5]);
    // A cursor pages forwards.
    let page = store
        .query_events(&q(None, None, Some(1), 2))
        .await
        .unwrap();
    assert_eq!(seqs(page), [2, 3]);
    let sb_a = store
        .query_events(&q(Some("sb-a"), None, Some(0), 10))
        .await
        .unwrap();
    assert_eq!(seqs(sb_a), [1, 3, 5]);
    let creates = store
        .query_events(&q(None, Some("sandbox.create"), None, 10))
        .await
        .unwrap();
    assert_eq!(seqs(creates), [1, 2]);
    let sandbox_events = store
        .query_events(&q(Some("sb-a"), Some("sandbox."), Some(1), 10))
        .await
        .unwrap();
    assert_eq!(seqs(sandbox_events), [3, 5]);
    let keys = store
        .query_events(&q(None, Some("key."), None, 10))
        .await
        .unwrap();
    assert_eq!(keys[0].action, "key.create");
}
