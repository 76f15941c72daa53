//! Who may open what: a connection authenticates as (sandbox, actor).
//!
//! The SSH user name is the sandbox id. A password must be a full-scope API key (a read-only
//! key cannot run commands or write files, which is all SSH does); a public key must be
//! registered (`/v1/ssh-keys`). An unknown sandbox is refused exactly like bad credentials.

use warren_core::{Core, CoreError, Scope, ssh_actor};

/// An authenticated connection: the sandbox it may use and the actor its events record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authed {
    /// Sandbox id (the SSH user name).
    pub(crate) sandbox: String,
    /// API key name, or `ssh:<key name>`.
    pub(crate) actor: String,
}

/// What the client presented.
pub(crate) enum Credential<'a> {
    /// A password: an API key.
    ApiKey(&'a str),
    /// A public key whose possession was proven, by its `SHA256:` fingerprint.
    PublicKey(&'a str),
}

/// The principal for `user` presenting `cred`, or `None` (refused).
pub(crate) async fn check(core: &Core, user: &str, cred: Credential<'_>) -> Option<Authed> {
    let actor = match cred {
        Credential::ApiKey(secret) => match core.authenticate(secret).await {
            Ok(p) if p.scope == Scope::Full => p.key_name,
            Ok(p) => {
                tracing::info!(key = %p.key_name, "SSH refused a read-only API key");
                return None;
            }
            Err(e) => return refused(e),
        },
        Credential::PublicKey(fingerprint) => match core.find_ssh_key(fingerprint).await {
            Ok(Some(k)) => ssh_actor(&k.name),
            Ok(None) => return None,
            Err(e) => return refused(e),
        },
    };
    match core.get_sandbox(user).await {
        Ok(_) => Some(Authed {
            sandbox: user.to_owned(),
            actor,
        }),
        Err(e) => refused(e),
    }
}

/// Whether a public key is worth a signature (registered at all), before the client signs.
pub(crate) async fn known_key(core: &Core, fingerprint: &str) -> bool {
    matches!(core.find_ssh_key(fingerprint).await, Ok(Some(_)))
}

fn refused(e: CoreError) -> Option<Authed> {
    if !matches!(
        e,
        CoreError::Unauthorized | CoreError::SandboxNotFound { .. }
    ) {
        tracing::warn!(error = %e.chain(), "SSH authentication failed");
    }
    None
}

#[cfg(test)]
mod tests {
    use russh::keys::{HashAlg, PublicKey};
    use warren_core::SshPublicKey;

    /// Core fingerprints registered keys without a crypto library; the gateway looks them up
    /// by the fingerprint russh computes. Both must agree.
    #[test]
    fn core_and_russh_agree_on_fingerprints() {
        for line in [
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop",
            "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg= x",
        ] {
            let core = SshPublicKey::parse(line).unwrap().fingerprint();
            let russh = PublicKey::from_openssh(line)
                .unwrap()
                .fingerprint(HashAlg::Sha256)
                .to_string();
            assert_eq!(core, russh, "{line}");
        }
    }
}
