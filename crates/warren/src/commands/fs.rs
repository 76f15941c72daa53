//! `warren fs ...`: list, inspect, create, remove, move and change permissions of files inside
//! a sandbox.

use std::process::ExitCode;

use clap::Subcommand;
use warren_api_types::{FileEntry, FileKind};

use crate::cli::Remote;
use crate::{config, output};

#[derive(Debug, Subcommand)]
pub enum FsCommand {
    /// List a directory (`--depth` levels deep).
    #[command(visible_alias = "list")]
    Ls {
        /// Sandbox id.
        sandbox: String,
        /// Absolute path of the directory.
        path: String,
        /// How many levels to descend (1 = the directory's own entries).
        #[arg(long, default_value_t = 1)]
        depth: u32,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show one file, directory or symlink.
    Stat {
        /// Sandbox id.
        sandbox: String,
        /// Absolute path.
        path: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Create a directory and its missing parents (an existing directory is fine).
    Mkdir {
        /// Sandbox id.
        sandbox: String,
        /// Absolute path of the directory.
        path: String,
        /// Permission bits in octal, e.g. 0700 [default: 0755]
        #[arg(long)]
        mode: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Remove a file, symlink or empty directory; `-r` for a directory and everything in it.
    Rm {
        /// Sandbox id.
        sandbox: String,
        /// Absolute path.
        path: String,
        /// Remove a non-empty directory with everything below it.
        #[arg(short, long)]
        recursive: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Move or rename (missing parents of the destination are created).
    Mv {
        /// Sandbox id.
        sandbox: String,
        /// Absolute path to move.
        from: String,
        /// Absolute destination path.
        to: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Set permission bits (octal, e.g. 0755).
    Chmod {
        /// Sandbox id.
        sandbox: String,
        /// Mode in octal.
        mode: String,
        /// Absolute path.
        path: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Set owner and/or group: OWNER, OWNER:GROUP or :GROUP (names or numeric ids).
    Chown {
        /// Sandbox id.
        sandbox: String,
        /// OWNER, OWNER:GROUP or :GROUP.
        owner: String,
        /// Absolute path.
        path: String,
        #[command(flatten)]
        remote: Remote,
    },
}

pub async fn run(cmd: FsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        FsCommand::Ls {
            sandbox,
            path,
            depth,
            remote,
        } => {
            let list = config::client(&remote)?
                .list_files(&sandbox, &path, depth)
                .await?;
            if remote.json {
                output::json(&list)?;
            } else {
                print_table(&list.entries);
            }
        }
        FsCommand::Stat {
            sandbox,
            path,
            remote,
        } => {
            let e = config::client(&remote)?.stat_file(&sandbox, &path).await?;
            show(&remote, &e)?;
        }
        FsCommand::Mkdir {
            sandbox,
            path,
            mode,
            remote,
        } => {
            let e = config::client(&remote)?
                .make_dir(&sandbox, &path, mode.as_deref())
                .await?;
            show(&remote, &e)?;
        }
        FsCommand::Rm {
            sandbox,
            path,
            recursive,
            remote,
        } => {
            config::client(&remote)?
                .remove_file(&sandbox, &path, recursive)
                .await?;
            if !remote.json {
                println!("{path}");
            }
        }
        FsCommand::Mv {
            sandbox,
            from,
            to,
            remote,
        } => {
            let e = config::client(&remote)?
                .move_file(&sandbox, &from, &to)
                .await?;
            show(&remote, &e)?;
        }
        FsCommand::Chmod {
            sandbox,
            mode,
            path,
            remote,
        } => {
            let e = config::client(&remote)?
                .chmod_file(&sandbox, &path, &mode)
                .await?;
            show(&remote, &e)?;
        }
        FsCommand::Chown {
            sandbox,
            owner,
            path,
            remote,
        } => {
            let (o, g) = match owner.split_once(':') {
                Some((o, g)) => (o, Some(g).filter(|g| !g.is_empty())),
                None => (owner.as_str(), None),
            };
            let o = Some(o).filter(|o| !o.is_empty());
            if o.is_none() && g.is_none() {
                anyhow::bail!("give OWNER, OWNER:GROUP or :GROUP");
            }
            let e = config::client(&remote)?
                .chown_file(&sandbox, &path, o, g)
                .await?;
            show(&remote, &e)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(remote: &Remote, e: &FileEntry) -> anyhow::Result<()> {
    if remote.json {
        output::json(e)
    } else {
        print_table(std::slice::from_ref(e));
        Ok(())
    }
}

fn kind(k: FileKind) -> &'static str {
    match k {
        FileKind::File => "file",
        FileKind::Dir => "dir",
        FileKind::Symlink => "symlink",
        FileKind::Other => "other",
    }
}

fn print_table(entries: &[FileEntry]) {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let path = match &e.symlink_target {
                Some(t) => format!("{} -> {t}", e.path),
                None => e.path.clone(),
            };
            vec![
                kind(e.kind).to_owned(),
                e.mode.clone(),
                e.owner.clone(),
                e.group.clone(),
                e.size.to_string(),
                e.modified_at.clone().unwrap_or_default(),
                path,
            ]
        })
        .collect();
    output::table(
        &["TYPE", "MODE", "OWNER", "GROUP", "SIZE", "MODIFIED", "PATH"],
        &rows,
    );
}
