//! Running the host's network tools: `ip -batch` and `nft -f`, each fed a script on stdin, so
//! one process does a whole change (and nftables applies it as one transaction).

use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use crate::NetError;

/// Run `program args…` with `script` on stdin; the error carries the tool's stderr.
pub(crate) async fn run_script(program: &str, args: &[&str], script: &str) -> Result<(), NetError> {
    let command = format!("{program} {}", args.join(" "));
    let tool_err = |detail: String| NetError::Tool {
        command: command.clone(),
        detail,
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| tool_err(format!("cannot run it: {e}")))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let written = stdin.write_all(script.as_bytes()).await;
    drop(stdin);
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| tool_err(e.to_string()))?;
    if out.status.success() {
        return Ok(());
    }
    let mut detail = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if let Err(e) = written {
        detail.push_str(&format!(" (writing its input: {e})"));
    }
    tracing::debug!(%command, %script, %detail, "network tool failed");
    Err(tool_err(detail))
}

/// `ip -batch -` (with `-n NETNS` when given).
pub(crate) async fn ip_batch(netns: Option<&str>, script: &str) -> Result<(), NetError> {
    match netns {
        Some(ns) => run_script("ip", &["-n", ns, "-batch", "-"], script).await,
        None => run_script("ip", &["-batch", "-"], script).await,
    }
}

/// `nft -f -`: one atomic transaction.
pub(crate) async fn nft(script: &str) -> Result<(), NetError> {
    run_script("nft", &["-f", "-"], script).await
}

/// Output of a command, or `None` when it fails.
pub(crate) async fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .await
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
