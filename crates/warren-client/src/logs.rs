//! The main process's log of a sandbox.

use reqwest::Method;

use crate::{ByteStream, Client, ClientError, seg};

impl Client {
    /// `GET /v1/sandboxes/{id}/logs`: the last `tail` lines (everything retained when `None`)
    /// and, with `follow`, new output until the stream is dropped or the sandbox is deleted.
    pub async fn sandbox_logs(
        &self,
        id: &str,
        tail: Option<u64>,
        follow: bool,
    ) -> Result<ByteStream, ClientError> {
        let mut req = self.request(Method::GET, &format!("/v1/sandboxes/{}/logs", seg(id)));
        if let Some(n) = tail {
            req = req.query(&[("tail", n)]);
        }
        if follow {
            req = req.query(&[("follow", "true")]);
        }
        self.byte_stream(req).await
    }
}
