//! The SSH gateway: `ssh -p 2222 <sandbox-id>@host` into a sandbox.
//!
//! One listener serves every sandbox; the SSH user name picks the sandbox. A connection goes:
//!
//! 1. Key exchange with the daemon's Ed25519 host key (`hostkey.rs`, generated once and kept
//!    in the state dir so clients' `known_hosts` stay valid across restarts).
//! 2. Authentication (`auth.rs`): the password is a full-scope warren API key, or the client
//!    proves it holds a public key registered through `/v1/ssh-keys`. Unknown sandboxes fail
//!    authentication the same way bad credentials do, so existence does not leak.
//! 3. Channels (`session.rs`): each session channel gets a task that waits for its request and
//!    wakes the sandbox (a paused or hibernated one resumes, as on any traffic), then runs a
//!    terminal (`pty-req` + `shell`/`exec`), a plain exec with stdin/stdout/stderr
//!    (`exec.rs`), or the SFTP subsystem (`sftp.rs`). `direct-tcpip` channels (`ssh -L`,
//!    `ssh -W`) connect to a port of the sandbox (`forward.rs`).
//!
//! Everything goes through [`warren_core::Core`], like the REST API: the gateway owns no state.
#![forbid(unsafe_code)]

mod auth;
mod exec;
mod forward;
mod hostkey;
mod paths;
mod session;
mod sftp;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use warren_core::Core;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The host key file exists but cannot be read.
    #[error("cannot read SSH host key {path}")]
    ReadHostKey {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The host key file is not an OpenSSH private key.
    #[error("SSH host key {path} is not a valid OpenSSH private key")]
    ParseHostKey {
        /// The key file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: russh::keys::ssh_key::Error,
    },
    /// A new host key could not be written.
    #[error("cannot write SSH host key {path}")]
    WriteHostKey {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The listening socket could not be bound.
    #[error("cannot listen for SSH on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A running SSH gateway. It serves from [`SshGateway::bind`] until [`SshGateway::shutdown`]
/// or until it is dropped; open connections are closed with it.
#[derive(Debug)]
pub struct SshGateway {
    local_addr: SocketAddr,
    fingerprint: String,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl SshGateway {
    /// Load (or create, mode 0600) the host key at `host_key_path`, listen on `addr` and start
    /// serving in a task.
    pub async fn bind(
        core: Core,
        addr: SocketAddr,
        host_key_path: &Path,
    ) -> Result<SshGateway, SshError> {
        let key = hostkey::load_or_create(host_key_path)?;
        let fingerprint = key
            .public_key()
            .fingerprint(russh::keys::HashAlg::Sha256)
            .to_string();
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SshError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| SshError::Bind { addr, source })?;
        let config = Arc::new(config(key));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(session::serve(core, listener, config, stopped));
        tracing::info!(addr = %local_addr, host_key = %fingerprint, "SSH gateway listening");
        Ok(SshGateway {
            local_addr,
            fingerprint,
            stop,
            task: Some(task),
        })
    }

    /// The address it listens on (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The host key's fingerprint, `SHA256:…`, as `ssh` shows it on first connect.
    pub fn host_key_fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Stop accepting, disconnect every client and wait for the listener task to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SshGateway {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn config(key: russh::keys::PrivateKey) -> russh::server::Config {
    use russh::MethodKind;
    russh::server::Config {
        server_id: russh::SshId::Standard("SSH-2.0-warren".into()),
        methods: russh::MethodSet::from(&[MethodKind::PublicKey, MethodKind::Password][..]),
        // Failed attempts take this long (constant time against probing); the first "none"
        // probe OpenSSH sends is answered at once.
        auth_rejection_time: Duration::from_secs(1),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![key],
        // Idle shells are fine; a dead peer is found by keepalives instead.
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 4,
        max_auth_attempts: 6,
        nodelay: true,
        ..Default::default()
    }
}
