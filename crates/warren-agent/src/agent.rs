//! The agent's shared state: configuration from the command line, the reaper, the process
//! registry, and how a request's user, environment and working directory are worked out.
//!
//! - User: the request's `Authorization: Basic base64("<user>:")` (or `username` query on
//!   `/files`), else `--default-user`, else root. Resolved against the sandbox's `/etc/passwd`
//!   and `/etc/group`, read afresh on each request (a `useradd` inside the sandbox takes effect).
//! - Environment: the agent's own environment (the runtime sets it from the image's `Env` and the
//!   sandbox's env), then `HOME`, `USER`, `LOGNAME` of the resolved user, `PATH` if still
//!   missing, then the request's `envs`.
//! - Working directory: the request's `cwd`, else `--workdir`, else the user's home (envd's
//!   rule); `~` expands and relative paths resolve against the home directory.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use warren_agent_proto::{ConnectCode, ConnectError};

use crate::process::registry::Registry;
use crate::reaper::Reaper;
use crate::users::{User, UserDb};

/// `PATH` for processes when the environment has none (Docker's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Shared state of the agent.
#[derive(Debug)]
pub struct Agent {
    /// The only waiter for children.
    pub reaper: Arc<Reaper>,
    /// Running processes.
    pub registry: Arc<Registry>,
    /// `--default-user`.
    pub default_user: String,
    /// `--workdir`.
    pub workdir: Option<String>,
    /// The environment processes start from: the agent's own at startup, as changed since
    /// (the sandbox id after a restore).
    pub base_env: Mutex<Vec<(String, String)>>,
    /// `--identity-file`.
    pub identity_file: Option<PathBuf>,
    /// Who the sandbox is (see `identity.rs`).
    pub identity: Mutex<warren_agent_proto::identity::Identity>,
    /// Pid of the main process while it runs.
    pub main_pid: Mutex<Option<u32>>,
    /// Root of the user database (`/` in a sandbox).
    pub root: PathBuf,
}

impl Agent {
    /// Resolve the requesting user (`None` = the default user).
    pub fn user(&self, name: Option<&str>) -> Result<User, ConnectError> {
        let spec = name.filter(|n| !n.is_empty()).unwrap_or(&self.default_user);
        UserDb::load(&self.root)
            .resolve(spec)
            .map_err(|e| ConnectError::new(ConnectCode::InvalidArgument, e.to_string()))
    }

    /// A copy of the base environment.
    pub fn base_env(&self) -> Vec<(String, String)> {
        self.base_env
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Set `key` in the base environment (processes started from now on see it).
    pub fn set_env(&self, key: &str, value: &str) {
        let mut env = self.base_env.lock().unwrap_or_else(|e| e.into_inner());
        match env.iter_mut().find(|(k, _)| k == key) {
            Some(e) => e.1 = value.to_owned(),
            None => env.push((key.to_owned(), value.to_owned())),
        }
    }

    /// The user database.
    pub fn users(&self) -> UserDb {
        UserDb::load(&self.root)
    }
}

/// The environment of a process: base, then the user's identity, then `PATH` if missing, then
/// the request's overrides.
pub fn build_env(
    base: &[(String, String)],
    user: &User,
    overrides: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = base.to_vec();
    let set = |env: &mut Vec<(String, String)>, k: &str, v: &str| match env
        .iter_mut()
        .find(|(ek, _)| ek == k)
    {
        Some(e) => e.1 = v.to_string(),
        None => env.push((k.to_string(), v.to_string())),
    };
    set(&mut env, "HOME", &user.home);
    set(&mut env, "USER", &user.name);
    set(&mut env, "LOGNAME", &user.name);
    if !env.iter().any(|(k, _)| k == "PATH") {
        set(&mut env, "PATH", DEFAULT_PATH);
    }
    for (k, v) in overrides {
        set(&mut env, k, v);
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_layers() {
        let user = User {
            name: "u".into(),
            uid: 1,
            gid: 1,
            groups: vec![1],
            home: "/home/u".into(),
        };
        let base = vec![("HOME".into(), "/root".into()), ("A".into(), "1".into())];
        let mut o = BTreeMap::new();
        o.insert("A".to_string(), "2".to_string());
        o.insert("USER".to_string(), "x".to_string());
        let env = build_env(&base, &user, &o);
        let get = |k: &str| env.iter().find(|(ek, _)| ek == k).map(|(_, v)| v.as_str());
        assert_eq!(get("HOME"), Some("/home/u"));
        assert_eq!(get("A"), Some("2"));
        assert_eq!(get("USER"), Some("x"));
        assert_eq!(get("LOGNAME"), Some("u"));
        assert_eq!(get("PATH"), Some(DEFAULT_PATH));
        let base = vec![("PATH".into(), "/x".into())];
        let env = build_env(&base, &user, &BTreeMap::new());
        assert_eq!(env.iter().filter(|(k, _)| k == "PATH").count(), 1);
        assert_eq!(env[0].1, "/x");
    }
}
