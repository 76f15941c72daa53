//! The reconciler's snapshot half: no half-written snapshot survives a crash, and no snapshot
//! files without a record.
//!
//! | record state | action                                                                  |
//! |--------------|-------------------------------------------------------------------------|
//! | creating     | a capture interrupted by a crash (checked under the source's lock, which |
//! |              | a capture holds throughout): remove the files and the record            |
//! | deleting     | a delete interrupted by a crash: finish it                              |
//! | ready        | files missing: logged (there is nothing to restore them from)           |
//! | archived     | local files left by an interrupted archive or unarchive: removed        |
//! | (no record)  | files of a snapshot the store does not know: removed                    |

use std::collections::HashSet;

use warren_store::{NewEvent, SnapshotState};

use crate::clock::now_ms;
use crate::{Core, CoreError, ReconcileReport};

const ACTOR: &str = "reconciler";

impl Core {
    /// A capture freezes its source; one interrupted by a crash may have left it frozen. A
    /// source recorded `running` that the runtime sees paused is thawed.
    async fn thaw_after_interrupted_capture(&self, source: &str) -> Result<(), CoreError> {
        let Some(rec) = self.inner.store.get_sandbox(source).await? else {
            return Ok(());
        };
        let runtime_err = |source| CoreError::Runtime {
            id: rec.id.clone(),
            source: Box::new(source),
        };
        let actual = self
            .inner
            .runtime
            .state(source)
            .await
            .map_err(runtime_err)?;
        if rec.state == warren_store::SandboxState::Running
            && actual == Some(warren_runtime::ActualState::Paused)
        {
            tracing::warn!(sandbox = %source, "thawing a sandbox an interrupted snapshot froze");
            self.inner
                .runtime
                .resume(source)
                .await
                .map_err(runtime_err)?;
        }
        Ok(())
    }

    pub(crate) async fn reconcile_snapshots(
        &self,
        report: &mut ReconcileReport,
    ) -> Result<(), CoreError> {
        let runtime_err = |id: &str| {
            let id = id.to_owned();
            move |source| CoreError::Runtime {
                id,
                source: Box::new(source),
            }
        };
        let on_disk: HashSet<String> = self
            .inner
            .runtime
            .list_snapshots()
            .await
            .map_err(runtime_err("*"))?
            .into_iter()
            .collect();
        let mut known = HashSet::new();
        let mut after = None;
        loop {
            let page = self.inner.store.list_snapshots(None, after, 500).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.seq);
            for snap in page {
                known.insert(snap.id.clone());
                let stale = match snap.state {
                    SnapshotState::Ready => {
                        if !on_disk.contains(&snap.id) {
                            tracing::error!(snapshot = %snap.id, "snapshot files are missing");
                        }
                        continue;
                    }
                    SnapshotState::Deleting => {
                        self.forget_archived_snapshot(&snap.id).await?;
                        true
                    }
                    // The object counts; a local copy is what an interrupted archive or
                    // unarchive left behind.
                    SnapshotState::Archived => {
                        let _guard = self.inner.locks.lock(&snap.id).await;
                        let still = self.inner.store.get_snapshot(&snap.id).await?;
                        let archived = still.is_some_and(|s| s.state == SnapshotState::Archived);
                        if archived && on_disk.contains(&snap.id) {
                            self.inner
                                .runtime
                                .delete_snapshot(&snap.id)
                                .await
                                .map_err(runtime_err(&snap.id))?;
                        }
                        continue;
                    }
                    SnapshotState::Creating => {
                        // A capture in progress holds its source's lock: wait for it, then look.
                        let source = snap.source_sandbox.clone().unwrap_or_default();
                        let _guard = self.inner.locks.lock(&source).await;
                        let stale = self
                            .inner
                            .store
                            .get_snapshot(&snap.id)
                            .await?
                            .is_some_and(|s| s.state == SnapshotState::Creating);
                        if stale {
                            self.thaw_after_interrupted_capture(&source).await?;
                        }
                        stale
                    }
                };
                if !stale {
                    continue;
                }
                self.inner
                    .runtime
                    .delete_snapshot(&snap.id)
                    .await
                    .map_err(runtime_err(&snap.id))?;
                let ev = NewEvent {
                    at: now_ms(),
                    sandbox_id: snap.source_sandbox.clone(),
                    action: "snapshot.deleted".to_owned(),
                    actor: Some(ACTOR.to_owned()),
                    ok: snap.state == SnapshotState::Deleting,
                    message: Some(format!(
                        "snapshot {}: {} was interrupted by a daemon restart",
                        snap.id, snap.state
                    )),
                    ..NewEvent::default()
                };
                self.inner.store.delete_snapshot(&snap.id, &ev).await?;
                self.publish_events().await;
                report.snapshots_removed.push(snap.id);
            }
        }
        for id in on_disk {
            if known.contains(&id) || self.inner.store.get_snapshot(&id).await?.is_some() {
                continue;
            }
            tracing::warn!(snapshot = %id, "removing snapshot files with no record");
            self.inner
                .runtime
                .delete_snapshot(&id)
                .await
                .map_err(runtime_err(&id))?;
            report.snapshots_removed.push(id);
        }
        Ok(())
    }
}
