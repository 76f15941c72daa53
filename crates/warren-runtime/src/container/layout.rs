//! Where a sandbox's files live on the host.
//!
//! ```text
//! <state_dir>/<id>/          the OCI bundle (0711, root)
//!   config.json              OCI runtime spec
//!   rootfs/                  overlay mount point (the container's /)
//!   lower-empty/             the lower dir of an image without layers
//!   disk.img                 sparse ext4 image: the disk quota (absent without a quota)
//!   disk/                    its mount point (a plain directory without a quota); everything
//!                            the sandbox can write is in here, so the quota bounds it:
//!     upper/  work/          overlay upper and work dirs (upper owned by the shifted root)
//!     run/                   bind-mounted at /.warren/run; the agent creates agent.sock here
//!       main.log[.N]         the main process's output, rotated by the agent
//!       agent.log            stdout+stderr of the agent itself (runc's stdio for PID 1; the
//!                            agent reopens it from inside so that CRIU can checkpoint it)
//!   checkpoint/              CRIU images of a hibernated sandbox (see `hibernate.rs`)
//!   checkpoint.done          marker: the images are complete; lists each image's name and size
//!   criu-work/               CRIU's dump/restore logs
//!   runc.log                 runc's own log (JSON lines), read for error messages
//!   pid                      host pid of the agent, written by runc
//! ```

use std::path::{Path, PathBuf};

/// Paths of one sandbox's files.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    dir: PathBuf,
}

impl Layout {
    pub(crate) fn new(state_dir: &Path, id: &str) -> Self {
        Layout {
            dir: state_dir.join(id),
        }
    }
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
    pub(crate) fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    /// CRIU's configuration for this sandbox's checkpoints (see `CRIU_CONFIG` in `mod.rs`).
    pub(crate) fn criu_config(&self) -> PathBuf {
        self.dir.join("criu.conf")
    }
    /// The sandbox's `/etc/resolv.conf` (bind-mounted read-only) when it has a network.
    pub(crate) fn resolv_conf(&self) -> PathBuf {
        self.dir.join("resolv.conf")
    }
    pub(crate) fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
    pub(crate) fn disk_image(&self) -> PathBuf {
        self.dir.join("disk.img")
    }
    pub(crate) fn disk(&self) -> PathBuf {
        self.dir.join("disk")
    }
    pub(crate) fn upper(&self) -> PathBuf {
        self.dir.join("disk/upper")
    }
    pub(crate) fn work(&self) -> PathBuf {
        self.dir.join("disk/work")
    }
    pub(crate) fn empty_lower(&self) -> PathBuf {
        self.dir.join("lower-empty")
    }
    pub(crate) fn run(&self) -> PathBuf {
        self.dir.join("disk/run")
    }
    pub(crate) fn socket(&self) -> PathBuf {
        self.dir.join("disk/run/agent.sock")
    }
    pub(crate) fn log(&self) -> PathBuf {
        self.dir.join("disk/run/agent.log")
    }
    pub(crate) fn runc_log(&self) -> PathBuf {
        self.dir.join("runc.log")
    }
    pub(crate) fn checkpoint(&self) -> PathBuf {
        self.dir.join("checkpoint")
    }
    /// Written once a checkpoint is complete; a restore needs it.
    pub(crate) fn checkpoint_done(&self) -> PathBuf {
        self.dir.join("checkpoint.done")
    }
    pub(crate) fn criu_work(&self) -> PathBuf {
        self.dir.join("criu-work")
    }
    pub(crate) fn pid_file(&self) -> PathBuf {
        self.dir.join("pid")
    }
}

/// The last `max_lines` lines of a log file (best effort; empty if unreadable).
pub(crate) fn tail(path: &Path, max_lines: usize) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return String::new();
    };
    let start = bytes.len().saturating_sub(16 * 1024);
    let text = String::from_utf8_lossy(&bytes[start..]);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(max_lines)..].join("\n")
}
