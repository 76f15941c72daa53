//! REST steps both benches repeat, through `warren_client` as any client of the API would.

use anyhow::{Context, bail};
use warren_api_types::{CreateSandboxRequest, ExecRequest};
use warren_client::Client;

/// `exec ["true"]` in sandbox `id`; an error unless it exits 0.
pub async fn exec_true(client: &Client, id: &str) -> anyhow::Result<()> {
    let out = client
        .exec(id, &ExecRequest::new(["true"]))
        .await
        .with_context(|| format!("exec true in {id}"))?;
    if out.exit_code != 0 {
        bail!("`true` exited {} in {id}: {}", out.exit_code, out.stderr);
    }
    Ok(())
}

/// Pull each image (a first create pulls) and warm the page cache: two create, exec, delete.
pub async fn warm_up(client: &Client, images: &[&str]) -> anyhow::Result<()> {
    for image in images {
        for _ in 0..2 {
            let sb = client
                .create_sandbox(&CreateSandboxRequest::new(*image))
                .await
                .with_context(|| format!("warm-up create of {image}"))?;
            exec_true(client, &sb.id).await?;
            client.delete_sandbox(&sb.id).await?;
        }
    }
    Ok(())
}
