//! Sandboxes: create, get, list, delete.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use warren_runtime::{Limits, SandboxSpec as RuntimeSpec};
use warren_store::{
    NewEvent, SandboxFilter, SandboxRecord, SandboxState, SandboxUpdate, StoreError, Transition,
};

use crate::clock::now_ms;
use crate::{Core, CoreError, ids, validate};

/// What a caller asks for; `None` fields take the server's defaults (or, from a snapshot, the
/// snapshot's values).
#[derive(Debug, Clone, Default)]
pub struct CreateSandbox {
    /// Image reference or digest (empty when `snapshot` is given).
    pub image: String,
    /// Snapshot id or name to create the sandbox from instead of an image.
    pub snapshot: Option<String>,
    /// Main process; `None` runs the image's Entrypoint + Cmd.
    pub cmd: Option<Vec<String>>,
    /// Environment added to the image's.
    pub env: BTreeMap<String, String>,
    /// CPU cores.
    pub cpu: Option<f64>,
    /// Memory limit in MiB.
    pub memory_mb: Option<u64>,
    /// Process limit.
    pub pids_limit: Option<u32>,
    /// Default working directory of commands; `None`: the image's.
    pub workdir: Option<String>,
    /// Default user of commands; `None`: the image's.
    pub user: Option<String>,
    /// Disk quota in MiB.
    pub disk_mb: Option<u64>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Caller's free-form metadata.
    pub metadata: BTreeMap<String, String>,
    /// Lifecycle policy; absent rules take the server's defaults.
    pub lifecycle: crate::PolicyInput,
    /// Egress policy; `None`: outbound.
    pub network: Option<warren_net::EgressPolicy>,
    /// Ports the preview proxy serves without a token.
    pub public_ports: Option<Vec<u16>>,
}

/// A change to a live sandbox; `None` fields are left as they are, given maps replace the old.
#[derive(Debug, Clone, Default)]
pub struct UpdateSandbox {
    /// New labels.
    pub labels: Option<BTreeMap<String, String>>,
    /// New metadata.
    pub metadata: Option<BTreeMap<String, String>>,
    /// New lifecycle policy (resolved against the server's defaults).
    pub lifecycle: Option<crate::PolicyInput>,
}

/// The persisted specification of a sandbox (the store's `spec` JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// Main process as requested (`None`: the image's default).
    pub cmd: Option<Vec<String>>,
    /// Environment given at creation.
    pub env: BTreeMap<String, String>,
    /// CPU cores.
    pub cpu: f64,
    /// Memory limit in MiB.
    pub memory_mb: u64,
    /// Process limit.
    pub pids_limit: u32,
    /// Hostname inside the sandbox.
    pub hostname: String,
    /// Default working directory of commands, when given at creation.
    #[serde(default)]
    pub workdir: Option<String>,
    /// Default user of commands, when given at creation.
    #[serde(default)]
    pub user: Option<String>,
    /// Disk quota in MiB; 0 for sandboxes created before quotas existed (unlimited).
    #[serde(default)]
    pub disk_mb: u64,
    /// The snapshots whose filesystem layers it runs on, lowest first (empty: the image only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshot_layers: Vec<String>,
    /// Lifecycle policy (resolved at creation).
    #[serde(default)]
    pub policy: crate::Policy,
    /// Network settings.
    #[serde(default)]
    pub network: crate::NetworkSpec,
}

/// A sandbox as the domain sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sandbox {
    /// Id.
    pub id: String,
    /// State.
    pub state: SandboxState,
    /// Image reference.
    pub image: String,
    /// Image manifest digest.
    pub image_digest: String,
    /// Specification.
    pub spec: SandboxSpec,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Caller's free-form metadata.
    pub metadata: BTreeMap<String, String>,
    /// Why it is in `error`.
    pub error: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
    /// Position in creation order (list cursor).
    pub seq: i64,
    /// The snapshot it was created from (lineage).
    pub parent_snapshot: Option<String>,
    /// Last recorded activity (Unix ms), if any.
    pub last_active_at: Option<i64>,
    /// An archive transfer in progress.
    pub transfer: Option<crate::Transfer>,
    /// Its address on the warren bridge, while it has one.
    pub address: Option<std::net::Ipv4Addr>,
}

/// Everything a create has worked out before touching anything.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub spec: SandboxSpec,
    pub image: warren_images::Image,
    pub layers: Vec<std::path::PathBuf>,
    pub labels: BTreeMap<String, String>,
    pub metadata: BTreeMap<String, String>,
    /// The snapshot it is made from.
    pub parent_snapshot: Option<String>,
    /// Continue that snapshot's processes (a memory snapshot).
    pub restore: bool,
}

/// The list cursor a previous page returned.
pub(crate) fn parse_cursor(cursor: Option<&str>) -> Result<Option<i64>, CoreError> {
    cursor
        .map(|c| {
            c.parse::<i64>().map_err(|_| {
                CoreError::invalid("cursor", "not a cursor returned by a previous list call")
            })
        })
        .transpose()
}

/// A page size: `limit` or 100, within 1..=[`MAX_PAGE`].
pub(crate) fn page_limit(limit: Option<u32>) -> Result<u32, CoreError> {
    let limit = limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(CoreError::invalid(
            "limit",
            format!("must be 1..={MAX_PAGE}"),
        ));
    }
    Ok(limit)
}

impl TryFrom<SandboxRecord> for Sandbox {
    type Error = CoreError;
    fn try_from(r: SandboxRecord) -> Result<Self, CoreError> {
        let spec = serde_json::from_value(r.spec).map_err(|e| StoreError::Corrupt {
            what: "sandbox spec",
            detail: e.to_string(),
        })?;
        Ok(Self {
            id: r.id,
            state: r.state,
            image: r.image_ref,
            image_digest: r.image_digest,
            spec,
            labels: r.labels,
            metadata: r.metadata,
            error: r.error,
            created_at: r.created_at,
            updated_at: r.updated_at,
            seq: r.seq,
            parent_snapshot: r.parent_snapshot,
            last_active_at: r.last_active_at,
            transfer: None,
            address: None,
        })
    }
}

/// Most sandboxes returned by one list call.
pub const MAX_PAGE: u32 = 500;

impl Core {
    fn validate_create(&self, req: &CreateSandbox) -> Result<SandboxSpec, CoreError> {
        let d = &self.inner.defaults;
        if req.image.trim().is_empty() {
            return Err(CoreError::invalid(
                "image",
                "must name an image (e.g. \"python:3.12\") or give a snapshot",
            ));
        }
        if let Some(cmd) = &req.cmd {
            validate::command("cmd", cmd)?;
        }
        validate::env("env", &req.env)?;
        validate::labels(&req.labels)?;
        validate::metadata(&req.metadata)?;
        if let Some(dir) = &req.workdir {
            validate::sandbox_path("workdir", dir)?;
        }
        if let Some(user) = &req.user {
            validate::user("user", user)?;
        }
        let egress = req.network.clone().unwrap_or_default();
        crate::network::validate_egress(&egress)?;
        let public_ports =
            crate::network::validate_public_ports(req.public_ports.as_deref().unwrap_or(&[]))?;
        let cpu = req.cpu.unwrap_or(d.cpu);
        if !cpu.is_finite() || !(0.1..=64.0).contains(&cpu) {
            return Err(CoreError::invalid(
                "cpu",
                format!("{cpu} is outside 0.1..=64 cores"),
            ));
        }
        let memory_mb = req.memory_mb.unwrap_or(d.memory_mb);
        if !(16..=1_048_576).contains(&memory_mb) {
            return Err(CoreError::invalid(
                "memory_mb",
                format!("{memory_mb} is outside 16..=1048576"),
            ));
        }
        let pids_limit = req.pids_limit.unwrap_or(d.pids_limit);
        if !(16..=65_536).contains(&pids_limit) {
            return Err(CoreError::invalid(
                "pids_limit",
                format!("{pids_limit} is outside 16..=65536"),
            ));
        }
        // The server's default may be 0: no quota.
        let disk_mb = req.disk_mb.unwrap_or(d.disk_mb);
        if req.disk_mb.is_some() && !(64..=1_048_576).contains(&disk_mb) {
            return Err(CoreError::invalid(
                "disk_mb",
                format!("{disk_mb} is outside 64..=1048576"),
            ));
        }
        Ok(SandboxSpec {
            cmd: req.cmd.clone(),
            env: req.env.clone(),
            cpu,
            memory_mb,
            pids_limit,
            hostname: String::new(),
            workdir: req.workdir.clone(),
            user: req.user.clone(),
            disk_mb,
            snapshot_layers: Vec::new(),
            policy: req.lifecycle.resolve(&d.policy)?,
            network: crate::NetworkSpec {
                egress,
                public_ports,
                access_token: ids::access_token(),
            },
        })
    }

    /// What a create from an image boots (pulling the image if needed).
    pub(crate) async fn plan_from_image(&self, req: &CreateSandbox) -> Result<Launch, CoreError> {
        let spec = self.validate_create(req)?;
        let image = self.resolve_image(&req.image).await?;
        let layers = self.layer_dirs(&image).await?;
        Ok(Launch {
            spec,
            image,
            layers,
            labels: req.labels.clone(),
            metadata: req.metadata.clone(),
            parent_snapshot: None,
            restore: false,
        })
    }

    /// Create a sandbox and wait until its agent answers. On failure nothing
    /// is left behind but an event saying why.
    pub async fn create_sandbox(
        &self,
        req: CreateSandbox,
        actor: &str,
    ) -> Result<Sandbox, CoreError> {
        let launch = match &req.snapshot {
            Some(snapshot) => self.plan_from_snapshot(snapshot, &req, actor).await?,
            None => self.plan_from_image(&req).await?,
        };
        self.launch(launch, actor).await
    }

    /// Record, create in the runtime, and record `running` (or undo everything).
    async fn launch(&self, launch: Launch, actor: &str) -> Result<Sandbox, CoreError> {
        let Launch {
            mut spec,
            image,
            layers,
            labels,
            metadata,
            parent_snapshot,
            restore,
        } = launch;
        let id = ids::sandbox_id();
        spec.hostname = id.clone();
        let now = now_ms();
        let record = SandboxRecord {
            seq: 0,
            id: id.clone(),
            state: SandboxState::Creating,
            image_ref: image.reference.clone(),
            image_digest: image.digest.clone(),
            spec: serde_json::to_value(&spec).expect("spec serializes"),
            labels,
            metadata,
            error: None,
            created_at: now,
            updated_at: now,
            parent_snapshot: parent_snapshot.clone(),
            last_active_at: Some(now),
        };
        let _guard = self.inner.locks.lock(&id).await;
        let created = event(
            &id,
            "sandbox.create",
            actor,
            None,
            Some(SandboxState::Creating),
        );
        self.inner
            .store
            .insert_sandbox(&record, &created)
            .await
            .map_err(|e| match e {
                // The snapshot was deleted between the plan and the insert.
                StoreError::NotFound {
                    what: "snapshot",
                    id,
                } => CoreError::SnapshotNotFound { id },
                other => other.into(),
            })?;
        self.publish_events().await;

        let mut runtime_spec = runtime_spec(&id, &spec, &image, layers);
        if restore {
            runtime_spec.restore_from = spec.snapshot_layers.last().cloned();
        }
        let created = match self.attach_network(&id, &spec.network).await {
            Ok(network) => {
                runtime_spec.network = network;
                self.inner
                    .runtime
                    .create(&runtime_spec)
                    .await
                    .map(drop)
                    .map_err(|source| CoreError::Runtime {
                        id: id.clone(),
                        source: Box::new(source),
                    })
            }
            Err(e) => Err(e),
        };
        if let Err(err) = created {
            // The runtime cleaned up after itself; make sure, then drop the record.
            if let Err(e) = self.inner.runtime.delete(&id).await {
                tracing::warn!(sandbox = %id, error = %e, "cleanup after failed create");
            }
            self.detach_network(&id).await;
            let mut ev = event(
                &id,
                "sandbox.create",
                actor,
                Some(SandboxState::Creating),
                None,
            );
            ev.ok = false;
            ev.message = Some(err.chain());
            self.inner.store.delete_sandbox(&id, &ev).await?;
            self.publish_events().await;
            return Err(err);
        }
        self.transition(
            &id,
            SandboxState::Creating,
            SandboxState::Running,
            "sandbox.started",
            actor,
        )
        .await?;
        self.get_sandbox(&id).await
    }

    /// Every sandbox record, in creation order (read from the store a page at a time): for the
    /// passes that look at all of them (reconciler, policies, metrics).
    pub(crate) async fn all_sandbox_records(&self) -> Result<Vec<SandboxRecord>, CoreError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.inner.store.list_sandboxes(after, 500).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.seq);
            all.extend(page);
        }
        Ok(all)
    }

    /// One sandbox.
    pub async fn get_sandbox(&self, id: &str) -> Result<Sandbox, CoreError> {
        let mut sb: Sandbox = self
            .inner
            .store
            .get_sandbox(id)
            .await?
            .ok_or_else(|| CoreError::SandboxNotFound { id: id.to_owned() })?
            .try_into()?;
        self.add_live_fields(&mut sb);
        Ok(sb)
    }

    /// What only this daemon's memory knows: a transfer in progress, activity not yet saved.
    fn add_live_fields(&self, sb: &mut Sandbox) {
        sb.transfer = self.transfer(&sb.id);
        sb.address = self.network().and_then(|n| n.address(&sb.id));
        sb.last_active_at = sb.last_active_at.max(self.inner.activity.last_seen(&sb.id));
    }

    /// A page of sandboxes in creation order, and the cursor of the next page.
    pub async fn list_sandboxes(
        &self,
        filter: &SandboxFilter,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<(Vec<Sandbox>, Option<String>), CoreError> {
        for (key, value) in &filter.labels {
            let one = BTreeMap::from([(key.clone(), value.clone())]);
            validate::labels(&one)?;
        }
        let after = parse_cursor(cursor)?;
        let limit = page_limit(limit)?;
        // One extra row tells whether another page exists.
        let mut rows = self
            .inner
            .store
            .find_sandboxes(filter, after, limit + 1)
            .await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let mut items = rows
            .into_iter()
            .map(Sandbox::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        for sb in &mut items {
            self.add_live_fields(sb);
        }
        let next = if more {
            items.last().map(|s| s.seq.to_string())
        } else {
            None
        };
        Ok((items, next))
    }

    /// Replace a sandbox's labels, metadata and/or lifecycle policy, in any state but `deleting`.
    pub async fn update_sandbox(
        &self,
        id: &str,
        req: UpdateSandbox,
        actor: &str,
    ) -> Result<Sandbox, CoreError> {
        if let Some(labels) = &req.labels {
            validate::labels(labels)?;
        }
        if let Some(metadata) = &req.metadata {
            validate::metadata(metadata)?;
        }
        let _guard = self.inner.locks.lock(id).await;
        let sb = self.get_sandbox(id).await?;
        if sb.state == SandboxState::Deleting {
            return Err(CoreError::WrongState {
                id: id.to_owned(),
                state: sb.state,
                operation: "update",
            });
        }
        let spec = match &req.lifecycle {
            None => None,
            Some(input) => {
                let mut spec = sb.spec.clone();
                spec.policy = input.resolve(&self.inner.defaults.policy)?;
                Some(serde_json::to_value(&spec).expect("spec serializes"))
            }
        };
        let update = SandboxUpdate {
            id: id.to_owned(),
            labels: req.labels,
            metadata: req.metadata,
            spec,
            event: event(id, "sandbox.update", actor, None, None),
        };
        let record = self
            .inner
            .store
            .update_sandbox(&update)
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => CoreError::SandboxNotFound { id: id.to_owned() },
                other => other.into(),
            })?;
        self.publish_events().await;
        record.try_into()
    }

    /// Delete a sandbox: processes, filesystem, mounts, cgroups, archived copy, record.
    /// Works from any state, including `error`.
    pub async fn delete_sandbox(&self, id: &str, actor: &str) -> Result<(), CoreError> {
        let _guard = self.inner.locks.lock(id).await;
        let sb = self.get_sandbox(id).await?;
        if sb.state != SandboxState::Deleting {
            self.transition_any(id, SandboxState::Deleting, "sandbox.delete", actor)
                .await?;
        }
        if matches!(sb.state, SandboxState::Archived | SandboxState::Deleting) {
            self.forget_archived_sandbox(id).await?;
        }
        self.inner
            .runtime
            .delete(id)
            .await
            .map_err(|source| CoreError::Runtime {
                id: id.to_owned(),
                source: Box::new(source),
            })?;
        self.detach_network(id).await;
        let ev = event(
            id,
            "sandbox.deleted",
            actor,
            Some(SandboxState::Deleting),
            None,
        );
        self.inner.store.delete_sandbox(id, &ev).await?;
        self.inner.activity.forget(id);
        self.publish_events().await;
        Ok(())
    }

    /// Fail unless the sandbox is running; returns it.
    pub(crate) async fn running_sandbox(
        &self,
        id: &str,
        operation: &'static str,
    ) -> Result<Sandbox, CoreError> {
        let sb = self.get_sandbox(id).await?;
        if sb.state != SandboxState::Running {
            return Err(CoreError::WrongState {
                id: id.to_owned(),
                state: sb.state,
                operation,
            });
        }
        Ok(sb)
    }

    pub(crate) async fn transition(
        &self,
        id: &str,
        from: SandboxState,
        to: SandboxState,
        action: &str,
        actor: &str,
    ) -> Result<(), CoreError> {
        let t = Transition {
            id: id.to_owned(),
            from: Some(from),
            to,
            error: None,
            at: now_ms(),
            event: event(id, action, actor, Some(from), Some(to)),
        };
        self.inner.store.transition(&t).await.map_err(|e| match e {
            StoreError::NotFound { .. } => CoreError::SandboxNotFound { id: id.to_owned() },
            StoreError::StateConflict { actual, .. } => CoreError::WrongState {
                id: id.to_owned(),
                state: actual,
                operation: "change",
            },
            other => other.into(),
        })?;
        self.publish_events().await;
        Ok(())
    }

    pub(crate) async fn transition_any(
        &self,
        id: &str,
        to: SandboxState,
        action: &str,
        actor: &str,
    ) -> Result<(), CoreError> {
        let t = Transition {
            id: id.to_owned(),
            from: None,
            to,
            error: None,
            at: now_ms(),
            event: event(id, action, actor, None, Some(to)),
        };
        self.inner.store.transition(&t).await.map_err(|e| match e {
            StoreError::NotFound { .. } => CoreError::SandboxNotFound { id: id.to_owned() },
            other => other.into(),
        })?;
        self.publish_events().await;
        Ok(())
    }
}

/// An event about sandbox `id`.
pub(crate) fn event(
    id: &str,
    action: &str,
    actor: &str,
    from: Option<SandboxState>,
    to: Option<SandboxState>,
) -> NewEvent {
    NewEvent {
        at: now_ms(),
        sandbox_id: Some(id.to_owned()),
        action: action.to_owned(),
        from_state: from,
        to_state: to,
        actor: Some(actor.to_owned()),
        ok: true,
        message: None,
    }
}

/// What the runtime needs to boot sandbox `id` of `spec` from `image` (unpacked at `layers`).
pub(crate) fn runtime_spec(
    id: &str,
    spec: &SandboxSpec,
    image: &warren_images::Image,
    layers: Vec<std::path::PathBuf>,
) -> RuntimeSpec {
    RuntimeSpec {
        id: id.to_owned(),
        hostname: spec.hostname.clone(),
        layers,
        env: with_sandbox_id(merge_env(&image.config.env, &spec.env), id),
        workdir: spec
            .workdir
            .clone()
            .unwrap_or_else(|| image.config.working_dir.clone()),
        user: spec
            .user
            .clone()
            .unwrap_or_else(|| image.config.user.clone()),
        main_cmd: main_cmd(spec, &image.config),
        snapshot_layers: spec.snapshot_layers.clone(),
        restore_from: None,
        network: None,
        limits: Limits {
            memory_bytes: spec.memory_mb * 1024 * 1024,
            // Validated to 0.1..=64, so this is 100..=64000.
            cpu_millis: (spec.cpu * 1000.0).round() as u32,
            pids: spec.pids_limit,
            disk_bytes: spec.disk_mb * 1024 * 1024,
        },
    }
}

/// `env` with `WARREN_SANDBOX_ID=<id>` (replacing any given one): processes can tell which
/// sandbox they run in, and the agent updates it when a copy is restored from a snapshot.
fn with_sandbox_id(mut env: Vec<String>, id: &str) -> Vec<String> {
    let key = warren_agent_proto::identity::SANDBOX_ID_ENV;
    env.retain(|kv| kv.split_once('=').map_or(kv.as_str(), |(k, _)| k) != key);
    env.push(format!("{key}={id}"));
    env
}

/// Image env overridden by the sandbox's, keeping the image's order; PATH guaranteed.
pub(crate) fn merge_env(image_env: &[String], overrides: &BTreeMap<String, String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(image_env.len() + overrides.len() + 1);
    for kv in image_env {
        let key = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
        if !overrides.contains_key(key) {
            out.push(kv.clone());
        }
    }
    out.extend(overrides.iter().map(|(k, v)| format!("{k}={v}")));
    if !out.iter().any(|kv| kv.starts_with("PATH=")) {
        out.push("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned());
    }
    out
}

/// The sandbox's main process: the request's `cmd`, else the image's
/// Entrypoint + Cmd, else none.
fn main_cmd(spec: &SandboxSpec, image: &warren_images::ImageConfig) -> Option<Vec<String>> {
    if let Some(cmd) = &spec.cmd {
        return Some(cmd.clone());
    }
    let argv: Vec<String> = image.entrypoint.iter().chain(&image.cmd).cloned().collect();
    (!argv.is_empty()).then_some(argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_merge_overrides_and_adds_path() {
        let image = vec!["PATH=/x".to_owned(), "LANG=C".to_owned()];
        let ov = BTreeMap::from([
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
            ("A".to_owned(), "1".to_owned()),
        ]);
        assert_eq!(merge_env(&image, &ov), ["PATH=/x", "A=1", "LANG=C.UTF-8"]);
        let no_path = merge_env(&[], &BTreeMap::new());
        assert!(no_path[0].starts_with("PATH=/usr/local/sbin"));
    }
}
