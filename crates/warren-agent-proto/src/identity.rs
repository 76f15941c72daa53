//! The sandbox's identity as its agent knows it, and how the host changes it after a restore.
//!
//! A sandbox restored from a memory snapshot continues the captured processes — agent included
//! — so it starts out believing it is the sandbox it was copied from. Right after the restore
//! the host tells the agent who it now is ([`IDENTITY_ROUTE`]); the agent updates the
//! environment of the processes it starts from then on (`WARREN_SANDBOX_ID`) and rewrites
//! [`IDENTITY_FILE`], which any process in the sandbox can read to notice that it was restored.

use serde::{Deserialize, Serialize};

/// `POST` an [`IdentityRequest`] → `{}`.
pub const IDENTITY_ROUTE: &str = "/warren/identity";

/// Where the agent keeps the sandbox's [`Identity`] (world-readable JSON).
pub const IDENTITY_FILE: &str = "/.warren/identity.json";

/// The environment variable holding the sandbox's id in processes the agent starts.
pub const SANDBOX_ID_ENV: &str = "WARREN_SANDBOX_ID";

/// The host telling a restored agent who it is now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRequest {
    /// The sandbox's own id.
    pub sandbox_id: String,
    /// Its hostname (already set by the host).
    pub hostname: String,
    /// The snapshot it was restored from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<String>,
}

/// The contents of [`IDENTITY_FILE`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The sandbox's id.
    pub sandbox_id: String,
    /// Its hostname.
    pub hostname: String,
    /// The snapshot it was last restored from; absent for a sandbox booted from an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<String>,
    /// How many restores from snapshots this process tree has been through (0: booted).
    pub restores: u32,
}
