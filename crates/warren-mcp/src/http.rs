//! The streamable HTTP transport, for the daemon's `/mcp`.
//!
//! Stateless and JSON: each POST carries one JSON-RPC message and gets its answer as
//! `application/json`; no session is kept between requests. The tools hold no state of their
//! own (everything lives in the daemon), so sessions would only cost memory and tie a client
//! to one daemon process; stateless requests also survive a daemon restart.
//!
//! Host and Origin checks (rmcp's defence against DNS rebinding of unauthenticated local
//! servers) are off: every request must carry an API key as a bearer token, which a page
//! rebound onto the daemon cannot attach, and the daemon is reached under any host name it is
//! deployed at.

use std::sync::Arc;

use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::WarrenMcp;
use crate::backend::Backend;

/// The `/mcp` service: a tower `Service` to mount with `nest_service`. Each request must carry
/// a [`crate::Caller`] in its extensions.
pub type McpHttpService = StreamableHttpService<WarrenMcp, NeverSessionManager>;

/// Build the `/mcp` service.
pub fn http_service() -> McpHttpService {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .disable_allowed_hosts()
        .disable_allowed_origins();
    let template = WarrenMcp::new(Backend::PerRequest);
    StreamableHttpService::new(
        move || Ok(template.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}
