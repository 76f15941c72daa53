//! `warren events`: what happened, and with `--follow`, what happens.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use warren_api_types::{Event, EventResult};
use warren_client::EventQuery;

use crate::cli::Remote;
use crate::{config, output};

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events about this sandbox.
    #[arg(long, value_name = "ID")]
    pub sandbox: Option<String>,
    /// Only events whose action starts with this, e.g. `sandbox.` or `key.`.
    #[arg(long)]
    pub action: Option<String>,
    /// How many of the most recent events to show (1-1000).
    #[arg(short = 'n', long, default_value_t = 50)]
    pub limit: u32,
    /// Keep running and print events as they happen (after the recent ones).
    #[arg(short, long)]
    pub follow: bool,
    #[command(flatten)]
    pub remote: Remote,
}

const HEADER: [&str; 7] = [
    "SEQ", "TIME", "SANDBOX", "ACTION", "STATE", "ACTOR", "RESULT",
];

fn row(e: &Event) -> Vec<String> {
    let state = match (e.from_state, e.to_state) {
        (Some(a), Some(b)) => format!("{} → {}", a.as_str(), b.as_str()),
        (None, Some(b)) => format!("→ {}", b.as_str()),
        (Some(a), None) => format!("{} →", a.as_str()),
        (None, None) => "-".to_owned(),
    };
    let result = match (e.result, &e.message) {
        (EventResult::Ok, None) => "ok".to_owned(),
        (EventResult::Ok, Some(m)) => format!("ok: {m}"),
        (EventResult::Error, m) => format!("error: {}", m.as_deref().unwrap_or("")),
    };
    vec![
        e.seq.to_string(),
        e.at.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        e.sandbox_id.clone().unwrap_or_else(|| "-".to_owned()),
        e.action.clone(),
        state,
        e.actor.clone().unwrap_or_else(|| "-".to_owned()),
        result,
    ]
}

fn print_line(e: &Event, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(e)?)?;
    } else {
        writeln!(out, "{}", row(e).join("   "))?;
    }
    out.flush()?;
    Ok(())
}

pub async fn run(args: EventsArgs) -> anyhow::Result<ExitCode> {
    let client = config::client(&args.remote)?;
    let json = args.remote.json;
    let query = EventQuery {
        sandbox: args.sandbox,
        action: args.action,
        after: None,
        limit: Some(args.limit),
    };
    // With --follow, the stream replays from the last listed event, so
    // nothing recorded between the two calls is lost.
    let page = client.list_events(&query).await?;
    if !args.follow {
        if json {
            for e in &page.items {
                print_line(e, true)?;
            }
        } else if page.items.is_empty() {
            println!("No events.");
        } else {
            let rows: Vec<_> = page.items.iter().map(row).collect();
            output::table(&HEADER, &rows);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !json {
        println!("{}", HEADER.join("   "));
    }
    let mut last = 0;
    for e in &page.items {
        print_line(e, json)?;
        last = e.seq;
    }
    let mut stream = client
        .stream_events(&EventQuery {
            after: Some(last),
            limit: None,
            ..query
        })
        .await?;
    while let Some(e) = stream.next().await {
        print_line(&e?, json)?;
    }
    Ok(ExitCode::SUCCESS)
}
