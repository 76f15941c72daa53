//! warren's MCP server: sandbox tools for AI agents, over the Model Context Protocol.
//!
//! One implementation of the tools ([`WarrenMcp`]), built on the official Rust MCP SDK
//! (`rmcp`), behind two transports:
//!
//! - **stdio** ([`serve_stdio`]): `warren mcp`, which a desktop agent spawns; the tools call
//!   the daemon with the CLI's URL and API key.
//! - **streamable HTTP** ([`http_service`]): `/mcp` on the daemon. The daemon authenticates
//!   each request with its API key and hands the tools a client that calls the API as that
//!   caller ([`Caller`], put in the request's extensions).
//!
//! Every tool is a thin translation onto one or a few REST calls through
//! [`warren_client::Client`], so the API's validation, scopes, events and rate limits apply
//! unchanged. A failure — the API's error, a bad argument, a missing interpreter — comes back
//! as a tool result with `isError: true` and the message; it never ends the server.
#![forbid(unsafe_code)]

mod args;
mod backend;
mod error;
mod exec;
mod files;
mod http;
mod output;
mod ports;
mod server;
mod view;

pub use backend::Caller;
pub use http::{McpHttpService, http_service};
pub use server::WarrenMcp;

use rmcp::ServiceExt;

/// Why the stdio server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    /// The MCP handshake with the client failed.
    #[error("MCP handshake over stdio failed")]
    Initialize(#[source] Box<rmcp::service::ServerInitializeError>),
    /// The session ended abnormally.
    #[error("MCP session over stdio failed")]
    Session(#[source] tokio::task::JoinError),
}

/// Serve the tools over stdin/stdout until the client closes the connection.
pub async fn serve_stdio(client: warren_client::Client) -> Result<(), StdioError> {
    let running = WarrenMcp::new(backend::Backend::Fixed(client))
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| StdioError::Initialize(Box::new(e)))?;
    running.waiting().await.map_err(StdioError::Session)?;
    Ok(())
}
