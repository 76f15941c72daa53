//! End-to-end tests: the real agent binary (not PID 1) on a temp Unix socket, driven through
//! `AgentClient` over one HTTP/2 connection, plus raw HTTP/1.1 to pin the envd wire shape.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warren_agent_proto::{
    AgentClient, AgentError, CloseStdinRequest, ConnectCode, DataEvent, EndEvent, FileType,
    ProcessConfig, ProcessEvent, ProcessInput, ProcessSelector, SendInputRequest,
    SendSignalRequest, Signal, StartRequest,
};

struct Agent {
    child: Child,
    sock: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn agent() -> (Agent, AgentClient) {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("run/agent.sock");
    let child = Command::new(env!("CARGO_BIN_EXE_warren-agent"))
        .arg("--listen")
        .arg(format!("unix:{}", sock.display()))
        .env("WARREN_TEST_BASE", "base")
        .spawn()
        .unwrap();
    let a = Agent { child, sock, dir };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(c) = AgentClient::connect_unix(&a.sock).await {
            c.health().await.unwrap();
            return (a, c);
        }
        assert!(Instant::now() < deadline, "agent did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn sh(script: &str) -> StartRequest {
    StartRequest {
        process: Some(ProcessConfig {
            cmd: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            ..Default::default()
        }),
        stdin: Some(false),
        ..Default::default()
    }
}

#[derive(Debug, Default)]
struct Run {
    pid: u32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    end: Option<EndEvent>,
}

async fn collect(mut s: warren_agent_proto::ProcessStream) -> Run {
    let mut r = Run::default();
    while let Some(ev) = s.next().await {
        match ev.unwrap() {
            ProcessEvent::Start(st) => r.pid = st.pid,
            ProcessEvent::Data(DataEvent::Stdout(b)) => r.stdout.extend_from_slice(&b),
            ProcessEvent::Data(DataEvent::Stderr(b)) => r.stderr.extend_from_slice(&b),
            ProcessEvent::Data(DataEvent::Pty(_)) | ProcessEvent::Keepalive(_) => {}
            ProcessEvent::End(e) => r.end = Some(e),
        }
    }
    r
}

#[tokio::test]
async fn exit_code_and_separate_streams() {
    let (_a, c) = agent().await;
    let r = collect(c.start(sh("echo out; echo err >&2; exit 3")).await.unwrap()).await;
    assert!(r.pid > 0);
    assert_eq!(r.stdout, b"out\n");
    assert_eq!(r.stderr, b"err\n");
    let end = r.end.unwrap();
    assert_eq!(
        (end.exit_code, end.exited, end.status.as_str()),
        (3, true, "exit status 3")
    );
    let ok = collect(c.start(sh("true")).await.unwrap())
        .await
        .end
        .unwrap();
    assert_eq!((ok.exit_code, ok.exited, ok.error), (0, true, None));
}

#[tokio::test]
async fn output_streams_before_exit() {
    let (_a, c) = agent().await;
    let t0 = Instant::now();
    let mut s = c.start(sh("echo a; sleep 1; echo b")).await.unwrap();
    let mut first_data = None;
    let mut end_at = None;
    while let Some(ev) = s.next().await {
        match ev.unwrap() {
            ProcessEvent::Data(DataEvent::Stdout(b)) if first_data.is_none() => {
                assert_eq!(&b[..], b"a\n");
                first_data = Some(t0.elapsed());
            }
            ProcessEvent::End(_) => end_at = Some(t0.elapsed()),
            _ => {}
        }
    }
    let (first, end) = (first_data.unwrap(), end_at.unwrap());
    assert!(
        end >= first + Duration::from_millis(500),
        "first data {first:?}, end {end:?}"
    );
}

#[tokio::test]
async fn env_cwd_and_missing_command() {
    let (a, c) = agent().await;
    let mut req = sh("echo $FOO $WARREN_TEST_BASE $HOME; pwd");
    let p = req.process.as_mut().unwrap();
    p.envs.insert("FOO".into(), "bar".into());
    p.cwd = Some(a.dir.path().to_string_lossy().into_owned());
    let r = collect(c.start(req).await.unwrap()).await;
    let home = String::from_utf8(r.stdout).unwrap();
    let mut lines = home.lines();
    assert_eq!(lines.next().unwrap(), "bar base /root");
    assert_eq!(
        Path::new(lines.next().unwrap()),
        std::fs::canonicalize(a.dir.path()).unwrap()
    );

    let req = StartRequest {
        process: Some(ProcessConfig {
            cmd: "no-such-command-xyz".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut s = c.start(req).await.unwrap();
    let err = s.next().await.unwrap().unwrap_err();
    assert_eq!(err.code(), ConnectCode::InvalidArgument);
    assert!(err.to_string().contains("not found in PATH"), "{err}");

    let mut bad_cwd = sh("true");
    bad_cwd.process.as_mut().unwrap().cwd = Some("/no/such/dir".into());
    let err = c
        .start(bad_cwd)
        .await
        .unwrap()
        .next()
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), ConnectCode::InvalidArgument);
}

#[tokio::test]
async fn stdin_round_trip() {
    let (_a, c) = agent().await;
    let mut req = sh("cat");
    req.stdin = Some(true);
    let mut s = c.start(req).await.unwrap();
    let Some(Ok(ProcessEvent::Start(st))) = s.next().await else {
        panic!("no start")
    };
    let sel = ProcessSelector::Pid(st.pid);
    for chunk in [&b"hello "[..], &b"world\x00\xff"[..]] {
        c.send_input(SendInputRequest {
            process: sel.clone(),
            input: ProcessInput::Stdin(Bytes::copy_from_slice(chunk)),
        })
        .await
        .unwrap();
    }
    c.close_stdin(CloseStdinRequest { process: sel })
        .await
        .unwrap();
    let r = collect(s).await;
    assert_eq!(r.stdout, b"hello world\x00\xff");
    assert_eq!(r.end.unwrap().exit_code, 0);
}

#[tokio::test]
async fn signal_list_and_connect() {
    let (_a, c) = agent().await;
    let mut req = sh("sleep 100");
    req.tag = Some("sleeper".into());
    let mut s = c.start(req).await.unwrap();
    let Some(Ok(ProcessEvent::Start(st))) = s.next().await else {
        panic!("no start")
    };
    let list = c.list().await.unwrap();
    let p = list
        .processes
        .iter()
        .find(|p| p.pid == st.pid)
        .expect("listed");
    assert_eq!(p.tag.as_deref(), Some("sleeper"));
    assert_eq!(p.config.as_ref().unwrap().args, ["-c", "sleep 100"]);

    let attached = c
        .connect(ProcessSelector::Tag("sleeper".into()))
        .await
        .unwrap();
    c.send_signal(SendSignalRequest {
        process: ProcessSelector::Pid(st.pid),
        signal: Signal::Sigkill,
    })
    .await
    .unwrap();
    let end = collect(s).await.end.unwrap();
    assert_eq!(
        (end.exit_code, end.exited, end.status.as_str()),
        (-1, false, "signal: killed")
    );
    let again = collect(attached).await;
    assert_eq!(again.pid, st.pid);
    assert_eq!(again.end.unwrap().status, "signal: killed");
    assert!(
        c.list()
            .await
            .unwrap()
            .processes
            .iter()
            .all(|p| p.pid != st.pid)
    );

    let err = c
        .send_signal(SendSignalRequest {
            process: ProcessSelector::Pid(st.pid),
            signal: Signal::Sigterm,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), ConnectCode::NotFound);
}

#[tokio::test]
async fn files_round_trip() {
    let (a, c) = agent().await;
    let base = a.dir.path().join("data");
    let all: Bytes = (0..=255u8).collect::<Vec<_>>().into();
    let p = base.join("sub/dir/all.bin");
    let w = c
        .write_file(p.to_str().unwrap(), None, all.clone())
        .await
        .unwrap();
    assert_eq!(
        (w.name.as_str(), w.r#type.as_str(), w.path.as_str()),
        ("all.bin", "file", p.to_str().unwrap())
    );
    assert_eq!(c.read_file(p.to_str().unwrap(), None).await.unwrap(), all);

    let big: Bytes = (0..5 * 1024 * 1024)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect::<Vec<_>>()
        .into();
    let bp = base.join("big.bin");
    c.write_file(bp.to_str().unwrap(), None, big.clone())
        .await
        .unwrap();
    let got = c.read_file(bp.to_str().unwrap(), None).await.unwrap();
    assert!(got == big, "5 MiB payload differs");
    // Overwrite keeps working and leaves no temp files behind.
    c.write_file(bp.to_str().unwrap(), None, Bytes::from_static(b"small"))
        .await
        .unwrap();
    assert_eq!(
        &c.read_file(bp.to_str().unwrap(), None).await.unwrap()[..],
        b"small"
    );

    let st = c.stat(bp.to_str().unwrap(), None).await.unwrap();
    assert_eq!(
        (st.r#type, st.size, st.name.as_str()),
        (FileType::File, 5, "big.bin")
    );
    assert_eq!(st.permissions, "-rw-r--r--");

    let d = base.join("made/deep");
    let e = c.make_dir(d.to_str().unwrap(), None).await.unwrap();
    assert_eq!(e.r#type, FileType::Directory);
    let err = c.make_dir(d.to_str().unwrap(), None).await.unwrap_err();
    assert_eq!(err.code(), ConnectCode::AlreadyExists);

    let entries = c.list_dir(base.to_str().unwrap(), 1, None).await.unwrap();
    let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["big.bin", "made", "sub"]);
    let deep = c.list_dir(base.to_str().unwrap(), 2, None).await.unwrap();
    assert!(
        deep.iter()
            .any(|e| e.path == p.parent().unwrap().to_str().unwrap())
    );
    assert!(
        !deep.iter().any(|e| e.name == "all.bin"),
        "depth 2 stops above sub/dir/all.bin"
    );
    let deeper = c.list_dir(base.to_str().unwrap(), 3, None).await.unwrap();
    assert_eq!(deeper.len(), deep.len() + 1);
    assert!(deeper.iter().any(|e| e.path == p.to_str().unwrap()));

    let moved = base.join("elsewhere/new.bin");
    let e = c
        .rename(p.to_str().unwrap(), moved.to_str().unwrap(), None)
        .await
        .unwrap();
    assert_eq!(e.path, moved.to_str().unwrap());
    assert_eq!(
        c.read_file(moved.to_str().unwrap(), None).await.unwrap(),
        all
    );

    c.remove(base.join("made").to_str().unwrap(), None)
        .await
        .unwrap();
    let missing = base.join("made").to_string_lossy().into_owned();
    for err in [
        c.stat(&missing, None).await.unwrap_err(),
        c.list_dir(&missing, 1, None).await.unwrap_err(),
        c.read_file(&missing, None).await.unwrap_err(),
        c.rename(&missing, "/tmp/x", None).await.unwrap_err(),
    ] {
        assert_eq!(err.code(), ConnectCode::NotFound, "{err}");
        assert_eq!(err.http_status(), 404);
    }
    let err = c.read_file(base.to_str().unwrap(), None).await.unwrap_err();
    assert_eq!(err.code(), ConnectCode::InvalidArgument);
    let err = c.stat("", None).await.unwrap_err();
    assert_eq!(err.code(), ConnectCode::InvalidArgument);
    let err = c.stat("/tmp", Some("no-such-user-xyz")).await.unwrap_err();
    assert_eq!(err.code(), ConnectCode::InvalidArgument);
    assert!(std::fs::read_dir(&base).unwrap().all(|e| {
        !e.unwrap()
            .file_name()
            .to_string_lossy()
            .contains("warren-upload")
    }));
}

#[tokio::test]
async fn fifty_concurrent_starts_on_one_connection() {
    let (_a, c) = agent().await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let r = collect(
                c.start(sh(&format!("echo {i}; exit {}", i % 7)))
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(String::from_utf8(r.stdout).unwrap(), format!("{i}\n"));
            assert_eq!(r.end.unwrap().exit_code, i % 7);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(!c.is_closed());
}

/// Raw HTTP/1.1 on the socket: the envd JSON shapes, byte for byte where they are fixed.
#[tokio::test]
async fn raw_http1_wire_shape() {
    let (a, c) = agent().await;
    let f = a.dir.path().join("x.txt");
    c.write_file(f.to_str().unwrap(), None, Bytes::from_static(b"hey"))
        .await
        .unwrap();

    let http = |req: String| {
        let sock = a.sock.clone();
        async move {
            let mut s = tokio::net::UnixStream::connect(sock).await.unwrap();
            s.write_all(req.as_bytes()).await.unwrap();
            let mut out = Vec::new();
            s.read_to_end(&mut out).await.unwrap();
            String::from_utf8_lossy(&out).into_owned()
        }
    };
    let body = format!(r#"{{"path":"{}"}}"#, f.display());
    let resp = http(format!(
        "POST /filesystem.Filesystem/Stat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ))
    .await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let json: serde_json::Value =
        serde_json::from_str(resp.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let e = &json["entry"];
    assert_eq!(e["name"], "x.txt");
    assert_eq!(e["type"], "FILE_TYPE_FILE");
    assert_eq!(e["size"], "3");
    assert_eq!(e["mode"], 420);
    assert!(e["modifiedTime"].as_str().unwrap().ends_with('Z'));

    let body = r#"{"path":"/definitely/not/here"}"#;
    let resp = http(format!(
        "POST /filesystem.Filesystem/Stat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ))
    .await;
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");
    let json: serde_json::Value =
        serde_json::from_str(resp.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(json["code"], "not_found");

    let resp = http("GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into()).await;
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");
    assert!(resp.contains(r#""code":404"#), "{resp}");
    let resp = http("DELETE /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into()).await;
    assert!(resp.starts_with("HTTP/1.1 405"), "{resp}");
}

#[allow(dead_code)]
fn _assert_error_is_send(e: AgentError) -> impl Send {
    e
}
