//! A Rust client of warren's REST API, used by the CLI and the tests.
//!
//! Every method maps one route; errors keep the API's stable code so callers
//! can branch on it ([`ClientError::code`]).
#![forbid(unsafe_code)]

mod events;
mod files;
mod images;
mod keys;
mod logs;
mod metrics;
mod processes;
mod sandboxes;
mod snapshots;
mod ssh_keys;

pub use events::{EventQuery, EventStream};
pub use files::ByteStream;
pub use processes::{ProcessEventStream, ProcessStreamEvent};
use reqwest::{Method, RequestBuilder, Response};
pub use sandboxes::SandboxQuery;
use serde::de::DeserializeOwned;
use warren_api_types::{ErrorBody, ErrorCode, Health};

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
    host: Option<String>,
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
            host: None,
        })
    }

    /// The same daemon and connection pool, calling with another API key and, when `host` is
    /// given, sending that `Host` header instead of the base URL's. The daemon's MCP endpoint
    /// uses it to call the API on the caller's behalf over loopback, so that what the API
    /// builds from `Host` (preview URLs) names the address the caller used.
    pub fn for_caller(&self, api_key: String, host: Option<String>) -> Self {
        Self {
            http: self.http.clone(),
            base: self.base.clone(),
            api_key: Some(api_key),
            host,
        }
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
        if let Some(host) = &self.host {
            req = req.header(reqwest::header::HOST, host);
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
}

/// Percent-encode one path segment or query value: everything but RFC 3986's unreserved
/// characters (ids are plain, but never trust input).
pub fn percent_encode(s: &str) -> String {
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

/// [`percent_encode`] under the short name the resource modules use in paths.
pub(crate) use percent_encode as seg;
