//! The host side of the agent channel, from `warren-agent-proto` (feature `client`).
//!
//! The agent's socket lives in `run/`, a directory the sandbox's root owns
//! (it is bind-mounted into the sandbox so the agent can create the socket).
//! Code in the sandbox can therefore replace `agent.sock` with a symlink to
//! some socket on the host; `connect(2)` follows symlinks, so a naive
//! connect would have the daemon talk, as root, to a host service of the
//! attacker's choosing. [`connect_agent`] pins the inode with
//! `O_PATH | O_NOFOLLOW`, checks that it is a socket, and connects through
//! `/proc/self/fd/N`, which names exactly that inode.

use std::os::fd::AsRawFd;
use std::path::Path;

use nix::fcntl::{OFlag, open};
use nix::sys::stat::{Mode, SFlag, fstat};
pub use warren_agent_proto::{AgentClient, AgentError};

/// Connect to the agent socket at `path`, refusing anything but a socket
/// (a symlink in the last component included).
pub(crate) async fn connect_agent(path: &Path) -> Result<AgentClient, AgentError> {
    let connect_err = |source: std::io::Error| AgentError::Connect {
        path: path.to_owned(),
        source,
    };
    let fd = open(
        path,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| connect_err(e.into()))?;
    let st = fstat(&fd).map_err(|e| connect_err(e.into()))?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFSOCK {
        return Err(connect_err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a socket (a symlink or file put there from inside the sandbox?)",
        )));
    }
    let via = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let stream = tokio::net::UnixStream::connect(&via)
        .await
        .map_err(connect_err)?;
    drop(fd);
    AgentClient::handshake(stream).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_symlinks_and_files_connects_to_sockets() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.sock");
        let listener = tokio::net::UnixListener::bind(&real).unwrap();
        let accepted = tokio::spawn(async move { listener.accept().await.is_ok() });

        let link = dir.path().join("link.sock");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let Err(err) = connect_agent(&link).await else {
            panic!("a symlink must be refused");
        };
        assert!(matches!(err, AgentError::Connect { .. }), "{err}");

        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert!(connect_agent(&file).await.is_err());

        // A real socket connects (the handshake then fails: nobody speaks HTTP/2 there).
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), connect_agent(&real)).await;
        let accepted = tokio::time::timeout(std::time::Duration::from_secs(5), accepted).await;
        assert!(
            accepted.expect("no connection arrived").unwrap(),
            "the real socket was connected through /proc/self/fd"
        );
    }
}
