//! Warren's unary filesystem routes: `chmod`, `chown` and a remove that can refuse a non-empty
//! directory. JSON in, JSON out, errors in Connect's shape (like the `filesystem.Filesystem`
//! calls).

use std::io;
use std::path::Path;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use warren_agent_proto::{
    ChmodRequest, ChownRequest, ConnectCode, ConnectError, Empty, EntryInfo, EntryResponse,
    RemoveEntryRequest, warren_routes,
};

use super::ops::{self, io_error};
use crate::agent::Agent;
use crate::rpc::{self, Body};
use crate::server::request_user;
use crate::users::UserDb;

/// Serve one `POST /warren/fs/...` call.
pub async fn call(agent: Arc<Agent>, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let h = &parts.headers;
    let user = agent.user(request_user(h).as_deref());
    macro_rules! unary {
        ($req:ty, |$r:ident, $u:ident| $f:expr) => {{
            let result: Result<_, ConnectError> = async {
                let $r: $req = rpc::unary_request(h, body).await?;
                let $u = user?;
                blocking(move || $f).await
            }
            .await;
            match result {
                Ok(v) => rpc::unary_ok(&v),
                Err(e) => rpc::unary_error(&e),
            }
        }};
    }
    let users = agent.users();
    match parts.uri.path() {
        warren_routes::CHMOD => unary!(ChmodRequest, |r, u| {
            let p = ops::resolve(&r.path, &u)?;
            chmod(&p, r.mode, &users).map(|e| EntryResponse { entry: Some(e) })
        }),
        warren_routes::CHOWN => unary!(ChownRequest, |r, u| {
            let p = ops::resolve(&r.path, &u)?;
            chown(&p, r.owner.as_deref(), r.group.as_deref(), &users)
                .map(|e| EntryResponse { entry: Some(e) })
        }),
        warren_routes::REMOVE => unary!(RemoveEntryRequest, |r, u| {
            let p = ops::resolve(&r.path, &u)?;
            remove(&p, r.recursive).map(|()| Empty {})
        }),
        p => rpc::unary_error(&ConnectError::new(
            ConnectCode::NotFound,
            format!("unknown procedure {p}"),
        )),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ConnectError> + Send + 'static,
) -> Result<T, ConnectError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(ConnectError::new(
            ConnectCode::Internal,
            format!("worker failed: {e}"),
        ))
    })
}

fn invalid(msg: impl Into<String>) -> ConnectError {
    ConnectError::new(ConnectCode::InvalidArgument, msg)
}

/// Set the permission bits of `p` (following a symlink, as chmod(2) does).
pub fn chmod(p: &Path, mode: u32, users: &UserDb) -> Result<EntryInfo, ConnectError> {
    if mode > 0o7777 {
        return Err(invalid(format!("mode {mode:o} is more than 7777")));
    }
    std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode))
        .map_err(|e| io_error("cannot chmod", p, &e))?;
    ops::stat(p, users)
}

/// Set the owner and/or group of `p` (a symlink itself, never its target).
pub fn chown(
    p: &Path,
    owner: Option<&str>,
    group: Option<&str>,
    users: &UserDb,
) -> Result<EntryInfo, ConnectError> {
    let uid = match owner {
        None => None,
        Some(o) => Some(match o.parse::<u32>() {
            Ok(uid) => uid,
            Err(_) => users
                .passwd
                .iter()
                .find(|e| e.name == o)
                .map(|e| e.uid)
                .ok_or_else(|| invalid(format!("unknown user {o:?}")))?,
        }),
    };
    let gid = match group {
        None => None,
        Some(g) => Some(match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => users
                .groups
                .iter()
                .find(|e| e.name == g)
                .map(|e| e.gid)
                .ok_or_else(|| invalid(format!("unknown group {g:?}")))?,
        }),
    };
    std::os::unix::fs::lchown(p, uid, gid).map_err(|e| io_error("cannot chown", p, &e))?;
    ops::stat(p, users)
}

/// Remove `p`: `not_found` if missing; a non-empty directory without `recursive` is
/// `failed_precondition`.
pub fn remove(p: &Path, recursive: bool) -> Result<(), ConnectError> {
    if p == Path::new("/") {
        return Err(invalid("cannot remove the root directory"));
    }
    let meta = std::fs::symlink_metadata(p).map_err(|e| io_error("cannot remove", p, &e))?;
    let r = if !meta.is_dir() {
        std::fs::remove_file(p)
    } else if recursive {
        std::fs::remove_dir_all(p)
    } else {
        match std::fs::remove_dir(p) {
            Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => {
                return Err(ConnectError::new(
                    ConnectCode::FailedPrecondition,
                    format!(
                        "directory '{}' is not empty; remove it recursively",
                        p.display()
                    ),
                ));
            }
            r => r,
        }
    };
    r.map_err(|e: io::Error| io_error("cannot remove", p, &e))
}
