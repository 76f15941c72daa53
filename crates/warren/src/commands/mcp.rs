//! `warren mcp`: warren's MCP server over stdio, for desktop agents (Claude Desktop, IDEs)
//! that spawn it. It reaches the daemon like every other command (`--url`/`WARREN_URL`,
//! `--api-key`/`WARREN_API_KEY`, else the config file `warren serve` wrote).

use std::process::ExitCode;

use clap::Args;

use crate::cli::Remote;
use crate::config;

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub remote: Remote,
}

/// Serve the tools on stdin/stdout until the client disconnects. Stdout carries only MCP
/// messages; logs go to stderr, which MCP clients show as the server's log.
pub async fn run(args: McpArgs) -> anyhow::Result<ExitCode> {
    let client = config::client(&args.remote)?;
    // Not fatal: the daemon may start later, and each tool call then says what is wrong.
    if let Err(e) = client.health().await {
        tracing::warn!(
            url = client.base_url(),
            error = %e,
            "the warren daemon is not reachable yet; tool calls will fail until it is"
        );
    }
    warren_mcp::serve_stdio(client).await?;
    Ok(ExitCode::SUCCESS)
}
