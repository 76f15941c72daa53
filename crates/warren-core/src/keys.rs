//! API key management: create (the secret is shown once), list, revoke.
//!
//! A key has a scope: `read` keys may only read (the REST layer lets them
//! use GET and HEAD routes, the event stream included); `full` keys may do
//! everything, including managing keys. A key may expire; an expired or
//! revoked key no longer authenticates. A key cannot revoke itself, so a
//! caller cannot lock itself out by mistake: revoke it with another full key.

use warren_store::{ApiKeyRecord, NewEvent};

use crate::auth::hash;
use crate::clock::now_ms;
use crate::{Core, CoreError, Principal, ids};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Read-only: GET and HEAD routes and the event stream.
    Read,
    /// Everything.
    Full,
}

impl Scope {
    /// Persisted and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Full => "full",
        }
    }

    /// Parse a stored scope; anything unknown is treated as `read`, the
    /// least privilege.
    pub(crate) fn from_stored(s: &str) -> Self {
        if s == "full" { Self::Full } else { Self::Read }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest key lifetime accepted: ten years.
pub const MAX_KEY_LIFETIME_S: u64 = 10 * 365 * 24 * 3600;

/// A request for a new key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateKey {
    /// Human name, recorded as the actor of what the key does.
    pub name: String,
    /// What the key may do.
    pub scope: Scope,
    /// Seconds until the key expires; `None`: never.
    pub expires_in_s: Option<u64>,
}

/// An API key as listed: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key id.
    pub id: String,
    /// Name.
    pub name: String,
    /// First characters of the key.
    pub prefix: String,
    /// What it may do.
    pub scope: Scope,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds after which it no longer works.
    pub expires_at: Option<i64>,
    /// Unix milliseconds, when revoked.
    pub revoked_at: Option<i64>,
}

/// A key just created: the only time its secret exists outside the caller.
#[derive(Clone)]
pub struct CreatedKey {
    /// The key's listing.
    pub info: KeyInfo,
    /// The key itself.
    pub secret: String,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

fn info(r: ApiKeyRecord) -> KeyInfo {
    KeyInfo {
        scope: Scope::from_stored(&r.scope),
        id: r.id,
        name: r.name,
        prefix: r.prefix,
        created_at: r.created_at,
        expires_at: r.expires_at,
        revoked_at: r.revoked_at,
    }
}

pub(crate) fn validate_name(name: &str) -> Result<(), CoreError> {
    let ok = (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "name",
            "must be 1-63 characters: letters, digits, '.', '_' or '-'",
        ))
    }
}

fn key_event(action: &str, actor: &Principal, message: String) -> NewEvent {
    NewEvent {
        at: now_ms(),
        sandbox_id: None,
        action: action.to_owned(),
        from_state: None,
        to_state: None,
        actor: Some(actor.key_name.clone()),
        ok: true,
        message: Some(message),
    }
}

impl Core {
    /// Create a key. Its secret is in the result and nowhere else.
    pub async fn create_api_key(
        &self,
        req: CreateKey,
        actor: &Principal,
    ) -> Result<CreatedKey, CoreError> {
        validate_name(&req.name)?;
        if let Some(s) = req.expires_in_s
            && !(1..=MAX_KEY_LIFETIME_S).contains(&s)
        {
            return Err(CoreError::invalid(
                "expires_in_s",
                format!("must be 1..={MAX_KEY_LIFETIME_S} seconds"),
            ));
        }
        let now = now_ms();
        let secret = ids::api_key();
        let record = ApiKeyRecord {
            id: ids::key_id(),
            name: req.name,
            hash: hash(&secret),
            prefix: secret.chars().take(8).collect(),
            created_at: now,
            revoked_at: None,
            scope: req.scope.as_str().to_owned(),
            expires_at: req
                .expires_in_s
                .map(|s| now.saturating_add(i64::try_from(s * 1000).unwrap_or(i64::MAX))),
        };
        self.inner.store.insert_api_key(&record).await?;
        let message = format!("key {} ({}, {})", record.id, record.name, req.scope);
        self.inner
            .store
            .append_event(&key_event("key.create", actor, message))
            .await?;
        self.publish_events().await;
        Ok(CreatedKey {
            info: info(record),
            secret,
        })
    }

    /// Every key, oldest first, revoked and expired ones included.
    pub async fn list_api_keys(&self) -> Result<Vec<KeyInfo>, CoreError> {
        Ok(self
            .inner
            .store
            .list_api_keys()
            .await?
            .into_iter()
            .map(info)
            .collect())
    }

    /// Revoke a key: it stops working at once. Revoking a revoked key is a
    /// no-op; a key cannot revoke itself.
    pub async fn revoke_api_key(&self, id: &str, actor: &Principal) -> Result<(), CoreError> {
        if id == actor.key_id {
            return Err(CoreError::invalid(
                "id",
                "a key cannot revoke itself; revoke it with another full-scope key",
            ));
        }
        let Some(key) = self.inner.store.get_api_key(id).await? else {
            return Err(CoreError::KeyNotFound { id: id.to_owned() });
        };
        let message = format!("key {} ({})", key.id, key.name);
        self.inner
            .store
            .revoke_api_key(id, now_ms(), &key_event("key.revoke", actor, message))
            .await
            .map_err(|e| match e {
                warren_store::StoreError::NotFound { .. } => {
                    CoreError::KeyNotFound { id: id.to_owned() }
                }
                other => other.into(),
            })?;
        self.publish_events().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(validate_name("ci-bot.v2_x").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("has space").is_err());
        assert!(validate_name(&"a".repeat(64)).is_err());
    }

    #[test]
    fn unknown_stored_scope_is_least_privilege() {
        assert_eq!(Scope::from_stored("full"), Scope::Full);
        assert_eq!(Scope::from_stored("read"), Scope::Read);
        assert_eq!(Scope::from_stored("admin"), Scope::Read);
    }
}
