//! What a sandbox may reach: its egress policy, as given by users, validated and normalised.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// How much of the network a sandbox reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// No connection out of the sandbox at all (not even DNS). warren's proxy and SSH gateway
    /// still reach its ports.
    None,
    /// Everything out (NAT through the host), except the `deny` list.
    #[default]
    Outbound,
    /// Only the `allow` list (addresses, and domains through DNS), minus the `deny` list.
    Restricted,
}

impl NetworkMode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Outbound => "outbound",
            Self::Restricted => "restricted",
        }
    }
}

/// A sandbox's egress policy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EgressPolicy {
    /// The mode.
    pub mode: NetworkMode,
    /// CIDRs, addresses or domain names the sandbox may reach (restricted mode).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// CIDRs, addresses or domain names it may not reach (outbound and restricted modes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

/// An IPv4 network: address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    /// The network's first address (host bits are cleared by [`Ipv4Net::new`]).
    pub addr: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub prefix: u8,
}

impl Ipv4Net {
    /// The network of `addr`/`prefix` (host bits cleared); `None` when `prefix` > 32.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Self> {
        (prefix <= 32).then(|| Self {
            addr: Ipv4Addr::from(u32::from(addr) & Self::mask_of(prefix)),
            prefix,
        })
    }

    fn mask_of(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix))
        }
    }

    /// Does the network contain `ip`?
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Self::mask_of(self.prefix) == u32::from(self.addr)
    }

    /// Number of addresses (2^(32-prefix)).
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// The `n`th address of the network.
    pub fn nth(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr).wrapping_add(n))
    }
}

impl std::fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl std::str::FromStr for Ipv4Net {
    type Err = String;

    /// `a.b.c.d/n` or a bare address (a /32).
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (
                a,
                p.parse::<u8>()
                    .map_err(|_| format!("{s:?}: the prefix length must be 0 to 32"))?,
            ),
            None => (s, 32),
        };
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IPv4 address or CIDR"))?;
        Ipv4Net::new(addr, prefix)
            .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to 32"))
    }
}

/// One entry of an allow or deny list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An address or network.
    Net(Ipv4Net),
    /// A domain pattern (`example.com` or `*.example.com`, see [`crate::dns::domain_matches`]).
    Domain(String),
}

/// Most entries in one list.
pub const MAX_ENTRIES: usize = 256;

/// Parse one list entry: a CIDR or address when it looks like one, else a domain pattern.
pub fn parse_target(entry: &str) -> Result<Target, String> {
    let entry = entry.trim();
    if entry.is_empty() {
        return Err("an entry is empty".into());
    }
    if entry.contains(':') {
        return Err(format!(
            "{entry:?}: IPv6 is not supported (sandboxes have IPv4 only)"
        ));
    }
    let looks_numeric = entry
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == '/');
    if looks_numeric {
        return entry.parse::<Ipv4Net>().map(Target::Net);
    }
    crate::dns::validate_domain_pattern(entry)?;
    Ok(Target::Domain(
        entry.trim_end_matches('.').to_ascii_lowercase(),
    ))
}

/// A policy split into what nftables and the resolver need.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompiledPolicy {
    /// The mode.
    pub mode: NetworkMode,
    /// Allowed networks.
    pub allow_nets: Vec<Ipv4Net>,
    /// Allowed domain patterns.
    pub allow_domains: Vec<String>,
    /// Denied networks.
    pub deny_nets: Vec<Ipv4Net>,
    /// Denied domain patterns.
    pub deny_domains: Vec<String>,
}

impl EgressPolicy {
    /// Check every entry; the error names the list and the entry at fault.
    pub fn compile(&self) -> Result<CompiledPolicy, String> {
        let mut out = CompiledPolicy {
            mode: self.mode,
            ..CompiledPolicy::default()
        };
        for (name, list) in [("allow", &self.allow), ("deny", &self.deny)] {
            if list.len() > MAX_ENTRIES {
                return Err(format!("{name}: at most {MAX_ENTRIES} entries"));
            }
            for entry in list {
                let target = parse_target(entry).map_err(|e| format!("{name}: {e}"))?;
                let (nets, domains) = if name == "allow" {
                    (&mut out.allow_nets, &mut out.allow_domains)
                } else {
                    (&mut out.deny_nets, &mut out.deny_domains)
                };
                match target {
                    Target::Net(n) => nets.push(n),
                    Target::Domain(d) => domains.push(d),
                }
            }
        }
        if self.mode != NetworkMode::Restricted && !self.allow.is_empty() {
            return Err(format!(
                "allow: only a restricted network uses an allow list (this one is {})",
                self.mode.as_str()
            ));
        }
        Ok(out)
    }
}

impl CompiledPolicy {
    /// May the sandbox resolve `name`? (`Some(learn)`: yes, and whether the answer's addresses
    /// must be allowed for it; `None`: no.)
    pub fn dns_verdict(&self, name: &str) -> Option<bool> {
        let denied = self
            .deny_domains
            .iter()
            .any(|p| crate::dns::domain_matches(p, name));
        match self.mode {
            NetworkMode::None => None,
            _ if denied => None,
            NetworkMode::Outbound => Some(false),
            NetworkMode::Restricted => self
                .allow_domains
                .iter()
                .any(|p| crate::dns::domain_matches(p, name))
                .then_some(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nets_parse_and_contain() {
        let n: Ipv4Net = "10.88.7.9/16".parse().unwrap();
        assert_eq!(n.to_string(), "10.88.0.0/16");
        assert!(n.contains("10.88.255.1".parse().unwrap()));
        assert!(!n.contains("10.89.0.1".parse().unwrap()));
        assert_eq!(n.size(), 65536);
        assert_eq!("1.2.3.4".parse::<Ipv4Net>().unwrap().prefix, 32);
        assert!("1.2.3.4/33".parse::<Ipv4Net>().is_err());
        assert!("1.2.3/8".parse::<Ipv4Net>().is_err());
        assert_eq!("0.0.0.0/0".parse::<Ipv4Net>().unwrap().size(), 1 << 32);
    }

    #[test]
    fn targets_are_nets_or_domains() {
        assert_eq!(
            parse_target("192.168.1.0/24").unwrap(),
            Target::Net("192.168.1.0/24".parse().unwrap())
        );
        assert_eq!(
            parse_target("PyPI.org.").unwrap(),
            Target::Domain("pypi.org".into())
        );
        assert!(parse_target("::1").is_err());
        assert!(parse_target("").is_err());
        assert!(parse_target("300.1.1.1").is_err());
        assert!(parse_target("bad domain").is_err());
    }

    #[test]
    fn allow_lists_need_restricted_mode() {
        let p = EgressPolicy {
            mode: NetworkMode::Outbound,
            allow: vec!["10.0.0.0/8".into()],
            deny: vec![],
        };
        assert!(p.compile().unwrap_err().contains("restricted"));
        let p = EgressPolicy {
            mode: NetworkMode::Restricted,
            allow: vec!["10.0.0.0/8".into(), "example.com".into()],
            deny: vec!["10.1.0.0/16".into(), "bad.example.com".into()],
        };
        let c = p.compile().unwrap();
        assert_eq!(c.allow_nets.len(), 1);
        assert_eq!(c.allow_domains, vec!["example.com"]);
        assert_eq!(c.dns_verdict("www.example.com"), Some(true));
        assert_eq!(c.dns_verdict("bad.example.com"), None);
        assert_eq!(c.dns_verdict("other.org"), None);
    }

    #[test]
    fn dns_by_mode() {
        let out = EgressPolicy {
            mode: NetworkMode::Outbound,
            allow: vec![],
            deny: vec!["tracker.test".into()],
        }
        .compile()
        .unwrap();
        assert_eq!(out.dns_verdict("anything.org"), Some(false));
        assert_eq!(out.dns_verdict("x.tracker.test"), None);
        let none = EgressPolicy {
            mode: NetworkMode::None,
            ..EgressPolicy::default()
        }
        .compile()
        .unwrap();
        assert_eq!(none.dns_verdict("anything.org"), None);
    }
}
