//! One sandbox network namespace: made with its veth pair already on the bridge, its address,
//! loopback and default route configured, so that a sandbox only has to join it.
//!
//! Names: the namespace is `<bridge>-<address>` (`/run/netns/warren0-10.88.0.5`), the veth's
//! host end `wv<address in hex>` (15 characters at most), its sandbox end `eth0`. Deleting the
//! namespace deletes the veth pair with it.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::NetError;
use crate::host::ip_batch;
use crate::policy::Ipv4Net;

/// Where `ip netns` keeps namespaces.
pub(crate) const NETNS_DIR: &str = "/run/netns";

/// The namespace name of `ip` on `bridge`.
pub(crate) fn name(bridge: &str, ip: Ipv4Addr) -> String {
    format!("{bridge}-{ip}")
}

/// The namespace's bind mount, which runc joins.
pub(crate) fn path(bridge: &str, ip: Ipv4Addr) -> PathBuf {
    PathBuf::from(NETNS_DIR).join(name(bridge, ip))
}

fn veth(ip: Ipv4Addr) -> String {
    format!("wv{:08x}", u32::from(ip))
}

/// Create the namespace of `ip` (removing a stale one of the same name first).
pub(crate) async fn create(
    bridge: &str,
    subnet: Ipv4Net,
    gateway: Ipv4Addr,
    ip: Ipv4Addr,
) -> Result<(), NetError> {
    let ns = name(bridge, ip);
    if path(bridge, ip).exists() {
        delete(bridge, ip).await?;
    }
    let host_end = veth(ip);
    // Isolated bridge ports talk to the bridge (the host) only, never to each other.
    let host_side = format!(
        "netns add {ns}\n\
         link add {host_end} type veth peer name eth0 netns {ns}\n\
         link set {host_end} master {bridge}\n\
         link set dev {host_end} type bridge_slave isolated on\n\
         link set {host_end} up\n"
    );
    if let Err(e) = ip_batch(None, &host_side).await {
        let _ = delete(bridge, ip).await;
        return Err(e);
    }
    let inside = format!(
        "link set lo up\n\
         addr add {ip}/{prefix} dev eth0\n\
         link set eth0 up\n\
         route add default via {gateway}\n",
        prefix = subnet.prefix
    );
    if let Err(e) = ip_batch(Some(&ns), &inside).await {
        let _ = delete(bridge, ip).await;
        return Err(e);
    }
    Ok(())
}

/// Delete the namespace of `ip` and its veth pair. Idempotent.
pub(crate) async fn delete(bridge: &str, ip: Ipv4Addr) -> Result<(), NetError> {
    let ns = name(bridge, ip);
    if path(bridge, ip).exists() {
        ip_batch(None, &format!("netns delete {ns}\n")).await?;
    }
    // A veth whose namespace went away without it (cannot normally happen) goes too.
    let host_end = veth(ip);
    if std::path::Path::new("/sys/class/net")
        .join(&host_end)
        .exists()
    {
        // The kernel removes the pair with the namespace, asynchronously: best effort.
        let _ = ip_batch(None, &format!("link delete {host_end}\n")).await;
    }
    Ok(())
}

/// Addresses of the namespaces of `bridge` that exist now.
pub(crate) fn existing(bridge: &str) -> Vec<Ipv4Addr> {
    let prefix = format!("{bridge}-");
    let Ok(rd) = std::fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(&prefix))
                .and_then(|ip| ip.parse().ok())
        })
        .collect()
}
