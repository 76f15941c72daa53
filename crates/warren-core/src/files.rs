//! Reading and writing files inside a sandbox, always through its agent.
//!
//! The daemon never touches a sandbox's files through host paths: the agent
//! runs inside the sandbox's mount namespace, so `..` and symlinks resolve
//! within the sandbox's own root and cannot reach the host.

use bytes::Bytes;

use crate::{Core, CoreError, ErrorKind, validate};

/// Largest file accepted by the write route (it is buffered whole; streaming comes with the full files API).
pub const MAX_FILE_BYTES: usize = 256 * 1024 * 1024;

impl Core {
    /// The bytes of a file inside the sandbox.
    pub async fn read_file(
        &self,
        id: &str,
        path: &str,
        user: Option<&str>,
    ) -> Result<Bytes, CoreError> {
        validate::sandbox_path("path", path)?;
        if let Some(user) = user {
            validate::user("user", user)?;
        }
        self.running_sandbox(id, "read a file in").await?;
        let agent = self.agent(id).await?;
        agent
            .read_file(path, user)
            .await
            .map_err(|e| CoreError::from_agent(id, path, e, ErrorKind::FileNotFound))
    }

    /// Write a file inside the sandbox (parents created), replacing it atomically.
    pub async fn write_file(
        &self,
        id: &str,
        path: &str,
        user: Option<&str>,
        data: Bytes,
    ) -> Result<(), CoreError> {
        validate::sandbox_path("path", path)?;
        if let Some(user) = user {
            validate::user("user", user)?;
        }
        if path.ends_with('/') {
            return Err(CoreError::invalid(
                "path",
                "names a directory; give a file path",
            ));
        }
        self.running_sandbox(id, "write a file in").await?;
        let agent = self.agent(id).await?;
        agent
            .write_file(path, user, data)
            .await
            .map_err(|e| CoreError::from_agent(id, path, e, ErrorKind::FileNotFound))?;
        Ok(())
    }

    pub(crate) async fn agent(&self, id: &str) -> Result<warren_runtime::AgentClient, CoreError> {
        self.inner
            .runtime
            .agent(id)
            .await
            .map_err(|source| CoreError::Runtime {
                id: id.to_owned(),
                source: Box::new(source),
            })
    }
}
