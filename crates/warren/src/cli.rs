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
    Sandbox(SandboxCommand),
    /// Pull, import, list and remove images.
    #[command(subcommand)]
    Image(ImageCommand),
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
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Create a sandbox and wait until it is running.
    Create(CreateArgs),
    /// List sandboxes.
    #[command(visible_alias = "list")]
    Ls {
        #[command(flatten)]
        remote: Remote,
    },
    /// Show one sandbox.
    Get {
        /// Sandbox id.
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Run a command in a sandbox; exits with the command's exit code.
    Exec(ExecArgs),
    /// Delete sandboxes (processes, filesystem, everything).
    #[command(visible_alias = "delete")]
    Rm {
        /// Sandbox ids.
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Image reference, e.g. python:3.12-slim.
    pub image: String,
    /// Main process (replaces the image's command), after `--`.
    #[arg(last = true)]
    pub cmd: Vec<String>,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// CPU cores.
    #[arg(long)]
    pub cpu: Option<f64>,
    /// Memory limit in MiB.
    #[arg(long)]
    pub memory_mb: Option<u64>,
    /// Process limit.
    #[arg(long)]
    pub pids_limit: Option<u32>,
    /// Label KEY=VALUE (repeatable).
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Sandbox id.
    pub id: String,
    /// Command and arguments, after `--` when they start with `-`.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Working directory inside the sandbox.
    #[arg(short = 'w', long)]
    pub cwd: Option<String>,
    /// User to run as.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Seconds before the command is killed.
    #[arg(long)]
    pub timeout: Option<u64>,
    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Pull an image from a registry (Docker Hub by default).
    Pull {
        /// Image reference, e.g. busybox, python:3.12, ghcr.io/org/img:tag.
        reference: String,
        /// Allow plain HTTP to a registry that is not on loopback.
        #[arg(long)]
        insecure: bool,
        /// Registry user name.
        #[arg(long, requires = "password_stdin")]
        username: Option<String>,
        /// Read the registry password from stdin.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Import a `docker save` tarball, an OCI archive, or an OCI layout directory.
    Import {
        /// Archive file or OCI layout directory.
        path: PathBuf,
        /// Reference to store it under.
        #[arg(long)]
        tag: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// List local images.
    #[command(visible_alias = "list")]
    Ls {
        #[command(flatten)]
        remote: Remote,
    },
    /// Remove images no sandbox uses.
    Rm {
        /// References or digests.
        #[arg(required = true)]
        references: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
}
