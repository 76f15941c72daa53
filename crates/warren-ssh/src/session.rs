//! One SSH connection: authentication, then a task per channel.
//!
//! The russh [`Handler`] only accepts or refuses; the work happens in tasks that own their
//! channel. A session channel's task reads the channel's requests in order (`pty-req`, then
//! `shell`, `exec` or `subsystem`), wakes the sandbox, and hands over to a terminal, an exec
//! or SFTP. After authentication, a failure is reported on the channel's stderr as one line
//! with a non-zero exit status; before it, everything is a plain refusal.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::FutureExt as _;
use russh::keys::HashAlg;
use russh::server::{Auth, ChannelOpenHandle, Handler, Msg, PublicKeyOffer, Session};
use russh::server::{VerifiedPublicKey, run_stream};
use russh::{Channel, ChannelId, ChannelMsg, ChannelWriteHalf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use warren_core::{Core, CoreError};

use crate::auth::{self, Authed, Credential};
use crate::{exec, forward, sftp};

/// What a channel task needs: core and who is connected to which sandbox.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) core: Core,
    pub(crate) sandbox: String,
    pub(crate) actor: String,
}

impl Ctx {
    /// Resume a paused or hibernated sandbox before using it.
    pub(crate) async fn wake(&self) -> Result<(), CoreError> {
        self.core.wake(&self.sandbox, &self.actor).await.map(drop)
    }
}

/// Accept connections until `stop` turns true, then disconnect them all.
pub(crate) async fn serve(
    core: Core,
    listener: TcpListener,
    config: Arc<russh::server::Config>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let (socket, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "SSH accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.wait_for(|s| *s).map(|r| r.is_ok()) => return,
        };
        let handler = Connection {
            core: core.clone(),
            peer,
            authed: None,
        };
        let config = config.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let session = match run_stream(config, socket, handler).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "SSH handshake failed");
                    return;
                }
            };
            let handle = session.handle();
            tokio::select! {
                r = session => if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "SSH connection ended with an error");
                },
                _ = stop.wait_for(|s| *s).map(|r| r.is_ok()) => {
                    let _ = handle
                        .disconnect(russh::Disconnect::ByApplication, "warren is shutting down".into(), String::new())
                        .await;
                }
            }
        });
    }
}

/// The state of one connection.
struct Connection {
    core: Core,
    peer: SocketAddr,
    authed: Option<Authed>,
}

impl Connection {
    fn result(&mut self, user: &str, method: &str, authed: Option<Authed>) -> Auth {
        match authed {
            Some(a) => {
                tracing::info!(peer = %self.peer, sandbox = %a.sandbox, actor = %a.actor, method, "SSH login");
                self.authed = Some(a);
                Auth::Accept
            }
            None => {
                tracing::info!(peer = %self.peer, user, method, "SSH login refused");
                Auth::reject()
            }
        }
    }

    fn ctx(&self) -> Option<Ctx> {
        self.authed.as_ref().map(|a| Ctx {
            core: self.core.clone(),
            sandbox: a.sandbox.clone(),
            actor: a.actor.clone(),
        })
    }
}

impl Handler for Connection {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let authed = auth::check(&self.core, user, Credential::ApiKey(password)).await;
        Ok(self.result(user, "password", authed))
    }

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        let fp = offer.public_key.fingerprint(HashAlg::Sha256).to_string();
        Ok(if auth::known_key(&self.core, &fp).await {
            Auth::Accept
        } else {
            Auth::reject()
        })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let fp = key.public_key.fingerprint(HashAlg::Sha256).to_string();
        let authed = auth::check(&self.core, user, Credential::PublicKey(&fp)).await;
        Ok(self.result(user, "publickey", authed))
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(ctx) = self.ctx() else {
            return Ok(()); // dropping `reply` refuses
        };
        reply.accept().await;
        tokio::spawn(run_channel(ctx, channel));
        Ok(())
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host_to_connect: &str,
        port_to_connect: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(ctx) = self.ctx() else {
            return Ok(());
        };
        let host = host_to_connect.to_owned();
        tokio::spawn(forward::run(ctx, channel, host, port_to_connect, reply));
        Ok(())
    }

    // The requests below are carried out by the channel's task, which sees them too; here
    // they are only acknowledged.

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _cols: u32,
        _rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        _value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Not passed on: a client's LANG/LC_* rarely exists in a sandbox image.
        session.channel_failure(channel)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if name == "sftp" {
            session.channel_success(channel)
        } else {
            session.channel_failure(channel)
        }
    }
}

/// Default terminal size when the client sends none (`ssh -tt` without a local terminal).
const DEFAULT_SIZE: (u32, u32) = (80, 24);

/// Wait for the channel's request and carry it out.
async fn run_channel(ctx: Ctx, mut channel: Channel<Msg>) {
    let mut pty: Option<(u32, u32)> = None;
    loop {
        let Some(msg) = channel.wait().await else {
            return;
        };
        match msg {
            ChannelMsg::RequestPty {
                col_width,
                row_height,
                ..
            } => {
                let (c, r) = DEFAULT_SIZE;
                pty = Some((
                    if col_width == 0 { c } else { col_width },
                    if row_height == 0 { r } else { row_height },
                ));
            }
            ChannelMsg::RequestShell { .. } => return exec::start(ctx, channel, pty, None).await,
            ChannelMsg::Exec { command, .. } => {
                let command = String::from_utf8_lossy(&command).into_owned();
                return exec::start(ctx, channel, pty, Some(command)).await;
            }
            ChannelMsg::RequestSubsystem { name, .. } if name == "sftp" => {
                return sftp::start(ctx, channel).await;
            }
            ChannelMsg::RequestSubsystem { name, .. } => {
                let (_, write) = channel.split();
                let msg = format!("subsystem {name:?} is not available; only sftp is");
                return fail(&write, &msg).await;
            }
            ChannelMsg::Close => return,
            _ => {}
        }
    }
}

/// Report `message` on the channel's stderr, exit 1 and close.
pub(crate) async fn fail(write: &ChannelWriteHalf<Msg>, message: &str) {
    let line = format!("warren: {message}\r\n");
    let _ = write.extended_data_bytes(1, line.into_bytes()).await;
    finish(write, 1).await;
}

/// Send the exit status, then end the channel.
pub(crate) async fn finish(write: &ChannelWriteHalf<Msg>, code: u32) {
    let _ = write.exit_status(code).await;
    let _ = write.eof().await;
    let _ = write.close().await;
}
