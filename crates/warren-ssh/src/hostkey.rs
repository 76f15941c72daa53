//! The gateway's host key: an Ed25519 key in OpenSSH format, created on first start and kept,
//! so clients' `known_hosts` entries stay valid across restarts.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use russh::keys::PrivateKey;
use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;

use crate::SshError;

/// Read the key at `path`, or create one there (mode 0600, written via a temp file and
/// renamed, so a crash never leaves half a key).
pub(crate) fn load_or_create(path: &Path) -> Result<PrivateKey, SshError> {
    match std::fs::read_to_string(path) {
        Ok(pem) => PrivateKey::from_openssh(pem).map_err(|source| SshError::ParseHostKey {
            path: path.to_owned(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path),
        Err(source) => Err(SshError::ReadHostKey {
            path: path.to_owned(),
            source,
        }),
    }
}

fn create(path: &Path) -> Result<PrivateKey, SshError> {
    let write_err = |source| SshError::WriteHostKey {
        path: path.to_owned(),
        source,
    };
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| write_err(std::io::Error::other(e.to_string())))?;
    let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    key.set_comment("warren ssh gateway");
    let pem = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| write_err(std::io::Error::other(e)))?;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(write_err)?;
    file.write_all(pem.as_bytes()).map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    std::fs::rename(&tmp, path).map_err(write_err)?;
    tracing::info!(path = %path.display(), "created the SSH host key");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn created_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ssh_host_ed25519_key");
        let a = load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = load_or_create(&path).unwrap();
        assert_eq!(a.public_key(), b.public_key());
    }

    #[test]
    fn garbage_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "not a key").unwrap();
        assert!(matches!(
            load_or_create(&path),
            Err(SshError::ParseHostKey { .. })
        ));
    }
}
