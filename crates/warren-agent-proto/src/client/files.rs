//! Streaming uploads, permissions, ownership, remove and tar archives (the agent's warren routes).

use bytes::Bytes;
use http::{Method, StatusCode};

use super::{AgentBody, AgentClient, AgentError, FileStream, build, collect, percent_encode};
use super::{connect_error, files_uri, rest_error};
use crate::filesystem::{EntryInfo, EntryResponse, WriteEntry};
use crate::process::Empty;
use crate::warren_fs::{ChmodRequest, ChownRequest, RemoveEntryRequest, warren_routes};

impl AgentClient {
    /// `POST /files` with a streaming `application/octet-stream` body: written atomically, as
    /// [`AgentClient::write_file`], without holding the file in memory.
    pub async fn write_file_stream(
        &self,
        path: &str,
        user: Option<&str>,
        body: AgentBody,
    ) -> Result<WriteEntry, AgentError> {
        let uri = files_uri(path);
        let req = build(
            Method::POST,
            &uri,
            user,
            Some("application/octet-stream"),
            Bytes::new(),
        )
        .map(|_| body);
        let resp = self.send_body(req).await?;
        let status = resp.status();
        let body = collect(resp).await?;
        if status != StatusCode::OK {
            return Err(rest_error(status, body));
        }
        let mut entries: Vec<WriteEntry> = serde_json::from_slice(&body)
            .map_err(|e| AgentError::protocol(format!("bad /files answer: {e}")))?;
        if entries.is_empty() {
            return Err(AgentError::protocol("/files answered with no entry"));
        }
        Ok(entries.swap_remove(0))
    }

    /// `chmod`: set the permission bits of `path`.
    pub async fn chmod(
        &self,
        path: &str,
        mode: u32,
        user: Option<&str>,
    ) -> Result<EntryInfo, AgentError> {
        let req = ChmodRequest {
            path: path.into(),
            mode,
        };
        let r: EntryResponse = self.unary(warren_routes::CHMOD, user, &req).await?;
        r.entry
            .ok_or_else(|| AgentError::protocol("chmod answered without an entry"))
    }

    /// `chown`: set the owner and/or group of `path` (names or numeric ids).
    pub async fn chown(
        &self,
        path: &str,
        owner: Option<&str>,
        group: Option<&str>,
        user: Option<&str>,
    ) -> Result<EntryInfo, AgentError> {
        let req = ChownRequest {
            path: path.into(),
            owner: owner.map(Into::into),
            group: group.map(Into::into),
        };
        let r: EntryResponse = self.unary(warren_routes::CHOWN, user, &req).await?;
        r.entry
            .ok_or_else(|| AgentError::protocol("chown answered without an entry"))
    }

    /// Remove `path` (`not_found` if missing; a non-empty directory needs `recursive`).
    pub async fn remove_entry(
        &self,
        path: &str,
        recursive: bool,
        user: Option<&str>,
    ) -> Result<(), AgentError> {
        let req = RemoveEntryRequest {
            path: path.into(),
            recursive,
        };
        self.unary::<_, Empty>(warren_routes::REMOVE, user, &req)
            .await
            .map(drop)
    }

    /// `GET /warren/archive`: a tar stream of the file or tree at `path`.
    pub async fn read_archive(
        &self,
        path: &str,
        user: Option<&str>,
    ) -> Result<FileStream, AgentError> {
        let uri = archive_uri(path);
        let resp = self
            .send(build(Method::GET, &uri, user, None, Bytes::new()))
            .await?;
        let status = resp.status();
        if status != StatusCode::OK {
            return Err(connect_error(status, &collect(resp).await?));
        }
        Ok(FileStream::new(resp.into_body()))
    }

    /// `PUT /warren/archive`: extract a tar stream into directory `path` (created).
    pub async fn write_archive(
        &self,
        path: &str,
        user: Option<&str>,
        body: AgentBody,
    ) -> Result<(), AgentError> {
        let uri = archive_uri(path);
        let req = build(
            Method::PUT,
            &uri,
            user,
            Some("application/x-tar"),
            Bytes::new(),
        )
        .map(|_| body);
        let resp = self.send_body(req).await?;
        let status = resp.status();
        let body = collect(resp).await?;
        if status != StatusCode::OK {
            return Err(connect_error(status, &body));
        }
        Ok(())
    }
}

fn archive_uri(path: &str) -> String {
    format!("{}?path={}", warren_routes::ARCHIVE, percent_encode(path))
}
