//! Files and directories inside a sandbox, always through its agent.
//!
//! The daemon never touches a sandbox's files through host paths: the agent
//! runs inside the sandbox's mount namespace, so `..` and symlinks resolve
//! within the sandbox's own root and cannot reach the host. Uploads,
//! downloads and archives stream: the daemon holds one chunk at a time.

use bytes::Bytes;
use warren_agent_proto::{AgentBody, EntryInfo, FileStream};

use crate::{Core, CoreError, ErrorKind, validate};

/// Largest body the buffered JSON routes accept; file and archive uploads stream and are
/// limited only by the sandbox's disk.
pub const MAX_FILE_BYTES: usize = 256 * 1024 * 1024;

/// An absolute sandbox path and, when given, a valid user.
fn check_path_and_user(path: &str, user: Option<&str>) -> Result<(), CoreError> {
    validate::sandbox_path("path", path)?;
    check_user(user)
}

fn check_user(user: Option<&str>) -> Result<(), CoreError> {
    if let Some(user) = user {
        validate::user("user", user)?;
    }
    Ok(())
}

/// Parse an octal mode string (`"0755"`, `"755"`, `"0o755"`), at most `7777`.
pub(crate) fn parse_mode(field: &'static str, mode: &str) -> Result<u32, CoreError> {
    let digits = mode.strip_prefix("0o").unwrap_or(mode);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if !digits.is_empty() && digits.len() <= 5 && m <= 0o7777 => Ok(m),
        _ => Err(CoreError::invalid(
            field,
            format!("{mode:?} is not an octal mode between 0000 and 7777"),
        )),
    }
}

impl Core {
    async fn file_agent(
        &self,
        id: &str,
        operation: &'static str,
    ) -> Result<warren_runtime::AgentClient, CoreError> {
        self.running_sandbox(id, operation).await?;
        self.agent(id).await
    }

    /// Validate `path` and `user`, then the agent of running sandbox `id`.
    async fn path_agent(
        &self,
        id: &str,
        path: &str,
        user: Option<&str>,
        operation: &'static str,
    ) -> Result<warren_runtime::AgentClient, CoreError> {
        check_path_and_user(path, user)?;
        self.file_agent(id, operation).await
    }

    /// The bytes of a file inside the sandbox (buffered; prefer [`Core::read_file_stream`]).
    pub async fn read_file(
        &self,
        id: &str,
        path: &str,
        user: Option<&str>,
    ) -> Result<Bytes, CoreError> {
        let agent = self.path_agent(id, path, user, "read a file in").await?;
        agent
            .read_file(path, user)
            .await
            .map_err(|e| CoreError::from_agent(id, path, e, ErrorKind::FileNotFound))
    }

    /// A file inside the sandbox as a stream of chunks.
    pub async fn read_file_stream(
        &self,
        id: &str,
        path: &str,
        user: Option<&str>,
    ) -> Result<FileStream, CoreError> {
        let agent = self.path_agent(id, path, user, "read a file in").await?;
        agent
            .read_file_stream(path, user)
            .await
            .map_err(|e| CoreError::from_agent(id, path, e, ErrorKind::FileNotFound))
    }

    /// Write a file inside the sandbox (parents created) from a streaming body, replacing it
    /// atomically.
    pub async fn write_file_stream(
        &self,
        id: &str,
        path: &str,
        user: Option<&str>,
        body: AgentBody,
    ) -> Result<(), CoreError> {
        check_path_and_user(path, user)?;
        if path.ends_with('/') {
            return Err(CoreError::invalid(
                "path",
                "names a directory; give a file path",
            ));
        }
        let agent = self.file_agent(id, "write a file in").await?;
        agent
            .write_file_stream(path, user, body)
            .await
            .map_err(|e| CoreError::from_agent(id, path, e, ErrorKind::FileNotFound))?;
        Ok(())
    }

    /// What is at `path`.
    pub async fn stat_file(
        &self,
        id: &str,
        path: &str,
        user: Option<&str>,
    ) -> Result<EntryInfo, CoreError> {
        let agent = self.path_agent(id, path, user, "stat a file in").await?;
        agent
            .stat(path, user)
            .await
            .map_err(|e| CoreError::from_agent(id, path, e, ErrorKind::FileNotFound))
    }

    /// The entries below directory `path`, `depth` levels deep (1..=32).
    pub async fn list_files(
        &self,
        id: &str,
        path: &str,
        depth: u32,
        user: Option<&str>,
    ) -> Result<Vec<EntryInfo>, CoreError> {
        check_path_and_user(path, user)?;
        if !(1..=32).contains(&depth) {
            return Err(CoreError::invalid("depth", "must be between 1 and 32"));
        }
        let agent = self.file_agent(id, "list files in").await?;
        agent
            .list_dir(path, depth, user)
            .await
            .map_err(|e| CoreError::from_agent(id, path, e, ErrorKind::FileNotFound))
    }

    /// `mkdir -p path`, then set `mode` (octal string) on it; an existing directory is fine.
    pub async fn make_dir(
        &self,
        id: &str,
        path: &str,
        mode: Option<&str>,
        user: Option<&str>,
    ) -> Result<EntryInfo, CoreError> {
        check_path_and_user(path, user)?;
        let mode = mode.map(|m| parse_mode("mode", m)).transpose()?;
        let agent = self.file_agent(id, "create a directory in").await?;
        let err = |e| CoreError::from_agent(id, path, e, ErrorKind::FileNotFound);
        let entry = match agent.make_dir(path, user).await {
            Ok(e) => e,
            Err(e) if e.code() == warren_agent_proto::ConnectCode::AlreadyExists => {
                agent.stat(path, user).await.map_err(err)?
            }
            Err(e) => return Err(err(e)),
        };
        match mode {
            Some(m) => agent.chmod(path, m, user).await.map_err(err),
            None => Ok(entry),
        }
    }

    /// Remove `path`; a non-empty directory needs `recursive` (otherwise a conflict).
    pub async fn remove_file(
        &self,
        id: &str,
        path: &str,
        recursive: bool,
        user: Option<&str>,
    ) -> Result<(), CoreError> {
        check_path_and_user(path, user)?;
        if path.trim_end_matches('/').is_empty() {
            return Err(CoreError::invalid(
                "path",
                "cannot remove the root directory",
            ));
        }
        let agent = self.file_agent(id, "remove a file in").await?;
        agent
            .remove_entry(path, recursive, user)
            .await
            .map_err(|e| CoreError::from_agent(id, path, e, ErrorKind::FileNotFound))
    }

    /// Rename `from` to `to` (missing parents of `to` created).
    pub async fn move_file(
        &self,
        id: &str,
        from: &str,
        to: &str,
        user: Option<&str>,
    ) -> Result<EntryInfo, CoreError> {
        validate::sandbox_path("from", from)?;
        validate::sandbox_path("to", to)?;
        check_user(user)?;
        let agent = self.file_agent(id, "move a file in").await?;
        agent
            .rename(from, to, user)
            .await
            .map_err(|e| CoreError::from_agent(id, from, e, ErrorKind::FileNotFound))
    }

    /// Set the permission bits of `path` (`mode` is an octal string).
    pub async fn chmod_file(
        &self,
        id: &str,
        path: &str,
        mode: &str,
        user: Option<&str>,
    ) -> Result<EntryInfo, CoreError> {
        check_path_and_user(path, user)?;
        let mode = parse_mode("mode", mode)?;
        let agent = self.file_agent(id, "chmod a file in").await?;
        agent
            .chmod(path, mode, user)
            .await
            .map_err(|e| CoreError::from_agent(id, path, e, ErrorKind::FileNotFound))
    }

    /// Set the owner and/or group of `path` (names or numeric ids).
    pub async fn chown_file(
        &self,
        id: &str,
        path: &str,
        owner: Option<&str>,
        group: Option<&str>,
        user: Option<&str>,
    ) -> Result<EntryInfo, CoreError> {
        check_path_and_user(path, user)?;
        if owner.is_none() && group.is_none() {
            return Err(CoreError::invalid(
                "owner",
                "give an owner, a group or both",
            ));
        }
        if let Some(o) = owner {
            validate::user("owner", o)?;
        }
        if let Some(g) = group {
            validate::user("group", g)?;
        }
        let agent = self.file_agent(id, "chown a file in").await?;
        agent
            .chown(path, owner, group, user)
            .await
            .map_err(|e| CoreError::from_agent(id, path, e, ErrorKind::FileNotFound))
    }

    /// A tar stream of the file or tree at `path`, entries named under its base name.
    pub async fn read_archive(
        &self,
        id: &str,
        path: &str,
        user: Option<&str>,
    ) -> Result<FileStream, CoreError> {
        let agent = self.path_agent(id, path, user, "archive files in").await?;
        agent
            .read_archive(path, user)
            .await
            .map_err(|e| CoreError::from_agent(id, path, e, ErrorKind::FileNotFound))
    }

    /// Extract a tar stream into directory `path` (created).
    pub async fn write_archive(
        &self,
        id: &str,
        path: &str,
        user: Option<&str>,
        body: AgentBody,
    ) -> Result<(), CoreError> {
        let agent = self.path_agent(id, path, user, "extract files in").await?;
        agent
            .write_archive(path, user, body)
            .await
            .map_err(|e| CoreError::from_agent(id, path, e, ErrorKind::FileNotFound))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(parse_mode("mode", "0755").unwrap(), 0o755);
        assert_eq!(parse_mode("mode", "644").unwrap(), 0o644);
        assert_eq!(parse_mode("mode", "0o700").unwrap(), 0o700);
        assert_eq!(parse_mode("mode", "4755").unwrap(), 0o4755);
        for bad in ["", "888", "17777", "rwx", "-1", "0o"] {
            assert!(parse_mode("mode", bad).is_err(), "{bad}");
        }
    }
}
