//! Networking end to end, against real namespaces, nftables and runc: egress modes (reached
//! and not reached: a server the test runs in a namespace of its own on the far side of the
//! host's NAT, never the internet), DNS allow-lists with a resolver the test controls, policy
//! changes without restart, and the preview proxy (tokens, public ports, upgrades, streaming,
//! wake on traffic, branches with their own state), and no leaks.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use warren_api_types::{CreateSandboxRequest, NetworkMode, NetworkPolicy, UpdateSandboxRequest};

/// The sandbox's web server: `/hello` names the host and a file's content, `/stream` sends
/// three chunks 300 ms apart, `Upgrade: websocket` is a WebSocket echo server (RFC 6455, its
/// frames parsed and written here, so the proxy is tested against real framing), and any other
/// `Upgrade:` switches to a raw echo protocol.
const SERVER: &str = r#"
import http.server, socket, time, os, hashlib, base64, struct
def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        more = conn.recv(n - len(data))
        if not more:
            raise EOFError
        data += more
    return data
def websocket_echo(conn):
    while True:
        b0, b1 = recv_exact(conn, 2)
        opcode, masked, n = b0 & 0x0F, b1 & 0x80, b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", recv_exact(conn, 2))[0]
        elif n == 127:
            n = struct.unpack("!Q", recv_exact(conn, 8))[0]
        if not masked:
            return  # clients must mask: close the connection (RFC 6455 5.1)
        mask = recv_exact(conn, 4)
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(recv_exact(conn, n)))
        if opcode == 9:
            opcode = 10  # ping -> pong
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([n])
        elif n < 65536:
            head += bytes([126]) + struct.pack("!H", n)
        else:
            head += bytes([127]) + struct.pack("!Q", n)
        conn.sendall(head + payload)
        if opcode == 8:
            return
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        if (self.headers.get("Upgrade") or "").lower() == "websocket":
            key = self.headers["Sec-WebSocket-Key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept",
                             base64.b64encode(hashlib.sha1(key.encode()).digest()).decode())
            self.end_headers()
            self.wfile.flush()
            try:
                websocket_echo(self.connection)
            except EOFError:
                pass
            self.close_connection = True
            return
        if self.headers.get("Upgrade"):
            self.send_response(101)
            self.send_header("Upgrade", self.headers["Upgrade"])
            self.send_header("Connection", "Upgrade")
            self.end_headers()
            self.wfile.flush()
            while True:
                data = self.connection.recv(4096)
                if not data:
                    return
                self.connection.sendall(data)
        if self.path.startswith("/stream"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(3):
                chunk = ("chunk%d\n" % i).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                time.sleep(0.3)
            self.wfile.write(b"0\r\n\r\n")
            return
        state = open("/tmp/state").read() if os.path.exists("/tmp/state") else "-"
        body = ("hello from %s state=%s cookie=%s auth=%s\n" % (socket.gethostname(), state,
                self.headers.get("Cookie"), self.headers.get("Authorization"))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), H).serve_forever()
"#;

/// A DNS server on 127.0.0.1 answering every A question with one address.
const DNS: &str = r#"
import socket, struct, sys
ip = bytes(int(x) for x in sys.argv[2].split("."))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    q, addr = s.recvfrom(512)
    i = 12
    while q[i] != 0:
        i += q[i] + 1
    question = q[12:i + 5]
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    flags = 0x8180
    answers = b""
    count = 0
    if qtype == 1:
        answers = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + ip
        count = 1
    s.sendto(q[:2] + struct.pack(">HHHHH", flags, 1, count, 0, 0) + question + answers, addr)
"#;

/// A network namespace of the test's own on the far side of the host's NAT, with an HTTP
/// server: stands for "the internet".
struct Upstream {
    ns: String,
    addr: String,
    server: Child,
}

impl Upstream {
    fn start(net: &common::TestNet) -> Upstream {
        // 10.250.<n>.0/30, n from the bridge's number (unique among the test's daemons).
        let n: u32 = net.bridge.trim_start_matches("wt").parse().unwrap();
        let (host, far) = (
            format!("10.250.{}.1", n % 256),
            format!("10.250.{}.2", n % 256),
        );
        let ns = format!("{}-up", net.bridge);
        let veth = format!("wu{n}");
        let script = format!(
            "netns add {ns}\n\
             link add {veth} type veth peer name eth0 netns {ns}\n\
             addr add {host}/30 dev {veth}\n\
             link set {veth} up\n"
        );
        run_ip(&[], &script);
        run_ip(
            &["-n", &ns],
            &format!("link set lo up\naddr add {far}/30 dev eth0\nlink set eth0 up\n"),
        );
        let server = Command::new("ip")
            .args(["netns", "exec", &ns, "python3", "-m", "http.server", "8000"])
            .args(["--bind", &far])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let up = Upstream {
            ns,
            addr: far,
            server,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((up.addr.as_str(), 8000)).is_err() {
            assert!(Instant::now() < deadline, "upstream server not up");
            std::thread::sleep(Duration::from_millis(50));
        }
        up
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.ns])
            .status();
    }
}

fn run_ip(args: &[&str], script: &str) {
    let mut child = Command::new("ip")
        .args(args)
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "ip -batch: {script}");
}

/// Can the sandbox fetch `url`? (Python's urllib, 3 s timeout.)
fn fetches(daemon: &common::Daemon, id: &str, url: &str) -> bool {
    let code = format!(
        "import urllib.request,sys\n\
         try:\n  urllib.request.urlopen({url:?}, timeout=3).read(); print('OK')\n\
         except Exception as e:\n  print('FAIL', e)"
    );
    let out = daemon.cli(&["sandbox", "exec", id, "--", "python3", "-c", &code]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.starts_with("OK") || text.starts_with("FAIL"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.starts_with("OK")
}

/// Can the sandbox resolve `name`?
fn resolves(daemon: &common::Daemon, id: &str, name: &str) -> bool {
    let code = format!(
        "import socket\n\
         try:\n  print('OK', socket.gethostbyname({name:?}))\n\
         except Exception as e:\n  print('FAIL', e)"
    );
    let out = daemon.cli(&["sandbox", "exec", id, "--", "python3", "-c", &code]);
    String::from_utf8_lossy(&out.stdout).starts_with("OK")
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_modes_dns_allow_lists_and_live_policy_changes() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let python = registry.push(&env.fixtures.join("python"), "latest", "python");
    let dns_port = free_udp_port();
    let upstream_dns = format!("127.0.0.1:{dns_port}");
    // The daemon's net is known before it starts only through its state; start it, then the
    // upstream on its bridge's number.
    let daemon = common::Daemon::start_with_args(&env, &["--dns-upstream", &upstream_dns]);
    let up = Upstream::start(&daemon.net);
    let mut dns = Command::new("python3")
        .args(["-c", DNS, &dns_port.to_string(), &up.addr])
        .spawn()
        .unwrap();
    let client = daemon.client();
    let url = format!("http://{}:8000/", up.addr);

    // outbound (the default): reachable through the NAT; names resolve.
    let sb = client
        .create_sandbox(&CreateSandboxRequest::new(&python))
        .await
        .unwrap();
    assert_eq!(sb.network.mode, NetworkMode::Outbound);
    let addr = sb.network.address.clone().expect("an address");
    assert!(addr.starts_with(&daemon.net.subnet[..daemon.net.subnet.len() - 4]));
    assert!(fetches(&daemon, &sb.id, &url), "outbound must reach {url}");
    assert!(resolves(&daemon, &sb.id, "anything.test"));

    // none, changed at runtime: unreachable, no DNS, no restart.
    let none = UpdateSandboxRequest {
        network: Some(NetworkPolicy {
            mode: NetworkMode::None,
            ..Default::default()
        }),
        ..Default::default()
    };
    client.update_sandbox(&sb.id, &none).await.unwrap();
    assert!(!fetches(&daemon, &sb.id, &url), "none must not reach {url}");
    assert!(!resolves(&daemon, &sb.id, "anything.test"));
    // The sandbox cannot reach the host either (only the resolver, in other modes).
    let gw = format!("http://{}:{}/", daemon.net.gateway, daemon.addr.port());
    assert!(!fetches(&daemon, &sb.id, &gw));

    // restricted by CIDR, then the deny list wins over it.
    let by_cidr = UpdateSandboxRequest {
        network: Some(NetworkPolicy {
            mode: NetworkMode::Restricted,
            allow: vec![format!("{}/32", up.addr)],
            deny: vec![],
        }),
        ..Default::default()
    };
    client.update_sandbox(&sb.id, &by_cidr).await.unwrap();
    assert!(fetches(&daemon, &sb.id, &url));
    assert!(!resolves(&daemon, &sb.id, "anything.test"));
    let denied = UpdateSandboxRequest {
        network: Some(NetworkPolicy {
            mode: NetworkMode::Outbound,
            allow: vec![],
            deny: vec![up.addr.clone()],
        }),
        ..Default::default()
    };
    client.update_sandbox(&sb.id, &denied).await.unwrap();
    assert!(!fetches(&daemon, &sb.id, &url));

    // restricted by domain: only allowed names resolve, and only resolved addresses open.
    let out = daemon.cli(&[
        "sandbox",
        "update",
        &sb.id,
        "--network",
        "restricted",
        "--allow",
        "allowed.test",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!fetches(&daemon, &sb.id, &url), "not resolved yet");
    assert!(!resolves(&daemon, &sb.id, "denied.test"));
    assert!(fetches(&daemon, &sb.id, "http://allowed.test:8000/"));

    // Bad policies are refused with the entry at fault, and change nothing.
    let bad = UpdateSandboxRequest {
        network: Some(NetworkPolicy {
            mode: NetworkMode::Restricted,
            allow: vec!["10.0.0.0/33".into()],
            deny: vec![],
        }),
        ..Default::default()
    };
    let err = client.update_sandbox(&sb.id, &bad).await.unwrap_err();
    assert!(err.to_string().contains("10.0.0.0/33"), "{err}");
    assert!(fetches(&daemon, &sb.id, &url), "the old policy stays");

    client.delete_sandbox(&sb.id).await.unwrap();
    let _ = dns.kill();
    let _ = dns.wait();
    drop(up);
}

/// One HTTP/1.1 request over a fresh connection to the daemon; returns (status, head, body).
/// Speak WebSocket to the sandbox's echo server at `url` through the daemon at `daemon`.
async fn websocket_echo_through_the_proxy(url: &str, daemon: SocketAddr, token: &str) {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("X-Warren-Token", token.parse().unwrap());
    let tcp = tokio::net::TcpStream::connect(daemon).await.unwrap();
    let (mut ws, response) = tokio_tungstenite::client_async(req, tcp)
        .await
        .expect("the WebSocket handshake through the proxy");
    assert_eq!(response.status(), 101);
    let big: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();
    let sent = [
        Message::text("hello through the proxy"),
        Message::binary(big.clone()),
        Message::Ping(b"are you there".to_vec().into()),
    ];
    for m in sent {
        ws.send(m).await.unwrap();
    }
    let mut answers = Vec::new();
    while answers.len() < 3 {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an answer within 10 s")
            .expect("the connection stays open")
            .unwrap();
        answers.push(m);
    }
    assert_eq!(answers[0], Message::text("hello through the proxy"));
    assert_eq!(answers[1], Message::binary(big));
    assert_eq!(answers[2], Message::Pong(b"are you there".to_vec().into()));
    ws.close(None).await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("the close answered within 10 s");
    assert!(matches!(end, Some(Ok(Message::Close(_))) | None), "{end:?}");
}

fn http(daemon: SocketAddr, host: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut s = TcpStream::connect(daemon).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_proxy_tokens_upgrades_streaming_wake_and_branches() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let python = registry.push(&env.fixtures.join("python"), "latest", "python");
    let daemon = common::Daemon::start(&env);
    let client = daemon.client();
    let mut req = CreateSandboxRequest::new(&python);
    req.cmd = Some(vec!["python3".into(), "-c".into(), SERVER.into()]);
    req.public_ports = Some(vec![9999]);
    let sb = client.create_sandbox(&req).await.unwrap();
    let token = sb.network.access_token.clone().expect("a token");
    let path = format!("/v1/sandboxes/{}/ports/8080", sb.id);
    let api = daemon.addr.to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ports = client.list_ports(&sb.id).await.unwrap();
        if ports.items.iter().any(|p| p.port == 8080) {
            let p = ports.items.iter().find(|p| p.port == 8080).unwrap();
            assert!(!p.public);
            assert!(
                p.url
                    .starts_with(&format!("http://8080-{}.localhost:", sb.id))
            );
            assert!(p.path_url.ends_with(&format!("{path}/")));
            break;
        }
        assert!(Instant::now() < deadline, "the server never listened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Without a token: 401. With the header, the API key, or the host form: served, and the
    // sandbox never sees warren's credentials.
    let (status, _) = http(daemon.addr, &api, &format!("{path}/hello"), &[]);
    assert_eq!(status, 401);
    let (status, _) = http(
        daemon.addr,
        &api,
        &format!("{path}/hello"),
        &[("X-Warren-Token", "wrong")],
    );
    assert_eq!(status, 401);
    let (status, body) = http(
        daemon.addr,
        &api,
        &format!("{path}/hello"),
        &[("X-Warren-Token", &token)],
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&format!("hello from {}", sb.id)), "{body}");
    assert!(body.contains("cookie=None auth=None"), "{body}");
    let bearer = format!("Bearer {}", common::TEST_KEY);
    let (status, body) = http(
        daemon.addr,
        &api,
        &format!("{path}/hello"),
        &[("Authorization", &bearer)],
    );
    assert_eq!(status, 200);
    assert!(body.contains("auth=None"), "the API key leaked: {body}");
    let host = format!("8080-{}.localhost:{}", sb.id, daemon.addr.port());
    let (status, _) = http(daemon.addr, &host, "/hello", &[("X-Warren-Token", &token)]);
    assert_eq!(status, 200);
    let (status, _) = http(daemon.addr, &host, "/hello", &[]);
    assert_eq!(status, 401);

    // ?warren_token= sets a cookie and redirects to the clean URL; the cookie then works.
    let (status, head) = http(
        daemon.addr,
        &host,
        &format!("/hello?a=1&warren_token={token}"),
        &[],
    );
    assert_eq!(status, 302, "{head}");
    assert!(head.contains("location: /hello?a=1"), "{head}");
    assert!(
        head.contains(&format!(
            "set-cookie: warren_token={token}; Path=/; HttpOnly"
        )),
        "{head}"
    );
    let cookie = format!("warren_token={token}; other=1");
    let (status, body) = http(daemon.addr, &host, "/hello?a=1", &[("Cookie", &cookie)]);
    assert_eq!(status, 200);
    assert!(body.contains("cookie=other=1"), "{body}");

    // A public port needs nothing (nothing listens there: the error says so).
    let (status, body) = http(daemon.addr, &format!("9999-{}.localhost", sb.id), "/", &[]);
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("port_unreachable"), "{body}");

    // Streaming: the first chunk arrives well before the last is sent.
    let mut s = TcpStream::connect(daemon.addr).unwrap();
    let started = Instant::now();
    write!(s, "GET /stream HTTP/1.1\r\nHost: {host}\r\nX-Warren-Token: {token}\r\nConnection: close\r\n\r\n").unwrap();
    let mut buf = [0u8; 4096];
    let mut got = String::new();
    while !got.contains("chunk0") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let first = started.elapsed();
    let mut rest = String::new();
    s.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("chunk2"), "{rest}");
    assert!(
        started.elapsed() - first >= Duration::from_millis(400),
        "the response was buffered: first chunk at {first:?}, end at {:?}",
        started.elapsed()
    );

    // Upgrades pass through both ways (an echo protocol; WebSockets are the same mechanism).
    let mut s = TcpStream::connect(daemon.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /ws HTTP/1.1\r\nHost: {host}\r\nX-Warren-Token: {token}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n").unwrap();
    let n = s.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    s.write_all(b"ping through the proxy").unwrap();
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping through the proxy");

    // A real WebSocket through the proxy (host form, token header): text, a 200 KiB binary
    // message (64-bit length, many TCP segments), ping/pong, and the closing handshake.
    websocket_echo_through_the_proxy(&format!("ws://{host}/ws"), daemon.addr, &token).await;

    // Wake on traffic: from pause and from hibernation, the request is held and served (after
    // a restore, the server's listening socket is back and the sandbox linked again).
    for verb in ["pause", "hibernate"] {
        let out = daemon.cli(&["sandbox", verb, &sb.id]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (status, body) = http(daemon.addr, &host, "/hello", &[("X-Warren-Token", &token)]);
        assert_eq!(status, 200, "after {verb}: {body}");
        let now = client.get_sandbox(&sb.id).await.unwrap();
        assert_eq!(now.state.as_str(), "running");
        assert_eq!(
            now.network.address, sb.network.address,
            "hibernation keeps the address"
        );
    }

    // Branches: each has its own address and token, and its port answers with its own state;
    // the source still serves after being captured.
    let branched = client.branch_sandbox(&sb.id, 2).await.unwrap();
    let mut addresses = vec![sb.network.address.clone().unwrap()];
    for (i, b) in branched.sandboxes.iter().enumerate() {
        let out = daemon.cli(&[
            "sandbox",
            "exec",
            &b.id,
            "--",
            "sh",
            "-c",
            &format!("echo -n branch{i} > /tmp/state"),
        ]);
        assert!(out.status.success());
        addresses.push(b.network.address.clone().unwrap());
    }
    addresses.sort();
    addresses.dedup();
    assert_eq!(
        addresses.len(),
        3,
        "branches share an address: {addresses:?}"
    );
    for (i, b) in branched.sandboxes.iter().enumerate() {
        let t = b.network.access_token.clone().unwrap();
        assert_ne!(t, token);
        let h = format!("8080-{}.localhost", b.id);
        let (status, body) = http(daemon.addr, &h, "/hello", &[("X-Warren-Token", &t)]);
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains(&format!("hello from {} state=branch{i}", b.id)),
            "{body}"
        );
    }
    let (status, body) = http(daemon.addr, &host, "/hello", &[("X-Warren-Token", &token)]);
    assert_eq!(status, 200, "the source after the branch: {body}");
    assert!(body.contains("state=-"), "{body}");
    for b in &branched.sandboxes {
        client.delete_sandbox(&b.id).await.unwrap();
    }
    client.delete_sandbox(&sb.id).await.unwrap();
}

/// This daemon's sandbox links (`wv<hex address>` in its subnet), and its per-sandbox firewall
/// chains (egress and bridge port).
fn leftovers(net: &common::TestNet) -> (usize, usize) {
    let prefix = net.subnet.rsplit_once('.').unwrap().0;
    let links = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let hex = name.strip_prefix("wv")?.to_owned();
            let ip = std::net::Ipv4Addr::from(u32::from_str_radix(&hex, 16).ok()?);
            ip.to_string()
                .starts_with(&format!("{prefix}."))
                .then_some(())
        })
        .count();
    let mut chains = 0;
    for family in ["inet", "bridge"] {
        let out = Command::new("nft")
            .args(["list", "table", family, &net.bridge])
            .output()
            .unwrap();
        chains += String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| {
                let l = l.trim_start();
                l.starts_with("chain sb_") || l.starts_with("chain port_")
            })
            .count();
    }
    (links, chains)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_namespace_veth_or_rule_leaks_after_50_cycles() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let busybox = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let daemon = common::Daemon::start(&env);
    let client = daemon.client();
    for _ in 0..50 {
        let sb = client
            .create_sandbox(&CreateSandboxRequest::new(&busybox))
            .await
            .unwrap();
        client.delete_sandbox(&sb.id).await.unwrap();
    }
    // The kernel removes a namespace's links asynchronously.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (namespaces, chains) = leftovers(&daemon.net);
    assert!(
        namespaces <= 2,
        "{namespaces} namespaces left (the pool holds 2)"
    );
    assert_eq!(chains, 0, "firewall chains left");
    let leases: Vec<String> = std::fs::read_dir(daemon.state.join("network/leases"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(leases.is_empty(), "leases left: {leases:?}");
}

/// Does `sh -c script` in the sandbox exit 0?
fn sh_ok(daemon: &common::Daemon, id: &str, script: &str) -> bool {
    daemon
        .cli(&["sandbox", "exec", id, "--", "sh", "-c", script])
        .status
        .success()
}

/// The MAC the host's neighbour table holds for `ip` on `bridge`, if any.
fn neighbour_mac(bridge: &str, ip: &str) -> Option<String> {
    let out = Command::new("ip")
        .args(["neigh", "show", ip, "dev", bridge])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut words = text.split_whitespace();
    words.position(|w| w == "lladdr")?;
    words.next().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_cannot_pass_for_another_address_or_mac() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let busybox = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let daemon = common::Daemon::start(&env);
    let up = Upstream::start(&daemon.net);
    let client = daemon.client();
    let sb = client
        .create_sandbox(&CreateSandboxRequest::new(&busybox))
        .await
        .unwrap();
    let other = client
        .create_sandbox(&CreateSandboxRequest::new(&busybox))
        .await
        .unwrap();
    let theirs = other.network.address.clone().unwrap();
    let gw = &daemon.net.gateway;
    let fetch = format!("timeout 3 wget -q -O /dev/null http://{}:8000/", up.addr);
    assert!(
        sh_ok(&daemon, &sb.id, &fetch),
        "the sandbox reaches the upstream"
    );
    // No CAP_NET_ADMIN: it cannot change its address or MAC.
    assert!(!sh_ok(
        &daemon,
        &sb.id,
        &format!("ip addr add {theirs}/24 dev eth0")
    ));
    assert!(!sh_ok(
        &daemon,
        &sb.id,
        "ip link set eth0 address 02:57:00:00:00:99"
    ));
    // With CAP_NET_RAW it can forge frames: ARP claiming the other sandbox's address, and with
    // another source MAC. The bridge drops them: the host never learns the forged mapping.
    assert!(sh_ok(
        &daemon,
        &other.id,
        &format!("timeout 3 arping -c 1 -w 2 {gw}; true")
    ));
    let real = neighbour_mac(&daemon.net.bridge, &theirs);
    assert!(sh_ok(
        &daemon,
        &sb.id,
        &format!("timeout 4 arping -U -c 3 -w 3 -s {theirs} -I eth0 {gw}; true")
    ));
    assert_eq!(
        neighbour_mac(&daemon.net.bridge, &theirs),
        real,
        "the host learned a forged MAC for {theirs}"
    );
    assert!(
        sh_ok(&daemon, &other.id, &fetch),
        "the real {theirs} still works"
    );
    // Nor can it reach its neighbour directly.
    assert!(sh_ok(
        &daemon,
        &other.id,
        "mkdir -p /tmp/w && echo hi > /tmp/w/x && httpd -p 8080 -h /tmp/w"
    ));
    let neighbour = format!("timeout 3 wget -q -O /dev/null http://{theirs}:8080/x");
    assert!(
        !sh_ok(&daemon, &sb.id, &neighbour),
        "sandboxes reach each other"
    );
    drop(up);
}

/// `curl` over TLS trusting `ca`, returning (status line and headers, body).
fn curl_tls(ca: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "20", "--cacert"])
        .arg(ca)
        .args(args)
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_the_api_and_the_proxy_on_one_port() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let python = registry.push(&env.fixtures.join("python"), "latest", "python");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args([
            "-addext",
            "subjectAltName=DNS:localhost,DNS:*.localhost,IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let daemon = common::Daemon::start_with_args(
        &env,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let base = format!("https://127.0.0.1:{}", daemon.addr.port());
    let head = curl_tls(&cert, &["--http1.1", &format!("{base}/healthz")]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let head = curl_tls(&cert, &["--http2", &format!("{base}/healthz")]);
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    // Plain HTTP on the TLS port is not served.
    assert_ne!(
        Command::new("curl")
            .args([
                "-s",
                "--max-time",
                "5",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}"
            ])
            .arg(format!("http://127.0.0.1:{}/healthz", daemon.addr.port()))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap(),
        "200"
    );
    // Create over HTTPS, then reach its port through the proxy, over HTTP/2 too.
    let auth = format!("Authorization: Bearer {}", common::TEST_KEY);
    let body = serde_json::json!({
        "image": python,
        "cmd": ["python3", "-m", "http.server", "8080", "--directory", "/etc"],
    })
    .to_string();
    let created = curl_tls(
        &cert,
        &[
            "-H",
            &auth,
            "-H",
            "content-type: application/json",
            "-d",
            &body,
            &format!("{base}/v1/sandboxes"),
        ],
    );
    assert!(created.starts_with("HTTP/2 201"), "{created}");
    let json = &created[created.find("\r\n\r\n").unwrap() + 4..];
    let sb: serde_json::Value = serde_json::from_str(json).unwrap();
    let (id, token) = (
        sb["id"].as_str().unwrap().to_owned(),
        sb["network"]["access_token"].as_str().unwrap().to_owned(),
    );
    let url = format!("{base}/v1/sandboxes/{id}/ports/8080/hostname");
    let token_header = format!("X-Warren-Token: {token}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = curl_tls(&cert, &["--http2", "-H", &token_header, &url]);
        if got.starts_with("HTTP/2 200") {
            assert!(
                got.contains("server: SimpleHTTP"),
                "not the sandbox's server: {got}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "never served: {got}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let deleted = curl_tls(
        &cert,
        &[
            "-X",
            "DELETE",
            "-H",
            &auth,
            &format!("{base}/v1/sandboxes/{id}"),
        ],
    );
    assert!(deleted.starts_with("HTTP/2 204"), "{deleted}");
}
