//! The `container` runtime: runc + overlayfs + a user namespace.
//!
//! Create, in order (each step is undone by [`ContainerRuntime::delete`] if a later one fails):
//! 1. claim `<state_dir>/<id>/` (an existing directory means the id is taken);
//! 2. make the disk (see `disk.rs`: a sparse ext4 image loop-mounted at `disk/`, whose size is
//!    the quota; a plain directory without one), then `disk/upper/`, `disk/work/`, `disk/run/`
//!    (owned by the shifted root), and mount the overlay at `rootfs/`;
//! 3. write `config.json` (see `spec.rs`);
//! 4. `runc run --detach` with stdin from /dev/null and stdout/stderr to `log`: runc exits once
//!    the container runs, and the container's PID 1 (the agent) is re-parented away from us,
//!    so it outlives the daemon;
//! 5. poll `run/agent.sock` until the agent answers `/health`.
//!
//! Delete is idempotent and tolerant of half-created sandboxes: kill + `runc delete --force`,
//! unmount `rootfs/` and `disk/`, remove leftover cgroups, remove the directory. State and list come from
//! runc (`runc state` / `runc list`), plus sandbox directories without runc state (`Stopped`),
//! so a restarted daemon finds every sandbox again.
//!
//! If the daemon dies (or the create future is dropped) half-way through a create, what was
//! done stays on disk and shows up in [`Runtime::list`] as `Stopped`; `delete` removes it.
//!
//! Measured cost (runc 1.1.5, 2 loaded cores): Docker's seccomp profile compiled for three
//! architectures (x86-64, x86, x32) adds ~15-18 ms to each `runc run`; the native architecture
//! alone adds ~3 ms. warren filters for the native ABI only by default, which also closes the
//! 32-bit compat syscall entry points (a classic kernel attack surface): 32-bit binaries cannot
//! make system calls in a sandbox unless [`ContainerConfig::compat_32bit`] is set.

mod cgroups;
pub(crate) mod disk;
mod disk_pool;
mod hibernate;
pub(crate) mod layout;
mod leftovers;
mod lifecycle;
mod logs;
mod manifest;
mod mountinfo;
mod park;
mod ports;
pub(crate) mod rootfs;
pub(crate) mod runc;
mod seccomp;
mod snapshot;
pub(crate) mod spec;
mod stats;

pub use disk::DiskError;

use std::collections::{HashMap, HashSet};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use layout::Layout;
use runc::Runc;

use crate::validate::{is_valid_id, validate_spec};
use crate::{
    ActualState, AgentClient, BoxFuture, Runtime, RuntimeError, RuntimeKind, SandboxInfo,
    SandboxSpec,
};

/// How long to wait for a new sandbox's agent to answer `/health`.
const AGENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one runc command may take.
const RUNC_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for a killed sandbox's PID 1 to exit.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// How container ids map to host ids: container 0..size ↔ host host_base..host_base+size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    /// Host uid/gid of container root.
    pub host_base: u32,
    /// Number of mapped ids.
    pub size: u32,
}

impl Default for IdMap {
    fn default() -> Self {
        IdMap {
            host_base: 100_000,
            size: 65_536,
        }
    }
}

/// Configuration of the container runtime.
#[derive(Debug, Clone)]
pub struct ContainerConfig {
    /// warren's `<state>/sandboxes`: one bundle directory per sandbox.
    pub state_dir: PathBuf,
    /// The runc binary; a bare name is looked up on `PATH`.
    pub runc: PathBuf,
    /// runc's `--root` (its state directory), e.g. `/run/warren/runc`.
    pub runc_root: PathBuf,
    /// The static `warren-agent` binary (see [`crate::find_agent_binary`]).
    pub agent_binary: PathBuf,
    /// User namespace mapping of every sandbox.
    pub id_map: IdMap,
    /// Parent cgroup of every sandbox (`warren` → `/warren/<id>` in each hierarchy).
    pub cgroup_parent: String,
    /// Let 32-bit (x86, x32) binaries make system calls. Off by default: the native ABI only,
    /// which is ~15 ms faster per create and a smaller kernel attack surface.
    pub compat_32bit: bool,
    /// How the main process's log is rotated.
    pub main_log: crate::LogRotation,
    /// Keep a few disk images of this size (bytes; the usual quota) formatted ahead, so creates
    /// with that quota skip `mkfs`. 0: no pool.
    pub pooled_disk_bytes: u64,
}

impl ContainerConfig {
    /// Defaults: runc from `PATH`, runc root `/run/warren/runc`, uid base 100000, cgroup `warren`.
    pub fn new(state_dir: PathBuf, agent_binary: PathBuf) -> Self {
        ContainerConfig {
            state_dir,
            runc: PathBuf::from("runc"),
            runc_root: PathBuf::from("/run/warren/runc"),
            agent_binary,
            id_map: IdMap::default(),
            cgroup_parent: "warren".into(),
            compat_32bit: false,
            main_log: crate::LogRotation::default(),
            pooled_disk_bytes: 0,
        }
    }
}

/// The container runtime (see the module docs).
#[derive(Debug)]
pub struct ContainerRuntime {
    cfg: ContainerConfig,
    runc: Runc,
    kernel: (u32, u32),
    agents: Mutex<HashMap<String, AgentClient>>,
    /// Sandboxes being checkpointed: no new agent connection may open into them.
    dumping: Mutex<HashSet<String>>,
    creating: Mutex<HashSet<String>>,
    disk_pool: Option<std::sync::Arc<disk_pool::DiskPool>>,
}

/// CRIU options runc does not expose, given through the container's `org.criu.config`
/// annotation. `tcp-close`: established TCP connections (a client of the sandbox's server, the
/// preview proxy's connections) do not stop a checkpoint; they are not dumped, and are closed
/// in whatever is restored (one connection cannot continue in several branches anyway). A
/// source that keeps running (a snapshot) keeps them.
const CRIU_CONFIG: &str = "tcp-close\n";

/// Formatted disk images kept ready (see `disk_pool.rs`).
const DISK_POOL_SIZE: usize = 4;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn host_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RuntimeError {
    let path = path.to_path_buf();
    move |source| RuntimeError::Host {
        action,
        path,
        source,
    }
}

fn sb_err<'a>(
    id: &'a str,
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> RuntimeError + 'a {
    let path = path.to_path_buf();
    move |source| RuntimeError::Io {
        id: id.to_owned(),
        action,
        path,
        source,
    }
}

/// Resolve a bare program name on `PATH`.
fn resolve_on_path(prog: &Path) -> Option<PathBuf> {
    if prog.components().count() > 1 {
        return prog.is_file().then(|| prog.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

/// Make every existing ancestor of `dir` traversable by others (o+x): runc resolves the rootfs
/// path from inside the user namespace, as the unprivileged shifted root.
fn ensure_traversable(dir: &Path) -> Result<(), RuntimeError> {
    // `dir` itself is excluded: it is root:<mapped gid> 0710 on purpose, so that other host
    // users cannot reach sandboxes' files; the mapped root traverses it through its group.
    for anc in dir.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(anc) else {
            continue;
        };
        let mode = meta.permissions().mode();
        if mode & 0o001 == 0 {
            tracing::warn!(path = %anc.display(), mode = format!("{:o}", mode & 0o7777),
                "adding o+x so that sandboxes' user namespaces can reach their root filesystem");
            std::fs::set_permissions(
                anc,
                std::fs::Permissions::from_mode((mode | 0o001) & 0o7777),
            )
            .map_err(host_err("make traversable", anc))?;
        }
    }
    Ok(())
}

fn mkdir(path: &Path, mode: u32) -> std::io::Result<()> {
    std::fs::DirBuilder::new().mode(mode).create(path)?;
    // The umask may have removed bits.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Link the sandbox whose PID 1 is `pid` to its network, if it has one.
pub(crate) async fn plug_network(spec: &SandboxSpec, pid: u32) -> Result<(), RuntimeError> {
    match &spec.network {
        Some(net) => net
            .plug
            .plug(pid)
            .await
            .map_err(|detail| RuntimeError::Network {
                id: spec.id.clone(),
                detail,
            }),
        None => Ok(()),
    }
}

/// The host pid of the sandbox's PID 1, as runc wrote it.
fn read_pid(id: &str, layout: &Layout) -> Result<u32, RuntimeError> {
    let path = layout.pid_file();
    let text = std::fs::read_to_string(&path).map_err(sb_err(id, "read", &path))?;
    text.trim()
        .parse()
        .map_err(|_| sb_err(id, "parse", &path)(ErrorKind::InvalidData.into()))
}

/// Is the process alive and not a zombie?
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|s| s != 'Z' && s != 'X'),
        Err(_) => false,
    }
}

fn map_status(status: &str) -> ActualState {
    match status {
        "creating" | "created" => ActualState::Creating,
        "running" => ActualState::Running,
        "paused" | "pausing" => ActualState::Paused,
        _ => ActualState::Stopped,
    }
}

/// Removes the id from the "creating" set when create ends, however it ends.
struct CreatingGuard<'a> {
    set: &'a Mutex<HashSet<String>>,
    id: String,
}

impl Drop for CreatingGuard<'_> {
    fn drop(&mut self) {
        lock(self.set).remove(&self.id);
    }
}

impl ContainerRuntime {
    /// Mount the overlay of the image's layers, the snapshots' layers and the sandbox's upper
    /// dir at `rootfs/`.
    fn mount_rootfs(&self, spec: &SandboxSpec, layout: &Layout) -> Result<(), RuntimeError> {
        rootfs::mount_overlay(
            &self.lower_layers(spec),
            &layout.empty_lower(),
            &layout.upper(),
            &layout.work(),
            &layout.rootfs(),
        )
        .map_err(|source| RuntimeError::Rootfs {
            id: spec.id.clone(),
            source,
        })
    }

    /// Check the configuration (runc present, agent static), create the state and runc root
    /// directories, and make the state dir's ancestors traversable by the shifted root.
    pub async fn new(cfg: ContainerConfig) -> Result<Self, RuntimeError> {
        crate::agent_binary::check_static_elf(&cfg.agent_binary)?;
        let runc_bin = resolve_on_path(&cfg.runc).ok_or_else(|| RuntimeError::Host {
            action: "find runc",
            path: cfg.runc.clone(),
            source: ErrorKind::NotFound.into(),
        })?;
        std::fs::create_dir_all(&cfg.state_dir).map_err(host_err("create", &cfg.state_dir))?;
        let state_dir =
            std::fs::canonicalize(&cfg.state_dir).map_err(host_err("resolve", &cfg.state_dir))?;
        // root:<mapped root's gid> 0710: sandboxes' user namespaces traverse it (runc
        // reaches each rootfs as the mapped root); other host users cannot, so they
        // cannot read a sandbox's files through its rootfs or upper directory.
        nix::unistd::chown(
            &state_dir,
            None,
            Some(nix::unistd::Gid::from_raw(cfg.id_map.host_base)),
        )
        .map_err(|e| host_err("chown", &state_dir)(e.into()))?;
        std::fs::set_permissions(&state_dir, std::fs::Permissions::from_mode(0o710))
            .map_err(host_err("set mode of", &state_dir))?;
        ensure_traversable(&state_dir)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&cfg.runc_root)
            .map_err(host_err("create", &cfg.runc_root))?;
        let runc = Runc {
            bin: runc_bin,
            root: cfg.runc_root.clone(),
            timeout: RUNC_TIMEOUT,
        };
        let cfg = ContainerConfig { state_dir, ..cfg };
        let disk_pool = if cfg.pooled_disk_bytes > 0 {
            let dir = cfg.state_dir.join(".disk-pool");
            let pool =
                disk_pool::DiskPool::open(dir.clone(), cfg.pooled_disk_bytes, DISK_POOL_SIZE)
                    .map_err(host_err("open the disk pool", &dir))?;
            pool.refill();
            Some(pool)
        } else {
            None
        };
        let rt = ContainerRuntime {
            cfg,
            runc,
            kernel: seccomp::kernel_version(),
            agents: Mutex::default(),
            dumping: Mutex::default(),
            creating: Mutex::default(),
            disk_pool,
        };
        // Commands a killed daemon left running (a checkpoint, a copy) must end before anything
        // is looked at or cleaned up.
        let (dir, root) = (rt.cfg.state_dir.clone(), rt.cfg.runc_root.clone());
        let left = tokio::task::spawn_blocking(move || leftovers::wait(&dir, &root, RUNC_TIMEOUT))
            .await
            .unwrap_or_default();
        if !left.is_empty() {
            tracing::warn!(pids = ?left, "commands of a previous daemon are still running");
        }
        rt.complete_orphaned_checkpoints();
        rt.prepare_snapshots_root()?;
        Ok(rt)
    }

    /// The configuration in use (with `state_dir` canonicalized).
    pub fn config(&self) -> &ContainerConfig {
        &self.cfg
    }

    /// The bundle directory of a sandbox (it may not exist).
    pub fn bundle_dir(&self, id: &str) -> PathBuf {
        self.cfg.state_dir.join(id)
    }

    /// The sandbox's log file (agent and main process stdout/stderr).
    pub fn log_path(&self, id: &str) -> PathBuf {
        Layout::new(&self.cfg.state_dir, id).log()
    }

    /// The sandbox's existing cgroup directories, one per hierarchy (v1: per controller).
    pub fn cgroup_dirs(&self, id: &str) -> Vec<PathBuf> {
        if !is_valid_id(id) {
            return Vec::new();
        }
        cgroups::dirs(&self.cgroup_rel(id))
    }

    fn cgroup_rel(&self, id: &str) -> String {
        format!("{}/{id}", self.cfg.cgroup_parent.trim_matches('/'))
    }

    async fn create_impl(&self, spec: &SandboxSpec) -> Result<SandboxInfo, RuntimeError> {
        validate_spec(spec)?;
        let id = spec.id.as_str();
        let layout = Layout::new(&self.cfg.state_dir, id);
        match mkdir(layout.dir(), 0o711) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(RuntimeError::AlreadyExists { id: id.to_owned() });
            }
            Err(e) => return Err(sb_err(id, "create", layout.dir())(e)),
        }
        lock(&self.creating).insert(id.to_owned());
        let _guard = CreatingGuard {
            set: &self.creating,
            id: id.to_owned(),
        };
        let started = Instant::now();
        match self.create_steps(spec, &layout, true).await {
            Ok(info) => {
                tracing::info!(id, pid = info.pid, elapsed = ?started.elapsed(), "sandbox created");
                Ok(info)
            }
            Err(err) => {
                tracing::warn!(id, error = %err, "sandbox creation failed; cleaning up");
                if let Err(e) = self.delete_impl(id).await {
                    tracing::error!(id, error = %e, "cleanup after failed create failed");
                }
                Err(err)
            }
        }
    }

    /// Everything from the disk to a healthy agent. `fresh`: a new sandbox (make its disk);
    /// otherwise a stopped one being started again on the disk and files it has.
    pub(crate) async fn create_steps(
        &self,
        spec: &SandboxSpec,
        layout: &Layout,
        fresh: bool,
    ) -> Result<SandboxInfo, RuntimeError> {
        let id = spec.id.as_str();
        let disk_err = |source| RuntimeError::Disk {
            id: id.to_owned(),
            source,
        };
        let disk_dir = layout.disk();
        if !fresh {
            if layout.disk_image().exists() {
                disk::mount(&layout.disk_image(), &disk_dir).map_err(disk_err)?;
            }
            return self.boot(spec, layout).await;
        }
        mkdir(&disk_dir, 0o711).map_err(sb_err(id, "create", &disk_dir))?;
        if spec.limits.disk_bytes > 0 {
            let image = layout.disk_image();
            let pooled = self
                .disk_pool
                .as_ref()
                .is_some_and(|pool| pool.take(spec.limits.disk_bytes, &image));
            if !pooled {
                disk::create(&image, spec.limits.disk_bytes)
                    .await
                    .map_err(disk_err)?;
            }
            disk::mount(&layout.disk_image(), &disk_dir).map_err(disk_err)?;
            // The new filesystem's root (root 0755) becomes like the bundle dir.
            std::fs::set_permissions(&disk_dir, std::fs::Permissions::from_mode(0o711))
                .map_err(sb_err(id, "set mode of", &disk_dir))?;
        }
        let root = Some(nix::unistd::Uid::from_raw(self.cfg.id_map.host_base));
        let root_gid = Some(nix::unistd::Gid::from_raw(self.cfg.id_map.host_base));
        for (dir, mode, shifted) in [
            (layout.upper(), 0o755, true),
            (layout.work(), 0o700, false),
            (layout.rootfs(), 0o755, false),
            (layout.run(), 0o700, true),
        ] {
            mkdir(&dir, mode).map_err(sb_err(id, "create", &dir))?;
            if shifted {
                nix::unistd::chown(&dir, root, root_gid)
                    .map_err(|e| sb_err(id, "chown", &dir)(e.into()))?;
            }
        }
        // The agent's stdio file: the agent reopens it from inside (see `hibernate.rs`), as the
        // shifted root, so that root must own it.
        let agent_log = layout.log();
        std::fs::File::create(&agent_log).map_err(sb_err(id, "create", &agent_log))?;
        nix::unistd::chown(&agent_log, root, root_gid)
            .map_err(|e| sb_err(id, "chown", &agent_log)(e.into()))?;
        if spec.layers.is_empty() {
            let empty = layout.empty_lower();
            mkdir(&empty, 0o755).map_err(sb_err(id, "create", &empty))?;
        }
        // From a memory snapshot: the captured run dir (CRIU reopens its files by path).
        self.seed_run_dir(spec, &layout.run()).await?;
        self.boot(spec, layout).await
    }

    /// Mount the overlay, write the OCI spec, run the container and wait for its agent.
    async fn boot(&self, spec: &SandboxSpec, layout: &Layout) -> Result<SandboxInfo, RuntimeError> {
        let id = spec.id.as_str();
        self.mount_rootfs(spec, layout)?;
        let resolv_conf = layout.resolv_conf();
        if let Some(net) = &spec.network {
            let text: String = net
                .nameservers
                .iter()
                .map(|ns| format!("nameserver {ns}\n"))
                .collect();
            std::fs::write(&resolv_conf, text).map_err(sb_err(id, "write", &resolv_conf))?;
        }

        let criu_config = layout.criu_config();
        std::fs::write(&criu_config, CRIU_CONFIG).map_err(sb_err(id, "write", &criu_config))?;
        let oci = spec::build(
            spec,
            &spec::HostParts {
                id_map: self.cfg.id_map,
                agent_binary: &self.cfg.agent_binary,
                run_dir: &layout.run(),
                cgroups_path: format!("/{}", self.cgroup_rel(id)),
                kernel: self.kernel,
                compat_32bit: self.cfg.compat_32bit,
                main_log: self.cfg.main_log,
                resolv_conf: spec.network.as_ref().map(|_| resolv_conf.as_path()),
                criu_config: Some(&criu_config),
            },
        );
        let json = serde_json::to_vec_pretty(&oci)
            .map_err(|e| sb_err(id, "serialize", &layout.config())(e.into()))?;
        let tmp = layout.dir().join("config.json.tmp");
        std::fs::write(&tmp, json).map_err(sb_err(id, "write", &tmp))?;
        std::fs::rename(&tmp, layout.config()).map_err(sb_err(id, "rename", &tmp))?;

        let pid = match &spec.restore_from {
            None => {
                self.runc
                    .run_detached(
                        id,
                        layout.dir(),
                        &layout.pid_file(),
                        &layout.log(),
                        &layout.runc_log(),
                    )
                    .await
                    .map_err(Self::runc_err(id))?;
                read_pid(id, layout)?
            }
            Some(from) => self.restore_from_snapshot(spec, from, layout).await?,
        };
        plug_network(spec, pid).await?;
        let client = self.wait_for_agent(id, layout, pid).await?;
        if let Some(from) = &spec.restore_from {
            // The restored agent still believes it is the snapshot's source.
            let who = warren_agent_proto::identity::IdentityRequest {
                sandbox_id: id.to_owned(),
                hostname: spec.hostname.clone(),
                restored_from: Some(from.clone()),
            };
            client
                .set_identity(&who)
                .await
                .map_err(|source| RuntimeError::Agent {
                    id: id.to_owned(),
                    source,
                })?;
        }
        lock(&self.agents).insert(id.to_owned(), client);
        Ok(SandboxInfo {
            id: id.to_owned(),
            pid,
            bundle: layout.dir().to_path_buf(),
        })
    }

    async fn wait_for_agent(
        &self,
        id: &str,
        layout: &Layout,
        pid: u32,
    ) -> Result<AgentClient, RuntimeError> {
        let deadline = Instant::now() + AGENT_TIMEOUT;
        let socket = layout.socket();
        let mut delay = Duration::from_millis(1);
        let mut last_err = None;
        loop {
            if !alive(pid) {
                return Err(RuntimeError::ExitedDuringStart {
                    id: id.to_owned(),
                    log_tail: layout::tail(&layout.log(), 20),
                });
            }
            if socket.exists() {
                match crate::agent::connect_agent(&socket).await {
                    Ok(client) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        match tokio::time::timeout(left, client.health()).await {
                            Ok(Ok(_)) => return Ok(client),
                            Ok(Err(e)) => last_err = Some(e),
                            Err(_) => {}
                        }
                    }
                    Err(e) => last_err = Some(e),
                }
            }
            if Instant::now() >= deadline {
                return Err(RuntimeError::AgentTimeout {
                    id: id.to_owned(),
                    timeout: AGENT_TIMEOUT,
                    log_tail: layout::tail(&layout.log(), 20),
                    source: last_err,
                });
            }
            tokio::time::sleep(delay).await;
            // The agent is usually up ~2 ms after runc returns: poll tightly.
            delay = (delay * 2).min(Duration::from_millis(2));
        }
    }

    async fn state_impl(&self, id: &str) -> Result<Option<ActualState>, RuntimeError> {
        if !is_valid_id(id) {
            return Ok(None);
        }
        if lock(&self.creating).contains(id) {
            return Ok(Some(ActualState::Creating));
        }
        let st = self
            .runc
            .state(id)
            .await
            .map_err(|source| RuntimeError::Runc {
                id: id.to_owned(),
                source,
            })?;
        let layout = Layout::new(&self.cfg.state_dir, id);
        Ok(match st {
            Some(st) => Some(map_status(&st.status)),
            None if layout.checkpoint_done().exists() => Some(ActualState::Hibernated),
            None if layout.dir().exists() => Some(ActualState::Stopped),
            None => None,
        })
    }

    async fn list_impl(&self) -> Result<Vec<(String, ActualState)>, RuntimeError> {
        let listed = self
            .runc
            .list()
            .await
            .map_err(|source| RuntimeError::Runc {
                id: "*".into(),
                source,
            })?;
        let mut out: HashMap<String, ActualState> = listed
            .into_iter()
            .filter(|c| c.bundle.parent() == Some(self.cfg.state_dir.as_path()))
            .map(|c| (c.id, map_status(&c.status)))
            .collect();
        let rd = std::fs::read_dir(&self.cfg.state_dir)
            .map_err(host_err("list", &self.cfg.state_dir))?;
        for entry in rd.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_valid_id(&name) && entry.file_type().is_ok_and(|t| t.is_dir()) {
                let done = Layout::new(&self.cfg.state_dir, &name).checkpoint_done();
                let idle = if done.exists() {
                    ActualState::Hibernated
                } else {
                    ActualState::Stopped
                };
                out.entry(name).or_insert(idle);
            }
        }
        for id in lock(&self.creating).iter() {
            out.insert(id.clone(), ActualState::Creating);
        }
        let mut v: Vec<_> = out.into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(v)
    }

    async fn agent_impl(&self, id: &str) -> Result<AgentClient, RuntimeError> {
        let not_found = || RuntimeError::NotFound { id: id.to_owned() };
        if !is_valid_id(id) {
            return Err(not_found());
        }
        if lock(&self.dumping).contains(id) {
            // A connection opened now would be open during the dump, which CRIU refuses.
            return Err(RuntimeError::Checkpointing { id: id.to_owned() });
        }
        if let Some(c) = lock(&self.agents).get(id)
            && !c.is_closed()
        {
            return Ok(c.clone());
        }
        let layout = Layout::new(&self.cfg.state_dir, id);
        if !layout.dir().exists() {
            return Err(not_found());
        }
        let client = crate::agent::connect_agent(&layout.socket())
            .await
            .map_err(|source| RuntimeError::Agent {
                id: id.to_owned(),
                source,
            })?;
        lock(&self.agents).insert(id.to_owned(), client.clone());
        Ok(client)
    }

    /// Kill the container's processes and remove its runc state and cgroups (the files and
    /// mounts stay). Idempotent.
    pub(crate) async fn end_container(&self, id: &str) -> Result<(), RuntimeError> {
        lock(&self.agents).remove(id);
        let runc_err = |source| RuntimeError::Runc {
            id: id.to_owned(),
            source,
        };
        if let Some(st) = self.runc.state(id).await.map_err(runc_err)? {
            if st.status == "paused" {
                // A frozen process cannot die; thaw first (best effort: delete --force retries).
                let _ = self.runc.resume(id).await;
            }
            if st.status != "stopped" {
                let pid = u32::try_from(st.pid).unwrap_or(0);
                // SIGKILL to the sandbox's PID 1 ends its whole PID namespace. Signalling the pid
                // runc just reported saves a `runc kill` round trip; runc checked it is ours.
                let direct = i32::try_from(pid).ok().filter(|p| *p > 0).is_some_and(|p| {
                    nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(p),
                        nix::sys::signal::Signal::SIGKILL,
                    )
                    .is_ok()
                });
                if !direct {
                    self.runc.kill(id).await.map_err(runc_err)?;
                }
                let deadline = Instant::now() + KILL_TIMEOUT;
                while pid != 0 && alive(pid) && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            self.runc.delete_force(id).await.map_err(runc_err)?;
        } else if self.cfg.runc_root.join(id).exists() {
            // runc state dir without a readable state (aborted create): let runc remove it.
            self.runc.delete_force(id).await.map_err(runc_err)?;
        }
        cgroups::remove(&self.cgroup_rel(id))
            .await
            .map_err(|(path, source)| RuntimeError::Cgroup {
                id: id.to_owned(),
                path,
                source,
            })?;
        Ok(())
    }

    async fn delete_impl(&self, id: &str) -> Result<(), RuntimeError> {
        if !is_valid_id(id) {
            return Ok(());
        }
        self.end_container(id).await?;
        let layout = Layout::new(&self.cfg.state_dir, id);
        if layout.criu_work().exists() {
            // A restore that never finished may have left CRIU and its mounts behind.
            leftovers::release(layout.dir(), &self.cfg.runc_root.join(id));
        }
        // The overlay first: it holds the disk (its upper and work dirs) busy.
        Self::release_mounts(id, &layout)?;
        match std::fs::remove_dir_all(layout.dir()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(sb_err(id, "remove", layout.dir())(e)),
        }
    }
}

impl ContainerRuntime {
    async fn stats_impl(
        &self,
        id: &str,
        disk: bool,
    ) -> Result<Option<crate::SandboxStats>, RuntimeError> {
        if !is_valid_id(id) {
            return Ok(None);
        }
        let dirs = cgroups::dirs(&self.cgroup_rel(id));
        if dirs.is_empty() {
            return Ok(None);
        }
        let mut usage = stats::from_cgroups(&dirs);
        if disk {
            let layout = Layout::new(&self.cfg.state_dir, id);
            usage.disk_bytes = if layout.disk_image().exists() {
                disk::used_bytes(&layout.disk())
            } else {
                let upper = layout.upper();
                tokio::task::spawn_blocking(move || stats::disk_usage(&upper))
                    .await
                    .ok()
            };
        }
        Ok(Some(usage))
    }
}

impl ContainerRuntime {
    async fn logs_impl(
        &self,
        id: &str,
        opts: crate::LogOptions,
    ) -> Result<crate::LogChunks, RuntimeError> {
        let layout = Layout::new(&self.cfg.state_dir, id);
        if !is_valid_id(id) || !layout.dir().exists() {
            return Err(RuntimeError::NotFound { id: id.to_owned() });
        }
        logs::read(
            &layout.run(),
            layout.dir().to_path_buf(),
            self.cfg.main_log.files,
            opts,
        )
        .map_err(sb_err(id, "read the log in", &layout.run()))
    }
}

impl Runtime for ContainerRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Container
    }

    fn create<'a>(
        &'a self,
        spec: &'a SandboxSpec,
    ) -> BoxFuture<'a, Result<SandboxInfo, RuntimeError>> {
        Box::pin(self.create_impl(spec))
    }

    fn state<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ActualState>, RuntimeError>> {
        Box::pin(self.state_impl(id))
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<(String, ActualState)>, RuntimeError>> {
        Box::pin(self.list_impl())
    }

    fn agent<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<AgentClient, RuntimeError>> {
        Box::pin(self.agent_impl(id))
    }

    fn stats<'a>(
        &'a self,
        id: &'a str,
        disk: bool,
    ) -> BoxFuture<'a, Result<Option<crate::SandboxStats>, RuntimeError>> {
        Box::pin(self.stats_impl(id, disk))
    }

    fn logs<'a>(
        &'a self,
        id: &'a str,
        opts: crate::LogOptions,
    ) -> BoxFuture<'a, Result<crate::LogChunks, RuntimeError>> {
        Box::pin(self.logs_impl(id, opts))
    }

    fn pause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(self.pause_impl(id))
    }

    fn resume<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(self.resume_impl(id))
    }

    fn stop<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(self.stop_impl(id))
    }

    fn start<'a>(
        &'a self,
        spec: &'a SandboxSpec,
    ) -> BoxFuture<'a, Result<SandboxInfo, RuntimeError>> {
        Box::pin(self.start_impl(spec))
    }

    fn hibernate<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(self.hibernate_impl(id))
    }

    fn restore<'a>(
        &'a self,
        spec: &'a SandboxSpec,
    ) -> BoxFuture<'a, Result<SandboxInfo, RuntimeError>> {
        Box::pin(self.restore_impl(spec))
    }

    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(self.delete_impl(id))
    }

    fn snapshot<'a>(
        &'a self,
        id: &'a str,
        snapshot_id: &'a str,
        memory: bool,
    ) -> BoxFuture<'a, Result<crate::SnapshotInfo, RuntimeError>> {
        Box::pin(self.snapshot_impl(id, snapshot_id, memory))
    }

    fn delete_snapshot<'a>(
        &'a self,
        snapshot_id: &'a str,
    ) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(self.delete_snapshot_impl(snapshot_id))
    }

    fn list_snapshots(&self) -> BoxFuture<'_, Result<Vec<String>, RuntimeError>> {
        Box::pin(self.list_snapshots_impl())
    }

    fn park<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<PathBuf, RuntimeError>> {
        Box::pin(self.park_impl(id))
    }

    fn files_dir(&self, id: &str) -> PathBuf {
        self.bundle_dir(id)
    }

    fn main_pid<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<u32, RuntimeError>> {
        Box::pin(async move {
            let layout = self.existing(id)?;
            read_pid(id, &layout)
        })
    }

    fn listening_ports<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Vec<u16>, RuntimeError>> {
        Box::pin(async move {
            let layout = self.existing(id)?;
            let pid = read_pid(id, &layout)?;
            Ok(ports::listening(pid))
        })
    }

    fn snapshot_dir(&self, snapshot_id: &str) -> PathBuf {
        self.snapshots_root().join(snapshot_id)
    }
}
