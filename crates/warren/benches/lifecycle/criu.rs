//! Raw `runc checkpoint` and `runc restore` of a daemon's sandbox, against the daemon's runc root
//! and in the sandbox's own bundle, with the runtime's CRIU arguments (crates/warren-runtime/
//! src/container/runc.rs), and the scratch directories their images go to.
//!
//! ```text
//! <state>/bench-criu/        0711, removed at the end (Scratch's drop)
//!   disk/<n>/images, work/   on the state dir's filesystem
//!   tmpfs/<n>/images, work/  on a tmpfs mounted here (unmounted at the end)
//! ```
//!
//! Image directories are 0755: a restore reads them as the sandbox's mapped root.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

fn mkdir(p: &Path, mode: u32) -> anyhow::Result<()> {
    std::fs::create_dir(p).with_context(|| format!("create {}", p.display()))?;
    Ok(std::fs::set_permissions(
        p,
        std::fs::Permissions::from_mode(mode),
    )?)
}

/// Where the images go: a directory on the state dir's disk and one on a tmpfs (when it can be
/// mounted). Dropping it unmounts the tmpfs and removes both.
pub struct Scratch {
    root: PathBuf,
    /// `("disk", dir)`, then `("tmpfs", mount point)` if mounted.
    pub places: Vec<(&'static str, PathBuf)>,
    tmpfs: Option<PathBuf>,
    made: usize,
}

impl Scratch {
    /// The scratch dirs under `state`; and why there is no tmpfs, if there is none.
    pub fn new(state: &Path) -> anyhow::Result<(Self, Option<String>)> {
        let root = state.join("bench-criu");
        mkdir(&root, 0o711)?;
        let mut scratch = Self {
            root: root.clone(),
            places: vec![],
            tmpfs: None,
            made: 0,
        };
        mkdir(&root.join("disk"), 0o755)?;
        scratch.places.push(("disk", root.join("disk")));
        let mnt = root.join("tmpfs");
        mkdir(&mnt, 0o755)?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                "size=2g,mode=0755",
                "warren-bench-criu",
            ])
            .arg(&mnt)
            .output()?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            return Ok((scratch, Some(why)));
        }
        scratch.tmpfs = Some(mnt.clone());
        scratch.places.push(("tmpfs", mnt));
        Ok((scratch, None))
    }

    /// A fresh image directory in place `p` (an index into [`Self::places`]).
    pub fn fresh(&mut self, p: usize) -> anyhow::Result<Images> {
        self.made += 1;
        let dir = self.places[p].1.join(self.made.to_string());
        let images = Images {
            images: dir.join("images"),
            work: dir.join("work"),
            dir,
        };
        for d in [&images.dir, &images.images, &images.work] {
            mkdir(d, 0o755)?;
        }
        Ok(images)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(mnt) = &self.tmpfs {
            let unmounted = Command::new("umount").arg(mnt).status();
            if !unmounted.is_ok_and(|s| s.success()) {
                let _ = Command::new("umount").arg("-l").arg(mnt).status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// One checkpoint's `images/` (CRIU's images) and `work/` (its logs); removed on drop.
pub struct Images {
    dir: PathBuf,
    images: PathBuf,
    work: PathBuf,
}

impl Images {
    /// Allocated bytes of the images.
    pub fn bytes(&self) -> u64 {
        dir_bytes(&self.images)
    }

    /// CRIU's error lines from one of its logs (its last lines when there are none).
    fn criu_errors(&self, log: &str) -> String {
        let text = std::fs::read_to_string(self.work.join(log)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let errors: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.contains("Error ("))
            .collect();
        let pick = if errors.is_empty() { &lines } else { &errors };
        pick[pick.len().saturating_sub(5)..].join("\n")
    }
}

impl Drop for Images {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok().map(|m| (e.path(), m)))
        .map(|(p, m)| {
            if m.is_dir() {
                dir_bytes(&p)
            } else {
                m.blocks() * 512
            }
        })
        .sum()
}

/// runc as the daemon runs it: its root and its bundles.
pub struct Runc {
    state: PathBuf,
}

impl Runc {
    /// For the daemon whose state dir is `state`.
    pub fn new(state: &Path) -> Self {
        Self {
            state: state.to_owned(),
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new("runc");
        c.arg("--root").arg(self.state.join("runc"));
        c.stdin(Stdio::null());
        c
    }

    /// `runc checkpoint` of `id` into `to`; how long it took.
    pub fn checkpoint(
        &self,
        id: &str,
        to: &Images,
        leave_running: bool,
        ext_unix_sk: bool,
    ) -> anyhow::Result<Duration> {
        let mut c = self.command();
        c.arg("checkpoint")
            .arg("--image-path")
            .arg(&to.images)
            .arg("--work-path")
            .arg(&to.work);
        if ext_unix_sk {
            c.arg("--ext-unix-sk");
        }
        if leave_running {
            c.arg("--leave-running");
        }
        let t = Instant::now();
        let out = c.arg(id).output()?;
        let took = t.elapsed();
        if !out.status.success() {
            bail!(
                "runc checkpoint {id}: {}\nCRIU: {}",
                String::from_utf8_lossy(&out.stderr).trim(),
                to.criu_errors("dump.log")
            );
        }
        Ok(took)
    }

    /// `runc restore --detach` of `id` from `from`, in its own bundle (writing the pid file the
    /// daemon reads); how long it took. The container must be running afterwards.
    pub fn restore(&self, id: &str, from: &Images, ext_unix_sk: bool) -> anyhow::Result<Duration> {
        let bundle = self.state.join("sandboxes").join(id);
        // runc's own output; the restored processes' stdio is what CRIU captured.
        let out_path = from.work.join("runc-restore.out");
        let out = File::create(&out_path)?;
        let mut c = self.command();
        c.arg("restore")
            .arg("--detach")
            .arg("--image-path")
            .arg(&from.images)
            .arg("--work-path")
            .arg(&from.work);
        if ext_unix_sk {
            c.arg("--ext-unix-sk");
        }
        c.arg("--bundle")
            .arg(&bundle)
            .arg("--pid-file")
            .arg(bundle.join("pid"))
            .arg(id)
            .stdout(out.try_clone()?)
            .stderr(out);
        let t = Instant::now();
        let status = c.status()?;
        let took = t.elapsed();
        if !status.success() {
            bail!(
                "runc restore {id}: {}\nCRIU: {}",
                std::fs::read_to_string(&out_path)
                    .unwrap_or_default()
                    .trim(),
                from.criu_errors("restore.log")
            );
        }
        let state = self.command().args(["state", id]).output()?;
        let state: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap_or_default();
        anyhow::ensure!(
            state["status"] == "running",
            "{id} is {} after runc restore",
            state["status"]
        );
        Ok(took)
    }
}
