//! Path normalisation, as envd does it: `~` and `~/x` expand to the user's home, relative paths
//! resolve against the home directory, and the result is cleaned lexically (`.`, `..`, `//`).
//! Symlinks and `..` are then resolved by the kernel inside the sandbox's mount namespace, which
//! is the confinement: the agent has no view of the host.

use std::path::PathBuf;

/// Why a path is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Empty path.
    #[error("path is empty")]
    Empty,
    /// Contains a NUL byte.
    #[error("path {0:?} contains a NUL byte")]
    Nul(String),
    /// `~name/...`: other users' homes are not expanded.
    #[error("cannot expand '{0}': only '~' and '~/...' are supported")]
    OtherHome(String),
}

/// Resolve `path` for a user whose home is `home`.
pub fn resolve(path: &str, home: &str) -> Result<PathBuf, PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.contains('\0') {
        return Err(PathError::Nul(path.into()));
    }
    let expanded = match path.strip_prefix('~') {
        Some("") => home.to_string(),
        Some(rest) if rest.starts_with('/') => format!("{home}{rest}"),
        Some(_) => return Err(PathError::OtherHome(path.into())),
        None if path.starts_with('/') => path.to_string(),
        None => format!("{home}/{path}"),
    };
    Ok(PathBuf::from(clean(&expanded)))
}

/// Lexically clean an absolute path (Go's `filepath.Clean` for absolute input).
pub fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves() {
        let r = |p: &str| resolve(p, "/home/u").map(|p| p.to_string_lossy().into_owned());
        assert_eq!(r("/a/b").unwrap(), "/a/b");
        assert_eq!(r("a/b").unwrap(), "/home/u/a/b");
        assert_eq!(r("~").unwrap(), "/home/u");
        assert_eq!(r("~/x/../y").unwrap(), "/home/u/y");
        assert_eq!(r("../../../../etc").unwrap(), "/etc");
        assert_eq!(r("/a//b/./c/").unwrap(), "/a/b/c");
        assert_eq!(r("."), Ok("/home/u".into()));
        assert_eq!(r(""), Err(PathError::Empty));
        assert_eq!(r("a\0b"), Err(PathError::Nul("a\0b".into())));
        assert_eq!(r("~root/x"), Err(PathError::OtherHome("~root/x".into())));
        assert_eq!(clean("/"), "/");
        assert_eq!(clean("/.."), "/");
    }
}
