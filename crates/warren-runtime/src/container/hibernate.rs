//! Hibernate and wake: the whole sandbox checkpointed to disk with CRIU (`runc checkpoint`) and
//! its memory released; later restored (`runc restore`) exactly where it was — processes,
//! memory, open files, listening sockets.
//!
//! ```text
//! <bundle>/checkpoint/      CRIU images (0755: restore runs as the mapped root and must read them)
//! <bundle>/criu-work/       CRIU's logs (dump.log, restore.log), read for error messages
//! ```
//!
//! The checkpoint is on the host filesystem, outside the sandbox's disk quota (a memory image
//! can be larger than the quota). The overlay and the disk stay mounted while hibernated; after
//! a host reboot they are mounted again before the restore. The daemon's connection to the agent
//! is dropped first: CRIU refuses to dump a Unix socket whose peer is outside the container.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::layout::Layout;
use super::{ContainerRuntime, disk, layout};
use crate::validate::validate_spec;
use crate::{RuntimeError, SandboxInfo, SandboxSpec};

/// CRIU's error lines from its log (its last lines when there are none): what a user needs.
pub(super) fn criu_log_tail(work: &Path, name: &str) -> String {
    let text = std::fs::read(work.join(name)).unwrap_or_default();
    let text = String::from_utf8_lossy(&text[text.len().saturating_sub(1 << 20)..]).into_owned();
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("Error (")).collect();
    if errors.is_empty() {
        layout::tail(&work.join(name), 5)
    } else {
        errors[errors.len().saturating_sub(5)..].join("\n")
    }
}

/// How long a hibernate waits for connections to the agent to close (a terminal or stream that
/// stays open past it makes the dump fail with CRIU's "Unix socket ... not found").
const CONNECTIONS_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Connected sockets on the agent's socket path in the network namespace of `pid` (from
/// `/proc/<pid>/net/unix`: state 03 is connected; the listener is 01).
fn open_agent_connections(pid: u32) -> usize {
    let Ok(table) = std::fs::read_to_string(format!("/proc/{pid}/net/unix")) else {
        return 0;
    };
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.len() >= 8 && cols[5] == "03" && cols[7].ends_with("/agent.sock")
        })
        .count()
}

/// `runc restore` gives the sandbox a new network namespace whose loopback is down (CRIU restores
/// the sockets, not the device state): bring it up from the host, in the namespace of `pid`.
async fn loopback_up(pid: u32) -> std::io::Result<()> {
    let out = tokio::process::Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .args(["ip", "link", "set", "lo", "up"])
        .stdin(std::process::Stdio::null())
        .output()
        .await?;
    if out.status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "nsenter ip link set lo up: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Give the sandbox whose PID 1 is `pid` the hostname `name` (a restored UTS namespace keeps the
/// captured one). Done from a short-lived thread that joins the namespace, so no other thread of
/// the daemon changes namespace.
fn set_hostname(pid: u32, name: &str) -> std::io::Result<()> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/uts"))?;
    let name = name.to_owned();
    std::thread::spawn(move || -> std::io::Result<()> {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWUTS)?;
        nix::unistd::sethostname(&name)?;
        Ok(())
    })
    .join()
    .map_err(|_| std::io::Error::other("the hostname thread panicked"))?
}

/// What a restored sandbox needs from the host before its agent is used: loopback up, and its
/// own hostname.
pub(super) async fn after_restore(spec: &SandboxSpec, pid: u32) -> std::io::Result<()> {
    loopback_up(pid).await?;
    set_hostname(pid, &spec.hostname)
}

/// Remove a checkpoint (the marker first, so a crash half-way leaves no "complete" one).
pub(super) fn discard_checkpoint(id: &str, layout: &Layout) -> Result<(), RuntimeError> {
    let done = layout.checkpoint_done();
    for (path, is_dir) in [(done, false), (layout.checkpoint(), true)] {
        let removed = if is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match removed {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(super::sb_err(id, "remove", &path)(e)),
        }
    }
    Ok(())
}

/// Did the dump whose log is in `work` finish? (CRIU's last word on success.)
fn dump_succeeded(work: &Path) -> bool {
    std::fs::read(work.join("dump.log")).is_ok_and(|log| {
        let tail = &log[log.len().saturating_sub(4096)..];
        String::from_utf8_lossy(tail).contains("Dumping finished successfully")
    })
}

impl ContainerRuntime {
    /// At start-up, after a killed daemon's commands ended: a hibernate whose dump finished
    /// after the daemon died (runc went on without it; the processes are gone, the images are
    /// the only copy) is marked complete, so the sandbox counts as hibernated, not lost.
    pub(super) fn complete_orphaned_checkpoints(&self) {
        let Ok(rd) = std::fs::read_dir(&self.cfg.state_dir) else {
            return;
        };
        for entry in rd.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if !crate::validate::is_valid_id(&id) {
                continue;
            }
            let layout = Layout::new(&self.cfg.state_dir, &id);
            if !layout.checkpoint().is_dir()
                || layout.checkpoint_done().exists()
                || !dump_succeeded(&layout.criu_work())
            {
                continue;
            }
            match super::manifest::write(&layout.checkpoint(), &layout.checkpoint_done()) {
                Ok(()) => tracing::warn!(sandbox = %id,
                    "a hibernate finished after the daemon died; its checkpoint is kept"),
                Err(e) => tracing::error!(sandbox = %id, error = %e,
                    "cannot mark an orphaned checkpoint complete"),
            }
        }
    }

    pub(crate) async fn hibernate_impl(&self, id: &str) -> Result<(), RuntimeError> {
        let layout = self.existing(id)?;
        discard_checkpoint(id, &layout)?;
        let (images, work) = (layout.checkpoint(), layout.criu_work());
        for dir in [&images, &work] {
            match std::fs::remove_dir_all(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(super::sb_err(id, "clear", dir)(e)),
            }
            std::fs::create_dir(dir).map_err(super::sb_err(id, "create", dir))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
                .map_err(super::sb_err(id, "set mode of", dir))?;
        }
        let _quiet = self.quiesce(id);
        self.release_agent_connections(id).await?;
        if let Err(source) = self.runc.checkpoint(id, &images, &work, false).await {
            return Err(RuntimeError::Checkpoint {
                id: id.to_owned(),
                source,
                criu_log: criu_log_tail(&work, "dump.log"),
            });
        }
        // Complete: only now may a restore (or the reconciler) rely on it.
        super::manifest::write(&images, &layout.checkpoint_done()).map_err(super::sb_err(
            id,
            "mark complete",
            &layout.checkpoint_done(),
        ))?;
        // runc leaves the stopped container's state and cgroups; the checkpoint is what counts.
        self.end_container(id).await
    }

    /// Refuse new agent connections into `id` until the guard is dropped (the dump is over).
    pub(super) fn quiesce(&self, id: &str) -> Quiesced<'_> {
        super::lock(&self.dumping).insert(id.to_owned());
        Quiesced {
            rt: self,
            id: id.to_owned(),
        }
    }

    /// No host-side connection may stay open into a sandbox CRIU dumps: drop ours, and let the
    /// agent see the close (a frozen agent cannot, so a paused sandbox is thawed first; CRIU
    /// freezes it again to dump). Returns whether it was paused.
    pub(super) async fn release_agent_connections(&self, id: &str) -> Result<bool, RuntimeError> {
        // Every clone of the cached client shares its connection: closing it ends streams
        // still in flight too (a process's output followed by a client).
        if let Some(client) = super::lock(&self.agents).remove(id) {
            client.close();
        }
        let Some(st) = self.runc.state(id).await.map_err(Self::runc_err(id))? else {
            return Err(RuntimeError::NotRunning { id: id.to_owned() });
        };
        let was_paused = st.status == "paused";
        if was_paused {
            self.runc.resume(id).await.map_err(Self::runc_err(id))?;
        }
        let pid = u32::try_from(st.pid).unwrap_or(0);
        let deadline = std::time::Instant::now() + CONNECTIONS_GRACE;
        while open_agent_connections(pid) > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        Ok(was_paused)
    }

    pub(crate) async fn restore_impl(
        &self,
        spec: &SandboxSpec,
    ) -> Result<SandboxInfo, RuntimeError> {
        validate_spec(spec)?;
        let id = spec.id.as_str();
        let layout = self.existing(id)?;
        if !layout.checkpoint_done().exists() {
            return Err(RuntimeError::NoCheckpoint { id: id.to_owned() });
        }
        super::manifest::verify(&layout.checkpoint(), &layout.checkpoint_done()).map_err(
            |detail| RuntimeError::DamagedCheckpoint {
                id: id.to_owned(),
                detail,
            },
        )?;
        self.ensure_no_container(id).await?;
        self.ensure_mounted(spec, &layout)?;
        // The OCI spec as at the checkpoint's time (restore must see the same mounts).
        let pid = match self
            .runc
            .restore_detached(
                id,
                layout.dir(),
                &layout.checkpoint(),
                &layout.criu_work(),
                &layout.pid_file(),
                &layout.log(),
                &layout.runc_log(),
            )
            .await
        {
            Ok(()) => super::read_pid(id, &layout)?,
            Err(source) => {
                let _ = self.end_container(id).await;
                super::leftovers::release(&layout.criu_work(), &self.cfg.runc_root.join(id));
                return Err(RuntimeError::Restore {
                    id: id.to_owned(),
                    source,
                    criu_log: criu_log_tail(&layout.criu_work(), "restore.log"),
                });
            }
        };
        if let Err(e) = after_restore(spec, pid).await {
            let _ = self.end_container(id).await;
            return Err(super::sb_err(
                id,
                "set up the network and hostname of",
                layout.dir(),
            )(e));
        }
        if let Err(e) = super::plug_network(spec, pid).await {
            let _ = self.end_container(id).await;
            return Err(e);
        }
        let client = self.wait_for_agent(id, &layout, pid).await?;
        super::lock(&self.agents).insert(id.to_owned(), client);
        // Restored: the images are spent (the sandbox has moved on from that instant).
        discard_checkpoint(id, &layout)?;
        Ok(SandboxInfo {
            id: id.to_owned(),
            pid,
            bundle: layout.dir().to_path_buf(),
        })
    }

    /// `runc restore` of a new sandbox from memory snapshot `from`, then its own network and
    /// hostname; returns the pid of its PID 1.
    pub(super) async fn restore_from_snapshot(
        &self,
        spec: &SandboxSpec,
        from: &str,
        layout: &Layout,
    ) -> Result<u32, RuntimeError> {
        let id = spec.id.as_str();
        let snap = self.existing_snapshot(from)?;
        super::manifest::verify(&snap.checkpoint(), &snap.manifest()).map_err(|detail| {
            RuntimeError::DamagedCheckpoint {
                id: from.to_owned(),
                detail,
            }
        })?;
        let work = layout.criu_work();
        super::mkdir(&work, 0o755).map_err(super::sb_err(id, "create", &work))?;
        self.runc
            .restore_detached(
                id,
                layout.dir(),
                &snap.checkpoint(),
                &work,
                &layout.pid_file(),
                &layout.log(),
                &layout.runc_log(),
            )
            .await
            .map_err(|source| RuntimeError::Restore {
                id: id.to_owned(),
                source,
                criu_log: criu_log_tail(&work, "restore.log"),
            })?;
        let pid = super::read_pid(id, layout)?;
        after_restore(spec, pid).await.map_err(super::sb_err(
            id,
            "set up the network and hostname of",
            layout.dir(),
        ))?;
        Ok(pid)
    }

    /// Mount the disk and the overlay if they are not (after a host reboot).
    fn ensure_mounted(&self, spec: &SandboxSpec, layout: &Layout) -> Result<(), RuntimeError> {
        let id = spec.id.as_str();
        let mounted = |p: &Path| super::mountinfo::is_mounted(p).unwrap_or(false);
        if layout.disk_image().exists() && !mounted(&layout.disk()) {
            disk::mount(&layout.disk_image(), &layout.disk()).map_err(|source| {
                RuntimeError::Disk {
                    id: id.to_owned(),
                    source,
                }
            })?;
        }
        if !mounted(&layout.rootfs()) {
            self.mount_rootfs(spec, layout)?;
        }
        Ok(())
    }
}

/// While alive, the sandbox takes no new agent connection (see `ContainerRuntime::quiesce`).
pub(super) struct Quiesced<'a> {
    rt: &'a ContainerRuntime,
    id: String,
}

impl Drop for Quiesced<'_> {
    fn drop(&mut self) {
        super::lock(&self.rt.dumping).remove(&self.id);
    }
}
