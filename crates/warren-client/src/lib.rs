//! A Rust client of warren's REST API, used by the CLI and the tests.
//!
//! Every method maps one route; errors keep the API's stable code so callers
//! can branch on it ([`ClientError::code`]).
#![forbid(unsafe_code)]

use std::path::Path;

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use warren_api_types::{
    CreateSandboxRequest, ErrorBody, ErrorCode, ExecRequest, ExecResponse, Health, Image,
    ImageList, PullEvent, PullRequest, Sandbox, SandboxList,
};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The daemon answered with an API error.
    #[error("{message} ({code})")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable code.
        code: ErrorCode,
        /// The daemon's message.
        message: String,
    },
    /// The daemon could not be reached or the connection broke.
    #[error("cannot reach warren at {url}")]
    Transport {
        /// The URL called.
        url: String,
        /// Cause.
        #[source]
        source: reqwest::Error,
    },
    /// The answer was not what the API promises.
    #[error("unexpected answer from {url}: {detail}")]
    Protocol {
        /// The URL called.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// A local file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The base URL is not usable.
    #[error("invalid warren URL {url:?}: {reason}")]
    BadUrl {
        /// What was given.
        url: String,
        /// Why it is rejected.
        reason: &'static str,
    },
}

impl ClientError {
    /// The API's error code, when the daemon answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// A connection to one warren daemon. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    api_key: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the daemon at `base_url` (e.g. `http://127.0.0.1:7070`).
    pub fn new(base_url: &str, api_key: Option<String>) -> Result<Self, ClientError> {
        let base = base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::BadUrl {
                url: base_url.to_owned(),
                reason: "must start with http:// or https://",
            });
        }
        // reqwest is built without a bundled crypto provider; pick ring once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("warren-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| ClientError::Transport {
                url: base.clone(),
                source,
            })?;
        Ok(Self {
            http,
            base,
            api_key,
        })
    }

    /// The daemon's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        req
    }

    async fn send(&self, req: RequestBuilder) -> Result<Response, ClientError> {
        let req = req.build().map_err(|source| ClientError::Transport {
            url: self.base.clone(),
            source,
        })?;
        let url = req.url().to_string();
        let resp = self
            .http
            .execute(req)
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) => Err(ClientError::Api {
                status,
                code: e.error.code,
                message: e.error.message,
            }),
            Err(_) => Err(ClientError::Protocol {
                url,
                detail: format!(
                    "status {status} with a body that is not an API error: {}",
                    String::from_utf8_lossy(&body)
                ),
            }),
        }
    }

    async fn json<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T, ClientError> {
        let resp = self.send(req).await?;
        let url = resp.url().to_string();
        let body = resp
            .bytes()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Protocol {
            url,
            detail: e.to_string(),
        })
    }

    /// `GET /healthz`.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.json(self.request(Method::GET, "/healthz")).await
    }

    /// `POST /v1/sandboxes`.
    pub async fn create_sandbox(&self, req: &CreateSandboxRequest) -> Result<Sandbox, ClientError> {
        self.json(self.request(Method::POST, "/v1/sandboxes").json(req))
            .await
    }

    /// `GET /v1/sandboxes`: one page.
    pub async fn list_sandboxes(
        &self,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<SandboxList, ClientError> {
        let mut req = self.request(Method::GET, "/v1/sandboxes");
        if let Some(c) = cursor {
            req = req.query(&[("cursor", c)]);
        }
        if let Some(l) = limit {
            req = req.query(&[("limit", l)]);
        }
        self.json(req).await
    }

    /// Every sandbox, following cursors.
    pub async fn list_all_sandboxes(&self) -> Result<Vec<Sandbox>, ClientError> {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.list_sandboxes(cursor.as_deref(), Some(500)).await?;
            all.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(all),
            }
        }
    }

    /// `GET /v1/sandboxes/{id}`.
    pub async fn get_sandbox(&self, id: &str) -> Result<Sandbox, ClientError> {
        self.json(self.request(Method::GET, &format!("/v1/sandboxes/{}", seg(id))))
            .await
    }

    /// `DELETE /v1/sandboxes/{id}`.
    pub async fn delete_sandbox(&self, id: &str) -> Result<(), ClientError> {
        self.send(self.request(Method::DELETE, &format!("/v1/sandboxes/{}", seg(id))))
            .await?;
        Ok(())
    }

    /// `POST /v1/sandboxes/{id}/exec`.
    pub async fn exec(&self, id: &str, req: &ExecRequest) -> Result<ExecResponse, ClientError> {
        self.json(
            self.request(Method::POST, &format!("/v1/sandboxes/{}/exec", seg(id)))
                .json(req),
        )
        .await
    }

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

/// Percent-encode one path segment (ids are plain, but never trust input).
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
