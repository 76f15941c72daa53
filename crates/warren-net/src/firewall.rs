//! The nftables rules, as text for `nft -f`.
//!
//! One table per warren bridge (`inet <bridge>`), replaced whole at start-up:
//! - `forward`: nothing reaches a sandbox from outside unless it answers the sandbox's own
//!   connection; sandboxes never reach each other (their bridge ports are isolated too); what
//!   a sandbox starts goes through its own chain, found by source address in the `egress` map.
//! - `input`: from the bridge, the host accepts only DNS to the gateway (the resolver) and
//!   replies to its own connections (the preview proxy, the SSH gateway).
//! - `postrouting`: NAT of the sandboxes' subnet to the host's addresses.
//!
//! Each sandbox has a chain `sb_<hex address>` holding its policy and a set `dns_<hex address>`
//! of addresses its allowed DNS answers named (entries expire with the answer's TTL). A policy
//! change flushes and refills the chain in one transaction.

use std::fmt::Write;
use std::net::Ipv4Addr;

use crate::policy::{CompiledPolicy, Ipv4Net, NetworkMode};

/// The table's name, chain and set names for one bridge.
#[derive(Debug, Clone)]
pub(crate) struct Firewall {
    /// Table name (the bridge's name).
    pub table: String,
    /// Bridge interface.
    pub bridge: String,
    /// The sandboxes' subnet.
    pub subnet: Ipv4Net,
    /// The bridge's own address (the resolver listens there).
    pub gateway: Ipv4Addr,
}

fn hex(ip: Ipv4Addr) -> String {
    format!("{:08x}", u32::from(ip))
}

fn elements(nets: &[Ipv4Net]) -> String {
    nets.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Firewall {
    /// The whole table, replacing any previous one (no sandbox chains yet).
    pub(crate) fn base(&self) -> String {
        let Firewall {
            table,
            bridge,
            subnet,
            gateway,
        } = self;
        format!(
            r#"table inet {table}
delete table inet {table}
table inet {table} {{
  map egress {{ type ipv4_addr : verdict; }}
  chain forward {{
    type filter hook forward priority filter; policy accept;
    iifname "{bridge}" oifname "{bridge}" drop
    oifname "{bridge}" ct state established,related accept
    oifname "{bridge}" drop
    iifname "{bridge}" ct state established,related accept
    iifname "{bridge}" ip saddr vmap @egress
    iifname "{bridge}" drop
  }}
  chain input {{
    type filter hook input priority filter; policy accept;
    iifname "{bridge}" ct state established,related accept
    iifname "{bridge}" ip daddr {gateway} udp dport 53 accept
    iifname "{bridge}" ip daddr {gateway} tcp dport 53 accept
    iifname "{bridge}" drop
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr {subnet} oifname != "{bridge}" masquerade
  }}
}}
"#
        )
    }

    /// The bridge-level table (`bridge <table>`): frames from a sandbox's port must carry its
    /// own MAC and IPv4 address (IP or ARP; nothing else), so a sandbox — root in its own
    /// network namespace — cannot pass for another one, to the host or its neighbours. A port
    /// is in the map before its veth exists. (A bridge-family hook sees every bridge of the
    /// host, and this kernel's nftables cannot match the bridge by name (`meta ibrname`), so
    /// nothing here drops by port name: ports of other bridges are not ours.)
    pub(crate) fn bridge_base(&self) -> String {
        let t = &self.table;
        format!(
            r#"table bridge {t}
delete table bridge {t}
table bridge {t} {{
  map ports {{ type ifname : verdict; }}
  chain prerouting {{
    type filter hook prerouting priority filter; policy accept;
    iifname vmap @ports
  }}
}}
"#
        )
    }

    fn port_chain(ip: Ipv4Addr) -> String {
        format!("port_{}", hex(ip))
    }

    /// Let the port of sandbox `ip` (host end `port`, sandbox MAC `mac`) through the bridge.
    pub(crate) fn add_port(&self, ip: Ipv4Addr, port: &str, mac: &str) -> String {
        let t = &self.table;
        let chain = Self::port_chain(ip);
        format!(
            "add chain bridge {t} {chain}\n\
             flush chain bridge {t} {chain}\n\
             add rule bridge {t} {chain} ether saddr != {mac} drop\n\
             add rule bridge {t} {chain} ether type arp arp saddr ip != {ip} drop\n\
             add rule bridge {t} {chain} ether type ip ip saddr != {ip} drop\n\
             add rule bridge {t} {chain} ether type != {{ ip, arp }} drop\n\
             add rule bridge {t} {chain} accept\n\
             add element bridge {t} ports {{ \"{port}\" : jump {chain} }}\n"
        )
    }

    /// Take port `port` out of the `ports` map (fails when it is not there).
    pub(crate) fn unmap_port(&self, port: &str) -> String {
        format!(
            "delete element bridge {} ports {{ \"{port}\" }}\n",
            self.table
        )
    }

    /// Remove the port chain of sandbox `ip` (once it is out of the map).
    pub(crate) fn remove_port(&self, ip: Ipv4Addr) -> String {
        let (t, chain) = (&self.table, Self::port_chain(ip));
        format!("add chain bridge {t} {chain}\ndelete chain bridge {t} {chain}\n")
    }

    fn chain(ip: Ipv4Addr) -> String {
        format!("sb_{}", hex(ip))
    }

    fn dns_set(ip: Ipv4Addr) -> String {
        format!("dns_{}", hex(ip))
    }

    /// Install or replace sandbox `ip`'s policy.
    pub(crate) fn set_policy(&self, ip: Ipv4Addr, policy: &CompiledPolicy) -> String {
        let t = &self.table;
        let chain = Self::chain(ip);
        let set = Self::dns_set(ip);
        let mut s = String::new();
        // `add` is idempotent for chains and sets; the map element is replaced.
        let _ = writeln!(s, "add chain inet {t} {chain}");
        let _ = writeln!(
            s,
            "add set inet {t} {set} {{ type ipv4_addr; flags timeout; }}"
        );
        let _ = writeln!(s, "flush chain inet {t} {chain}");
        if !policy.deny_nets.is_empty() && policy.mode != NetworkMode::None {
            let _ = writeln!(
                s,
                "add rule inet {t} {chain} ip daddr {{ {} }} drop",
                elements(&policy.deny_nets)
            );
        }
        match policy.mode {
            NetworkMode::None => {
                let _ = writeln!(s, "add rule inet {t} {chain} drop");
            }
            NetworkMode::Outbound => {
                let _ = writeln!(s, "add rule inet {t} {chain} accept");
            }
            NetworkMode::Restricted => {
                if !policy.allow_nets.is_empty() {
                    let _ = writeln!(
                        s,
                        "add rule inet {t} {chain} ip daddr {{ {} }} accept",
                        elements(&policy.allow_nets)
                    );
                }
                let _ = writeln!(s, "add rule inet {t} {chain} ip daddr @{set} accept");
                let _ = writeln!(s, "add rule inet {t} {chain} drop");
            }
        }
        // A mode change also forgets what DNS allowed before.
        if policy.mode != NetworkMode::Restricted {
            let _ = writeln!(s, "flush set inet {t} {set}");
        }
        let _ = writeln!(s, "add element inet {t} egress {{ {ip} : jump {chain} }}");
        s
    }

    /// Let sandbox `ip` reach `addrs` for `ttl_s` seconds (learned from an allowed DNS answer).
    /// An address already in the set gets the new timeout (add, delete, add again: `add` alone
    /// keeps an existing element's timeout, `delete` alone fails on a missing one).
    pub(crate) fn learn(&self, ip: Ipv4Addr, addrs: &[Ipv4Addr], ttl_s: u32) -> String {
        let (t, set) = (&self.table, Self::dns_set(ip));
        let plain = addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let timed = addrs
            .iter()
            .map(|a| format!("{a} timeout {ttl_s}s"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "add element inet {t} {set} {{ {plain} }}\n\
             delete element inet {t} {set} {{ {plain} }}\n\
             add element inet {t} {set} {{ {timed} }}\n"
        )
    }

    /// Take sandbox `ip` out of the `egress` map (fails when it is not there).
    pub(crate) fn unmap(&self, ip: Ipv4Addr) -> String {
        format!("delete element inet {} egress {{ {ip} }}\n", self.table)
    }

    /// Remove sandbox `ip`'s chain and set (once it is out of the map, see
    /// [`Firewall::unmap`]).
    pub(crate) fn remove(&self, ip: Ipv4Addr) -> String {
        let t = &self.table;
        let chain = Self::chain(ip);
        let set = Self::dns_set(ip);
        // `add` first so that the deletes cannot fail on something already gone.
        format!(
            "add chain inet {t} {chain}\n\
             delete chain inet {t} {chain}\n\
             add set inet {t} {set} {{ type ipv4_addr; flags timeout; }}\n\
             delete set inet {t} {set}\n"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::EgressPolicy;

    fn fw() -> Firewall {
        Firewall {
            table: "warren0".into(),
            bridge: "warren0".into(),
            subnet: "10.88.0.0/16".parse().unwrap(),
            gateway: "10.88.0.1".parse().unwrap(),
        }
    }

    #[test]
    fn base_names_the_bridge_subnet_and_gateway() {
        let b = fw().base();
        assert!(b.contains(r#"iifname "warren0" ip saddr vmap @egress"#));
        assert!(b.contains("ip saddr 10.88.0.0/16 oifname != \"warren0\" masquerade"));
        assert!(b.contains("ip daddr 10.88.0.1 udp dport 53 accept"));
        assert!(b.starts_with("table inet warren0\ndelete table inet warren0\n"));
    }

    #[test]
    fn ports_only_pass_their_own_addresses() {
        let ip: Ipv4Addr = "10.88.0.5".parse().unwrap();
        let s = fw().add_port(ip, "wv0a580005", "02:57:0a:58:00:05");
        assert!(s.contains("port_0a580005 ether saddr != 02:57:0a:58:00:05 drop"));
        assert!(s.contains("arp saddr ip != 10.88.0.5 drop"));
        assert!(s.contains("ip saddr != 10.88.0.5 drop"));
        assert!(s.contains(r#"ports { "wv0a580005" : jump port_0a580005 }"#));
        assert!(fw().bridge_base().contains("iifname vmap @ports"));
    }

    #[test]
    fn policies_become_chains() {
        let ip: Ipv4Addr = "10.88.0.5".parse().unwrap();
        let restricted = EgressPolicy {
            mode: NetworkMode::Restricted,
            allow: vec!["192.0.2.0/24".into(), "example.com".into()],
            deny: vec!["192.0.2.7".into()],
        }
        .compile()
        .unwrap();
        let s = fw().set_policy(ip, &restricted);
        let deny = s.find("ip daddr { 192.0.2.7/32 } drop").unwrap();
        let allow = s.find("ip daddr { 192.0.2.0/24 } accept").unwrap();
        let learned = s.find("ip daddr @dns_0a580005 accept").unwrap();
        let last = s.find("add rule inet warren0 sb_0a580005 drop").unwrap();
        assert!(deny < allow && allow < learned && learned < last);
        assert!(s.contains("add element inet warren0 egress { 10.88.0.5 : jump sb_0a580005 }"));
        let none = EgressPolicy {
            mode: NetworkMode::None,
            ..Default::default()
        }
        .compile()
        .unwrap();
        let s = fw().set_policy(ip, &none);
        assert!(s.contains("add rule inet warren0 sb_0a580005 drop"));
        assert!(s.contains("flush set inet warren0 dns_0a580005"));
        assert!(!s.contains("accept"));
    }
}
