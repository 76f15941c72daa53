//! Command-line grammar.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// warren: disposable, isolated sandboxes for untrusted code, from one binary.
#[derive(Debug, Parser)]
#[command(name = "warren", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// How to reach the daemon (flags, then env, then the config file).
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// Daemon URL [default: from the config file, else http://127.0.0.1:7070]
    #[arg(long, env = "WARREN_URL", global = true)]
    pub url: Option<String>,
    /// API key [default: from the config file]
    #[arg(long, env = "WARREN_API_KEY", global = true, hide_env_values = true)]
    pub api_key: Option<String>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: REST API (and later the web UI) on one port.
    Serve(ServeArgs),
    /// Create, list, inspect, run commands in, and delete sandboxes.
    #[command(subcommand, visible_alias = "sb")]
    Sandbox(crate::commands::sandbox::SandboxCommand),
    /// List, inspect and delete snapshots; show the lineage tree.
    #[command(subcommand, visible_alias = "snap")]
    Snapshot(crate::commands::snapshot::SnapshotCommand),
    /// Pull, import, list and remove images.
    #[command(subcommand)]
    Image(crate::commands::image::ImageCommand),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(crate::commands::keys::KeysCommand),
    /// Show recorded events (state changes, operations); --follow streams new ones.
    Events(crate::commands::events::EventsArgs),
    /// Copy files and directories between the host and a sandbox (SANDBOX_ID:/abs/path).
    Cp(crate::commands::cp::CpArgs),
    /// List, inspect, create, remove and move files inside a sandbox; chmod and chown.
    #[command(subcommand)]
    Fs(crate::commands::fs::FsCommand),
    /// Check what this host supports and how to fix what is missing.
    Doctor {
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "WARREN_LISTEN", default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    /// State directory (database, images, sandboxes).
    #[arg(long, env = "WARREN_HOME", default_value = "/var/lib/warren")]
    pub state_dir: PathBuf,
    /// Sustained requests per second allowed per API key (0: no rate limit).
    #[arg(long, env = "WARREN_RATE_LIMIT_RPS", default_value_t = 20)]
    pub rate_limit_rps: u32,
    /// Requests per API key allowed in a burst (0: no rate limit).
    #[arg(long, env = "WARREN_RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,
    /// Disk quota in MiB of sandboxes created without `disk_mb` (0: no quota; quotas need
    /// loop devices, see `warren doctor`).
    #[arg(long, env = "WARREN_DEFAULT_DISK_MB", default_value_t = 10_240,
          value_parser = disk_mb_default)]
    pub default_disk_mb: u64,
    /// Size in MiB at which a sandbox's main-process log is rotated.
    #[arg(long, env = "WARREN_MAIN_LOG_FILE_MB", default_value_t = 8,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub main_log_file_mb: u64,
    /// Main-process log files kept per sandbox, the current one included.
    #[arg(long, env = "WARREN_MAIN_LOG_FILES", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub main_log_files: u32,
}

/// 0 (no quota) or 64..=1048576 MiB.
fn disk_mb_default(s: &str) -> Result<u64, String> {
    let v: u64 = s.parse().map_err(|e| format!("{e}"))?;
    if v == 0 || (64..=1_048_576).contains(&v) {
        Ok(v)
    } else {
        Err("must be 0 (no quota) or 64..=1048576".into())
    }
}
