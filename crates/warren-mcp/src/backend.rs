//! Where a tool call gets its API client: one fixed client (stdio), or the caller's, put in
//! the HTTP request's extensions by the daemon after it checked the API key.

use rmcp::model::Extensions;
use warren_client::Client;

use crate::error::ToolError;

/// The API client acting for the caller of one `/mcp` request. The daemon inserts it into
/// the HTTP request's extensions once the request's API key is valid; the tools of that
/// request use it.
#[derive(Debug, Clone)]
pub struct Caller(pub Client);

/// How [`crate::WarrenMcp`] finds the client for a call.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// Every call uses this client (stdio: one user, one key).
    Fixed(Client),
    /// Each call uses the [`Caller`] of the HTTP request that carried it.
    PerRequest,
}

impl Backend {
    /// The client for a call whose request context holds `ext`.
    pub(crate) fn client(&self, ext: &Extensions) -> Result<Client, ToolError> {
        match self {
            Self::Fixed(client) => Ok(client.clone()),
            Self::PerRequest => ext
                .get::<http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<Caller>())
                .map(|caller| caller.0.clone())
                .ok_or(ToolError::NoCaller),
        }
    }
}
