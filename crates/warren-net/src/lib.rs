//! Sandbox networking.
//!
//! Every sandbox gets its own network namespace, joined to a warren bridge by a veth pair, with
//! an address from a configured pool; the host NATs its outbound traffic and nftables enforces
//! its egress policy (`none`, `outbound`, `restricted`). A DNS resolver on the bridge's gateway
//! address answers sandboxes' queries and, for restricted sandboxes, only for allowed domains
//! (see [`dns`]).

#![forbid(unsafe_code)]

pub mod dns;
