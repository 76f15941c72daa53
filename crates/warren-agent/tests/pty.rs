//! PTY processes through the real agent binary: the process sees a terminal of the requested
//! size, terminal input reaches it, and `Update` resizes the terminal.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use bytes::Bytes;
use warren_agent_proto::{
    AgentClient, ConnectCode, DataEvent, ProcessConfig, ProcessEvent, ProcessInput,
    ProcessSelector, ProcessStream, Pty, PtySize, SendInputRequest, StartRequest, UpdateRequest,
};

struct Agent {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn agent() -> (Agent, AgentClient) {
    let dir = tempfile::tempdir().unwrap();
    let sock: PathBuf = dir.path().join("run/agent.sock");
    let child = Command::new(env!("CARGO_BIN_EXE_warren-agent"))
        .arg("--listen")
        .arg(format!("unix:{}", sock.display()))
        .spawn()
        .unwrap();
    let a = Agent { child, _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(c) = AgentClient::connect_unix(&sock).await {
            c.health().await.unwrap();
            return (a, c);
        }
        assert!(Instant::now() < deadline, "agent did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn on_pty(script: &str, cols: u32, rows: u32) -> StartRequest {
    StartRequest {
        process: Some(ProcessConfig {
            cmd: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            ..Default::default()
        }),
        pty: Some(Pty {
            size: Some(PtySize { cols, rows }),
        }),
        ..Default::default()
    }
}

/// Terminal output until `needle` shows up (or the process ends); the pid and the text.
async fn read_until(s: &mut ProcessStream, needle: &str) -> String {
    let mut out = String::new();
    while let Some(ev) = s.next().await {
        match ev.unwrap() {
            ProcessEvent::Data(DataEvent::Pty(b)) => out.push_str(&String::from_utf8_lossy(&b)),
            ProcessEvent::Data(other) => panic!("PTY process sent {other:?}"),
            ProcessEvent::End(e) => {
                out.push_str(&format!("<end {}>", e.exit_code));
                return out;
            }
            _ => {}
        }
        if out.contains(needle) {
            return out;
        }
    }
    out
}

#[tokio::test]
async fn pty_size_input_and_resize() {
    let (_a, c) = agent().await;

    // A terminal of the requested size, a /dev/pts device, TERM set, exit status kept.
    let mut s = c
        .start(on_pty(
            "stty size; tty; echo \"term=$TERM\"; [ -t 0 ] && echo stdin-is-tty; exit 3",
            100,
            30,
        ))
        .await
        .unwrap();
    let out = read_until(&mut s, "<end").await;
    assert!(out.contains("30 100"), "{out:?}");
    assert!(out.contains("/dev/pts/"), "{out:?}");
    assert!(out.contains("term=xterm-256color"), "{out:?}");
    assert!(out.contains("stdin-is-tty"), "{out:?}");
    assert!(out.ends_with("<end 3>"), "{out:?}");

    // Input typed into the terminal reaches the process; Update resizes its terminal.
    let mut s = c
        .start(on_pty(
            "read line; echo \"got:$line\"; read again; stty size; echo done",
            80,
            24,
        ))
        .await
        .unwrap();
    let pid = match s.next().await.unwrap().unwrap() {
        ProcessEvent::Start(st) => st.pid,
        other => panic!("expected start, got {other:?}"),
    };
    let sel = ProcessSelector::Pid(pid);
    let input = |text: &'static str| SendInputRequest {
        process: sel.clone(),
        input: ProcessInput::Pty(Bytes::from_static(text.as_bytes())),
    };
    c.send_input(input("hello\r")).await.unwrap();
    let out = read_until(&mut s, "got:hello").await;
    assert!(out.contains("got:hello"), "{out:?}");
    c.update(UpdateRequest {
        process: sel.clone(),
        pty: Some(Pty {
            size: Some(PtySize {
                cols: 132,
                rows: 43,
            }),
        }),
    })
    .await
    .unwrap();
    c.send_input(input("\r")).await.unwrap();
    let out = read_until(&mut s, "<end").await;
    assert!(out.contains("43 132"), "{out:?}");
    assert!(out.contains("done"), "{out:?}");

    // A process without a terminal cannot be resized or typed into.
    let mut plain = on_pty("sleep 30", 80, 24);
    plain.pty = None;
    let mut s = c.start(plain).await.unwrap();
    let pid = match s.next().await.unwrap().unwrap() {
        ProcessEvent::Start(st) => st.pid,
        other => panic!("expected start, got {other:?}"),
    };
    let err = c
        .update(UpdateRequest {
            process: ProcessSelector::Pid(pid),
            pty: Some(Pty {
                size: Some(PtySize { cols: 1, rows: 1 }),
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), ConnectCode::FailedPrecondition, "{err}");
    c.send_signal(warren_agent_proto::SendSignalRequest {
        process: ProcessSelector::Pid(pid),
        signal: warren_agent_proto::Signal::Sigkill,
    })
    .await
    .unwrap();
}
