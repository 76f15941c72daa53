//! E2B templates → what warren boots: a table of aliases (`--e2b-template alias=target`), `base`
//! (E2B's default template) → the default target (`--e2b-default-template`), and otherwise the
//! `templateID` itself as a snapshot id or name, else as an image reference.

use std::collections::BTreeMap;

use warren_core::Core;

use super::error::E2bError;

/// E2B's name of the template used when none is given.
pub(crate) const BASE: &str = "base";

/// How E2B templates map to warren images and snapshots.
#[derive(Debug, Clone, Default)]
pub struct E2bConfig {
    /// What `base` (and any template not otherwise found) names; `None`: `base` is refused.
    default_template: Option<String>,
    /// Alias → image reference or snapshot id/name.
    aliases: BTreeMap<String, String>,
}

/// An `alias=target` pair that is not one.
#[derive(Debug, thiserror::Error)]
#[error("E2B template alias {given:?} must be ALIAS=IMAGE-OR-SNAPSHOT with both sides non-empty")]
pub struct BadAlias {
    /// What was given.
    pub given: String,
}

impl E2bConfig {
    /// A table from `--e2b-default-template` and the `--e2b-template alias=target` pairs.
    pub fn new(default_template: Option<String>, aliases: &[String]) -> Result<Self, BadAlias> {
        let mut table = BTreeMap::new();
        for pair in aliases {
            let (alias, target) = pair
                .split_once('=')
                .map(|(a, t)| (a.trim(), t.trim()))
                .filter(|(a, t)| !a.is_empty() && !t.is_empty())
                .ok_or_else(|| BadAlias {
                    given: pair.clone(),
                })?;
            table.insert(alias.to_owned(), target.to_owned());
        }
        Ok(Self {
            default_template: default_template.filter(|t| !t.trim().is_empty()),
            aliases: table,
        })
    }

    /// The alias table's target of `template`, `base`'s default, or the name itself.
    fn target<'a>(&'a self, template: &'a str) -> Result<&'a str, E2bError> {
        if let Some(t) = self.aliases.get(template) {
            return Ok(t);
        }
        if template == BASE {
            return self.default_template.as_deref().ok_or_else(|| {
                E2bError::bad_request(
                    "template \"base\" has no image on this server: start warren with \
                     --e2b-default-template IMAGE or give a templateID naming an image or snapshot",
                )
            });
        }
        Ok(template)
    }
}

/// What a template boots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// An image reference.
    Image(String),
    /// A snapshot id.
    Snapshot(String),
}

/// Resolve `template` to an image or a snapshot.
pub(crate) async fn resolve(
    core: &Core,
    config: &E2bConfig,
    template: &str,
) -> Result<Source, E2bError> {
    let template = template.trim();
    if template.is_empty() {
        return Err(E2bError::bad_request("templateID must not be empty"));
    }
    let target = config.target(template)?;
    match core.get_snapshot(target).await {
        Ok(snap) => Ok(Source::Snapshot(snap.id)),
        Err(e) if e.kind() == warren_core::ErrorKind::SnapshotNotFound => {
            Ok(Source::Image(target.to_owned()))
        }
        Err(e) if e.kind() == warren_core::ErrorKind::InvalidInput => {
            Ok(Source::Image(target.to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_base() {
        let c = E2bConfig::new(
            Some("python:3.12".into()),
            &["code=snap-abc".into(), " node = node:22 ".into()],
        )
        .unwrap();
        assert_eq!(c.target("code").unwrap(), "snap-abc");
        assert_eq!(c.target("node").unwrap(), "node:22");
        assert_eq!(c.target("base").unwrap(), "python:3.12");
        assert_eq!(c.target("busybox").unwrap(), "busybox");
        assert!(E2bConfig::new(None, &["x".into()]).is_err());
        assert!(E2bConfig::new(None, &["=y".into()]).is_err());
        let none = E2bConfig::new(None, &[]).unwrap();
        assert_eq!(none.target("base").unwrap_err().status.as_u16(), 400);
    }
}
