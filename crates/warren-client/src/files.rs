//! Files inside a sandbox.

use bytes::Bytes;
use reqwest::Method;

use crate::{Client, ClientError, seg};

impl Client {
    /// `GET /v1/sandboxes/{id}/files?path=`.
    pub async fn read_file(&self, id: &str, path: &str) -> Result<Bytes, ClientError> {
        let req = self
            .request(Method::GET, &format!("/v1/sandboxes/{}/files", seg(id)))
            .query(&[("path", path)]);
        let resp = self.send(req).await?;
        let url = resp.url().to_string();
        resp.bytes()
            .await
            .map_err(|source| ClientError::Transport { url, source })
    }

    /// `PUT /v1/sandboxes/{id}/files?path=`.
    pub async fn write_file(
        &self,
        id: &str,
        path: &str,
        data: impl Into<Bytes>,
    ) -> Result<(), ClientError> {
        let req = self
            .request(Method::PUT, &format!("/v1/sandboxes/{}/files", seg(id)))
            .query(&[("path", path)])
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(data.into());
        self.send(req).await?;
        Ok(())
    }
}
