//! Random identifiers and secrets.

/// Lower-case letters and digits: ids are easy to type and safe in host names.
const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Letters and digits of both cases: more entropy per character for keys.
const KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `n` characters drawn uniformly from `alphabet` (rejection sampling, no modulo bias).
fn random_string(alphabet: &[u8], n: usize) -> String {
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        getrandom::fill(&mut buf).expect("the OS random source failed");
        for &b in &buf {
            if (b as usize) < limit && out.len() < n {
                out.push(alphabet[b as usize % alphabet.len()] as char);
            }
        }
    }
    out
}

/// A new sandbox id, `sb-` + 10 characters (~51 bits).
pub(crate) fn sandbox_id() -> String {
    format!("sb-{}", random_string(ID_ALPHABET, 10))
}

/// A new snapshot id, `snap-` + 10 characters.
pub(crate) fn snapshot_id() -> String {
    format!("snap-{}", random_string(ID_ALPHABET, 10))
}

/// A new API key id.
pub(crate) fn key_id() -> String {
    format!("key-{}", random_string(ID_ALPHABET, 10))
}

/// A new SSH public key id.
pub(crate) fn ssh_key_id() -> String {
    format!("sshkey-{}", random_string(ID_ALPHABET, 10))
}

/// A new API key secret: `wrn_` + 40 characters (~238 bits).
pub(crate) fn api_key() -> String {
    format!("wrn_{}", random_string(KEY_ALPHABET, 40))
}

/// A new per-sandbox access token for its ports (preview URLs): 32 characters (~190 bits).
pub(crate) fn access_token() -> String {
    random_string(KEY_ALPHABET, 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_documented_shape() {
        let id = sandbox_id();
        assert_eq!(id.len(), 13);
        assert!(id[3..].bytes().all(|b| ID_ALPHABET.contains(&b)));
        assert_ne!(sandbox_id(), sandbox_id());
        let key = api_key();
        assert!(key.starts_with("wrn_") && key.len() == 44);
    }
}
