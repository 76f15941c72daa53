//! Live process commands: streaming `exec` (optionally feeding stdin), `ps`, `kill`, `attach`.
//!
//! Output is written to the CLI's own stdout/stderr as each chunk arrives, and the CLI exits
//! with the process's status the way a shell reports it (128+9 for a killed process).

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use warren_api_types::{ExecRequest, ProcessExit, SignalName};
use warren_client::{Client, ProcessEventStream, ProcessStreamEvent};

use crate::cli::Remote;
use crate::{config, output};

/// A shell-style exit status for a process that ended with `exit_code` (-1: killed).
pub fn exit_status(exit_code: i32) -> ExitCode {
    if exit_code < 0 {
        ExitCode::from(137)
    } else {
        ExitCode::from((exit_code & 0xff) as u8)
    }
}

/// Copy a stream's output to stdout/stderr until the process ends; its end.
async fn pump(mut stream: ProcessEventStream) -> anyhow::Result<ProcessExit> {
    while let Some(ev) = stream.next().await {
        match ev? {
            ProcessStreamEvent::Start(_) => {}
            ProcessStreamEvent::Stdout(b) => {
                let mut out = std::io::stdout().lock();
                out.write_all(&b)?;
                out.flush()?;
            }
            ProcessStreamEvent::Stderr(b) => {
                let mut err = std::io::stderr().lock();
                err.write_all(&b)?;
                err.flush()?;
            }
            ProcessStreamEvent::Exit(exit) => {
                if exit.timed_out {
                    eprintln!("warren: command killed after its timeout");
                }
                return Ok(exit);
            }
        }
    }
    anyhow::bail!("the output stream ended before the process did")
}

/// Run `req` and stream its output; with `req.stdin`, forward this process's stdin to it.
pub async fn exec_live(client: &Client, id: &str, req: &ExecRequest) -> anyhow::Result<ExitCode> {
    let mut stream = client.exec_stream(id, req).await?;
    let feeder = if req.stdin {
        let pid = match stream.next().await {
            Some(Ok(ProcessStreamEvent::Start(s))) => s.pid,
            Some(Err(e)) => return Err(e.into()),
            _ => anyhow::bail!("the exec stream did not start with the process id"),
        };
        Some(tokio::spawn(feed_stdin(client.clone(), id.to_owned(), pid)))
    } else {
        None
    };
    let exit = pump(stream).await;
    if let Some(f) = feeder {
        f.abort();
    }
    Ok(exit_status(exit?.exit_code))
}

/// Send everything read from stdin to process `pid`, then close its stdin.
async fn feed_stdin(client: Client, id: String, pid: u32) -> anyhow::Result<()> {
    // Blocking reads on a thread of their own: stdin may be a terminal that never ends.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let r = stdin.read(&mut buf).map(|n| buf[..n].to_vec());
            let end = !matches!(&r, Ok(b) if !b.is_empty());
            if tx.blocking_send(r).is_err() || end {
                return;
            }
        }
    });
    while let Some(chunk) = rx.recv().await {
        let chunk = chunk.context("cannot read stdin")?;
        if chunk.is_empty() {
            break;
        }
        client
            .send_stdin(&id, pid, chunk)
            .await
            .context("cannot forward stdin")?;
    }
    client.close_stdin(&id, pid).await?;
    Ok(())
}

/// `warren sandbox ps ID`.
pub async fn ps(id: &str, remote: &Remote) -> anyhow::Result<ExitCode> {
    let list = config::client(remote)?.list_processes(id).await?;
    if remote.json {
        output::json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = list
        .items
        .iter()
        .map(|p| {
            vec![
                p.pid.to_string(),
                p.tag.clone().unwrap_or_default(),
                p.cmd.join(" "),
            ]
        })
        .collect();
    output::table(&["PID", "TAG", "COMMAND"], &rows);
    Ok(ExitCode::SUCCESS)
}

/// A signal for `warren sandbox kill`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SignalArg {
    /// SIGTERM.
    #[value(name = "TERM")]
    Term,
    /// SIGKILL.
    #[value(name = "KILL")]
    Kill,
}

/// `warren sandbox kill ID PID [--signal TERM|KILL]`.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Sandbox id.
    pub id: String,
    /// Process id (see `warren sandbox ps`).
    pub pid: u32,
    /// Signal to send.
    #[arg(short, long, value_enum, default_value = "TERM", ignore_case = true)]
    pub signal: SignalArg,
    #[command(flatten)]
    pub remote: Remote,
}

/// `warren sandbox kill`.
pub async fn kill(args: KillArgs) -> anyhow::Result<ExitCode> {
    let signal = match args.signal {
        SignalArg::Term => SignalName::Term,
        SignalArg::Kill => SignalName::Kill,
    };
    config::client(&args.remote)?
        .signal_process(&args.id, args.pid, signal)
        .await?;
    Ok(ExitCode::SUCCESS)
}

/// `warren sandbox attach ID PID`: follow a process's output until it ends; Ctrl-C detaches
/// and leaves it running.
pub async fn attach(id: &str, pid: u32, remote: &Remote) -> anyhow::Result<ExitCode> {
    let stream = config::client(remote)?.attach_process(id, pid).await?;
    tokio::select! {
        exit = pump(stream) => Ok(exit_status(exit?.exit_code)),
        _ = tokio::signal::ctrl_c() => {
            eprintln!("warren: detached; process {pid} keeps running");
            Ok(ExitCode::SUCCESS)
        }
    }
}
