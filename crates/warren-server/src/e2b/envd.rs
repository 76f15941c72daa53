//! The sandbox side: what the SDKs send to `E2B_SANDBOX_URL` (or to `{port}-{id}.{domain}`).
//!
//! Every request names its sandbox and port in headers (`E2b-Sandbox-Id`, `E2b-Sandbox-Port`)
//! and carries the sandbox's access token (`X-Access-Token`, the `envdAccessToken` of the
//! create response, which is the sandbox's warren access token). Port 49983 is envd: the
//! request is relayed as it is — Connect-RPC calls, `/files` up- and downloads, `/health` — to
//! the sandbox's agent over its HTTP/2 channel, bodies streaming both ways. Any other port goes
//! to the sandbox's own port through the preview proxy.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::HeaderName;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use warren_core::{AgentBody, SandboxState};

use super::error::E2bError;
use crate::AppState;
use crate::proxy::same_secret;

/// The port envd listens on in an E2B sandbox.
pub(crate) const ENVD_PORT: u16 = 49983;
/// Header naming the sandbox.
pub(crate) const SANDBOX_ID_HEADER: &str = "e2b-sandbox-id";
/// Header naming the port.
const SANDBOX_PORT_HEADER: &str = "e2b-sandbox-port";
/// Header carrying the sandbox's access token.
const ACCESS_TOKEN_HEADER: &str = "x-access-token";
/// E2B's header for a sandbox's traffic token (ports other than envd's).
const TRAFFIC_TOKEN_HEADER: &str = "e2b-traffic-access-token";

/// The sandbox and port a request names by header, if it names one.
pub(crate) fn target_by_header(headers: &HeaderMap) -> Option<Result<(String, u16), E2bError>> {
    let id = headers.get(SANDBOX_ID_HEADER)?;
    let id = match id.to_str() {
        Ok(id) if crate::auth::sandbox_id_like(id.trim()) => id.trim().to_owned(),
        _ => {
            return Some(Err(E2bError::bad_request(
                "E2b-Sandbox-Id does not name a sandbox",
            )));
        }
    };
    let port = match headers.get(SANDBOX_PORT_HEADER) {
        None => ENVD_PORT,
        Some(p) => match p.to_str().ok().and_then(|p| p.trim().parse::<u16>().ok()) {
            Some(p) if p != 0 => p,
            _ => {
                return Some(Err(E2bError::bad_request(
                    "E2b-Sandbox-Port must be a port number",
                )));
            }
        },
    };
    Some(Ok((id, port)))
}

/// Serve a sandbox-side request for port `port` of sandbox `id`.
pub(crate) async fn serve(st: &AppState, id: String, port: u16, req: Request) -> Response {
    let result = if port == ENVD_PORT {
        relay_to_agent(st, &id, req).await
    } else {
        to_port(st, id, port, req).await
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Check the access token of a request to sandbox `id`; returns the sandbox.
async fn authorize(
    st: &AppState,
    id: &str,
    headers: &HeaderMap,
    names: &[&str],
) -> Result<warren_core::Sandbox, E2bError> {
    let sb = super::sandboxes::find(st, id).await?;
    let token = &sb.spec.network.access_token;
    let given = names
        .iter()
        .find_map(|n| headers.get(*n))
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    match given {
        Some(g) if !token.is_empty() && same_secret(g, token) => Ok(sb),
        Some(_) => Err(E2bError::unauthorized(format!(
            "wrong access token for sandbox {id}"
        ))),
        None => Err(E2bError::unauthorized(format!(
            "sandbox {id} needs its access token: send X-Access-Token (envdAccessToken)"
        ))),
    }
}

async fn relay_to_agent(st: &AppState, id: &str, req: Request) -> Result<Response, E2bError> {
    let sb = authorize(st, id, req.headers(), &[ACCESS_TOKEN_HEADER]).await?;
    if sb.state != SandboxState::Running {
        return Err(E2bError::new(
            StatusCode::BAD_GATEWAY,
            format!(
                "sandbox {id} is not running (it is {}): connect to it to resume it",
                sb.state
            ),
        ));
    }
    st.core.note_activity(id);
    let agent = st.core.agent_channel(id).await.map_err(|e| {
        E2bError::new(
            StatusCode::BAD_GATEWAY,
            format!("sandbox {id} cannot be reached now: {}", e.chain()),
        )
    })?;
    let (parts, body) = req.into_parts();
    let pq = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let uri: Uri = format!("http://agent{pq}")
        .parse()
        .map_err(|e| E2bError::bad_request(format!("path: {e}")))?;
    let mut out = http::Request::builder().method(parts.method).uri(uri);
    if let Some(h) = out.headers_mut() {
        *h = parts.headers;
        strip(h);
    }
    let body: AgentBody = body
        .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        .boxed_unsync();
    let req = out
        .body(body)
        .map_err(|e| E2bError::bad_request(format!("request: {e}")))?;
    let resp = agent.forward(req).await.map_err(|e| {
        E2bError::new(
            StatusCode::BAD_GATEWAY,
            format!("the agent of sandbox {id} did not answer: {e}"),
        )
    })?;
    Ok(resp.map(Body::new))
}

/// Headers that are about this hop or this front door, never the agent's business.
fn strip(h: &mut HeaderMap) {
    for name in [
        "host",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "x-api-key",
        ACCESS_TOKEN_HEADER,
        SANDBOX_ID_HEADER,
        SANDBOX_PORT_HEADER,
    ] {
        h.remove(HeaderName::from_static(name));
    }
}

/// Another port: through the preview proxy, with the E2B token as warren's.
async fn to_port(
    st: &AppState,
    id: String,
    port: u16,
    mut req: Request,
) -> Result<Response, E2bError> {
    let given = [ACCESS_TOKEN_HEADER, TRAFFIC_TOKEN_HEADER]
        .iter()
        .find_map(|n| req.headers().get(*n))
        .cloned();
    if let Some(token) = given {
        req.headers_mut()
            .insert(HeaderName::from_static(crate::proxy::TOKEN_HEADER), token);
    }
    let h = req.headers_mut();
    for name in [
        ACCESS_TOKEN_HEADER,
        TRAFFIC_TOKEN_HEADER,
        SANDBOX_ID_HEADER,
        SANDBOX_PORT_HEADER,
    ] {
        h.remove(HeaderName::from_static(name));
    }
    Ok(crate::proxy::serve_port(st, id, port, req).await)
}
