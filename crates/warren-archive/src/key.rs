//! Archive keys: relative, slash-separated names such as `sandboxes/sb-1234.tar.zst`.
//!
//! The rules keep a key the same object on every backend: a local directory (where `..` or a
//! leading `/` would escape the archive directory, and object_store stages uploads as
//! `NAME#N`) and S3 (where any byte would do, but would be percent-encoded differently).

use crate::ArchiveError;

/// The longest key accepted (S3 allows 1024 bytes).
pub const MAX_KEY_LEN: usize = 1024;

/// Checks that `key` is a valid archive key: 1 to [`MAX_KEY_LEN`] characters from
/// `[A-Za-z0-9._/-]`, no leading or trailing `/`, no empty segment (`a//b`) and no `.` or `..`
/// segment.
pub fn validate_key(key: &str) -> Result<(), ArchiveError> {
    let reason = if key.is_empty() {
        Some("empty")
    } else if key.len() > MAX_KEY_LEN {
        Some("longer than 1024 bytes")
    } else if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'))
    {
        Some("only A-Z, a-z, 0-9, '.', '_', '-' and '/' are allowed")
    } else if key.starts_with('/') {
        Some("must not start with '/'")
    } else if key.ends_with('/') {
        Some("must not end with '/'")
    } else {
        key.split('/').find_map(|segment| match segment {
            "" => Some("must not contain an empty segment ('//')"),
            "." | ".." => Some("must not contain a '.' or '..' segment"),
            _ => None,
        })
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(ArchiveError::InvalidKey {
            key: key.to_owned(),
            reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for key in [
            "a",
            "sandboxes/sb-1.tar.zst",
            "snap/2026-11-28/x_y.z",
            "..a",
            "a..b/c...",
            ".hidden",
        ] {
            validate_key(key).unwrap_or_else(|e| panic!("{key}: {e}"));
        }
    }

    #[test]
    fn rejects_escaping_and_odd_keys() {
        let long = "a".repeat(MAX_KEY_LEN + 1);
        for (key, why) in [
            ("", "empty"),
            ("/abs", "start"),
            ("a/", "end"),
            ("a//b", "empty segment"),
            ("..", "'..'"),
            ("a/../b", "'..'"),
            ("./a", "'.'"),
            ("a b", "allowed"),
            ("a#1", "allowed"),
            ("a\\b", "allowed"),
            ("é", "allowed"),
            ("a\0", "allowed"),
            (long.as_str(), "longer"),
        ] {
            match validate_key(key) {
                Err(ArchiveError::InvalidKey { key: k, reason }) => {
                    assert_eq!(k, key);
                    assert!(reason.contains(why), "{key:?}: {reason}");
                }
                other => panic!("{key:?} accepted: {other:?}"),
            }
        }
    }
}
