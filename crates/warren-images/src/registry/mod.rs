//! Talking to an OCI distribution (registry v2) API: the HTTP client with
//! token/basic auth ([`client`], [`auth`]) and the manifest documents it
//! returns ([`manifest`]).

pub(crate) mod auth;
pub(crate) mod client;
pub(crate) mod manifest;
