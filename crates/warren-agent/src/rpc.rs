//! Connect-RPC over hyper: decoding requests and encoding answers.
//!
//! - Unary: `POST`, `Content-Type: application/json`, body = request JSON (empty = `{}`).
//!   Success: 200 with the response JSON. Failure: the code's HTTP status with
//!   `{"code","message"}`.
//! - Server stream: `POST`, `Content-Type: application/connect+json`, body = one envelope.
//!   The answer is always 200 with envelopes: one `{"event":...}` per event, then an
//!   end-of-stream envelope (`{}` or `{"error":{...}}`). Errors before the first event go in
//!   that end message too, as the Connect protocol requires.
//! - Plain-HTTP routes (`/files`, `/health`, unknown paths) answer errors as envd does:
//!   `{"code": <HTTP status>, "message"}`.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use warren_agent_proto::envelope::{FLAG_COMPRESSED, encode_end_stream, encode_json};
use warren_agent_proto::{
    CONTENT_TYPE_CONNECT_JSON, CONTENT_TYPE_JSON, ConnectCode, ConnectError, EnvelopeDecoder,
    EventResponse, KeepAlive, MAX_ENVELOPE_BYTES, ProcessEvent,
};

/// Response body type of every route.
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// How long a stream may be silent before a keepalive event.
const KEEPALIVE: Duration = Duration::from_secs(30);

/// A complete body.
pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into())
        .map_err(|e: Infallible| match e {})
        .boxed_unsync()
}

/// An empty body.
pub fn empty() -> Body {
    full(Bytes::new())
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, CONTENT_TYPE_JSON)
        .body(full(body))
        .expect("valid response")
}

/// 200 with a unary response message.
pub fn unary_ok<T: Serialize>(msg: &T) -> Response<Body> {
    json_response(StatusCode::OK, serde_json::to_vec(msg).expect("serializes"))
}

/// A unary Connect error.
pub fn unary_error(e: &ConnectError) -> Response<Body> {
    let status =
        StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, serde_json::to_vec(e).expect("serializes"))
}

/// A plain-HTTP error in envd's shape: `{"code": <status>, "message"}`.
pub fn rest_error(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    #[derive(Serialize)]
    struct E {
        code: u16,
        message: String,
    }
    json_response(
        status,
        serde_json::to_vec(&E {
            code: status.as_u16(),
            message: message.into(),
        })
        .expect("serializes"),
    )
}

/// A plain-HTTP error for a Connect error (status from the code).
pub fn rest_error_from(e: &ConnectError) -> Response<Body> {
    rest_error(
        StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        e.message.clone(),
    )
}

fn bad(msg: impl Into<String>) -> ConnectError {
    ConnectError::new(ConnectCode::InvalidArgument, msg)
}

fn content_type(h: &HeaderMap) -> &str {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn read_body(body: Incoming) -> Result<Bytes, ConnectError> {
    Limited::new(body, MAX_ENVELOPE_BYTES + 5)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| {
            ConnectError::new(
                ConnectCode::ResourceExhausted,
                format!("cannot read request body: {e}"),
            )
        })
}

/// Decode a unary request.
pub async fn unary_request<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Incoming,
) -> Result<T, ConnectError> {
    let ct = content_type(headers);
    if !(ct.is_empty() || ct.starts_with(CONTENT_TYPE_JSON)) {
        return Err(ConnectError::new(
            ConnectCode::Unimplemented,
            format!("content type {ct:?} is not supported; use {CONTENT_TYPE_JSON}"),
        ));
    }
    let body = read_body(body).await?;
    let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
    serde_json::from_slice(body).map_err(|e| bad(format!("invalid request message: {e}")))
}

/// Decode the single enveloped message of a server-streaming request.
pub async fn stream_request<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Incoming,
) -> Result<T, ConnectError> {
    let ct = content_type(headers);
    if !ct.starts_with(CONTENT_TYPE_CONNECT_JSON) {
        return Err(ConnectError::new(
            ConnectCode::Unimplemented,
            format!("content type {ct:?} is not supported; use {CONTENT_TYPE_CONNECT_JSON}"),
        ));
    }
    let body = read_body(body).await?;
    let mut d = EnvelopeDecoder::new(MAX_ENVELOPE_BYTES);
    d.push(&body);
    let frame = d
        .next_frame()
        .map_err(|e| bad(e.to_string()))?
        .ok_or_else(|| bad("request has no message"))?;
    if frame.flags & FLAG_COMPRESSED != 0 {
        return Err(ConnectError::new(
            ConnectCode::Unimplemented,
            "compressed messages are not supported",
        ));
    }
    serde_json::from_slice(&frame.payload).map_err(|e| bad(format!("invalid request message: {e}")))
}

/// `Connect-Timeout-Ms`, if present and valid.
pub fn timeout(headers: &HeaderMap) -> Option<Duration> {
    let ms: u64 = headers
        .get("connect-timeout-ms")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (ms > 0).then(|| Duration::from_millis(ms))
}

fn stream_response(body: Body) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, CONTENT_TYPE_CONNECT_JSON)
        .body(body)
        .expect("valid response")
}

/// The `WatchDir` stream: a start message, then each filesystem event as it comes, keepalives
/// in silent periods; it ends (with an error end message) only if the watch fails, else when
/// the client goes away.
pub fn watch_stream(watch: crate::fs::watch::Watch) -> Response<Body> {
    use warren_agent_proto::WatchDirResponse;
    let first = encode_json(&WatchDirResponse::Start(warren_agent_proto::Empty {}));
    let events = futures_util::stream::unfold(Some(watch), |state| async move {
        let mut watch = state?;
        let msg = match tokio::time::timeout(KEEPALIVE, watch.next()).await {
            Err(_) => encode_json(&WatchDirResponse::Keepalive(warren_agent_proto::Empty {})),
            Ok(Ok(evs)) => {
                let mut b = Vec::new();
                for ev in evs {
                    b.extend_from_slice(&encode_json(&WatchDirResponse::Filesystem(ev)));
                }
                Bytes::from(b)
            }
            Ok(Err(e)) => return Some((encode_end_stream(Some(&e)), None)),
        };
        Some((msg, Some(watch)))
    });
    let s = futures_util::stream::once(async move { first }).chain(events);
    let body = StreamBody::new(s.map(|b| Ok::<_, std::io::Error>(Frame::data(b))));
    stream_response(BodyExt::boxed_unsync(body))
}

/// A stream that failed before its first message: 200 with only the end message.
pub fn stream_error(e: &ConnectError) -> Response<Body> {
    stream_response(full(encode_end_stream(Some(e))))
}

/// Stream process events until `end`, then the end-of-stream message. Silent periods get
/// keepalive events.
pub fn event_stream(rx: mpsc::Receiver<ProcessEvent>) -> Response<Body> {
    let s = futures_util::stream::unfold(Some(rx), |state| async move {
        let mut rx = state?;
        let event = match tokio::time::timeout(KEEPALIVE, rx.recv()).await {
            Err(_) => ProcessEvent::Keepalive(KeepAlive {}),
            Ok(Some(ev)) => ev,
            Ok(None) => {
                let e = ConnectError::new(
                    ConnectCode::Internal,
                    "process event stream closed unexpectedly",
                );
                return Some((encode_end_stream(Some(&e)), None));
            }
        };
        let bytes = encode_json(&EventResponse {
            event: event.clone(),
        });
        if matches!(event, ProcessEvent::End(_)) {
            let mut b = bytes.to_vec();
            b.extend_from_slice(&encode_end_stream(None));
            return Some((Bytes::from(b), None));
        }
        Some((bytes, Some(rx)))
    });
    let body = StreamBody::new(s.map(|b| Ok::<_, std::io::Error>(Frame::data(b))));
    stream_response(BodyExt::boxed_unsync(body))
}
