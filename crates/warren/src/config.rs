//! The CLI's config file: where the daemon is and which API key to use.
//!
//! `warren serve` writes it on first start (mode 0600, atomically) so the
//! CLI on the same machine works with no flags. Location: `$WARREN_CONFIG`,
//! else `$XDG_CONFIG_HOME/warren/config.json`, else `~/.config/warren/config.json`.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::cli::Remote;

/// Default daemon address.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7070";

/// Contents of the config file.
#[derive(Default, Serialize, Deserialize)]
pub struct Config {
    /// Daemon URL.
    pub url: Option<String>,
    /// API key.
    pub api_key: Option<String>,
}

/// Where the config file lives.
pub fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WARREN_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("warren").join("config.json"))
}

/// Read the config file; a missing file is an empty config.
pub fn load() -> anyhow::Result<Config> {
    let Some(path) = path() else {
        return Ok(Config::default());
    };
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not valid JSON", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Write the config file readable only by its owner: temp file, fsync, rename.
pub fn save(config: &Config) -> anyhow::Result<PathBuf> {
    let path = path().context("cannot find a config directory: set WARREN_CONFIG or HOME")?;
    let dir = path.parent().context("config path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = dir.join(format!(".config.json.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(&serde_json::to_vec_pretty(config)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// A client from flags, env and the config file, in that order.
pub fn client(remote: &Remote) -> anyhow::Result<warren_client::Client> {
    let file = load()?;
    let url = remote
        .url
        .clone()
        .or(file.url)
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let key = remote.api_key.clone().or(file.api_key);
    Ok(warren_client::Client::new(&url, key)?)
}
