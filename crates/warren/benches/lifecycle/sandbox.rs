//! The sandboxes the bench makes, and how it gets rid of them.
//!
//! Every sandbox and snapshot is recorded in [`Created`] as soon as the API returns it, and
//! [`Created::delete_all`] removes them at the end, also after a failure: sandboxes newest first
//! (a snapshot cannot go while a sandbox made from it exists), then the snapshots, then any
//! snapshot the daemon still lists (a branch that failed half-way keeps the one it took).

use std::time::{Duration, Instant};

use anyhow::Context;
use warren_api_types::{CreateSandboxRequest, Sandbox};
use warren_client::Client;

use crate::common::host::cgroup_memory;

/// A Python main process holding 100 MiB of random state.
const HOLD_100_MIB: &str = "import os, time\nstate = bytearray(os.urandom(1 << 20) * 100)\n\
while True: time.sleep(3600)";

/// What the bench created and has not deleted yet.
#[derive(Default)]
pub struct Created {
    sandboxes: Vec<String>,
    snapshots: Vec<String>,
}

impl Created {
    pub fn sandbox(&mut self, id: &str) {
        self.sandboxes.push(id.to_owned());
    }

    pub fn snapshot(&mut self, id: &str) {
        self.snapshots.push(id.to_owned());
    }

    /// Delete a sandbox now (and forget it).
    pub async fn delete_sandbox(&mut self, client: &Client, id: &str) -> anyhow::Result<()> {
        client
            .delete_sandbox(id)
            .await
            .with_context(|| format!("delete sandbox {id}"))?;
        self.sandboxes.retain(|s| s != id);
        Ok(())
    }

    /// Delete a snapshot now (and forget it).
    pub async fn delete_snapshot(&mut self, client: &Client, id: &str) -> anyhow::Result<()> {
        client
            .delete_snapshot(id)
            .await
            .with_context(|| format!("delete snapshot {id}"))?;
        self.snapshots.retain(|s| s != id);
        Ok(())
    }

    /// Delete everything left; the first error, after trying all.
    pub async fn delete_all(&mut self, client: &Client) -> anyhow::Result<()> {
        let mut result = Ok(());
        for id in std::mem::take(&mut self.sandboxes).iter().rev() {
            if let Err(e) = client.delete_sandbox(id).await {
                result = result.and(Err(anyhow::Error::from(e).context(format!("delete {id}"))));
            }
        }
        let mut snapshots = std::mem::take(&mut self.snapshots);
        match client.list_all_snapshots(None).await {
            Ok(listed) => {
                for s in listed {
                    if !snapshots.contains(&s.id) {
                        snapshots.push(s.id);
                    }
                }
            }
            Err(e) => result = result.and(Err(e.into())),
        }
        for id in snapshots.iter().rev() {
            if let Err(e) = client.delete_snapshot(id).await {
                result = result.and(Err(anyhow::Error::from(e).context(format!("delete {id}"))));
            }
        }
        result
    }
}

/// A Python sandbox holding 100 MiB of state, once the memory is allocated. Only the create goes
/// through the API (the wait reads the cgroup), so the raw runc baseline can use it untouched.
pub async fn python_100_mib(
    client: &Client,
    image: &str,
    created: &mut Created,
) -> anyhow::Result<Sandbox> {
    let mut req = CreateSandboxRequest::new(image);
    req.memory_mb = Some(512);
    req.cmd = Some(vec!["python3".into(), "-c".into(), HOLD_100_MIB.into()]);
    let sb = client.create_sandbox(&req).await?;
    created.sandbox(&sb.id);
    // At least 100 MiB charged and no longer growing (the bytes object is copied into the
    // bytearray, so usage passes through ~200 MiB first).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = 0;
    loop {
        let usage = cgroup_memory(&sb.id).map_or(0, |(usage, _)| usage);
        if usage >= 100 << 20 && usage.abs_diff(last) < 2 << 20 {
            return Ok(sb);
        }
        last = usage;
        anyhow::ensure!(
            Instant::now() < deadline,
            "sandbox {} never settled at ≥ 100 MiB (last reading {usage} bytes)",
            sb.id
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
