//! Messages of envd's `filesystem.Filesystem` service (`spec/filesystem/filesystem.proto`) in
//! proto3-JSON, plus the JSON answer of `POST /files`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::json::{i64_str, is_default, null_default};

/// A proto enum value as it may appear in JSON: its name or its number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum EnumRepr {
    Name(String),
    Number(i64),
}

impl EnumRepr {
    pub(crate) fn name(&self) -> Option<&str> {
        match self {
            EnumRepr::Name(n) => Some(n),
            EnumRepr::Number(_) => None,
        }
    }
    pub(crate) fn number(&self) -> Option<i64> {
        match self {
            EnumRepr::Name(_) => None,
            EnumRepr::Number(n) => Some(*n),
        }
    }
}

impl std::fmt::Display for EnumRepr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnumRepr::Name(n) => f.write_str(n),
            EnumRepr::Number(n) => write!(f, "{n}"),
        }
    }
}

/// `FileType`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FileType {
    /// `FILE_TYPE_UNSPECIFIED`: sockets, devices, dangling symlinks.
    #[default]
    Unspecified,
    /// `FILE_TYPE_FILE`.
    File,
    /// `FILE_TYPE_DIRECTORY`.
    Directory,
    /// `FILE_TYPE_SYMLINK`.
    Symlink,
}

impl FileType {
    /// The proto enum name.
    pub fn name(self) -> &'static str {
        match self {
            FileType::Unspecified => "FILE_TYPE_UNSPECIFIED",
            FileType::File => "FILE_TYPE_FILE",
            FileType::Directory => "FILE_TYPE_DIRECTORY",
            FileType::Symlink => "FILE_TYPE_SYMLINK",
        }
    }
}

impl Serialize for FileType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for FileType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<EnumRepr>::deserialize(d)? {
            None => FileType::Unspecified,
            Some(r) => match (r.name(), r.number()) {
                (Some("FILE_TYPE_FILE"), _) | (_, Some(1)) => FileType::File,
                (Some("FILE_TYPE_DIRECTORY"), _) | (_, Some(2)) => FileType::Directory,
                (Some("FILE_TYPE_SYMLINK"), _) | (_, Some(3)) => FileType::Symlink,
                // proto3-JSON readers map unknown enum values to the default.
                _ => FileType::Unspecified,
            },
        })
    }
}

/// `EntryInfo`: what `Stat`, `ListDir`, `MakeDir` and `Move` report about a path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryInfo {
    /// Base name.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    /// Kind of entry; for a symlink, the kind of its target.
    #[serde(default, rename = "type", skip_serializing_if = "is_default")]
    pub r#type: FileType,
    /// Absolute path inside the sandbox.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub path: String,
    /// Size in bytes (of the link itself for a symlink).
    #[serde(default, with = "i64_str", skip_serializing_if = "is_default")]
    pub size: i64,
    /// Permission bits (`0o644` → 420).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_default"
    )]
    pub mode: u32,
    /// `ls`-style mode string as Go prints it (`-rw-r--r--`, `drwxr-xr-x`, `Lrwxrwxrwx`).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub permissions: String,
    /// Owner name, or the numeric uid when it has no name.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub owner: String,
    /// Group name, or the numeric gid when it has no name.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub group: String,
    /// Modification time, RFC 3339 (`google.protobuf.Timestamp` in JSON).
    #[serde(
        default,
        alias = "modified_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub modified_time: Option<String>,
    /// Where a symlink points (resolved), when the entry is one.
    #[serde(
        default,
        alias = "symlink_target",
        skip_serializing_if = "Option::is_none"
    )]
    pub symlink_target: Option<String>,
    /// User metadata kept on the file (its `user.` extended attributes; envd ≥ 0.6.2).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "std::collections::BTreeMap::is_empty"
    )]
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// A request holding one path (`Stat`, `MakeDir`, `Remove`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathRequest {
    /// The path; relative paths resolve against the user's home, `~` expands.
    #[serde(default, deserialize_with = "null_default")]
    pub path: String,
}

/// `StatRequest`.
pub type StatRequest = PathRequest;
/// `MakeDirRequest`.
pub type MakeDirRequest = PathRequest;
/// `RemoveRequest`.
pub type RemoveRequest = PathRequest;

/// A response holding one entry (`Stat`, `MakeDir`, `Move`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryResponse {
    /// The entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryInfo>,
}

/// `StatResponse`.
pub type StatResponse = EntryResponse;
/// `MakeDirResponse`.
pub type MakeDirResponse = EntryResponse;
/// `MoveResponse`.
pub type MoveResponse = EntryResponse;

/// `MoveRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveRequest {
    /// From.
    #[serde(default, deserialize_with = "null_default")]
    pub source: String,
    /// To (missing parent directories are created).
    #[serde(default, deserialize_with = "null_default")]
    pub destination: String,
}

/// `ListDirRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListDirRequest {
    /// Directory (symlinks to directories are followed).
    #[serde(default, deserialize_with = "null_default")]
    pub path: String,
    /// How deep to descend; 0 means 1 (the directory's own entries).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_default"
    )]
    pub depth: u32,
}

/// `ListDirResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListDirResponse {
    /// Entries, depth-first in name order, without the directory itself.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub entries: Vec<EntryInfo>,
}

/// One element of the JSON array `POST /files` answers: `{"name","type":"file","path"}`, and
/// `metadata` when the upload set some.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteEntry {
    /// Base name.
    pub name: String,
    /// Always `"file"`.
    #[serde(rename = "type")]
    pub r#type: String,
    /// Absolute path written.
    pub path: String,
    /// The metadata the upload set on it (envd ≥ 0.6.2).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// Format a Unix time as proto3-JSON `Timestamp`: RFC 3339 in UTC with 0, 3, 6 or 9 fractional
/// digits (`1970-01-01T00:00:00Z`, `2024-02-29T12:00:00.500Z`).
pub fn format_timestamp(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, (rem / 60) % 60, rem % 60);
    let frac = match nanos {
        0 => String::new(),
        n if n % 1_000_000 == 0 => format!(".{:03}", n / 1_000_000),
        n if n % 1_000 == 0 => format!(".{:06}", n / 1_000),
        n => format!(".{n:09}"),
    };
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}{frac}Z")
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entry_info_shape() {
        let e = EntryInfo {
            name: "a.txt".into(),
            r#type: FileType::File,
            path: "/home/user/a.txt".into(),
            size: 5_000_000_000,
            mode: 0o644,
            permissions: "-rw-r--r--".into(),
            owner: "user".into(),
            group: "user".into(),
            modified_time: Some("2024-01-02T03:04:05.123456789Z".into()),
            symlink_target: None,
            metadata: Default::default(),
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            json!({"name": "a.txt", "type": "FILE_TYPE_FILE", "path": "/home/user/a.txt",
                   "size": "5000000000", "mode": 420, "permissions": "-rw-r--r--",
                   "owner": "user", "group": "user", "modifiedTime": "2024-01-02T03:04:05.123456789Z"})
        );
        assert_eq!(serde_json::from_value::<EntryInfo>(v).unwrap(), e);
        let n: EntryInfo =
            serde_json::from_value(json!({"type": 2, "size": 12, "symlink_target": "/x"})).unwrap();
        assert_eq!(n.r#type, FileType::Directory);
        assert_eq!(n.size, 12);
        assert_eq!(n.symlink_target.as_deref(), Some("/x"));
        assert_eq!(
            serde_json::to_value(EntryInfo::default()).unwrap(),
            json!({})
        );
        let r: ListDirRequest = serde_json::from_value(json!({"path": "/", "depth": 2})).unwrap();
        assert_eq!(r.depth, 2);
        assert_eq!(
            serde_json::to_value(WriteEntry {
                name: "a".into(),
                r#type: "file".into(),
                path: "/a".into(),
                metadata: Default::default(),
            })
            .unwrap(),
            json!({"name": "a", "type": "file", "path": "/a"})
        );
        let with_metadata = WriteEntry {
            name: "a".into(),
            r#type: "file".into(),
            path: "/a".into(),
            metadata: [("owner".to_owned(), "alice".to_owned())].into(),
        };
        assert_eq!(
            serde_json::to_value(&with_metadata).unwrap()["metadata"],
            json!({"owner": "alice"})
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(format_timestamp(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_timestamp(951_825_600, 500_000_000),
            "2000-02-29T12:00:00.500Z"
        );
        assert_eq!(
            format_timestamp(1_704_164_645, 123_456_789),
            "2024-01-02T03:04:05.123456789Z"
        );
        assert_eq!(
            format_timestamp(1_704_164_645, 1_000),
            "2024-01-02T03:04:05.000001Z"
        );
        assert_eq!(format_timestamp(-1, 0), "1969-12-31T23:59:59Z");
        assert_eq!(format_timestamp(253_402_300_799, 0), "9999-12-31T23:59:59Z");
    }
}
