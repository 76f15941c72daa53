//! The warren bridge: created (or adopted) at start-up with the gateway address, and IPv4
//! forwarding switched on so the host routes the sandboxes' traffic.

use std::net::Ipv4Addr;

use crate::NetError;
use crate::host::{ip_batch, output};
use crate::policy::Ipv4Net;

/// Make sure `bridge` exists, is up and holds `gateway`/`subnet.prefix`.
pub(crate) async fn ensure(
    bridge: &str,
    subnet: Ipv4Net,
    gateway: Ipv4Addr,
) -> Result<(), NetError> {
    // Another interface already routing (part of) the subnet would take the sandboxes' traffic.
    let routes = output(
        "ip",
        &["-4", "-o", "route", "show", "match", &gateway.to_string()],
    )
    .await
    .unwrap_or_default();
    if let Some(clash) = routes
        .lines()
        .find(|l| !l.starts_with("default") && !l.split_whitespace().any(|w| w == bridge))
    {
        return Err(NetError::Config(format!(
            "the sandbox subnet {subnet} overlaps a route of this host ({}); choose another with --subnet",
            clash.trim()
        )));
    }
    let exists = std::path::Path::new("/sys/class/net").join(bridge).exists();
    if !exists {
        ip_batch(None, &format!("link add {bridge} type bridge\n")).await?;
    }
    let addrs = output("ip", &["-4", "-o", "addr", "show", "dev", bridge])
        .await
        .unwrap_or_default();
    let want = format!("inet {gateway}/{}", subnet.prefix);
    let mut script = String::new();
    if !addrs.contains(&want) {
        script.push_str(&format!(
            "addr add {gateway}/{} dev {bridge}\n",
            subnet.prefix
        ));
    }
    script.push_str(&format!("link set {bridge} up\n"));
    ip_batch(None, &script).await?;
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").map_err(|source| NetError::Host {
        action: "switch on IPv4 forwarding (/proc/sys/net/ipv4/ip_forward)",
        source,
    })?;
    Ok(())
}
