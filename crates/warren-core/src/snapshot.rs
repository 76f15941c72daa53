//! Snapshots and branches: capture a running or paused sandbox (files, and optionally memory)
//! as an immutable snapshot; create sandboxes from it; branch a sandbox into N copies.
//!
//! Lineage: a snapshot records the sandbox it was taken from (`source_sandbox`) and that
//! sandbox's own snapshot (`parent_snapshot`); a sandbox records the snapshot it was created
//! from (`parent_snapshot`). A snapshot's files are stacked on its parent's (the chain is in its
//! spec), so a snapshot is kept while any sandbox or snapshot depends on it: deleting one that
//! is in use is a 409 naming the users, checked in the same transaction that would add one.
//!
//! A capture records the snapshot as `creating` first, asks the runtime, then marks it `ready`;
//! a failure (or a crash, see the reconciler) removes both the files and the record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use warren_store::{NewEvent, SnapshotRecord, SnapshotState, StoreError};

use crate::clock::now_ms;
use crate::sandbox::{CreateSandbox, Launch, SandboxSpec, event};
use crate::{Core, CoreError, Sandbox, SandboxState, ids, validate};

/// Most copies one branch call makes.
pub const MAX_BRANCHES: u32 = 32;

/// What a caller asks a snapshot to be.
#[derive(Debug, Clone, Default)]
pub struct CreateSnapshot {
    /// Capture the processes (memory) too, not only the files.
    pub memory: bool,
    /// Optional unique name, usable instead of the id.
    pub name: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// The persisted specification of a snapshot (the store's `spec` JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SnapshotSpec {
    /// The source sandbox's spec at capture time.
    pub sandbox: SandboxSpec,
    /// Its filesystem layer chain, lowest first, ending with this snapshot.
    pub layers: Vec<String>,
}

/// A snapshot as the domain sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Id, `snap-…`.
    pub id: String,
    /// Unique name, if given.
    pub name: Option<String>,
    /// State.
    pub state: SnapshotState,
    /// The sandbox it was taken from.
    pub source_sandbox: Option<String>,
    /// The snapshot that sandbox was created from.
    pub parent_snapshot: Option<String>,
    /// Image reference.
    pub image: String,
    /// Image manifest digest.
    pub image_digest: String,
    /// Processes captured too.
    pub memory: bool,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Bytes of the filesystem layer.
    pub fs_bytes: u64,
    /// Bytes of the memory image.
    pub memory_bytes: u64,
    /// How long the source was frozen for the capture, in microseconds.
    pub paused_us: u64,
    /// How deep its layer chain is (1: taken from a sandbox made from an image).
    pub depth: usize,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Position in creation order (list cursor).
    pub seq: i64,
}

impl TryFrom<SnapshotRecord> for Snapshot {
    type Error = CoreError;
    fn try_from(r: SnapshotRecord) -> Result<Self, CoreError> {
        let spec = parse_spec(&r)?;
        Ok(Self {
            id: r.id,
            name: r.name,
            state: r.state,
            source_sandbox: r.source_sandbox,
            parent_snapshot: r.parent_snapshot,
            image: r.image_ref,
            image_digest: r.image_digest,
            memory: r.memory,
            labels: r.labels,
            fs_bytes: r.fs_bytes,
            memory_bytes: r.memory_bytes,
            paused_us: r.paused_us,
            depth: spec.layers.len(),
            created_at: r.created_at,
            seq: r.seq,
        })
    }
}

fn parse_spec(r: &SnapshotRecord) -> Result<SnapshotSpec, CoreError> {
    serde_json::from_value(r.spec.clone()).map_err(|e| {
        StoreError::Corrupt {
            what: "snapshot spec",
            detail: e.to_string(),
        }
        .into()
    })
}

/// A snapshot name: 1-63 characters of `[a-z0-9._-]`, starting with a letter or digit, and not
/// shaped like a snapshot id (so that "id or name" lookups are never ambiguous).
fn validate_name(name: &str) -> Result<(), CoreError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !ok {
        return Err(CoreError::invalid(
            "name",
            "use 1-63 characters of [a-z0-9._-], starting with a letter or digit",
        ));
    }
    if name.starts_with("snap-") {
        return Err(CoreError::invalid(
            "name",
            "must not start with \"snap-\" (reserved for snapshot ids)",
        ));
    }
    Ok(())
}

/// An event about snapshot `snapshot` (attached to sandbox `sandbox` when there is one).
fn snapshot_event(sandbox: Option<&str>, action: &str, actor: &str, message: String) -> NewEvent {
    NewEvent {
        at: now_ms(),
        sandbox_id: sandbox.map(str::to_owned),
        action: action.to_owned(),
        actor: Some(actor.to_owned()),
        ok: true,
        message: Some(message),
        ..NewEvent::default()
    }
}

fn failed(mut ev: NewEvent, err: &CoreError) -> NewEvent {
    ev.ok = false;
    ev.message = Some(match ev.message {
        Some(m) => format!("{m}: {}", err.chain()),
        None => err.chain(),
    });
    ev
}

impl Core {
    /// Capture sandbox `id` (running or paused) as a new snapshot; it keeps running (or stays
    /// paused). The result says how long it was frozen.
    pub async fn snapshot_sandbox(
        &self,
        id: &str,
        req: CreateSnapshot,
        actor: &str,
    ) -> Result<Snapshot, CoreError> {
        if let Some(name) = &req.name {
            validate_name(name)?;
        }
        validate::labels(&req.labels)?;
        let _guard = self.inner.locks.lock(id).await;
        self.capture(id, req, actor).await
    }

    /// The capture itself; the caller holds the sandbox's lock.
    async fn capture(
        &self,
        id: &str,
        req: CreateSnapshot,
        actor: &str,
    ) -> Result<Snapshot, CoreError> {
        let sb = self.get_sandbox(id).await?;
        if !matches!(sb.state, SandboxState::Running | SandboxState::Paused) {
            return Err(CoreError::WrongState {
                id: id.to_owned(),
                state: sb.state,
                operation: "snapshot",
            });
        }
        let snap_id = ids::snapshot_id();
        let mut layers = sb.spec.snapshot_layers.clone();
        layers.push(snap_id.clone());
        let spec = SnapshotSpec {
            sandbox: sb.spec.clone(),
            layers,
        };
        let mut record = SnapshotRecord {
            seq: 0,
            id: snap_id.clone(),
            name: req.name.clone(),
            state: SnapshotState::Creating,
            source_sandbox: Some(id.to_owned()),
            parent_snapshot: sb.parent_snapshot.clone(),
            image_ref: sb.image.clone(),
            image_digest: sb.image_digest.clone(),
            memory: req.memory,
            spec: serde_json::to_value(&spec).expect("snapshot spec serializes"),
            labels: req.labels.clone(),
            fs_bytes: 0,
            memory_bytes: 0,
            paused_us: 0,
            created_at: now_ms(),
        };
        let kind = if req.memory {
            "files and memory"
        } else {
            "files"
        };
        let start = snapshot_event(
            Some(id),
            "sandbox.snapshot",
            actor,
            format!("snapshot {snap_id} ({kind}) started"),
        );
        self.inner
            .store
            .insert_snapshot(&record, &start)
            .await
            .map_err(|e| match e {
                StoreError::AlreadyExists { id: name, .. } => {
                    CoreError::invalid("name", format!("a snapshot named {name:?} exists already"))
                }
                other => other.into(),
            })?;
        self.publish_events().await;
        if req.memory {
            // CRIU dumps the sandbox's network namespace: without the link to the host (the
            // sandbox is offline while it is captured, then linked again).
            self.unplug_network(id).await;
        }
        let captured = self
            .inner
            .runtime
            .snapshot(id, &snap_id, req.memory)
            .await
            .map_err(|source| CoreError::Runtime {
                id: id.to_owned(),
                source: Box::new(source),
            });
        if req.memory {
            self.replug_network(id).await;
        }
        let info = match captured {
            Ok(info) => info,
            Err(err) => {
                self.discard_snapshot(&snap_id).await;
                let ev = failed(
                    snapshot_event(
                        Some(id),
                        "sandbox.snapshot",
                        actor,
                        format!("snapshot {snap_id}"),
                    ),
                    &err,
                );
                self.inner.store.delete_snapshot(&snap_id, &ev).await?;
                self.publish_events().await;
                return Err(err);
            }
        };
        record.state = SnapshotState::Ready;
        record.fs_bytes = info.fs_bytes;
        record.memory_bytes = info.memory_bytes;
        record.paused_us = u64::try_from(info.paused.as_micros()).unwrap_or(u64::MAX);
        let done = snapshot_event(
            Some(id),
            "sandbox.snapshot",
            actor,
            format!(
                "snapshot {snap_id} ready ({kind}; paused {:.1} ms)",
                info.paused.as_secs_f64() * 1000.0
            ),
        );
        self.inner.store.finish_snapshot(&record, &done).await?;
        self.publish_events().await;
        self.get_snapshot(&snap_id).await
    }

    /// Remove a snapshot's files, logging (not returning) a failure: used on error paths, where
    /// the reconciler removes what is left.
    async fn discard_snapshot(&self, snap_id: &str) {
        if let Err(e) = self.inner.runtime.delete_snapshot(snap_id).await {
            tracing::warn!(snapshot = %snap_id, error = %e, "cannot remove snapshot files");
        }
    }

    /// One snapshot, by id or name.
    pub async fn get_snapshot(&self, id_or_name: &str) -> Result<Snapshot, CoreError> {
        self.inner
            .store
            .get_snapshot(id_or_name)
            .await?
            .ok_or_else(|| CoreError::SnapshotNotFound {
                id: id_or_name.to_owned(),
            })?
            .try_into()
    }

    /// A page of snapshots in creation order (optionally of one source sandbox), and the cursor
    /// of the next page.
    pub async fn list_snapshots(
        &self,
        source_sandbox: Option<&str>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<(Vec<Snapshot>, Option<String>), CoreError> {
        let after = crate::sandbox::parse_cursor(cursor)?;
        let limit = crate::sandbox::page_limit(limit)?;
        let mut rows = self
            .inner
            .store
            .list_snapshots(source_sandbox, after, limit + 1)
            .await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let items = rows
            .into_iter()
            .map(Snapshot::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let next = more
            .then(|| items.last().map(|s| s.seq.to_string()))
            .flatten();
        Ok((items, next))
    }

    /// Delete a snapshot nothing depends on (else a 409 naming who does).
    pub async fn delete_snapshot(&self, id_or_name: &str, actor: &str) -> Result<(), CoreError> {
        let snap = self.get_snapshot(id_or_name).await?;
        if snap.state == SnapshotState::Creating {
            return Err(CoreError::SnapshotConflict {
                id: snap.id,
                state: "creating".into(),
                reason: "wait until it is ready".into(),
            });
        }
        if snap.state == SnapshotState::Archived {
            self.forget_archived_snapshot(&snap.id).await?;
        }
        let ev = snapshot_event(
            snap.source_sandbox.as_deref(),
            "snapshot.delete",
            actor,
            format!("snapshot {}", snap.id),
        );
        if snap.state != SnapshotState::Deleting {
            self.inner
                .store
                .set_snapshot_state(&snap.id, SnapshotState::Deleting, &ev)
                .await
                .map_err(|e| match e {
                    StoreError::InUse { id, users, .. } => CoreError::SnapshotInUse { id, users },
                    StoreError::NotFound { id, .. } => CoreError::SnapshotNotFound { id },
                    other => other.into(),
                })?;
        }
        self.inner
            .runtime
            .delete_snapshot(&snap.id)
            .await
            .map_err(|source| CoreError::Runtime {
                id: snap.id.clone(),
                source: Box::new(source),
            })?;
        let mut done = ev;
        done.action = "snapshot.deleted".into();
        self.inner.store.delete_snapshot(&snap.id, &done).await?;
        self.publish_events().await;
        Ok(())
    }

    /// What a create from snapshot `id_or_name` boots: its files (and processes, when it has
    /// memory), with the request's changes where they make sense.
    pub(crate) async fn plan_from_snapshot(
        &self,
        id_or_name: &str,
        req: &CreateSandbox,
        actor: &str,
    ) -> Result<Launch, CoreError> {
        if !req.image.trim().is_empty() {
            return Err(CoreError::invalid(
                "snapshot",
                "give either an image or a snapshot, not both",
            ));
        }
        let snap = self
            .inner
            .store
            .get_snapshot(id_or_name)
            .await?
            .ok_or_else(|| CoreError::SnapshotNotFound {
                id: id_or_name.to_owned(),
            })?;
        match snap.state {
            SnapshotState::Ready => {}
            // Fetched back first (it is a leaf: nothing local stacks on it).
            SnapshotState::Archived => self.unarchive_snapshot(&snap.id, actor).await?,
            _ => {
                return Err(CoreError::SnapshotConflict {
                    id: snap.id.clone(),
                    state: snap.state.to_string(),
                    reason: "only a ready snapshot can be used".into(),
                });
            }
        }
        let base = parse_spec(&snap)?;
        if snap.memory {
            // Its processes continue as captured: what they were started with cannot change.
            for (field, given) in [
                ("cmd", req.cmd.is_some()),
                ("env", !req.env.is_empty()),
                ("workdir", req.workdir.is_some()),
                ("user", req.user.is_some()),
            ] {
                if given {
                    return Err(CoreError::invalid(
                        field,
                        "cannot be changed for a sandbox made from a memory snapshot (its processes continue as captured)",
                    ));
                }
            }
        }
        let b = &base.sandbox;
        let merged = CreateSandbox {
            image: snap.image_digest.clone(),
            snapshot: None,
            cmd: req.cmd.clone().or_else(|| b.cmd.clone()),
            env: if req.env.is_empty() {
                b.env.clone()
            } else {
                req.env.clone()
            },
            cpu: req.cpu.or(Some(b.cpu)),
            memory_mb: req.memory_mb.or(Some(b.memory_mb)),
            pids_limit: req.pids_limit.or(Some(b.pids_limit)),
            workdir: req.workdir.clone().or_else(|| b.workdir.clone()),
            user: req.user.clone().or_else(|| b.user.clone()),
            disk_mb: req.disk_mb.or((b.disk_mb > 0).then_some(b.disk_mb)),
            labels: req.labels.clone(),
            metadata: req.metadata.clone(),
            lifecycle: req.lifecycle,
            network: req
                .network
                .clone()
                .or_else(|| Some(b.network.egress.clone())),
            public_ports: req
                .public_ports
                .clone()
                .or_else(|| Some(b.network.public_ports.clone())),
        };
        let mut launch = self.plan_from_image(&merged).await?;
        launch.spec.snapshot_layers = base.layers.clone();
        launch.parent_snapshot = Some(snap.id.clone());
        launch.restore = snap.memory;
        Ok(launch)
    }

    /// Branch sandbox `id` into `count` new running sandboxes that each continue from the same
    /// instant: a memory snapshot, then `count` sandboxes created from it (all or none: if one
    /// fails, those made are deleted; the snapshot stays for another try).
    pub async fn branch_sandbox(
        &self,
        id: &str,
        count: u32,
        actor: &str,
    ) -> Result<(Snapshot, Vec<Sandbox>), CoreError> {
        if !(1..=MAX_BRANCHES).contains(&count) {
            return Err(CoreError::invalid(
                "count",
                format!("must be 1..={MAX_BRANCHES}"),
            ));
        }
        let source = self.get_sandbox(id).await?;
        let snap = {
            let _guard = self.inner.locks.lock(id).await;
            self.capture(
                id,
                CreateSnapshot {
                    memory: true,
                    name: None,
                    labels: BTreeMap::new(),
                },
                actor,
            )
            .await?
        };
        let req = CreateSandbox {
            snapshot: Some(snap.id.clone()),
            labels: source.labels.clone(),
            metadata: source.metadata.clone(),
            ..CreateSandbox::default()
        };
        let mut creates = tokio::task::JoinSet::new();
        for _ in 0..count {
            let (core, req, actor) = (self.clone(), req.clone(), actor.to_owned());
            creates.spawn(async move { core.create_sandbox(req, &actor).await });
        }
        let mut made = Vec::new();
        let mut first_err = None;
        while let Some(joined) = creates.join_next().await {
            match joined {
                Ok(Ok(sb)) => made.push(sb),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                // A create panicked: a bug, surfaced as one (nothing aborts these tasks).
                Err(join) => std::panic::resume_unwind(join.into_panic()),
            }
        }
        made.sort_by_key(|sb| sb.seq);
        if let Some(err) = first_err {
            for sb in &made {
                if let Err(e) = self.delete_sandbox(&sb.id, actor).await {
                    tracing::warn!(sandbox = %sb.id, error = %e, "cannot undo a branch");
                }
            }
            return Err(err);
        }
        let mut ev = event(id, "sandbox.branch", actor, None, None);
        let ids: Vec<&str> = made.iter().map(|sb| sb.id.as_str()).collect();
        ev.message = Some(format!("from {}: {}", snap.id, ids.join(", ")));
        self.inner.store.append_event(&ev).await?;
        self.publish_events().await;
        Ok((snap, made))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["base", "py-3.12", "a", "x_y.z"] {
            validate_name(ok).unwrap();
        }
        for bad in ["", "-a", "A", "a b", "snap-123", &"a".repeat(64), "ä"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }
}
