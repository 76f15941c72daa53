//! End-to-end harness: a real `docker-registry` on loopback, a real `warren
//! serve` daemon on loopback, real runc underneath.
//!
//! Each test file owns its [`Registry`] and [`Daemon`]; dropping them (also
//! when a test panics) deletes every sandbox through the API and stops the
//! processes. Children get `PR_SET_PDEATHSIG` so a crashed test run leaves
//! no registry or daemon behind.
//!
//! The tests need root, runc, the fixtures built by `scripts/test-fixtures.sh`
//! (`WARREN_FIXTURES`) and the static agent (`WARREN_AGENT_BIN`). Without
//! them a test prints why and passes, unless `WARREN_REQUIRE_E2E=1` (set by
//! `scripts/test.sh`), where a missing piece is a failure.
#![allow(dead_code)]

pub mod clients;
pub mod moto;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TEST_KEY: &str = "wrn_test_key_0123456789abcdefghijklmnop";

/// Paths the e2e tests need.
pub struct Env {
    /// Built by scripts/test-fixtures.sh.
    pub fixtures: PathBuf,
    /// The static agent.
    pub agent: PathBuf,
}

/// The environment, or `None` (with a message) when e2e tests cannot run here.
pub fn env() -> Option<Env> {
    let why = (|| {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root".to_owned());
        }
        if which("runc").is_none() {
            return Err("runc not installed".to_owned());
        }
        let fixtures = std::env::var_os("WARREN_FIXTURES")
            .map(PathBuf::from)
            .ok_or("WARREN_FIXTURES unset")?;
        if !fixtures.join("busybox/index.json").exists() {
            return Err(format!("no fixtures in {}", fixtures.display()));
        }
        let agent = std::env::var_os("WARREN_AGENT_BIN")
            .map(PathBuf::from)
            .ok_or("WARREN_AGENT_BIN unset")?;
        if !agent.exists() {
            return Err(format!("agent {} missing", agent.display()));
        }
        Ok(Env { fixtures, agent })
    })();
    match why {
        Ok(env) => Some(env),
        Err(reason) if std::env::var("WARREN_REQUIRE_E2E").is_ok_and(|v| v == "1") => {
            panic!("end-to-end tests cannot run: {reason} (run scripts/test.sh)")
        }
        Err(reason) => {
            eprintln!("skipping end-to-end test: {reason} (run scripts/test.sh)");
            None
        }
    }
}

pub fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(cmd))
        .find(|p| p.is_file())
}

/// Spawn `cmd` so that it dies with this test process.
fn spawn_tied(cmd: &mut Command) -> Child {
    // SAFETY: prctl is async-signal-safe; the closure touches nothing else.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // PDEATHSIG fires when the spawning *thread* exits; spawn from a thread that never does.
    let (tx, rx) = std::sync::mpsc::channel::<std::io::Result<Child>>();
    let cmd = std::mem::replace(cmd, Command::new("true"));
    spawner().send((cmd, tx)).expect("spawner thread alive");
    rx.recv().expect("spawner answers").expect("spawn child")
}

type SpawnRequest = (Command, std::sync::mpsc::Sender<std::io::Result<Child>>);

fn spawner() -> std::sync::mpsc::Sender<SpawnRequest> {
    static SPAWNER: std::sync::OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<SpawnRequest>>> =
        std::sync::OnceLock::new();
    SPAWNER
        .get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel::<SpawnRequest>();
            std::thread::spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                // Keep the thread (and so the children's PDEATHSIG) alive until exit.
                loop {
                    std::thread::park();
                }
            });
            std::sync::Mutex::new(tx)
        })
        .lock()
        .unwrap()
        .clone()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` over plain HTTP/1.0; the status code, or None if unreachable.
pub fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut buf = [0u8; 32];
    let n = s.read(&mut buf).ok()?;
    std::str::from_utf8(&buf[..n])
        .ok()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < timeout,
            "{what} not ready after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A throwaway `docker-registry` on 127.0.0.1.
pub struct Registry {
    pub addr: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n  secret: warren-test\n",
                dir.path().join("storage").display()
            ),
        )
        .unwrap();
        let child = spawn_tied(
            Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let sock: SocketAddr = addr.parse().unwrap();
        wait_until("registry", Duration::from_secs(20), || {
            http_status(sock, "/v2/") == Some(200)
        });
        Self {
            addr,
            child,
            _dir: dir,
        }
    }

    /// Push an OCI layout `fixtures/<layout>:<tag>` as `<name>:<tag>`; returns the full reference.
    pub fn push(&self, layout: &Path, tag: &str, name: &str) -> String {
        self.push_with(layout, tag, name, &[])
    }

    /// [`Registry::push`] with extra `skopeo copy` flags (`--all` for an index).
    pub fn push_with(&self, layout: &Path, tag: &str, name: &str, flags: &[&str]) -> String {
        let dest = format!("{}/{name}:{tag}", self.addr);
        let out = Command::new("skopeo")
            .args(["copy", "--quiet", "--dest-tls-verify=false"])
            .args(flags)
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{dest}"))
            .output()
            .expect("run skopeo");
        assert!(
            out.status.success(),
            "skopeo push of {dest} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dest
    }

    /// The registry's on-disk blob for `digest` (to corrupt it in tests).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self._dir.path().join(format!(
            "storage/docker/registry/v2/blobs/sha256/{}/{hex}/data",
            &hex[..2]
        ))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `warren serve` on 127.0.0.1 with its own state dir.
pub struct Daemon {
    pub url: String,
    pub addr: SocketAddr,
    pub state: PathBuf,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
    /// Its own bridge and subnet.
    pub net: TestNet,
}

impl Daemon {
    /// Start a daemon with a fresh state dir.
    pub fn start(env: &Env) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("warren-e2e-")
            .tempdir_in(state_root())
            .unwrap();
        let mut d = Self::start_in(env, dir.path());
        d._dir = Some(dir);
        d
    }

    /// Start a daemon with a fresh state dir and extra `warren serve` flags.
    pub fn start_with_args(env: &Env, args: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("warren-e2e-")
            .tempdir_in(state_root())
            .unwrap();
        let mut d = Self::start_in_with_args(env, dir.path(), args);
        d._dir = Some(dir);
        d
    }

    /// Start a daemon on an existing state dir (after a crash, say).
    pub fn start_in(env: &Env, state: &Path) -> Self {
        Self::start_in_with_args(env, state, &[])
    }

    /// [`Daemon::start_in`] with extra `warren serve` flags.
    pub fn start_in_with_args(env: &Env, state: &Path, args: &[&str]) -> Self {
        Self::start_in_with_env(env, state, args, &[])
    }

    /// A fresh state dir, extra flags and extra environment variables.
    pub fn start_with_env(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("warren-e2e-")
            .tempdir_in(state_root())
            .unwrap();
        let mut d = Self::start_in_with_env(env, dir.path(), args, vars);
        d._dir = Some(dir);
        d
    }

    /// [`Daemon::start_in_with_args`] with extra environment variables.
    pub fn start_in_with_env(
        env: &Env,
        state: &Path,
        args: &[&str],
        vars: &[(&str, &str)],
    ) -> Self {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let net = TestNet::for_state(state);
        let net_args = net.args();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(state.with_extension("log"))
            .unwrap();
        let child = spawn_tied(
            Command::new(env!("CARGO_BIN_EXE_warren"))
                .args(["serve", "--listen", &addr.to_string(), "--state-dir"])
                .arg(state)
                .args(&net_args)
                .args(args)
                // No per-key rate limit unless a test asks for one with flags
                // (flags override the environment).
                .env("WARREN_RATE_LIMIT_RPS", "0")
                .env("WARREN_API_KEY", TEST_KEY)
                .env("WARREN_AGENT_BIN", &env.agent)
                .env("WARREN_CONFIG", state.with_extension("config.json"))
                // Daemons run side by side: only the SSH tests (which pass WARREN_NO_SSH=false
                // and --ssh-listen) start the gateway.
                .env("WARREN_NO_SSH", "true")
                .envs(vars.iter().copied())
                .stdout(log.try_clone().unwrap())
                .stderr(log),
        );
        let mut d = Self {
            url: format!("http://{addr}"),
            addr,
            state: state.to_owned(),
            child: Some(child),
            _dir: None,
            net,
        };
        let start = Instant::now();
        // A TLS daemon is ready when its port accepts (this probe speaks plain HTTP).
        let tls = args.contains(&"--tls-cert");
        let ready = || {
            if tls {
                TcpStream::connect(addr).is_ok()
            } else {
                http_status(addr, "/healthz") == Some(200)
            }
        };
        while !ready() {
            if let Some(status) = d.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("warren serve exited with {status}; log:\n{}", d.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "daemon not ready; log:\n{}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state.with_extension("log")).unwrap_or_default()
    }

    pub fn client(&self) -> warren_client::Client {
        warren_client::Client::new(&self.url, Some(TEST_KEY.to_owned())).unwrap()
    }

    /// `kill -9` the daemon: sandboxes must survive it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Take over the state dir (so it outlives this daemon handle).
    pub fn take_dir(&mut self) -> Option<tempfile::TempDir> {
        self._dir.take()
    }

    /// Run the CLI against this daemon.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.cli_with_key(TEST_KEY, args)
    }

    /// Run the CLI against this daemon with another API key.
    pub fn cli_with_key(&self, key: &str, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_warren"))
            .args(args)
            .env("WARREN_URL", &self.url)
            .env("WARREN_API_KEY", key)
            .env(
                "WARREN_CONFIG",
                self.state.with_extension("cli-config.json"),
            )
            .output()
            .expect("run warren CLI")
    }

    fn delete_all_sandboxes(&self) {
        let client = self.client();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            if let Ok(all) = client.list_all_sandboxes().await {
                for sb in all {
                    if let Err(e) = client.delete_sandbox(&sb.id).await {
                        eprintln!("cleanup: cannot delete {}: {e}", sb.id);
                    }
                }
            }
        });
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            // A separate thread: Drop may run inside a tokio runtime.
            std::thread::scope(|s| {
                s.spawn(|| self.delete_all_sandboxes());
            });
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.net.release();
    }
}

/// A bridge and subnet of its own for each test daemon (daemons run in parallel), kept in
/// `<state>.net` so that a daemon restarted on the same state dir gets the same ones; torn down
/// (namespaces, firewall table, bridge) when the last daemon handle on it is dropped.
#[derive(Debug, Clone)]
pub struct TestNet {
    /// Bridge (and nftables table) name.
    pub bridge: String,
    /// `10.x.y.0/24`.
    pub subnet: String,
    /// The bridge's address (the gateway).
    pub gateway: String,
    state: PathBuf,
}

static NET_USERS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

impl TestNet {
    fn for_state(state: &Path) -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let file = state.with_extension("net");
        let n: u32 = match std::fs::read_to_string(&file) {
            Ok(t) => t.trim().parse().unwrap(),
            Err(_) => {
                let n = (std::process::id() % 1000) * 16
                    + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 16;
                std::fs::write(&file, n.to_string()).unwrap();
                n
            }
        };
        NET_USERS.lock().unwrap().push(state.to_owned());
        let (a, b) = (100 + (n / 256) % 100, n % 256);
        TestNet {
            bridge: format!("wt{n}"),
            subnet: format!("10.{a}.{b}.0/24"),
            gateway: format!("10.{a}.{b}.1"),
            state: state.to_owned(),
        }
    }

    fn args(&self) -> Vec<String> {
        vec![
            "--bridge".into(),
            self.bridge.clone(),
            "--subnet".into(),
            self.subnet.clone(),
        ]
    }

    /// Forget one user; the last one removes everything of this network.
    fn release(&self) {
        let mut users = NET_USERS.lock().unwrap();
        if let Some(i) = users.iter().position(|s| *s == self.state) {
            users.remove(i);
        }
        if users.contains(&self.state) {
            return;
        }
        drop(users);
        self.teardown();
    }

    /// Delete the namespaces, the firewall table and the bridge.
    pub fn teardown(&self) {
        let prefix = format!("{}-", self.bridge);
        if let Ok(rd) = std::fs::read_dir("/run/netns") {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = Command::new("ip")
                        .args(["netns", "delete"])
                        .arg(e.file_name())
                        .status();
                }
            }
        }
        for family in ["inet", "bridge"] {
            let _ = Command::new("nft")
                .args(["delete", "table", family, &self.bridge])
                .stderr(Stdio::null())
                .status();
        }
        let _ = Command::new("ip")
            .args(["link", "delete", &self.bridge])
            .stderr(Stdio::null())
            .status();
    }
}

/// Where e2e state dirs go: under target/, so a failed run can be inspected.
fn state_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e");
    std::fs::create_dir_all(&root).unwrap();
    root
}

/// Mount points whose path contains `needle`.
pub fn mounts_containing(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|m| m.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// cgroup directories (v1 controllers or v2) named after `id`.
pub fn cgroups_of(id: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let root = Path::new("/sys/fs/cgroup");
    let mut candidates = vec![root.join("warren").join(id)];
    if let Ok(entries) = std::fs::read_dir(root) {
        for e in entries.flatten() {
            candidates.push(e.path().join("warren").join(id));
        }
    }
    for c in candidates {
        if c.exists() {
            found.push(c);
        }
    }
    found
}
