//! Command line, parsed by hand (the agent is a small static binary; no clap).
//!
//! `warren-agent --listen unix:/path/to.sock [--default-user USER] [--workdir DIR]
//!  [--hostname NAME] [--log FILE] [--log-file-bytes N] [--log-files N] [--stdio FILE]
//!  [--identity-file FILE] [--wait-for-network] [-- MAIN_CMD ARGS...]`

use std::path::PathBuf;

/// Where to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A Unix socket path (containers: a directory bind-mounted from the host).
    Unix(PathBuf),
}

/// Parsed flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// Where to serve the API.
    pub listen: Listen,
    /// User spec processes and file operations default to (`name`, `uid`, `uid:gid`,
    /// `name:group`); empty = root.
    pub default_user: String,
    /// Default working directory; `None` = the user's home (envd's rule).
    pub workdir: Option<String>,
    /// Hostname to set if it differs.
    pub hostname: Option<String>,
    /// File the main process's stdout/stderr are appended to (rotated); `None` = inherited.
    pub log: Option<PathBuf>,
    /// Rotation limits of `log`.
    pub log_limits: crate::mainlog::Limits,
    /// Reopen the agent's own stdout/stderr on this file (and stdin on /dev/null) at start.
    pub stdio: Option<PathBuf>,
    /// Keep the sandbox's identity in this file (see `identity.rs`); `None`: no file.
    pub identity_file: Option<PathBuf>,
    /// Serve (and start the main process) only once the sandbox has a default route (the host
    /// links the sandbox to its network right after it starts).
    pub wait_for_network: bool,
    /// The sandbox's main process, if any.
    pub main_cmd: Vec<String>,
}

/// Why the command line is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArgsError {
    /// A flag that takes a value came last.
    #[error("{0} needs a value")]
    MissingValue(String),
    /// Not a flag we know.
    #[error("unknown argument {0:?}")]
    Unknown(String),
    /// `--listen` absent.
    #[error("--listen unix:/path is required")]
    NoListen,
    /// A number flag whose value is not a positive number.
    #[error("{0} needs a positive number, got {1:?}")]
    BadNumber(String, String),
    /// `--listen` in a form we do not serve.
    #[error("unsupported --listen address {0:?} (expected unix:/path)")]
    BadListen(String),
}

/// Usage text for `--help` and errors.
pub const USAGE: &str = "usage: warren-agent --listen unix:/path/to.sock [--default-user USER] \
[--workdir DIR] [--hostname NAME] [--log FILE] [--log-file-bytes N] [--log-files N] [--stdio FILE] \
[--identity-file FILE] [--wait-for-network] \
[-- MAIN_CMD ARGS...]";

impl Args {
    /// Parse `argv[1..]`.
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Self, ArgsError> {
        let mut it = args.into_iter();
        let mut listen = None;
        let mut out = Args {
            listen: Listen::Unix(PathBuf::new()),
            default_user: String::new(),
            workdir: None,
            hostname: None,
            log: None,
            log_limits: crate::mainlog::Limits::default(),
            stdio: None,
            identity_file: None,
            wait_for_network: false,
            main_cmd: Vec::new(),
        };
        while let Some(a) = it.next() {
            let (flag, inline) = match a.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (a.clone(), None),
            };
            let mut value = |name: &str| {
                inline
                    .clone()
                    .or_else(|| it.next())
                    .ok_or_else(|| ArgsError::MissingValue(name.into()))
            };
            match flag.as_str() {
                "--" => {
                    out.main_cmd = it.by_ref().collect();
                    break;
                }
                "--listen" => listen = Some(value("--listen")?),
                "--wait-for-network" => out.wait_for_network = true,
                "--default-user" => out.default_user = value("--default-user")?,
                "--workdir" => out.workdir = Some(value("--workdir")?).filter(|w| !w.is_empty()),
                "--hostname" => out.hostname = Some(value("--hostname")?).filter(|h| !h.is_empty()),
                "--log" => out.log = Some(PathBuf::from(value("--log")?)),
                "--stdio" => out.stdio = Some(PathBuf::from(value("--stdio")?)),
                "--identity-file" => {
                    out.identity_file = Some(PathBuf::from(value("--identity-file")?));
                }
                "--log-file-bytes" => {
                    out.log_limits.file_bytes =
                        positive("--log-file-bytes", value("--log-file-bytes")?)?;
                }
                "--log-files" => {
                    let n = positive("--log-files", value("--log-files")?)?;
                    out.log_limits.files = u32::try_from(n)
                        .map_err(|_| ArgsError::BadNumber("--log-files".into(), n.to_string()))?;
                }
                _ => return Err(ArgsError::Unknown(a)),
            }
        }
        let listen = listen.ok_or(ArgsError::NoListen)?;
        out.listen = match listen.strip_prefix("unix:") {
            Some(p) if !p.is_empty() => Listen::Unix(PathBuf::from(p)),
            _ => return Err(ArgsError::BadListen(listen)),
        };
        Ok(out)
    }
}

fn positive(flag: &str, v: String) -> Result<u64, ArgsError> {
    match v.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ArgsError::BadNumber(flag.into(), v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[&str]) -> Result<Args, ArgsError> {
        Args::parse(s.iter().map(|s| s.to_string()))
    }

    #[test]
    fn full() {
        let a = p(&[
            "--listen",
            "unix:/run/a.sock",
            "--default-user=1000:1000",
            "--workdir",
            "/app",
            "--hostname",
            "sb-1",
            "--log",
            "/l",
            "--",
            "python",
            "-m",
            "http.server",
            "--x",
        ])
        .unwrap();
        assert_eq!(a.listen, Listen::Unix("/run/a.sock".into()));
        assert_eq!(a.default_user, "1000:1000");
        assert_eq!(a.workdir.as_deref(), Some("/app"));
        assert_eq!(a.hostname.as_deref(), Some("sb-1"));
        assert_eq!(a.log, Some(PathBuf::from("/l")));
        assert_eq!(a.main_cmd, ["python", "-m", "http.server", "--x"]);
    }

    #[test]
    fn errors() {
        assert_eq!(p(&[]), Err(ArgsError::NoListen));
        assert_eq!(
            p(&["--listen", "tcp:1"]),
            Err(ArgsError::BadListen("tcp:1".into()))
        );
        assert_eq!(
            p(&["--listen"]),
            Err(ArgsError::MissingValue("--listen".into()))
        );
        assert_eq!(
            p(&["--listen", "unix:/a", "-x"]),
            Err(ArgsError::Unknown("-x".into()))
        );
        let a = p(&["--listen", "unix:/a", "--workdir", ""]).unwrap();
        assert_eq!(a.workdir, None);
        assert!(a.main_cmd.is_empty());
    }
}
