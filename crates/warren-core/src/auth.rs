//! API keys: only their sha256 is stored; the key is shown once.
//!
//! Keys are 238-bit random secrets, so a fast hash is enough (there is no
//! password to brute-force); lookups are by hash, which also avoids
//! comparing secrets in non-constant time.

use sha2::{Digest, Sha256};
use warren_store::ApiKeyRecord;

use crate::clock::now_ms;
use crate::{Core, CoreError, Scope, ids};

/// Who is calling: the key that authenticated the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's name; recorded as the actor of events.
    pub key_name: String,
    /// The key's id (rate limits are per key).
    pub key_id: String,
    /// What the key may do.
    pub scope: Scope,
}

/// A newly created key. `secret` exists only here and is never stored.
#[derive(Clone)]
pub struct ApiKey {
    /// Key id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The key itself.
    pub secret: String,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

pub(crate) fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Shortest key accepted from `WARREN_API_KEY`.
const MIN_KEY_LEN: usize = 16;

impl Core {
    /// On first start (no key was ever created) create the first key: the
    /// given one (from `WARREN_API_KEY`, for automated deploys) or a random
    /// one. Returns it so it can be shown once; `None` when keys exist.
    pub async fn bootstrap_api_key(
        &self,
        given: Option<String>,
    ) -> Result<Option<ApiKey>, CoreError> {
        if self.inner.store.count_api_keys().await? > 0 {
            return Ok(None);
        }
        let secret = match given {
            Some(k)
                if k.len() < MIN_KEY_LEN
                    || k.chars().any(|c| c.is_whitespace() || c.is_control()) =>
            {
                return Err(CoreError::invalid(
                    "WARREN_API_KEY",
                    format!("must be at least {MIN_KEY_LEN} characters without spaces"),
                ));
            }
            Some(k) => k,
            None => ids::api_key(),
        };
        let key = ApiKey {
            id: ids::key_id(),
            name: "admin".to_owned(),
            secret,
        };
        let record = ApiKeyRecord {
            id: key.id.clone(),
            name: key.name.clone(),
            hash: hash(&key.secret),
            prefix: key.secret.chars().take(8).collect(),
            created_at: now_ms(),
            revoked_at: None,
            scope: "full".to_owned(),
            expires_at: None,
        };
        self.inner.store.insert_api_key(&record).await?;
        Ok(Some(key))
    }

    /// The principal for a presented key, or `Unauthorized`.
    pub async fn authenticate(&self, secret: &str) -> Result<Principal, CoreError> {
        if secret.is_empty() || secret.len() > 512 {
            return Err(CoreError::Unauthorized);
        }
        match self.inner.store.find_api_key(&hash(secret)).await? {
            Some(rec) if rec.expires_at.is_none_or(|t| t > now_ms()) => Ok(Principal {
                scope: Scope::from_stored(&rec.scope),
                key_name: rec.name,
                key_id: rec.id,
            }),
            _ => Err(CoreError::Unauthorized),
        }
    }
}
