//! Asking the upstream resolvers.
//!
//! Upstreams are tried in order, each within a timeout. A query goes out over UDP from a fresh
//! socket (a kernel-chosen source port) with a fresh random id, the socket connected to the
//! upstream so the kernel drops datagrams from anyone else. Datagrams that are not the answer to
//! what was sent (other id, not a response, another question, undecodable) are ignored and the
//! wait goes on: a forger racing the real upstream must not be able to make the query fail.
//! A truncated answer (TC) is asked again over TCP. An upstream that fails (I/O error, timeout,
//! SERVFAIL or REFUSED) passes the query to the next one.

use std::error::Error as _;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

use super::txid::TxIds;
use super::wire::{Message, OPCODE_QUERY, Question, WireError, rcode};

/// Why one upstream did not give an answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    #[error("no upstream resolvers are configured")]
    NoUpstreams,
    #[error("upstream resolver {upstream} did not answer in time")]
    Timeout { upstream: SocketAddr },
    #[error("cannot query upstream resolver {upstream}")]
    Io {
        upstream: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("upstream resolver {upstream} sent an undecodable answer over TCP")]
    Malformed {
        upstream: SocketAddr,
        #[source]
        source: WireError,
    },
    #[error("upstream resolver {upstream} answered another query over TCP")]
    Mismatch { upstream: SocketAddr },
    #[error("upstream resolver {upstream} answered with rcode {rcode}")]
    Failed { upstream: SocketAddr, rcode: u8 },
}

/// A checked upstream answer: its bytes (with the upstream's id) and their decoding.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) bytes: Vec<u8>,
    pub(crate) message: Message,
}

/// The upstream resolvers and how to ask them.
#[derive(Debug)]
pub(crate) struct Upstreams {
    addrs: Vec<SocketAddr>,
    timeout: Duration,
    ids: TxIds,
    warn: WarnLimiter,
}

impl Upstreams {
    pub(crate) fn new(addrs: Vec<SocketAddr>, timeout: Duration) -> Upstreams {
        Upstreams {
            addrs,
            timeout,
            ids: TxIds::new(),
            warn: WarnLimiter::default(),
        }
    }

    /// Asks each upstream in turn for the answer to `query` (a client's query, whose id is
    /// replaced), whose one question is `question`.
    pub(crate) async fn resolve(
        &self,
        query: &[u8],
        question: &Question,
    ) -> Result<Answer, UpstreamError> {
        let mut last = UpstreamError::NoUpstreams;
        for &upstream in &self.addrs {
            match self.ask(upstream, query, question).await {
                Ok(answer) => return Ok(answer),
                Err(e) => {
                    self.warn.report(&e);
                    last = e;
                }
            }
        }
        Err(last)
    }

    async fn ask(
        &self,
        upstream: SocketAddr,
        query: &[u8],
        question: &Question,
    ) -> Result<Answer, UpstreamError> {
        let mut query = query.to_vec();
        let id = self.ids.next();
        query[..2].copy_from_slice(&id.to_be_bytes());
        let answer = timeout(self.timeout, ask_udp(upstream, &query, id, question))
            .await
            .map_err(|_| UpstreamError::Timeout { upstream })??;
        let answer = match answer {
            Some(answer) => answer,
            None => {
                let id = self.ids.next();
                query[..2].copy_from_slice(&id.to_be_bytes());
                timeout(self.timeout, ask_tcp(upstream, &query, id, question))
                    .await
                    .map_err(|_| UpstreamError::Timeout { upstream })??
            }
        };
        match answer.message.header.rcode {
            rcode @ (rcode::SERVFAIL | rcode::REFUSED) => {
                Err(UpstreamError::Failed { upstream, rcode })
            }
            _ => Ok(answer),
        }
    }
}

/// One UDP exchange; `None` when the answer is truncated.
async fn ask_udp(
    upstream: SocketAddr,
    query: &[u8],
    id: u16,
    question: &Question,
) -> Result<Option<Answer>, UpstreamError> {
    let io = |source| UpstreamError::Io { upstream, source };
    let local: SocketAddr = match upstream {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await.map_err(io)?;
    socket.connect(upstream).await.map_err(io)?;
    socket.send(query).await.map_err(io)?;
    // The client's EDNS size decides how big the answer may be: up to a whole datagram.
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    loop {
        let n = socket.recv(&mut buf).await.map_err(io)?;
        let bytes = &buf[..n];
        let why = match check_head(bytes, id, question) {
            Ok(true) => return Ok(None),
            Ok(false) => match Message::decode(bytes) {
                Ok(message) => {
                    return Ok(Some(Answer {
                        bytes: bytes.to_vec(),
                        message,
                    }));
                }
                Err(_) => "undecodable records",
            },
            Err(why) => why,
        };
        tracing::debug!(%upstream, why, "ignoring a datagram that does not answer the query");
    }
}

/// One TCP exchange (RFC 1035 §4.2.2: each message preceded by its 2-byte length).
async fn ask_tcp(
    upstream: SocketAddr,
    query: &[u8],
    id: u16,
    question: &Question,
) -> Result<Answer, UpstreamError> {
    let io = |source| UpstreamError::Io { upstream, source };
    let mut stream = TcpStream::connect(upstream).await.map_err(io)?;
    let len = u16::try_from(query.len()).map_err(|_| io(io::ErrorKind::InvalidInput.into()))?;
    let mut framed = Vec::with_capacity(2 + query.len());
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.write_all(&framed).await.map_err(io)?;
    let len = stream.read_u16().await.map_err(io)?;
    let mut bytes = vec![0u8; usize::from(len)];
    stream.read_exact(&mut bytes).await.map_err(io)?;
    check_head(&bytes, id, question).map_err(|_| UpstreamError::Mismatch { upstream })?;
    let message =
        Message::decode(&bytes).map_err(|source| UpstreamError::Malformed { upstream, source })?;
    Ok(Answer { bytes, message })
}

/// Is `bytes` the answer to the query with `id` and `question`? `Ok(truncated)` if it is.
/// Only the header and question are decoded: a truncated answer's records may be cut.
fn check_head(bytes: &[u8], id: u16, question: &Question) -> Result<bool, &'static str> {
    let head = Message::decode_head(bytes).map_err(|_| "undecodable")?;
    let h = &head.header;
    if h.id != id || !h.qr || h.opcode != OPCODE_QUERY {
        return Err("other id, or not a response");
    }
    if head.questions.len() != 1 || !head.questions[0].matches(question) {
        return Err("other question");
    }
    Ok(h.tc)
}

/// Turns a storm of upstream failures (an upstream down, every sandbox retrying) into one
/// warning every 10 seconds, saying how many were held back; the rest go to debug.
#[derive(Debug, Default)]
struct WarnLimiter {
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl WarnLimiter {
    const PERIOD: Duration = Duration::from_secs(10);

    fn report(&self, error: &UpstreamError) {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        let now = Instant::now();
        let due = {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            let due = last.is_none_or(|at| now.duration_since(at) >= Self::PERIOD);
            if due {
                *last = Some(now);
            }
            due
        };
        if due {
            let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
            tracing::warn!(error = %message, suppressed, "DNS upstream failed");
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(error = %message, "DNS upstream failed");
        }
    }
}
