//! The main process's log: retained (bounded and rotated by the runtime) and streamable.

use warren_runtime::{LogChunks, LogOptions};
use warren_store::SandboxState;

use crate::{Core, CoreError};

/// Most lines `tail` may ask for.
pub const MAX_TAIL_LINES: u64 = 1_000_000;

impl Core {
    /// The sandbox's main-process log: the last `tail` lines (everything retained when `None`)
    /// and, with `follow`, new output until the receiver is dropped or the sandbox is deleted.
    pub async fn sandbox_logs(
        &self,
        id: &str,
        tail: Option<u64>,
        follow: bool,
    ) -> Result<LogChunks, CoreError> {
        if tail.is_some_and(|t| t > MAX_TAIL_LINES) {
            return Err(CoreError::invalid(
                "tail",
                format!("must be at most {MAX_TAIL_LINES} lines"),
            ));
        }
        let sb = self.get_sandbox(id).await?;
        if matches!(sb.state, SandboxState::Creating | SandboxState::Deleting) {
            return Err(CoreError::WrongState {
                id: id.to_owned(),
                state: sb.state,
                operation: "read logs",
            });
        }
        self.inner
            .runtime
            .logs(id, LogOptions { tail, follow })
            .await
            .map_err(|source| CoreError::Runtime {
                id: id.to_owned(),
                source: Box::new(source),
            })
    }
}
