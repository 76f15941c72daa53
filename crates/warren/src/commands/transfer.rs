//! A progress bar for archive transfers: while a state change that may move a sandbox to or
//! from the archive runs, the sandbox is polled and its `transfer` drawn on stderr.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use warren_api_types::Sandbox;
use warren_client::{Client, ClientError};

/// Run `change` (a POST that may archive or unarchive sandbox `id`), drawing its transfer's
/// progress unless `quiet`.
pub async fn with_progress<F>(
    client: &Client,
    id: &str,
    quiet: bool,
    change: F,
) -> Result<Sandbox, ClientError>
where
    F: Future<Output = Result<Sandbox, ClientError>>,
{
    if quiet {
        return change.await;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {bytes} {bytes_per_sec} {elapsed}")
            .expect("valid template"),
    );
    let poll = async {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let Ok(sb) = client.get_sandbox(id).await else {
                continue;
            };
            if let Some(t) = sb.transfer {
                bar.set_message(if t.upload {
                    format!("{id}: to the archive")
                } else {
                    format!("{id}: from the archive")
                });
                if let Some(total) = t.total_bytes {
                    bar.set_length(total);
                }
                bar.set_position(t.done_bytes);
                bar.tick();
            }
        }
    };
    let result = tokio::select! {
        r = change => r,
        () = poll => unreachable!("the poll loop never ends"),
    };
    bar.finish_and_clear();
    result
}
