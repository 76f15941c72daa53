//! `warren sandbox ...`.

use std::io::Write;
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
    /// Run a command in a sandbox; exits with the command's exit code.
    Exec(ExecArgs),
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

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Image reference, e.g. python:3.12-slim.
    pub image: String,
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
    /// Label KEY=VALUE (repeatable).
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
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
    #[command(flatten)]
    pub remote: Remote,
}

pub async fn run(cmd: SandboxCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SandboxCommand::Create(args) => create(args).await,
        SandboxCommand::Ls { remote } => {
            let items = config::client(&remote)?.list_all_sandboxes().await?;
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
        SandboxCommand::Exec(args) => exec(args).await,
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
        image: args.image,
        cmd: (!args.cmd.is_empty()).then_some(args.cmd),
        env: key_values("env", &args.env)?,
        cpu: args.cpu,
        memory_mb: args.memory_mb,
        pids_limit: args.pids_limit,
        labels: key_values("label", &args.labels)?,
    };
    let client = config::client(&args.remote)?;
    // Pull first when the image is missing, so a long download shows progress
    // instead of a silent create.
    if let Err(e) = client.get_image(&req.image).await {
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
    let req = ExecRequest {
        cmd: args.cmd,
        env: key_values("env", &args.env)?,
        cwd: args.cwd,
        user: args.user,
        timeout_s: args.timeout,
    };
    let out = config::client(&args.remote)?.exec(&args.id, &req).await?;
    if args.remote.json {
        output::json(&out)?;
    } else {
        std::io::stdout().write_all(out.stdout.as_bytes())?;
        std::io::stderr().write_all(out.stderr.as_bytes())?;
        if out.truncated {
            eprintln!("warren: output was truncated");
        }
        if out.timed_out {
            eprintln!("warren: command killed after its timeout");
        }
    }
    // Like a shell: 128+9 for a killed command, else its own status (mod 256).
    let code = if out.exit_code < 0 {
        137
    } else {
        (out.exit_code & 0xff) as u8
    };
    Ok(ExitCode::from(code))
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
