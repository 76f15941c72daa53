//! `/mcp`: warren's MCP server (streamable HTTP) for AI agents, authenticated with an API key.
//!
//! A request flows like this:
//! 1. [`authenticate`](crate::auth::authenticate) checks the bearer key and its rate limit,
//!    exactly as for `/v1` (a bad key is `401`, too many requests `429`). The scope is not
//!    checked here: every MCP message is a POST, even a read-only `list_sandboxes`.
//! 2. The request gets a [`Caller`]: a `warren_client::Client` that calls this daemon's REST
//!    API with the caller's own key, over a private loopback listener ([`Loopback`]).
//! 3. rmcp's streamable HTTP service runs the tool, whose REST calls go through the whole API
//!    stack as that key: scope checks (a read-only key can list and read but gets
//!    `forbidden` as a tool error when it tries to create), activity, events' actor, and rate
//!    limits (an MCP request counts once itself, and once per REST call its tool makes).
//!
//! Why a loopback client rather than calling `warren-core` directly: the tools then have
//! exactly one implementation (the same code serves `warren mcp` over stdio against a remote
//! daemon), and every rule the REST layer applies — validation, scopes, activity, events,
//! rate limits, error codes — applies unchanged, with no second copy to drift. The cost is a
//! loopback HTTP hop per REST call (well under a millisecond; see the mcp bench). The
//! loopback listener is the daemon's own router on `127.0.0.1:<random port>`, in plain HTTP
//! even when the public listener uses TLS or another address, bound on first use; the calls
//! carry the original `Host` so preview URLs name the address the agent used.

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::sync::OnceCell;
use warren_api_types::ErrorCode;
use warren_client::Client;
use warren_mcp::Caller;

use crate::{ApiError, AppState};

/// The `/mcp` route, behind API-key authentication.
pub(crate) fn routes(state: AppState) -> Router<AppState> {
    let loopback = Loopback::new(state.clone());
    Router::new()
        .route_service("/mcp", warren_mcp::http_service())
        .route_layer(middleware::from_fn_with_state(
            (state, loopback),
            authenticate,
        ))
}

/// Authenticate the request and attach its [`Caller`].
async fn authenticate(
    State((state, loopback)): State<(AppState, Loopback)>,
    mut req: Request,
    next: Next,
) -> Result<Response, Response> {
    let (_, key) = crate::auth::authenticate(&state, req.headers()).await?;
    let base = loopback.client().await.map_err(|e| {
        tracing::error!(error = %e, "cannot start the MCP loopback listener");
        ApiError::new(ErrorCode::Internal, "the MCP endpoint cannot reach the API").into_response()
    })?;
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    req.extensions_mut()
        .insert(Caller(base.for_caller(key, host)));
    Ok(next.run(req).await)
}

/// The daemon's router on a private loopback port, started on first use.
#[derive(Debug, Clone)]
struct Loopback {
    state: AppState,
    client: std::sync::Arc<OnceCell<Client>>,
}

/// Why the loopback listener could not start.
#[derive(Debug, thiserror::Error)]
enum LoopbackError {
    #[error("cannot listen on 127.0.0.1")]
    Bind(#[source] std::io::Error),
    #[error("cannot make a client of the loopback listener")]
    Client(#[source] warren_client::ClientError),
}

impl Loopback {
    fn new(state: AppState) -> Self {
        Self {
            state,
            client: Default::default(),
        }
    }

    /// A client (without key) of the loopback listener.
    async fn client(&self) -> Result<Client, LoopbackError> {
        self.client
            .get_or_try_init(|| async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(LoopbackError::Bind)?;
                let addr = listener.local_addr().map_err(LoopbackError::Bind)?;
                let app = crate::router(self.state.clone());
                // Small writes (exec's answer) must not wait for delayed ACKs.
                let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, app).await {
                        tracing::error!(error = %e, "the MCP loopback listener stopped");
                    }
                });
                tracing::debug!(%addr, "MCP loopback listener started");
                Client::new(&format!("http://{addr}"), None).map_err(LoopbackError::Client)
            })
            .await
            .cloned()
    }
}
