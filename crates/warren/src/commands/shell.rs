//! `warren sandbox shell ID [--cmd ...]`: an interactive terminal in a sandbox.
//!
//! Connects to `GET /v1/sandboxes/{id}/pty` over a WebSocket, puts the local terminal in raw
//! mode (restored on every way out: normal exit, error, panic), sends keystrokes as binary
//! frames and the window size on start and on every SIGWINCH, writes what comes back to stdout,
//! and exits with the remote process's status.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use rustix::termios::{self, OptionalActions, Termios};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::cli::Remote;
use crate::config;

/// `warren sandbox shell`.
#[derive(Debug, Args)]
pub struct ShellArgs {
    /// Sandbox id.
    pub id: String,
    /// Command line to run instead of a login shell (run by `/bin/sh -c`).
    #[arg(long)]
    pub cmd: Option<String>,
    /// User to run as.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the sandbox.
    #[arg(short = 'w', long)]
    pub cwd: Option<String>,
    #[command(flatten)]
    pub remote: Remote,
}

/// Raw mode on stdin until dropped.
struct RawMode {
    saved: Termios,
}

impl RawMode {
    fn enter() -> anyhow::Result<Option<Self>> {
        let stdin = std::io::stdin();
        if !termios::isatty(&stdin) {
            return Ok(None);
        }
        let saved = termios::tcgetattr(&stdin).context("cannot read the terminal mode")?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(&stdin, OptionalActions::Now, &raw)
            .context("cannot switch the terminal to raw mode")?;
        Ok(Some(Self { saved }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin(), OptionalActions::Now, &self.saved);
    }
}

/// The local window size, if stdout is a terminal.
fn window_size() -> Option<(u16, u16)> {
    let ws = termios::tcgetwinsize(std::io::stdout()).ok()?;
    (ws.ws_col > 0 && ws.ws_row > 0).then_some((ws.ws_col, ws.ws_row))
}

/// Run the shell session.
pub async fn run(args: ShellArgs) -> anyhow::Result<ExitCode> {
    let file = config::load()?;
    let base = args
        .remote
        .url
        .clone()
        .or(file.url)
        .unwrap_or_else(|| config::DEFAULT_URL.to_owned());
    let key = args.remote.api_key.clone().or(file.api_key);
    let ws_base = if let Some(rest) = base.trim_end_matches('/').strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        anyhow::bail!("warren sandbox shell needs an http:// daemon URL, got {base}");
    };
    let (cols, rows) = window_size().unwrap_or((80, 24));
    let mut url = format!(
        "{ws_base}/v1/sandboxes/{}/pty?cols={cols}&rows={rows}",
        warren_client::percent_encode(&args.id)
    );
    for (name, value) in [("cmd", &args.cmd), ("user", &args.user), ("cwd", &args.cwd)] {
        if let Some(v) = value {
            url.push_str(&format!("&{name}={}", warren_client::percent_encode(v)));
        }
    }
    let mut request = url.as_str().into_client_request()?;
    if let Some(key) = key {
        request.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {key}")).context("invalid API key")?,
        );
    }
    let (socket, _) = match tokio_tungstenite::connect_async(request).await {
        Ok(ok) => ok,
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            return Err(api_error(*resp).into());
        }
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("cannot connect to {ws_base}")));
        }
    };
    let (mut tx, mut rx) = socket.split();

    let raw = RawMode::enter()?;
    // Keystrokes: blocking reads on a thread of their own.
    let (keys_tx, mut keys) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stdin.read(&mut buf) {
            if keys_tx.blocking_send(buf[..n].to_vec()).is_err() {
                return;
            }
        }
    });
    let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        .context("cannot watch window size changes")?;
    let mut exit_code = None;
    let mut stdin_open = true;
    loop {
        tokio::select! {
            key = keys.recv(), if stdin_open => match key {
                Some(k) => tx.send(Message::Binary(k.into())).await?,
                None => stdin_open = false,
            },
            _ = winch.recv() => {
                if let Some((cols, rows)) = window_size() {
                    let msg = serde_json::json!({"type": "resize", "cols": cols, "rows": rows});
                    tx.send(Message::Text(msg.to_string().into())).await?;
                }
            }
            msg = rx.next() => match msg {
                Some(Ok(Message::Binary(b))) => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&b)?;
                    out.flush()?;
                }
                Some(Ok(Message::Text(t))) => {
                    let v: serde_json::Value = serde_json::from_str(&t).unwrap_or_default();
                    match v["type"].as_str() {
                        Some("exit") => exit_code = v["exit_code"].as_i64(),
                        Some("error") => {
                            drop(raw);
                            anyhow::bail!("{}", v["message"].as_str().unwrap_or("terminal error"));
                        }
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    drop(raw);
                    return Err(anyhow::Error::new(e).context("the terminal connection broke"));
                }
            },
        }
    }
    drop(raw);
    let code = exit_code.context("the terminal closed without an exit status")?;
    Ok(super::process::exit_status(
        i32::try_from(code).unwrap_or(-1),
    ))
}

/// The API error in a refused upgrade's body.
fn api_error(
    resp: tokio_tungstenite::tungstenite::http::Response<Option<Vec<u8>>>,
) -> warren_client::ClientError {
    let status = resp.status().as_u16();
    let body = resp.into_body().unwrap_or_default();
    match serde_json::from_slice::<warren_api_types::ErrorBody>(&body) {
        Ok(e) => warren_client::ClientError::Api {
            status,
            code: e.error.code,
            message: e.error.message,
        },
        Err(_) => warren_client::ClientError::Protocol {
            url: "pty".into(),
            detail: format!("status {status}: {}", String::from_utf8_lossy(&body)),
        },
    }
}
