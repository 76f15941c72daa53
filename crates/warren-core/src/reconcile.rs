//! The reconciler: make the store agree with what the runtime reports.
//!
//! Sandboxes outlive the daemon, so on start (and periodically) the daemon
//! compares its records with the runtime's view and closes the gap:
//!
//! | record state        | runtime says        | action                                   |
//! |---------------------|---------------------|------------------------------------------|
//! | creating / deleting | anything            | interrupted by a crash: remove both      |
//! | running / paused    | running / paused    | adopt the runtime's state                |
//! | running / paused    | hibernated          | `hibernated` (the daemon died after a dump)  |
//! | running / paused    | stopped             | `stopped` (files kept), leftovers released |
//! | running / paused    | unknown             | `error`, with the reason                 |
//! | hibernated          | no checkpoint       | `error`, with the reason                 |
//! | archived            | files exist         | remove them (the archived object counts) |
//! | (no record)         | exists              | orphan from a crash mid-create: delete   |

use std::collections::{HashMap, HashSet};

use warren_runtime::ActualState;
use warren_store::{NewEvent, SandboxState, Transition};

use crate::clock::now_ms;
use crate::sandbox::event;
use crate::{Core, CoreError};

const ACTOR: &str = "reconciler";

/// Does the listed runtime state match the record, so that nothing needs doing?
fn agrees(recorded: SandboxState, listed: Option<ActualState>) -> bool {
    matches!(
        (recorded, listed),
        (SandboxState::Running, Some(ActualState::Running))
            | (SandboxState::Paused, Some(ActualState::Paused))
            | (SandboxState::Hibernated, Some(ActualState::Hibernated))
            | (SandboxState::Stopped, _)
            | (SandboxState::Archived, _)
            | (SandboxState::Error, _)
    )
}

/// What one reconcile pass changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Records whose state changed.
    pub updated: Vec<String>,
    /// Interrupted creates/deletes finished off.
    pub removed: Vec<String>,
    /// Runtime sandboxes with no record, deleted.
    pub orphans: Vec<String>,
    /// Snapshots removed: interrupted captures or deletes, and files with no record.
    pub snapshots_removed: Vec<String>,
}

impl Core {
    /// One reconcile pass. Safe to run at any time; per-sandbox locks keep it
    /// from racing user operations.
    pub async fn reconcile(&self) -> Result<ReconcileReport, CoreError> {
        let mut report = ReconcileReport::default();
        // Snapshots first: an interrupted capture may have left its source frozen, which the
        // sandbox pass below would otherwise take for a pause.
        self.reconcile_snapshots(&mut report).await?;
        let mut known = HashSet::new();
        // One listing for the whole pass (not one `runc state` per sandbox); a sandbox whose
        // listed state disagrees with its record is asked again under its lock.
        let listed: HashMap<String, ActualState> = self.runtime_list().await?.into_iter().collect();
        for rec in self.all_sandbox_records().await? {
            known.insert(rec.id.clone());
            let _guard = self.inner.locks.lock(&rec.id).await;
            // Re-read under the lock: a user operation may have just finished.
            let Some(rec) = self.inner.store.get_sandbox(&rec.id).await? else {
                continue;
            };
            if rec.state == SandboxState::Archived && listed.contains_key(&rec.id) {
                // Local files an interrupted archive or unarchive left: the object counts.
                self.inner
                    .runtime
                    .delete(&rec.id)
                    .await
                    .map_err(|source| CoreError::Runtime {
                        id: rec.id.clone(),
                        source: Box::new(source),
                    })?;
                continue;
            }
            if agrees(rec.state, listed.get(&rec.id).copied()) {
                continue;
            }
            self.reconcile_one(&rec.id, rec.state, &mut report).await?;
        }
        for id in listed.into_keys() {
            if known.contains(&id) {
                continue;
            }
            // Created after our listing started? Then it has a record now.
            let _guard = self.inner.locks.lock(&id).await;
            if self.inner.store.get_sandbox(&id).await?.is_some() {
                continue;
            }
            tracing::warn!(sandbox = %id, "deleting orphaned sandbox with no record");
            self.inner
                .runtime
                .delete(&id)
                .await
                .map_err(|source| CoreError::Runtime {
                    id: id.clone(),
                    source: Box::new(source),
                })?;
            let mut ev = event(&id, "sandbox.orphan_deleted", ACTOR, None, None);
            ev.message = Some("runtime had a sandbox the store did not know".to_owned());
            self.inner.store.append_event(&ev).await?;
            self.publish_events().await;
            report.orphans.push(id);
        }
        self.release_stale_addresses().await?;
        Ok(report)
    }

    /// The runtime's sandboxes; a listing that fails because a container vanished under it
    /// (runc reads each container's state) is tried again once.
    async fn runtime_list(&self) -> Result<Vec<(String, ActualState)>, CoreError> {
        match self.inner.runtime.list().await {
            Ok(l) => Ok(l),
            Err(first) => {
                tracing::debug!(error = %first, "runtime listing failed; retrying once");
                self.inner
                    .runtime
                    .list()
                    .await
                    .map_err(|source| CoreError::Runtime {
                        id: "*".to_owned(),
                        source: Box::new(source),
                    })
            }
        }
    }

    async fn reconcile_one(
        &self,
        id: &str,
        recorded: SandboxState,
        report: &mut ReconcileReport,
    ) -> Result<(), CoreError> {
        let runtime_err = |source| CoreError::Runtime {
            id: id.to_owned(),
            source: Box::new(source),
        };
        match recorded {
            SandboxState::Creating | SandboxState::Deleting => {
                self.inner.runtime.delete(id).await.map_err(runtime_err)?;
                if recorded == SandboxState::Deleting {
                    self.forget_archived_sandbox(id).await?;
                }
                let mut ev: NewEvent = event(id, "sandbox.deleted", ACTOR, Some(recorded), None);
                ev.ok = recorded == SandboxState::Deleting;
                ev.message = Some(format!("{recorded} was interrupted by a daemon restart"));
                self.inner.store.delete_sandbox(id, &ev).await?;
                self.publish_events().await;
                report.removed.push(id.to_owned());
            }
            SandboxState::Running | SandboxState::Paused => {
                let actual = self.inner.runtime.state(id).await.map_err(runtime_err)?;
                let (to, reason) = match actual {
                    Some(ActualState::Running) => (SandboxState::Running, None),
                    Some(ActualState::Paused) => (SandboxState::Paused, None),
                    // A hibernate finished in the runtime but was not recorded (daemon crash).
                    Some(ActualState::Hibernated) => (
                        SandboxState::Hibernated,
                        Some("a hibernate completed while the daemon was down"),
                    ),
                    // Its files are intact: stopped (normalized below), startable again.
                    Some(ActualState::Stopped) => (
                        SandboxState::Stopped,
                        Some(
                            "the sandbox's processes are gone (host reboot or killed); start it again",
                        ),
                    ),
                    Some(ActualState::Creating) => (
                        SandboxState::Error,
                        Some("the runtime left the sandbox half-created"),
                    ),
                    None => (
                        SandboxState::Error,
                        Some("the runtime no longer knows this sandbox"),
                    ),
                };
                if to == SandboxState::Stopped {
                    // Leftover cgroups and mounts of the dead container go, as after a stop.
                    self.inner.runtime.stop(id).await.map_err(runtime_err)?;
                }
                if to != recorded {
                    self.record_reconciled(id, recorded, to, reason).await?;
                    report.updated.push(id.to_owned());
                }
            }
            SandboxState::Hibernated => {
                let actual = self.inner.runtime.state(id).await.map_err(runtime_err)?;
                let (to, reason) = match actual {
                    Some(ActualState::Hibernated) => return Ok(()),
                    // A resume restored it but was not recorded (daemon crash).
                    Some(ActualState::Running) => (SandboxState::Running, None),
                    Some(ActualState::Paused) => (SandboxState::Paused, None),
                    _ => (
                        SandboxState::Error,
                        Some("its checkpoint is missing or incomplete; delete it"),
                    ),
                };
                self.record_reconciled(id, recorded, to, reason).await?;
                report.updated.push(id.to_owned());
            }
            SandboxState::Stopped | SandboxState::Archived | SandboxState::Error => {}
        }
        Ok(())
    }

    /// Record a state the reconciler found, with its reason as the event's message (and as the
    /// sandbox's error when it is `error`).
    async fn record_reconciled(
        &self,
        id: &str,
        recorded: SandboxState,
        to: SandboxState,
        reason: Option<&str>,
    ) -> Result<(), CoreError> {
        let mut ev = event(id, "sandbox.reconciled", ACTOR, Some(recorded), Some(to));
        ev.message = reason.map(str::to_owned);
        let t = Transition {
            id: id.to_owned(),
            from: Some(recorded),
            to,
            error: reason
                .filter(|_| to == SandboxState::Error)
                .map(str::to_owned),
            at: now_ms(),
            event: ev,
        };
        self.inner.store.transition(&t).await?;
        self.publish_events().await;
        Ok(())
    }
}
