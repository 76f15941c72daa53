//! `warren snapshot ...`, `warren sandbox snapshot` and `warren sandbox branch`.

use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use warren_api_types::{CreateSnapshotRequest, Sandbox, Snapshot};

use super::key_values;
use crate::cli::Remote;
use crate::{config, output};

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// List snapshots.
    #[command(visible_alias = "list")]
    Ls {
        /// Only snapshots taken from this sandbox.
        #[arg(long)]
        sandbox: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show one snapshot (by id or name).
    Get {
        /// Snapshot id or name.
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show the lineage of sandboxes and snapshots as a tree.
    Tree {
        #[command(flatten)]
        remote: Remote,
    },
    /// Move snapshots to the archive (fetched back when a sandbox is created from them).
    Archive {
        /// Snapshot ids or names.
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Delete snapshots (refused while sandboxes or snapshots made from them exist).
    #[command(visible_alias = "delete")]
    Rm {
        /// Snapshot ids or names.
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
}

/// `warren sandbox snapshot`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Sandbox id.
    pub id: String,
    /// Capture the processes (memory) too, so that sandboxes made from it continue from now.
    #[arg(long)]
    pub memory: bool,
    /// A unique name for the snapshot.
    #[arg(long)]
    pub name: Option<String>,
    /// Label KEY=VALUE (repeatable).
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    #[command(flatten)]
    pub remote: Remote,
}

/// `warren sandbox branch`.
#[derive(Debug, Args)]
pub struct BranchArgs {
    /// Sandbox id.
    pub id: String,
    /// How many copies.
    #[arg(short = 'n', long, default_value_t = 1)]
    pub count: u32,
    #[command(flatten)]
    pub remote: Remote,
}

pub async fn run(cmd: SnapshotCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SnapshotCommand::Ls { sandbox, remote } => {
            let items = config::client(&remote)?
                .list_all_snapshots(sandbox.as_deref())
                .await?;
            if remote.json {
                output::json(&items)?;
            } else if items.is_empty() {
                println!("No snapshots. Take one with: warren sandbox snapshot <sandbox-id>");
            } else {
                print_table(&items);
            }
        }
        SnapshotCommand::Get { id, remote } => {
            let snap = config::client(&remote)?.get_snapshot(&id).await?;
            if remote.json {
                output::json(&snap)?;
            } else {
                print_table(std::slice::from_ref(&snap));
            }
        }
        SnapshotCommand::Tree { remote } => {
            let client = config::client(&remote)?;
            let sandboxes = client.list_all_sandboxes().await?;
            let snapshots = client.list_all_snapshots(None).await?;
            if remote.json {
                output::json(&serde_json::json!({
                    "sandboxes": sandboxes,
                    "snapshots": snapshots,
                }))?;
            } else {
                for line in tree_lines(&sandboxes, &snapshots) {
                    println!("{line}");
                }
            }
        }
        SnapshotCommand::Archive { ids, remote } => {
            let client = config::client(&remote)?;
            let mut done = Vec::new();
            for id in &ids {
                let snap = client.archive_snapshot(id).await?;
                if !remote.json {
                    let state = serde_json::to_value(snap.state)?;
                    println!("{}\t{}", snap.id, state.as_str().unwrap_or_default());
                }
                done.push(snap);
            }
            if remote.json {
                output::json(&done)?;
            }
        }
        SnapshotCommand::Rm { ids, remote } => {
            let client = config::client(&remote)?;
            for id in &ids {
                client.delete_snapshot(id).await?;
                if !remote.json {
                    println!("{id}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn snapshot(args: SnapshotArgs) -> anyhow::Result<ExitCode> {
    let req = CreateSnapshotRequest {
        memory: args.memory,
        name: args.name,
        labels: key_values("label", &args.labels)?,
    };
    let snap = config::client(&args.remote)?
        .snapshot_sandbox(&args.id, &req)
        .await?;
    if args.remote.json {
        output::json(&snap)?;
    } else {
        println!(
            "{}\t(paused {:.1} ms, {})",
            snap.id,
            snap.paused_ms,
            output::bytes(snap.fs_bytes + snap.memory_bytes)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn branch(args: BranchArgs) -> anyhow::Result<ExitCode> {
    let out = config::client(&args.remote)?
        .branch_sandbox(&args.id, args.count)
        .await?;
    if args.remote.json {
        output::json(&out)?;
    } else {
        eprintln!(
            "snapshot {} (paused {:.1} ms)",
            out.snapshot.id, out.snapshot.paused_ms
        );
        for sb in &out.sandboxes {
            println!("{}", sb.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(items: &[Snapshot]) {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.name.clone().unwrap_or_default(),
                if s.memory { "files+memory" } else { "files" }.to_owned(),
                s.source_sandbox.clone().unwrap_or_default(),
                output::bytes(s.fs_bytes + s.memory_bytes),
                format!("{:.1} ms", s.paused_ms),
                output::age(s.created_at),
            ]
        })
        .collect();
    output::table(
        &["ID", "NAME", "KIND", "SOURCE", "SIZE", "PAUSED", "CREATED"],
        &rows,
    );
}

/// A node of the lineage forest: a sandbox or a snapshot.
#[derive(Clone, Copy)]
enum Node<'a> {
    Sandbox(&'a Sandbox),
    Snapshot(&'a Snapshot),
}

/// The lineage as indented lines: sandbox → its snapshots → the sandboxes made from them → ...
/// Roots are sandboxes made from images, and snapshots whose source is gone.
fn tree_lines(sandboxes: &[Sandbox], snapshots: &[Snapshot]) -> Vec<String> {
    let sandbox_ids: HashSet<&str> = sandboxes.iter().map(|s| s.id.as_str()).collect();
    let snapshot_ids: HashSet<&str> = snapshots.iter().map(|s| s.id.as_str()).collect();
    let mut children: BTreeMap<&str, Vec<Node>> = BTreeMap::new();
    let mut roots = Vec::new();
    for sb in sandboxes {
        match sb.parent_snapshot.as_deref() {
            Some(p) if snapshot_ids.contains(p) => {
                children.entry(p).or_default().push(Node::Sandbox(sb));
            }
            _ => roots.push(Node::Sandbox(sb)),
        }
    }
    for snap in snapshots {
        match snap.source_sandbox.as_deref() {
            Some(s) if sandbox_ids.contains(s) => {
                children.entry(s).or_default().push(Node::Snapshot(snap));
            }
            _ => roots.push(Node::Snapshot(snap)),
        }
    }
    fn label(n: Node) -> (String, String) {
        match n {
            Node::Sandbox(s) => (s.id.clone(), format!("{} [{}]", s.id, s.state)),
            Node::Snapshot(s) => {
                let name = s
                    .name
                    .as_deref()
                    .map(|n| format!(" \"{n}\""))
                    .unwrap_or_default();
                let kind = if s.memory { "files+memory" } else { "files" };
                (s.id.clone(), format!("{}{name} ({kind})", s.id))
            }
        }
    }
    fn walk(
        n: Node,
        prefix: &str,
        last: bool,
        root: bool,
        children: &BTreeMap<&str, Vec<Node>>,
        out: &mut Vec<String>,
    ) {
        let (id, text) = label(n);
        let branch = if root {
            ""
        } else if last {
            "└─ "
        } else {
            "├─ "
        };
        out.push(format!("{prefix}{branch}{text}"));
        let next = if root {
            String::new()
        } else {
            format!("{prefix}{}", if last { "   " } else { "│  " })
        };
        let kids = children.get(id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        for (i, k) in kids.iter().enumerate() {
            walk(*k, &next, i + 1 == kids.len(), false, children, out);
        }
    }
    let mut out = Vec::new();
    for r in roots {
        walk(r, "", true, true, &children, &mut out);
    }
    if out.is_empty() {
        out.push("No sandboxes or snapshots.".to_owned());
    }
    out
}
