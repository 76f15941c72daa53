//! The host side of the agent channel, from `warren-agent-proto` (feature `client`).

pub use warren_agent_proto::{AgentClient, AgentError};
