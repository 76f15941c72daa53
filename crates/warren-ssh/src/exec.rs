//! Shells and commands: `ssh sb-…` (a login shell on a terminal), `ssh -t sb-… cmd` (a command
//! on a terminal) and `ssh sb-… cmd` (a command with separate stdin, stdout and stderr, which
//! is what `rsync -e ssh` and `scp -O` need).
//!
//! Both directions are pumped at once: a task reads the channel (keystrokes, stdin, window
//! changes, EOF) and forwards it to the process, while this task forwards the process's output
//! to the channel and, at the end, its exit status.

use std::collections::BTreeMap;

use russh::server::Msg;
use russh::{Channel, ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use tokio::sync::mpsc;
use warren_core::{ExecInput, OpenTerminal, ProcessEvent, TerminalInput};

use crate::session::{Ctx, fail, finish};

/// A command over SSH runs as long as the client stays: the longest timeout core allows.
const EXEC_TIMEOUT_S: u64 = 86_400;

/// What a command without a terminal runs when the client asked for a shell
/// (`ssh sb-… < script`).
const PLAIN_SHELL: &str = "if [ -x /bin/bash ]; then exec /bin/bash; fi; exec /bin/sh";

/// Run a shell or `command` on the channel, on a terminal when `pty` (columns, rows) is set.
pub(crate) async fn start(
    ctx: Ctx,
    channel: Channel<Msg>,
    pty: Option<(u32, u32)>,
    command: Option<String>,
) {
    let (read, write) = channel.split();
    if let Err(e) = ctx.wake().await {
        return fail(&write, &e.chain()).await;
    }
    let events = match pty {
        Some((cols, rows)) => {
            let open = OpenTerminal {
                cmd: command,
                cols,
                rows,
                ..Default::default()
            };
            match ctx.core.open_terminal(&ctx.sandbox, open).await {
                Ok(t) => {
                    tokio::spawn(terminal_input(read, t.input));
                    t.events
                }
                Err(e) => return fail(&write, &e.chain()).await,
            }
        }
        None => {
            let script = command.unwrap_or_else(|| PLAIN_SHELL.to_owned());
            let input = ExecInput {
                cmd: vec!["/bin/sh".into(), "-c".into(), script],
                env: BTreeMap::new(),
                timeout_s: Some(EXEC_TIMEOUT_S),
                ..Default::default()
            };
            match ctx.core.exec_stream(&ctx.sandbox, input, true).await {
                Ok(p) => {
                    tokio::spawn(stdin_input(ctx.clone(), p.pid, read));
                    p.events
                }
                Err(e) => return fail(&write, &e.chain()).await,
            }
        }
    };
    output(&write, events).await;
}

/// Forward the process's output; send its exit status and close.
async fn output(write: &ChannelWriteHalf<Msg>, mut events: mpsc::Receiver<ProcessEvent>) {
    while let Some(event) = events.recv().await {
        let sent = match event {
            ProcessEvent::Stdout(b) => write.data_bytes(b).await,
            ProcessEvent::Stderr(b) => write.extended_data_bytes(1, b).await,
            ProcessEvent::Exited(end) => {
                // A signal (-1) becomes 255, as ssh reports its own failures.
                let code = u32::try_from(end.exit_code).unwrap_or(255);
                return finish(write, code).await;
            }
            ProcessEvent::Failed(e) => return fail(write, &e.chain()).await,
        };
        if sent.is_err() {
            // The client is gone; dropping `events` kills the process.
            return;
        }
    }
}

/// Keystrokes and window changes to the terminal. EOF means nothing to a terminal (the shell
/// reads ^D as a keystroke), so it is ignored.
async fn terminal_input(mut read: ChannelReadHalf, input: TerminalInput) {
    while let Some(msg) = read.wait().await {
        let r = match msg {
            ChannelMsg::Data { data } => input.write(data).await,
            ChannelMsg::WindowChange {
                col_width,
                row_height,
                ..
            } if col_width > 0 && row_height > 0 => input.resize(col_width, row_height).await,
            ChannelMsg::Close => return,
            _ => Ok(()),
        };
        if let Err(e) = r {
            tracing::debug!(error = %e.chain(), "terminal input failed");
            return;
        }
    }
}

/// The client's stdin to the process; EOF closes the process's stdin.
async fn stdin_input(ctx: Ctx, pid: u32, mut read: ChannelReadHalf) {
    while let Some(msg) = read.wait().await {
        let r = match msg {
            ChannelMsg::Data { data } => ctx.core.send_stdin(&ctx.sandbox, pid, data).await,
            ChannelMsg::Eof => {
                let r = ctx.core.close_stdin(&ctx.sandbox, pid).await;
                if let Err(e) = r {
                    tracing::debug!(error = %e.chain(), "closing stdin failed");
                }
                return;
            }
            ChannelMsg::Close => return,
            _ => Ok(()),
        };
        if let Err(e) = r {
            // The process may have exited while input was still coming: not worth more.
            tracing::debug!(error = %e.chain(), "stdin forwarding failed");
            return;
        }
    }
}
