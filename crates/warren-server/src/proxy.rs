//! The preview proxy: HTTP to a sandbox's ports, by host name or by path.
//!
//! - Host form: `<port>-<sandbox id>.<preview domain>` (default domain `localhost`, which
//!   browsers resolve to loopback by themselves: `http://8080-sb-x.localhost:7700/` works
//!   locally with no DNS set-up).
//! - Path form: `/v1/sandboxes/<id>/ports/<port>/<rest>`, forwarded as `/<rest>`.
//!
//! Access: a port listed as public needs nothing; otherwise the sandbox's access token (header
//! `X-Warren-Token`, or `?warren_token=` once, which sets an HttpOnly cookie and redirects to
//! the same URL without it) or an API key (`Authorization: Bearer`). warren's credentials are
//! removed before the request goes to the sandbox, which never sees them.
//!
//! A paused or hibernated sandbox is woken first and the request is then served (held, not
//! dropped). HTTP/1.1 and HTTP/2 from clients (the daemon's server speaks both), streaming
//! bodies both ways, and protocol upgrades (WebSockets) pass through; the proxy speaks HTTP/1.1
//! to the sandbox.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use warren_api_types::ErrorCode;

use crate::{ApiError, AppState};

/// The header that carries a sandbox's access token.
pub(crate) const TOKEN_HEADER: &str = "x-warren-token";
/// The query parameter that carries it once (then the cookie does).
const TOKEN_PARAM: &str = "warren_token";
/// The cookie that carries it.
const TOKEN_COOKIE: &str = "warren_token";
/// Recorded as the actor of wake-ups.
const ACTOR: &str = "preview-proxy";

/// Where a request goes.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    id: String,
    port: u16,
    /// The path prefix the sandbox does not see (path form), or "" (host form).
    prefix: String,
}

/// `8080-sb-abc.localhost[:7700]` → (sb-abc, 8080) when the domain matches.
fn target_of_host(host: &str, domain: &str) -> Option<Target> {
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let label = host
        .strip_suffix(domain)?
        .strip_suffix('.')
        .filter(|l| !l.contains('.'))?;
    let (port, id) = label.split_once('-')?;
    let port = port.parse().ok().filter(|p| *p != 0)?;
    crate::auth::sandbox_id_like(id).then(|| Target {
        id: id.to_owned(),
        port,
        prefix: String::new(),
    })
}

/// `/v1/sandboxes/<id>/ports/<port>[/...]` → the target.
fn target_of_path(path: &str) -> Option<Target> {
    let rest = path.strip_prefix("/v1/sandboxes/")?;
    let (id, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("ports/")?;
    let (port, _) = rest.split_once('/').unwrap_or((rest, ""));
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    if !crate::auth::sandbox_id_like(id) {
        return None;
    }
    Some(Target {
        id: id.to_owned(),
        port,
        prefix: format!("/v1/sandboxes/{id}/ports/{port}"),
    })
}

/// The request's host: the `Host` header, or the authority of an HTTP/2 request.
fn host_of(req: &Request) -> Option<String> {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
}

/// Outermost middleware: preview requests go to the proxy, everything else to the API.
pub(crate) async fn intercept(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let by_host = host_of(&req).and_then(|h| target_of_host(&h, &st.preview_domain));
    let target = by_host.or_else(|| target_of_path(req.uri().path()));
    match target {
        Some(t) => match serve(&st, t, req).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        },
        None => next.run(req).await,
    }
}

/// `(sandbox id, port)` a preview host name names (for the E2B front door, which serves the
/// envd port itself).
pub(crate) fn preview_target(req: &Request, domain: &str) -> Option<(String, u16)> {
    host_of(req)
        .and_then(|h| target_of_host(&h, domain))
        .map(|t| (t.id, t.port))
}

/// Serve `req` to `port` of sandbox `id` as a host-form preview request (access checks
/// included): for the E2B front door's ports other than envd's.
pub(crate) async fn serve_port(st: &AppState, id: String, port: u16, req: Request) -> Response {
    let t = Target {
        id,
        port,
        prefix: String::new(),
    };
    serve(st, t, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The value of `name` in the `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Constant-time comparison of secrets.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The query without `warren_token`, and the token if it was there.
fn split_token_param(query: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(q) = query else {
        return (None, None);
    };
    let mut token = None;
    let rest: Vec<&str> = q
        .split('&')
        .filter(|kv| match kv.split_once('=') {
            Some((TOKEN_PARAM, v)) => {
                token = Some(v.to_owned());
                false
            }
            _ => true,
        })
        .collect();
    let rest = (!rest.is_empty()).then(|| rest.join("&"));
    (rest, token)
}

async fn serve(st: &AppState, t: Target, mut req: Request) -> Result<Response, ApiError> {
    let sb = st.core.get_sandbox(&t.id).await?;
    let net = &sb.spec.network;
    let public = net.public_ports.contains(&t.port);
    let token_ok =
        |given: &str| !net.access_token.is_empty() && same_secret(given, &net.access_token);
    // `?warren_token=`: check it, set the cookie, and send the browser to the clean URL.
    let (rest_query, param) = split_token_param(req.uri().query());
    if let Some(given) = param {
        if !token_ok(&given) {
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                format!("wrong access token for sandbox {}", t.id),
            ));
        }
        let path = req.uri().path();
        let location = match &rest_query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        };
        let cookie_path = if t.prefix.is_empty() {
            "/".to_owned()
        } else {
            format!("{}/", t.prefix)
        };
        let cookie = format!("{TOKEN_COOKIE}={given}; Path={cookie_path}; HttpOnly; SameSite=Lax");
        return Ok((
            StatusCode::FOUND,
            [
                (header::LOCATION, location),
                (header::SET_COOKIE, cookie),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
        )
            .into_response());
    }
    let headers = req.headers();
    let by_token = headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .or_else(|| cookie(headers, TOKEN_COOKIE))
        .is_some_and(token_ok);
    let allowed = public
        || by_token
        || match headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            Some(key) => st.core.authenticate(key.trim()).await.is_ok(),
            None => false,
        };
    if !allowed {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            format!(
                "port {} of sandbox {} is private: send its access token (X-Warren-Token \
                 header or ?{TOKEN_PARAM}=) or an API key",
                t.port, t.id
            ),
        ));
    }
    st.core.note_activity(&t.id);
    st.core.wake(&t.id, ACTOR).await?;
    let addr = st.core.sandbox_address(&t.id)?;

    // What the sandbox sees: the path without the prefix, no warren credentials.
    let path = req.uri().path();
    let inner_path = match path.strip_prefix(&t.prefix) {
        Some("") => "/",
        Some(p) => p,
        None => path,
    };
    let pq = match req.uri().query() {
        Some(q) => format!("{inner_path}?{q}"),
        None => inner_path.to_owned(),
    };
    let host = host_of(&req).unwrap_or_default();
    *req.uri_mut() = format!("http://{addr}:{}{pq}", t.port)
        .parse::<Uri>()
        .map_err(|e| ApiError::invalid(format!("path: {e}")))?;
    *req.version_mut() = http::Version::HTTP_11;
    clean_headers(req.headers_mut(), &host);

    let upgrade = req.headers().contains_key(header::UPGRADE);
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    // A pooled connection may be dead (the sandbox was hibernated, restored or restarted since,
    // which closes its connections): a request without a body is sent again, once, on a new one.
    let retry = bodyless(&req).then(|| {
        let mut again = Request::new(Body::empty());
        *again.method_mut() = req.method().clone();
        *again.uri_mut() = req.uri().clone();
        *again.headers_mut() = req.headers().clone();
        again
    });
    let mut resp = match upstream_client().request(req).await {
        Ok(resp) => resp,
        Err(e) if !e.is_connect() && retry.is_some() => {
            tracing::debug!(sandbox = %t.id, error = %e, "retrying on a new connection");
            let again = retry.expect("checked");
            upstream_client()
                .request(again)
                .await
                .map_err(|e| bad_gateway(&t, &e))?
        }
        Err(e) => return Err(bad_gateway(&t, &e)),
    };
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS
        && let Some(client_upgrade) = client_upgrade
    {
        let upstream = hyper::upgrade::on(&mut resp);
        tokio::spawn(async move {
            let (Ok(client), Ok(upstream)) = (client_upgrade.await, upstream.await) else {
                return;
            };
            let mut client = TokioIo::new(client);
            let mut upstream = TokioIo::new(upstream);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        });
    }
    Ok(resp.map(Body::new))
}

/// Has `req` no body (so it can be sent again as it is)? Upgrades are never sent twice.
fn bodyless(req: &Request) -> bool {
    use axum::body::HttpBody;
    req.body().is_end_stream() && !req.headers().contains_key(header::UPGRADE)
}

/// How long an idle connection to a sandbox's port is kept for the next request.
const UPSTREAM_IDLE: std::time::Duration = std::time::Duration::from_secs(30);

/// The client requests to sandboxes go through: HTTP/1.1, keeping idle connections per sandbox
/// address and port (a new TCP connection per request was half of the proxy's added latency).
fn upstream_client() -> &'static Client<HttpConnector, Body> {
    static CLIENT: std::sync::OnceLock<Client<HttpConnector, Body>> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(std::time::Duration::from_secs(10)));
        Client::builder(TokioExecutor::new())
            .pool_idle_timeout(UPSTREAM_IDLE)
            .pool_max_idle_per_host(32)
            .build(connector)
    })
}

fn bad_gateway(t: &Target, e: &hyper_util::client::legacy::Error) -> ApiError {
    // The connector's error says why (refused, unreachable); the client's own is generic.
    let mut why = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        why = s.to_string();
        source = s.source();
    }
    ApiError::new(
        ErrorCode::PortUnreachable,
        format!(
            "nothing answers on port {} of sandbox {}: {why}",
            t.port, t.id
        ),
    )
}

/// Remove warren's credentials and hop-by-hop headers (keeping an upgrade request's), set the
/// `Host` (HTTP/2 requests have none) and the `X-Forwarded-*` headers.
fn clean_headers(h: &mut HeaderMap, host: &str) {
    h.remove(header::AUTHORIZATION);
    h.remove(HeaderName::from_static(TOKEN_HEADER));
    let cookies: Vec<String> = h
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|kv| !kv.is_empty() && !kv.starts_with(&format!("{TOKEN_COOKIE}=")))
        .map(str::to_owned)
        .collect();
    h.remove(header::COOKIE);
    if !cookies.is_empty()
        && let Ok(v) = HeaderValue::from_str(&cookies.join("; "))
    {
        h.insert(header::COOKIE, v);
    }
    let upgrade = h.contains_key(header::UPGRADE);
    for name in [
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
    ] {
        h.remove(name);
    }
    if !upgrade {
        h.remove(header::CONNECTION);
    }
    if let Ok(v) = HeaderValue::from_str(host) {
        h.insert(header::HOST, v.clone());
        h.insert(HeaderName::from_static("x-forwarded-host"), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_form() {
        let t = target_of_host("8080-sb-abc123.localhost:7700", "localhost").unwrap();
        assert_eq!((t.id.as_str(), t.port), ("sb-abc123", 8080));
        assert!(target_of_host("8080-sb-abc123.example.com", "localhost").is_none());
        let t = target_of_host("3000-sb-x1.preview.example.com", "preview.example.com").unwrap();
        assert_eq!(t.port, 3000);
        assert!(target_of_host("localhost:7700", "localhost").is_none());
        assert!(target_of_host("0-sb-x.localhost", "localhost").is_none());
        assert!(target_of_host("a.8080-sb-x.localhost", "localhost").is_none());
        assert!(target_of_host("99999-sb-x.localhost", "localhost").is_none());
    }

    #[test]
    fn path_form() {
        let t = target_of_path("/v1/sandboxes/sb-x1/ports/8080/a/b").unwrap();
        assert_eq!((t.id.as_str(), t.port), ("sb-x1", 8080));
        assert_eq!(t.prefix, "/v1/sandboxes/sb-x1/ports/8080");
        assert!(target_of_path("/v1/sandboxes/sb-x1/ports").is_none());
        assert!(target_of_path("/v1/sandboxes/sb-x1/ports/").is_none());
        assert!(target_of_path("/v1/sandboxes/sb-x1/files/8080").is_none());
        assert!(target_of_path("/v1/sandboxes/sb-x1/ports/8080").is_some());
    }

    #[test]
    fn token_param_is_split_off() {
        assert_eq!(
            split_token_param(Some("a=1&warren_token=s3cret&b=2")),
            (Some("a=1&b=2".into()), Some("s3cret".into()))
        );
        assert_eq!(
            split_token_param(Some("warren_token=x")),
            (None, Some("x".into()))
        );
        assert_eq!(split_token_param(None), (None, None));
    }

    #[test]
    fn credentials_never_reach_the_sandbox() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer wrn_x".parse().unwrap());
        h.insert(TOKEN_HEADER, "t".parse().unwrap());
        h.insert(header::COOKIE, "a=1; warren_token=t; b=2".parse().unwrap());
        clean_headers(&mut h, "8080-sb-x.localhost");
        assert!(h.get(header::AUTHORIZATION).is_none());
        assert!(h.get(TOKEN_HEADER).is_none());
        assert_eq!(h.get(header::COOKIE).unwrap(), "a=1; b=2");
        assert_eq!(h.get(header::HOST).unwrap(), "8080-sb-x.localhost");
    }
}
