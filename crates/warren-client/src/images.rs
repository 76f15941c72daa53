//! Images: list, get, remove, pull and import with streamed progress.

use std::path::Path;

use futures_util::StreamExt;
use reqwest::{Method, RequestBuilder};
use warren_api_types::{Image, ImageList, PullEvent, PullRequest};

use crate::{Client, ClientError};

impl Client {
    /// `GET /v1/images`.
    pub async fn list_images(&self) -> Result<Vec<Image>, ClientError> {
        Ok(self
            .json::<ImageList>(self.request(Method::GET, "/v1/images"))
            .await?
            .items)
    }

    /// `GET /v1/images/{ref}`.
    pub async fn get_image(&self, reference: &str) -> Result<Image, ClientError> {
        self.json(self.request(Method::GET, &format!("/v1/images/{reference}")))
            .await
    }

    /// `DELETE /v1/images/{ref}`.
    pub async fn remove_image(&self, reference: &str) -> Result<(), ClientError> {
        self.send(self.request(Method::DELETE, &format!("/v1/images/{reference}")))
            .await?;
        Ok(())
    }

    /// `POST /v1/images/pull`, streaming progress to `on_event`.
    pub async fn pull_image(
        &self,
        req: &PullRequest,
        on_event: impl FnMut(&PullEvent),
    ) -> Result<Image, ClientError> {
        let req = self
            .request(Method::POST, "/v1/images/pull")
            .header(reqwest::header::ACCEPT, "application/x-ndjson")
            .json(req);
        self.ndjson_image(req, on_event).await
    }

    /// `POST /v1/images/import`: upload a `docker save` or OCI archive tar.
    pub async fn import_image(
        &self,
        archive: &Path,
        tag: Option<&str>,
        on_event: impl FnMut(&PullEvent),
    ) -> Result<Image, ClientError> {
        let io = |source| ClientError::Io {
            path: archive.display().to_string(),
            source,
        };
        let file = tokio::fs::File::open(archive).await.map_err(io)?;
        let len = file.metadata().await.map_err(io)?.len();
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
        let mut req = self
            .request(Method::POST, "/v1/images/import")
            .header(reqwest::header::ACCEPT, "application/x-ndjson")
            .header(reqwest::header::CONTENT_TYPE, "application/x-tar")
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(body);
        if let Some(tag) = tag {
            req = req.query(&[("tag", tag)]);
        }
        self.ndjson_image(req, on_event).await
    }

    async fn ndjson_image(
        &self,
        req: RequestBuilder,
        mut on_event: impl FnMut(&PullEvent),
    ) -> Result<Image, ClientError> {
        let resp = self.send(req).await?;
        let url = resp.url().to_string();
        let mut body = resp.bytes_stream();
        let mut buf = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
            buf.extend_from_slice(&chunk);
            while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                let ev: PullEvent =
                    serde_json::from_slice(&line).map_err(|e| ClientError::Protocol {
                        url: url.clone(),
                        detail: e.to_string(),
                    })?;
                match ev {
                    PullEvent::Image { image } => return Ok(image),
                    PullEvent::Error { error } => {
                        return Err(ClientError::Api {
                            status: error.code.http_status(),
                            code: error.code,
                            message: error.message,
                        });
                    }
                    other => on_event(&other),
                }
            }
        }
        Err(ClientError::Protocol {
            url,
            detail: "the stream ended without a result".to_owned(),
        })
    }
}
