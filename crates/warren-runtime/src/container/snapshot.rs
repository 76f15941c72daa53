//! Snapshots: an immutable copy of a sandbox at one instant — its filesystem changes and,
//! optionally, every process (memory, open files, listening sockets) — from which new sandboxes
//! are created.
//!
//! ```text
//! <state_dir>/.snapshots/             root:<mapped gid> 0710, like the state dir
//!   <snap-id>.tmp/                    being written; removed at startup and on failure
//!   <snap-id>/                        complete (renamed into place after a syncfs)
//!     fs/                             the overlay upper dir at that instant: whiteouts, opaque
//!                                     xattrs, shifted owners — a lower layer of every sandbox
//!                                     created from the snapshot (stacked on its ancestors')
//!     run/                            memory only: the run dir (logs CRIU reopens by path)
//!     checkpoint/                     memory only: CRIU images, 0755 (restores read them as
//!                                     the mapped root)
//!     checkpoint.manifest             memory only: name and size of each image (checked before
//!                                     every restore)
//!     criu-work/                      CRIU's dump log
//! ```
//!
//! Capture: the sandbox is frozen (cgroup freezer) while its upper dir is copied and, for a
//! memory snapshot, while `runc checkpoint --leave-running` dumps it; then it is thawed (a
//! sandbox that was paused stays paused). The frozen time is measured and returned. The
//! daemon's connection to the agent is closed first for a memory snapshot, as for hibernate.
//!
//! A sandbox created from a snapshot mounts the snapshot chain's `fs/` dirs as lower layers over
//! the image's, with a fresh upper dir; from a memory snapshot its run dir starts as a copy of
//! `run/` and `runc restore` continues the captured processes in the new container (its own id,
//! cgroup, network namespace and disk), after which the runtime gives it its own hostname.

use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{ContainerRuntime, hibernate, host_err, mkdir};
use crate::validate::is_valid_id;
use crate::{RuntimeError, SnapshotInfo};

/// Paths of one snapshot.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotLayout {
    dir: PathBuf,
}

impl SnapshotLayout {
    pub(crate) fn new(root: &Path, id: &str) -> Self {
        Self { dir: root.join(id) }
    }
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
    /// The filesystem layer.
    pub(crate) fn fs(&self) -> PathBuf {
        self.dir.join("fs")
    }
    /// The run dir's copy (memory snapshots).
    pub(crate) fn run(&self) -> PathBuf {
        self.dir.join("run")
    }
    /// CRIU images (memory snapshots).
    pub(crate) fn checkpoint(&self) -> PathBuf {
        self.dir.join("checkpoint")
    }
    /// CRIU's dump log.
    pub(crate) fn criu_work(&self) -> PathBuf {
        self.dir.join("criu-work")
    }
    /// The manifest of `checkpoint/` (see `manifest.rs`).
    pub(crate) fn manifest(&self) -> PathBuf {
        self.dir.join("checkpoint.manifest")
    }
    /// Has a memory image.
    pub(crate) fn has_memory(&self) -> bool {
        self.checkpoint().join("inventory.img").exists()
    }
}

/// `cp -a --sparse=always <args...>`: everything overlayfs and CRIU care about is kept (owners,
/// modes, times, xattrs of whiteouts and opaque dirs, devices, sockets, holes).
async fn cp(
    id: &str,
    from: &Path,
    to: &Path,
    args: &[&std::ffi::OsStr],
) -> Result<(), RuntimeError> {
    let out = tokio::process::Command::new("cp")
        .args(["-a", "--sparse=always"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(host_err("run cp for", from))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(RuntimeError::SnapshotCopy {
            id: id.to_owned(),
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// Copy `from` to `to` (which must not exist).
pub(crate) async fn copy_tree(id: &str, from: &Path, to: &Path) -> Result<(), RuntimeError> {
    let args = [
        "--no-target-directory".as_ref(),
        from.as_os_str(),
        to.as_os_str(),
    ];
    cp(id, from, to, &args).await
}

/// Copy the contents of `from` into the existing directory `to`.
pub(crate) async fn copy_contents(id: &str, from: &Path, to: &Path) -> Result<(), RuntimeError> {
    let all = from.join(".");
    cp(id, from, to, &[all.as_os_str(), to.as_os_str()]).await
}

/// Bytes allocated on disk under `dir` (holes not counted).
fn allocated_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            total += m.blocks() * 512;
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    total
}

fn remove_dir_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Flush everything written under `dir` to stable storage.
fn sync_filesystem(dir: &Path) -> std::io::Result<()> {
    let f = std::fs::File::open(dir)?;
    nix::unistd::syncfs(&f).map_err(std::io::Error::from)
}

impl ContainerRuntime {
    /// Where snapshots live.
    pub(crate) fn snapshots_root(&self) -> PathBuf {
        self.cfg.state_dir.join(".snapshots")
    }

    /// The layout of an existing, complete snapshot.
    pub(crate) fn existing_snapshot(&self, id: &str) -> Result<SnapshotLayout, RuntimeError> {
        let layout = SnapshotLayout::new(&self.snapshots_root(), id);
        if !is_valid_id(id) || !layout.fs().is_dir() {
            return Err(RuntimeError::SnapshotNotFound { id: id.to_owned() });
        }
        Ok(layout)
    }

    /// Create the snapshots dir and remove what a crash left half-written.
    pub(super) fn prepare_snapshots_root(&self) -> Result<(), RuntimeError> {
        let root = self.snapshots_root();
        match mkdir(&root, 0o710) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(host_err("create", &root)(e)),
        }
        nix::unistd::chown(
            &root,
            None,
            Some(nix::unistd::Gid::from_raw(self.cfg.id_map.host_base)),
        )
        .map_err(|e| host_err("chown", &root)(e.into()))?;
        let rd = std::fs::read_dir(&root).map_err(host_err("list", &root))?;
        for entry in rd.flatten() {
            if entry.file_name().to_string_lossy().ends_with(".tmp") {
                tracing::warn!(path = %entry.path().display(), "removing an incomplete snapshot");
                remove_dir_if_present(&entry.path()).map_err(host_err("remove", &entry.path()))?;
            }
        }
        // Downloads from the archive cut short by a crash (`.ID.partial-PID-N`), here and among
        // the sandboxes.
        for dir in [&root, &self.cfg.state_dir] {
            let rd = std::fs::read_dir(dir).map_err(host_err("list", dir))?;
            for entry in rd.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && name.contains(".partial-") {
                    tracing::warn!(path = %entry.path().display(), "removing an interrupted download");
                    remove_dir_if_present(&entry.path())
                        .map_err(host_err("remove", &entry.path()))?;
                }
            }
        }
        Ok(())
    }

    pub(crate) async fn snapshot_impl(
        &self,
        id: &str,
        snapshot_id: &str,
        memory: bool,
    ) -> Result<SnapshotInfo, RuntimeError> {
        let layout = self.existing(id)?;
        if !is_valid_id(snapshot_id) {
            return Err(crate::SpecError::InvalidSnapshot {
                id: snapshot_id.to_owned(),
            }
            .into());
        }
        let root = self.snapshots_root();
        let done = SnapshotLayout::new(&root, snapshot_id);
        if done.dir().exists() {
            return Err(RuntimeError::SnapshotExists {
                id: snapshot_id.to_owned(),
            });
        }
        let tmp = SnapshotLayout::new(&root, &format!("{snapshot_id}.tmp"));
        remove_dir_if_present(tmp.dir()).map_err(host_err("clear", tmp.dir()))?;
        mkdir(tmp.dir(), 0o755).map_err(host_err("create", tmp.dir()))?;
        match self.capture(id, &layout, &tmp, memory).await {
            Ok(paused) => {
                let finish = || -> std::io::Result<()> {
                    sync_filesystem(tmp.dir())?;
                    std::fs::rename(tmp.dir(), done.dir())?;
                    std::fs::File::open(&root)?.sync_all()
                };
                finish().map_err(host_err("complete", done.dir()))?;
                Ok(SnapshotInfo {
                    paused,
                    fs_bytes: allocated_bytes(&done.fs()),
                    memory_bytes: if memory {
                        allocated_bytes(&done.checkpoint())
                    } else {
                        0
                    },
                })
            }
            Err(e) => {
                if let Err(rm) = remove_dir_if_present(tmp.dir()) {
                    tracing::warn!(path = %tmp.dir().display(), error = %rm,
                        "cannot remove a failed snapshot");
                }
                Err(e)
            }
        }
    }

    /// Freeze, copy, (dump), thaw; returns how long the sandbox was frozen.
    async fn capture(
        &self,
        id: &str,
        layout: &super::layout::Layout,
        tmp: &SnapshotLayout,
        memory: bool,
    ) -> Result<std::time::Duration, RuntimeError> {
        let _quiet = memory.then(|| self.quiesce(id));
        let was_paused = if memory {
            self.release_agent_connections(id).await?
        } else {
            match self.runc.state(id).await.map_err(Self::runc_err(id))? {
                Some(st) if st.status == "running" => false,
                Some(st) if st.status == "paused" => true,
                _ => return Err(RuntimeError::NotRunning { id: id.to_owned() }),
            }
        };
        let frozen_at = Instant::now();
        if !was_paused || memory {
            self.runc.pause(id).await.map_err(Self::runc_err(id))?;
        }
        let captured = self.copy_and_dump(id, layout, tmp, memory).await;
        // Thaw (or leave paused as it was), whatever happened.
        let thawed = self.restore_freezer(id, was_paused).await;
        let paused = frozen_at.elapsed();
        captured?;
        thawed?;
        Ok(paused)
    }

    async fn copy_and_dump(
        &self,
        id: &str,
        layout: &super::layout::Layout,
        tmp: &SnapshotLayout,
        memory: bool,
    ) -> Result<(), RuntimeError> {
        copy_tree(id, &layout.upper(), &tmp.fs()).await?;
        if !memory {
            return Ok(());
        }
        copy_tree(id, &layout.run(), &tmp.run()).await?;
        for dir in [tmp.checkpoint(), tmp.criu_work()] {
            mkdir(&dir, 0o755).map_err(host_err("create", &dir))?;
        }
        self.runc
            .checkpoint(id, &tmp.checkpoint(), &tmp.criu_work(), true)
            .await
            .map_err(|source| RuntimeError::Checkpoint {
                id: id.to_owned(),
                source,
                criu_log: hibernate::criu_log_tail(&tmp.criu_work(), "dump.log"),
            })?;
        super::manifest::write(&tmp.checkpoint(), &tmp.manifest())
            .map_err(host_err("write the manifest of", &tmp.checkpoint()))
    }

    /// Bring the freezer back to how the caller found it: running, or paused.
    async fn restore_freezer(&self, id: &str, was_paused: bool) -> Result<(), RuntimeError> {
        let status = self
            .runc
            .state(id)
            .await
            .map_err(Self::runc_err(id))?
            .map(|st| st.status);
        match (status.as_deref(), was_paused) {
            (Some("paused"), false) => self.runc.resume(id).await.map_err(Self::runc_err(id)),
            (Some("running"), true) => self.runc.pause(id).await.map_err(Self::runc_err(id)),
            _ => Ok(()),
        }
    }

    pub(crate) async fn delete_snapshot_impl(&self, snapshot_id: &str) -> Result<(), RuntimeError> {
        if !is_valid_id(snapshot_id) {
            return Ok(());
        }
        let layout = SnapshotLayout::new(&self.snapshots_root(), snapshot_id);
        // Rename first, so that a crash half-way leaves a `.tmp` (removed at startup), never a
        // snapshot with files missing.
        let doomed = self.snapshots_root().join(format!("{snapshot_id}.tmp"));
        match std::fs::rename(layout.dir(), &doomed) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(host_err("remove", layout.dir())(e)),
        }
        tokio::task::spawn_blocking(move || remove_dir_if_present(&doomed))
            .await
            .map_err(|e| host_err("remove", layout.dir())(std::io::Error::other(e)))?
            .map_err(host_err("remove", layout.dir()))
    }

    pub(crate) async fn list_snapshots_impl(&self) -> Result<Vec<String>, RuntimeError> {
        let root = self.snapshots_root();
        let rd = std::fs::read_dir(&root).map_err(host_err("list", &root))?;
        let mut ids: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| is_valid_id(name))
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// A sandbox's lower layers: the image's, then each snapshot's filesystem (lowest first).
    pub(crate) fn lower_layers(&self, spec: &crate::SandboxSpec) -> Vec<PathBuf> {
        let root = self.snapshots_root();
        spec.layers
            .iter()
            .cloned()
            .chain(
                spec.snapshot_layers
                    .iter()
                    .map(|s| SnapshotLayout::new(&root, s).fs()),
            )
            .collect()
    }

    /// Before a restore from a memory snapshot: the sandbox's run dir as it was captured.
    pub(crate) async fn seed_run_dir(
        &self,
        spec: &crate::SandboxSpec,
        run: &Path,
    ) -> Result<Option<SnapshotLayout>, RuntimeError> {
        let Some(from) = &spec.restore_from else {
            return Ok(None);
        };
        let snap = self.existing_snapshot(from)?;
        if !snap.has_memory() {
            return Err(RuntimeError::NoCheckpoint { id: from.clone() });
        }
        copy_contents(&spec.id, &snap.run(), run).await?;
        std::fs::set_permissions(run, std::fs::Permissions::from_mode(0o700))
            .map_err(host_err("set mode of", run))?;
        Ok(Some(snap))
    }
}
