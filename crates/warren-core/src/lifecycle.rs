//! Pause, resume, hibernate, stop and start: state changes of an existing sandbox (ARCHITECTURE.md's state
//! machine). Each takes the sandbox's lock, checks the state it starts from (a clear 409
//! otherwise), asks the runtime, and records the new state with its event in one transaction.
//! A runtime failure leaves the recorded state as it was and records a failed event.

use warren_store::SandboxState;

use crate::sandbox::{event, runtime_spec};
use crate::{Core, CoreError, Sandbox};

/// A state change a caller can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleOp {
    /// Running → paused: every process frozen, memory kept.
    Pause,
    /// Paused or hibernated → running (a hibernated sandbox is restored from its checkpoint).
    Resume,
    /// Running or paused → hibernated: checkpointed to disk with its memory, which is released.
    Hibernate,
    /// Running, paused or hibernated → stopped: processes (or their checkpoint) gone, files kept.
    Stop,
    /// Stopped → running: boot again on the same files.
    Start,
}

impl LifecycleOp {
    /// The verb, as in events (`sandbox.<verb>`) and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Hibernate => "hibernate",
            Self::Stop => "stop",
            Self::Start => "start",
        }
    }

    fn allowed_in(self) -> &'static [SandboxState] {
        match self {
            Self::Pause => &[SandboxState::Running],
            Self::Resume => &[SandboxState::Paused, SandboxState::Hibernated],
            Self::Hibernate => &[SandboxState::Running, SandboxState::Paused],
            Self::Stop => &[
                SandboxState::Running,
                SandboxState::Paused,
                SandboxState::Hibernated,
            ],
            Self::Start => &[SandboxState::Stopped],
        }
    }

    fn to_state(self) -> SandboxState {
        match self {
            Self::Pause => SandboxState::Paused,
            Self::Resume | Self::Start => SandboxState::Running,
            Self::Stop => SandboxState::Stopped,
            Self::Hibernate => SandboxState::Hibernated,
        }
    }
}

/// A restore failed because the checkpoint is missing, incomplete or refused by CRIU.
fn checkpoint_unusable(err: &CoreError) -> bool {
    matches!(
        err,
        CoreError::Runtime { source, .. } if matches!(
            **source,
            warren_runtime::RuntimeError::Restore { .. }
                | warren_runtime::RuntimeError::NoCheckpoint { .. }
                | warren_runtime::RuntimeError::DamagedCheckpoint { .. }
        )
    )
}

impl Core {
    /// Apply `op` to sandbox `id`; returns the sandbox in its new state.
    pub async fn change_sandbox_state(
        &self,
        id: &str,
        op: LifecycleOp,
        actor: &str,
    ) -> Result<Sandbox, CoreError> {
        let _guard = self.inner.locks.lock(id).await;
        let mut sb = self.get_sandbox(id).await?;
        if sb.state == SandboxState::Archived
            && matches!(op, LifecycleOp::Start | LifecycleOp::Resume)
        {
            // Back from the archive first, transparently.
            sb = self.unarchive_sandbox(id, actor).await?;
        }
        if !op.allowed_in().contains(&sb.state) {
            return Err(CoreError::WrongState {
                id: id.to_owned(),
                state: sb.state,
                operation: op.as_str(),
            });
        }
        let action = format!("sandbox.{}", op.as_str());
        if let Err(err) = self.run_op(&sb, op).await {
            if checkpoint_unusable(&err) && sb.state == SandboxState::Hibernated {
                // Retrying cannot help: say so on the sandbox (delete still works).
                let t = warren_store::Transition {
                    id: id.to_owned(),
                    from: Some(sb.state),
                    to: SandboxState::Error,
                    error: Some(format!(
                        "its checkpoint cannot be restored: {}",
                        err.chain()
                    )),
                    at: crate::clock::now_ms(),
                    event: warren_store::NewEvent {
                        ok: false,
                        message: Some(err.chain()),
                        ..event(
                            id,
                            &action,
                            actor,
                            Some(sb.state),
                            Some(SandboxState::Error),
                        )
                    },
                };
                self.inner.store.transition(&t).await?;
                self.publish_events().await;
                return Err(err);
            }
            let mut ev = event(id, &action, actor, Some(sb.state), None);
            ev.ok = false;
            ev.message = Some(err.chain());
            self.inner.store.append_event(&ev).await?;
            self.publish_events().await;
            return Err(err);
        }
        self.transition(id, sb.state, op.to_state(), &action, actor)
            .await?;
        self.get_sandbox(id).await
    }

    /// What the runtime needs to boot `sb` again (its image must still be in the store).
    async fn boot_spec(&self, sb: &Sandbox) -> Result<warren_runtime::SandboxSpec, CoreError> {
        let image = self.resolve_image(&sb.image_digest).await?;
        let layers = self.layer_dirs(&image).await?;
        let mut spec = runtime_spec(&sb.id, &sb.spec, &image, layers);
        spec.network = self.attach_network(&sb.id, &sb.spec.network).await?;
        Ok(spec)
    }

    async fn run_op(&self, sb: &Sandbox, op: LifecycleOp) -> Result<(), CoreError> {
        let id = sb.id.as_str();
        let runtime = &self.inner.runtime;
        let runtime_err = |source| CoreError::Runtime {
            id: id.to_owned(),
            source: Box::new(source),
        };
        match op {
            LifecycleOp::Pause => runtime.pause(id).await.map_err(runtime_err),
            LifecycleOp::Resume if sb.state == SandboxState::Hibernated => {
                let spec = self.boot_spec(sb).await?;
                // CRIU makes a namespace with loopback only: the runtime links it again.
                runtime.restore(&spec).await.map(drop).map_err(runtime_err)
            }
            LifecycleOp::Resume => runtime.resume(id).await.map_err(runtime_err),
            LifecycleOp::Hibernate => {
                // CRIU dumps the sandbox's network namespace: without the link to the host.
                self.unplug_network(id).await;
                let result = runtime.hibernate(id).await.map_err(runtime_err);
                if result.is_err() {
                    self.replug_network(id).await;
                }
                result
            }
            LifecycleOp::Stop => runtime.stop(id).await.map_err(runtime_err),
            LifecycleOp::Start => {
                let spec = self.boot_spec(sb).await?;
                runtime.start(&spec).await.map(drop).map_err(runtime_err)
            }
        }
    }
}
