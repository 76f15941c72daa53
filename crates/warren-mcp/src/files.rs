//! `read_file`, `write_file`, `list_files`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use warren_api_types::{FileEntry, FileKind};
use warren_client::Client;

use crate::args::{Encoding, ListFiles, ReadFile, WriteFile};
use crate::error::ToolError;

const DEFAULT_READ_BYTES: usize = 1 << 20;
const MAX_READ_BYTES: usize = 10 << 20;
const MAX_DEPTH: u32 = 10;

/// What `read_file` returns.
#[derive(Debug, Serialize)]
pub(crate) struct FileContent {
    /// The file's path.
    pub path: String,
    /// `text` when the bytes are UTF-8, else `base64`.
    pub encoding: &'static str,
    /// The content (cut to `max_bytes`).
    pub content: String,
    /// The file's whole size in bytes.
    pub size: usize,
    /// True when the file was longer than `max_bytes`.
    pub truncated: bool,
}

/// `read_file`.
pub(crate) async fn read(client: &Client, a: ReadFile) -> Result<FileContent, ToolError> {
    let max = a.max_bytes.unwrap_or(DEFAULT_READ_BYTES);
    if !(1..=MAX_READ_BYTES).contains(&max) {
        return Err(ToolError::InvalidArgument {
            argument: "max_bytes",
            reason: format!("{max} is not within 1..={MAX_READ_BYTES}"),
        });
    }
    let bytes = client.read_file(&a.sandbox_id, &a.path).await?;
    let size = bytes.len();
    let mut kept = &bytes[..size.min(max)];
    // A cut may split a UTF-8 sequence: drop the partial character rather than call it binary.
    if let Err(e) = std::str::from_utf8(kept)
        && e.error_len().is_none()
        && size > max
    {
        kept = &kept[..e.valid_up_to()];
    }
    let (encoding, content) = match std::str::from_utf8(kept) {
        Ok(text) => ("text", text.to_owned()),
        Err(_) => ("base64", BASE64.encode(kept)),
    };
    Ok(FileContent {
        path: a.path,
        encoding,
        content,
        size,
        truncated: size > max,
    })
}

/// What `write_file` returns.
#[derive(Debug, Serialize)]
pub(crate) struct Written {
    /// The file's path.
    pub path: String,
    /// Bytes written.
    pub bytes: usize,
}

/// `write_file`.
pub(crate) async fn write(client: &Client, a: WriteFile) -> Result<Written, ToolError> {
    let data = match a.encoding {
        Encoding::Text => a.content.into_bytes(),
        Encoding::Base64 => {
            BASE64
                .decode(a.content.trim())
                .map_err(|e| ToolError::InvalidArgument {
                    argument: "content",
                    reason: format!("not valid base64: {e}"),
                })?
        }
    };
    let bytes = data.len();
    client.write_file(&a.sandbox_id, &a.path, data).await?;
    Ok(Written {
        path: a.path,
        bytes,
    })
}

/// What `list_files` returns.
#[derive(Debug, Serialize)]
pub(crate) struct Listing {
    /// Entries below the directory, depth-first in name order.
    pub entries: Vec<Entry>,
}

/// One entry of [`Listing`]: what an agent needs, without owner and mode noise.
#[derive(Debug, Serialize)]
pub(crate) struct Entry {
    /// Absolute path.
    pub path: String,
    /// `file`, `dir`, `symlink` or `other`.
    #[serde(rename = "type")]
    pub kind: FileKind,
    /// Size in bytes.
    pub size: u64,
}

impl From<FileEntry> for Entry {
    fn from(e: FileEntry) -> Self {
        Self {
            path: e.path,
            kind: e.kind,
            size: e.size,
        }
    }
}

/// `list_files`.
pub(crate) async fn list(client: &Client, a: ListFiles) -> Result<Listing, ToolError> {
    let depth = a.depth.unwrap_or(1);
    if !(1..=MAX_DEPTH).contains(&depth) {
        return Err(ToolError::InvalidArgument {
            argument: "depth",
            reason: format!("{depth} is not within 1..={MAX_DEPTH}"),
        });
    }
    let list = client.list_files(&a.sandbox_id, &a.path, depth).await?;
    Ok(Listing {
        entries: list.entries.into_iter().map(Entry::from).collect(),
    })
}
