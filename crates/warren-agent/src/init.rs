//! PID 1 duties and startup: set the hostname, start the reaper, bind the API socket, start the
//! sandbox's main process, forward signals to it, and serve connections.
//!
//! Signals: `SIGTERM`, `SIGINT`, `SIGHUP`, `SIGUSR1`, `SIGUSR2` go to the main process while it
//! runs. With no main process, `SIGTERM` or `SIGINT` makes the agent exit cleanly (removing its
//! socket); the others are ignored. The main process's exit is logged; the agent keeps serving.

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use nix::sys::signal::{Signal as NixSignal, kill};
use nix::unistd::Pid;
use tokio::net::UnixListener;
use tokio::signal::unix::{SignalKind, signal};
use warren_agent_proto::ProcessConfig;

use crate::agent::{Agent, build_env};
use crate::args::{Args, Listen};
use crate::fs::path;
use crate::mainlog::{self, RotatingLog};
use crate::process::pump;
use crate::process::registry::{Proc, Registry};
use crate::process::spawn::{self, Output, SpawnSpec};
use crate::reaper::Reaper;
use crate::server::serve_connection;

/// Run the agent until told to stop.
pub async fn run(args: Args) -> ExitCode {
    if let Some(h) = &args.hostname {
        set_hostname(h);
    }
    let base_env: Vec<(String, String)> = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let env_var = |key: &str| {
        base_env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let identity = warren_agent_proto::identity::Identity {
        sandbox_id: env_var(warren_agent_proto::identity::SANDBOX_ID_ENV).unwrap_or_default(),
        hostname: args.hostname.clone().unwrap_or_default(),
        restored_from: None,
        restores: 0,
    };
    if let Some(path) = &args.identity_file {
        crate::identity::write(path, &identity);
    }
    let agent = Arc::new(Agent {
        reaper: Arc::new(Reaper::default()),
        registry: Arc::new(Registry::default()),
        default_user: args.default_user.clone(),
        workdir: args.workdir.clone(),
        base_env: Mutex::new(base_env),
        identity_file: args.identity_file.clone(),
        identity: Mutex::new(identity),
        main_pid: Mutex::new(None),
        root: "/".into(),
    });
    agent.reaper.clone().start();
    // Validate the default user now, so a typo fails loudly at boot.
    if let Err(e) = agent.user(None) {
        crate::log!("warning: default user: {}", e.message);
    }

    if args.wait_for_network {
        // The host links the sandbox to its network between starting it and waiting for this
        // socket: once the socket answers, the network and the main process are both there.
        wait_for_default_route(NETWORK_WAIT).await;
    }
    let Listen::Unix(sock) = &args.listen;
    let listener = match bind(sock) {
        Ok(l) => l,
        Err(e) => {
            crate::log!("cannot listen on {}: {e}", sock.display());
            return ExitCode::FAILURE;
        }
    };
    crate::log!("serving on unix:{}", sock.display());

    if !args.main_cmd.is_empty() {
        start_main(&agent, &args);
    }

    let stop = forward_signals(agent.clone());
    tokio::pin!(stop);
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(stream, agent.clone()));
                }
                Err(e) => {
                    crate::log!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            () = &mut stop => {
                crate::log!("stopping");
                let _ = std::fs::remove_file(sock);
                return ExitCode::SUCCESS;
            }
        }
    }
}

fn bind(sock: &Path) -> std::io::Result<UnixListener> {
    if let Some(dir) = sock.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(sock) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    UnixListener::bind(sock)
}

fn set_hostname(h: &str) {
    match nix::unistd::gethostname() {
        Ok(cur) if cur.to_string_lossy() == h => {}
        _ => {
            if let Err(e) = nix::unistd::sethostname(h) {
                crate::log!("cannot set hostname to {h:?} ({e}); keeping the runtime's");
            }
        }
    }
}

/// How long the main process waits for the sandbox's network link.
const NETWORK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Wait until the sandbox's namespace has a default route (`/proc/net/route`: destination
/// `00000000`), or `limit` passes (then the main process starts anyway, and says so).
async fn wait_for_default_route(limit: std::time::Duration) {
    let started = std::time::Instant::now();
    let mut delay = std::time::Duration::from_millis(1);
    loop {
        let routed = std::fs::read_to_string("/proc/net/route").is_ok_and(|t| {
            t.lines()
                .skip(1)
                .any(|l| l.split_whitespace().nth(1) == Some("00000000"))
        });
        if routed {
            return;
        }
        if started.elapsed() >= limit {
            crate::log!("no network link after {limit:?}; starting the main process without it");
            return;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(std::time::Duration::from_millis(2));
    }
}

/// Start the sandbox's main process (tag `main`). With `--log`, its output goes through pipes to
/// the rotating log (and to anyone attached to it); without, it is inherited.
fn start_main(agent: &Arc<Agent>, args: &Args) {
    let result = (|| -> Result<(), String> {
        let user = agent.user(None).map_err(|e| e.message)?;
        let cwd_spec = agent.workdir.clone().unwrap_or_else(|| user.home.clone());
        let cwd = path::resolve(&cwd_spec, &user.home).map_err(|e| e.to_string())?;
        let cwd = if cwd.is_dir() { cwd } else { "/".into() };
        let log = match &args.log {
            Some(p) => Some(
                RotatingLog::open(p, args.log_limits)
                    .map_err(|e| format!("cannot open log {}: {e}", p.display()))?,
            ),
            None => None,
        };
        let config = ProcessConfig {
            cmd: args.main_cmd[0].clone(),
            args: args.main_cmd[1..].to_vec(),
            envs: Default::default(),
            cwd: Some(cwd.to_string_lossy().into_owned()),
        };
        let spec = SpawnSpec {
            cmd: config.cmd.clone(),
            args: config.args.clone(),
            env: build_env(&agent.base_env(), &user, &Default::default()),
            cwd,
            user,
            stdin_pipe: false,
            output: if log.is_some() {
                Output::Pipes
            } else {
                Output::Inherit
            },
        };
        let spawned =
            spawn::spawn(&agent.reaper, spec).map_err(|e| format!("{} : {e}", config.cmd))?;
        let pid = spawned.pid;
        let pipe_err = |e: std::io::Error| format!("cannot set up output pipes: {e}");
        let stdout = spawned
            .stdout
            .map(pump::receiver)
            .transpose()
            .map_err(pipe_err)?;
        let stderr = spawned
            .stderr
            .map(pump::receiver)
            .transpose()
            .map_err(pipe_err)?;
        *agent.main_pid.lock().unwrap_or_else(|e| e.into_inner()) = Some(pid);
        let proc_ = Arc::new(Proc::new(pid, Some("main".into()), config, None));
        if let Some(log) = log {
            tokio::spawn(mainlog::record(proc_.subscribe(), log));
        }
        agent.registry.insert(proc_.clone());
        crate::log!("main process started: pid {pid}");
        let agent = agent.clone();
        tokio::spawn(async move {
            let exit = pump::run(agent.registry.clone(), proc_, stdout, stderr, spawned.exit).await;
            *agent.main_pid.lock().unwrap_or_else(|e| e.into_inner()) = None;
            crate::log!("main process {pid} ended: {exit:?}");
        });
        Ok(())
    })();
    if let Err(e) = result {
        crate::log!("cannot start main process: {e}");
    }
}

/// Forward signals to the main process; resolves when the agent should exit.
async fn forward_signals(agent: Arc<Agent>) {
    let kinds = [
        (SignalKind::terminate(), NixSignal::SIGTERM),
        (SignalKind::interrupt(), NixSignal::SIGINT),
        (SignalKind::hangup(), NixSignal::SIGHUP),
        (SignalKind::user_defined1(), NixSignal::SIGUSR1),
        (SignalKind::user_defined2(), NixSignal::SIGUSR2),
    ];
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (kind, sig) in kinds {
        let Ok(mut s) = signal(kind) else {
            crate::log!("cannot watch {sig}");
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            while s.recv().await.is_some() {
                if tx.send(sig).is_err() {
                    return;
                }
            }
        });
    }
    while let Some(sig) = rx.recv().await {
        let main = *agent.main_pid.lock().unwrap_or_else(|e| e.into_inner());
        match main {
            Some(pid) => {
                crate::log!("forwarding {sig} to main process {pid}");
                let _ = kill(Pid::from_raw(pid as i32), sig);
            }
            None if matches!(sig, NixSignal::SIGTERM | NixSignal::SIGINT) => return,
            None => crate::log!("ignoring {sig}: no main process"),
        }
    }
}
