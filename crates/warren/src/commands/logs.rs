//! `warren sandbox logs`: the main process's output, optionally followed.

use std::process::ExitCode;

use clap::Args;
use futures_util::StreamExt;
use std::io::Write;

use crate::cli::Remote;
use crate::config;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Sandbox id.
    pub id: String,
    /// Keep printing new output until interrupted or the sandbox is deleted.
    #[arg(short, long)]
    pub follow: bool,
    /// Start this many lines from the end (default: everything retained).
    #[arg(short = 'n', long, value_name = "LINES")]
    pub tail: Option<u64>,
    #[command(flatten)]
    pub remote: Remote,
}

pub async fn run(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let client = config::client(&args.remote)?;
    let mut chunks = client
        .sandbox_logs(&args.id, args.tail, args.follow)
        .await?;
    let mut out = std::io::stdout().lock();
    while let Some(chunk) = chunks.next().await {
        out.write_all(&chunk?)?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
