//! `warren keys ...`: create, list and revoke API keys.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use warren_api_types::{ApiKey, CreateKeyRequest, KeyScope};

use crate::cli::Remote;
use crate::{config, output};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key and print it (shown only this once).
    Create {
        /// Name, recorded as the actor of everything done with the key.
        name: String,
        /// Allow only reading (GET routes and the event stream).
        #[arg(long)]
        read_only: bool,
        /// Lifetime, e.g. 3600, 90s, 45m, 12h, 30d [default: never expires]
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires_in: Option<u64>,
        #[command(flatten)]
        remote: Remote,
    },
    /// List API keys (never their secrets).
    #[command(visible_alias = "list")]
    Ls {
        #[command(flatten)]
        remote: Remote,
    },
    /// Revoke API keys: they stop working at once.
    #[command(visible_alias = "rm")]
    Revoke {
        /// Key ids (see `warren keys ls`).
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
}

/// Seconds in `3600`, `90s`, `45m`, `12h` or `30d`.
fn parse_duration(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .with_context(|| format!("{s:?} is not a duration like 30d, 12h, 45m or 90s"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => bail!("{s:?}: unknown unit {unit:?} (use s, m, h, d or w)"),
    };
    let secs = n.checked_mul(mult).context("duration too long")?;
    if secs == 0 {
        bail!("a key must live at least one second");
    }
    Ok(secs)
}

pub async fn run(cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KeysCommand::Create {
            name,
            read_only,
            expires_in,
            remote,
        } => {
            let req = CreateKeyRequest {
                name,
                scope: if read_only {
                    KeyScope::Read
                } else {
                    KeyScope::Full
                },
                expires_in_s: expires_in,
            };
            let key = config::client(&remote)?.create_key(&req).await?;
            if remote.json {
                output::json(&key)?;
            } else {
                println!("{}", key.key);
                eprintln!(
                    "Created {} key {} ({}){}. The key is shown only this once: store it now.",
                    key.scope.as_str(),
                    key.name,
                    key.id,
                    key.expires_at
                        .map(|t| format!(", expires {}", rfc3339(t)))
                        .unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Ls { remote } => {
            let keys = config::client(&remote)?.list_keys().await?;
            if remote.json {
                output::json(&keys)?;
            } else {
                print_table(&keys);
            }
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Revoke { ids, remote } => {
            let client = config::client(&remote)?;
            for id in &ids {
                client.revoke_key(id).await?;
                if !remote.json {
                    println!("{id}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn print_table(keys: &[ApiKey]) {
    let now = time::OffsetDateTime::now_utc();
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            let status = match (k.revoked_at, k.expires_at) {
                (Some(_), _) => "revoked".to_owned(),
                (None, Some(t)) if t <= now => "expired".to_owned(),
                (None, Some(t)) => format!("expires {}", rfc3339(t)),
                (None, None) => "active".to_owned(),
            };
            vec![
                k.id.clone(),
                k.name.clone(),
                k.scope.as_str().to_owned(),
                format!("{}…", k.prefix),
                output::age(k.created_at),
                status,
            ]
        })
        .collect();
    output::table(
        &["ID", "NAME", "SCOPE", "PREFIX", "CREATED", "STATUS"],
        &rows,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3600").unwrap(), 3600);
        assert_eq!(parse_duration("90s").unwrap(), 90);
        assert_eq!(parse_duration("45m").unwrap(), 2700);
        assert_eq!(parse_duration("12h").unwrap(), 43_200);
        assert_eq!(parse_duration("30d").unwrap(), 2_592_000);
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("3y").is_err());
        assert!(parse_duration("d").is_err());
    }
}
