//! The host↔agent wire contract.
//!
//! `warren-agent` (PID 1 in every sandbox) serves an HTTP API on one byte stream; the host talks to
//! it over one HTTP/2 connection. The process and filesystem API is wire-compatible with E2B's
//! `envd`: Connect-RPC with proto3-JSON bodies (camelCase names, bytes as base64, 64-bit integers as
//! strings, enums by name, default values omitted). This crate holds:
//!
//! - [`process`] and [`filesystem`]: the messages of `process.Process` and `filesystem.Filesystem`,
//!   shaped exactly like envd's `.proto` files under proto3-JSON;
//! - [`envelope`]: Connect's streaming envelope framing (`[flags][u32 BE length][JSON]`);
//! - [`error`]: Connect error codes and their HTTP status mapping;
//! - [`json`]: serde helpers for proto3-JSON (base64 bytes, int64 as string, `null` as default);
//! - `client` (feature `client`): [`AgentClient`], the host side.

pub mod envelope;
pub mod error;
pub mod filesystem;
pub mod identity;
pub mod json;
pub mod process;
pub mod warren_fs;
pub mod watch;

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
pub use client::{AgentBody, AgentClient, AgentError, FileStream, ProcessStream};

pub use envelope::{EndStreamMessage, EnvelopeDecoder, EnvelopeError, Frame, encode_envelope};
pub use error::{ConnectCode, ConnectError};
pub use filesystem::*;
pub use process::*;
pub use warren_fs::*;
pub use watch::{
    CreateWatcherResponse, EventType, FilesystemEvent, GetWatcherEventsResponse, WatchDirResponse,
    WatchRequest, WatcherRequest,
};

/// The port envd listens on; the E2B SDK sends it as `E2b-Sandbox-Port`.
pub const AGENT_PORT: u16 = 49983;

/// The envd version this agent claims to implement (the SDK gates features on it).
pub const ENVD_COMPAT_VERSION: &str = "0.6.2";

/// Largest single Connect envelope either side accepts.
pub const MAX_ENVELOPE_BYTES: usize = 16 * 1024 * 1024;

/// Content type of Connect unary calls with JSON.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// Content type of Connect streaming calls with JSON.
pub const CONTENT_TYPE_CONNECT_JSON: &str = "application/connect+json";

/// HTTP routes the agent serves.
pub mod routes {
    /// `GET` → 204 when the agent is serving.
    pub const HEALTH: &str = "/health";
    /// `GET ?path=&username=` → raw bytes; `POST ?path=&username=` → write.
    pub const FILES: &str = "/files";

    /// `process.Process/Start` (server stream).
    pub const PROCESS_START: &str = "/process.Process/Start";
    /// `process.Process/Connect` (server stream).
    pub const PROCESS_CONNECT: &str = "/process.Process/Connect";
    /// `process.Process/List` (unary).
    pub const PROCESS_LIST: &str = "/process.Process/List";
    /// `process.Process/SendInput` (unary).
    pub const PROCESS_SEND_INPUT: &str = "/process.Process/SendInput";
    /// `process.Process/StreamInput` (client stream).
    pub const PROCESS_STREAM_INPUT: &str = "/process.Process/StreamInput";
    /// `process.Process/SendSignal` (unary).
    pub const PROCESS_SEND_SIGNAL: &str = "/process.Process/SendSignal";
    /// `process.Process/CloseStdin` (unary).
    pub const PROCESS_CLOSE_STDIN: &str = "/process.Process/CloseStdin";
    /// `process.Process/Update` (unary).
    pub const PROCESS_UPDATE: &str = "/process.Process/Update";

    /// `filesystem.Filesystem/Stat` (unary).
    pub const FS_STAT: &str = "/filesystem.Filesystem/Stat";
    /// `filesystem.Filesystem/MakeDir` (unary).
    pub const FS_MAKE_DIR: &str = "/filesystem.Filesystem/MakeDir";
    /// `filesystem.Filesystem/Move` (unary).
    pub const FS_MOVE: &str = "/filesystem.Filesystem/Move";
    /// `filesystem.Filesystem/ListDir` (unary).
    pub const FS_LIST_DIR: &str = "/filesystem.Filesystem/ListDir";
    /// `filesystem.Filesystem/Remove` (unary).
    pub const FS_REMOVE: &str = "/filesystem.Filesystem/Remove";
    /// `filesystem.Filesystem/WatchDir` (server stream).
    pub const FS_WATCH_DIR: &str = "/filesystem.Filesystem/WatchDir";
    /// `filesystem.Filesystem/CreateWatcher` (unary).
    pub const FS_CREATE_WATCHER: &str = "/filesystem.Filesystem/CreateWatcher";
    /// `filesystem.Filesystem/GetWatcherEvents` (unary).
    pub const FS_GET_WATCHER_EVENTS: &str = "/filesystem.Filesystem/GetWatcherEvents";
    /// `filesystem.Filesystem/RemoveWatcher` (unary).
    pub const FS_REMOVE_WATCHER: &str = "/filesystem.Filesystem/RemoveWatcher";
}
