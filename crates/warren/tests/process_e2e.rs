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
