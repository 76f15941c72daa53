//! `warren ssh-key ...`: register, list and delete the public keys the SSH gateway accepts.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use warren_api_types::{AddSshKeyRequest, SshKey};

use crate::cli::Remote;
use crate::{config, output};

#[derive(Debug, Subcommand)]
pub enum SshKeyCommand {
    /// Register a public key (e.g. ~/.ssh/id_ed25519.pub, or - for stdin). It then logs in to
    /// every sandbox: `ssh -p 2222 <sandbox-id>@host`.
    Add {
        /// Name, recorded (as ssh:NAME) as the actor of what the key does [default: from the
        /// key's comment]
        #[arg(long)]
        name: Option<String>,
        /// The public key file, one OpenSSH line; - reads stdin.
        file: PathBuf,
        #[command(flatten)]
        remote: Remote,
    },
    /// List registered public keys.
    #[command(visible_alias = "list")]
    Ls {
        #[command(flatten)]
        remote: Remote,
    },
    /// Delete registered public keys: new logins with them are refused.
    #[command(visible_alias = "delete")]
    Rm {
        /// Key ids (see `warren ssh-key ls`).
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
}

/// The first non-empty, non-comment line of `text`.
fn key_line(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
}

pub async fn run(cmd: SshKeyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SshKeyCommand::Add { name, file, remote } => {
            let text = if file.as_os_str() == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("cannot read the public key from stdin")?;
                s
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?
            };
            let line = key_line(&text).context("no public key in the input")?;
            let req = AddSshKeyRequest {
                name,
                public_key: line.to_owned(),
            };
            let key = config::client(&remote)?.add_ssh_key(&req).await?;
            if remote.json {
                output::json(&key)?;
            } else {
                println!("{}", key.id);
                eprintln!("Registered SSH key {} ({}).", key.name, key.fingerprint);
            }
            Ok(ExitCode::SUCCESS)
        }
        SshKeyCommand::Ls { remote } => {
            let keys = config::client(&remote)?.list_ssh_keys().await?;
            if remote.json {
                output::json(&keys)?;
            } else {
                print_table(&keys);
            }
            Ok(ExitCode::SUCCESS)
        }
        SshKeyCommand::Rm { ids, remote } => {
            let client = config::client(&remote)?;
            for id in &ids {
                client.delete_ssh_key(id).await?;
                if !remote.json {
                    println!("{id}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_table(keys: &[SshKey]) {
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.id.clone(),
                k.name.clone(),
                k.fingerprint.clone(),
                k.comment.clone(),
                output::age(k.created_at),
            ]
        })
        .collect();
    output::table(&["ID", "NAME", "FINGERPRINT", "COMMENT", "CREATED"], &rows);
}

#[cfg(test)]
mod tests {
    use super::key_line;

    #[test]
    fn first_key_line() {
        assert_eq!(
            key_line("\n# c\n ssh-ed25519 AAAA x\n"),
            Some("ssh-ed25519 AAAA x")
        );
        assert_eq!(key_line("\n\n"), None);
    }
}
