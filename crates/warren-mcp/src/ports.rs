//! `expose_port`: make a sandbox's port reachable through the preview proxy and say where.

use serde::Serialize;
use warren_api_types::UpdateSandboxRequest;
use warren_client::Client;

use crate::args::ExposePort;
use crate::error::ToolError;

/// What `expose_port` returns.
#[derive(Debug, Serialize)]
pub(crate) struct Exposed {
    /// The port.
    pub port: u16,
    /// Served to anyone without a token.
    pub public: bool,
    /// Preview URL, host form (`http://<port>-<sandbox id>.<domain>/`).
    pub url: String,
    /// Preview URL, path form, for clients without wildcard DNS.
    pub path_url: String,
    /// For a port that is not public: the token that opens it (header `X-Warren-Token`, or
    /// `?warren_token=` once, which sets a cookie).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// For a port that is not public: `url` with the token, ready to open in a browser.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_with_token: Option<String>,
}

/// `expose_port`: with `public`, add the port to the sandbox's public ports; then answer its
/// preview URLs, which need a server listening on it.
pub(crate) async fn expose(client: &Client, a: ExposePort) -> Result<Exposed, ToolError> {
    let port = u16::try_from(a.port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| ToolError::InvalidArgument {
            argument: "port",
            reason: format!("{} is not within 1..=65535", a.port),
        })?;
    let mut sandbox = client.get_sandbox(&a.sandbox_id).await?;
    if a.public && !sandbox.network.public_ports.contains(&port) {
        let mut public_ports = sandbox.network.public_ports.clone();
        public_ports.push(port);
        let update = UpdateSandboxRequest {
            public_ports: Some(public_ports),
            ..Default::default()
        };
        sandbox = client.update_sandbox(&a.sandbox_id, &update).await?;
    }
    let listed = client.list_ports(&a.sandbox_id).await?;
    let Some(found) = listed.items.into_iter().find(|p| p.port == port) else {
        return Err(ToolError::PortNotListening {
            sandbox: a.sandbox_id,
            port,
        });
    };
    let token = (!found.public)
        .then_some(sandbox.network.access_token)
        .flatten();
    Ok(Exposed {
        port: found.port,
        public: found.public,
        url_with_token: token.as_ref().map(|t| {
            format!(
                "{}?warren_token={}",
                found.url,
                warren_client::percent_encode(t)
            )
        }),
        url: found.url,
        path_url: found.path_url,
        access_token: token,
    })
}
