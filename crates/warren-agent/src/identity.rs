//! The sandbox's identity (see `warren_agent_proto::identity`): written to the identity file
//! (`--identity-file`, in sandboxes `/.warren/identity.json`) at boot, changed by the host after
//! a restore from a memory snapshot.

use std::path::Path;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use warren_agent_proto::identity::{Identity, IdentityRequest, SANDBOX_ID_ENV};
use warren_agent_proto::{ConnectCode, ConnectError, Empty};

use crate::agent::Agent;
use crate::rpc::{self, Body};

/// Write `identity` to `path` (a new file renamed over the old: readers never see a
/// half-written one). Best effort: a sandbox whose root filesystem is read-only has none.
pub fn write(path: &Path, identity: &Identity) {
    let Some(dir) = path.parent() else {
        return;
    };
    let tmp = dir.join(".identity.json.tmp");
    let json = serde_json::to_vec_pretty(identity).expect("identity serializes");
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&tmp, &json))
        .and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        crate::log!("cannot write {}: {e}", path.display());
    }
}

/// Ids and hostnames are `[A-Za-z0-9.-]`, 1-64 characters.
fn plain(field: &str, s: &str) -> Result<(), ConnectError> {
    if s.is_empty()
        || s.len() > 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(ConnectError::new(
            ConnectCode::InvalidArgument,
            format!("{field} must be 1-64 characters of [A-Za-z0-9.-]"),
        ));
    }
    Ok(())
}

/// `POST /warren/identity`: the host telling a restored agent who it is now.
pub async fn set(agent: Arc<Agent>, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let result: Result<Empty, ConnectError> = async {
        let r: IdentityRequest = rpc::unary_request(&parts.headers, body).await?;
        plain("sandbox_id", &r.sandbox_id)?;
        plain("hostname", &r.hostname)?;
        if let Some(s) = &r.restored_from {
            plain("restored_from", s)?;
        }
        let identity = {
            let mut current = agent.identity.lock().unwrap_or_else(|e| e.into_inner());
            current.sandbox_id = r.sandbox_id.clone();
            current.hostname = r.hostname;
            if r.restored_from.is_some() {
                current.restored_from = r.restored_from;
                current.restores += 1;
            }
            current.clone()
        };
        agent.set_env(SANDBOX_ID_ENV, &r.sandbox_id);
        agent.set_env("HOSTNAME", &identity.hostname);
        if let Some(path) = agent.identity_file.clone() {
            tokio::task::spawn_blocking(move || write(&path, &identity))
                .await
                .map_err(|e| ConnectError::new(ConnectCode::Internal, e.to_string()))?;
        }
        Ok(Empty {})
    }
    .await;
    match result {
        Ok(v) => rpc::unary_ok(&v),
        Err(e) => rpc::unary_error(&e),
    }
}
