//! The resolver on real sockets (127.0.0.1 only), in front of a fake upstream built with the
//! crate's own codec, with a test policy that records what it was asked and learned.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use warren_net::dns::wire::{
    CLASS_IN, Header, Message, Name, Question, RData, Record, rcode, rtype,
};
use warren_net::dns::{DnsConfig, DnsPolicy, DnsServer, Verdict, domain_matches};

const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;
const CLIENT_WAIT: Duration = Duration::from_secs(5);

// ---------- the test policy ----------

/// One `learn` call: the client, the addresses, and when learning completed.
type Learned = (IpAddr, Vec<(IpAddr, u32)>, Instant);

#[derive(Default)]
struct TestPolicy {
    learned: Mutex<Vec<Learned>>,
    decided: Mutex<Vec<String>>,
}

impl DnsPolicy for TestPolicy {
    fn decide(&self, _client: IpAddr, name: &str) -> Verdict {
        self.decided.lock().unwrap().push(name.to_string());
        if domain_matches("blocked.test", name) {
            Verdict::Refuse
        } else {
            Verdict::Forward {
                learn: !domain_matches("nolearn.test", name),
            }
        }
    }

    fn learn(
        &self,
        client: IpAddr,
        addrs: Vec<(IpAddr, u32)>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            self.learned
                .lock()
                .unwrap()
                .push((client, addrs, Instant::now()));
        })
    }
}

// ---------- the fake upstream ----------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Answers every query.
    Normal,
    /// Over UDP, answers with TC set and no records; over TCP, in full.
    TruncateUdp,
    /// Over UDP, first a forged answer with another id, then the real one.
    SpoofFirst,
    /// Over UDP, only a forged answer with another id.
    SpoofOnly,
    /// Never answers.
    Silent,
}

struct Upstream {
    addr: SocketAddr,
    udp_queries: AtomicUsize,
    tcp_queries: AtomicUsize,
    ids: Mutex<Vec<u16>>,
}

async fn fake_upstream(mode: Mode) -> Arc<Upstream> {
    let udp = Arc::new(UdpSocket::bind((LOCALHOST, 0)).await.unwrap());
    let addr = udp.local_addr().unwrap();
    let tcp = TcpListener::bind(addr).await.unwrap();
    let up = Arc::new(Upstream {
        addr,
        udp_queries: AtomicUsize::new(0),
        tcp_queries: AtomicUsize::new(0),
        ids: Mutex::new(Vec::new()),
    });
    let state = up.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65535];
        loop {
            let (n, peer) = udp.recv_from(&mut buf).await.unwrap();
            state.udp_queries.fetch_add(1, Ordering::SeqCst);
            let query = Message::decode(&buf[..n]).unwrap();
            state.ids.lock().unwrap().push(query.header.id);
            let mut reply = answer(&query);
            match mode {
                Mode::Silent => continue,
                Mode::Normal => {}
                Mode::TruncateUdp => {
                    reply.header.tc = true;
                    reply.answers.clear();
                }
                Mode::SpoofFirst | Mode::SpoofOnly => {
                    let mut forged = reply.clone();
                    forged.header.id = query.header.id.wrapping_add(1);
                    for r in &mut forged.answers {
                        if let RData::A(a) = &mut r.data {
                            *a = Ipv4Addr::new(6, 6, 6, 6);
                        }
                    }
                    udp.send_to(&forged.encode().unwrap(), peer).await.unwrap();
                    if mode == Mode::SpoofOnly {
                        continue;
                    }
                }
            }
            udp.send_to(&reply.encode().unwrap(), peer).await.unwrap();
        }
    });
    let state = up.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = tcp.accept().await.unwrap();
            let state = state.clone();
            tokio::spawn(async move {
                while let Ok(len) = stream.read_u16().await {
                    let mut query = vec![0u8; usize::from(len)];
                    stream.read_exact(&mut query).await.unwrap();
                    state.tcp_queries.fetch_add(1, Ordering::SeqCst);
                    let query = Message::decode(&query).unwrap();
                    let reply = answer(&query).encode().unwrap();
                    stream.write_u16(reply.len() as u16).await.unwrap();
                    stream.write_all(&reply).await.unwrap();
                }
            });
        }
    });
    up
}

fn record(name: &Name, rtype: u16, ttl: u32, data: RData) -> Record {
    Record {
        name: name.clone(),
        rtype,
        class: CLASS_IN,
        ttl,
        data,
    }
}

/// `www.example.com`: a CNAME to `edge.example.net`, which has an A (TTL 5) and an AAAA (TTL
/// 600); `big.test`: 40 A records; anything else: one A record, 192.0.2.1.
fn answer(query: &Message) -> Message {
    let q = &query.questions[0];
    let answers = match q.name.to_policy_string().as_str() {
        "www.example.com" => {
            let edge = Name::from_dotted("edge.example.net").unwrap();
            vec![
                record(&q.name, rtype::CNAME, 300, RData::Name(edge.clone())),
                record(&edge, rtype::A, 5, RData::A(Ipv4Addr::new(192, 0, 2, 7))),
                record(
                    &edge,
                    rtype::AAAA,
                    600,
                    RData::Aaaa("2001:db8::7".parse().unwrap()),
                ),
            ]
        }
        "big.test" => (0..40)
            .map(|i| {
                record(
                    &q.name,
                    rtype::A,
                    60,
                    RData::A(Ipv4Addr::new(198, 51, 100, i)),
                )
            })
            .collect(),
        _ => vec![record(
            &q.name,
            rtype::A,
            60,
            RData::A(Ipv4Addr::new(192, 0, 2, 1)),
        )],
    };
    Message {
        header: Header {
            id: query.header.id,
            qr: true,
            rd: true,
            ra: true,
            ..Header::default()
        },
        questions: query.questions.clone(),
        answers,
        ..Message::default()
    }
}

// ---------- the client side ----------

fn query(id: u16, name: &str) -> Vec<u8> {
    Message {
        header: Header {
            id,
            rd: true,
            ..Header::default()
        },
        questions: vec![Question {
            name: Name::from_dotted(name).unwrap(),
            qtype: rtype::A,
            qclass: CLASS_IN,
        }],
        ..Message::default()
    }
    .encode()
    .unwrap()
}

async fn udp_exchange(server: SocketAddr, bytes: &[u8]) -> (Message, Instant) {
    let socket = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    socket.send_to(bytes, server).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(CLIENT_WAIT, socket.recv_from(&mut buf))
        .await
        .expect("no reply")
        .unwrap();
    let received = Instant::now();
    (Message::decode(&buf[..n]).unwrap(), received)
}

async fn udp_query(server: SocketAddr, id: u16, name: &str) -> Message {
    udp_exchange(server, &query(id, name)).await.0
}

async fn tcp_query(stream: &mut TcpStream, id: u16, name: &str) -> Message {
    let q = query(id, name);
    stream.write_u16(q.len() as u16).await.unwrap();
    stream.write_all(&q).await.unwrap();
    let len = tokio::time::timeout(CLIENT_WAIT, stream.read_u16())
        .await
        .expect("no reply")
        .unwrap();
    let mut reply = vec![0u8; usize::from(len)];
    stream.read_exact(&mut reply).await.unwrap();
    Message::decode(&reply).unwrap()
}

async fn start(upstreams: Vec<SocketAddr>, config: DnsConfig) -> (DnsServer, Arc<TestPolicy>) {
    let policy = Arc::new(TestPolicy::default());
    let server =
        DnsServer::bind_with_config((LOCALHOST, 0).into(), upstreams, policy.clone(), config)
            .await
            .unwrap();
    (server, policy)
}

fn addresses(reply: &Message) -> Vec<IpAddr> {
    reply
        .answers
        .iter()
        .filter_map(|r| match r.data {
            RData::A(a) => Some(a.into()),
            RData::Aaaa(a) => Some(a.into()),
            _ => None,
        })
        .collect()
}

// ---------- the tests ----------

#[tokio::test]
async fn forwarded_answer_reaches_the_client_after_learn() {
    let up = fake_upstream(Mode::Normal).await;
    let (server, policy) = start(vec![up.addr], DnsConfig::default()).await;

    let (reply, received) =
        udp_exchange(server.local_addr(), &query(0x1234, "WWW.Example.com")).await;
    assert_eq!(reply.header.id, 0x1234);
    assert!(reply.header.qr);
    assert_eq!(reply.header.rcode, rcode::NOERROR);
    assert_eq!(
        reply.questions[0].name.to_policy_string(),
        "www.example.com"
    );
    assert_eq!(reply.answers.len(), 3);

    let learned = policy.learned.lock().unwrap().clone();
    assert_eq!(learned.len(), 1);
    let (client, addrs, learned_at) = &learned[0];
    assert_eq!(*client, IpAddr::from(LOCALHOST));
    // The CNAME's target's addresses, the 5 s TTL raised to 30.
    assert_eq!(
        addrs,
        &[
            ("192.0.2.7".parse().unwrap(), 30),
            ("2001:db8::7".parse().unwrap(), 600)
        ]
    );
    assert!(
        *learned_at <= received,
        "the answer arrived before learn completed"
    );
    assert_eq!(
        policy.decided.lock().unwrap().as_slice(),
        ["www.example.com"]
    );

    // The upstream never sees the client's id.
    udp_query(server.local_addr(), 0x1234, "a.test").await;
    udp_query(server.local_addr(), 0x1234, "b.test").await;
    let ids = up.ids.lock().unwrap().clone();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().any(|&id| id != 0x1234), "upstream ids: {ids:?}");
}

#[tokio::test]
async fn learn_is_skipped_when_the_policy_says_so() {
    let up = fake_upstream(Mode::Normal).await;
    let (server, policy) = start(vec![up.addr], DnsConfig::default()).await;
    let reply = udp_query(server.local_addr(), 7, "x.nolearn.test").await;
    assert_eq!(addresses(&reply), [IpAddr::from([192, 0, 2, 1])]);
    assert!(policy.learned.lock().unwrap().is_empty());
}

#[tokio::test]
async fn refused_names_get_nxdomain_without_asking_upstream() {
    let up = fake_upstream(Mode::Normal).await;
    let (server, policy) = start(vec![up.addr], DnsConfig::default()).await;
    for name in ["blocked.test", "deep.Blocked.TEST"] {
        let reply = udp_query(server.local_addr(), 0xABCD, name).await;
        assert_eq!(reply.header.id, 0xABCD);
        assert!(reply.header.qr && reply.header.ra);
        assert_eq!(reply.header.rcode, rcode::NXDOMAIN);
        assert_eq!(reply.questions.len(), 1);
        assert!(
            reply.questions[0]
                .name
                .eq_ignore_case(&Name::from_dotted(name).unwrap())
        );
        assert!(reply.answers.is_empty());
    }
    assert_eq!(up.udp_queries.load(Ordering::SeqCst), 0);
    assert!(policy.learned.lock().unwrap().is_empty());
}

#[tokio::test]
async fn tcp_queries_work() {
    let up = fake_upstream(Mode::Normal).await;
    let (server, _policy) = start(vec![up.addr], DnsConfig::default()).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let reply = tcp_query(&mut stream, 42, "www.example.com").await;
    assert_eq!(reply.header.id, 42);
    assert_eq!(reply.answers.len(), 3);
    // Several queries on one connection.
    let reply = tcp_query(&mut stream, 43, "blocked.test").await;
    assert_eq!((reply.header.id, reply.header.rcode), (43, rcode::NXDOMAIN));
    let reply = tcp_query(&mut stream, 44, "big.test").await;
    assert_eq!(reply.answers.len(), 40);
}

#[tokio::test]
async fn truncated_upstream_answer_is_retried_over_tcp() {
    let up = fake_upstream(Mode::TruncateUdp).await;
    let (server, policy) = start(vec![up.addr], DnsConfig::default()).await;
    let reply = udp_query(server.local_addr(), 9, "www.example.com").await;
    assert!(!reply.header.tc);
    assert_eq!(reply.header.id, 9);
    assert_eq!(reply.answers.len(), 3);
    assert_eq!(up.tcp_queries.load(Ordering::SeqCst), 1);
    assert_eq!(policy.learned.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn answer_too_big_for_the_client_is_truncated() {
    let up = fake_upstream(Mode::Normal).await;
    let (server, _policy) = start(vec![up.addr], DnsConfig::default()).await;
    // 40 A records are more than 512 bytes: a UDP client without EDNS gets TC and asks over TCP.
    let reply = udp_query(server.local_addr(), 11, "big.test").await;
    assert!(reply.header.tc);
    assert_eq!(reply.header.id, 11);
    assert_eq!(reply.questions.len(), 1);
    assert!(reply.answers.is_empty());
}

#[tokio::test]
async fn spoofed_upstream_answers_are_ignored() {
    let up = fake_upstream(Mode::SpoofFirst).await;
    let (server, policy) = start(vec![up.addr], DnsConfig::default()).await;
    let reply = udp_query(server.local_addr(), 5, "victim.test").await;
    assert_eq!(reply.header.rcode, rcode::NOERROR);
    assert_eq!(addresses(&reply), [IpAddr::from([192, 0, 2, 1])]);
    let learned = policy.learned.lock().unwrap().clone();
    assert_eq!(learned.len(), 1);
    assert_eq!(learned[0].1, [(IpAddr::from([192, 0, 2, 1]), 60)]);

    let up = fake_upstream(Mode::SpoofOnly).await;
    let config = DnsConfig {
        upstream_timeout: Duration::from_millis(300),
        ..DnsConfig::default()
    };
    let (server, policy) = start(vec![up.addr], config).await;
    let reply = udp_query(server.local_addr(), 6, "victim.test").await;
    assert_eq!(reply.header.rcode, rcode::SERVFAIL);
    assert!(reply.answers.is_empty());
    assert!(policy.learned.lock().unwrap().is_empty());
}

#[tokio::test]
async fn upstreams_down_give_servfail() {
    // A port nobody listens on (refused at once) and an upstream that never answers.
    let closed = UdpSocket::bind((LOCALHOST, 0))
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let silent = fake_upstream(Mode::Silent).await;
    let config = DnsConfig {
        upstream_timeout: Duration::from_millis(300),
        ..DnsConfig::default()
    };
    let (server, policy) = start(vec![closed, silent.addr], config).await;
    let reply = udp_query(server.local_addr(), 77, "down.test").await;
    assert_eq!((reply.header.id, reply.header.rcode), (77, rcode::SERVFAIL));
    assert_eq!(reply.questions.len(), 1);
    assert_eq!(
        silent.udp_queries.load(Ordering::SeqCst),
        1,
        "the second upstream was not tried"
    );
    assert!(policy.learned.lock().unwrap().is_empty());

    // The next upstream answers when the first is down.
    let up = fake_upstream(Mode::Normal).await;
    let (server, _policy) = start(vec![closed, up.addr], DnsConfig::default()).await;
    let reply = udp_query(server.local_addr(), 78, "up.test").await;
    assert_eq!(reply.header.rcode, rcode::NOERROR);

    // No upstreams at all.
    let (server, _policy) = start(vec![], DnsConfig::default()).await;
    let reply = udp_query(server.local_addr(), 79, "none.test").await;
    assert_eq!(reply.header.rcode, rcode::SERVFAIL);
}

#[tokio::test]
async fn malformed_queries_get_formerr_or_nothing() {
    let up = fake_upstream(Mode::Normal).await;
    let (server, _policy) = start(vec![up.addr], DnsConfig::default()).await;
    // Two questions.
    let mut two = Message::decode(&query(21, "a.test")).unwrap();
    two.questions.push(two.questions[0].clone());
    let (reply, _) = udp_exchange(server.local_addr(), &two.encode().unwrap()).await;
    assert_eq!((reply.header.id, reply.header.rcode), (21, rcode::FORMERR));
    // An opcode other than QUERY (2: STATUS).
    let mut status = Message::decode(&query(22, "a.test")).unwrap();
    status.header.opcode = 2;
    let (reply, _) = udp_exchange(server.local_addr(), &status.encode().unwrap()).await;
    assert_eq!((reply.header.id, reply.header.rcode), (22, rcode::FORMERR));
    // A header with a question that is cut off.
    let cut = query(23, "a.test");
    let (reply, _) = udp_exchange(server.local_addr(), &cut[..cut.len() - 3]).await;
    assert_eq!((reply.header.id, reply.header.rcode), (23, rcode::FORMERR));
    assert_eq!(up.udp_queries.load(Ordering::SeqCst), 0);

    // Not even a header, or random bytes: the server carries on.
    let socket = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let mut x: u32 = 12345;
    for len in 0..200usize {
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        socket.send_to(&junk, server.local_addr()).await.unwrap();
    }
    let reply = udp_query(server.local_addr(), 24, "still.test").await;
    assert_eq!((reply.header.id, reply.header.rcode), (24, rcode::NOERROR));
}

#[tokio::test]
async fn too_many_queries_in_flight_get_servfail() {
    let silent = fake_upstream(Mode::Silent).await;
    let config = DnsConfig {
        upstream_timeout: Duration::from_secs(1),
        max_inflight: 1,
        ..DnsConfig::default()
    };
    let (server, _policy) = start(vec![silent.addr], config).await;
    let socket = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    socket
        .send_to(&query(1, "slow.test"), server.local_addr())
        .await
        .unwrap();
    // Once the first is with the upstream, the second finds no slot.
    while silent.udp_queries.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    socket
        .send_to(&query(2, "fast.test"), server.local_addr())
        .await
        .unwrap();
    let mut buf = vec![0u8; 512];
    let mut ids = Vec::new();
    for _ in 0..2 {
        let n = tokio::time::timeout(CLIENT_WAIT, socket.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let reply = Message::decode(&buf[..n]).unwrap();
        assert_eq!(reply.header.rcode, rcode::SERVFAIL);
        ids.push(reply.header.id);
    }
    assert_eq!(ids, [2, 1], "the second query was not answered at once");
    assert_eq!(silent.udp_queries.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn tcp_connections_are_limited_and_idle_ones_closed() {
    let up = fake_upstream(Mode::Normal).await;
    let config = DnsConfig {
        max_tcp_connections: 1,
        tcp_idle_timeout: Duration::from_millis(300),
        ..DnsConfig::default()
    };
    let (server, _policy) = start(vec![up.addr], config).await;
    let mut first = TcpStream::connect(server.local_addr()).await.unwrap();
    assert_eq!(
        tcp_query(&mut first, 1, "a.test").await.header.rcode,
        rcode::NOERROR
    );
    // A second connection is closed without an answer.
    let mut second = TcpStream::connect(server.local_addr()).await.unwrap();
    let q = query(2, "b.test");
    let _ = second.write_u16(q.len() as u16).await;
    let _ = second.write_all(&q).await;
    let mut buf = [0u8; 2];
    let read = tokio::time::timeout(CLIENT_WAIT, second.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // The first one, left idle, is closed too.
    let read = tokio::time::timeout(CLIENT_WAIT, first.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // Which frees its slot.
    let mut third = TcpStream::connect(server.local_addr()).await.unwrap();
    assert_eq!(
        tcp_query(&mut third, 3, "c.test").await.header.rcode,
        rcode::NOERROR
    );
}

#[tokio::test]
async fn dropping_the_server_stops_it() {
    let up = fake_upstream(Mode::Normal).await;
    let (server, _policy) = start(vec![up.addr], DnsConfig::default()).await;
    let addr = server.local_addr();
    assert_eq!(
        udp_query(addr, 1, "a.test").await.header.rcode,
        rcode::NOERROR
    );
    drop(server);
    let deadline = Instant::now() + CLIENT_WAIT;
    while TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting TCP connections");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn learn_that_takes_too_long_gives_servfail() {
    let up = fake_upstream(Mode::Normal).await;
    // The test policy's learn takes 100 ms.
    let config = DnsConfig {
        learn_timeout: Duration::from_millis(20),
        ..DnsConfig::default()
    };
    let (server, _policy) = start(vec![up.addr], config).await;
    let reply = udp_query(server.local_addr(), 31, "slow-learn.test").await;
    assert_eq!((reply.header.id, reply.header.rcode), (31, rcode::SERVFAIL));
    assert!(
        reply.answers.is_empty(),
        "addresses sent before the firewall learned them"
    );
}
