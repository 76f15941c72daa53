//! Input validation shared by the operations: every message names its field.

use crate::CoreError;

/// Longest accepted command argument, env value, or path (bytes).
const MAX_ARG: usize = 128 * 1024;
/// Most arguments / env entries / labels accepted.
const MAX_ITEMS: usize = 1024;

/// A command: at least one element, no NUL bytes, bounded size.
pub(crate) fn command(field: &'static str, cmd: &[String]) -> Result<(), CoreError> {
    if cmd.is_empty() || cmd[0].is_empty() {
        return Err(CoreError::invalid(
            field,
            "must name a program, e.g. [\"sh\", \"-c\", \"echo hi\"]",
        ));
    }
    if cmd.len() > MAX_ITEMS {
        return Err(CoreError::invalid(
            field,
            format!("at most {MAX_ITEMS} arguments"),
        ));
    }
    for arg in cmd {
        no_nul(field, arg)?;
        if arg.len() > MAX_ARG {
            return Err(CoreError::invalid(
                field,
                format!("an argument is longer than {MAX_ARG} bytes"),
            ));
        }
    }
    Ok(())
}

/// Environment variable names are POSIX-portable; values have no NUL.
pub(crate) fn env<'a>(
    field: &'static str,
    env: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<(), CoreError> {
    for (i, (key, value)) in env.into_iter().enumerate() {
        if i >= MAX_ITEMS {
            return Err(CoreError::invalid(
                field,
                format!("at most {MAX_ITEMS} variables"),
            ));
        }
        let mut chars = key.chars();
        let ok_start = chars
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic());
        if !ok_start || !chars.all(|c| c == '_' || c.is_ascii_alphanumeric()) {
            return Err(CoreError::invalid(
                field,
                format!(
                    "{key:?} is not a valid variable name (letters, digits, _; not starting with a digit)"
                ),
            ));
        }
        no_nul(field, value)?;
        if value.len() > MAX_ARG {
            return Err(CoreError::invalid(
                field,
                format!("value of {key} is longer than {MAX_ARG} bytes"),
            ));
        }
    }
    Ok(())
}

/// Labels: keys 1-63 of `[A-Za-z0-9._/-]`, values 0-63 printable characters.
pub(crate) fn labels<'a>(
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<(), CoreError> {
    for (i, (k, v)) in labels.into_iter().enumerate() {
        if i >= 64 {
            return Err(CoreError::invalid("labels", "at most 64 labels"));
        }
        let key_ok = (1..=63).contains(&k.len())
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c));
        if !key_ok {
            return Err(CoreError::invalid(
                "labels",
                format!("key {k:?} must be 1-63 characters of letters, digits, '.', '_', '/', '-'"),
            ));
        }
        if v.chars().count() > 63 || v.chars().any(char::is_control) {
            return Err(CoreError::invalid(
                "labels",
                format!("value of {k:?} must be at most 63 printable characters"),
            ));
        }
    }
    Ok(())
}

/// Metadata: at most 64 entries, keys 1-128 bytes without control characters, values up to 4096
/// bytes without NUL.
pub(crate) fn metadata<'a>(
    metadata: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<(), CoreError> {
    for (i, (k, v)) in metadata.into_iter().enumerate() {
        if i >= 64 {
            return Err(CoreError::invalid("metadata", "at most 64 entries"));
        }
        if !(1..=128).contains(&k.len()) || k.chars().any(char::is_control) {
            return Err(CoreError::invalid(
                "metadata",
                format!("key {k:?} must be 1-128 bytes without control characters"),
            ));
        }
        if v.len() > 4096 || v.contains('\0') {
            return Err(CoreError::invalid(
                "metadata",
                format!("value of {k:?} must be at most 4096 bytes without NUL"),
            ));
        }
    }
    Ok(())
}

/// An absolute path inside a sandbox.
pub(crate) fn sandbox_path(field: &'static str, path: &str) -> Result<(), CoreError> {
    if !path.starts_with('/') {
        return Err(CoreError::invalid(
            field,
            format!("{path:?} must be an absolute path"),
        ));
    }
    if path.len() > 4096 {
        return Err(CoreError::invalid(field, "longer than 4096 bytes"));
    }
    no_nul(field, path)
}

/// A user name or uid as the image's User field allows: `name`, `uid`, `uid:gid`.
pub(crate) fn user(field: &'static str, user: &str) -> Result<(), CoreError> {
    let ok = !user.is_empty()
        && user.len() <= 64
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(
            field,
            format!("{user:?} is not a user name or uid"),
        ))
    }
}

fn no_nul(field: &'static str, s: &str) -> Result<(), CoreError> {
    if s.contains('\0') {
        return Err(CoreError::invalid(field, "contains a NUL byte"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn commands() {
        assert!(command("cmd", &["ls".into()]).is_ok());
        assert!(command("cmd", &[]).is_err());
        assert!(command("cmd", &["".into()]).is_err());
        let err = command("cmd", &["a\0b".into()]).unwrap_err();
        assert_eq!(err.to_string(), "cmd: contains a NUL byte");
    }

    #[test]
    fn env_names() {
        assert!(env("env", &map(&[("PATH", "/bin"), ("_x1", "")])).is_ok());
        assert!(env("env", &map(&[("1A", "x")])).is_err());
        assert!(env("env", &map(&[("A=B", "x")])).is_err());
        assert!(env("env", &map(&[("", "x")])).is_err());
    }

    #[test]
    fn label_rules() {
        assert!(labels(&map(&[("team", "infra"), ("app.kubernetes.io/name", "")])).is_ok());
        assert!(labels(&map(&[("", "x")])).is_err());
        assert!(labels(&map(&[("a b", "x")])).is_err());
        assert!(labels(&map(&[("k", &"v".repeat(64))])).is_err());
        assert!(metadata(&map(&[("run id", "any text: é, spaces, {json}")])).is_ok());
        assert!(metadata(&map(&[("", "x")])).is_err());
        assert!(metadata(&map(&[("k", &"v".repeat(4097))])).is_err());
        assert!(metadata(&map(&[("k", "a\0b")])).is_err());
    }

    #[test]
    fn paths_and_users() {
        assert!(sandbox_path("path", "/etc/hosts").is_ok());
        assert!(sandbox_path("path", "etc/hosts").is_err());
        assert!(user("user", "1000:1000").is_ok());
        assert!(user("user", "app").is_ok());
        assert!(user("user", "a b").is_err());
        assert!(user("user", "").is_err());
    }
}
