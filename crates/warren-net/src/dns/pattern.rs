//! Domain patterns, as users write them in a sandbox's allowed-domains list.
//!
//! `example.com` allows the name itself and every name below it; `*.example.com` allows only the
//! names strictly below it. Matching is by whole labels (never `badexample.com`), ignores ASCII
//! case and one trailing dot on either side.

/// Does `name` match `pattern`? A pattern `example.com` matches `example.com` and every name
/// below it (`a.b.example.com`), never `badexample.com`; `*.example.com` matches only names
/// strictly below it. Case-insensitive, a trailing dot ignored on either side. An empty pattern
/// (or a bare `*`) matches nothing.
pub fn domain_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.strip_suffix('.').unwrap_or(pattern);
    let name = name.strip_suffix('.').unwrap_or(name);
    let (base, strictly_below) = match pattern.strip_prefix("*.") {
        Some(base) => (base, true),
        None => (pattern, false),
    };
    if base.is_empty() || base == "*" {
        return false;
    }
    if name.eq_ignore_ascii_case(base) {
        return !strictly_below;
    }
    // `name` ends with `.base`, compared on bytes so a multi-byte character can't split.
    let (name, base) = (name.as_bytes(), base.as_bytes());
    name.len() > base.len()
        && name[name.len() - base.len() - 1] == b'.'
        && name[name.len() - base.len()..].eq_ignore_ascii_case(base)
}

/// Is `pattern` a valid domain pattern? `Err` says why not, in words for the user.
///
/// Valid: letters, digits, `-` and `_` in labels of 1 to 63 characters (not starting or ending
/// with `-`), at most 253 characters, an optional trailing dot, and optionally `*.` as the whole
/// first label. Not an IP address (the last label can't be all digits).
pub fn validate_domain_pattern(pattern: &str) -> Result<(), String> {
    let body = pattern.strip_suffix('.').unwrap_or(pattern);
    let body = body.strip_prefix("*.").unwrap_or(body);
    if body.is_empty() {
        return Err(format!("{pattern:?} is not a domain name"));
    }
    if body.len() > 253 {
        return Err(format!("{pattern:?} is longer than 253 characters"));
    }
    if !body.is_ascii() {
        return Err(format!(
            "{pattern:?} has non-ASCII characters; write internationalized names in their xn-- form"
        ));
    }
    if body.contains('*') {
        return Err(format!(
            "{pattern:?}: a wildcard can only be the whole first label, as in *.example.com"
        ));
    }
    for label in body.split('.') {
        if label.is_empty() {
            return Err(format!(
                "{pattern:?} has an empty label (two dots in a row, or a leading dot)"
            ));
        }
        if label.len() > 63 {
            return Err(format!("{pattern:?} has a label longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "{pattern:?} has the character {c:?}; only letters, digits, '-' and '_' are allowed"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "{pattern:?} has a label starting or ending with '-'"
            ));
        }
    }
    if body
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "{pattern:?} looks like an IP address; domain patterns are names"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches() {
        let table = [
            ("example.com", "example.com", true),
            ("example.com", "www.example.com", true),
            ("example.com", "a.b.example.com", true),
            ("example.com", "badexample.com", false),
            ("example.com", "example.com.evil.net", false),
            ("example.com", "com", false),
            ("Example.COM", "WWW.example.com", true),
            ("example.com.", "www.example.com", true),
            ("example.com", "www.example.com.", true),
            ("example.com.", "example.com.", true),
            ("*.example.com", "example.com", false),
            ("*.example.com", "www.example.com", true),
            ("*.example.com", "a.b.example.com", true),
            ("*.example.com", "badexample.com", false),
            ("*.example.com", "x.badexample.com", false),
            ("*.example.com.", "WWW.Example.Com", true),
            ("", "example.com", false),
            ("", "", false),
            ("*", "example.com", false),
            ("*.", "example.com", false),
            ("example.com", "", false),
            ("example.com", "evil\\046example.com", false),
            ("example.com", "a\\046b.example.com", true),
            ("é.com", "x.é.com", true),
            ("com", "example.com", true),
        ];
        for (pattern, name, want) in table {
            assert_eq!(
                domain_matches(pattern, name),
                want,
                "{pattern:?} vs {name:?}"
            );
        }
    }

    #[test]
    fn validation() {
        for ok in [
            "example.com",
            "*.example.com",
            "example.com.",
            "a-b.c_d.io",
            "localhost",
            "xn--bcher-kva.de",
        ] {
            assert_eq!(validate_domain_pattern(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "not a domain"),
            ("*", "wildcard"),
            ("*.", "wildcard"),
            (".", "not a domain"),
            ("a..b", "empty label"),
            (".example.com", "empty label"),
            ("foo.*.com", "wildcard"),
            ("*example.com", "wildcard"),
            ("**.example.com", "wildcard"),
            ("exa mple.com", "character ' '"),
            ("-a.com", "starting or ending"),
            ("bücher.de", "xn--"),
            ("10.0.0.1", "IP address"),
        ] {
            let err = validate_domain_pattern(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(
            validate_domain_pattern(&long_label)
                .unwrap_err()
                .contains("63")
        );
        let long = vec!["a".repeat(60); 5].join(".");
        assert!(validate_domain_pattern(&long).unwrap_err().contains("253"));
    }
}
