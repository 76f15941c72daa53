//! The watching messages of `filesystem.Filesystem`: `WatchDir` (a server stream) and the
//! polled watcher (`CreateWatcher`, `GetWatcherEvents`, `RemoveWatcher`), as envd's
//! `filesystem.proto` shapes them under proto3-JSON.

use serde::{Deserialize, Serialize};

use crate::process::Empty;

/// What happened to an entry (fsnotify's kinds, as envd reports them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    /// Created, or moved into the watched tree.
    #[serde(rename = "EVENT_TYPE_CREATE")]
    Create,
    /// Written.
    #[serde(rename = "EVENT_TYPE_WRITE")]
    Write,
    /// Removed.
    #[serde(rename = "EVENT_TYPE_REMOVE")]
    Remove,
    /// Renamed (moved away).
    #[serde(rename = "EVENT_TYPE_RENAME")]
    Rename,
    /// Attributes (mode, owner, times) changed.
    #[serde(rename = "EVENT_TYPE_CHMOD")]
    Chmod,
}

/// One event: the entry's path relative to the watched directory, and what happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesystemEvent {
    /// Path relative to the watched directory.
    pub name: String,
    /// What happened.
    pub r#type: EventType,
}

/// `WatchDirRequest` and `CreateWatcherRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WatchRequest {
    /// The directory.
    pub path: String,
    /// Watch its subdirectories too.
    pub recursive: bool,
}

/// One message of the `WatchDir` stream (`WatchDirResponse`, whose fields are a oneof: in
/// proto3-JSON the chosen field is the whole object, `{"start": {}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchDirResponse {
    /// The watch is in place (first message).
    Start(Empty),
    /// Something happened.
    Filesystem(FilesystemEvent),
    /// Nothing happened for a while.
    Keepalive(Empty),
}

/// `CreateWatcherResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateWatcherResponse {
    /// The watcher's id.
    pub watcher_id: String,
}

/// `GetWatcherEventsRequest` and `RemoveWatcherRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WatcherRequest {
    /// The watcher's id.
    #[serde(alias = "watcher_id")]
    pub watcher_id: String,
}

/// `GetWatcherEventsResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GetWatcherEventsResponse {
    /// Events since the last call, oldest first.
    pub events: Vec<FilesystemEvent>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_shapes() {
        let ev = WatchDirResponse::Filesystem(FilesystemEvent {
            name: "a/b.txt".into(),
            r#type: EventType::Write,
        });
        assert_eq!(
            serde_json::to_value(&ev).unwrap(),
            json!({"filesystem": {"name": "a/b.txt", "type": "EVENT_TYPE_WRITE"}})
        );
        assert_eq!(
            serde_json::to_value(WatchDirResponse::Start(Empty {})).unwrap(),
            json!({"start": {}})
        );
        let r: WatcherRequest = serde_json::from_value(json!({"watcherId": "w1"})).unwrap();
        assert_eq!(r.watcher_id, "w1");
        let r: WatchRequest = serde_json::from_value(json!({"path": "/x"})).unwrap();
        assert!(!r.recursive);
    }
}
