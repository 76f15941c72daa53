//! Sandbox networking.
//!
//! Every sandbox gets its own network namespace, joined to a warren bridge by a veth pair, with
//! an address from a configured subnet; the host NATs its outbound traffic and nftables
//! enforces its egress policy (`none`, `outbound`, `restricted`, see [`policy`]). A resolver on
//! the bridge's gateway address answers the sandboxes' queries and, for restricted sandboxes,
//! only for allowed domains, whose answers open the way to their addresses (see [`dns`]).
//!
//! Namespaces are made ahead of time and pooled ([`Network::attach`] takes one: no `ip`
//! command on the create path). A sandbox keeps its namespace, and so its address, until it is
//! detached (deleted or archived); a restored or branched sandbox joins a new one. What holds
//! which address is kept on disk ([`leases`]) so a restarted daemon finds every address again.
//!
//! The host's `ip` (iproute2) and `nft` (nftables) tools do the work, each change one process
//! fed a script (`ip -batch`, `nft -f`, which nftables applies as one transaction).

#![forbid(unsafe_code)]

mod bridge;
pub mod dns;
mod firewall;
mod host;
mod leases;
mod netns;
pub mod policy;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Namespaces kept ready.
    pub pool_size: usize,
}

/// A sandbox's place on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its address.
    pub ip: Ipv4Addr,
    /// The namespace to join.
    pub netns: PathBuf,
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
    refilling: AtomicBool,
    dns: Mutex<Option<dns::DnsServer>>,
}

#[derive(Debug, Default)]
struct State {
    /// Sandbox id → address.
    leased: HashMap<String, Ipv4Addr>,
    /// Address → the policy in force (for the resolver).
    policies: HashMap<Ipv4Addr, CompiledPolicy>,
    /// Ready namespaces.
    pool: Vec<Ipv4Addr>,
    /// Addresses whose namespace is being made.
    preparing: HashSet<Ipv4Addr>,
    /// Where the next address search starts (addresses are not reused at once).
    cursor: u32,
}

/// DNS answers open an address to a restricted sandbox for at least this long: programs cache
/// answers past short TTLs.
const MIN_LEARNED_TTL_S: u32 = 300;

impl Network {
    /// Set up the bridge, the firewall table and the resolver, and find the leases and
    /// namespaces a previous daemon left (namespaces nothing leases are deleted).
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
        host::nft(&fw.base()).await?;
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
        for ip in netns::existing(&cfg.bridge) {
            if !held.contains(&ip) {
                netns::delete(&cfg.bridge, ip).await?;
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
                refilling: AtomicBool::new(false),
                dns: Mutex::new(None),
            }),
        };
        net.start_dns().await?;
        net.refill();
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

    /// Give sandbox `id` its namespace (the one it has, made again if it was lost; else a
    /// pooled one) and put `policy` in force.
    pub async fn attach(&self, id: &str, policy: &EgressPolicy) -> Result<Attachment, NetError> {
        let compiled = policy.compile().map_err(NetError::Policy)?;
        let cfg = &self.inner.cfg;
        let held = self.address(id);
        let ip = match held {
            Some(ip) => {
                if !netns::path(&cfg.bridge, ip).exists() {
                    netns::create(&cfg.bridge, cfg.subnet, self.inner.gateway, ip).await?;
                }
                ip
            }
            None => {
                let ip = self.take_ready().await?;
                if let Err(source) = self.inner.leases.write(id, ip) {
                    let _ = netns::delete(&cfg.bridge, ip).await;
                    return Err(NetError::Host {
                        action: "write a lease",
                        source,
                    });
                }
                self.state().leased.insert(id.to_owned(), ip);
                ip
            }
        };
        if let Err(e) = self.apply(ip, compiled).await {
            if held.is_none() {
                let _ = self.detach(id).await;
            }
            return Err(e);
        }
        Ok(Attachment {
            ip,
            netns: netns::path(&cfg.bridge, ip),
            gateway: self.inner.gateway,
        })
    }

    /// Put a new policy in force for sandbox `id` (it must be attached).
    pub async fn set_policy(&self, id: &str, policy: &EgressPolicy) -> Result<(), NetError> {
        let compiled = policy.compile().map_err(NetError::Policy)?;
        let Some(ip) = self.address(id) else {
            return Err(NetError::Config(format!("sandbox {id} has no network")));
        };
        self.apply(ip, compiled).await
    }

    async fn apply(&self, ip: Ipv4Addr, compiled: CompiledPolicy) -> Result<(), NetError> {
        host::nft(&self.inner.fw.set_policy(ip, &compiled)).await?;
        self.state().policies.insert(ip, compiled);
        Ok(())
    }

    /// Take sandbox `id` off the network: its rules, namespace and lease go. Idempotent.
    pub async fn detach(&self, id: &str) -> Result<(), NetError> {
        let Some(ip) = self.address(id) else {
            return Ok(());
        };
        // Not in the map (a policy that never got in) is fine.
        let _ = host::nft(&self.inner.fw.unmap(ip)).await;
        host::nft(&self.inner.fw.remove(ip)).await?;
        self.state().policies.remove(&ip);
        netns::delete(&self.inner.cfg.bridge, ip).await?;
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

    /// A ready namespace's address: from the pool, or made now when the pool is empty.
    async fn take_ready(&self) -> Result<Ipv4Addr, NetError> {
        let pooled = self.state().pool.pop();
        self.refill();
        if let Some(ip) = pooled {
            return Ok(ip);
        }
        let ip = self.reserve()?;
        let cfg = &self.inner.cfg;
        let made = netns::create(&cfg.bridge, cfg.subnet, self.inner.gateway, ip).await;
        self.state().preparing.remove(&ip);
        made.map(|()| ip)
    }

    /// Pick a free address and mark it as being prepared.
    fn reserve(&self) -> Result<Ipv4Addr, NetError> {
        let subnet = self.inner.cfg.subnet;
        let mut st = self.state();
        let used: HashSet<Ipv4Addr> = st
            .leased
            .values()
            .chain(st.pool.iter())
            .chain(st.preparing.iter())
            .copied()
            .collect();
        // .0 is the network, .1 the gateway, the last the broadcast address.
        let hosts = u32::try_from(subnet.size().saturating_sub(3)).unwrap_or(u32::MAX);
        for step in 0..hosts {
            let n = 2 + (st.cursor.wrapping_add(step)) % hosts;
            let ip = subnet.nth(n);
            if !used.contains(&ip) {
                st.cursor = n - 1;
                st.preparing.insert(ip);
                return Ok(ip);
            }
        }
        Err(NetError::Exhausted { subnet })
    }

    /// Make namespaces in the background until the pool is full (one task at a time).
    fn refill(&self) {
        if self.inner.cfg.pool_size == 0 || self.inner.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        let net = self.clone();
        tokio::spawn(async move {
            loop {
                if net.state().pool.len() >= net.inner.cfg.pool_size {
                    break;
                }
                let ip = match net.reserve() {
                    Ok(ip) => ip,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot fill the network namespace pool");
                        break;
                    }
                };
                let cfg = &net.inner.cfg;
                let made = netns::create(&cfg.bridge, cfg.subnet, net.inner.gateway, ip).await;
                let mut st = net.state();
                st.preparing.remove(&ip);
                match made {
                    Ok(()) => st.pool.push(ip),
                    Err(e) => {
                        drop(st);
                        tracing::warn!(error = %e, "cannot make a pooled network namespace");
                        break;
                    }
                }
            }
            net.inner.refilling.store(false, Ordering::Release);
        });
    }

    /// Delete every pooled namespace (leased ones stay), e.g. before the daemon exits in tests.
    pub async fn drain_pool(&self) {
        let pool = std::mem::take(&mut self.state().pool);
        for ip in pool {
            let _ = netns::delete(&self.inner.cfg.bridge, ip).await;
        }
    }

    /// Remove everything of this network: namespaces (leased ones too), leases, the firewall
    /// table and the bridge. For tests and for switching networking off.
    pub async fn teardown(&self) -> Result<(), NetError> {
        *self.inner.dns.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let ids = self.attached();
        for id in ids {
            self.detach(&id).await?;
        }
        self.drain_pool().await;
        for ip in netns::existing(&self.inner.cfg.bridge) {
            netns::delete(&self.inner.cfg.bridge, ip).await?;
        }
        host::nft(&self.inner.fw.teardown()).await?;
        bridge::remove(&self.inner.cfg.bridge).await
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
