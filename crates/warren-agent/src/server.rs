//! The HTTP server: one hyper connection per accepted byte stream, HTTP/1.1 or h2c (prior
//! knowledge) chosen by hyper-util's auto builder, and a router over the envd routes.
//!
//! [`serve_connection`] is generic over any `AsyncRead + AsyncWrite` stream, so the same code
//! serves a Unix socket (containers) and, later, a virtio-serial port (microVMs).

use std::convert::Infallible;
use std::sync::Arc;

use base64::Engine as _;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use warren_agent_proto::{
    CloseStdinRequest, ConnectCode, ConnectError, ConnectRequest, CreateWatcherResponse, Empty,
    EntryResponse, GetWatcherEventsResponse, ListDirRequest, ListDirResponse, ListRequest,
    MoveRequest, PathRequest, SendInputRequest, SendSignalRequest, StartRequest, UpdateRequest,
    WatchRequest, WatcherRequest, routes, warren_routes,
};

use crate::agent::Agent;
use crate::fs::{archive, files_http, ops, perms, watch};
use crate::process;
use crate::rpc::{self, Body};

/// Serve one connection until the peer closes it.
pub async fn serve_connection<S>(io: S, agent: Arc<Agent>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http2()
        .max_concurrent_streams(1024)
        .initial_stream_window_size(4 << 20)
        .initial_connection_window_size(16 << 20);
    let svc = service_fn(move |req| {
        let agent = agent.clone();
        async move { Ok::<_, Infallible>(route(agent, req).await) }
    });
    if let Err(e) = builder.serve_connection(TokioIo::new(io), svc).await {
        crate::log!("connection ended with error: {e}");
    }
}

/// The user named by `Authorization: Basic base64("<user>:")`, if any.
pub fn request_user(h: &HeaderMap) -> Option<String> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, cred) = v.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(cred.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let user = s.split_once(':').map_or(s.as_str(), |(u, _)| u);
    (!user.is_empty()).then(|| user.to_string())
}

fn method_not_allowed(allow: &str) -> Response<Body> {
    let mut r = rpc::rest_error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method not allowed; use {allow}"),
    );
    r.headers_mut()
        .insert(header::ALLOW, allow.parse().expect("valid header"));
    r
}

async fn route(agent: Arc<Agent>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    match path.as_str() {
        routes::HEALTH => match *req.method() {
            Method::GET | Method::HEAD => Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(rpc::empty())
                .expect("valid"),
            _ => method_not_allowed("GET"),
        },
        routes::FILES => match *req.method() {
            Method::GET => files_http::get(agent, req).await,
            Method::POST => files_http::post(agent, req).await,
            _ => method_not_allowed("GET, POST"),
        },
        warren_routes::ARCHIVE => match *req.method() {
            Method::GET => archive::get(agent, req).await,
            Method::PUT => archive::put(agent, req).await,
            _ => method_not_allowed("GET, PUT"),
        },
        warren_agent_proto::identity::IDENTITY_ROUTE => match *req.method() {
            Method::POST => crate::identity::set(agent, req).await,
            _ => method_not_allowed("POST"),
        },
        p if p.starts_with("/warren/fs/") => {
            if req.method() != Method::POST {
                return method_not_allowed("POST");
            }
            perms::call(agent, req).await
        }
        p if p.starts_with("/process.Process/") || p.starts_with("/filesystem.Filesystem/") => {
            if req.method() != Method::POST {
                return method_not_allowed("POST");
            }
            rpc_call(agent, req).await
        }
        _ => rpc::rest_error(
            StatusCode::NOT_FOUND,
            format!("no route for {} {path}", req.method()),
        ),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ConnectError> + Send + 'static,
) -> Result<T, ConnectError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(ConnectError::new(
            ConnectCode::Internal,
            format!("worker failed: {e}"),
        ))
    })
}

async fn rpc_call(agent: Arc<Agent>, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let h = &parts.headers;
    let user = request_user(h);
    let user = user.as_deref();
    macro_rules! unary {
        ($req:ty, |$r:ident| $body:expr) => {{
            let result: Result<_, ConnectError> = async {
                let $r: $req = rpc::unary_request(h, body).await?;
                $body
            }
            .await;
            match result {
                Ok(v) => rpc::unary_ok(&v),
                Err(e) => rpc::unary_error(&e),
            }
        }};
    }
    match parts.uri.path() {
        routes::PROCESS_START => {
            let r = async {
                let r: StartRequest = rpc::stream_request(h, body).await?;
                process::start(&agent, user, r, rpc::timeout(h)).await
            };
            match r.await {
                Ok(rx) => rpc::event_stream(rx),
                Err(e) => rpc::stream_error(&e),
            }
        }
        routes::PROCESS_CONNECT => {
            let r = async {
                let r: ConnectRequest = rpc::stream_request(h, body).await?;
                process::connect(&agent, r)
            };
            match r.await {
                Ok(rx) => rpc::event_stream(rx),
                Err(e) => rpc::stream_error(&e),
            }
        }
        routes::PROCESS_LIST => unary!(ListRequest, |_r| Ok(process::list(&agent))),
        routes::PROCESS_SEND_SIGNAL => {
            unary!(SendSignalRequest, |r| process::send_signal(&agent, r)
                .map(|()| Empty {}))
        }
        routes::PROCESS_SEND_INPUT => {
            unary!(SendInputRequest, |r| process::send_input(&agent, r)
                .await
                .map(|()| Empty {}))
        }
        routes::PROCESS_UPDATE => {
            unary!(UpdateRequest, |r| process::update(&agent, r)
                .map(|()| Empty {}))
        }
        routes::PROCESS_CLOSE_STDIN => {
            unary!(CloseStdinRequest, |r| process::close_stdin(
                &agent, &r.process
            )
            .await
            .map(|()| Empty {}))
        }
        routes::FS_STAT => unary!(PathRequest, |r| {
            let u = agent.user(user)?;
            let p = ops::resolve(&r.path, &u)?;
            let users = agent.users();
            blocking(move || ops::stat(&p, &users))
                .await
                .map(|e| EntryResponse { entry: Some(e) })
        }),
        routes::FS_LIST_DIR => unary!(ListDirRequest, |r| {
            let u = agent.user(user)?;
            let p = ops::resolve(&r.path, &u)?;
            let users = agent.users();
            blocking(move || ops::list_dir(&p, r.depth, &users))
                .await
                .map(|entries| ListDirResponse { entries })
        }),
        routes::FS_MAKE_DIR => unary!(PathRequest, |r| {
            let u = agent.user(user)?;
            let p = ops::resolve(&r.path, &u)?;
            let users = agent.users();
            blocking(move || ops::make_dir(&p, &u, &users))
                .await
                .map(|e| EntryResponse { entry: Some(e) })
        }),
        routes::FS_MOVE => unary!(MoveRequest, |r| {
            let u = agent.user(user)?;
            let from = ops::resolve(&r.source, &u)?;
            let to = ops::resolve(&r.destination, &u)?;
            let users = agent.users();
            blocking(move || ops::rename(&from, &to, &u, &users))
                .await
                .map(|e| EntryResponse { entry: Some(e) })
        }),
        routes::FS_REMOVE => unary!(PathRequest, |r| {
            let u = agent.user(user)?;
            let p = ops::resolve(&r.path, &u)?;
            blocking(move || ops::remove(&p)).await.map(|()| Empty {})
        }),
        routes::FS_WATCH_DIR => {
            let r = async {
                let r: WatchRequest = rpc::stream_request(h, body).await?;
                let u = agent.user(user)?;
                let p = ops::resolve(&r.path, &u)?;
                watch::Watch::new(&p, r.recursive)
            };
            match r.await {
                Ok(w) => rpc::watch_stream(w),
                Err(e) => rpc::stream_error(&e),
            }
        }
        routes::FS_CREATE_WATCHER => unary!(WatchRequest, |r| {
            let u = agent.user(user)?;
            let p = ops::resolve(&r.path, &u)?;
            watch::create_watcher(&p, r.recursive)
                .map(|watcher_id| CreateWatcherResponse { watcher_id })
        }),
        routes::FS_GET_WATCHER_EVENTS => unary!(WatcherRequest, |r| {
            watch::watcher_events(&r.watcher_id).map(|events| GetWatcherEventsResponse { events })
        }),
        routes::FS_REMOVE_WATCHER => unary!(WatcherRequest, |r| {
            watch::remove_watcher(&r.watcher_id).map(|()| Empty {})
        }),
        p @ routes::PROCESS_STREAM_INPUT => rpc::unary_error(&unimplemented(p)),
        p => rpc::unary_error(&ConnectError::new(
            ConnectCode::NotFound,
            format!("unknown procedure {p}"),
        )),
    }
}

fn unimplemented(p: &str) -> ConnectError {
    ConnectError::new(
        ConnectCode::Unimplemented,
        format!("{} is not implemented by this agent yet", &p[1..]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_user() {
        let mut h = HeaderMap::new();
        assert_eq!(request_user(&h), None);
        h.insert(header::AUTHORIZATION, "Basic dXNlcjo=".parse().unwrap()); // "user:"
        assert_eq!(request_user(&h).as_deref(), Some("user"));
        h.insert(header::AUTHORIZATION, "basic cm9vdA==".parse().unwrap()); // "root"
        assert_eq!(request_user(&h).as_deref(), Some("root"));
        h.insert(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert_eq!(request_user(&h), None);
    }
}
