//! SSH public keys for the SSH gateway: `/v1/ssh-keys`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Body of `POST /v1/ssh-keys`: a public key to accept on the SSH gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"name": "laptop", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop"}))
)]
#[serde(deny_unknown_fields)]
pub struct AddSshKeyRequest {
    /// Name (1-63 letters, digits, `.`, `_`, `-`); what the key does is recorded with the
    /// actor `ssh:<name>`. Absent: made from the key's comment (`me@laptop` → `me-laptop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// One line of an OpenSSH `.pub` file: `<algorithm> <base64> [comment]`. Algorithms:
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ecdsa-sha2-nistp384`, `ecdsa-sha2-nistp521`.
    pub public_key: String,
}

/// A registered SSH public key. It grants access to every sandbox, like an API key of scope
/// `full`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SshKey {
    /// Key id, for deleting it.
    pub id: String,
    /// Name.
    pub name: String,
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// `<algorithm> <base64>`, without the comment.
    pub public_key: String,
    /// The comment of the registered line (often `user@host`); may be empty.
    pub comment: String,
    /// Registration time (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Answer to `GET /v1/ssh-keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SshKeyList {
    /// Every registered key, oldest first.
    pub items: Vec<SshKey>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_request_name_is_optional_and_unknown_fields_fail() {
        let r: AddSshKeyRequest =
            serde_json::from_str(r#"{"public_key":"ssh-ed25519 AAAA"}"#).unwrap();
        assert_eq!(r.name, None);
        assert!(serde_json::from_str::<AddSshKeyRequest>(r#"{"key":"x"}"#).is_err());
    }
}
