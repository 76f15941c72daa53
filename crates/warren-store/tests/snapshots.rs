//! Snapshots in the SQLite store: names, lineage, what depends on what, and activity times.

use std::collections::BTreeMap;

use warren_store::{
    NewEvent, SandboxRecord, SandboxState, SnapshotRecord, SnapshotState, SqliteStore, Store,
    StoreError,
};

fn sandbox(id: &str, parent: Option<&str>) -> SandboxRecord {
    SandboxRecord {
        seq: 0,
        id: id.into(),
        state: SandboxState::Running,
        image_ref: "busybox".into(),
        image_digest: "sha256:img".into(),
        spec: serde_json::json!({}),
        labels: BTreeMap::new(),
        metadata: BTreeMap::new(),
        error: None,
        created_at: 1,
        updated_at: 1,
        parent_snapshot: parent.map(str::to_owned),
        last_active_at: None,
    }
}

fn snapshot(id: &str, name: Option<&str>, source: &str, parent: Option<&str>) -> SnapshotRecord {
    SnapshotRecord {
        seq: 0,
        id: id.into(),
        name: name.map(str::to_owned),
        state: SnapshotState::Creating,
        source_sandbox: Some(source.into()),
        parent_snapshot: parent.map(str::to_owned),
        image_ref: "busybox".into(),
        image_digest: "sha256:img".into(),
        memory: true,
        spec: serde_json::json!({"layers": [id]}),
        labels: BTreeMap::from([("k".into(), "v".into())]),
        fs_bytes: 0,
        memory_bytes: 0,
        paused_us: 0,
        created_at: 5,
    }
}

fn ev(action: &str) -> NewEvent {
    NewEvent {
        at: 1,
        action: action.into(),
        ok: true,
        ..NewEvent::default()
    }
}

async fn ready(store: &SqliteStore, s: &SnapshotRecord) {
    store
        .insert_snapshot(s, &ev("snapshot.create"))
        .await
        .unwrap();
    let mut done = s.clone();
    done.fs_bytes = 10;
    done.memory_bytes = 20;
    done.paused_us = 30;
    store
        .finish_snapshot(&done, &ev("snapshot.ready"))
        .await
        .unwrap();
}

#[tokio::test]
async fn snapshots_lineage_and_dependents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warren.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store
        .insert_sandbox(&sandbox("sb-src", None), &ev("c"))
        .await
        .unwrap();

    // A sandbox cannot name a snapshot that is not ready.
    let early = snapshot("snap-1", Some("base"), "sb-src", None);
    store
        .insert_snapshot(&early, &ev("snapshot.create"))
        .await
        .unwrap();
    let err = store
        .insert_sandbox(&sandbox("sb-x", Some("snap-1")), &ev("c"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "snapshot",
                ..
            }
        ),
        "{err:?}"
    );
    let mut done = early.clone();
    done.fs_bytes = 10;
    store
        .finish_snapshot(&done, &ev("snapshot.ready"))
        .await
        .unwrap();

    // Names are unique; lookups work by id or name.
    let dup = store
        .insert_snapshot(&snapshot("snap-2", Some("base"), "sb-src", None), &ev("x"))
        .await
        .unwrap_err();
    assert!(matches!(dup, StoreError::AlreadyExists { .. }), "{dup:?}");
    let by_name = store.get_snapshot("base").await.unwrap().unwrap();
    assert_eq!(by_name.id, "snap-1");
    assert_eq!(by_name.state, SnapshotState::Ready);
    assert_eq!(by_name.fs_bytes, 10);
    assert_eq!(
        store
            .get_snapshot("snap-1")
            .await
            .unwrap()
            .unwrap()
            .name
            .as_deref(),
        Some("base")
    );
    assert!(store.get_snapshot("nope").await.unwrap().is_none());

    // A branch of snap-1, and a snapshot of that branch stacked on snap-1.
    store
        .insert_sandbox(&sandbox("sb-branch", Some("snap-1")), &ev("c"))
        .await
        .unwrap();
    ready(
        &store,
        &snapshot("snap-3", None, "sb-branch", Some("snap-1")),
    )
    .await;
    let deps = store.snapshot_dependents("snap-1").await.unwrap();
    assert_eq!(deps.sandboxes, ["sb-branch"]);
    assert_eq!(deps.snapshots, ["snap-3"]);

    // In use: deleting is refused, saying by whom.
    let err = store
        .set_snapshot_state("snap-1", SnapshotState::Deleting, &ev("snapshot.delete"))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("sb-branch") && msg.contains("snap-3"), "{msg}");

    // Once the dependents are gone it can go.
    store.delete_sandbox("sb-branch", &ev("d")).await.unwrap();
    store
        .set_snapshot_state("snap-3", SnapshotState::Deleting, &ev("snapshot.delete"))
        .await
        .unwrap();
    store
        .delete_snapshot("snap-3", &ev("snapshot.deleted"))
        .await
        .unwrap();
    store
        .set_snapshot_state("snap-1", SnapshotState::Deleting, &ev("snapshot.delete"))
        .await
        .unwrap();
    // A deleting snapshot cannot gain dependents.
    let err = store
        .insert_sandbox(&sandbox("sb-late", Some("snap-1")), &ev("c"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");

    // Listing by source; images held by snapshots count as in use.
    let listed = store
        .list_snapshots(Some("sb-src"), None, 10)
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["snap-1"]
    );
    assert_eq!(
        store
            .count_sandboxes_with_image("sha256:img")
            .await
            .unwrap(),
        2
    );
    store
        .delete_snapshot("snap-1", &ev("snapshot.deleted"))
        .await
        .unwrap();
    assert_eq!(
        store
            .count_sandboxes_with_image("sha256:img")
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn activity_only_moves_forward_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warren.db");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        store
            .insert_sandbox(&sandbox("sb-a", None), &ev("c"))
            .await
            .unwrap();
        store.touch_sandbox("sb-a", 100).await.unwrap();
        store.touch_sandbox("sb-a", 50).await.unwrap();
        store.touch_sandbox("sb-missing", 50).await.unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let sb = store.get_sandbox("sb-a").await.unwrap().unwrap();
    assert_eq!(sb.last_active_at, Some(100));
}
