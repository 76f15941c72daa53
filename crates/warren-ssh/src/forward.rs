//! `direct-tcpip` channels (`ssh -L`, `ssh -W`): a TCP connection to a port of the sandbox.
//!
//! The target host must name the sandbox itself: `localhost`, `127.0.0.1`, `::1` or its id.
//! [`warren_core::Core::connect_port`] wakes the sandbox and connects to its address; when it
//! fails the channel is refused with core's message, which `ssh` prints
//! (`channel 2: open failed: connect failed: …`).

use russh::server::{ChannelOpenHandle, Msg};
use russh::{Channel, ChannelOpenFailure};

use crate::session::Ctx;

/// Whether `host` in a forward request means the sandbox `id`.
pub(crate) fn is_sandbox_host(host: &str, id: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]") || host == id
}

/// SSH_OPEN_CONNECT_FAILED / SSH_OPEN_ADMINISTRATIVELY_PROHIBITED, with our own reason text.
fn refuse(code: u32, reason: String) -> ChannelOpenFailure {
    ChannelOpenFailure::Other { code, reason }
}

pub(crate) async fn run(
    ctx: Ctx,
    channel: Channel<Msg>,
    host: String,
    port: u32,
    reply: ChannelOpenHandle,
) {
    if !is_sandbox_host(&host, &ctx.sandbox) {
        let reason = format!(
            "only the sandbox itself can be reached: use localhost or {} as the host, not {host}",
            ctx.sandbox
        );
        return reply.reject(refuse(1, reason)).await;
    }
    let Ok(port) = u16::try_from(port) else {
        return reply.reject(refuse(2, format!("bad port {port}"))).await;
    };
    let mut tcp = match ctx.core.connect_port(&ctx.sandbox, port, &ctx.actor).await {
        Ok(s) => s,
        Err(e) => {
            tracing::info!(sandbox = %ctx.sandbox, port, error = %e.chain(), "SSH port forward refused");
            return reply.reject(refuse(2, e.chain())).await;
        }
    };
    reply.accept().await;
    let mut stream = channel.into_stream();
    if let Err(e) = tokio::io::copy_bidirectional(&mut stream, &mut tcp).await {
        tracing::debug!(sandbox = %ctx.sandbox, port, error = %e, "SSH port forward ended");
    }
}

#[cfg(test)]
mod tests {
    use super::is_sandbox_host;

    #[test]
    fn only_the_sandbox_itself() {
        assert!(is_sandbox_host("localhost", "sb-a"));
        assert!(is_sandbox_host("127.0.0.1", "sb-a"));
        assert!(is_sandbox_host("sb-a", "sb-a"));
        assert!(!is_sandbox_host("sb-b", "sb-a"));
        assert!(!is_sandbox_host("10.0.0.1", "sb-a"));
        assert!(!is_sandbox_host("example.com", "sb-a"));
    }
}
