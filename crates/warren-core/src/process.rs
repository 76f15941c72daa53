//! Processes as streams: a streaming exec, background processes, re-attaching to their
//! output, their stdin and signals.
//!
//! Every stream here starts the same way: the agent call is made and its first event (`start`
//! with the pid, or the agent's refusal) is read *before* returning, so a missing program or an
//! unknown pid is an ordinary error the front door answers with a status code. After that a
//! task forwards the agent's events into a channel the front door reads ([`ProcessEvents`]).
//! A streaming exec is foreground work: its timeout kills it, and so does the caller going
//! away. A background process outlives every stream; attaching and detaching only subscribe to
//! and forget its output.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;
use warren_agent_proto::{
    CloseStdinRequest, DataEvent, ProcessConfig, ProcessEvent as AgentEvent, ProcessInput,
    ProcessSelector, ProcessStream, SendInputRequest, SendSignalRequest, Signal, StartRequest,
};
use warren_runtime::AgentClient;

use crate::exec::{ExecInput, KILL_GRACE, validate_exec};
use crate::{Core, CoreError, ErrorKind};

/// Events buffered between the agent and a slow reader before the agent is made to wait.
pub(crate) const CHANNEL: usize = 64;

/// One event of a process stream, in order: `Output`..., then `Exited` (or `Failed`).
#[derive(Debug)]
pub enum ProcessEvent {
    /// Bytes the process wrote to stdout (or its terminal).
    Stdout(Bytes),
    /// Bytes the process wrote to stderr.
    Stderr(Bytes),
    /// The process ended; the last event.
    Exited(ProcessEnd),
    /// The agent failed mid-stream; the last event.
    Failed(CoreError),
}

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessEnd {
    /// Exit status; -1 when a signal ended it.
    pub exit_code: i32,
    /// Killed by warren because its timeout passed.
    pub timed_out: bool,
    /// `"exit status 3"`, `"signal: killed"`.
    pub status: String,
    /// Time from the start of this stream to the end.
    pub duration: Duration,
}

/// A process's events from the moment the stream was opened.
#[derive(Debug)]
pub struct ProcessEvents {
    /// The process id inside the sandbox.
    pub pid: u32,
    /// The events; the channel closes after `Exited` or `Failed`.
    pub events: mpsc::Receiver<ProcessEvent>,
}

/// A background process to start.
#[derive(Debug, Clone, Default)]
pub struct StartProcess {
    /// Command, environment, cwd, user; `timeout_s` absent means no timeout.
    pub exec: ExecInput,
    /// Keep stdin open for [`Core::send_stdin`].
    pub stdin: bool,
    /// A tag to recognise it by.
    pub tag: Option<String>,
}

/// A process running in a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningProcess {
    /// Its pid.
    pub pid: u32,
    /// Its tag.
    pub tag: Option<String>,
    /// Program and arguments.
    pub cmd: Vec<String>,
    /// The working directory it was given.
    pub cwd: Option<String>,
}

/// The signals a caller can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessSignal {
    /// SIGTERM.
    Term,
    /// SIGKILL.
    Kill,
}

fn start_request(input: ExecInput, stdin: bool, tag: Option<String>) -> StartRequest {
    let mut cmd = input.cmd.into_iter();
    StartRequest {
        process: Some(ProcessConfig {
            cmd: cmd.next().unwrap_or_default(),
            args: cmd.collect(),
            envs: input.env,
            cwd: input.cwd,
        }),
        pty: None,
        tag,
        stdin: Some(stdin),
    }
}

fn closed(id: &str) -> CoreError {
    CoreError::Agent {
        id: id.to_owned(),
        source: Box::new(warren_runtime::AgentError::Closed),
    }
}

/// Read the first event, which must be `start`; the agent's refusal becomes the error.
pub(crate) async fn first_pid(
    id: &str,
    stream: &mut ProcessStream,
    refused: impl Fn(warren_runtime::AgentError) -> CoreError,
) -> Result<u32, CoreError> {
    loop {
        match stream.next().await {
            Some(Ok(AgentEvent::Start(s))) => return Ok(s.pid),
            Some(Ok(AgentEvent::Keepalive(_))) => {}
            Some(Ok(other)) => {
                return Err(CoreError::Agent {
                    id: id.to_owned(),
                    source: Box::new(warren_runtime::AgentError::Protocol {
                        detail: format!("expected a start event, got {other:?}"),
                    }),
                });
            }
            Some(Err(e)) => return Err(refused(e)),
            None => return Err(closed(id)),
        }
    }
}

async fn kill(agent: &AgentClient, id: &str, pid: u32) {
    let req = SendSignalRequest {
        process: ProcessSelector::Pid(pid),
        signal: Signal::Sigkill,
    };
    if let Err(e) = agent.send_signal(req).await {
        tracing::debug!(sandbox = %id, pid, error = %e, "cannot kill process");
    }
}

/// How a forwarding task treats its process.
pub(crate) struct Forward {
    pub(crate) id: String,
    pub(crate) agent: AgentClient,
    pub(crate) pid: u32,
    /// Kill after this long (foreground exec).
    pub(crate) timeout: Option<Duration>,
    /// Kill when the reader goes away (foreground exec, terminals).
    pub(crate) kill_on_detach: bool,
}

impl Forward {
    pub(crate) async fn run(self, mut stream: ProcessStream, tx: mpsc::Sender<ProcessEvent>) {
        let started = Instant::now();
        let far = tokio::time::Instant::now() + Duration::from_secs(100 * 365 * 86_400);
        let mut deadline = self
            .timeout
            .map_or(far, |t| tokio::time::Instant::now() + t);
        let mut timed_out = false;
        loop {
            let event = tokio::select! {
                e = tokio::time::timeout_at(deadline, stream.next()) => e,
                () = tx.closed() => {
                    if self.kill_on_detach {
                        kill(&self.agent, &self.id, self.pid).await;
                    }
                    return;
                }
            };
            let out = match event {
                // A terminal has one output stream; it goes where stdout goes.
                Ok(Some(Ok(AgentEvent::Data(DataEvent::Stdout(b) | DataEvent::Pty(b))))) => {
                    ProcessEvent::Stdout(b)
                }
                Ok(Some(Ok(AgentEvent::Data(DataEvent::Stderr(b))))) => ProcessEvent::Stderr(b),
                Ok(Some(Ok(AgentEvent::End(end)))) => {
                    let end = ProcessEnd {
                        exit_code: if end.exited { end.exit_code } else { -1 },
                        timed_out,
                        status: end.status,
                        duration: started.elapsed(),
                    };
                    let _ = tx.send(ProcessEvent::Exited(end)).await;
                    return;
                }
                Ok(Some(Ok(AgentEvent::Start(_) | AgentEvent::Keepalive(_)))) => continue,
                Ok(Some(Err(e))) => {
                    let err = CoreError::Agent {
                        id: self.id.clone(),
                        source: Box::new(e),
                    };
                    let _ = tx.send(ProcessEvent::Failed(err)).await;
                    return;
                }
                Ok(None) => {
                    let _ = tx.send(ProcessEvent::Failed(closed(&self.id))).await;
                    return;
                }
                Err(_elapsed) if !timed_out => {
                    timed_out = true;
                    kill(&self.agent, &self.id, self.pid).await;
                    deadline = tokio::time::Instant::now() + KILL_GRACE;
                    continue;
                }
                Err(_elapsed) => {
                    let end = ProcessEnd {
                        exit_code: -1,
                        timed_out,
                        status: "signal: killed".into(),
                        duration: started.elapsed(),
                    };
                    let _ = tx.send(ProcessEvent::Exited(end)).await;
                    return;
                }
            };
            if tx.send(out).await.is_err() && self.kill_on_detach {
                kill(&self.agent, &self.id, self.pid).await;
                return;
            }
        }
    }
}

fn process_error(id: &str, pid: u32) -> impl Fn(warren_runtime::AgentError) -> CoreError {
    let id = id.to_owned();
    move |e| {
        CoreError::from_agent(
            &id,
            &format!("process {pid}"),
            e,
            ErrorKind::ProcessNotFound,
        )
    }
}

impl Core {
    /// Run `input` in sandbox `id` and stream its output as it comes; with `stdin` its stdin
    /// stays open for [`Core::send_stdin`]. The command is killed when its timeout passes or
    /// when the returned receiver is dropped.
    pub async fn exec_stream(
        &self,
        id: &str,
        input: ExecInput,
        stdin: bool,
    ) -> Result<ProcessEvents, CoreError> {
        let timeout = validate_exec(&input)?;
        self.running_sandbox(id, "exec in").await?;
        let agent = self.agent(id).await?;
        let program = input.cmd[0].clone();
        let refused = |e| CoreError::from_agent(id, &program, e, ErrorKind::InvalidInput);
        let user = input.user.clone();
        let mut stream = agent
            .start_as(start_request(input, stdin, None), user.as_deref())
            .await
            .map_err(refused)?;
        let pid = first_pid(id, &mut stream, refused).await?;
        let (tx, events) = mpsc::channel(CHANNEL);
        let fwd = Forward {
            id: id.to_owned(),
            agent,
            pid,
            timeout: Some(timeout),
            kill_on_detach: true,
        };
        tokio::spawn(fwd.run(stream, tx));
        Ok(ProcessEvents { pid, events })
    }

    /// Start a process in the background and return once it runs.
    pub async fn start_process(
        &self,
        id: &str,
        input: StartProcess,
    ) -> Result<RunningProcess, CoreError> {
        validate_exec(&input.exec)?;
        if let Some(tag) = &input.tag
            && (tag.is_empty() || tag.len() > 256 || tag.chars().any(char::is_control))
        {
            return Err(CoreError::invalid(
                "tag",
                "must be 1 to 256 characters without control characters",
            ));
        }
        self.running_sandbox(id, "start a process in").await?;
        let agent = self.agent(id).await?;
        let exec = input.exec;
        let program = exec.cmd[0].clone();
        let refused = |e| CoreError::from_agent(id, &program, e, ErrorKind::InvalidInput);
        let info = RunningProcess {
            pid: 0,
            tag: input.tag.clone(),
            cmd: exec.cmd.clone(),
            cwd: exec.cwd.clone(),
        };
        let timeout = exec.timeout_s.map(Duration::from_secs);
        let user = exec.user.clone();
        let mut stream = agent
            .start_as(start_request(exec, input.stdin, input.tag), user.as_deref())
            .await
            .map_err(refused)?;
        let pid = first_pid(id, &mut stream, refused).await?;
        // Nobody listens until someone attaches: the agent drops the output meanwhile.
        drop(stream);
        if let Some(t) = timeout {
            let (agent, id) = (agent.clone(), id.to_owned());
            tokio::spawn(async move {
                tokio::time::sleep(t).await;
                kill(&agent, &id, pid).await;
            });
        }
        Ok(RunningProcess { pid, ..info })
    }

    /// The processes started through warren (and the sandbox's main process) that still run.
    pub async fn list_processes(&self, id: &str) -> Result<Vec<RunningProcess>, CoreError> {
        self.running_sandbox(id, "list processes of").await?;
        let agent = self.agent(id).await?;
        let list = agent.list().await.map_err(|source| CoreError::Agent {
            id: id.to_owned(),
            source: Box::new(source),
        })?;
        let mut out: Vec<RunningProcess> = list
            .processes
            .into_iter()
            .map(|p| {
                let config = p.config.unwrap_or_default();
                let mut cmd = vec![config.cmd];
                cmd.extend(config.args);
                RunningProcess {
                    pid: p.pid,
                    tag: p.tag,
                    cmd,
                    cwd: config.cwd,
                }
            })
            .collect();
        out.sort_by_key(|p| p.pid);
        Ok(out)
    }

    /// Attach to process `pid`'s output from now on, until it ends. Dropping the receiver
    /// detaches; the process keeps running.
    pub async fn process_events(&self, id: &str, pid: u32) -> Result<ProcessEvents, CoreError> {
        self.running_sandbox(id, "attach to a process of").await?;
        let agent = self.agent(id).await?;
        let refused = process_error(id, pid);
        let mut stream = agent
            .connect(ProcessSelector::Pid(pid))
            .await
            .map_err(&refused)?;
        let pid = first_pid(id, &mut stream, &refused).await?;
        let (tx, events) = mpsc::channel(CHANNEL);
        let fwd = Forward {
            id: id.to_owned(),
            agent,
            pid,
            timeout: None,
            kill_on_detach: false,
        };
        tokio::spawn(fwd.run(stream, tx));
        Ok(ProcessEvents { pid, events })
    }

    /// Write `data` to the stdin of process `pid`.
    pub async fn send_stdin(&self, id: &str, pid: u32, data: Bytes) -> Result<(), CoreError> {
        self.running_sandbox(id, "write to a process of").await?;
        let req = SendInputRequest {
            process: ProcessSelector::Pid(pid),
            input: ProcessInput::Stdin(data),
        };
        self.agent(id)
            .await?
            .send_input(req)
            .await
            .map_err(process_error(id, pid))
    }

    /// Close the stdin of process `pid` (it reads end-of-file).
    pub async fn close_stdin(&self, id: &str, pid: u32) -> Result<(), CoreError> {
        self.running_sandbox(id, "write to a process of").await?;
        let req = CloseStdinRequest {
            process: ProcessSelector::Pid(pid),
        };
        self.agent(id)
            .await?
            .close_stdin(req)
            .await
            .map_err(process_error(id, pid))
    }

    /// Send `signal` to process `pid`.
    pub async fn signal_process(
        &self,
        id: &str,
        pid: u32,
        signal: ProcessSignal,
    ) -> Result<(), CoreError> {
        self.running_sandbox(id, "signal a process of").await?;
        let req = SendSignalRequest {
            process: ProcessSelector::Pid(pid),
            signal: match signal {
                ProcessSignal::Term => Signal::Sigterm,
                ProcessSignal::Kill => Signal::Sigkill,
            },
        };
        self.agent(id)
            .await?
            .send_signal(req)
            .await
            .map_err(process_error(id, pid))
    }
}
