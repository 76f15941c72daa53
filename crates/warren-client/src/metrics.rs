//! Metrics: a sandbox's resource use, and the daemon's Prometheus exposition.

use reqwest::Method;
use warren_api_types::SandboxMetrics;

use crate::{Client, ClientError, seg};

impl Client {
    /// `GET /v1/sandboxes/{id}/metrics`: current use and the last 10 minutes.
    pub async fn sandbox_metrics(&self, id: &str) -> Result<SandboxMetrics, ClientError> {
        self.json(self.request(Method::GET, &format!("/v1/sandboxes/{}/metrics", seg(id))))
            .await
    }

    /// `GET /v1/sandboxes/{id}/ports`: the ports a running sandbox listens on, with their
    /// preview URLs.
    pub async fn list_ports(&self, id: &str) -> Result<warren_api_types::PortList, ClientError> {
        self.json(self.request(Method::GET, &format!("/v1/sandboxes/{}/ports", seg(id))))
            .await
    }

    /// `GET /v1/metrics`: the daemon's metrics in Prometheus text format.
    pub async fn prometheus_metrics(&self) -> Result<String, ClientError> {
        let resp = self.send(self.request(Method::GET, "/v1/metrics")).await?;
        let url = resp.url().to_string();
        resp.text()
            .await
            .map_err(|source| ClientError::Transport { url, source })
    }
}
