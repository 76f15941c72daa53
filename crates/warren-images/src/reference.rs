//! Image references: parsing and normalising names like `busybox`,
//! `ghcr.io/a/b@sha256:…`, `localhost:5000/x` and `127.0.0.1:5000/x:tag`.
//!
//! The grammar follows the distribution project's reference grammar:
//! `[domain[:port]/]path[:tag][@digest]`. The first path component is a
//! domain when it contains a `.` or a `:`, or is `localhost`; otherwise the
//! image lives on Docker Hub (`docker.io`), where single-component names get
//! the `library/` prefix. A reference without tag or digest means `:latest`.

use std::fmt;

use crate::digest::Digest;
use crate::error::ReferenceError;

/// Docker Hub's canonical name, as it appears in normalised references.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's registry API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Registry host as written, with port if any (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// Repository path inside the registry (`library/busybox`).
    pub repository: String,
    /// Tag; `latest` when neither tag nor digest was given.
    pub tag: Option<String>,
    /// Manifest digest when the reference pins one.
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalises `s`. Errors name what is wrong with it.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        let invalid = |reason: String| ReferenceError::Invalid {
            reference: s.to_owned(),
            reason,
        };
        if s.is_empty() {
            return Err(invalid("it is empty".into()));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                "it contains whitespace or control characters".into(),
            ));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((name, d)) => {
                let digest = Digest::parse(d).map_err(|e| invalid(format!("bad digest: {e}")))?;
                (name, Some(digest))
            }
            None => (s, None),
        };
        // A ':' after the last '/' separates the tag (a ':' before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            validate_tag(tag).map_err(invalid)?;
        }
        if name.is_empty() {
            return Err(invalid("the repository name is empty".into()));
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                validate_domain(first).map_err(invalid)?;
                (first.to_owned(), path.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB.to_owned()
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        validate_path(&repository).map_err(invalid)?;
        if registry.len() + 1 + repository.len() > MAX_NAME_LEN {
            return Err(invalid(format!(
                "the name is longer than {MAX_NAME_LEN} characters"
            )));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_owned()),
            (None, Some(_)) => None,
            (None, None) => Some("latest".to_owned()),
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// Host (with port) to send registry API requests to.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// What to ask the registry's manifest endpoint for: the digest when
    /// pinned, else the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_owned(),
        }
    }

    /// True when the registry host is loopback (127.0.0.0/8, ::1, localhost),
    /// where plain HTTP is allowed without `insecure`.
    pub fn is_loopback(&self) -> bool {
        let host = host_without_port(&self.registry);
        if host == "localhost" {
            return true;
        }
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn host_without_port(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry.split(':').next().unwrap_or(registry)
}

fn validate_domain(domain: &str) -> Result<(), String> {
    let (host, port) = if domain.starts_with('[') {
        match domain.find(']') {
            Some(i) => (&domain[1..i], domain[i + 1..].strip_prefix(':')),
            None => return Err(format!("registry host {domain:?} has an unclosed '['")),
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    if let Some(port) = port
        && (port.is_empty()
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u16>().is_err())
    {
        return Err(format!(
            "registry port {port:?} is not a number from 0 to 65535"
        ));
    }
    if domain.starts_with('[') {
        return host
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| format!("registry host [{host}] is not an IPv6 address"));
    }
    let ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("registry host {host:?} is not a valid host name"))
    }
}

fn validate_path(path: &str) -> Result<(), String> {
    for component in path.split('/') {
        if component.is_empty() {
            return Err("the repository name has an empty path component".into());
        }
        if component.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "repository name component {component:?} must be lowercase"
            ));
        }
        let bytes = component.as_bytes();
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let valid_chars = bytes
            .iter()
            .all(|&b| alnum(b) || matches!(b, b'.' | b'_' | b'-'));
        let ends_ok = alnum(bytes[0]) && alnum(bytes[bytes.len() - 1]);
        // Separators: '.', '_', '__', or any run of '-'; never mixed or doubled otherwise.
        let separators_ok = component
            .split(|c: char| c.is_ascii_alphanumeric())
            .all(|sep| matches!(sep, "" | "." | "_" | "__") || sep.bytes().all(|b| b == b'-'));
        if !(valid_chars && ends_ok && separators_ok) {
            return Err(format!(
                "repository name component {component:?} may only contain lowercase letters, \
                 digits and single separators (., _, __, -) between them"
            ));
        }
    }
    Ok(())
}

fn validate_tag(tag: &str) -> Result<(), String> {
    let bytes = tag.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    if tag.is_empty() {
        return Err("the tag after ':' is empty".into());
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(format!("the tag is longer than {MAX_TAG_LEN} characters"));
    }
    if !word(bytes[0]) || !bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-') {
        return Err(format!(
            "tag {tag:?} may only contain letters, digits, '_', '.' and '-' and must not start with '.' or '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn docker_hub_short_names() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "library/busybox");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert!(!r.is_loopback());
        let r = Reference::parse("user/app:1.2").unwrap();
        assert_eq!(r.to_string(), "docker.io/user/app:1.2");
        let r = Reference::parse("docker.io/library/busybox:latest").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        let r = Reference::parse("index.docker.io/busybox").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
    }

    #[test]
    fn registries_ports_and_digests() {
        let r = Reference::parse(&format!("ghcr.io/a/b@{D}")).unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("ghcr.io", "a/b")
        );
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_ref(), D);
        assert_eq!(r.to_string(), format!("ghcr.io/a/b@{D}"));

        let r = Reference::parse("localhost:5000/x").unwrap();
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "x");
        assert!(r.is_loopback());

        let r = Reference::parse("127.0.0.1:5000/x:tag").unwrap();
        assert_eq!(r.to_string(), "127.0.0.1:5000/x:tag");
        assert!(r.is_loopback());
        assert_eq!(r.api_host(), "127.0.0.1:5000");

        let r = Reference::parse("localhost/x").unwrap();
        assert_eq!(r.registry, "localhost");
        let r = Reference::parse("[::1]:5000/x/y:v1").unwrap();
        assert_eq!(r.registry, "[::1]:5000");
        assert!(r.is_loopback());
        let r = Reference::parse(&format!("quay.io/a/b:v1@{D}")).unwrap();
        assert_eq!(r.to_string(), format!("quay.io/a/b:v1@{D}"));
        assert!(Reference::parse("127.1.2.3:80/x").unwrap().is_loopback());
    }

    #[test]
    fn rejects_invalid_with_reason() {
        for (input, needle) in [
            ("", "empty"),
            ("Busybox", "lowercase"),
            ("busybox:", "tag after ':' is empty"),
            ("busybox:-x", "tag"),
            ("a//b", "empty path component"),
            ("a/b/", "empty path component"),
            ("busy box", "whitespace"),
            ("busybox@sha256:abc", "digest"),
            ("busybox@md5:0123", "digest"),
            ("localhost:99999/x", "port"),
            ("ex-.com/x", "host"),
            ("a..b", "separators"),
            ("_a", "separators"),
        ] {
            let err = Reference::parse(input).unwrap_err().to_string();
            assert!(err.contains(needle), "{input:?}: {err}");
        }
        let long = "a".repeat(300);
        assert!(
            Reference::parse(&long)
                .unwrap_err()
                .to_string()
                .contains("longer")
        );
        assert!(Reference::parse(&format!("x:{}", "t".repeat(129))).is_err());
    }
}
