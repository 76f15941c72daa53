//! `warren sandbox update`: change labels and metadata of a live sandbox.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use warren_api_types::UpdateSandboxRequest;

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
    #[command(flatten)]
    pub remote: Remote,
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
    if args.labels.is_empty() && args.metadata.is_empty() {
        bail!("nothing to change: give --label and/or --metadata");
    }
    let client = config::client(&args.remote)?;
    // The API replaces whole maps; merge the edits into what the sandbox has now.
    let current = client.get_sandbox(&args.id).await?;
    let req = UpdateSandboxRequest {
        labels: apply("label", &current.labels, &args.labels)?,
        metadata: apply("metadata", &current.metadata, &args.metadata)?,
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
