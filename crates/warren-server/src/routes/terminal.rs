//! `GET /v1/sandboxes/{id}/pty`: an interactive terminal over a WebSocket.
//!
//! The request is checked and the process started on a new PTY *before* the upgrade, so a bad
//! query, a stopped sandbox or a missing user are ordinary JSON errors. After the upgrade:
//! binary frames carry terminal bytes both ways; a client text frame
//! `{"type":"resize","cols":N,"rows":M}` resizes the terminal; when the process ends the server
//! sends `{"type":"exit","exit_code":N}` and closes. Closing the socket kills the process.

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use warren_core::{OpenTerminal, ProcessEvent, Terminal};

use crate::json::Query;
use crate::openapi::{
    AgentError, Conflict, Internal, RateLimited, SANDBOX_ID, SandboxNotFound, Unauthorized,
};
use crate::{ApiError, AppState};

/// `/sandboxes/{id}/pty`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/sandboxes/{id}/pty", get(open))
}

/// The OpenAPI operations of [`routes`].
#[derive(utoipa::OpenApi)]
#[openapi(paths(open))]
pub(crate) struct Api;

/// The terminal's size and what runs in it.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PtyQuery {
    /// Columns (default 80).
    cols: Option<u32>,
    /// Rows (default 24).
    rows: Option<u32>,
    /// Command line run by `/bin/sh -c`; default: a login shell (bash if present, else sh).
    cmd: Option<String>,
    /// User (name or uid); default: the sandbox's default user.
    user: Option<String>,
    /// Working directory (absolute); default: the sandbox's default working directory.
    cwd: Option<String>,
}

/// Client → server control message.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Control {
    Resize { cols: u32, rows: u32 },
}

/// Server → client control message.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Notice {
    Exit { exit_code: i32 },
    Error { message: String },
}

/// Open a terminal (WebSocket)
///
/// Starts a process on a new pseudo-terminal in the sandbox and connects it to a WebSocket.
/// Send an ordinary WebSocket handshake (`Connection: Upgrade`, `Upgrade: websocket`,
/// `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13`) with the API key in `Authorization`; the
/// key needs scope `full`, since a terminal can change anything. The query is checked and the
/// process started *before* the upgrade, so a bad query, a sandbox that is not running or an
/// unknown user are ordinary JSON errors.
///
/// After `101 Switching Protocols`:
/// - **binary frames** carry terminal bytes, both ways: client → server is keyboard input,
///   server → client is the terminal's output (stdout and stderr together, as a terminal
///   shows them);
/// - a client **text frame** `{"type":"resize","cols":N,"rows":M}` resizes the terminal;
///   any other text frame is answered with `{"type":"error","message":"..."}`;
/// - the server sends the text frame `{"type":"exit","exit_code":N}` when the process ends,
///   then closes the socket; `{"type":"error","message":"..."}` reports a failure (a resize
///   that failed, or the agent failing, after which the socket closes);
/// - closing the socket kills the process.
#[utoipa::path(
    get,
    path = "/v1/sandboxes/{id}/pty",
    tag = "terminal",
    operation_id = "open_terminal",
    params(("id" = String, Path, description = SANDBOX_ID), PtyQuery),
    responses(
        (status = 101, description = "Switching Protocols: the WebSocket is open; see the \
            operation's description for the messages."),
        (status = 400, description = "`invalid_request`: a malformed query, a request that is \
            not a WebSocket upgrade, or an unknown user or working directory.",
            body = warren_api_types::ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: the API key has scope `read` (a WebSocket \
            upgrade needs `full`).", body = warren_api_types::ErrorBody),
        (status = 404, response = SandboxNotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, response = AgentError),
    ),
)]
async fn open(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PtyQuery>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws.map_err(|r| ApiError::invalid(format!("expected a WebSocket upgrade: {r}")))?;
    let input = OpenTerminal {
        cmd: q.cmd,
        user: q.user,
        cwd: q.cwd,
        cols: q.cols.unwrap_or(80),
        rows: q.rows.unwrap_or(24),
    };
    let term = st.core.open_terminal(&id, input).await?;
    let core = st.core.clone();
    Ok(ws.on_upgrade(move |socket| session(socket, term, core, id)))
}

fn notice(n: &Notice) -> Message {
    Message::Text(serde_json::to_string(n).expect("serializes").into())
}

async fn session(mut socket: WebSocket, mut term: Terminal, core: warren_core::Core, id: String) {
    loop {
        tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(Message::Binary(b))) => {
                    // Typing keeps the sandbox from being idle.
                    core.note_activity(&id);
                    if let Err(e) = term.input.write(b).await {
                        tracing::debug!(pid = term.pid, error = %e, "terminal input failed");
                    }
                }
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<Control>(&t) {
                    Ok(Control::Resize { cols, rows }) => {
                        if let Err(e) = term.input.resize(cols, rows).await {
                            let _ = socket.send(notice(&Notice::Error { message: e.chain() })).await;
                        }
                    }
                    Err(e) => {
                        let message = format!("unknown control message: {e}");
                        let _ = socket.send(notice(&Notice::Error { message })).await;
                    }
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                // Closed or broken: dropping `term` kills the process.
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
            },
            ev = term.events.recv() => match ev {
                Some(ProcessEvent::Stdout(b) | ProcessEvent::Stderr(b)) => {
                    if socket.send(Message::Binary(b)).await.is_err() {
                        return;
                    }
                }
                Some(ProcessEvent::Exited(end)) => {
                    let _ = socket.send(notice(&Notice::Exit { exit_code: end.exit_code })).await;
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
                Some(ProcessEvent::Failed(e)) => {
                    let _ = socket.send(notice(&Notice::Error { message: e.chain() })).await;
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
                None => return,
            },
        }
    }
}
