//! Sandbox networking.
//!
//! Every sandbox has its own network namespace (runc makes it, inside the sandbox's user
//! namespace, so CRIU can checkpoint it), linked to a warren bridge by a veth pair (see
//! `veth.rs`), with an address from a configured subnet that it keeps until it is deleted or
//! archived (`leases.rs`, on disk, so a restarted daemon knows every address in use). The host
//! NATs its outbound traffic and nftables enforces its egress policy (`none`, `outbound`,
//! `restricted`, see [`policy`]); a bridge-level table stops a sandbox — root in its own
//! namespace — from passing for another (its port only carries its own MAC and address). A
//! resolver on the bridge's gateway address answers the sandboxes' queries and, for restricted
//! sandboxes, only for allowed domains, whose answers open the way to their addresses ([`dns`]).
//!
//! Life of a sandbox's link: [`Network::attach`] (lease + policy) before it boots;
//! [`Network::plug`] once its PID 1 exists (the veth); [`Network::unplug`] before a checkpoint
//! (CRIU then sees loopback only) and `plug` again after a restore, into whatever namespace
//! the restore made; [`Network::detach`] when it is deleted or archived.
//!
//! Links are made in-process over rtnetlink (`netlink.rs`); the bridge (once, at start-up) and
//! the rules are the host's `ip` (iproute2) and `nft` (nftables) tools, each change one process
//! fed a script (`nft -f` applies it as one transaction).

#![forbid(unsafe_code)]

mod bridge;
pub mod dns;
mod firewall;
mod host;
mod leases;
mod netlink;
pub mod policy;
mod veth;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

pub use policy::{CompiledPolicy, EgressPolicy, Ipv4Net, NetworkMode};

use firewall::Firewall;
use leases::Leases;

/// Why a network operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// `ip` or `nft` failed.
    #[error("{command} failed: {detail}")]
    Tool {
        /// The command line.
        command: String,
        /// Its error output.
        detail: String,
    },
    /// A host file operation failed.
    #[error("cannot {action}")]
    Host {
        /// What was attempted.
        action: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Every address of the subnet is taken.
    /// A netlink request about a sandbox's link failed.
    #[error("cannot {action} the sandbox at {ip}")]
    Link {
        /// What was being done.
        action: &'static str,
        /// The sandbox's address.
        ip: Ipv4Addr,
        /// The kernel's answer.
        #[source]
        source: std::io::Error,
    },
    /// A sandbox's rules could not be installed (by the transaction an attach started).
    #[error("cannot install the sandbox's network rules")]
    Rules(#[source] Arc<NetError>),
    #[error("no free address left in {subnet}")]
    Exhausted {
        /// The subnet.
        subnet: Ipv4Net,
    },
    /// The configuration cannot work.
    #[error("invalid network configuration: {0}")]
    Config(String),
    /// The policy is invalid.
    #[error("{0}")]
    Policy(String),
}

/// How sandbox networking is set up.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// The bridge (and nftables table) name, e.g. `warren0`; at most 15 characters.
    pub bridge: String,
    /// The sandboxes' subnet; its first address is the bridge's (the gateway).
    pub subnet: Ipv4Net,
    /// Where leases are kept, e.g. `<state>/network`.
    pub state_dir: PathBuf,
    /// Upstream resolvers the sandboxes' DNS queries are forwarded to.
    pub dns_upstreams: Vec<SocketAddr>,
}

/// A sandbox's place on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its address.
    pub ip: Ipv4Addr,
    /// The gateway, which is also its resolver.
    pub gateway: Ipv4Addr,
}

/// The sandboxes' network (see the crate docs). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Network {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cfg: NetConfig,
    gateway: Ipv4Addr,
    fw: Firewall,
    leases: Leases,
    state: Mutex<State>,
    dns: Mutex<Option<dns::DnsServer>>,
}

#[derive(Debug, Default)]
struct State {
    /// Sandbox id → address.
    leased: HashMap<String, Ipv4Addr>,
    /// Address → the policy in force (for the resolver).
    policies: HashMap<Ipv4Addr, CompiledPolicy>,
    /// The outcome of each address's latest attach transaction (`None` while it runs).
    rules: HashMap<Ipv4Addr, RulesOutcome>,
    /// Where the next address search starts (addresses are not reused at once).
    cursor: u32,
}

/// DNS answers open an address to a restricted sandbox for at least this long: programs cache
/// answers past short TTLs.
/// Where the result of an attach's background transaction arrives.
type RulesOutcome = tokio::sync::watch::Receiver<Option<Result<(), Arc<NetError>>>>;

const MIN_LEARNED_TTL_S: u32 = 300;

impl Network {
    /// Set up the bridge, the firewall tables and the resolver, and find the leases a previous
    /// daemon left (links of addresses nothing leases are removed).
    pub async fn open(cfg: NetConfig) -> Result<Network, NetError> {
        validate_config(&cfg)?;
        for tool in ["ip", "nft"] {
            if host::output(tool, &["-V"]).await.is_none() {
                return Err(NetError::Config(format!(
                    "`{tool}` is not installed (apt-get install iproute2 nftables)"
                )));
            }
        }
        let gateway = cfg.subnet.nth(1);
        let fw = Firewall {
            table: cfg.bridge.clone(),
            bridge: cfg.bridge.clone(),
            subnet: cfg.subnet,
            gateway,
        };
        bridge::ensure(&cfg.bridge, cfg.subnet, gateway).await?;
        host::nft(&format!("{}{}", fw.base(), fw.bridge_base())).await?;
        let leases =
            Leases::open(cfg.state_dir.join("leases")).map_err(|source| NetError::Host {
                action: "open the lease directory",
                source,
            })?;
        let leased = leases.load().map_err(|source| NetError::Host {
            action: "read the leases",
            source,
        })?;
        let held: HashSet<Ipv4Addr> = leased.values().copied().collect();
        for ip in veth::existing(cfg.subnet) {
            if !held.contains(&ip) {
                veth::unplug(ip).await;
            }
        }
        let net = Network {
            inner: Arc::new(Inner {
                cfg,
                gateway,
                fw,
                leases,
                state: Mutex::new(State {
                    leased,
                    ..State::default()
                }),
                dns: Mutex::new(None),
            }),
        };
        net.start_dns().await?;
        Ok(net)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The gateway (the bridge's address and the sandboxes' resolver).
    pub fn gateway(&self) -> Ipv4Addr {
        self.inner.gateway
    }

    /// The configuration in use.
    pub fn config(&self) -> &NetConfig {
        &self.inner.cfg
    }

    /// Sandbox `id`'s address, if it has one.
    pub fn address(&self, id: &str) -> Option<Ipv4Addr> {
        self.state().leased.get(id).copied()
    }

    /// Ids of every sandbox holding an address.
    pub fn attached(&self) -> Vec<String> {
        self.state().leased.keys().cloned().collect()
    }

    /// Give sandbox `id` an address (the one it holds, or a new one) and put `policy` in
    /// force; its link comes with [`Network::plug`].
    pub async fn attach(&self, id: &str, policy: &EgressPolicy) -> Result<Attachment, NetError> {
        let held = self.address(id).is_some();
        let attachment = self.begin_attach(id, policy)?;
        if let Err(e) = self.rules_ready(attachment.ip).await {
            if !held {
                let _ = self.detach(id).await;
            }
            return Err(e);
        }
        Ok(attachment)
    }

    /// [`Network::attach`] without waiting for the rules: the address is leased when this
    /// returns, and the egress and anti-spoofing rules go in while the sandbox boots (one `nft`
    /// transaction in the background, off the create path). [`Network::plug`] waits for them
    /// before it makes the link, so no frame passes before they are in force, and reports their
    /// failure; [`Network::set_policy`] and [`Network::detach`] wait for them too.
    pub fn begin_attach(&self, id: &str, policy: &EgressPolicy) -> Result<Attachment, NetError> {
        let compiled = policy.compile().map_err(NetError::Policy)?;
        let ip = match self.address(id) {
            Some(ip) => ip,
            None => {
                let ip = self.reserve(id)?;
                if let Err(source) = self.inner.leases.write(id, ip) {
                    self.state().leased.remove(id);
                    return Err(NetError::Host {
                        action: "write a lease",
                        source,
                    });
                }
                ip
            }
        };
        // The egress chain and the port's anti-spoofing chain in one transaction; the port is
        // in the filter before its veth exists. A link that outlived the daemon gets its
        // port's rules back this way too.
        let port = veth::host_end(ip);
        let script = format!(
            "{}{}",
            self.inner.fw.set_policy(ip, &compiled),
            self.inner.fw.add_port(ip, &port, &veth::sandbox_mac(ip))
        );
        let (done, rules) = tokio::sync::watch::channel(None);
        self.state().rules.insert(ip, rules);
        let inner = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let result = host::nft(&script).await;
            if result.is_ok()
                && let Some(inner) = inner.upgrade()
            {
                Network { inner }.state().policies.insert(ip, compiled);
            }
            let _ = done.send(Some(result.map_err(Arc::new)));
        });
        Ok(Attachment {
            ip,
            gateway: self.inner.gateway,
        })
    }

    /// Wait until the rules [`Network::begin_attach`] started for `ip` are in force, or report
    /// why they are not. Immediate when none are on the way.
    async fn rules_ready(&self, ip: Ipv4Addr) -> Result<(), NetError> {
        let pending = self.state().rules.get(&ip).cloned();
        let Some(mut pending) = pending else {
            return Ok(());
        };
        let outcome = match pending.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone(),
            Err(_) => return Err(NetError::Config("the rules' transaction was lost".into())),
        };
        match outcome {
            Some(Err(e)) => Err(NetError::Rules(e)),
            _ => Ok(()),
        }
    }

    /// Link sandbox `id` (attached: its port's anti-spoofing rules are in place), whose PID 1
    /// is `pid`, to the bridge. Replaces a link it had.
    pub async fn plug(&self, id: &str, pid: u32) -> Result<(), NetError> {
        let Some(ip) = self.address(id) else {
            return Err(NetError::Config(format!("sandbox {id} has no address")));
        };
        self.rules_ready(ip).await?;
        let cfg = &self.inner.cfg;
        veth::plug(&cfg.bridge, cfg.subnet, self.inner.gateway, ip, pid).await
    }

    /// Remove sandbox `id`'s link (before a checkpoint); its address and policy stay.
    pub async fn unplug(&self, id: &str) {
        if let Some(ip) = self.address(id) {
            veth::unplug(ip).await;
        }
    }

    /// Is sandbox `id` linked to the bridge now?
    pub fn is_plugged(&self, id: &str) -> bool {
        self.address(id).is_some_and(|ip| {
            std::path::Path::new("/sys/class/net")
                .join(veth::host_end(ip))
                .exists()
        })
    }

    /// Put a new policy in force for sandbox `id` (it must be attached).
    pub async fn set_policy(&self, id: &str, policy: &EgressPolicy) -> Result<(), NetError> {
        let compiled = policy.compile().map_err(NetError::Policy)?;
        let Some(ip) = self.address(id) else {
            return Err(NetError::Config(format!("sandbox {id} has no network")));
        };
        // After the attach's own transaction, which would otherwise overwrite this one.
        let _ = self.rules_ready(ip).await;
        self.apply(ip, compiled).await
    }

    async fn apply(&self, ip: Ipv4Addr, compiled: CompiledPolicy) -> Result<(), NetError> {
        host::nft(&self.inner.fw.set_policy(ip, &compiled)).await?;
        self.state().policies.insert(ip, compiled);
        Ok(())
    }

    /// Take sandbox `id` off the network: its link, rules and lease go. Idempotent.
    pub async fn detach(&self, id: &str) -> Result<(), NetError> {
        let Some(ip) = self.address(id) else {
            return Ok(());
        };
        // Removing rules that an unfinished attach is still adding would leave them behind.
        let _ = self.rules_ready(ip).await;
        veth::unplug(ip).await;
        let fw = &self.inner.fw;
        // Not in a map (a policy or port that never got in) is fine.
        let _ = host::nft(&fw.unmap(ip)).await;
        let _ = host::nft(&fw.unmap_port(&veth::host_end(ip))).await;
        host::nft(&format!("{}{}", fw.remove(ip), fw.remove_port(ip))).await?;
        let mut st = self.state();
        st.policies.remove(&ip);
        st.rules.remove(&ip);
        drop(st);
        self.inner
            .leases
            .remove(id)
            .map_err(|source| NetError::Host {
                action: "remove a lease",
                source,
            })?;
        self.state().leased.remove(id);
        Ok(())
    }

    /// Pick a free address and give it to `id` (in memory; the caller writes the lease).
    fn reserve(&self, id: &str) -> Result<Ipv4Addr, NetError> {
        let subnet = self.inner.cfg.subnet;
        let mut st = self.state();
        let used: HashSet<Ipv4Addr> = st.leased.values().copied().collect();
        // .0 is the network, .1 the gateway, the last the broadcast address.
        let hosts = u32::try_from(subnet.size().saturating_sub(3)).unwrap_or(u32::MAX);
        for step in 0..hosts {
            let n = 2 + (st.cursor.wrapping_add(step)) % hosts;
            let ip = subnet.nth(n);
            if !used.contains(&ip) {
                st.cursor = n - 1;
                st.leased.insert(id.to_owned(), ip);
                return Ok(ip);
            }
        }
        Err(NetError::Exhausted { subnet })
    }

    async fn start_dns(&self) -> Result<(), NetError> {
        let policy: Arc<dyn dns::DnsPolicy> = Arc::new(Resolver {
            net: Arc::downgrade(&self.inner),
        });
        let addr = SocketAddr::new(IpAddr::V4(self.inner.gateway), 53);
        let server = dns::DnsServer::bind(addr, self.inner.cfg.dns_upstreams.clone(), policy)
            .await
            .map_err(|source| NetError::Host {
                action: "start the sandboxes' resolver on the gateway's port 53",
                source,
            })?;
        *self.inner.dns.lock().unwrap_or_else(|e| e.into_inner()) = Some(server);
        Ok(())
    }
}

/// The resolver's view of the network: which sandbox may resolve what.
#[derive(Debug)]
struct Resolver {
    net: std::sync::Weak<Inner>,
}

impl dns::DnsPolicy for Resolver {
    fn decide(&self, client: IpAddr, name: &str) -> dns::Verdict {
        let IpAddr::V4(client) = client else {
            return dns::Verdict::Refuse;
        };
        let Some(inner) = self.net.upgrade() else {
            return dns::Verdict::Refuse;
        };
        let st = inner.state.lock().unwrap_or_else(|e| e.into_inner());
        match st.policies.get(&client).and_then(|p| p.dns_verdict(name)) {
            Some(learn) => dns::Verdict::Forward { learn },
            None => dns::Verdict::Refuse,
        }
    }

    fn learn(
        &self,
        client: IpAddr,
        addrs: Vec<(IpAddr, u32)>,
    ) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let (IpAddr::V4(client), Some(inner)) = (client, self.net.upgrade()) else {
                return;
            };
            let v4: Vec<Ipv4Addr> = addrs
                .iter()
                .filter_map(|(a, _)| match a {
                    IpAddr::V4(a) => Some(*a),
                    IpAddr::V6(_) => None,
                })
                .collect();
            if v4.is_empty() {
                return;
            }
            let ttl = addrs
                .iter()
                .map(|(_, t)| *t)
                .max()
                .unwrap_or(0)
                .max(MIN_LEARNED_TTL_S);
            if let Err(e) = host::nft(&inner.fw.learn(client, &v4, ttl)).await {
                tracing::warn!(sandbox = %client, error = %e, "cannot allow a resolved address");
            }
        })
    }
}

fn validate_config(cfg: &NetConfig) -> Result<(), NetError> {
    let b = &cfg.bridge;
    if b.is_empty()
        || b.len() > 15
        || !b.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        || !b.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return Err(NetError::Config(format!(
            "bridge name {b:?}: 1 to 15 letters, digits or '_', starting with a letter"
        )));
    }
    if !(8..=28).contains(&cfg.subnet.prefix) {
        return Err(NetError::Config(format!(
            "subnet {}: the prefix must be /8 to /28",
            cfg.subnet
        )));
    }
    Ok(())
}
