//! Archive: stopped or hibernated sandboxes, and snapshots nothing depends on, move to object
//! storage (a local directory by default, S3 when configured) and come back transparently when
//! they are started, resumed or created from.
//!
//! Sandbox: park (no container, no mount) → upload the bundle directory (atomic: visible only
//! when complete) → record `archived` → remove the local files. Back: download into place
//! (atomic rename) → record the state its files say (`stopped`, or `hibernated` when a
//! checkpoint came back) → remove the object. A crash at any point leaves either the local files
//! or a complete object, and the record names which one counts; the reconciler removes the
//! other (`reconcile_archive`).
//!
//! While a transfer runs, its progress is kept in memory and shown on the sandbox
//! ([`Core::transfer`]), which the CLI polls for its progress bar.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use warren_store::{SandboxState, SnapshotState};

use crate::clock::now_ms;
use crate::sandbox::event;
use crate::{Core, CoreError, Sandbox, Snapshot};

/// The object key of a sandbox's files.
fn sandbox_key(id: &str) -> String {
    format!("sandboxes/{id}")
}

/// The object key of a snapshot's files.
fn snapshot_key(id: &str) -> String {
    format!("snapshots/{id}")
}

/// A transfer to or from the archive, as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// `true`: to the archive; `false`: back from it.
    pub upload: bool,
    /// Bytes moved so far (compressed).
    pub done_bytes: u64,
    /// Total bytes when known (downloads).
    pub total_bytes: Option<u64>,
}

/// Transfers in progress, by sandbox or snapshot id.
#[derive(Debug, Default)]
pub(crate) struct Transfers(Mutex<HashMap<String, Transfer>>);

impl Transfers {
    fn set(&self, id: &str, t: Transfer) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_owned(), t);
    }
    fn end(&self, id: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
    fn get(&self, id: &str) -> Option<Transfer> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .copied()
    }
}

fn archive_err(id: &str, source: warren_archive::ArchiveError) -> CoreError {
    CoreError::Archive {
        id: id.to_owned(),
        source: Box::new(source),
    }
}

impl Core {
    /// The archive transfer of `id` in progress, if any.
    pub fn transfer(&self, id: &str) -> Option<Transfer> {
        self.inner.transfers.get(id)
    }

    /// Where archives go, for messages (`local:/dir` or `s3://bucket (...)`).
    pub fn archive_location(&self) -> String {
        self.inner.archive.describe()
    }

    async fn upload(&self, id: &str, key: &str, dir: &std::path::Path) -> Result<u64, CoreError> {
        let transfers = Arc::clone(&self.inner);
        let owner = id.to_owned();
        let progress = move |done: u64| {
            transfers.transfers.set(
                &owner,
                Transfer {
                    upload: true,
                    done_bytes: done,
                    total_bytes: None,
                },
            );
        };
        let result = self.inner.archive.put_dir(key, dir, &progress).await;
        self.inner.transfers.end(id);
        result
            .map(|info| info.stored_bytes)
            .map_err(|e| archive_err(id, e))
    }

    async fn download(&self, id: &str, key: &str, dest: &std::path::Path) -> Result<(), CoreError> {
        let transfers = Arc::clone(&self.inner);
        let owner = id.to_owned();
        let progress = move |done: u64, total: Option<u64>| {
            transfers.transfers.set(
                &owner,
                Transfer {
                    upload: false,
                    done_bytes: done,
                    total_bytes: total,
                },
            );
        };
        let result = self.inner.archive.get_dir(key, dest, &progress).await;
        self.inner.transfers.end(id);
        result.map_err(|e| archive_err(id, e))
    }

    /// Move a stopped or hibernated sandbox to the archive; its local files are removed.
    pub async fn archive_sandbox(&self, id: &str, actor: &str) -> Result<Sandbox, CoreError> {
        let _guard = self.inner.locks.lock(id).await;
        let sb = self.get_sandbox(id).await?;
        if !matches!(sb.state, SandboxState::Stopped | SandboxState::Hibernated) {
            return Err(CoreError::WrongState {
                id: id.to_owned(),
                state: sb.state,
                operation: "archive",
            });
        }
        let runtime_err = |source| CoreError::Runtime {
            id: id.to_owned(),
            source: Box::new(source),
        };
        let started = std::time::Instant::now();
        let uploaded = async {
            let dir = self.inner.runtime.park(id).await.map_err(runtime_err)?;
            self.upload(id, &sandbox_key(id), &dir).await
        }
        .await;
        let bytes = match uploaded {
            Ok(b) => b,
            Err(err) => {
                let mut ev = event(id, "sandbox.archive", actor, Some(sb.state), None);
                ev.ok = false;
                ev.message = Some(err.chain());
                self.inner.store.append_event(&ev).await?;
                self.publish_events().await;
                return Err(err);
            }
        };
        let t = warren_store::Transition {
            id: id.to_owned(),
            from: Some(sb.state),
            to: SandboxState::Archived,
            error: None,
            at: now_ms(),
            event: warren_store::NewEvent {
                message: Some(format!(
                    "{bytes} bytes to {} in {:.1} s",
                    self.archive_location(),
                    started.elapsed().as_secs_f64()
                )),
                ..event(id, "sandbox.archive", actor, Some(sb.state), None)
            },
        };
        self.inner.store.transition(&t).await?;
        self.publish_events().await;
        // The object is what counts now; the local copy goes (the reconciler retries).
        if let Err(e) = self.inner.runtime.delete(id).await {
            tracing::warn!(sandbox = %id, error = %e, "cannot remove an archived sandbox's files");
        }
        // Its address goes back to the pool; it gets one again when it comes back.
        self.detach_network(id).await;
        self.get_sandbox(id).await
    }

    /// Bring an archived sandbox's files back (the caller holds its lock); returns it in the
    /// state its files say: `stopped`, or `hibernated` when a checkpoint came back.
    pub(crate) async fn unarchive_sandbox(
        &self,
        id: &str,
        actor: &str,
    ) -> Result<Sandbox, CoreError> {
        let dest = self.inner.runtime.files_dir(id);
        if !dest.exists() {
            self.download(id, &sandbox_key(id), &dest).await?;
        }
        let actual = self
            .inner
            .runtime
            .state(id)
            .await
            .map_err(|source| CoreError::Runtime {
                id: id.to_owned(),
                source: Box::new(source),
            })?;
        let to = if actual == Some(warren_runtime::ActualState::Hibernated) {
            SandboxState::Hibernated
        } else {
            SandboxState::Stopped
        };
        self.transition(id, SandboxState::Archived, to, "sandbox.unarchive", actor)
            .await?;
        if let Err(e) = self.inner.archive.delete(&sandbox_key(id)).await {
            tracing::warn!(sandbox = %id, error = %e, "cannot remove an unarchived sandbox's object");
        }
        self.get_sandbox(id).await
    }

    /// Remove an archived (or being deleted) sandbox's object; missing is fine.
    pub(crate) async fn forget_archived_sandbox(&self, id: &str) -> Result<(), CoreError> {
        self.inner
            .archive
            .delete(&sandbox_key(id))
            .await
            .map_err(|e| archive_err(id, e))
    }

    /// Move a snapshot nothing depends on to the archive; its local files are removed and it is
    /// fetched back when a sandbox is created from it.
    pub async fn archive_snapshot(
        &self,
        id_or_name: &str,
        actor: &str,
    ) -> Result<Snapshot, CoreError> {
        let snap = self.get_snapshot(id_or_name).await?;
        if snap.state != SnapshotState::Ready {
            return Err(CoreError::SnapshotConflict {
                id: snap.id,
                state: snap.state.to_string(),
                reason: "only a ready snapshot can be archived".into(),
            });
        }
        let deps = self.inner.store.snapshot_dependents(&snap.id).await?;
        if !deps.is_empty() {
            let users = [deps.sandboxes, deps.snapshots].concat().join(", ");
            return Err(CoreError::SnapshotInUse { id: snap.id, users });
        }
        let dir = self.inner.runtime.snapshot_dir(&snap.id);
        let bytes = self.upload(&snap.id, &snapshot_key(&snap.id), &dir).await?;
        let ev = warren_store::NewEvent {
            at: now_ms(),
            sandbox_id: snap.source_sandbox.clone(),
            action: "snapshot.archive".to_owned(),
            actor: Some(actor.to_owned()),
            ok: true,
            message: Some(format!(
                "snapshot {}: {bytes} bytes to {}",
                snap.id,
                self.archive_location()
            )),
            ..warren_store::NewEvent::default()
        };
        if let Err(e) = self
            .inner
            .store
            .set_snapshot_state(&snap.id, SnapshotState::Archived, &ev)
            .await
        {
            // Something came to depend on it meanwhile: it stays local.
            self.forget_archived_snapshot(&snap.id).await?;
            return Err(match e {
                warren_store::StoreError::InUse { id, users, .. } => {
                    CoreError::SnapshotInUse { id, users }
                }
                other => other.into(),
            });
        }
        self.publish_events().await;
        self.inner
            .runtime
            .delete_snapshot(&snap.id)
            .await
            .map_err(|source| CoreError::Runtime {
                id: snap.id.clone(),
                source: Box::new(source),
            })?;
        self.get_snapshot(&snap.id).await
    }

    /// Bring an archived snapshot back (before a sandbox is created from it). Serialized per
    /// snapshot (with the reconciler too); a no-op when another call brought it back already.
    pub(crate) async fn unarchive_snapshot(&self, id: &str, actor: &str) -> Result<(), CoreError> {
        let _guard = self.inner.locks.lock(id).await;
        let state = self.inner.store.get_snapshot(id).await?.map(|s| s.state);
        if state != Some(SnapshotState::Archived) {
            return Ok(());
        }
        let dest = self.inner.runtime.snapshot_dir(id);
        if !dest.exists() {
            self.download(id, &snapshot_key(id), &dest).await?;
        }
        let ev = warren_store::NewEvent {
            at: now_ms(),
            action: "snapshot.unarchive".to_owned(),
            actor: Some(actor.to_owned()),
            ok: true,
            message: Some(format!("snapshot {id}")),
            ..warren_store::NewEvent::default()
        };
        self.inner
            .store
            .set_snapshot_state(id, SnapshotState::Ready, &ev)
            .await?;
        self.publish_events().await;
        if let Err(e) = self.inner.archive.delete(&snapshot_key(id)).await {
            tracing::warn!(snapshot = %id, error = %e, "cannot remove an unarchived snapshot's object");
        }
        Ok(())
    }

    /// Remove an archived snapshot's object; missing is fine.
    pub(crate) async fn forget_archived_snapshot(&self, id: &str) -> Result<(), CoreError> {
        self.inner
            .archive
            .delete(&snapshot_key(id))
            .await
            .map_err(|e| archive_err(id, e))
    }
}
