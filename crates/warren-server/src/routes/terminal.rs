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
use crate::{ApiError, AppState};

/// `/sandboxes/{id}/pty`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/sandboxes/{id}/pty", get(open))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PtyQuery {
    /// Columns (default 80).
    cols: Option<u32>,
    /// Rows (default 24).
    rows: Option<u32>,
    /// Command line run by `/bin/sh -c`; default: a login shell (bash if present, else sh).
    cmd: Option<String>,
    /// User (name or uid).
    user: Option<String>,
    /// Working directory.
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
    Ok(ws.on_upgrade(move |socket| session(socket, term)))
}

fn notice(n: &Notice) -> Message {
    Message::Text(serde_json::to_string(n).expect("serializes").into())
}

async fn session(mut socket: WebSocket, mut term: Terminal) {
    loop {
        tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(Message::Binary(b))) => {
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
