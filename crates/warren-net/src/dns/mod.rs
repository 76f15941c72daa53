//! The sandboxes' DNS resolver (placeholder until the real one lands).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// What to do with one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Ask upstream.
    Forward {
        /// Report the answer's addresses.
        learn: bool,
    },
    /// Answer NXDOMAIN.
    Refuse,
}

/// Decides for the resolver.
pub trait DnsPolicy: Send + Sync + 'static {
    /// What to do.
    fn decide(&self, client: IpAddr, name: &str) -> Verdict;
    /// Addresses learned.
    fn learn(
        &self,
        client: IpAddr,
        addrs: Vec<(IpAddr, u32)>,
    ) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The server.
#[derive(Debug)]
pub struct DnsServer;

impl DnsServer {
    /// Bind.
    pub async fn bind(
        _addr: SocketAddr,
        _upstreams: Vec<SocketAddr>,
        _policy: Arc<dyn DnsPolicy>,
    ) -> std::io::Result<DnsServer> {
        Ok(DnsServer)
    }
}

/// Match.
pub fn domain_matches(pattern: &str, name: &str) -> bool {
    let p = pattern.trim_end_matches('.').to_ascii_lowercase();
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    if let Some(rest) = p.strip_prefix("*.") {
        return n.ends_with(&format!(".{rest}"));
    }
    n == p || n.ends_with(&format!(".{p}"))
}

/// Validate.
pub fn validate_domain_pattern(pattern: &str) -> Result<(), String> {
    let p = pattern
        .strip_prefix("*.")
        .unwrap_or(pattern)
        .trim_end_matches('.');
    let ok = !p.is_empty()
        && p.len() <= 253
        && p.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{pattern:?} is not a domain name"))
    }
}

/// Upstreams.
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}
