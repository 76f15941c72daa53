//! The SSH gateway with the real OpenSSH client: public-key and password (API key) logins,
//! exec with exit codes and stdin, a terminal, scp both ways, sftp, wake on connect, port
//! forwarding's error today, and refusals.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use warren_api_types::{CreateKeyRequest, CreateSandboxRequest, KeyScope};

/// The gateway of one daemon and a client key registered with it.
struct Ssh {
    port: u16,
    key: PathBuf,
    dir: PathBuf,
}

impl Ssh {
    fn base(&self, program: &str, port_flag: &str, key: &Path) -> Command {
        self.base_logging(program, port_flag, key, "ERROR")
    }

    /// `base` with another `LogLevel` (ssh keeps the first value it is given for an option).
    fn base_logging(&self, program: &str, port_flag: &str, key: &Path, level: &str) -> Command {
        self.base_timeout(&["120"], program, port_flag, key, level)
    }

    /// `base` run by `timeout` with `timeout_args`.
    fn base_timeout(
        &self,
        timeout_args: &[&str],
        program: &str,
        port_flag: &str,
        key: &Path,
        level: &str,
    ) -> Command {
        let mut c = Command::new("timeout");
        c.args(timeout_args).arg(program);
        c.args([port_flag, &self.port.to_string()]);
        c.arg("-i").arg(key);
        c.args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            &format!("LogLevel={level}"),
            "-o",
            "ConnectTimeout=10",
            "-o",
            "IdentitiesOnly=yes",
        ]);
        c
    }

    /// `ssh ... id@127.0.0.1 cmd` with `stdin`.
    fn run(&self, id: &str, flags: &[&str], cmd: &[&str], stdin: &[u8]) -> Output {
        self.run_key(&self.key, id, flags, cmd, stdin)
    }

    fn run_key(&self, key: &Path, id: &str, flags: &[&str], cmd: &[&str], stdin: &[u8]) -> Output {
        let mut c = self.base("ssh", "-p", key);
        c.args(flags).arg(format!("{id}@127.0.0.1")).args(cmd);
        run_with_stdin(c, stdin)
    }

    fn scp(&self, from: &str, to: &str) -> Output {
        let mut c = self.base("scp", "-P", &self.key);
        c.args([from, to]);
        run_with_stdin(c, b"")
    }
}

fn run_with_stdin(mut c: Command, stdin: &[u8]) -> Output {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the OpenSSH client");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn keygen(dir: &Path, name: &str) -> PathBuf {
    let key = dir.join(name);
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "e2e@test", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    key
}

fn random_file(path: &Path, mib: usize) {
    let mut f = std::fs::File::create(path).unwrap();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for chunk in buf.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        f.write_all(&buf).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_gateway_end_to_end() {
    let Some(env) = common::env() else { return };
    for tool in ["ssh", "scp", "sftp", "ssh-keygen", "timeout"] {
        assert!(
            common::which(tool).is_some(),
            "{tool} is not installed (openssh-client)"
        );
    }
    let registry = common::Registry::start();
    let busybox = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let port = common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let daemon = common::Daemon::start_with_env(
        &env,
        &["--ssh-listen", &listen],
        &[("WARREN_NO_SSH", "false")],
    );
    assert!(daemon.state.join("ssh_host_ed25519_key").exists());
    let client = daemon.client();
    let sb = client
        .create_sandbox(&CreateSandboxRequest::new(&busybox))
        .await
        .expect("create sandbox");
    let id = sb.id.as_str();

    let tmp = tempfile::tempdir().unwrap();
    let key = keygen(tmp.path(), "id_ed25519");
    let pubkey = key.with_extension("pub");
    let out = daemon.cli(&["ssh-key", "add", "--name", "e2e", pubkey.to_str().unwrap()]);
    assert!(out.status.success(), "ssh-key add: {}", text(&out.stderr));
    let key_id = text(&out.stdout).trim().to_owned();
    assert!(key_id.starts_with("sshkey-"), "{key_id}");
    let listed = daemon.cli(&["ssh-key", "ls", "--json"]);
    assert!(text(&listed.stdout).contains(&key_id));
    // Garbage is refused with a clear message.
    let bad = tmp.path().join("bad.pub");
    std::fs::write(&bad, "ssh-ed25519 not-base64!").unwrap();
    let out = daemon.cli(&["ssh-key", "add", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("public_key"),
        "{}",
        text(&out.stderr)
    );

    let ssh = Ssh {
        port,
        key: key.clone(),
        dir: tmp.path().to_owned(),
    };

    // exec: output, stderr and the exit code.
    let out = ssh.run(id, &[], &["echo hi; echo oops >&2; exit 3"], b"");
    assert_eq!(out.status.code(), Some(3), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hi\n");
    assert!(text(&out.stderr).contains("oops"));

    // stdin to exec, EOF included.
    let input = vec![b'x'; 300_000];
    let out = ssh.run(id, &[], &["wc -c"], &input);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "300000");

    // A terminal: the shell reads what is typed.
    let out = ssh.run(id, &["-tt"], &[], b"echo pty-$((40+2))\nexit 5\n");
    assert!(
        text(&out.stdout).contains("pty-42"),
        "stdout: {}",
        text(&out.stdout)
    );
    assert_eq!(out.status.code(), Some(5));
    // A command on a terminal.
    let out = ssh.run(id, &["-tt"], &["tty; echo done"], b"");
    assert!(
        text(&out.stdout).contains("/dev/pts/"),
        "{}",
        text(&out.stdout)
    );

    scp_round_trip(&ssh, id, 64);
    scp_interrupted(&ssh, id, 64);
    scp_paths(&ssh, id);
    sftp_listing(&ssh, id);
    rsync_both_ways(&ssh, id);

    // Port forwarding (ssh -W, the mechanism of -L) reaches the sandbox's own port through its
    // address; a closed port is refused with the reason (ssh prints it at LogLevel=INFO).
    let out = ssh.run(
        id,
        &[],
        &["mkdir -p /tmp/www && echo forwarded > /tmp/www/hello && httpd -p 8080 -h /tmp/www"],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut c = ssh.base_logging("ssh", "-p", &ssh.key, "ERROR");
    c.args(["-W", "localhost:8080"])
        .arg(format!("{id}@127.0.0.1"));
    let out = run_with_stdin(c, b"GET /hello HTTP/1.0\r\n\r\n");
    assert!(
        text(&out.stdout).contains("forwarded"),
        "stdout: {} stderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // ssh -L, literally: a local port forwarded to the sandbox's port 8080.
    let local = common::free_port();
    let mut c = ssh.base_logging("ssh", "-p", &ssh.key, "ERROR");
    c.args(["-N", "-o", "ExitOnForwardFailure=yes", "-L"])
        .arg(format!("127.0.0.1:{local}:localhost:8080"))
        .arg(format!("{id}@127.0.0.1"))
        .stdin(Stdio::null());
    let mut forwarder = c.spawn().expect("ssh -L");
    let fetched = (|| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", local)) {
                use std::io::Read as _;
                s.write_all(b"GET /hello HTTP/1.0\r\n\r\n").ok()?;
                let mut got = String::new();
                s.read_to_string(&mut got).ok()?;
                return Some(got);
            }
            if Instant::now() > deadline || forwarder.try_wait().ok().flatten().is_some() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })();
    // TERM, which `timeout` passes on to ssh (a KILL would orphan ssh).
    let _ = Command::new("kill")
        .arg(forwarder.id().to_string())
        .status();
    let _ = forwarder.wait();
    let fetched = fetched.expect("ssh -L never forwarded the local port");
    assert!(fetched.contains("forwarded"), "{fetched}");

    let mut c = ssh.base_logging("ssh", "-p", &ssh.key, "INFO");
    c.args(["-W", "localhost:8081"])
        .arg(format!("{id}@127.0.0.1"));
    let out = run_with_stdin(c, b"");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("nothing answers on port 8081"),
        "stderr: {}",
        text(&out.stderr)
    );

    // Wake on traffic: a paused sandbox resumes for an SSH session.
    client.pause_sandbox(id).await.expect("pause");
    let out = ssh.run(id, &[], &["echo awake"], b"");
    assert_eq!(
        text(&out.stdout),
        "awake\n",
        "stderr: {}",
        text(&out.stderr)
    );
    assert_eq!(
        client.get_sandbox(id).await.unwrap().state.as_str(),
        "running"
    );

    password_logins(&ssh, &daemon, id).await;

    // Refusals: an unregistered key, an unknown sandbox, a deleted key.
    let other = keygen(tmp.path(), "other");
    let out = ssh.run_key(&other, id, &[], &["true"], b"");
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("Permission denied"),
        "{}",
        text(&out.stderr)
    );
    let out = ssh.run("sb-doesnotexist", &[], &["true"], b"");
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("Permission denied"),
        "{}",
        text(&out.stderr)
    );
    let out = daemon.cli(&["ssh-key", "rm", &key_id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = ssh.run(id, &[], &["true"], b"");
    assert_eq!(out.status.code(), Some(255), "a deleted key still logs in");

    // A stopped sandbox is a clear error after login, not a hang.
    let out = daemon.cli(&["ssh-key", "add", pubkey.to_str().unwrap()]);
    assert!(out.status.success());
    client.stop_sandbox(id).await.expect("stop");
    let out = ssh.run(id, &[], &["true"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("stopped"),
        "{}",
        text(&out.stderr)
    );
}

/// scp (SFTP underneath) up and down, byte-identical; prints the throughput.
fn scp_round_trip(ssh: &Ssh, id: &str, mib: usize) {
    let local = ssh.dir.join("up.bin");
    random_file(&local, mib);
    let remote = format!("{id}@127.0.0.1:/tmp/up.bin");
    let t = Instant::now();
    let out = ssh.scp(local.to_str().unwrap(), &remote);
    let up = t.elapsed();
    assert!(
        out.status.success(),
        "scp up: {:?} {} {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = ssh.run(id, &[], &["wc -c < /tmp/up.bin"], b"");
    assert_eq!(text(&out.stdout).trim(), (mib << 20).to_string());
    let back = ssh.dir.join("down.bin");
    let t = Instant::now();
    let out = ssh.scp(&remote, back.to_str().unwrap());
    let down = t.elapsed();
    assert!(out.status.success(), "scp down: {}", text(&out.stderr));
    assert!(
        std::fs::read(&local).unwrap() == std::fs::read(&back).unwrap(),
        "the file changed on the way"
    );
    let rate = |d: Duration| mib as f64 / d.as_secs_f64();
    eprintln!(
        "scp {mib} MiB: up {:.1} MiB/s, down {:.1} MiB/s",
        rate(up),
        rate(down)
    );
}

/// rsync over the gateway, both ways, then a delta update. The image has no rsync, so the
/// host's rsync goes in first with its libraries and loader (busybox has no libc), and
/// `--rsync-path` starts it through that loader.
fn rsync_both_ways(ssh: &Ssh, id: &str) {
    let rsync = common::which("rsync").expect("rsync is not installed (the rsync package)");
    let bundle = ssh.dir.join("rsync-bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::copy(&rsync, bundle.join("rsync")).unwrap();
    let ldd = Command::new("ldd").arg(&rsync).output().unwrap();
    for line in text(&ldd.stdout).lines() {
        // "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
        let path = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(Path::new);
        if let Some(path) = path {
            let name = path.file_name().unwrap();
            std::fs::copy(path, bundle.join(name)).unwrap();
        }
    }
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&bundle)
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    assert!(tar.status.success());
    let out = ssh.run(
        id,
        &[],
        &["mkdir -p /tmp/rl && tar -x -C /tmp/rl"],
        &tar.stdout,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let remote_rsync = "/tmp/rl/ld-linux-x86-64.so.2 --library-path /tmp/rl /tmp/rl/rsync";

    let src = ssh.dir.join("tree");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    random_file(&src.join("big.bin"), 3);
    std::fs::write(src.join("sub/a.txt"), "alpha\n").unwrap();
    std::fs::write(src.join("sub/deeper/b.txt"), "beta\n").unwrap();
    let shell = format!(
        "ssh -p {} -i {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
         -o BatchMode=yes -o LogLevel=ERROR -o IdentitiesOnly=yes",
        ssh.port,
        ssh.key.display()
    );
    let rsync_cmd = |from: &str, to: &str| {
        let out = Command::new("timeout")
            .args([
                "120",
                "rsync",
                "-a",
                "--stats",
                "-e",
                &shell,
                "--rsync-path",
                remote_rsync,
            ])
            .args([from, to])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rsync {from} {to}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    };
    let remote = format!("{id}@127.0.0.1:/tmp/synced/");
    rsync_cmd(&format!("{}/", src.display()), &remote);
    let back = ssh.dir.join("tree-back");
    rsync_cmd(&remote, &format!("{}/", back.display()));
    let diff = Command::new("diff")
        .arg("-r")
        .arg(&src)
        .arg(&back)
        .output()
        .unwrap();
    assert!(
        diff.status.success(),
        "the trees differ: {}",
        text(&diff.stdout)
    );

    // A second run sends only what changed.
    std::fs::write(src.join("sub/a.txt"), "alpha, changed\n").unwrap();
    let stats = rsync_cmd(&format!("{}/", src.display()), &remote);
    assert!(
        stats.contains("Number of regular files transferred: 1"),
        "{stats}"
    );
    let out = ssh.run(id, &[], &["cat /tmp/synced/sub/a.txt"], b"");
    assert_eq!(text(&out.stdout), "alpha, changed\n");
}

/// An scp upload killed halfway leaves the file it was replacing as it was, and no partial
/// copy next to it.
fn scp_interrupted(ssh: &Ssh, id: &str, mib: usize) {
    let local = ssh.dir.join("other.bin");
    std::fs::write(&local, vec![b'z'; mib << 20]).unwrap();
    // 8 Mbit/s: 2 s of it is a fraction of the file.
    let mut c = ssh.base_timeout(&["-s", "KILL", "2"], "scp", "-P", &ssh.key, "ERROR");
    c.args(["-l", "8000", local.to_str().unwrap()])
        .arg(format!("{id}@127.0.0.1:/tmp/up.bin"));
    let out = run_with_stdin(c, b"");
    assert!(!out.status.success(), "the throttled scp finished in 2 s");
    // The size of /tmp/up.bin, whether it is all 'z' (1: no, it is still the old file), and
    // how many partial uploads lie around.
    let check = "wc -c < /tmp/up.bin; tr -d z < /tmp/up.bin | wc -c | grep -q '^ *0$'; echo $?; \
                 ls -a /tmp | grep -c warren-upload";
    let want = format!("{}\n1\n0\n", mib << 20);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = text(&ssh.run(id, &[], &[check], b"").stdout);
        if got == want {
            break;
        }
        assert!(Instant::now() < deadline, "after a killed scp: {got:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// scp into a directory, and the errors of a missing source and a missing target directory.
fn scp_paths(ssh: &Ssh, id: &str) {
    let small = ssh.dir.join("note.txt");
    std::fs::write(&small, "note\n").unwrap();
    let out = ssh.scp(small.to_str().unwrap(), &format!("{id}@127.0.0.1:/tmp/"));
    assert!(
        out.status.success(),
        "scp into /tmp/: {}",
        text(&out.stderr)
    );
    let out = ssh.run(id, &[], &["cat /tmp/note.txt"], b"");
    assert_eq!(text(&out.stdout), "note\n");

    let out = ssh.scp(
        &format!("{id}@127.0.0.1:/tmp/missing.txt"),
        ssh.dir.join("missing.txt").to_str().unwrap(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("No such file"),
        "{}",
        text(&out.stderr)
    );

    let out = ssh.scp(
        small.to_str().unwrap(),
        &format!("{id}@127.0.0.1:/tmp/no/such/dir/note.txt"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = ssh.run(id, &[], &["test -e /tmp/no"], b"");
    assert_eq!(
        out.status.code(),
        Some(1),
        "scp created missing directories"
    );
}

/// sftp in batch mode: mkdir, put, ls, rename, rm.
fn sftp_listing(ssh: &Ssh, id: &str) {
    let batch = ssh.dir.join("batch");
    let small = ssh.dir.join("small.txt");
    std::fs::write(&small, "small\n").unwrap();
    std::fs::write(
        &batch,
        format!(
            "mkdir /tmp/sftpdir\nput {} /tmp/sftpdir/a.txt\nrename /tmp/sftpdir/a.txt /tmp/sftpdir/b.txt\nls -l /tmp/sftpdir\n",
            small.display()
        ),
    )
    .unwrap();
    let mut c = ssh.base("sftp", "-P", &ssh.key);
    c.arg("-b").arg(&batch).arg(format!("{id}@127.0.0.1"));
    let out = run_with_stdin(c, b"");
    assert!(out.status.success(), "sftp: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("b.txt"), "{}", text(&out.stdout));
    let out = ssh.run(id, &[], &["cat /tmp/sftpdir/b.txt"], b"");
    assert_eq!(text(&out.stdout), "small\n");
}

/// The password is an API key; a read-only key is refused.
async fn password_logins(ssh: &Ssh, daemon: &common::Daemon, id: &str) {
    let read = daemon
        .client()
        .create_key(&CreateKeyRequest {
            name: "reader".into(),
            scope: KeyScope::Read,
            expires_in_s: None,
        })
        .await
        .unwrap();
    for (secret, ok) in [(common::TEST_KEY, true), (read.key.as_str(), false)] {
        let askpass = ssh.dir.join("askpass.sh");
        std::fs::write(&askpass, format!("#!/bin/sh\necho '{secret}'\n")).unwrap();
        std::fs::set_permissions(
            &askpass,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let mut c = Command::new("timeout");
        c.args(["60", "ssh", "-p", &ssh.port.to_string()])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args(["-o", "LogLevel=ERROR", "-o", "PubkeyAuthentication=no"])
            .args([
                "-o",
                "PreferredAuthentications=password",
                "-o",
                "NumberOfPasswordPrompts=1",
            ])
            .arg(format!("{id}@127.0.0.1"))
            .arg("echo by-password")
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0");
        let out = run_with_stdin(c, b"");
        if ok {
            assert_eq!(text(&out.stdout), "by-password\n", "{}", text(&out.stderr));
        } else {
            assert_eq!(out.status.code(), Some(255), "a read-only key logged in");
        }
    }
}
