//! The sandboxes' DNS resolver.
//!
//! The daemon runs one [`DnsServer`] on each bridge's gateway address (e.g. `10.88.0.1:53`);
//! sandboxes' resolv.conf points at it. For each query:
//!
//! 1. The query is decoded ([`wire`]); anything but one standard question gets FORMERR (or is
//!    dropped when not even the header decodes).
//! 2. The [`DnsPolicy`] decides, from the client's address and the question name, to
//!    [`Verdict::Refuse`] (answered NXDOMAIN here) or [`Verdict::Forward`].
//! 3. A forwarded query goes to the upstreams in order, over UDP with a fresh random id from a
//!    fresh socket (retried over TCP when the answer is truncated); an answer whose id or
//!    question differs from what was sent is ignored. No upstream answering → SERVFAIL.
//! 4. With `learn`, the answer's A/AAAA addresses go to [`DnsPolicy::learn`] (which opens the
//!    sandbox's firewall to them) and the answer is sent only once that has completed, so the
//!    sandbox's next `connect()` is already allowed.

mod name;
mod pattern;
mod query;
mod resolv_conf;
mod server;
mod txid;
mod upstream;
pub mod wire;

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

pub use pattern::{domain_matches, validate_domain_pattern};
pub use resolv_conf::upstreams_from_resolv_conf;
pub use server::DnsServer;

/// What to do with one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Ask the upstream resolvers and relay their answer.
    Forward {
        /// Report the answer's addresses to [`DnsPolicy::learn`] before relaying it.
        learn: bool,
    },
    /// Answer NXDOMAIN without asking anyone.
    Refuse,
}

/// Decides, per sandbox and name, what the resolver does (implemented by the network manager).
pub trait DnsPolicy: Send + Sync + 'static {
    /// `client`: the querying sandbox's address; `name`: the question name, lower-case ASCII,
    /// without the trailing dot (`""` for the root). Bytes that are not printable ASCII, and dots
    /// inside a label, appear as `\DDD`.
    fn decide(&self, client: IpAddr, name: &str) -> Verdict;

    /// The A/AAAA addresses (with their TTLs in seconds, at least 30) of an upstream answer to a
    /// question decided `Forward { learn: true }`; the answer is sent to the client only after
    /// the returned future completes.
    fn learn(
        &self,
        client: IpAddr,
        addrs: Vec<(IpAddr, u32)>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Limits and timeouts of a [`DnsServer`]; [`Default`] gives the production values.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// How long to wait for each upstream (each of its UDP and TCP exchanges).
    pub upstream_timeout: Duration,
    /// How long [`DnsPolicy::learn`] may take; past it the client gets SERVFAIL.
    pub learn_timeout: Duration,
    /// Queries being forwarded at once; beyond it, queries get SERVFAIL straight away.
    pub max_inflight: usize,
    /// Client TCP connections at once; beyond it, new connections are closed.
    pub max_tcp_connections: usize,
    /// A client TCP connection idle (or stalled mid-message) this long is closed.
    pub tcp_idle_timeout: Duration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            upstream_timeout: Duration::from_secs(2),
            learn_timeout: Duration::from_secs(5),
            max_inflight: 256,
            max_tcp_connections: 64,
            tcp_idle_timeout: Duration::from_secs(10),
        }
    }
}

/// The shortest TTL reported to [`DnsPolicy::learn`]: an allow-set entry expiring sooner than a
/// client's cache would break connections the sandbox is still entitled to.
pub const MIN_LEARN_TTL: u32 = 30;

/// Largest UDP message accepted from a client.
pub const MAX_UDP_MESSAGE: usize = 4096;
