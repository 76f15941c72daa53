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
    /// Register, list and delete the public keys the SSH gateway accepts.
    #[command(subcommand)]
    SshKey(crate::commands::ssh_key::SshKeyCommand),
    /// Show recorded events (state changes, operations); --follow streams new ones.
    Events(crate::commands::events::EventsArgs),
    /// Copy files and directories between the host and a sandbox (SANDBOX_ID:/abs/path).
    Cp(crate::commands::cp::CpArgs),
    /// List, inspect, create, remove and move files inside a sandbox; chmod and chown.
    #[command(subcommand)]
    Fs(crate::commands::fs::FsCommand),
    /// Serve warren's tools to an AI agent over MCP (stdio), e.g. from Claude Desktop.
    Mcp(crate::commands::mcp::McpArgs),
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
    /// Address of the SSH gateway (`ssh -p 2222 <sandbox-id>@host`); 0.0.0.0:2222 exposes it
    /// to the network.
    #[arg(long, env = "WARREN_SSH_LISTEN", default_value = "127.0.0.1:2222")]
    pub ssh_listen: SocketAddr,
    /// Do not start the SSH gateway.
    #[arg(long, env = "WARREN_NO_SSH")]
    pub no_ssh: bool,
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
    /// Default idle timeout of sandboxes (e.g. 15m; 0: never idle out). "Idle" means no API
    /// call, exec, file operation or terminal input touching the sandbox.
    #[arg(long, env = "WARREN_IDLE_TIMEOUT", default_value = "0", value_parser = duration_s)]
    pub idle_timeout: u64,
    /// What an idle sandbox is moved to by default: pause, hibernate or stop.
    #[arg(long, env = "WARREN_IDLE_ACTION", default_value = "pause", value_parser = idle_action)]
    pub idle_action: warren_api_types::IdleAction,
    /// Default time a stopped or hibernated sandbox waits before it is archived (0: never).
    #[arg(long, env = "WARREN_AUTO_ARCHIVE_AFTER", default_value = "0", value_parser = duration_s)]
    pub auto_archive_after: u64,
    /// Default time a stopped, hibernated or archived sandbox waits before it is deleted
    /// (0: never).
    #[arg(long, env = "WARREN_AUTO_DELETE_AFTER", default_value = "0", value_parser = duration_s)]
    pub auto_delete_after: u64,
    /// Default time to live of sandboxes from creation, whatever their state (0: forever).
    #[arg(long, env = "WARREN_TTL", default_value = "0", value_parser = duration_s)]
    pub ttl: u64,
    /// How often lifecycle policies are checked, in milliseconds.
    #[arg(long, env = "WARREN_POLICY_INTERVAL_MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub policy_interval_ms: u64,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key): the API, the docs and the
    /// preview proxy on the same port, HTTP/1.1 and HTTP/2.
    #[arg(long, env = "WARREN_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "WARREN_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Run sandboxes without networking: loopback only, and no bridge, firewall, resolver or
    /// preview URLs (for hosts without nftables, or where warren must not touch the network).
    #[arg(long, env = "WARREN_NO_NETWORK")]
    pub no_network: bool,
    /// The bridge sandboxes are attached to (also the name of warren's nftables table).
    #[arg(long, env = "WARREN_BRIDGE", default_value = "warren0")]
    pub bridge: String,
    /// The sandboxes' IPv4 subnet; its first address is the bridge's (gateway and resolver).
    #[arg(long, env = "WARREN_SUBNET", default_value = "10.200.0.0/16")]
    pub subnet: warren_net::Ipv4Net,
    /// Resolver the sandboxes' DNS queries are forwarded to, `IP[:PORT]` (repeatable;
    /// default: the nameservers of /etc/resolv.conf).
    #[arg(long = "dns-upstream", env = "WARREN_DNS_UPSTREAM", value_delimiter = ',', value_parser = socket_addr_53)]
    pub dns_upstreams: Vec<SocketAddr>,
    /// Domain of preview URLs: `<port>-<sandbox id>.<domain>`. The default `localhost` works in
    /// a local browser with no DNS set-up; use a wildcard DNS name pointing at this host
    /// otherwise.
    #[arg(long, env = "WARREN_PREVIEW_DOMAIN", default_value = "localhost")]
    pub preview_domain: String,
    /// E2B-compatible routes: the image (or snapshot) E2B's `base` template boots.
    #[arg(long, env = "WARREN_E2B_DEFAULT_TEMPLATE")]
    pub e2b_default_template: Option<String>,
    /// E2B-compatible routes: a template alias, `ALIAS=IMAGE-OR-SNAPSHOT` (repeatable).
    #[arg(
        long = "e2b-template",
        env = "WARREN_E2B_TEMPLATES",
        value_delimiter = ','
    )]
    pub e2b_templates: Vec<String>,
    /// Directory archived sandboxes and snapshots go to (default: the state dir's `archive`), unless
    /// an S3 bucket is given.
    #[arg(long, env = "WARREN_ARCHIVE_DIR")]
    pub archive_dir: Option<PathBuf>,
    /// S3 bucket for archives (credentials from WARREN_ARCHIVE_S3_ACCESS_KEY_ID and
    /// WARREN_ARCHIVE_S3_SECRET_ACCESS_KEY).
    #[arg(long, env = "WARREN_ARCHIVE_S3_BUCKET")]
    pub archive_s3_bucket: Option<String>,
    /// S3 endpoint URL for S3-compatible storage (http:// allowed).
    #[arg(
        long,
        env = "WARREN_ARCHIVE_S3_ENDPOINT",
        requires = "archive_s3_bucket"
    )]
    pub archive_s3_endpoint: Option<String>,
    /// S3 region.
    #[arg(long, env = "WARREN_ARCHIVE_S3_REGION", default_value = "us-east-1")]
    pub archive_s3_region: String,
}

/// A duration in seconds from `90`, `90s`, `15m`, `2h` or `7d`.
pub fn duration_s(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a number with an optional unit s, m, h or d"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: the unit must be s, m, h or d")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too long"))
}

/// `pause`, `hibernate` or `stop`.
pub fn idle_action(s: &str) -> Result<warren_api_types::IdleAction, String> {
    use warren_api_types::IdleAction as A;
    match s {
        "pause" => Ok(A::Pause),
        "hibernate" => Ok(A::Hibernate),
        "stop" => Ok(A::Stop),
        _ => Err(format!("{s:?}: expected pause, hibernate or stop")),
    }
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

/// `IP` or `IP:PORT` (port 53 by default).
fn socket_addr_53(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    s.parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{s:?} is not IP or IP:PORT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_s("90"), Ok(90));
        assert_eq!(duration_s("90s"), Ok(90));
        assert_eq!(duration_s("15m"), Ok(900));
        assert_eq!(duration_s("2h"), Ok(7200));
        assert_eq!(duration_s("7d"), Ok(604_800));
        assert!(duration_s("5w").is_err());
        assert!(duration_s("m").is_err());
        assert!(duration_s("").is_err());
    }
}
