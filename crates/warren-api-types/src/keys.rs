//! API keys: `/v1/keys`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What a key may do: `read` (GET and HEAD routes only, the event stream included) or `full`
/// (everything, managing keys included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeyScope {
    /// Read-only: GET and HEAD routes, the event stream included.
    Read,
    /// Everything, including managing keys.
    Full,
}

impl KeyScope {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Full => "full",
        }
    }
}

/// Body of `POST /v1/keys`: a new API key's name, scope and lifetime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"name": "ci", "scope": "read", "expires_in_s": 86400}))
)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// Name (1-63 letters, digits, `.`, `_`, `-`); recorded as the actor of
    /// everything done with the key.
    pub name: String,
    /// What the key may do (default `full`).
    #[serde(default = "full")]
    pub scope: KeyScope,
    /// Seconds until the key stops working (1..=315360000); absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_s: Option<u64>,
}

fn full() -> KeyScope {
    KeyScope::Full
}

/// `201` answer to `POST /v1/keys`: the only time the key itself is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedKey {
    /// Key id, for revoking it.
    pub id: String,
    /// Name.
    pub name: String,
    /// What it may do.
    pub scope: KeyScope,
    /// The key: send it as `Authorization: Bearer <key>`. Not stored by warren.
    pub key: String,
    /// Creation time (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops working (RFC 3339); `null`: never.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// An API key as listed: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKey {
    /// Key id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    /// What it may do.
    pub scope: KeyScope,
    /// Creation time (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops working (RFC 3339); `null`: never.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// When it was revoked (RFC 3339); `null`: not revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// Answer to `GET /v1/keys`: every API key, never the keys themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyList {
    /// Every key, oldest first, revoked and expired ones included.
    pub items: Vec<ApiKey>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_defaults_to_full_and_rejects_unknown_fields() {
        let req: CreateKeyRequest = serde_json::from_str(r#"{"name":"ci"}"#).unwrap();
        assert_eq!(req.scope, KeyScope::Full);
        assert_eq!(req.expires_in_s, None);
        let read: CreateKeyRequest =
            serde_json::from_str(r#"{"name":"ci","scope":"read","expires_in_s":60}"#).unwrap();
        assert_eq!(read.scope, KeyScope::Read);
        assert!(
            serde_json::from_str::<CreateKeyRequest>(r#"{"name":"ci","scopes":"read"}"#).is_err()
        );
    }
}
