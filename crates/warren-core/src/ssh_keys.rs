//! Public keys for the SSH gateway: register, list, delete, and the lookup by fingerprint that
//! authenticates a connection.
//!
//! A registered key grants what a full-scope API key grants, on every sandbox: the SSH user
//! name picks the sandbox. Keys are checked here without a crypto library: an OpenSSH public
//! key line is `<algorithm> <base64 blob> [comment]`, the blob is a sequence of SSH strings
//! starting with the algorithm again, and the fingerprint OpenSSH prints (`SHA256:…`) is the
//! unpadded base64 of the blob's sha256. The gateway verifies signatures; this module only
//! makes sure what is stored is a well-formed key of an algorithm the gateway can verify.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};
use warren_store::{NewEvent, SshKeyRecord, StoreError};

use crate::clock::now_ms;
use crate::keys::validate_name;
use crate::{Core, CoreError, Principal, ids};

/// Longest public key line accepted (an ECDSA P-521 line is ~270 bytes).
const MAX_LINE: usize = 8 * 1024;

/// Algorithms the gateway verifies, with the curve name an ECDSA blob carries.
const ALGORITHMS: &[(&str, Option<&str>)] = &[
    ("ssh-ed25519", None),
    ("ecdsa-sha2-nistp256", Some("nistp256")),
    ("ecdsa-sha2-nistp384", Some("nistp384")),
    ("ecdsa-sha2-nistp521", Some("nistp521")),
];

/// A registered SSH public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKey {
    /// Key id (`sshkey-…`).
    pub id: String,
    /// Human name; the actor of what the key does is `ssh:<name>`.
    pub name: String,
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// `<algorithm> <base64>`.
    pub public_key: String,
    /// The comment of the registered line; may be empty.
    pub comment: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A parsed OpenSSH public key line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshPublicKey {
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, …
    pub algorithm: String,
    /// The key blob (SSH wire encoding).
    pub blob: Vec<u8>,
    /// The comment; may be empty.
    pub comment: String,
}

impl SshPublicKey {
    /// Parse `<algorithm> <base64> [comment]` (one line, as in `id_ed25519.pub`).
    pub fn parse(line: &str) -> Result<Self, CoreError> {
        let bad = |reason: String| CoreError::invalid("public_key", reason);
        let line = line.trim();
        if line.is_empty() {
            return Err(bad("is empty; give the contents of a .pub file".into()));
        }
        if line.len() > MAX_LINE || line.contains(['\n', '\r']) {
            return Err(bad(format!("must be one line of at most {MAX_LINE} bytes")));
        }
        let mut parts = line.splitn(3, [' ', '\t']);
        let algorithm = parts.next().unwrap_or_default().to_owned();
        let encoded = parts.next().unwrap_or_default().trim();
        let comment = parts.next().unwrap_or_default().trim().to_owned();
        if algorithm.starts_with("-----") || algorithm.contains("PRIVATE") {
            return Err(bad(
                "looks like a private key; give the public key (the .pub file)".into(),
            ));
        }
        let Some(&(_, curve)) = ALGORITHMS.iter().find(|(a, _)| *a == algorithm) else {
            return Err(bad(format!(
                "algorithm {algorithm:?} is not supported; use ssh-ed25519 or ecdsa-sha2-nistp256/384/521 (ssh-keygen -t ed25519)"
            )));
        };
        if comment.chars().any(char::is_control) {
            return Err(bad("the comment has control characters".into()));
        }
        let blob = STANDARD
            .decode(encoded)
            .map_err(|e| bad(format!("the key is not valid base64: {e}")))?;
        let fields = ssh_strings(&blob).ok_or_else(|| bad("the key data is malformed".into()))?;
        let well_formed = match (curve, fields.as_slice()) {
            (None, [alg, key]) => *alg == algorithm.as_bytes() && key.len() == 32,
            (Some(curve), [alg, name, point]) => {
                *alg == algorithm.as_bytes()
                    && *name == curve.as_bytes()
                    && point.first() == Some(&4)
            }
            _ => false,
        };
        if !well_formed {
            return Err(bad(format!("the key data is not a valid {algorithm} key")));
        }
        Ok(Self {
            algorithm,
            blob,
            comment,
        })
    }

    /// `SHA256:<base64>`, as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        fingerprint_of_blob(&self.blob)
    }

    /// `<algorithm> <base64>`, without the comment.
    pub fn openssh(&self) -> String {
        format!("{} {}", self.algorithm, STANDARD.encode(&self.blob))
    }
}

/// The OpenSSH SHA-256 fingerprint of a key blob.
fn fingerprint_of_blob(blob: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(blob)))
}

/// Split `data` into SSH strings (u32 big-endian length + bytes); `None` unless it is exactly
/// a sequence of them.
fn ssh_strings(mut data: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (len, rest) = data.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        if len > rest.len() {
            return None;
        }
        let (s, rest) = rest.split_at(len);
        out.push(s);
        data = rest;
    }
    Some(out)
}

/// The actor recorded for what an SSH key does.
pub fn ssh_actor(key_name: &str) -> String {
    format!("ssh:{key_name}")
}

fn from_record(r: SshKeyRecord) -> SshKey {
    SshKey {
        id: r.id,
        name: r.name,
        fingerprint: r.fingerprint,
        public_key: r.public_key,
        comment: r.comment,
        created_at: r.created_at,
    }
}

fn event(action: &str, actor: &Principal, message: String) -> NewEvent {
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
    /// Register an SSH public key (one OpenSSH line). `name` defaults to the line's comment
    /// (made a valid name) or `ssh-key`.
    pub async fn add_ssh_key(
        &self,
        name: Option<&str>,
        public_key: &str,
        actor: &Principal,
    ) -> Result<SshKey, CoreError> {
        let key = SshPublicKey::parse(public_key)?;
        let name = match name {
            Some(n) => n.to_owned(),
            None => default_name(&key.comment),
        };
        validate_name(&name)?;
        let fingerprint = key.fingerprint();
        let record = SshKeyRecord {
            id: ids::ssh_key_id(),
            name,
            fingerprint: fingerprint.clone(),
            public_key: key.openssh(),
            comment: key.comment,
            created_at: now_ms(),
        };
        let message = format!("ssh key {} ({}, {})", record.id, record.name, fingerprint);
        match self
            .inner
            .store
            .insert_ssh_key(&record, &event("ssh_key.add", actor, message))
            .await
        {
            Ok(()) => {}
            Err(StoreError::AlreadyExists { .. }) => {
                let existing = self
                    .inner
                    .store
                    .find_ssh_key(&fingerprint)
                    .await?
                    .map(|k| k.id)
                    .unwrap_or_default();
                return Err(CoreError::SshKeyExists {
                    fingerprint,
                    existing,
                });
            }
            Err(e) => return Err(e.into()),
        }
        self.publish_events().await;
        Ok(from_record(record))
    }

    /// Every registered SSH key, oldest first.
    pub async fn list_ssh_keys(&self) -> Result<Vec<SshKey>, CoreError> {
        Ok(self
            .inner
            .store
            .list_ssh_keys()
            .await?
            .into_iter()
            .map(from_record)
            .collect())
    }

    /// Delete an SSH key: connections it authenticates from now on are refused (open ones
    /// stay).
    pub async fn delete_ssh_key(&self, id: &str, actor: &Principal) -> Result<(), CoreError> {
        let Some(key) = self.inner.store.get_ssh_key(id).await? else {
            return Err(CoreError::SshKeyNotFound { id: id.to_owned() });
        };
        let message = format!("ssh key {} ({}, {})", key.id, key.name, key.fingerprint);
        self.inner
            .store
            .delete_ssh_key(id, &event("ssh_key.delete", actor, message))
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => CoreError::SshKeyNotFound { id: id.to_owned() },
                other => other.into(),
            })?;
        self.publish_events().await;
        Ok(())
    }

    /// The registered key with this fingerprint (`SHA256:…`), for authentication.
    pub async fn find_ssh_key(&self, fingerprint: &str) -> Result<Option<SshKey>, CoreError> {
        Ok(self
            .inner
            .store
            .find_ssh_key(fingerprint)
            .await?
            .map(from_record))
    }
}

/// A key name from a comment like `me@laptop`: allowed characters kept, others become `-`.
fn default_name(comment: &str) -> String {
    let name: String = comment
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        "ssh-key".to_owned()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ssh-keygen -t ed25519; `ssh-keygen -lf` prints this fingerprint.
    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop";
    const ED25519_FP: &str = "SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU";

    #[test]
    fn parses_ed25519_and_fingerprints_like_openssh() {
        let k = SshPublicKey::parse(ED25519).unwrap();
        assert_eq!(k.algorithm, "ssh-ed25519");
        assert_eq!(k.comment, "me@laptop");
        assert_eq!(k.fingerprint(), ED25519_FP);
        assert_eq!(k.openssh(), ED25519.rsplit_once(' ').unwrap().0);
    }

    #[test]
    fn rejects_garbage() {
        for line in [
            "",
            "hello",
            "ssh-ed25519",
            "ssh-ed25519 !!!notbase64",
            "ssh-ed25519 AAAA",
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== x",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            // an ecdsa blob labelled ed25519
            "ssh-ed25519 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBA==",
        ] {
            let e = SshPublicKey::parse(line).unwrap_err();
            assert!(matches!(e, CoreError::Invalid { .. }), "{line:?}: {e}");
        }
    }

    #[test]
    fn names_default_from_the_comment() {
        assert_eq!(default_name("me@laptop"), "me-laptop");
        assert_eq!(default_name(""), "ssh-key");
        assert_eq!(default_name("@@"), "ssh-key");
    }
}
