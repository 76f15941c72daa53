//! `warren sandbox ...`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use warren_api_types::{CreateSandboxRequest, ExecRequest, Sandbox};

use super::key_values;

use crate::cli::Remote;
use crate::{config, output};

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Create a sandbox and wait until it is running.
    Create(CreateArgs),
    /// List sandboxes.
    #[command(visible_alias = "list")]
    Ls {
        /// Only sandboxes in this state (creating, running, paused, error, ...).
        #[arg(long)]
        state: Option<String>,
        /// Only sandboxes created from this image reference.
        #[arg(long)]
        image: Option<String>,
        /// Only sandboxes with this label (KEY=VALUE; repeatable, all must match).
        #[arg(short, long = "label", value_name = "KEY=VALUE")]
        labels: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show one sandbox.
    Get {
        /// Sandbox id.
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Change a sandbox's labels or metadata (KEY=VALUE sets, KEY- removes) or lifecycle rules.
    Update(super::update::UpdateArgs),
    /// Run a command in a sandbox, streaming its output; exits with the command's exit code.
    Exec(ExecArgs),
    /// Open an interactive terminal (a login shell, or --cmd) in a sandbox.
    Shell(super::shell::ShellArgs),
    /// Print the main process's output (stdout and stderr, as retained); -f follows it.
    Logs(super::logs::LogsArgs),
    /// List the processes running in a sandbox.
    Ps {
        /// Sandbox id.
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Send a signal to a process in a sandbox.
    Kill(super::process::KillArgs),
    /// Follow a running process's output until it ends (Ctrl-C detaches).
    Attach {
        /// Sandbox id.
        id: String,
        /// Process id (see `warren sandbox ps`).
        pid: u32,
        #[command(flatten)]
        remote: Remote,
    },
    /// Capture a sandbox as a snapshot (files; --memory adds its processes); it keeps running.
    Snapshot(super::snapshot::SnapshotArgs),
    /// Branch a sandbox into N copies that each continue from this instant.
    Branch(super::snapshot::BranchArgs),
    /// Freeze sandboxes in place (memory kept, no CPU).
    Pause(StateArgs),
    /// Thaw paused sandboxes, or restore hibernated ones (archived ones come back first).
    Resume(StateArgs),
    /// Checkpoint sandboxes to disk (memory included) and release their memory.
    Hibernate(StateArgs),
    /// Stop sandboxes: processes end (SIGTERM, 5 s, SIGKILL), files stay.
    Stop(StateArgs),
    /// Boot stopped sandboxes again on their files (archived ones come back first).
    Start(StateArgs),
    /// Move stopped or hibernated sandboxes to the archive (start/resume brings them back).
    Archive(StateArgs),
    /// Delete sandboxes (processes, filesystem, everything).
    #[command(visible_alias = "delete")]
    Rm {
        /// Sandbox ids.
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
}

/// Sandboxes to change state.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// Sandbox ids.
    #[arg(required = true)]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Image reference, e.g. python:3.12-slim (or give --snapshot).
    #[arg(required_unless_present = "snapshot")]
    pub image: Option<String>,
    /// Create from this snapshot (id or name) instead of an image; a memory snapshot's
    /// processes continue from the captured instant.
    #[arg(long, conflicts_with = "image")]
    pub snapshot: Option<String>,
    /// Main process (replaces the image's command), after `--`.
    #[arg(last = true)]
    pub cmd: Vec<String>,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// CPU cores.
    #[arg(long)]
    pub cpu: Option<f64>,
    /// Memory limit in MiB.
    #[arg(long)]
    pub memory_mb: Option<u64>,
    /// Process limit.
    #[arg(long)]
    pub pids_limit: Option<u32>,
    /// Default working directory of commands (absolute).
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Default user of commands (name, uid or uid:gid).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Disk quota in MiB (filesystem changes and logs).
    #[arg(long)]
    pub disk_mb: Option<u64>,
    /// Label KEY=VALUE (repeatable).
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Metadata KEY=VALUE (repeatable).
    #[arg(short, long = "metadata", value_name = "KEY=VALUE")]
    pub metadata: Vec<String>,
    /// Idle timeout (e.g. 15m; 0: never); default: the server's.
    #[arg(long, value_parser = crate::cli::duration_s)]
    pub idle_timeout: Option<u64>,
    /// What idleness does: pause, hibernate or stop; default: the server's.
    #[arg(long, value_parser = crate::cli::idle_action)]
    pub idle_action: Option<warren_api_types::IdleAction>,
    /// Archive after this long stopped or hibernated (0: never).
    #[arg(long, value_parser = crate::cli::duration_s)]
    pub auto_archive_after: Option<u64>,
    /// Delete after this long stopped, hibernated or archived (0: never).
    #[arg(long, value_parser = crate::cli::duration_s)]
    pub auto_delete_after: Option<u64>,
    /// Delete this long after creation, whatever the state (0: never).
    #[arg(long, value_parser = crate::cli::duration_s)]
    pub ttl: Option<u64>,
    #[command(flatten)]
    pub network: super::network::NetworkFlags,
    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Sandbox id.
    pub id: String,
    /// Command and arguments, after `--` when they start with `-`.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Working directory inside the sandbox.
    #[arg(short = 'w', long)]
    pub cwd: Option<String>,
    /// User to run as.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Seconds before the command is killed.
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Forward this terminal's stdin to the command (end-of-file closes its stdin).
    #[arg(short, long)]
    pub interactive: bool,
    /// Run the command on a terminal (PTY) connected to this one, in raw mode with resizes;
    /// `-it` together, like `docker exec -it`.
    #[arg(short, long)]
    pub tty: bool,
    #[command(flatten)]
    pub remote: Remote,
}

pub async fn run(cmd: SandboxCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SandboxCommand::Create(args) => create(args).await,
        SandboxCommand::Ls {
            state,
            image,
            labels,
            remote,
        } => {
            let query = warren_client::SandboxQuery {
                state,
                image,
                label: (!labels.is_empty()).then(|| labels.join(",")),
            };
            let items = config::client(&remote)?.find_all_sandboxes(&query).await?;
            if remote.json {
                output::json(&items)?;
            } else if items.is_empty() {
                println!("No sandboxes. Create one with: warren sandbox create <image>");
            } else {
                print_table(&items);
            }
            Ok(ExitCode::SUCCESS)
        }
        SandboxCommand::Get { id, remote } => {
            let sb = config::client(&remote)?.get_sandbox(&id).await?;
            if remote.json {
                output::json(&sb)?;
            } else {
                print_table(std::slice::from_ref(&sb));
                if let Some(e) = &sb.error {
                    println!("\nerror: {e}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SandboxCommand::Update(args) => super::update::run(args).await,
        SandboxCommand::Logs(args) => super::logs::run(args).await,
        SandboxCommand::Exec(args) => exec(args).await,
        SandboxCommand::Shell(args) => super::shell::run(args).await,
        SandboxCommand::Ps { id, remote } => super::process::ps(&id, &remote).await,
        SandboxCommand::Kill(args) => super::process::kill(args).await,
        SandboxCommand::Attach { id, pid, remote } => {
            super::process::attach(&id, pid, &remote).await
        }
        SandboxCommand::Snapshot(args) => super::snapshot::snapshot(args).await,
        SandboxCommand::Branch(args) => super::snapshot::branch(args).await,
        SandboxCommand::Pause(args) => change_state(args, "pause").await,
        SandboxCommand::Resume(args) => change_state(args, "resume").await,
        SandboxCommand::Hibernate(args) => change_state(args, "hibernate").await,
        SandboxCommand::Stop(args) => change_state(args, "stop").await,
        SandboxCommand::Start(args) => change_state(args, "start").await,
        SandboxCommand::Archive(args) => change_state(args, "archive").await,
        SandboxCommand::Rm { ids, remote } => {
            let client = config::client(&remote)?;
            for id in &ids {
                client.delete_sandbox(id).await?;
                if !remote.json {
                    println!("{id}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn create(args: CreateArgs) -> anyhow::Result<ExitCode> {
    let req = CreateSandboxRequest {
        network: args.network.policy(),
        public_ports: args.network.public_ports(),
        image: args.image.unwrap_or_default(),
        snapshot: args.snapshot,
        cmd: (!args.cmd.is_empty()).then_some(args.cmd),
        env: key_values("env", &args.env)?,
        cpu: args.cpu,
        memory_mb: args.memory_mb,
        pids_limit: args.pids_limit,
        workdir: args.workdir,
        user: args.user,
        disk_mb: args.disk_mb,
        labels: key_values("label", &args.labels)?,
        metadata: key_values("metadata", &args.metadata)?,
        lifecycle: warren_api_types::LifecyclePolicy {
            idle_timeout_s: args.idle_timeout,
            idle_action: args.idle_action,
            auto_archive_after_s: args.auto_archive_after,
            auto_delete_after_s: args.auto_delete_after,
            ttl_s: args.ttl,
        },
    };
    let client = config::client(&args.remote)?;
    // Pull first when the image is missing, so a long download shows progress
    // instead of a silent create.
    // (A snapshot's image is local: a snapshot keeps its image.)
    if req.snapshot.is_none()
        && let Err(e) = client.get_image(&req.image).await
    {
        if e.code() != Some(warren_api_types::ErrorCode::ImageNotFound) {
            return Err(e.into());
        }
        let pull = warren_api_types::PullRequest {
            reference: req.image.clone(),
            insecure: false,
            username: None,
            password: None,
        };
        super::image::pull_with_progress(&client, &pull, args.remote.json).await?;
    }
    let sb = client.create_sandbox(&req).await?;
    if args.remote.json {
        output::json(&sb)?;
    } else {
        println!("{}", sb.id);
    }
    Ok(ExitCode::SUCCESS)
}

async fn exec(args: ExecArgs) -> anyhow::Result<ExitCode> {
    if args.tty {
        return exec_tty(args).await;
    }
    let req = ExecRequest {
        cmd: args.cmd,
        env: key_values("env", &args.env)?,
        cwd: args.cwd,
        user: args.user,
        timeout_s: args.timeout,
        stdin: args.interactive,
    };
    let client = config::client(&args.remote)?;
    if !args.remote.json {
        return super::process::exec_live(&client, &args.id, &req).await;
    }
    if args.interactive {
        anyhow::bail!("--interactive streams output; it cannot be combined with --json");
    }
    // --json: the collected result, printed once the command ended.
    let out = client.exec(&args.id, &req).await?;
    output::json(&out)?;
    // Like a shell: 128+9 for a killed command, else its own status (mod 256).
    Ok(super::process::exit_status(out.exit_code))
}

/// Apply `action` to each sandbox in turn, printing `ID STATE` (or the sandboxes as JSON); stops
/// at the first failure.
async fn change_state(args: StateArgs, action: &str) -> anyhow::Result<ExitCode> {
    let client = config::client(&args.remote)?;
    let mut changed = Vec::new();
    for id in &args.ids {
        let change = client.change_sandbox_state(id, action);
        // Archive, start and resume may move the sandbox to or from the archive.
        let sb = if matches!(action, "archive" | "start" | "resume") {
            super::transfer::with_progress(&client, id, args.remote.json, change).await?
        } else {
            change.await?
        };
        if !args.remote.json {
            println!("{}\t{}", sb.id, sb.state);
        }
        changed.push(sb);
    }
    if args.remote.json {
        output::json(&changed)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `exec -t`: the command on a PTY, through the terminal WebSocket (which runs a `sh -c` line).
async fn exec_tty(args: ExecArgs) -> anyhow::Result<ExitCode> {
    if args.timeout.is_some() {
        anyhow::bail!("--timeout cannot be combined with --tty (end the command yourself)");
    }
    if args.remote.json {
        anyhow::bail!("--tty is interactive; it cannot be combined with --json");
    }
    let env = key_values("env", &args.env)?;
    let mut line = String::new();
    for (k, v) in &env {
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            anyhow::bail!("--env {k:?}: with --tty, names must be letters, digits and _");
        }
        line.push_str(&format!("export {k}={}; ", sh_quote(v)));
    }
    line.push_str("exec");
    for arg in &args.cmd {
        line.push(' ');
        line.push_str(&sh_quote(arg));
    }
    super::shell::run(super::shell::ShellArgs {
        id: args.id,
        cmd: Some(line),
        user: args.user,
        cwd: args.cwd,
        remote: args.remote,
    })
    .await
}

/// `s` as one POSIX shell word.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn print_table(items: &[Sandbox]) {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.state.to_string(),
                s.image.clone(),
                format!("{}", s.cpu),
                format!("{} MiB", s.memory_mb),
                output::age(s.created_at),
            ]
        })
        .collect();
    output::table(&["ID", "STATE", "IMAGE", "CPU", "MEMORY", "CREATED"], &rows);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_keeps_words_whole() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote(""), "''");
    }
}
