//! Interactive terminals: a process on a PTY inside the sandbox, its output as a stream, and a
//! handle to type into it and resize it.
//!
//! The front door (a WebSocket) opens the terminal with [`Core::open_terminal`], which starts
//! the process on a new PTY and waits for it to run, then reads [`Terminal::events`] (terminal
//! output arrives as [`ProcessEvent::Stdout`]) and calls [`TerminalInput`] for keystrokes and
//! resizes. The terminal belongs to its connection: dropping the events receiver kills it.

use bytes::Bytes;
use tokio::sync::mpsc;
use warren_agent_proto::{
    ProcessConfig, ProcessInput, ProcessSelector, Pty, PtySize, SendInputRequest, StartRequest,
    UpdateRequest,
};
use warren_runtime::AgentClient;

use crate::process::{CHANNEL, Forward, ProcessEvent, first_pid};
use crate::{Core, CoreError, ErrorKind, validate};

/// Largest number of columns or rows.
const MAX_DIMENSION: u32 = 10_000;

/// The login shell: bash when the image has it, else sh.
const DEFAULT_SHELL: &str = "if [ -x /bin/bash ]; then exec /bin/bash -l; fi; exec /bin/sh -l";

/// What to run on a terminal.
#[derive(Debug, Clone, Default)]
pub struct OpenTerminal {
    /// Command line, run by `/bin/sh -c`; `None` starts a login shell.
    pub cmd: Option<String>,
    /// User (name or uid).
    pub user: Option<String>,
    /// Working directory.
    pub cwd: Option<String>,
    /// Columns.
    pub cols: u32,
    /// Rows.
    pub rows: u32,
}

/// A running terminal.
#[derive(Debug)]
pub struct Terminal {
    /// Its pid in the sandbox.
    pub pid: u32,
    /// Output (`Stdout`) then `Exited` or `Failed`.
    pub events: mpsc::Receiver<ProcessEvent>,
    /// Keystrokes and resizes.
    pub input: TerminalInput,
}

/// Sends input to a terminal. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TerminalInput {
    id: String,
    pid: u32,
    agent: AgentClient,
}

fn dimension(field: &'static str, v: u32) -> Result<u32, CoreError> {
    if (1..=MAX_DIMENSION).contains(&v) {
        Ok(v)
    } else {
        Err(CoreError::invalid(
            field,
            format!("{v} is outside 1..={MAX_DIMENSION}"),
        ))
    }
}

impl TerminalInput {
    fn refused(&self, e: warren_runtime::AgentError) -> CoreError {
        CoreError::from_agent(
            &self.id,
            &format!("terminal {}", self.pid),
            e,
            ErrorKind::ProcessNotFound,
        )
    }

    /// Type `data` into the terminal.
    pub async fn write(&self, data: Bytes) -> Result<(), CoreError> {
        let req = SendInputRequest {
            process: ProcessSelector::Pid(self.pid),
            input: ProcessInput::Pty(data),
        };
        self.agent
            .send_input(req)
            .await
            .map_err(|e| self.refused(e))
    }

    /// Resize the terminal (the process gets SIGWINCH).
    pub async fn resize(&self, cols: u32, rows: u32) -> Result<(), CoreError> {
        let size = PtySize {
            cols: dimension("cols", cols)?,
            rows: dimension("rows", rows)?,
        };
        let req = UpdateRequest {
            process: ProcessSelector::Pid(self.pid),
            pty: Some(Pty { size: Some(size) }),
        };
        self.agent.update(req).await.map_err(|e| self.refused(e))
    }
}

impl Core {
    /// Start `input` on a new terminal in sandbox `id`.
    pub async fn open_terminal(
        &self,
        id: &str,
        input: OpenTerminal,
    ) -> Result<Terminal, CoreError> {
        let size = PtySize {
            cols: dimension("cols", input.cols)?,
            rows: dimension("rows", input.rows)?,
        };
        let script = input.cmd.unwrap_or_else(|| DEFAULT_SHELL.to_owned());
        validate::command("cmd", std::slice::from_ref(&script))?;
        if let Some(cwd) = &input.cwd {
            validate::sandbox_path("cwd", cwd)?;
        }
        if let Some(user) = &input.user {
            validate::user("user", user)?;
        }
        self.running_sandbox(id, "open a terminal in").await?;
        let agent = self.agent(id).await?;
        let request = StartRequest {
            process: Some(ProcessConfig {
                cmd: "/bin/sh".into(),
                args: vec!["-c".into(), script],
                envs: Default::default(),
                cwd: input.cwd,
            }),
            pty: Some(Pty { size: Some(size) }),
            tag: None,
            stdin: Some(false),
        };
        let refused = |e| CoreError::from_agent(id, "/bin/sh", e, ErrorKind::InvalidInput);
        let mut stream = agent
            .start_as(request, input.user.as_deref())
            .await
            .map_err(refused)?;
        let pid = first_pid(id, &mut stream, refused).await?;
        let (tx, events) = mpsc::channel(CHANNEL);
        let fwd = Forward {
            id: id.to_owned(),
            agent: agent.clone(),
            pid,
            timeout: None,
            kill_on_detach: true,
        };
        tokio::spawn(fwd.run(stream, tx));
        Ok(Terminal {
            pid,
            events,
            input: TerminalInput {
                id: id.to_owned(),
                pid,
                agent,
            },
        })
    }
}
