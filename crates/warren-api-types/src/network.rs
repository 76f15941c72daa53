//! Networking: a sandbox's egress policy, its public ports, and the ports it listens on with
//! their preview URLs.

use serde::{Deserialize, Serialize};

/// How much of the network a sandbox reaches: `none` (no connection out at all, not even DNS;
/// its ports stay reachable through warren's proxy and SSH gateway), `outbound` (everything
/// out through the host's NAT, minus `deny`), `restricted` (only `allow`, minus `deny`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// Loopback only.
    None,
    /// Everything out except `deny`.
    #[default]
    Outbound,
    /// Only `allow`, except `deny`.
    Restricted,
}

/// A sandbox's egress policy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"mode": "restricted", "allow": ["pypi.org", "files.pythonhosted.org", "10.0.0.0/8"]}))
)]
#[serde(deny_unknown_fields)]
pub struct NetworkPolicy {
    /// The mode (default `outbound`).
    #[serde(default)]
    pub mode: NetworkMode,
    /// Restricted mode only: IPv4 addresses, CIDRs, or domain names (`example.com` also
    /// matches its subdomains; `*.example.com` only them). A domain is resolvable by the
    /// sandbox, and the addresses its answers name become reachable. At most 256 entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Addresses, CIDRs or domain names never reachable (a denied domain does not resolve).
    /// At most 256 entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

/// A sandbox's network as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SandboxNetwork {
    /// Egress mode.
    pub mode: NetworkMode,
    /// Allow list (restricted mode).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Deny list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
    /// Ports served by the preview proxy without a token.
    #[serde(default)]
    pub public_ports: Vec<u16>,
    /// The sandbox's address on the warren bridge, while it has one (it keeps it until it is
    /// deleted or archived).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The token that opens its other ports through the preview proxy: send it as the
    /// `X-Warren-Token` header, or once as `?warren_token=` (it becomes a cookie).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
}

/// A TCP port a sandbox listens on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListeningPort {
    /// The port.
    pub port: u16,
    /// Served without a token.
    pub public: bool,
    /// Preview URL, host form: `http://<port>-<sandbox id>.<base domain>[:<daemon port>]/`.
    pub url: String,
    /// Preview URL, path form, for clients that cannot use wildcard host names:
    /// `http://<daemon>/v1/sandboxes/<id>/ports/<port>/`.
    pub path_url: String,
}

/// Answer to `GET /v1/sandboxes/{id}/ports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PortList {
    /// Listening TCP ports (any address), lowest first.
    pub items: Vec<ListeningPort>,
}
