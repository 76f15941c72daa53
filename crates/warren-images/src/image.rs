//! The public data types: images as stored locally, and the options that
//! shape pulling and unpacking.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// An image in the local store, under one reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// Normalised reference, e.g. `docker.io/library/busybox:latest` or `127.0.0.1:5000/busybox:latest`.
    pub reference: String,
    /// Digest of the image manifest (the platform-specific one when pulled through an index).
    pub digest: String,
    /// Digest of the image config blob (Docker's "image id").
    pub config_digest: String,
    /// The runtime defaults from the image config.
    pub config: ImageConfig,
    /// Layers, lowest first.
    pub layers: Vec<Layer>,
    /// Sum of the compressed layer sizes in bytes.
    pub size: u64,
    /// When the image was stored locally.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

/// The runtime defaults from an OCI image config's `config` object. Missing fields are empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// `KEY=value` environment entries.
    pub env: Vec<String>,
    /// Default arguments (`Cmd`).
    pub cmd: Vec<String>,
    /// Entrypoint.
    pub entrypoint: Vec<String>,
    /// Working directory; empty means `/`.
    pub working_dir: String,
    /// User (`name`, `uid`, `uid:gid`); empty means root.
    pub user: String,
}

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    /// Digest of the (possibly compressed) blob.
    pub digest: String,
    /// Digest of the uncompressed tar; names the unpacked directory.
    pub diff_id: String,
    /// Size of the blob in bytes.
    pub size: u64,
    /// Media type from the manifest.
    pub media_type: String,
}

/// Where the store lives and how it shifts ownership.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Store root, e.g. `/var/lib/warren`.
    pub root: PathBuf,
    /// Ownership shift applied to unpacked layers.
    pub id_shift: IdShift,
}

/// Ownership in unpacked layers is shifted so the sandbox's user-namespace root owns its files:
/// `host_id = base + container_id` for `container_id < size`; others map to `base + 65534` (nobody).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdShift {
    /// Host uid of container uid 0.
    pub uid_base: u32,
    /// Host gid of container gid 0.
    pub gid_base: u32,
    /// Number of ids mapped.
    pub size: u32,
}

impl Default for IdShift {
    /// warren's standard mapping: 100000 + 65536.
    fn default() -> Self {
        IdShift {
            uid_base: 100_000,
            gid_base: 100_000,
            size: 65_536,
        }
    }
}

impl IdShift {
    const NOBODY: u32 = 65_534;

    /// Host uid for a container uid.
    pub fn uid(&self, id: u64) -> u32 {
        Self::shift(self.uid_base, self.size, id)
    }

    /// Host gid for a container gid.
    pub fn gid(&self, id: u64) -> u32 {
        Self::shift(self.gid_base, self.size, id)
    }

    fn shift(base: u32, size: u32, id: u64) -> u32 {
        let id = if id < u64::from(size) {
            id as u32
        } else {
            Self::NOBODY
        };
        base.saturating_add(id)
    }
}

/// Options for [`crate::ImageStore::pull`].
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Use plain HTTP even for a non-loopback registry.
    pub insecure: bool,
    /// Credentials for basic auth or for fetching a bearer token.
    pub credentials: Option<Credentials>,
    /// Platform to pick from a multi-platform index.
    pub platform: Platform,
}

/// Registry credentials. `Debug` never prints the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// An OCI platform: `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// e.g. `linux`.
    pub os: String,
    /// e.g. `amd64`, `arm64`.
    pub architecture: String,
    /// e.g. `v8` for arm64; `None` matches any variant.
    pub variant: Option<String>,
}

impl Default for Platform {
    /// `linux/amd64`.
    fn default() -> Self {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Limits that stop a hostile or broken layer from exhausting the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackLimits {
    /// Maximum number of tar entries in one layer.
    pub max_entries: u64,
    /// Maximum total uncompressed bytes of file content in one layer.
    pub max_bytes: u64,
}

impl Default for UnpackLimits {
    /// 1,000,000 entries and 64 GiB per layer.
    fn default() -> Self {
        UnpackLimits {
            max_entries: 1_000_000,
            max_bytes: 64 << 30,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_shift_maps_and_clamps() {
        let s = IdShift::default();
        assert_eq!(s.uid(0), 100_000);
        assert_eq!(s.gid(1000), 101_000);
        assert_eq!(s.uid(65_535), 165_535);
        assert_eq!(s.uid(65_536), 165_534);
        assert_eq!(s.uid(4_000_000_000), 165_534);
    }

    #[test]
    fn credentials_debug_redacts() {
        let c = Credentials {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
