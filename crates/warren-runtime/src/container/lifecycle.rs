//! Pause, resume, stop and start of an existing sandbox.
//!
//! - pause/resume: `runc pause`/`resume` (the cgroup freezer): processes keep their memory and
//!   use no CPU.
//! - stop: SIGTERM to every process, up to [`STOP_GRACE`] for them to end (the agent, PID 1,
//!   stays until then), then SIGKILL; runc state and cgroups are removed, the overlay and the disk
//!   unmounted (a stopped sandbox holds no mount or loop device). Its files stay.
//! - start: the disk and overlay mounted again, a fresh `config.json`, `runc run`, wait for the
//!   agent — the create path minus making the directories and the disk.

use std::time::{Duration, Instant};

use super::layout::Layout;
use super::{ContainerRuntime, cgroups, rootfs};
use crate::validate::{is_valid_id, validate_spec};
use crate::{RuntimeError, SandboxInfo, SandboxSpec};

/// How long a stop waits for processes to end after SIGTERM before killing them.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(5);

impl ContainerRuntime {
    pub(super) fn existing(&self, id: &str) -> Result<Layout, RuntimeError> {
        let layout = Layout::new(&self.cfg.state_dir, id);
        if !is_valid_id(id) || !layout.dir().exists() {
            return Err(RuntimeError::NotFound { id: id.to_owned() });
        }
        Ok(layout)
    }

    pub(super) fn runc_err(id: &str) -> impl FnOnce(super::runc::RuncError) -> RuntimeError + '_ {
        move |source| RuntimeError::Runc {
            id: id.to_owned(),
            source,
        }
    }

    pub(crate) async fn pause_impl(&self, id: &str) -> Result<(), RuntimeError> {
        self.existing(id)?;
        self.runc.pause(id).await.map_err(Self::runc_err(id))
    }

    pub(crate) async fn resume_impl(&self, id: &str) -> Result<(), RuntimeError> {
        self.existing(id)?;
        self.runc.resume(id).await.map_err(Self::runc_err(id))
    }

    /// Fail with `AlreadyExists` when runc still has a container for `id`.
    pub(super) async fn ensure_no_container(&self, id: &str) -> Result<(), RuntimeError> {
        match self.runc.state(id).await.map_err(Self::runc_err(id))? {
            Some(_) => Err(RuntimeError::AlreadyExists { id: id.to_owned() }),
            None => Ok(()),
        }
    }

    /// Unmount the overlay, then the disk it uses (the loop device detaches itself).
    pub(super) fn release_mounts(id: &str, layout: &Layout) -> Result<(), RuntimeError> {
        for mount_point in [layout.rootfs(), layout.disk()] {
            rootfs::unmount_all(&mount_point).map_err(|source| RuntimeError::Rootfs {
                id: id.to_owned(),
                source,
            })?;
        }
        Ok(())
    }

    /// Processes in the sandbox's cgroup (any hierarchy that lists them).
    fn process_count(&self, id: &str) -> usize {
        cgroups::dirs(&self.cgroup_rel(id))
            .iter()
            .find_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
            .map_or(0, |procs| procs.lines().filter(|l| !l.is_empty()).count())
    }

    pub(crate) async fn stop_impl(&self, id: &str) -> Result<(), RuntimeError> {
        let layout = self.existing(id)?;
        if let Some(st) = self.runc.state(id).await.map_err(Self::runc_err(id))? {
            if st.status == "paused" {
                self.runc.resume(id).await.map_err(Self::runc_err(id))?;
            }
            if st.status != "stopped" {
                self.runc
                    .signal_all(id, "TERM")
                    .await
                    .map_err(Self::runc_err(id))?;
                // The agent (PID 1) outlives SIGTERM while it serves; wait for the rest.
                let deadline = Instant::now() + STOP_GRACE;
                while self.process_count(id) > 1 && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        self.end_container(id).await?;
        // A stopped sandbox boots fresh: a checkpoint (if hibernated) no longer applies.
        super::hibernate::discard_checkpoint(id, &layout)?;
        Self::release_mounts(id, &layout)
    }

    pub(crate) async fn start_impl(&self, spec: &SandboxSpec) -> Result<SandboxInfo, RuntimeError> {
        validate_spec(spec)?;
        let id = spec.id.as_str();
        let layout = self.existing(id)?;
        self.ensure_no_container(id).await?;
        // Whatever a dead container left mounted goes first; start mounts afresh.
        Self::release_mounts(id, &layout)?;
        match self.create_steps(spec, &layout, false).await {
            Ok(info) => Ok(info),
            Err(err) => {
                // Back to a clean stopped state: no container, no mounts.
                if let Err(e) = self.stop_impl(id).await {
                    tracing::error!(id, error = %e, "cleanup after a failed start failed");
                }
                Err(err)
            }
        }
    }
}
