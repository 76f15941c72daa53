//! A registry v2 client for one repository, for the duration of one pull.
//!
//! Every request goes through [`RegistryClient::send`]: it attaches the
//! cached `Authorization` header, and on a 401 answers the challenge (bearer
//! token from the realm, or basic credentials) and retries once. The token
//! is cached for the rest of the pull. Plain HTTP is used only for loopback
//! registries or when `insecure` is set.

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};

use super::auth::{TokenResponse, parse_challenge};
use crate::digest::Digest;
use crate::error::PullError;
use crate::{Credentials, Reference};

const MAX_ERROR_BODY: usize = 512;

/// Builds the shared HTTP client (rustls with the ring provider, platform roots).
pub(crate) fn build_http() -> Result<reqwest::Client, PullError> {
    // Installing twice is fine; the first provider wins.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("warren/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(30))
        .read_timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(|source| PullError::Client { source })
}

#[derive(Debug)]
pub(crate) struct RegistryClient {
    http: reqwest::Client,
    base: String,
    reference: Reference,
    credentials: Option<Credentials>,
    auth: tokio::sync::Mutex<Option<HeaderValue>>,
}

impl RegistryClient {
    pub(crate) fn new(
        http: reqwest::Client,
        reference: &Reference,
        insecure: bool,
        credentials: Option<Credentials>,
    ) -> Self {
        let scheme = if insecure || reference.is_loopback() {
            "http"
        } else {
            "https"
        };
        RegistryClient {
            http,
            base: format!(
                "{scheme}://{}/v2/{}",
                reference.api_host(),
                reference.repository
            ),
            reference: reference.clone(),
            credentials,
            auth: tokio::sync::Mutex::new(None),
        }
    }

    pub(crate) fn manifest_url(&self, r: &str) -> String {
        format!("{}/manifests/{r}", self.base)
    }

    pub(crate) fn blob_url(&self, d: &Digest) -> String {
        format!("{}/blobs/{d}", self.base)
    }

    /// Sends a request, answering one auth challenge. Returns any status;
    /// the caller interprets 404 and other failures.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        accept: Option<&str>,
    ) -> Result<Response, PullError> {
        for attempt in 0..2 {
            let mut req = self.http.request(method.clone(), url);
            if let Some(a) = accept {
                req = req.header(ACCEPT, a);
            }
            if let Some(h) = self.auth.lock().await.clone() {
                req = req.header(AUTHORIZATION, h);
            }
            let resp = req.send().await.map_err(|source| PullError::Request {
                url: url.to_owned(),
                source,
            })?;
            if resp.status() != StatusCode::UNAUTHORIZED || attempt == 1 {
                if matches!(
                    resp.status(),
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                ) {
                    return Err(self.unauthorized(resp).await);
                }
                return Ok(resp);
            }
            let challenge = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|h| h.to_str().ok())
                .and_then(parse_challenge);
            let header = match challenge {
                Some(c) if c.scheme == "bearer" => self.fetch_token(&c.params).await?,
                Some(c) if c.scheme == "basic" => match &self.credentials {
                    Some(cr) => basic(cr),
                    None => {
                        return Err(self.unauthorized_msg("credentials are required (basic auth)"));
                    }
                },
                _ => return Err(self.unauthorized(resp).await),
            };
            *self.auth.lock().await = Some(header);
        }
        unreachable!("the second attempt always returns")
    }

    async fn fetch_token(
        &self,
        params: &std::collections::HashMap<String, String>,
    ) -> Result<HeaderValue, PullError> {
        let Some(realm) = params.get("realm") else {
            return Err(self.unauthorized_msg("bearer challenge without a realm"));
        };
        let scope = params
            .get("scope")
            .cloned()
            .unwrap_or_else(|| format!("repository:{}:pull", self.reference.repository));
        let mut query = vec![("scope", scope.as_str())];
        if let Some(s) = params.get("service") {
            query.push(("service", s.as_str()));
        }
        let mut req = self.http.get(realm).query(&query);
        if let Some(c) = &self.credentials {
            req = req.basic_auth(&c.username, Some(&c.password));
        }
        let resp = req.send().await.map_err(|source| PullError::Request {
            url: realm.clone(),
            source,
        })?;
        if !resp.status().is_success() {
            return Err(self.unauthorized(resp).await);
        }
        let body = resp.bytes().await.map_err(|source| PullError::Request {
            url: realm.clone(),
            source,
        })?;
        let token = serde_json::from_slice::<TokenResponse>(&body)
            .ok()
            .and_then(TokenResponse::into_token)
            .ok_or_else(|| self.unauthorized_msg("the token endpoint returned no token"))?;
        HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| self.unauthorized_msg("the token endpoint returned an unusable token"))
    }

    fn unauthorized_msg(&self, reason: &str) -> PullError {
        PullError::Unauthorized {
            registry: self.reference.registry.clone(),
            reason: reason.to_owned(),
        }
    }

    async fn unauthorized(&self, resp: Response) -> PullError {
        let status = resp.status().as_u16();
        let body = error_body(resp).await;
        let hint = if self.credentials.is_some() {
            "the credentials were rejected or lack pull access"
        } else {
            "the repository does not exist or requires credentials"
        };
        self.unauthorized_msg(&format!(
            "HTTP {status}: {hint}{}",
            if body.is_empty() {
                String::new()
            } else {
                format!(" ({body})")
            }
        ))
    }

    /// Turns a non-success response into `PullError::Status`.
    pub(crate) async fn status_error(url: &str, resp: Response) -> PullError {
        let status = resp.status().as_u16();
        PullError::Status {
            url: url.to_owned(),
            status,
            body: error_body(resp).await,
        }
    }
}

/// Content-Type without parameters.
pub(crate) fn content_type(resp: &Response) -> Option<String> {
    resp.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or("").trim().to_owned())
}

fn basic(c: &Credentials) -> HeaderValue {
    use base64::Engine as _;
    let enc =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password));
    let mut h = HeaderValue::from_str(&format!("Basic {enc}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    h.set_sensitive(true);
    h
}

async fn error_body(resp: Response) -> String {
    let bytes = resp.bytes().await.unwrap_or_default();
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_ERROR_BODY)]);
    s.trim().replace('\n', " ")
}
