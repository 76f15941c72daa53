//! A sandbox's link to the bridge: a veth pair whose host end (`wv<address in hex>`, 15
//! characters at most) is an isolated, non-learning port of the bridge, and whose other end is
//! `eth0` in the sandbox's network namespace (which runc made, inside the sandbox's user
//! namespace), with the sandbox's address, loopback up and a default route via the gateway.
//!
//! MAC addresses are derived from the address (`02:57:` + the four octets inside, `02:56:` on
//! the host end), so that the bridge's anti-spoofing rules can name them.
//!
//! Plugging is two `ip -batch` runs: one on the host (create the pair with its far end already
//! in the sandbox's namespace, put the near end on the bridge), one inside the namespace (from
//! a thread that joined it, so no `nsenter`). A namespace that goes away (the sandbox stopped or
//! was checkpointed) takes the pair with it.

use std::net::Ipv4Addr;

use crate::NetError;
use crate::host::{ip_batch, ip_batch_in};
use crate::policy::Ipv4Net;

/// The host end's name.
pub(crate) fn host_end(ip: Ipv4Addr) -> String {
    format!("wv{:08x}", u32::from(ip))
}

/// `eth0`'s MAC address inside the sandbox.
pub(crate) fn sandbox_mac(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("02:57:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

fn host_mac(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("02:56:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

/// Link the sandbox whose PID 1 is `pid` to `bridge` with address `ip`.
pub(crate) async fn plug(
    bridge: &str,
    subnet: Ipv4Net,
    gateway: Ipv4Addr,
    ip: Ipv4Addr,
    pid: u32,
) -> Result<(), NetError> {
    unplug(ip).await;
    let near = host_end(ip);
    let host_side = format!(
        "link add {near} address {hmac} type veth peer name eth0 address {smac} netns {pid}\n\
         link set {near} master {bridge}\n\
         link set dev {near} type bridge_slave isolated on learning off\n\
         link set {near} up\n",
        hmac = host_mac(ip),
        smac = sandbox_mac(ip),
    );
    ip_batch(None, &host_side).await?;
    let inside = format!(
        "link set lo up\n\
         addr add {ip}/{prefix} dev eth0\n\
         link set eth0 up\n\
         route add default via {gateway}\n",
        prefix = subnet.prefix
    );
    if let Err(e) = ip_batch_in(pid, &inside).await {
        unplug(ip).await;
        return Err(e);
    }
    Ok(())
}

/// Remove the pair of `ip` (deleting either end deletes both). Idempotent, best effort: the
/// kernel also removes it, asynchronously, with the sandbox's namespace.
pub(crate) async fn unplug(ip: Ipv4Addr) {
    let near = host_end(ip);
    if std::path::Path::new("/sys/class/net").join(&near).exists() {
        let _ = ip_batch(None, &format!("link delete {near}\n")).await;
    }
}

/// Addresses in `subnet` whose host end exists now.
pub(crate) fn existing(subnet: Ipv4Net) -> Vec<Ipv4Addr> {
    let Ok(rd) = std::fs::read_dir("/sys/class/net") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_owned();
            let hex = name.strip_prefix("wv")?;
            let ip = Ipv4Addr::from(u32::from_str_radix(hex, 16).ok()?);
            subnet.contains(ip).then_some(ip)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_macs_derive_from_the_address() {
        let ip: Ipv4Addr = "10.88.0.5".parse().unwrap();
        assert_eq!(host_end(ip), "wv0a580005");
        assert_eq!(sandbox_mac(ip), "02:57:0a:58:00:05");
        assert_eq!(host_mac(ip), "02:56:0a:58:00:05");
    }
}
