//! One client query, from its bytes to the reply's, whatever the transport.
//!
//! [`Resolver::prepare`] does the synchronous part (decode, validate, ask the policy) and either
//! has the reply already (FORMERR, NXDOMAIN) or hands back a [`ForwardJob`];
//! [`Resolver::forward`] asks the upstreams, lets the policy learn the addresses, and restores
//! the client's id. The transports add only framing and their concurrency limits.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::upstream::Upstreams;
use super::wire::{CLASS_IN, Header, Message, OPCODE_QUERY, RData, rcode, rtype};
use super::{DnsConfig, DnsPolicy, MAX_UDP_MESSAGE, MIN_LEARN_TTL, Verdict};

/// How the client asked: it bounds the reply's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
}

/// What to do after the synchronous part.
#[derive(Debug)]
pub(crate) enum Prepared {
    /// Not worth a reply (not even a header, or a response rather than a query).
    Drop,
    /// The reply, ready.
    Reply(Vec<u8>),
    /// Ask the upstreams.
    Forward(ForwardJob),
}

/// A query to forward.
#[derive(Debug)]
pub(crate) struct ForwardJob {
    bytes: Vec<u8>,
    query: Message,
    learn: bool,
    max_reply: usize,
}

impl ForwardJob {
    /// The reply when the query can't be forwarded (too many in flight).
    pub(crate) fn servfail(&self) -> Vec<u8> {
        reply(&self.query, rcode::SERVFAIL)
    }
}

/// The resolver's state shared by both transports.
#[derive(Debug)]
pub(crate) struct Resolver {
    policy: PolicyRef,
    upstreams: Upstreams,
    learn_timeout: Duration,
    inflight: Arc<Semaphore>,
}

/// `Arc<dyn DnsPolicy>` with a `Debug` (the policy need not have one).
struct PolicyRef(Arc<dyn DnsPolicy>);

impl std::fmt::Debug for PolicyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DnsPolicy")
    }
}

impl Resolver {
    pub(crate) fn new(
        upstreams: Vec<std::net::SocketAddr>,
        policy: Arc<dyn DnsPolicy>,
        config: &DnsConfig,
    ) -> Resolver {
        Resolver {
            policy: PolicyRef(policy),
            upstreams: Upstreams::new(upstreams, config.upstream_timeout),
            learn_timeout: config.learn_timeout,
            inflight: Arc::new(Semaphore::new(config.max_inflight)),
        }
    }

    /// A slot for one more forwarded query, if there is one.
    pub(crate) fn try_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.inflight.clone().try_acquire_owned().ok()
    }

    /// The whole exchange, for transports that wait for it (TCP).
    pub(crate) async fn answer(
        &self,
        client: IpAddr,
        bytes: &[u8],
        transport: Transport,
    ) -> Option<Vec<u8>> {
        match self.prepare(client, bytes, transport) {
            Prepared::Drop => None,
            Prepared::Reply(reply) => Some(reply),
            Prepared::Forward(job) => Some(match self.try_slot() {
                Some(_slot) => self.forward(client, job).await,
                None => job.servfail(),
            }),
        }
    }

    pub(crate) fn prepare(&self, client: IpAddr, bytes: &[u8], transport: Transport) -> Prepared {
        let Ok(header) = Header::decode(bytes) else {
            tracing::debug!(%client, "dropping a DNS message shorter than a header");
            return Prepared::Drop;
        };
        if header.qr {
            // Answering a response could start a loop between two resolvers.
            tracing::debug!(%client, "dropping a DNS response sent as a query");
            return Prepared::Drop;
        }
        let query = match Message::decode(bytes) {
            Ok(query) if header.opcode == OPCODE_QUERY && query.questions.len() == 1 => query,
            Ok(_) => {
                tracing::debug!(%client, opcode = header.opcode, qdcount = header.qdcount, "FORMERR: not one standard query");
                return Prepared::Reply(formerr(&header));
            }
            Err(error) => {
                tracing::debug!(%client, %error, "FORMERR: undecodable query");
                return Prepared::Reply(formerr(&header));
            }
        };
        let question = &query.questions[0];
        let name = question.name.to_policy_string();
        let verdict = self.policy.0.decide(client, &name);
        tracing::debug!(%client, name, qtype = question.qtype, ?verdict, "DNS query");
        match verdict {
            Verdict::Refuse => Prepared::Reply(reply(&query, rcode::NXDOMAIN)),
            Verdict::Forward { learn } => {
                let max_reply = match transport {
                    Transport::Udp => udp_reply_limit(&query),
                    Transport::Tcp => usize::from(u16::MAX),
                };
                Prepared::Forward(ForwardJob {
                    bytes: bytes.to_vec(),
                    query,
                    learn,
                    max_reply,
                })
            }
        }
    }

    pub(crate) async fn forward(&self, client: IpAddr, job: ForwardJob) -> Vec<u8> {
        let Ok(answer) = self
            .upstreams
            .resolve(&job.bytes, &job.query.questions[0])
            .await
        else {
            // Already reported (rate-limited) by `resolve`.
            return job.servfail();
        };
        if job.learn {
            let addrs = learned_addrs(&answer.message);
            if !addrs.is_empty() {
                let learning = self.policy.0.learn(client, addrs);
                if tokio::time::timeout(self.learn_timeout, learning)
                    .await
                    .is_err()
                {
                    tracing::warn!(%client, "DNS policy took too long to learn addresses; answering SERVFAIL");
                    return job.servfail();
                }
            }
        }
        if answer.bytes.len() > job.max_reply {
            // Tell the client to ask again over TCP.
            let head = Message {
                header: Header {
                    id: job.query.header.id,
                    tc: true,
                    ..answer.message.header
                },
                questions: job.query.questions.clone(),
                ..Message::default()
            };
            return head.encode().unwrap_or_else(|_| job.servfail());
        }
        let mut bytes = answer.bytes;
        bytes[..2].copy_from_slice(&job.query.header.id.to_be_bytes());
        bytes
    }
}

/// Every A and AAAA address in the answer section, TTLs raised to [`MIN_LEARN_TTL`].
fn learned_addrs(answer: &Message) -> Vec<(IpAddr, u32)> {
    answer
        .answers
        .iter()
        .filter(|r| r.class == CLASS_IN)
        .filter_map(|r| match r.data {
            RData::A(a) => Some((IpAddr::V4(a), r.ttl.max(MIN_LEARN_TTL))),
            RData::Aaaa(a) => Some((IpAddr::V6(a), r.ttl.max(MIN_LEARN_TTL))),
            _ => None,
        })
        .collect()
}

/// The largest UDP reply the client takes: its EDNS payload size (RFC 6891), else 512.
fn udp_reply_limit(query: &Message) -> usize {
    query
        .additionals
        .iter()
        .find(|r| r.rtype == rtype::OPT)
        .map_or(512, |opt| {
            usize::from(opt.class).clamp(512, MAX_UDP_MESSAGE)
        })
}

/// A reply of our own to `query`: its id and question, no records.
fn reply(query: &Message, rcode: u8) -> Vec<u8> {
    let message = Message {
        header: Header {
            id: query.header.id,
            qr: true,
            opcode: query.header.opcode,
            rd: query.header.rd,
            ra: true,
            rcode,
            ..Header::default()
        },
        questions: query.questions.clone(),
        ..Message::default()
    };
    // One question of at most 255 bytes always fits.
    message.encode().unwrap_or_else(|_| formerr(&query.header))
}

/// FORMERR: only the header can be trusted, so the reply is a header alone.
fn formerr(query: &Header) -> Vec<u8> {
    let header = Header {
        id: query.id,
        qr: true,
        opcode: query.opcode,
        rd: query.rd,
        ra: true,
        rcode: rcode::FORMERR,
        ..Header::default()
    };
    let mut out = Vec::with_capacity(12);
    header.encode(&mut out);
    out
}
