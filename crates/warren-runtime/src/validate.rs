//! Checks on a [`SandboxSpec`] before anything touches the host. Ids become path components and
//! cgroup names, so they are checked strictly.

use crate::{SandboxSpec, SpecError};

/// Is `id` a valid sandbox id: 1-64 characters of `[a-z0-9-]`, not starting with `-`?
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn clean(field: &'static str, s: &str) -> Result<(), SpecError> {
    if s.contains(['\0', '\n']) {
        return Err(SpecError::BadCharacters { field });
    }
    Ok(())
}

/// Validate a spec (see [`SpecError`] for the rules).
pub fn validate_spec(spec: &SandboxSpec) -> Result<(), SpecError> {
    if !is_valid_id(&spec.id) {
        return Err(SpecError::InvalidId {
            id: spec.id.clone(),
        });
    }
    let h = &spec.hostname;
    if h.is_empty()
        || h.len() > 64
        || !h
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(SpecError::InvalidHostname {
            hostname: h.clone(),
        });
    }
    for e in &spec.env {
        if e.contains('\0') || e.split_once('=').is_none_or(|(k, _)| k.is_empty()) {
            return Err(SpecError::InvalidEnv { entry: e.clone() });
        }
    }
    for l in &spec.layers {
        let s = l.to_string_lossy();
        if !l.is_absolute() || s.contains([':', ',', '\0', '\n']) {
            return Err(SpecError::InvalidLayerPath { path: l.clone() });
        }
    }
    if let Some(bad) = spec.snapshot_layers.iter().find(|s| !is_valid_id(s)) {
        return Err(SpecError::InvalidSnapshot { id: bad.clone() });
    }
    if let Some(from) = &spec.restore_from
        && spec.snapshot_layers.last() != Some(from)
    {
        return Err(SpecError::InvalidSnapshot { id: from.clone() });
    }
    clean("workdir", &spec.workdir)?;
    clean("user", &spec.user)?;
    if let Some(cmd) = &spec.main_cmd {
        if cmd.is_empty() {
            return Err(SpecError::EmptyMainCmd);
        }
        for a in cmd {
            if a.contains('\0') {
                return Err(SpecError::BadCharacters { field: "main_cmd" });
            }
        }
    }
    let cpu = spec.limits.cpu_millis;
    if cpu > 0 && cpu < 10 {
        return Err(SpecError::CpuTooSmall { millis: cpu });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;
    use std::path::PathBuf;

    fn ok() -> SandboxSpec {
        SandboxSpec {
            id: "sb-3f9k2x".into(),
            hostname: "sb-3f9k2x".into(),
            layers: vec![PathBuf::from("/var/lib/warren/layers/a")],
            env: vec!["PATH=/bin".into(), "EMPTY=".into()],
            workdir: String::new(),
            user: String::new(),
            main_cmd: None,
            limits: Limits::default(),
            snapshot_layers: Vec::new(),
            restore_from: None,
            network: None,
        }
    }

    #[test]
    fn ids() {
        assert!(is_valid_id("sb-3f9k2x"));
        assert!(is_valid_id(&"a".repeat(64)));
        for bad in ["", "-x", "Sb", "a/b", "..", "a_b", &"a".repeat(65)] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn spec_rules() {
        validate_spec(&ok()).unwrap();
        let mut s = ok();
        s.env.push("NOEQUALS".into());
        assert!(matches!(
            validate_spec(&s),
            Err(SpecError::InvalidEnv { .. })
        ));
        let mut s = ok();
        s.layers.push(PathBuf::from("relative"));
        assert!(matches!(
            validate_spec(&s),
            Err(SpecError::InvalidLayerPath { .. })
        ));
        let mut s = ok();
        s.layers.push(PathBuf::from("/a:b"));
        assert!(matches!(
            validate_spec(&s),
            Err(SpecError::InvalidLayerPath { .. })
        ));
        let mut s = ok();
        s.main_cmd = Some(vec![]);
        assert!(matches!(validate_spec(&s), Err(SpecError::EmptyMainCmd)));
        let mut s = ok();
        s.limits.cpu_millis = 5;
        assert!(matches!(
            validate_spec(&s),
            Err(SpecError::CpuTooSmall { .. })
        ));
        let mut s = ok();
        s.snapshot_layers = vec!["snap-a".into(), "../x".into()];
        assert!(matches!(
            validate_spec(&s),
            Err(SpecError::InvalidSnapshot { .. })
        ));
        let mut s = ok();
        s.snapshot_layers = vec!["snap-a".into(), "snap-b".into()];
        s.restore_from = Some("snap-a".into());
        assert!(matches!(
            validate_spec(&s),
            Err(SpecError::InvalidSnapshot { .. })
        ));
        s.restore_from = Some("snap-b".into());
        validate_spec(&s).unwrap();
        let mut s = ok();
        s.hostname = "bad host".into();
        assert!(matches!(
            validate_spec(&s),
            Err(SpecError::InvalidHostname { .. })
        ));
    }
}
