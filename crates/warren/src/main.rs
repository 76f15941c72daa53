//! `warren`: the CLI, the daemon (`warren serve`) and the host doctor.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod config;
mod exit;
mod output;
mod serve;
mod tls;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("warren: cannot start the async runtime: {e}");
            return ExitCode::from(exit::SERVER);
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("warren: {err:#}");
            ExitCode::from(exit::code_for(&err))
        }
    }
}

async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => serve::run(args).await,
        Command::Sandbox(cmd) => commands::sandbox::run(cmd).await,
        Command::Snapshot(cmd) => commands::snapshot::run(cmd).await,
        Command::Image(cmd) => commands::image::run(cmd).await,
        Command::Keys(cmd) => commands::keys::run(cmd).await,
        Command::SshKey(cmd) => commands::ssh_key::run(cmd).await,
        Command::Events(args) => commands::events::run(args).await,
        Command::Cp(args) => commands::cp::run(args).await,
        Command::Fs(cmd) => commands::fs::run(cmd).await,
        Command::Mcp(args) => commands::mcp::run(args).await,
        Command::Doctor { json } => commands::doctor::run(json),
    }
}

/// Logs go to stderr; `WARREN_LOG` (or `RUST_LOG`) filters them, default `info` for the daemon's crates.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("WARREN_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "warn,warren=info,warren_core=info,warren_server=info,warren_runtime=info,warren_images=info".to_owned());
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .init();
}
