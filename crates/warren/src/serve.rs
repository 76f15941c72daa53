//! `warren serve`: open the state dir, reconcile, and serve the API.
//!
//! Start-up order: state dir → database (migrations) → image store →
//! runtime (finds the static agent) → first API key if none exists →
//! reconcile (adopt sandboxes that outlived the previous daemon) → listen.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use warren_core::{Core, Defaults};
use warren_images::{IdShift, ImageStore, StoreOptions};
use warren_runtime::{ContainerConfig, ContainerRuntime, IdMap, LogRotation, find_agent_binary};
use warren_store::SqliteStore;

use crate::cli::ServeArgs;
use crate::config;

/// Host uid/gid of sandbox root, and how many ids each sandbox maps.
const ID_BASE: u32 = 100_000;
const ID_COUNT: u32 = 65_536;
/// How often the reconciler runs after start-up.
const RECONCILE_EVERY: Duration = Duration::from_secs(30);

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let state = &args.state_dir;
    check_host(args.default_disk_mb)?;
    prepare_state_dir(state)?;

    let store = SqliteStore::open(&state.join("warren.db"))
        .await
        .context("cannot open the database")?;
    let images = ImageStore::open(StoreOptions {
        root: state.clone(),
        id_shift: IdShift {
            uid_base: ID_BASE,
            gid_base: ID_BASE,
            size: ID_COUNT,
        },
    })
    .await
    .context("cannot open the image store")?;
    let agent = find_agent_binary().context("cannot find the sandbox agent binary")?;
    let mut runtime_config = ContainerConfig::new(state.join("sandboxes"), agent);
    runtime_config.runc_root = state.join("runc");
    runtime_config.id_map = IdMap {
        host_base: ID_BASE,
        size: ID_COUNT,
    };
    runtime_config.pooled_disk_bytes = args.default_disk_mb * 1024 * 1024;
    runtime_config.main_log = LogRotation {
        file_bytes: args.main_log_file_mb * 1024 * 1024,
        files: args.main_log_files,
    };
    let runtime = ContainerRuntime::new(runtime_config)
        .await
        .context("cannot start the container runtime")?;
    let archive = warren_archive::Archive::open(&archive_config(&args)?)
        .context("cannot open the archive store")?;
    let stale = archive.remove_stale_uploads();
    if stale > 0 {
        tracing::warn!(
            count = stale,
            "removed uploads to the archive a crash cut short"
        );
    }
    let network = if args.no_network {
        None
    } else {
        Some(open_network(&args).await?)
    };
    let mut core = Core::new(
        Arc::new(store),
        images,
        Arc::new(runtime),
        Defaults {
            disk_mb: args.default_disk_mb,
            policy: default_policy(&args),
            ..Defaults::default()
        },
        archive,
    );
    if let Some(net) = network {
        core = core.with_network(net);
    }

    core.start_events()
        .await
        .context("cannot read the event log")?;
    let first_key = core
        .bootstrap_api_key(
            std::env::var("WARREN_API_KEY")
                .ok()
                .filter(|k| !k.is_empty()),
        )
        .await
        .context("cannot create the first API key")?;
    let report = core
        .reconcile()
        .await
        .context("cannot reconcile sandboxes with the runtime")?;
    if report != Default::default() {
        tracing::info!(?report, "reconciled sandboxes left by the previous daemon");
    }
    core.restore_network()
        .await
        .context("cannot restore the sandboxes' network")?;
    spawn_reconciler(core.clone());
    spawn_policy_enforcer(core.clone(), Duration::from_millis(args.policy_interval_ms));
    core.spawn_metrics_sampler();

    // Certificates are checked before anything listens.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{addr}");
    println!("warren {} is listening on {url}", env!("CARGO_PKG_VERSION"));
    println!("  Web UI: {url}/ui/   (sign in with an API key)");
    println!("  API: {url}/v1   (state: {})", state.display());
    match first_key {
        Some(key) => {
            println!("  API key (shown once, store it safely): {}", key.secret);
            let saved = config::save(&config::Config {
                url: Some(url.clone()),
                api_key: Some(key.secret),
            });
            match saved {
                Ok(path) => println!("  the CLI will find it in {}", path.display()),
                Err(e) => println!("  could not save it for the CLI: {e:#}"),
            }
        }
        None => match config::path() {
            Some(path) => println!(
                "  API key: as created on first start (the CLI reads {})",
                path.display()
            ),
            None => println!("  API key: as created on first start"),
        },
    }

    let ssh = start_ssh(&args, &core, state).await?;

    let e2b =
        warren_server::E2bConfig::new(args.e2b_default_template.clone(), &args.e2b_templates)?;
    let app_state = warren_server::AppState {
        core,
        tmp_dir: state.join("tmp/uploads"),
        rate_limiter: warren_server::RateLimiter::new(warren_server::RateLimit {
            rps: args.rate_limit_rps,
            burst: args.rate_limit_burst,
        }),
        preview_domain: args.preview_domain.clone(),
        sessions: warren_server::Sessions::default(),
        e2b,
    };
    warren_server::spawn_e2b_timeouts(app_state.clone());
    let app = warren_server::router(app_state);
    match tls {
        Some(config) => crate::tls::serve(listener, config, app, shutdown_signal())
            .await
            .context("server failed")?,
        None => {
            // Streamed responses (SSE exec, events, logs) send small writes: without
            // TCP_NODELAY the first ones wait for the client's delayed ACK (~40 ms, measured by
            // the api bench).
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY on a connection");
                }
            });
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown_signal())
                .await
                .context("server failed")?;
        }
    }
    if let Some(ssh) = ssh {
        ssh.shutdown().await;
    }
    tracing::info!("stopped; sandboxes keep running");
    Ok(ExitCode::SUCCESS)
}

/// Set up the bridge, firewall tables and resolver.
async fn open_network(args: &ServeArgs) -> anyhow::Result<warren_net::Network> {
    let dns_upstreams = if args.dns_upstreams.is_empty() {
        let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        warren_net::dns::upstreams_from_resolv_conf(&text)
    } else {
        args.dns_upstreams.clone()
    };
    if dns_upstreams.is_empty() {
        tracing::warn!(
            "no DNS upstream (none in /etc/resolv.conf, no --dns-upstream): sandboxes cannot resolve names"
        );
    }
    warren_net::Network::open(warren_net::NetConfig {
        bridge: args.bridge.clone(),
        subnet: args.subnet,
        state_dir: args.state_dir.join("network"),
        dns_upstreams,
    })
    .await
    .with_context(|| {
        format!(
            "cannot set up sandbox networking on bridge {} ({}); --no-network runs sandboxes with loopback only",
            args.bridge, args.subnet
        )
    })
}

/// Start the SSH gateway (unless `--no-ssh`) with the host key kept in the state dir.
async fn start_ssh(
    args: &ServeArgs,
    core: &Core,
    state: &Path,
) -> anyhow::Result<Option<warren_ssh::SshGateway>> {
    if args.no_ssh {
        return Ok(None);
    }
    let gw = warren_ssh::SshGateway::bind(
        core.clone(),
        args.ssh_listen,
        &state.join("ssh_host_ed25519_key"),
    )
    .await
    .context("cannot start the SSH gateway (--no-ssh turns it off)")?;
    let addr = gw.local_addr();
    let host = if addr.ip().is_unspecified() {
        "<host>".to_owned()
    } else {
        addr.ip().to_string()
    };
    println!(
        "  SSH: ssh -p {} <sandbox-id>@{host}   (host key {})",
        addr.port(),
        gw.host_key_fingerprint()
    );
    Ok(Some(gw))
}

/// Refuse to start on a host that cannot run sandboxes, saying what to fix.
fn check_host(default_disk_mb: u64) -> anyhow::Result<()> {
    let report = warren_runtime::doctor::probe();
    for check in report
        .checks
        .iter()
        .filter(|c| c.status != warren_runtime::doctor::Status::Ok)
    {
        let fix = check
            .fix
            .as_deref()
            .map(|f| format!(" (fix: {f})"))
            .unwrap_or_default();
        if check.required && check.status == warren_runtime::doctor::Status::Fail {
            tracing::error!("host check {} failed: {}{fix}", check.name, check.detail);
        } else {
            tracing::info!("host check {}: {}{fix}", check.name, check.detail);
        }
    }
    anyhow::ensure!(
        report.can_run_sandboxes(),
        "this host cannot run sandboxes; `warren doctor` lists what to fix"
    );
    if default_disk_mb > 0
        && let Some(quota) = report
            .get("disk_quota")
            .filter(|c| c.status != warren_runtime::doctor::Status::Ok)
    {
        anyhow::bail!(
            "sandboxes get a {default_disk_mb} MiB disk quota by default, but {}; fix: {}",
            quota.detail,
            quota.fix.as_deref().unwrap_or("see `warren doctor`")
        );
    }
    Ok(())
}

/// Create the state dir. It must be traversable (not readable) by the
/// sandboxes' mapped root, which runc needs to reach the rootfs.
fn prepare_state_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create state dir {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))
        .with_context(|| format!("cannot set permissions of {}", dir.display()))?;
    let tmp = dir.join("tmp");
    // Spooled uploads from a crashed daemon are garbage.
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    Ok(())
}

/// Where archives go: S3 when a bucket is given, else a local directory.
fn archive_config(args: &ServeArgs) -> anyhow::Result<warren_archive::ArchiveConfig> {
    let Some(bucket) = args.archive_s3_bucket.clone() else {
        let dir = args
            .archive_dir
            .clone()
            .unwrap_or_else(|| args.state_dir.join("archive"));
        return Ok(warren_archive::ArchiveConfig::Local { dir });
    };
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .with_context(|| format!("--archive-s3-bucket needs {name} in the environment"))
    };
    Ok(warren_archive::ArchiveConfig::S3 {
        bucket,
        allow_http: args
            .archive_s3_endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://")),
        endpoint: args.archive_s3_endpoint.clone(),
        region: args.archive_s3_region.clone(),
        access_key_id: var("WARREN_ARCHIVE_S3_ACCESS_KEY_ID")?,
        secret_access_key: var("WARREN_ARCHIVE_S3_SECRET_ACCESS_KEY")?,
    })
}

/// The lifecycle policy of sandboxes that do not give one (0 turns a rule off).
fn default_policy(args: &ServeArgs) -> warren_core::Policy {
    let rule = |s: u64| (s > 0).then_some(s);
    warren_core::Policy {
        idle_timeout_s: rule(args.idle_timeout),
        idle_action: match args.idle_action {
            warren_api_types::IdleAction::Pause => warren_core::IdleAction::Pause,
            warren_api_types::IdleAction::Hibernate => warren_core::IdleAction::Hibernate,
            warren_api_types::IdleAction::Stop => warren_core::IdleAction::Stop,
        },
        auto_archive_after_s: rule(args.auto_archive_after),
        auto_delete_after_s: rule(args.auto_delete_after),
        ttl_s: rule(args.ttl),
    }
}

fn spawn_policy_enforcer(core: Core, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match core.enforce_policies().await {
                Ok(done) => {
                    for a in done {
                        tracing::info!(sandbox = %a.sandbox, action = a.action, reason = %a.reason,
                            error = a.error.as_deref().unwrap_or(""), "lifecycle policy");
                    }
                }
                Err(e) => tracing::warn!(error = %e.chain(), "lifecycle policy pass failed"),
            }
        }
    });
}

fn spawn_reconciler(core: Core) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RECONCILE_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            match core.reconcile().await {
                Ok(r) if r != Default::default() => tracing::info!(report = ?r, "reconciled"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e.chain(), "reconcile failed"),
            }
        }
    });
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("can install a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
