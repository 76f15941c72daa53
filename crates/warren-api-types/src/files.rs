//! Files and directories inside a sandbox: `/v1/sandboxes/{id}/files...` and `.../archive`.

use serde::{Deserialize, Serialize};

/// What kind of entry a path is: `file`, `dir`, `symlink` or `other` (socket, FIFO, device).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (`symlink_target` says where it points).
    Symlink,
    /// Anything else: socket, FIFO, device.
    Other,
}

/// One file, directory or symlink (`stat`, `list`, `mkdir`, `move`, `chmod`, `chown`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileEntry {
    /// Base name (`/` for the root).
    pub name: String,
    /// Absolute path inside the sandbox.
    pub path: String,
    /// Kind of entry; a symlink is `symlink`, whatever it points to.
    #[serde(rename = "type")]
    pub kind: FileKind,
    /// Size in bytes (of the link itself for a symlink).
    pub size: u64,
    /// Permission bits as an octal string, `"0755"` (of the target for a symlink).
    pub mode: String,
    /// Owner: user name, or the numeric uid when the sandbox has no name for it.
    pub owner: String,
    /// Group: group name, or the numeric gid when the sandbox has no name for it.
    pub group: String,
    /// Last modification, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<String>,
    /// For a symlink: the absolute path it resolves to inside the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symlink_target: Option<String>,
}

/// Answer to `GET /v1/sandboxes/{id}/files/list`: the entries below a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileList {
    /// Entries below the directory, depth-first in name order, without the directory itself.
    pub entries: Vec<FileEntry>,
}

/// Body of `POST /v1/sandboxes/{id}/files/mkdir`: create a directory and its missing parents
/// (`mkdir -p`); an existing directory is not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"path": "/srv/app/logs", "mode": "0750"}))
)]
#[serde(deny_unknown_fields)]
pub struct MkdirRequest {
    /// Absolute path of the directory.
    pub path: String,
    /// Permission bits of the directory as an octal string (`"0700"`); default `0755`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// Body of `POST /v1/sandboxes/{id}/files/move`: rename (missing parents of `to` are created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"from": "/srv/app/old.txt", "to": "/srv/app/archive/old.txt"}))
)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// Absolute path of the entry to move.
    pub from: String,
    /// Absolute destination path (replaced if it is a file).
    pub to: String,
}

/// Body of `POST /v1/sandboxes/{id}/files/chmod`: new permission bits for a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"path": "/srv/app/run.sh", "mode": "0755"}))
)]
#[serde(deny_unknown_fields)]
pub struct ChmodRequest {
    /// Absolute path (a symlink is followed).
    pub path: String,
    /// New permission bits as an octal string, `"0644"` or `"644"` (at most `7777`).
    pub mode: String,
}

/// Body of `POST /v1/sandboxes/{id}/files/chown`: a new owner or group (or both) for a path;
/// at least one of `owner` and `group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"path": "/srv/app/data", "owner": "app", "group": "app"}))
)]
#[serde(deny_unknown_fields)]
pub struct ChownRequest {
    /// Absolute path (a symlink itself is changed, not its target).
    pub path: String,
    /// New owner: a user name of the sandbox or a numeric uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// New group: a group name of the sandbox or a numeric gid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}
