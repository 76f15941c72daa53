//! The network flags `sandbox create` and `sandbox update` share.

use clap::Args;
use warren_api_types::{NetworkMode, NetworkPolicy};

/// `--network`, `--allow`, `--deny`, `--public-port`.
#[derive(Debug, Args, Default)]
pub struct NetworkFlags {
    /// Egress: none (no connection out), outbound (default: everything out) or restricted
    /// (only --allow).
    #[arg(long = "network", value_parser = mode)]
    pub mode: Option<NetworkMode>,
    /// Reachable in restricted mode: an IPv4 address, CIDR or domain (repeatable).
    #[arg(long = "allow", value_name = "CIDR|DOMAIN")]
    pub allow: Vec<String>,
    /// Never reachable: an IPv4 address, CIDR or domain (repeatable).
    #[arg(long = "deny", value_name = "CIDR|DOMAIN")]
    pub deny: Vec<String>,
    /// A port the preview proxy serves without a token (repeatable).
    #[arg(long = "public-port", value_name = "PORT")]
    pub public_ports: Vec<u16>,
}

fn mode(s: &str) -> Result<NetworkMode, String> {
    match s {
        "none" => Ok(NetworkMode::None),
        "outbound" => Ok(NetworkMode::Outbound),
        "restricted" => Ok(NetworkMode::Restricted),
        _ => Err(format!("{s:?}: expected none, outbound or restricted")),
    }
}

impl NetworkFlags {
    /// The policy the flags give, if any flag about it was given (a list alone implies
    /// restricted for --allow, outbound for --deny).
    pub fn policy(&self) -> Option<NetworkPolicy> {
        if self.mode.is_none() && self.allow.is_empty() && self.deny.is_empty() {
            return None;
        }
        let mode = self.mode.unwrap_or(if self.allow.is_empty() {
            NetworkMode::Outbound
        } else {
            NetworkMode::Restricted
        });
        Some(NetworkPolicy {
            mode,
            allow: self.allow.clone(),
            deny: self.deny.clone(),
        })
    }

    /// The public ports, if any were given.
    pub fn public_ports(&self) -> Option<Vec<u16>> {
        (!self.public_ports.is_empty()).then(|| self.public_ports.clone())
    }
}
