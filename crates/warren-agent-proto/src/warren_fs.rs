//! Warren's own filesystem routes on the agent, next to envd's: permissions, ownership, a
//! non-recursive remove and tar archives of directory trees. Unary routes take and answer JSON
//! (errors in Connect's shape); the archive routes stream `application/x-tar`.

use serde::{Deserialize, Serialize};

/// Routes of the warren-specific filesystem API.
pub mod warren_routes {
    /// `POST` [`ChmodRequest`](super::ChmodRequest) → `EntryResponse`.
    pub const CHMOD: &str = "/warren/fs/chmod";
    /// `POST` [`ChownRequest`](super::ChownRequest) → `EntryResponse`.
    pub const CHOWN: &str = "/warren/fs/chown";
    /// `POST` [`RemoveEntryRequest`](super::RemoveEntryRequest) → `{}`.
    pub const REMOVE: &str = "/warren/fs/remove";
    /// `GET ?path=` streams a tar of the file or tree at `path`, its entries named under the
    /// path's base name; `PUT ?path=` extracts a tar stream into directory `path` (created).
    pub const ARCHIVE: &str = "/warren/archive";
}

/// Change permission bits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChmodRequest {
    /// The path (symlinks are followed, as chmod(2) does).
    pub path: String,
    /// New permission bits, `0o7777` at most.
    pub mode: u32,
}

/// Change owner and/or group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChownRequest {
    /// The path (a symlink itself is changed, not its target).
    pub path: String,
    /// New owner: a user name or uid; absent keeps the owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// New group: a group name or gid; absent keeps the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// Remove one path: `not_found` if missing; a non-empty directory needs `recursive`
/// (otherwise `failed_precondition`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveEntryRequest {
    /// The path.
    pub path: String,
    /// Remove a directory with everything below it.
    #[serde(default)]
    pub recursive: bool,
}
