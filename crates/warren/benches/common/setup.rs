//! Starting a bench and ending it: the environment check, the header, a `docker-registry` with
//! the fixtures pushed and a `warren serve` (both from the e2e harness, so both are stopped, and
//! every sandbox deleted, when the [`Stack`] drops, also on a panic); at the end the load
//! average and wall time, or the daemon's log tail when something failed.

use std::process::Command;
use std::time::Instant;

use crate::common::e2e::{self, Daemon, Registry};
use crate::common::host::{daemon_pid, loadavg};

/// A registry with fixtures pushed and a daemon, as a bench runs against them.
pub struct Stack {
    pub env: e2e::Env,
    // Field order is drop order: the daemon deletes its sandboxes before the registry stops.
    pub daemon: Daemon,
    pub registry: Registry,
    /// `(fixture, reference in the registry)` for each pushed fixture, in the order asked for.
    pub images: Vec<(String, String)>,
    /// The `warren serve` process.
    pub pid: u32,
    load_start: String,
    started: Instant,
}

/// `-- --json <file>` on the bench's command line (`cargo bench` itself passes `--bench`): where
/// to write the figures as JSON too.
pub fn json_arg() -> Option<std::path::PathBuf> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1))
        .map(std::path::PathBuf::from)
}

/// An integer setting from the environment, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runc_version() -> String {
    Command::new("runc")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_default()
}

/// Print the header (`# title`, then `params`, the daemon, runc, cores and load), push
/// `fixtures` (directory names under `$WARREN_FIXTURES`) to a fresh registry and start a
/// daemon. `None` when the bench cannot run on this host (the harness says why).
pub fn start(title: &str, params: &str, fixtures: &[&str]) -> anyhow::Result<Option<Stack>> {
    start_with_args(title, params, fixtures, &[])
}

/// [`start`] with extra `warren serve` flags (the dashboard bench runs `--no-network`: the
/// harness gives each daemon a /24, fewer addresses than its fleet).
pub fn start_with_args(
    title: &str,
    params: &str,
    fixtures: &[&str],
    daemon_args: &[&str],
) -> anyhow::Result<Option<Stack>> {
    let Some(env) = e2e::env() else {
        println!("{title}: skipped (see above)");
        return Ok(None);
    };
    let load_start = loadavg();
    println!("# {title}");
    println!(
        "{params}, daemon {}, {}, {} cores, load average at start: {load_start}",
        env!("CARGO_BIN_EXE_warren"),
        runc_version(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    // The daemon's log must be parseable; no colours.
    // SAFETY: no other thread runs yet (the harness spawns its first child below).
    unsafe { std::env::set_var("NO_COLOR", "1") };
    let registry = Registry::start();
    let images = fixtures
        .iter()
        .map(|f| {
            let reference = registry.push(&env.fixtures.join(f), "latest", f);
            ((*f).to_owned(), reference)
        })
        .collect();
    let daemon = Daemon::start_with_args(&env, daemon_args);
    let pid = daemon_pid(&daemon.addr.to_string())?;
    Ok(Some(Stack {
        env,
        daemon,
        registry,
        images,
        pid,
        load_start,
        started: Instant::now(),
    }))
}

impl Stack {
    /// The registry reference of a pushed fixture.
    pub fn image(&self, fixture: &str) -> &str {
        self.images
            .iter()
            .find(|(f, _)| f == fixture)
            .map_or("", |(_, r)| r.as_str())
    }

    /// Print how the run ended (load and wall time, or the daemon's log tail on error), then
    /// stop the daemon (deleting any sandbox left) and the registry.
    pub fn finish(self, result: anyhow::Result<()>) -> anyhow::Result<()> {
        match &result {
            Ok(()) => println!(
                "\nload average at end: {}   (at start: {}); wall time {:.0} s",
                loadavg(),
                self.load_start,
                self.started.elapsed().as_secs_f64()
            ),
            Err(_) => eprintln!("daemon log tail:\n{}", tail(&self.daemon.log(), 30)),
        }
        drop(self);
        result
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
