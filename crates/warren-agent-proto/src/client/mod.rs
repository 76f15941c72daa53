//! The host side of the agent channel: one HTTP/2 connection over any byte stream.
//!
//! [`AgentClient::handshake`] runs the HTTP/2 handshake (prior knowledge, no TLS) on a stream and
//! spawns the connection driver on tokio; the client is a cheap-to-clone handle on it, so every
//! call from every task multiplexes over that one connection. When the connection dies,
//! [`AgentClient::is_closed`] turns true and calls fail with [`AgentError::Closed`]; the owner
//! reconnects. The requesting user travels as `Authorization: Basic base64("<user>:")`, as envd
//! expects; `None` means the agent's default user.

mod files;
mod killable;
mod stream;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};

pub use stream::{FileStream, ProcessStream};

use crate::error::{ConnectCode, ConnectError};
use crate::filesystem::{
    EntryInfo, EntryResponse, ListDirRequest, ListDirResponse, MoveRequest, PathRequest, WriteEntry,
};
use crate::process::{
    CloseStdinRequest, ConnectRequest, Empty, ListRequest, ListResponse, ProcessSelector,
    SendInputRequest, SendSignalRequest, StartRequest, UpdateRequest,
};
use crate::{CONTENT_TYPE_CONNECT_JSON, CONTENT_TYPE_JSON, envelope, routes};

/// What went wrong talking to the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The byte stream could not be opened.
    #[error("cannot connect to the agent at {}", path.display())]
    Connect {
        /// Socket path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// HTTP/2 failed (handshake, stream reset, connection error).
    #[error("HTTP/2 exchange with the agent failed")]
    Http {
        /// Cause.
        #[source]
        source: hyper::Error,
    },
    /// The agent answered with an error.
    #[error("agent error {code}: {message}")]
    Rpc {
        /// Connect code (for plain-HTTP routes, derived from the HTTP status).
        code: ConnectCode,
        /// The agent's message.
        message: String,
    },
    /// The agent's answer did not follow the protocol.
    #[error("agent protocol violation: {detail}")]
    Protocol {
        /// What was wrong.
        detail: String,
    },
    /// The connection is gone; reconnect.
    #[error("the connection to the agent is closed")]
    Closed,
}

impl AgentError {
    /// The Connect code this error maps to; transport failures are `unavailable`.
    pub fn code(&self) -> ConnectCode {
        match self {
            AgentError::Rpc { code, .. } => *code,
            AgentError::Protocol { .. } => ConnectCode::Internal,
            AgentError::Connect { .. } | AgentError::Http { .. } | AgentError::Closed => {
                ConnectCode::Unavailable
            }
        }
    }

    /// The HTTP status a REST front end should answer with for this error.
    pub fn http_status(&self) -> u16 {
        self.code().http_status()
    }

    pub(crate) fn protocol(detail: impl Into<String>) -> Self {
        AgentError::Protocol {
            detail: detail.into(),
        }
    }
}

impl From<ConnectError> for AgentError {
    fn from(e: ConnectError) -> Self {
        AgentError::Rpc {
            code: e.code,
            message: e.message,
        }
    }
}

/// A request body sent to the agent: complete bytes or a stream (uploads).
pub type AgentBody = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A handle on one HTTP/2 connection to one agent. Cheap to clone.
#[derive(Clone)]
pub struct AgentClient {
    sender: http2::SendRequest<AgentBody>,
    /// Cuts the byte stream under the connection.
    switch: std::sync::Arc<killable::KillSwitch>,
}

impl std::fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentClient")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl AgentClient {
    /// One HTTP/2 connection over any byte stream (a `UnixStream` for containers, a
    /// virtio-serial port for microVMs). Spawns the connection task on tokio.
    pub async fn handshake<S>(stream: S) -> Result<Self, AgentError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let switch = std::sync::Arc::new(killable::KillSwitch::default());
        let stream = killable::Killable::new(stream, switch.clone());
        let (sender, conn) = http2::Builder::new(TokioExecutor::new())
            .initial_stream_window_size(4 << 20)
            .initial_connection_window_size(16 << 20)
            .max_concurrent_reset_streams(1024)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|source| AgentError::Http { source })?;
        tokio::spawn(async move {
            // The error surfaces to callers as failed requests and `is_closed()`.
            let _ = conn.await;
        });
        Ok(Self { sender, switch })
    }

    /// Connect to an agent listening on a Unix socket.
    pub async fn connect_unix(path: &Path) -> Result<Self, AgentError> {
        let stream = tokio::net::UnixStream::connect(path)
            .await
            .map_err(|source| AgentError::Connect {
                path: path.to_owned(),
                source,
            })?;
        Self::handshake(stream).await
    }

    /// Close the connection now, streams in flight included (they fail), for every clone of
    /// this handle: before a checkpoint, no host-side connection may stay open into the
    /// sandbox, and a relayed stream (a client following a process's output) would otherwise
    /// keep it open for as long as that client wants.
    pub fn close(&self) {
        self.switch.kill();
    }

    /// True once the connection is gone; the caller should reconnect.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// `GET /health` → 204.
    pub async fn health(&self) -> Result<(), AgentError> {
        let resp = self
            .send(build(Method::GET, routes::HEALTH, None, None, Bytes::new()))
            .await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        Err(rest_error(status, collect(resp).await?))
    }

    /// Tell a restored agent who it is now (see [`crate::identity`]).
    pub async fn set_identity(
        &self,
        req: &crate::identity::IdentityRequest,
    ) -> Result<(), AgentError> {
        self.unary::<_, Empty>(crate::identity::IDENTITY_ROUTE, None, req)
            .await
            .map(drop)
    }

    /// `process.Process/Start`: run a process and stream its events (start, data..., end).
    pub async fn start(&self, req: StartRequest) -> Result<ProcessStream, AgentError> {
        self.server_stream(routes::PROCESS_START, None, &req).await
    }

    /// [`AgentClient::start`] as `user` (a name or uid; `None` = the agent's default user).
    pub async fn start_as(
        &self,
        req: StartRequest,
        user: Option<&str>,
    ) -> Result<ProcessStream, AgentError> {
        self.server_stream(routes::PROCESS_START, user, &req).await
    }

    /// `process.Process/Connect`: stream a running process's events from now on (starting with
    /// a `start` event carrying its pid).
    pub async fn connect(&self, process: ProcessSelector) -> Result<ProcessStream, AgentError> {
        self.server_stream(routes::PROCESS_CONNECT, None, &ConnectRequest { process })
            .await
    }

    /// `process.Process/SendSignal`.
    pub async fn send_signal(&self, req: SendSignalRequest) -> Result<(), AgentError> {
        self.unary::<_, Empty>(routes::PROCESS_SEND_SIGNAL, None, &req)
            .await
            .map(drop)
    }

    /// `process.Process/SendInput`.
    pub async fn send_input(&self, req: SendInputRequest) -> Result<(), AgentError> {
        self.unary::<_, Empty>(routes::PROCESS_SEND_INPUT, None, &req)
            .await
            .map(drop)
    }

    /// `process.Process/Update`: resize a PTY process's terminal.
    pub async fn update(&self, req: UpdateRequest) -> Result<(), AgentError> {
        self.unary::<_, Empty>(routes::PROCESS_UPDATE, None, &req)
            .await
            .map(drop)
    }

    /// `process.Process/CloseStdin`.
    pub async fn close_stdin(&self, req: CloseStdinRequest) -> Result<(), AgentError> {
        self.unary::<_, Empty>(routes::PROCESS_CLOSE_STDIN, None, &req)
            .await
            .map(drop)
    }

    /// `process.Process/List`.
    pub async fn list(&self) -> Result<ListResponse, AgentError> {
        self.unary(routes::PROCESS_LIST, None, &ListRequest {})
            .await
    }

    /// `filesystem.Filesystem/Stat`.
    pub async fn stat(&self, path: &str, user: Option<&str>) -> Result<EntryInfo, AgentError> {
        let r: EntryResponse = self
            .unary(routes::FS_STAT, user, &PathRequest { path: path.into() })
            .await?;
        r.entry
            .ok_or_else(|| AgentError::protocol("Stat answered without an entry"))
    }

    /// `filesystem.Filesystem/ListDir`; `depth` 0 means 1.
    pub async fn list_dir(
        &self,
        path: &str,
        depth: u32,
        user: Option<&str>,
    ) -> Result<Vec<EntryInfo>, AgentError> {
        let req = ListDirRequest {
            path: path.into(),
            depth,
        };
        let r: ListDirResponse = self.unary(routes::FS_LIST_DIR, user, &req).await?;
        Ok(r.entries)
    }

    /// `filesystem.Filesystem/MakeDir` (creates parents; `already_exists` if it is there).
    pub async fn make_dir(&self, path: &str, user: Option<&str>) -> Result<EntryInfo, AgentError> {
        let r: EntryResponse = self
            .unary(
                routes::FS_MAKE_DIR,
                user,
                &PathRequest { path: path.into() },
            )
            .await?;
        r.entry
            .ok_or_else(|| AgentError::protocol("MakeDir answered without an entry"))
    }

    /// `filesystem.Filesystem/Move`.
    pub async fn rename(
        &self,
        from: &str,
        to: &str,
        user: Option<&str>,
    ) -> Result<EntryInfo, AgentError> {
        let req = MoveRequest {
            source: from.into(),
            destination: to.into(),
        };
        let r: EntryResponse = self.unary(routes::FS_MOVE, user, &req).await?;
        r.entry
            .ok_or_else(|| AgentError::protocol("Move answered without an entry"))
    }

    /// `filesystem.Filesystem/Remove` (recursive; a missing path is not an error, as in envd).
    pub async fn remove(&self, path: &str, user: Option<&str>) -> Result<(), AgentError> {
        self.unary::<_, Empty>(routes::FS_REMOVE, user, &PathRequest { path: path.into() })
            .await
            .map(drop)
    }

    /// `GET /files`: the whole file.
    pub async fn read_file(&self, path: &str, user: Option<&str>) -> Result<Bytes, AgentError> {
        let mut s = self.read_file_stream(path, user).await?;
        let mut out = bytes::BytesMut::new();
        while let Some(chunk) = s.next_chunk().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out.freeze())
    }

    /// `GET /files`: the file as a stream of chunks.
    pub async fn read_file_stream(
        &self,
        path: &str,
        user: Option<&str>,
    ) -> Result<FileStream, AgentError> {
        let uri = files_uri(path);
        let resp = self
            .send(build(Method::GET, &uri, user, None, Bytes::new()))
            .await?;
        let status = resp.status();
        if status != StatusCode::OK {
            return Err(rest_error(status, collect(resp).await?));
        }
        Ok(FileStream::new(resp.into_body()))
    }

    /// `POST /files` with `application/octet-stream`: write the file atomically (parents are
    /// created and chowned to the user).
    pub async fn write_file(
        &self,
        path: &str,
        user: Option<&str>,
        data: Bytes,
    ) -> Result<WriteEntry, AgentError> {
        let uri = files_uri(path);
        let req = build(
            Method::POST,
            &uri,
            user,
            Some("application/octet-stream"),
            data,
        );
        let resp = self.send(req).await?;
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

    /// Send a request as it is (any route, any body) and return the agent's answer unread:
    /// for front ends that relay envd's wire protocol from another client (the E2B SDK), so
    /// streams flow both ways without being decoded here. The URI's path and query are what
    /// count; its authority is only a label on this connection.
    pub async fn forward(&self, req: Request<AgentBody>) -> Result<Response<Incoming>, AgentError> {
        self.send_body(req).await
    }

    async fn send(&self, req: Request<Full<Bytes>>) -> Result<Response<Incoming>, AgentError> {
        self.send_body(req.map(|b| b.map_err(|never| match never {}).boxed_unsync()))
            .await
    }

    async fn send_body(&self, req: Request<AgentBody>) -> Result<Response<Incoming>, AgentError> {
        let mut sender = self.sender.clone();
        if sender.ready().await.is_err() {
            return Err(AgentError::Closed);
        }
        sender.send_request(req).await.map_err(|source| {
            if self.sender.is_closed() {
                AgentError::Closed
            } else {
                AgentError::Http { source }
            }
        })
    }

    async fn unary<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        user: Option<&str>,
        req: &Req,
    ) -> Result<Resp, AgentError> {
        let body = Bytes::from(serde_json::to_vec(req).expect("proto messages always serialize"));
        let resp = self
            .send(build(
                Method::POST,
                path,
                user,
                Some(CONTENT_TYPE_JSON),
                body,
            ))
            .await?;
        let status = resp.status();
        let body = collect(resp).await?;
        if status != StatusCode::OK {
            return Err(connect_error(status, &body));
        }
        let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
        serde_json::from_slice(body)
            .map_err(|e| AgentError::protocol(format!("bad answer from {path}: {e}")))
    }

    async fn server_stream<Req: Serialize>(
        &self,
        path: &str,
        user: Option<&str>,
        req: &Req,
    ) -> Result<ProcessStream, AgentError> {
        let body = envelope::encode_json(req);
        let resp = self
            .send(build(
                Method::POST,
                path,
                user,
                Some(CONTENT_TYPE_CONNECT_JSON),
                body,
            ))
            .await?;
        let status = resp.status();
        if status != StatusCode::OK {
            return Err(connect_error(status, &collect(resp).await?));
        }
        Ok(ProcessStream::new(resp.into_body()))
    }
}

fn build(
    method: Method,
    path_and_query: &str,
    user: Option<&str>,
    content_type: Option<&str>,
    body: Bytes,
) -> Request<Full<Bytes>> {
    // HTTP/2 needs :scheme and :authority; the authority is only a label here.
    let mut b = Request::builder()
        .method(method)
        .uri(format!("http://agent{path_and_query}"));
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    if let Some(u) = user {
        let cred = base64::engine::general_purpose::STANDARD.encode(format!("{u}:"));
        b = b.header(header::AUTHORIZATION, format!("Basic {cred}"));
    }
    b.body(Full::new(body)).expect("request parts are valid")
}

async fn collect(resp: Response<Incoming>) -> Result<Bytes, AgentError> {
    resp.into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|source| AgentError::Http { source })
}

/// A Connect error answer: `{"code":"not_found","message":...}`, or a bare status.
fn connect_error(status: StatusCode, body: &[u8]) -> AgentError {
    match serde_json::from_slice::<ConnectError>(body) {
        Ok(e) => e.into(),
        Err(_) => AgentError::Rpc {
            code: ConnectCode::from_connect_http_status(status.as_u16()),
            message: format!("HTTP {status}: {}", String::from_utf8_lossy(body)),
        },
    }
}

/// A plain-HTTP error answer: envd writes `{"code": <http status>, "message": ...}`.
fn rest_error(status: StatusCode, body: Bytes) -> AgentError {
    #[derive(serde::Deserialize)]
    struct RestError {
        #[serde(default)]
        message: String,
    }
    let message = serde_json::from_slice::<RestError>(&body)
        .map(|e| e.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
    AgentError::Rpc {
        code: ConnectCode::from_rest_http_status(status.as_u16()),
        message,
    }
}

fn files_uri(path: &str) -> String {
    format!("{}?path={}", routes::FILES, percent_encode(path))
}

/// Percent-encode a query value (everything but RFC 3986 unreserved characters and `/`).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_query() {
        assert_eq!(percent_encode("/a b/ü&x=1%"), "/a%20b/%C3%BC%26x%3D1%25");
    }

    #[test]
    fn error_mapping() {
        let e = connect_error(
            StatusCode::NOT_FOUND,
            br#"{"code":"not_found","message":"m"}"#,
        );
        assert_eq!(e.code(), ConnectCode::NotFound);
        let e = connect_error(StatusCode::NOT_FOUND, b"");
        assert_eq!(e.code(), ConnectCode::Unimplemented);
        let e = rest_error(
            StatusCode::NOT_FOUND,
            Bytes::from_static(br#"{"code":404,"message":"gone"}"#),
        );
        assert!(
            matches!(e, AgentError::Rpc { code: ConnectCode::NotFound, ref message } if message == "gone")
        );
        assert_eq!(AgentError::Closed.http_status(), 503);
    }
}
