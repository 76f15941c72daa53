//! `warren-agent`: PID 1 inside every sandbox.
//!
//! It reaps zombies, forwards signals to the sandbox's main process, and serves an
//! envd-compatible HTTP API (Connect-RPC `process.Process` and `filesystem.Filesystem`, plus
//! `/files` and `/health`) on one byte stream to the host. See `init` for startup, `server` for
//! the router, `process` and `fs` for the API, `reaper` for child handling.

mod agent;
mod args;
mod fs;
mod identity;
mod init;
mod mainlog;
mod process;
mod reaper;
mod rpc;
mod server;
mod users;

use std::process::ExitCode;

/// Log a line to stderr (the runtime captures it).
#[macro_export]
macro_rules! log {
    ($($t:tt)*) => { eprintln!("warren-agent: {}", format_args!($($t)*)) };
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.first().is_some_and(|a| a == "--help" || a == "-h") {
        println!("{}", args::USAGE);
        return ExitCode::SUCCESS;
    }
    let args = match args::Args::parse(raw) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("warren-agent: {e}\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &args.stdio
        && let Err(e) = reopen_stdio(path)
    {
        eprintln!(
            "warren-agent: cannot reopen stdio on {}: {e}",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("warren-agent: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(init::run(args))
}

/// Make stdin `/dev/null` and stdout/stderr `path` (appending), opened from inside the sandbox.
/// The runtime hands PID 1 host-side files; descriptors of files outside the sandbox's mount
/// namespace would make a checkpoint (CRIU) fail, so the agent swaps them for its own at once.
fn reopen_stdio(path: &std::path::Path) -> std::io::Result<()> {
    let null = std::fs::File::open("/dev/null")?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    nix::unistd::dup2_stdin(&null)?;
    nix::unistd::dup2_stdout(&log)?;
    nix::unistd::dup2_stderr(&log)?;
    Ok(())
}
