//! `warren sandbox ...`.

use std::io::Write;
use std::process::ExitCode;

use warren_api_types::{CreateSandboxRequest, ExecRequest, Sandbox};

use super::key_values;
use crate::cli::{CreateArgs, ExecArgs, SandboxCommand};
use crate::{config, output};

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
