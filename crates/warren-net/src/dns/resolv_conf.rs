//! The upstream resolvers of a resolv.conf file (resolv.conf(5)): its `nameserver` lines.

use std::net::{IpAddr, SocketAddr, SocketAddrV6};

/// Nameservers from a resolv.conf text (port 53), e.g. for the host's /etc/resolv.conf, in
/// order and without duplicates. Comments (`#`, `;`), other options and unparsable addresses are
/// skipped; an IPv6 address may carry a numeric zone (`fe80::1%2`), one with an interface name
/// is skipped (resolving the name needs the OS).
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(addr) = words.next().and_then(parse_addr) else {
            continue;
        };
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    out
}

fn parse_addr(text: &str) -> Option<SocketAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 53));
    }
    let (ip, zone) = text.split_once('%')?;
    let ip = ip.parse().ok()?;
    let zone = zone.parse().ok()?;
    Some(SocketAddr::V6(SocketAddrV6::new(ip, 53, 0, zone)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_resolved_stub() {
        let text = "# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\n\
                    # Do not edit.\n\
                    \n\
                    nameserver 127.0.0.53\n\
                    options edns0 trust-ad\n\
                    search corp.example\n";
        assert_eq!(
            upstreams_from_resolv_conf(text),
            ["127.0.0.53:53".parse().unwrap()]
        );
    }

    #[test]
    fn several_with_ipv6_comments_and_junk() {
        let text = "domain example.org\n\
                    search example.org lab.example.org\n\
                    nameserver 10.0.0.2 # primary\n\
                    \tnameserver\t2001:4860:4860::8888\n\
                    ; nameserver 9.9.9.9\n\
                    #nameserver 1.1.1.1\n\
                    nameserver fe80::1%2\n\
                    nameserver fe80::2%eth0\n\
                    nameserver not-an-ip\n\
                    nameserver\n\
                    nameservers 8.8.4.4\n\
                    nameserver 10.0.0.2\n\
                    nameserver 8.8.8.8;backup\n\
                    options timeout:2 attempts:3 rotate\n\
                    sortlist 130.155.160.0/255.255.240.0\n";
        let want: Vec<SocketAddr> = vec![
            "10.0.0.2:53".parse().unwrap(),
            "[2001:4860:4860::8888]:53".parse().unwrap(),
            SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 53, 0, 2)),
            "8.8.8.8:53".parse().unwrap(),
        ];
        assert_eq!(upstreams_from_resolv_conf(text), want);
        assert_eq!(upstreams_from_resolv_conf(""), Vec::<SocketAddr>::new());
    }
}
