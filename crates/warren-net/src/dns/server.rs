//! The resolver's sockets: UDP and TCP on the same address, each served by one task.
//!
//! The UDP task answers what it can at once (FORMERR, NXDOMAIN) and spawns one task per
//! forwarded query, holding one of `max_inflight` slots (no slot: SERVFAIL at once). The TCP task
//! accepts up to `max_tcp_connections` connections (more are closed) and serves each one's
//! queries in turn (RFC 7766 framing), closing it when idle or stalled past
//! `tcp_idle_timeout`. Spawned tasks live in a `JoinSet` owned by their parent, so dropping the
//! [`DnsServer`] (which aborts both parents) stops everything.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::timeout;

use super::query::{Prepared, Resolver, Transport};
use super::wire::HEADER_LEN;
use super::{DnsConfig, DnsPolicy, MAX_UDP_MESSAGE};

/// A running resolver; dropping it stops it.
pub struct DnsServer {
    local_addr: SocketAddr,
    tasks: [JoinHandle<()>; 2],
}

impl fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsServer")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl DnsServer {
    /// Serves UDP and TCP (RFC 1035 2-byte length framing; RFC 7766) on `addr`, forwarding to
    /// `upstreams` (tried in order, 2 s each; UDP, retried over TCP when the answer is
    /// truncated), with the default [`DnsConfig`].
    pub async fn bind(
        addr: SocketAddr,
        upstreams: Vec<SocketAddr>,
        policy: Arc<dyn DnsPolicy>,
    ) -> io::Result<DnsServer> {
        Self::bind_with_config(addr, upstreams, policy, DnsConfig::default()).await
    }

    /// [`DnsServer::bind`] with other limits and timeouts.
    pub async fn bind_with_config(
        addr: SocketAddr,
        upstreams: Vec<SocketAddr>,
        policy: Arc<dyn DnsPolicy>,
        config: DnsConfig,
    ) -> io::Result<DnsServer> {
        let (udp, tcp) = bind_pair(addr).await?;
        let local_addr = udp.local_addr()?;
        let resolver = Arc::new(Resolver::new(upstreams, policy, &config));
        let udp_task = tokio::spawn(serve_udp(Arc::new(udp), resolver.clone()));
        let tcp_task = tokio::spawn(serve_tcp(tcp, resolver, config));
        tracing::debug!(%local_addr, "DNS resolver listening");
        Ok(DnsServer {
            local_addr,
            tasks: [udp_task, tcp_task],
        })
    }

    /// The address served, UDP and TCP.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// UDP and TCP sockets on the same port. With port 0, UDP picks the port and TCP follows; if a
/// TCP socket already has that port, try another.
async fn bind_pair(addr: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let mut attempts = if addr.port() == 0 { 10 } else { 1 };
    loop {
        let udp = UdpSocket::bind(addr).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && attempts > 1 => attempts -= 1,
            Err(e) => return Err(e),
        }
    }
}

async fn serve_udp(socket: Arc<UdpSocket>, resolver: Arc<Resolver>) {
    // One byte more than accepted, to tell a too-long datagram from one that fits exactly.
    let mut buf = vec![0u8; MAX_UDP_MESSAGE + 1];
    let mut forwarding = JoinSet::new();
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let (n, peer) = match received {
                    Ok(received) => received,
                    Err(error) => {
                        // E.g. an ICMP error from an earlier reply: nothing to do with the next.
                        tracing::debug!(%error, "DNS UDP receive failed");
                        continue;
                    }
                };
                if n > MAX_UDP_MESSAGE {
                    tracing::debug!(%peer, "dropping an oversized DNS datagram");
                    continue;
                }
                let reply = match resolver.prepare(peer.ip(), &buf[..n], Transport::Udp) {
                    Prepared::Drop => continue,
                    Prepared::Reply(reply) => reply,
                    Prepared::Forward(job) => match resolver.try_slot() {
                        Some(slot) => {
                            let (socket, resolver) = (socket.clone(), resolver.clone());
                            forwarding.spawn(async move {
                                let reply = resolver.forward(peer.ip(), job).await;
                                drop(slot);
                                send(&socket, &reply, peer).await;
                            });
                            continue;
                        }
                        None => {
                            tracing::debug!(%peer, "too many DNS queries in flight; SERVFAIL");
                            job.servfail()
                        }
                    },
                };
                send(&socket, &reply, peer).await;
            }
            Some(_) = forwarding.join_next(), if !forwarding.is_empty() => {}
        }
    }
}

async fn send(socket: &UdpSocket, reply: &[u8], peer: SocketAddr) {
    if let Err(error) = socket.send_to(reply, peer).await {
        tracing::debug!(%peer, %error, "cannot send DNS reply");
    }
}

async fn serve_tcp(listener: TcpListener, resolver: Arc<Resolver>, config: DnsConfig) {
    let connections = Arc::new(Semaphore::new(config.max_tcp_connections));
    let mut served = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Usually out of file descriptors: give connections time to close.
                        tracing::warn!(%error, "DNS TCP accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(slot) = connections.clone().try_acquire_owned() else {
                    tracing::debug!(%peer, "too many DNS TCP connections; closing");
                    continue;
                };
                let resolver = resolver.clone();
                let idle = config.tcp_idle_timeout;
                served.spawn(async move {
                    serve_connection(stream, peer, &resolver, idle).await;
                    drop(slot);
                });
            }
            Some(_) = served.join_next(), if !served.is_empty() => {}
        }
    }
}

/// Serves one connection's queries in turn until it closes, errs, or idles past `idle`.
async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    resolver: &Resolver,
    idle: Duration,
) {
    loop {
        let Ok(Ok(len)) = timeout(idle, stream.read_u16()).await else {
            return;
        };
        let len = usize::from(len);
        if len < HEADER_LEN {
            tracing::debug!(%peer, len, "closing a DNS TCP connection: message shorter than a header");
            return;
        }
        let mut query = vec![0u8; len];
        if !matches!(
            timeout(idle, stream.read_exact(&mut query)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        let Some(reply) = resolver.answer(peer.ip(), &query, Transport::Tcp).await else {
            continue;
        };
        let Ok(len) = u16::try_from(reply.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(2 + reply.len());
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&reply);
        if !matches!(timeout(idle, stream.write_all(&framed)).await, Ok(Ok(()))) {
            return;
        }
    }
}
