//! One module per command group; each talks to the daemon through `warren-client`.

pub mod cp;
pub mod doctor;
pub mod events;
pub mod fs;
pub mod image;
pub mod keys;
pub mod logs;
pub mod mcp;
pub mod network;
pub mod process;
pub mod sandbox;
pub mod shell;
pub mod snapshot;
pub mod ssh_key;
pub mod transfer;
pub mod update;

use std::collections::BTreeMap;

use anyhow::bail;

/// Parse repeated `KEY=VALUE` flags.
pub fn key_values(flag: &str, items: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in items {
        let Some((k, v)) = item.split_once('=') else {
            bail!("--{flag} {item:?}: expected KEY=VALUE");
        };
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}
