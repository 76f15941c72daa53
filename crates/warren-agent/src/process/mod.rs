//! `process.Process`: start processes, stream their events, send them input and signals.
//!
//! Flow of `Start`: resolve user, cwd and environment → fork/exec under the reaper's lock
//! ([`spawn`]) → register a [`registry::Proc`] and subscribe the caller → run the output
//! [`pump`] as its own task (so the process outlives the HTTP stream) → the caller's stream
//! carries `start`, `data`..., `end`.

pub mod pty;
pub mod pump;
pub mod registry;
pub mod spawn;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal as NixSignal, kill};
use nix::unistd::Pid;
use tokio::sync::mpsc;
use warren_agent_proto::{
    ConnectCode, ConnectError, ConnectRequest, ListResponse, ProcessConfig, ProcessEvent,
    ProcessInput, ProcessSelector, PtySize, SendInputRequest, SendSignalRequest, Signal,
    StartRequest, UpdateRequest,
};

use crate::agent::{Agent, build_env};
use crate::fs::path;
use registry::Proc;
use spawn::{Output, SpawnSpec};

fn err(code: ConnectCode, msg: impl Into<String>) -> ConnectError {
    ConnectError::new(code, msg)
}

/// `Start`: run a process; the receiver yields its events, ending with `end`.
pub async fn start(
    agent: &Arc<Agent>,
    user: Option<&str>,
    req: StartRequest,
    timeout: Option<Duration>,
) -> Result<mpsc::Receiver<ProcessEvent>, ConnectError> {
    let config = req.process.unwrap_or_default();
    if config.cmd.is_empty() {
        return Err(err(ConnectCode::InvalidArgument, "process.cmd is empty"));
    }
    let user = agent.user(user)?;
    let cwd_spec = match config.cwd.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None => agent.workdir.clone().unwrap_or_else(|| user.home.clone()),
    };
    let cwd = path::resolve(&cwd_spec, &user.home)
        .map_err(|e| err(ConnectCode::InvalidArgument, format!("bad cwd: {e}")))?;
    if !cwd.is_dir() {
        return Err(err(
            ConnectCode::InvalidArgument,
            format!(
                "cwd '{}' does not exist or is not a directory",
                cwd.display()
            ),
        ));
    }
    let mut env = build_env(&agent.base_env(), &user, &config.envs);
    if let Some(p) = req.pty {
        // A terminal gets a TERM unless the caller chose one.
        if !config.envs.contains_key("TERM") {
            env.retain(|(k, _)| k != "TERM");
            env.push(("TERM".into(), "xterm-256color".into()));
        }
        let spec = SpawnSpec {
            cmd: config.cmd.clone(),
            args: config.args.clone(),
            env,
            cwd,
            user,
            stdin_pipe: false,
            output: Output::Pipes,
        };
        return start_pty(
            agent,
            spec,
            config,
            req.tag,
            p.size.unwrap_or(pty::DEFAULT_SIZE),
            timeout,
        );
    }
    let stdin_pipe = req.stdin.unwrap_or(true);
    let spec = SpawnSpec {
        cmd: config.cmd.clone(),
        args: config.args.clone(),
        env,
        cwd,
        user,
        stdin_pipe,
        output: Output::Pipes,
    };
    let spawned = spawn::spawn(&agent.reaper, spec).map_err(|e| start_error(&config, &e))?;
    let fd_err =
        |e: std::io::Error| err(ConnectCode::Internal, format!("cannot set up pipes: {e}"));
    let stdin = match spawned.stdin {
        Some(s) => Some(tokio::net::unix::pipe::Sender::from_owned_fd(s.into()).map_err(fd_err)?),
        None => None,
    };
    let stdout = spawned
        .stdout
        .map(pump::receiver)
        .transpose()
        .map_err(fd_err)?;
    let stderr = spawned
        .stderr
        .map(pump::receiver)
        .transpose()
        .map_err(fd_err)?;
    let proc_ = Arc::new(Proc::new(spawned.pid, req.tag, config, stdin));
    let events = proc_.subscribe();
    agent.registry.insert(proc_.clone());
    if let Some(t) = timeout {
        kill_at_timeout(agent, &proc_, t);
    }
    let registry = agent.registry.clone();
    tokio::spawn(pump::run(registry, proc_, stdout, stderr, spawned.exit));
    Ok(events)
}

/// When `t` has passed and `proc_` still runs, SIGKILL it and the processes it started: a
/// timed-out `sh -c "sleep 700"` must not leave its `sleep` behind.
fn kill_at_timeout(agent: &Arc<Agent>, proc_: &Arc<Proc>, t: Duration) {
    let (registry, p) = (agent.registry.clone(), proc_.clone());
    tokio::spawn(async move {
        tokio::time::sleep(t).await;
        if registry.contains(&p) {
            let _ = signal_process(&p, NixSignal::SIGKILL);
        }
    });
}

/// `Start` with `pty`: the process runs on a new terminal of `size`.
fn start_pty(
    agent: &Arc<Agent>,
    mut spec: SpawnSpec,
    config: ProcessConfig,
    tag: Option<String>,
    size: PtySize,
    timeout: Option<Duration>,
) -> Result<mpsc::Receiver<ProcessEvent>, ConnectError> {
    let (master, slave) = pty::Master::open(size)
        .map_err(|e| err(ConnectCode::Internal, format!("cannot open a PTY: {e}")))?;
    spec.output = Output::Pty(slave);
    let spawned = spawn::spawn(&agent.reaper, spec).map_err(|e| start_error(&config, &e))?;
    let master = Arc::new(master);
    let proc_ = Arc::new(Proc::new(spawned.pid, tag, config, None).with_pty(master.clone()));
    let events = proc_.subscribe();
    agent.registry.insert(proc_.clone());
    if let Some(t) = timeout {
        kill_at_timeout(agent, &proc_, t);
    }
    let registry = agent.registry.clone();
    tokio::spawn(pty::run(registry, proc_, master, spawned.exit));
    Ok(events)
}

/// A clear message for a failed fork/exec (envd answers `invalid_argument`).
fn start_error(config: &ProcessConfig, e: &std::io::Error) -> ConnectError {
    let what = std::iter::once(config.cmd.as_str())
        .chain(config.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let why = match e.kind() {
        std::io::ErrorKind::NotFound if !config.cmd.contains('/') => {
            format!("executable '{}' not found in PATH", config.cmd)
        }
        std::io::ErrorKind::NotFound => format!("'{}' does not exist", config.cmd),
        _ => e.to_string(),
    };
    err(
        ConnectCode::InvalidArgument,
        format!("error starting process '{what}': {why}"),
    )
}

/// `Connect`: events of a running process from now on.
pub fn connect(
    agent: &Agent,
    req: ConnectRequest,
) -> Result<mpsc::Receiver<ProcessEvent>, ConnectError> {
    Ok(find(agent, &req.process)?.subscribe())
}

/// `List`.
pub fn list(agent: &Agent) -> ListResponse {
    ListResponse {
        processes: agent.registry.list(),
    }
}

fn find(agent: &Agent, sel: &ProcessSelector) -> Result<Arc<Proc>, ConnectError> {
    agent.registry.get(sel).ok_or_else(|| {
        err(
            ConnectCode::NotFound,
            format!("process with {sel} not found"),
        )
    })
}

/// `SendSignal`.
pub fn send_signal(agent: &Agent, req: SendSignalRequest) -> Result<(), ConnectError> {
    let sig = match req.signal {
        Signal::Sigterm => NixSignal::SIGTERM,
        Signal::Sigkill => NixSignal::SIGKILL,
        Signal::Unspecified => {
            return Err(err(ConnectCode::InvalidArgument, "signal is unspecified"));
        }
    };
    let p = find(agent, &req.process)?;
    signal_process(&p, sig).map_err(|e| {
        err(
            ConnectCode::Internal,
            format!("cannot signal process {}: {e}", p.pid),
        )
    })
}

/// Signal process `p` and the processes it started, as a shell's job control signals a whole
/// job: a killed `sh -c "a | b"` takes `a` and `b` with it rather than leaving them running (a
/// stray child also outlives the command's timeout). A process on a PTY leads a process group
/// of its own, which is signalled; any other process shares the agent's group, so its
/// descendants are found through `/proc` instead. Processes it started that have already been
/// orphaned (`cmd &` in a shell that exited) belong to nobody and are left alone.
fn signal_process(p: &Proc, sig: NixSignal) -> nix::Result<()> {
    let pid = p.pid as i32;
    if p.pty().is_some() {
        return kill(Pid::from_raw(-pid), sig).or_else(|_| kill(Pid::from_raw(pid), sig));
    }
    // The tree first: once `p` is dead its children are re-parented to the agent and no
    // longer look like its own.
    let tree = descendants(p.pid);
    let result = kill(Pid::from_raw(pid), sig);
    for child in tree {
        let _ = kill(Pid::from_raw(child as i32), sig);
    }
    result
}

/// Every live descendant of `pid`, from the parent links in `/proc/<pid>/stat`.
fn descendants(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = dir
        .flatten()
        .filter_map(|e| {
            let child: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            Some((child, parent_in_stat(&stat)?))
        })
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(child, _) in parents.iter().filter(|(_, pp)| *pp == parent) {
            if !found.contains(&child) {
                found.push(child);
                frontier.push(child);
            }
        }
    }
    found
}

/// The parent pid in a `/proc/<pid>/stat` line: the second field after the command name, which
/// is in parentheses and may itself hold spaces and parentheses.
fn parent_in_stat(stat: &str) -> Option<u32> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(1)?.parse().ok()
}

/// `SendInput`.
pub async fn send_input(agent: &Agent, req: SendInputRequest) -> Result<(), ConnectError> {
    let p = find(agent, &req.process)?;
    match req.input {
        ProcessInput::Stdin(data) => p
            .write_stdin(&data)
            .await
            .map_err(|e| err(ConnectCode::FailedPrecondition, error_chain(&e))),
        ProcessInput::Pty(data) => match p.pty() {
            Some(m) => m.write_all(&data).await.map_err(|e| {
                err(
                    ConnectCode::FailedPrecondition,
                    format!("cannot write to the PTY of process {}: {e}", p.pid),
                )
            }),
            None => Err(err(
                ConnectCode::FailedPrecondition,
                format!("process {} has no PTY; send stdin instead", p.pid),
            )),
        },
    }
}

/// `Update`: resize the process's PTY.
pub fn update(agent: &Agent, req: UpdateRequest) -> Result<(), ConnectError> {
    let p = find(agent, &req.process)?;
    let Some(size) = req.pty.and_then(|p| p.size) else {
        return Ok(()); // nothing to change, as in envd
    };
    let master = p.pty().ok_or_else(|| {
        err(
            ConnectCode::FailedPrecondition,
            format!("process {} has no PTY to resize", p.pid),
        )
    })?;
    master
        .resize(size)
        .map_err(|e| err(ConnectCode::Internal, format!("cannot resize the PTY: {e}")))
}

/// `CloseStdin`.
pub async fn close_stdin(agent: &Agent, sel: &ProcessSelector) -> Result<(), ConnectError> {
    find(agent, sel)?.close_stdin().await;
    Ok(())
}

/// An error with its causes, for messages.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_pid_is_read_past_a_command_name_with_spaces_and_parentheses() {
        assert_eq!(parent_in_stat("42 (sleep) S 7 42 42 0 -1"), Some(7));
        assert_eq!(parent_in_stat("42 (a) b) (c) R 1 42 42 0 -1"), Some(1));
        assert_eq!(parent_in_stat("42 (sleep"), None);
    }

    #[test]
    fn descendants_are_found_through_proc() {
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30 & wait"])
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        let mut found = Vec::new();
        while found.len() < 2 && started.elapsed() < Duration::from_secs(5) {
            found = descendants(sh.id());
            std::thread::sleep(Duration::from_millis(10));
        }
        for pid in &found {
            let _ = kill(Pid::from_raw(*pid as i32), NixSignal::SIGKILL);
        }
        let _ = sh.kill();
        let _ = sh.wait();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(descendants(u32::MAX).is_empty());
    }
}
