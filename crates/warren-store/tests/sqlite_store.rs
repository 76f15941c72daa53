//! The SQLite store against a real database file in a tempdir.

use std::collections::BTreeMap;

use warren_store::{
    ApiKeyRecord, NewEvent, SandboxRecord, SandboxState, SandboxUpdate, SqliteStore, Store,
    StoreError, Transition,
};

fn sandbox(id: &str) -> SandboxRecord {
    SandboxRecord {
        seq: 0,
        id: id.into(),
        state: SandboxState::Creating,
        image_ref: "docker.io/library/busybox:latest".into(),
        image_digest: "sha256:abc".into(),
        spec: serde_json::json!({"cpu": 1.0}),
        labels: BTreeMap::from([("team".into(), "a".into())]),
        metadata: BTreeMap::from([("owner".into(), "ci".into())]),
        error: None,
        created_at: 1,
        updated_at: 1,
        parent_snapshot: None,
        last_active_at: None,
    }
}

fn event(id: &str, action: &str) -> NewEvent {
    NewEvent {
        at: 1,
        sandbox_id: Some(id.into()),
        action: action.into(),
        ok: true,
        ..NewEvent::default()
    }
}

#[tokio::test]
async fn sandbox_lifecycle_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warren.db");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        for id in ["sb-a", "sb-b", "sb-c"] {
            store
                .insert_sandbox(&sandbox(id), &event(id, "sandbox.create"))
                .await
                .unwrap();
        }
        let dup = store
            .insert_sandbox(&sandbox("sb-a"), &event("sb-a", "x"))
            .await;
        assert!(
            matches!(dup, Err(StoreError::AlreadyExists { .. })),
            "{dup:?}"
        );
        let t = Transition {
            id: "sb-a".into(),
            from: Some(SandboxState::Creating),
            to: SandboxState::Running,
            error: None,
            at: 2,
            event: event("sb-a", "sandbox.started"),
        };
        store.transition(&t).await.unwrap();
        // The same transition again finds the sandbox running, not creating.
        let again = store.transition(&t).await;
        assert!(matches!(
            again,
            Err(StoreError::StateConflict {
                actual: SandboxState::Running,
                ..
            })
        ));
    }
    // Reopen: migrations are not re-applied and data is intact.
    let store = SqliteStore::open(&path).await.unwrap();
    let a = store.get_sandbox("sb-a").await.unwrap().unwrap();
    assert_eq!(a.state, SandboxState::Running);
    assert_eq!(a.labels["team"], "a");
    assert_eq!(a.spec["cpu"], 1.0);

    let page1 = store.list_sandboxes(None, 2).await.unwrap();
    assert_eq!(
        page1.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["sb-a", "sb-b"]
    );
    let page2 = store.list_sandboxes(Some(page1[1].seq), 2).await.unwrap();
    assert_eq!(
        page2.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["sb-c"]
    );

    assert_eq!(
        store
            .count_sandboxes_with_image("sha256:abc")
            .await
            .unwrap(),
        3
    );
    store
        .delete_sandbox("sb-b", &event("sb-b", "sandbox.delete"))
        .await
        .unwrap();
    assert!(store.get_sandbox("sb-b").await.unwrap().is_none());

    let events = store.list_events(Some("sb-a"), 10).await.unwrap();
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["sandbox.create", "sandbox.started"]);
    assert_eq!(events[1].from_state, Some(SandboxState::Creating));
    assert_eq!(events[1].to_state, Some(SandboxState::Running));
}

#[tokio::test]
async fn api_keys_are_found_by_hash_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("warren.db"))
        .await
        .unwrap();
    assert_eq!(store.count_api_keys().await.unwrap(), 0);
    let key = ApiKeyRecord {
        id: "key-1".into(),
        name: "first".into(),
        hash: "h1".into(),
        prefix: "wrn_ab".into(),
        created_at: 1,
        revoked_at: None,
        scope: "full".into(),
        expires_at: None,
    };
    store.insert_api_key(&key).await.unwrap();
    assert_eq!(
        store.find_api_key("h1").await.unwrap().unwrap().name,
        "first"
    );
    assert!(store.find_api_key("h2").await.unwrap().is_none());
    assert_eq!(store.count_api_keys().await.unwrap(), 1);
    assert!(
        !format!("{key:?}").contains("h1"),
        "Debug must not print the hash"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_wait_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(
        SqliteStore::open(&dir.path().join("warren.db"))
            .await
            .unwrap(),
    );
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("sb-{i}");
            store
                .insert_sandbox(&sandbox(&id), &event(&id, "sandbox.create"))
                .await?;
            // Read-then-write transactions racing each other: the pattern that
            // used to fail with "database is locked".
            let t = Transition {
                id: id.clone(),
                from: Some(SandboxState::Creating),
                to: SandboxState::Running,
                error: None,
                at: 2,
                event: event(&id, "sandbox.started"),
            };
            store.transition(&t).await?;
            store
                .delete_sandbox(&id, &event(&id, "sandbox.delete"))
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("every concurrent write succeeds");
    }
    assert!(store.list_sandboxes(None, 100).await.unwrap().is_empty());
}

#[tokio::test]
async fn find_sandboxes_by_state_image_and_labels() {
    use warren_store::SandboxFilter;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("warren.db"))
        .await
        .unwrap();
    for (id, team, env, image) in [
        ("sb-1", "a", "prod", "img:1"),
        ("sb-2", "a", "dev", "img:1"),
        ("sb-3", "b", "prod", "img:2"),
    ] {
        let mut sb = sandbox(id);
        sb.labels = BTreeMap::from([
            ("team".into(), team.into()),
            ("app.io/env".into(), env.into()),
        ]);
        sb.image_ref = image.into();
        store
            .insert_sandbox(&sb, &event(id, "sandbox.create"))
            .await
            .unwrap();
    }
    let t = Transition {
        id: "sb-2".into(),
        from: None,
        to: SandboxState::Running,
        error: None,
        at: 2,
        event: event("sb-2", "sandbox.started"),
    };
    store.transition(&t).await.unwrap();
    let ids = |v: Vec<SandboxRecord>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    let by = |f: SandboxFilter| {
        let store = &store;
        async move { ids(store.find_sandboxes(&f, None, 10).await.unwrap()) }
    };
    let label = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    assert_eq!(
        by(SandboxFilter {
            labels: vec![label("team", "a")],
            ..Default::default()
        })
        .await,
        ["sb-1", "sb-2"]
    );
    assert_eq!(
        by(SandboxFilter {
            labels: vec![label("team", "a"), label("app.io/env", "prod")],
            ..Default::default()
        })
        .await,
        ["sb-1"]
    );
    assert_eq!(
        by(SandboxFilter {
            state: Some(SandboxState::Running),
            ..Default::default()
        })
        .await,
        ["sb-2"]
    );
    assert_eq!(
        by(SandboxFilter {
            image: Some("img:2".into()),
            ..Default::default()
        })
        .await,
        ["sb-3"]
    );
    assert!(
        by(SandboxFilter {
            labels: vec![label("team", "c")],
            ..Default::default()
        })
        .await
        .is_empty()
    );
    // Paging continues after a cursor.
    let first = store
        .find_sandboxes(&SandboxFilter::default(), None, 2)
        .await
        .unwrap();
    let rest = store
        .find_sandboxes(&SandboxFilter::default(), Some(first[1].seq), 2)
        .await
        .unwrap();
    assert_eq!(ids(rest), ["sb-3"]);
}

#[tokio::test]
async fn updates_replace_only_the_given_maps_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warren.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store
        .insert_sandbox(&sandbox("sb-u"), &event("sb-u", "sandbox.create"))
        .await
        .unwrap();

    let new_labels = BTreeMap::from([("team".into(), "b".into()), ("tier".into(), "x".into())]);
    let updated = store
        .update_sandbox(&SandboxUpdate {
            id: "sb-u".into(),
            labels: Some(new_labels.clone()),
            metadata: None,
            spec: None,
            event: event("sb-u", "sandbox.update"),
        })
        .await
        .unwrap();
    assert_eq!(updated.labels, new_labels);
    assert_eq!(updated.metadata["owner"], "ci", "absent metadata is kept");

    store
        .update_sandbox(&SandboxUpdate {
            id: "sb-u".into(),
            labels: None,
            metadata: Some(BTreeMap::new()),
            spec: None,
            event: event("sb-u", "sandbox.update"),
        })
        .await
        .unwrap();
    drop(store);

    let store = SqliteStore::open(&path).await.unwrap();
    let sb = store.get_sandbox("sb-u").await.unwrap().unwrap();
    assert_eq!(sb.labels, new_labels);
    assert!(sb.metadata.is_empty());
    let missing = store
        .update_sandbox(&SandboxUpdate {
            id: "sb-none".into(),
            labels: None,
            metadata: None,
            spec: None,
            event: event("sb-none", "sandbox.update"),
        })
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })));
}
