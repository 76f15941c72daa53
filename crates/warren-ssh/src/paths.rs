//! SFTP paths: clients send relative paths and `..`; everything is resolved against the
//! sandbox's root `/` here, so no path handed to core is relative or climbs above `/` (the
//! agent confines paths to the sandbox anyway).

/// Resolve `path` against `/`: `.` and empty components dropped, `..` pops (never above `/`).
pub(crate) fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The directory holding `path` (a normalized path); `/` for `/` itself.
pub(crate) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

#[cfg(test)]
mod tests {
    use super::{normalize, parent};

    #[test]
    fn parents() {
        assert_eq!(parent("/"), "/");
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/a/b/c"), "/a/b");
    }

    #[test]
    fn resolves_against_root() {
        assert_eq!(normalize(""), "/");
        assert_eq!(normalize("."), "/");
        assert_eq!(normalize("a/b"), "/a/b");
        assert_eq!(normalize("/a//b/./c/"), "/a/b/c");
        assert_eq!(normalize("/a/../b"), "/b");
    }

    #[test]
    fn never_climbs_above_root() {
        assert_eq!(normalize(".."), "/");
        assert_eq!(normalize("/../../etc/passwd"), "/etc/passwd");
        assert_eq!(normalize("a/../../.."), "/");
    }
}
