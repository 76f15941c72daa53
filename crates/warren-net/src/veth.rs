//! A sandbox's link to the bridge: a veth pair whose host end (`wv<address in hex>`, 15
//! characters at most) is an isolated, non-learning port of the bridge, and whose other end is
//! `eth0` in the sandbox's network namespace (which runc made, inside the sandbox's user
//! namespace), with the sandbox's address, loopback up and a default route via the gateway.
//!
//! MAC addresses are derived from the address (`02:57:` + the four octets inside, `02:56:` on
//! the host end), so that the bridge's anti-spoofing rules can name them.
//!
//! Plugging is a handful of rtnetlink requests made in-process (`netlink.rs`; no `ip` process
//! on the create path): on the host, create the pair with its far end already in the sandbox's
//! namespace and the near end on the bridge, then isolate the port and bring it up; inside the
//! namespace (from a thread that joined it, so no `nsenter`), loopback up, the address, `eth0`
//! up, the default route. A namespace that goes away (the sandbox stopped or was checkpointed)
//! takes the pair with it.

use std::net::Ipv4Addr;

use nix::net::if_::if_nametoindex;

use crate::NetError;
use crate::netlink::{Mac, Peer, Rtnl};
use crate::policy::Ipv4Net;

/// The host end's name.
pub(crate) fn host_end(ip: Ipv4Addr) -> String {
    format!("wv{:08x}", u32::from(ip))
}

/// `eth0`'s MAC address inside the sandbox.
pub(crate) fn sandbox_mac(ip: Ipv4Addr) -> String {
    format_mac(sandbox_mac_bytes(ip))
}

fn sandbox_mac_bytes(ip: Ipv4Addr) -> Mac {
    let o = ip.octets();
    [0x02, 0x57, o[0], o[1], o[2], o[3]]
}

fn host_mac_bytes(ip: Ipv4Addr) -> Mac {
    let o = ip.octets();
    [0x02, 0x56, o[0], o[1], o[2], o[3]]
}

fn format_mac(m: Mac) -> String {
    m.map(|b| format!("{b:02x}")).join(":")
}

/// Link the sandbox whose PID 1 is `pid` to `bridge` with address `ip`.
pub(crate) async fn plug(
    bridge: &str,
    subnet: Ipv4Net,
    gateway: Ipv4Addr,
    ip: Ipv4Addr,
    pid: u32,
) -> Result<(), NetError> {
    let bridge = bridge.to_owned();
    let done = tokio::task::spawn_blocking(move || {
        delete_host_end(ip);
        let result = plug_blocking(&bridge, subnet.prefix, gateway, ip, pid);
        if result.is_err() {
            delete_host_end(ip);
        }
        result
    })
    .await;
    done.map_err(|e| link_err("plug", ip, std::io::Error::other(e.to_string())))?
}

fn plug_blocking(
    bridge: &str,
    prefix: u8,
    gateway: Ipv4Addr,
    ip: Ipv4Addr,
    pid: u32,
) -> Result<(), NetError> {
    let near = host_end(ip);
    let master =
        if_nametoindex(bridge).map_err(|e| link_err("find the bridge of", ip, e.into()))?;
    let mut rtnl = Rtnl::open().map_err(|e| link_err("open netlink for", ip, e))?;
    let peer = Peer {
        name: "eth0",
        mac: sandbox_mac_bytes(ip),
        netns_pid: pid,
    };
    rtnl.add_veth(&near, host_mac_bytes(ip), master, &peer)
        .map_err(|e| link_err("create the veth pair of", ip, e))?;
    let port = if_nametoindex(near.as_str())
        .map_err(|e| link_err("find the host end of", ip, e.into()))?;
    rtnl.isolate_port_and_up(port)
        .map_err(|e| link_err("set up the bridge port of", ip, e))?;
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .map_err(|e| link_err("open the network namespace of", ip, e))?;
    // setns changes the calling thread: a thread of its own, never a pool's.
    std::thread::spawn(move || -> Result<(), NetError> {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| link_err("enter the network namespace of", ip, e.into()))?;
        let inside = |what: &'static str| move |e: std::io::Error| link_err(what, ip, e);
        let mut rtnl = Rtnl::open().map_err(inside("open netlink inside"))?;
        let lo = if_nametoindex("lo").map_err(|e| inside("find loopback of")(e.into()))?;
        let eth0 = if_nametoindex("eth0").map_err(|e| inside("find eth0 of")(e.into()))?;
        rtnl.set_up(lo).map_err(inside("bring up loopback of"))?;
        rtnl.add_address(eth0, ip, prefix)
            .map_err(inside("address eth0 of"))?;
        rtnl.set_up(eth0).map_err(inside("bring up eth0 of"))?;
        rtnl.add_default_route(gateway)
            .map_err(inside("route the traffic of"))
    })
    .join()
    .map_err(|_| {
        link_err(
            "plug",
            ip,
            std::io::Error::other("the namespace thread panicked"),
        )
    })?
}

fn link_err(action: &'static str, ip: Ipv4Addr, source: std::io::Error) -> NetError {
    NetError::Link { action, ip, source }
}

/// Remove the pair of `ip` (deleting either end deletes both). Idempotent, best effort: the
/// kernel also removes it, asynchronously, with the sandbox's namespace.
pub(crate) async fn unplug(ip: Ipv4Addr) {
    let _ = tokio::task::spawn_blocking(move || delete_host_end(ip)).await;
}

fn delete_host_end(ip: Ipv4Addr) {
    let Ok(index) = if_nametoindex(host_end(ip).as_str()) else {
        return;
    };
    let deleted = Rtnl::open().and_then(|mut rtnl| rtnl.delete_link(index));
    if let Err(e) = deleted
        && e.raw_os_error() != Some(nix::errno::Errno::ENODEV as i32)
    {
        tracing::warn!(%ip, error = %e, "cannot delete a sandbox's veth pair");
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
        assert_eq!(format_mac(host_mac_bytes(ip)), "02:56:0a:58:00:05");
    }
}
