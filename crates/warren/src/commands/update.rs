//! `warren sandbox update`: change labels, metadata and lifecycle rules of a live sandbox.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use warren_api_types::{LifecyclePolicy, UpdateSandboxRequest};

use crate::cli::Remote;
use crate::{config, output};

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Sandbox id.
    pub id: String,
    /// Set label KEY=VALUE, or remove it with KEY- (repeatable).
    #[arg(short, long = "label", value_name = "KEY=VALUE|KEY-")]
    pub labels: Vec<String>,
    /// Set metadata KEY=VALUE, or remove it with KEY- (repeatable).
    #[arg(short, long = "metadata", value_name = "KEY=VALUE|KEY-")]
    pub metadata: Vec<String>,
    /// New idle timeout (e.g. 15m; 0: never); the policy's other rules are kept.
    #[arg(long, value_parser = crate::cli::duration_s)]
    pub idle_timeout: Option<u64>,
    /// What idleness does: pause, hibernate or stop.
    #[arg(long, value_parser = crate::cli::idle_action)]
    pub idle_action: Option<warren_api_types::IdleAction>,
    /// Archive after this long stopped or hibernated (0: never).
    #[arg(long, value_parser = crate::cli::duration_s)]
    pub auto_archive_after: Option<u64>,
    /// Delete after this long stopped, hibernated or archived (0: never).
    #[arg(long, value_parser = crate::cli::duration_s)]
    pub auto_delete_after: Option<u64>,
    /// Delete this long after creation (0: never).
    #[arg(long, value_parser = crate::cli::duration_s)]
    pub ttl: Option<u64>,
    #[command(flatten)]
    pub network: super::network::NetworkFlags,
    #[command(flatten)]
    pub remote: Remote,
}

impl UpdateArgs {
    fn changes_policy(&self) -> bool {
        self.idle_timeout.is_some()
            || self.idle_action.is_some()
            || self.auto_archive_after.is_some()
            || self.auto_delete_after.is_some()
            || self.ttl.is_some()
    }

    /// The sandbox's policy with the given rules changed. The API replaces the whole policy and
    /// fills absent rules from the server's defaults, so every rule is sent: off as 0.
    fn policy(&self, current: &LifecyclePolicy) -> LifecyclePolicy {
        let keep = |given: Option<u64>, now: Option<u64>| Some(given.or(now).unwrap_or(0));
        LifecyclePolicy {
            idle_timeout_s: keep(self.idle_timeout, current.idle_timeout_s),
            idle_action: self.idle_action.or(current.idle_action),
            auto_archive_after_s: keep(self.auto_archive_after, current.auto_archive_after_s),
            auto_delete_after_s: keep(self.auto_delete_after, current.auto_delete_after_s),
            ttl_s: keep(self.ttl, current.ttl_s),
        }
    }
}

/// One `KEY=VALUE` (set) or `KEY-` (remove) edit.
#[derive(Debug, PartialEq)]
enum Edit<'a> {
    Set(&'a str, &'a str),
    Remove(&'a str),
}

fn parse_edit<'a>(flag: &str, item: &'a str) -> anyhow::Result<Edit<'a>> {
    if let Some((k, v)) = item.split_once('=') {
        return Ok(Edit::Set(k, v));
    }
    if let Some(k) = item.strip_suffix('-') {
        return Ok(Edit::Remove(k));
    }
    bail!("--{flag} {item:?}: expected KEY=VALUE to set or KEY- to remove")
}

/// `current` with `edits` applied, or `None` when there are no edits (the field is left alone).
fn apply(
    flag: &str,
    current: &BTreeMap<String, String>,
    edits: &[String],
) -> anyhow::Result<Option<BTreeMap<String, String>>> {
    if edits.is_empty() {
        return Ok(None);
    }
    let mut out = current.clone();
    for item in edits {
        match parse_edit(flag, item)? {
            Edit::Set(k, v) => {
                out.insert(k.to_owned(), v.to_owned());
            }
            Edit::Remove(k) => {
                out.remove(k);
            }
        }
    }
    Ok(Some(out))
}

pub async fn run(args: UpdateArgs) -> anyhow::Result<ExitCode> {
    let network = args.network.policy();
    let public_ports = args.network.public_ports();
    if args.labels.is_empty()
        && args.metadata.is_empty()
        && !args.changes_policy()
        && network.is_none()
        && public_ports.is_none()
    {
        bail!(
            "nothing to change: give --label, --metadata, a lifecycle rule (--idle-timeout, ...) or a network rule (--network, --allow, --deny, --public-port)"
        );
    }
    let client = config::client(&args.remote)?;
    // The API replaces whole maps; merge the edits into what the sandbox has now.
    let current = client.get_sandbox(&args.id).await?;
    let req = UpdateSandboxRequest {
        labels: apply("label", &current.labels, &args.labels)?,
        metadata: apply("metadata", &current.metadata, &args.metadata)?,
        lifecycle: args
            .changes_policy()
            .then(|| args.policy(&current.lifecycle)),
        network,
        public_ports,
    };
    let sb = client.update_sandbox(&args.id, &req).await?;
    if args.remote.json {
        output::json(&sb)?;
    } else {
        let show = |m: &BTreeMap<String, String>| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        println!(
            "{}\tlabels: {}\tmetadata: {}",
            sb.id,
            show(&sb.labels),
            show(&sb.metadata)
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_set_and_remove_keys() {
        let current = BTreeMap::from([
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ]);
        let edits = vec!["a=9".to_owned(), "b-".to_owned(), "c=x=y".to_owned()];
        let out = apply("label", &current, &edits).unwrap().unwrap();
        assert_eq!(
            out,
            BTreeMap::from([
                ("a".to_owned(), "9".to_owned()),
                ("c".to_owned(), "x=y".to_owned())
            ])
        );
        assert_eq!(apply("label", &current, &[]).unwrap(), None);
        assert!(apply("label", &current, &["oops".to_owned()]).is_err());
    }
}
