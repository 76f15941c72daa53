//! Reaching a sandbox's TCP ports from the host: waking a paused or hibernated sandbox first
//! ([`Core::wake`], which the preview proxy calls before it sends a request to the sandbox's
//! address), connecting to a port (the SSH gateway's port forwarding), and listing the ports it
//! listens on, and the raw agent channel of a running sandbox (for front ends that relay envd's
//! protocol, such as the E2B-compatible routes).

use tokio::net::TcpStream;
use warren_store::SandboxState;

use crate::lifecycle::LifecycleOp;
use crate::{Core, CoreError, Sandbox};

impl Core {
    /// Make sure sandbox `id` runs: a paused or hibernated (or archived hibernated) sandbox is
    /// resumed, as on wake-on-traffic; a running one is returned as it is. Other states are a
    /// [`CoreError::WrongState`].
    pub async fn wake(&self, id: &str, actor: &str) -> Result<Sandbox, CoreError> {
        let sb = self.get_sandbox(id).await?;
        match sb.state {
            SandboxState::Running => Ok(sb),
            SandboxState::Paused | SandboxState::Hibernated | SandboxState::Archived => {
                match self
                    .change_sandbox_state(id, LifecycleOp::Resume, actor)
                    .await
                {
                    Ok(sb) => Ok(sb),
                    // Someone else woke it between our read and our lock.
                    Err(CoreError::WrongState {
                        state: SandboxState::Running,
                        ..
                    }) => self.get_sandbox(id).await,
                    Err(e) => Err(e),
                }
            }
            state => Err(CoreError::WrongState {
                id: id.to_owned(),
                state,
                operation: "connect to",
            }),
        }
    }

    /// Open a TCP connection to `port` of sandbox `id` (woken first, see [`Core::wake`]).
    pub async fn connect_port(
        &self,
        id: &str,
        port: u16,
        actor: &str,
    ) -> Result<TcpStream, CoreError> {
        self.wake(id, actor).await?;
        let addr = self.sandbox_address(id)?;
        TcpStream::connect((addr, port))
            .await
            .map_err(|source| CoreError::PortUnreachable {
                id: id.to_owned(),
                port,
                source,
            })
    }
}

impl Core {
    /// The TCP ports running sandbox `id` listens on for others (not loopback-only), with
    /// whether each is public.
    pub async fn listening_ports(&self, id: &str) -> Result<Vec<(u16, bool)>, CoreError> {
        let sb = self.running_sandbox(id, "list the ports of").await?;
        let ports = self
            .inner
            .runtime
            .listening_ports(id)
            .await
            .map_err(|source| CoreError::Runtime {
                id: id.to_owned(),
                source: Box::new(source),
            })?;
        Ok(ports
            .into_iter()
            .map(|p| (p, sb.spec.network.public_ports.contains(&p)))
            .collect())
    }
}

impl Core {
    /// The agent channel of running sandbox `id`, for relaying envd's wire protocol as it is
    /// (the E2B SDK's sandbox-side calls). Not a wake-up: a sandbox in another state is a
    /// [`CoreError::WrongState`], since E2B's clients resume sandboxes explicitly.
    pub async fn agent_channel(&self, id: &str) -> Result<crate::AgentClient, CoreError> {
        self.running_sandbox(id, "reach the agent of").await?;
        self.agent(id).await
    }
}
