//! Talking to an agent directly, bypassing the daemon: the baseline of every daemon figure.
//!
//! - [`connect`]: one HTTP/2 connection to a live sandbox's agent on its socket
//!   (`<state>/sandboxes/<id>/disk/run/agent.sock`), the same kind of connection the daemon holds;
//! - [`HostAgent`]: the same static agent binary as a plain host process on a temp socket (no
//!   namespaces, seccomp or cgroup): what the sandbox itself adds to spawning a command. (This
//!   was the ignored `bench_exec_round_trip` test of `crates/warren-agent/tests/agent.rs`.) It
//!   runs the same static busybox `true` as the sandbox, from the image's layer on the host;
//! - [`start_request`] builds `process.Process/Start` the way warren-core's exec does (program,
//!   arguments, no stdin), and [`exec_ok`] runs a command to its end event.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use warren_agent_proto::{AgentClient, ProcessConfig, ProcessEvent, StartRequest};

/// One connection to the agent of sandbox `id` of the daemon whose state dir is `state`.
pub async fn connect(state: &Path, id: &str) -> anyhow::Result<AgentClient> {
    let sock = state.join("sandboxes").join(id).join("disk/run/agent.sock");
    let client = AgentClient::connect_unix(&sock)
        .await
        .with_context(|| format!("connect to {}", sock.display()))?;
    client.health().await?;
    Ok(client)
}

/// `process.Process/Start` of `cmd`, shaped like warren-core's exec request.
pub fn start_request(cmd: &[&str]) -> StartRequest {
    StartRequest {
        process: Some(ProcessConfig {
            cmd: cmd[0].to_owned(),
            args: cmd[1..].iter().map(|&a| a.to_owned()).collect(),
            ..Default::default()
        }),
        stdin: Some(false),
        ..Default::default()
    }
}

/// `cmd` through the agent, to its end event; an error unless it exits 0.
pub async fn exec_ok(agent: &AgentClient, cmd: &[&str]) -> anyhow::Result<()> {
    let mut events = agent.start(start_request(cmd)).await?;
    while let Some(ev) = events.next().await {
        if let ProcessEvent::End(end) = ev? {
            if end.exit_code != 0 || !end.exited {
                bail!("{cmd:?} ended with {end:?}");
            }
            return Ok(());
        }
    }
    bail!("the agent's stream ended without an end event")
}

/// The static agent as a host process (not PID 1, no sandbox), killed on drop.
pub struct HostAgent {
    child: Child,
    pub client: AgentClient,
    _dir: tempfile::TempDir,
}

impl HostAgent {
    pub async fn start(agent_bin: &Path) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let sock = dir.path().join("agent.sock");
        let mut cmd = Command::new(agent_bin);
        cmd.arg("--listen")
            .arg(format!("unix:{}", sock.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe and the closure touches nothing else. The agent
        // dies with this process (spawned from the main thread, which lives until exit).
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().context("spawn the agent on the host")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let client = loop {
            if let Ok(c) = AgentClient::connect_unix(&sock).await
                && c.health().await.is_ok()
            {
                break c;
            }
            if Instant::now() > deadline {
                let mut child = child;
                let _ = child.kill();
                let _ = child.wait();
                bail!("the host agent did not come up on {}", sock.display());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        Ok(Self {
            child,
            client,
            _dir: dir,
        })
    }
}

impl Drop for HostAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
