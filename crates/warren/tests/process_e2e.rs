//! Processes end to end: streaming exec over SSE, background processes with stdin, attach and
//! re-attach, signals, and the CLI's live `exec`, `exec -i`, `ps`, `kill` and `attach`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use warren_api_types::{
    CreateSandboxRequest, ErrorCode, ExecRequest, ProcessExit, SignalName, StartProcessRequest,
};
use warren_client::{Client, ProcessEventStream, ProcessStreamEvent};

/// Everything a stream carried, in order, until the exit event.
#[derive(Debug, Default)]
struct Collected {
    stdout: String,
    stderr: String,
    exit: Option<ProcessExit>,
}

async fn collect(mut s: ProcessEventStream) -> Collected {
    let mut c = Collected::default();
    while let Some(ev) = s.next().await {
        match ev.expect("stream event") {
            ProcessStreamEvent::Start(_) => {}
            ProcessStreamEvent::Stdout(b) => c.stdout.push_str(&String::from_utf8_lossy(&b)),
            ProcessStreamEvent::Stderr(b) => c.stderr.push_str(&String::from_utf8_lossy(&b)),
            ProcessStreamEvent::Exit(e) => c.exit = Some(e),
        }
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_stream_attach_and_signal() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let busybox = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let daemon = common::Daemon::start(&env);
    let client = daemon.client();
    let sb = client
        .create_sandbox(&CreateSandboxRequest::new(&busybox))
        .await
        .expect("create sandbox");

    streaming_exec_is_live(&client, &sb.id).await;
    stdin_round_trip(&client, &sb.id).await;
    reattach_sees_later_output(&client, &sb.id).await;
    kill_ends_a_process(&client, &sb.id).await;
    cli_streams_and_forwards_stdin(&daemon, &sb.id);
    cli_ps_kill_attach(&daemon, &client, &sb.id).await;
    terminal_over_websocket(&daemon, &sb.id).await;
    cli_shell_in_tmux(&daemon, &sb.id);
}

async fn streaming_exec_is_live(client: &Client, id: &str) {
    let req = ExecRequest::new(["sh", "-c", "echo a; sleep 2; echo b; echo e >&2; exit 4"]);
    let mut s = client.exec_stream(id, &req).await.expect("streaming exec");
    let mut first_out = None;
    let mut out = String::new();
    let mut err = String::new();
    let mut pid = 0;
    let exit = loop {
        match s.next().await.expect("event before exit").expect("event") {
            ProcessStreamEvent::Start(st) => pid = st.pid,
            ProcessStreamEvent::Stdout(b) => {
                first_out.get_or_insert_with(Instant::now);
                out.push_str(&String::from_utf8_lossy(&b));
            }
            ProcessStreamEvent::Stderr(b) => err.push_str(&String::from_utf8_lossy(&b)),
            ProcessStreamEvent::Exit(e) => break (e, Instant::now()),
        }
    };
    assert!(pid > 0, "start event carries the pid");
    let first_out = first_out.expect("stdout before exit");
    // `a` arrived while the command was still sleeping, not collected at the end.
    assert!(
        exit.1 - first_out >= Duration::from_secs(1),
        "first output {:?} before the exit",
        exit.1 - first_out
    );
    assert_eq!(out, "a\nb\n");
    assert_eq!(err, "e\n");
    assert_eq!(exit.0.exit_code, 4);
    assert!(!exit.0.timed_out);
    assert!(s.next().await.is_none(), "nothing after exit");

    // A missing program is an ordinary error, before any stream.
    let err = client
        .exec_stream(id, &ExecRequest::new(["no-such-program"]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");

    // The timeout still applies, and the stream says so.
    let mut slow = ExecRequest::new(["sleep", "60"]);
    slow.timeout_s = Some(1);
    let c = collect(client.exec_stream(id, &slow).await.unwrap()).await;
    let exit = c.exit.expect("exit event");
    assert!(exit.timed_out);
    assert_eq!(exit.exit_code, -1);

    // Non-UTF-8 output arrives byte for byte.
    let raw = ExecRequest::new(["printf", "\\377\\376ok"]);
    let mut s = client.exec_stream(id, &raw).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(ev) = s.next().await {
        if let ProcessStreamEvent::Stdout(b) = ev.unwrap() {
            bytes.extend_from_slice(&b);
        }
    }
    assert_eq!(bytes, b"\xff\xfeok");
}

async fn stdin_round_trip(client: &Client, id: &str) {
    let mut req = StartProcessRequest::new(["cat"]);
    req.stdin = true;
    req.tag = Some("cat".into());
    let p = client.start_process(id, &req).await.expect("start cat");
    assert!(p.pid > 0);
    assert_eq!(p.tag.as_deref(), Some("cat"));
    assert_eq!(p.cmd, ["cat"]);
    let events = client.attach_process(id, p.pid).await.expect("attach");
    client.send_stdin(id, p.pid, "hello ").await.unwrap();
    client.send_stdin(id, p.pid, "stdin\n").await.unwrap();
    client.close_stdin(id, p.pid).await.unwrap();
    let c = collect(events).await;
    assert_eq!(c.stdout, "hello stdin\n");
    assert_eq!(c.exit.expect("exit").exit_code, 0);

    // Writing to a process started without stdin is refused.
    let p = client
        .start_process(id, &StartProcessRequest::new(["sleep", "30"]))
        .await
        .unwrap();
    let err = client.send_stdin(id, p.pid, "x").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict), "{err}");
    client
        .signal_process(id, p.pid, SignalName::Kill)
        .await
        .unwrap();
}

async fn reattach_sees_later_output(client: &Client, id: &str) {
    let req = StartProcessRequest::new([
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo $i; sleep 1; done; exit 7",
    ]);
    let p = client.start_process(id, &req).await.unwrap();
    let listed = client.list_processes(id).await.unwrap();
    assert!(
        listed
            .items
            .iter()
            .any(|x| x.pid == p.pid && x.cmd[0] == "sh"),
        "{listed:?}"
    );

    // Attach, read one number, detach.
    let mut s = client.attach_process(id, p.pid).await.unwrap();
    let first: u32 = loop {
        if let ProcessStreamEvent::Stdout(b) = s.next().await.unwrap().unwrap() {
            break String::from_utf8_lossy(&b)
                .trim()
                .lines()
                .next()
                .unwrap()
                .parse()
                .unwrap();
        }
    };
    drop(s);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Re-attach: later numbers only, then the exit; the process ran on meanwhile.
    let c = collect(client.attach_process(id, p.pid).await.unwrap()).await;
    let later: Vec<u32> = c.stdout.lines().map(|l| l.parse().unwrap()).collect();
    assert!(!later.is_empty(), "re-attach saw no output");
    assert!(
        later[0] > first,
        "re-attach started at {later:?} after {first}"
    );
    assert_eq!(*later.last().unwrap(), 5);
    assert_eq!(c.exit.expect("exit").exit_code, 7);

    // Once it ended it is gone.
    let err = client.attach_process(id, p.pid).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::ProcessNotFound), "{err}");
}

async fn kill_ends_a_process(client: &Client, id: &str) {
    let p = client
        .start_process(id, &StartProcessRequest::new(["sleep", "300"]))
        .await
        .unwrap();
    let events = client.attach_process(id, p.pid).await.unwrap();
    client
        .signal_process(id, p.pid, SignalName::Kill)
        .await
        .unwrap();
    let exit = collect(events).await.exit.expect("exit");
    assert_eq!(exit.exit_code, -1);
    assert!(exit.status.contains("killed"), "{exit:?}");
    let listed = client.list_processes(id).await.unwrap();
    assert!(listed.items.iter().all(|x| x.pid != p.pid), "{listed:?}");

    let err = client
        .signal_process(id, 999_999, SignalName::Term)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::ProcessNotFound), "{err}");
}

fn cli_streams_and_forwards_stdin(daemon: &common::Daemon, id: &str) {
    let out = daemon.cli(&[
        "sandbox",
        "exec",
        id,
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");

    // `--json` still prints the collected result.
    let out = daemon.cli(&["sandbox", "exec", "--json", id, "--", "echo", "hi"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stdout"], "hi\n");

    // `-i` forwards stdin; end-of-file closes the command's stdin.
    let mut child = Command::new(env!("CARGO_BIN_EXE_warren"))
        .args([
            "sandbox",
            "exec",
            "-i",
            id,
            "--",
            "sh",
            "-c",
            "tr a-z A-Z; exit 5",
        ])
        .env("WARREN_URL", &daemon.url)
        .env("WARREN_API_KEY", common::TEST_KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"piped through\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "PIPED THROUGH\n",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(5));
}

async fn cli_ps_kill_attach(daemon: &common::Daemon, client: &Client, id: &str) {
    let mut req = StartProcessRequest::new(["sh", "-c", "while :; do echo tick; sleep 1; done"]);
    req.tag = Some("ticker".into());
    let p = client.start_process(id, &req).await.unwrap();
    let pid = p.pid.to_string();

    let out = daemon.cli(&["sandbox", "ps", id]);
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&pid) && l.contains("ticker") && l.contains("sh -c while")),
        "{table}"
    );

    // `attach` follows it until `kill` ends it, and exits like a killed process.
    let mut attach = Command::new(env!("CARGO_BIN_EXE_warren"))
        .args(["sandbox", "attach", id, &pid])
        .env("WARREN_URL", &daemon.url)
        .env("WARREN_API_KEY", common::TEST_KEY)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(attach.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "tick\n");
    let out = daemon.cli(&["sandbox", "kill", id, &pid, "--signal", "KILL"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(attach.wait().unwrap().code(), Some(137));

    let out = daemon.cli(&["sandbox", "kill", id, &pid]);
    assert_eq!(out.status.code(), Some(3), "an ended process is not found");
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn pty_request(
    daemon: &common::Daemon,
    path_and_query: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("ws://{}{path_and_query}", daemon.addr);
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", common::TEST_KEY).parse().unwrap(),
    );
    req
}

/// Terminal output until `needle` appears; the exit notice ends it too.
async fn ws_read_until(ws: &mut Ws, needle: &str) -> (String, Option<serde_json::Value>) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let mut out = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} in terminal output {out:?}"));
        match msg {
            Some(Ok(Message::Binary(b))) => out.push_str(&String::from_utf8_lossy(&b)),
            Some(Ok(Message::Text(t))) => {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "exit" {
                    return (out, Some(v));
                }
                panic!("unexpected notice {v} after {out:?}");
            }
            Some(Ok(_)) => {}
            other => panic!("socket ended ({other:?}) after {out:?}"),
        }
        if !needle.is_empty() && out.contains(needle) {
            return (out, None);
        }
    }
}

async fn terminal_over_websocket(daemon: &common::Daemon, id: &str) {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let req = pty_request(daemon, &format!("/v1/sandboxes/{id}/pty?cols=80&rows=24"));
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("terminal connects");
    let key = |s: &str| Message::Binary(bytes::Bytes::from(s.to_owned()));

    // `stty size` prints rows and columns; the echo of the typed command has no "24 80".
    ws.send(key("stty size; tty\r")).await.unwrap();
    let (out, _) = ws_read_until(&mut ws, "24 80").await;
    assert!(out.contains("24 80"), "{out:?}");
    // `tty`'s line may have come in the same chunk as `stty size`'s.
    let tail = out[out.find("24 80").unwrap_or(0)..].to_owned();
    let out = if tail.contains("/dev/pts/") {
        tail
    } else {
        ws_read_until(&mut ws, "/dev/pts/").await.0
    };
    assert!(out.contains("/dev/pts/"), "{out:?}");

    // A resize message changes what the shell sees.
    let resize = serde_json::json!({"type": "resize", "cols": 120, "rows": 40});
    ws.send(Message::Text(resize.to_string().into()))
        .await
        .unwrap();
    ws.send(key("stty size\r")).await.unwrap();
    let (out, _) = ws_read_until(&mut ws, "40 120").await;
    assert!(out.contains("40 120"), "{out:?}");

    // Exiting the shell sends its status, then the socket closes.
    ws.send(key("exit 4\r")).await.unwrap();
    let (_, exit) = ws_read_until(&mut ws, "").await;
    assert_eq!(exit.expect("exit notice")["exit_code"], 4);

    // Errors come before the upgrade, as JSON with the usual codes.
    let req = pty_request(daemon, "/v1/sandboxes/sb-missing/pty");
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 404);
            let body: serde_json::Value =
                serde_json::from_slice(resp.body().as_deref().unwrap_or_default()).unwrap();
            assert_eq!(body["error"]["code"], "sandbox_not_found");
        }
        other => panic!("expected a 404, got {other:?}"),
    }
    let req = pty_request(daemon, &format!("/v1/sandboxes/{id}/pty?cols=0"));
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 400);
        }
        other => panic!("expected a 400, got {other:?}"),
    }
}

/// A CLI command running in a real terminal (a detached tmux session of its own).
struct Tmux {
    sock: String,
    status_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmux {
    /// Start `warren <cli_args>` in a 100x30 terminal; its exit status goes to a file.
    fn start(daemon: &common::Daemon, name: &str, cli_args: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status_file = dir.path().join("status");
        let t = Tmux {
            sock: format!("warren-e2e-{name}-{}", std::process::id()),
            status_file,
            _dir: dir,
        };
        let script = format!(
            "WARREN_URL={} WARREN_API_KEY={} {} {cli_args}; echo $? > {}; sleep 600",
            daemon.url,
            common::TEST_KEY,
            env!("CARGO_BIN_EXE_warren"),
            t.status_file.display()
        );
        t.run(&["new-session", "-d", "-x", "100", "-y", "30", &script]);
        t
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.sock])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, text: &str) {
        self.run(&["send-keys", text, "Enter"]);
    }

    /// Wait until a line of the screen is exactly `line` (trimmed).
    fn wait_for_line(&self, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let pane = self.run(&["capture-pane", "-p"]);
            if pane.lines().any(|l| l.trim() == line) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {line:?}; pane:\n{pane}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The CLI's exit status, once it has exited.
    fn exit_status(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(s) = std::fs::read_to_string(&self.status_file)
                && s.ends_with('\n')
            {
                return s.trim().to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "the CLI did not exit; pane:\n{}",
                self.run(&["capture-pane", "-p"])
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.sock, "kill-server"])
            .output();
    }
}

/// `warren sandbox shell` and `warren sandbox exec -it` in a real terminal (tmux): type, see
/// the output, and the CLI exits with the remote status.
fn cli_shell_in_tmux(daemon: &common::Daemon, id: &str) {
    if common::which("tmux").is_none() {
        assert!(
            std::env::var_os("WARREN_REQUIRE_E2E").is_none(),
            "tmux is missing (scripts/setup-host.sh installs it)"
        );
        return;
    }
    let shell = Tmux::start(daemon, "shell", &format!("sandbox shell {id}"));
    // The shell's size follows the tmux window.
    shell.keys("stty size");
    shell.wait_for_line("30 100");
    shell.keys("echo hello-from-shell");
    shell.wait_for_line("hello-from-shell");
    shell.keys("exit 3");
    assert_eq!(shell.exit_status(), "3");

    // exec -it: argv (with a quote and a space in it) and -e reach the command, on a terminal.
    let exec = Tmux::start(
        daemon,
        "exec",
        &format!(
            "sandbox exec -it -e WHO=it\\\'s {id} -- sh -c 'read x; [ -t 0 ] && echo \"tty $WHO got-$x\"; exit 4'"
        ),
    );
    exec.keys("abc");
    exec.wait_for_line("tty it's got-abc");
    assert_eq!(exec.exit_status(), "4");
}
