//! Turning a tool's outcome into an MCP result: JSON (as structured content and as text) on
//! success, `isError: true` with the message on failure.

use rmcp::model::{CallToolResult, ContentBlock};
use serde::Serialize;

use crate::error::ToolError;

/// The MCP result of a tool's outcome.
pub(crate) fn result<T: Serialize>(outcome: Result<T, ToolError>) -> CallToolResult {
    let value = outcome.and_then(|v| serde_json::to_value(v).map_err(ToolError::Encode));
    match value {
        Ok(v) => CallToolResult::structured(v),
        Err(e) => {
            tracing::debug!(error = %e.report(), "MCP tool call failed");
            CallToolResult::error(vec![ContentBlock::text(e.report())])
        }
    }
}
