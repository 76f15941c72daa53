//! Section 2: baselines measured in the same run, on the same busybox layer and with the same user
//! namespace (0 → 100000, 65536) as warren: plain `runc run /bin/true` with a fresh overlay each
//! time and directly on the layer (bind-mounted read-only), then warren's own config.json replayed by hand
//! ([`crate::replay`]). The config.json is taken from a sandbox the daemon creates in this run,
//! so the replay always reflects the current spec generation (seccomp profile included).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use warren_api_types::CreateSandboxRequest;
use warren_client::Client;

use crate::bundle::{bind_mount, fresh_bundle, mount_bundle_overlay, runc_run, umount};
use crate::common::e2e::Daemon;
use crate::common::host::{busybox_layer, loadavg};
use crate::common::stats::{durations, print_table};
use crate::replay::{Donor, replay};

pub async fn section(
    client: &Client,
    daemon: &Daemon,
    busybox: &str,
    n: usize,
) -> anyhow::Result<()> {
    let layer = busybox_layer(&daemon.state)?;
    let work = tempfile::Builder::new()
        .prefix("warren-bench-")
        .tempdir_in(daemon.state.parent().unwrap_or(Path::new("/tmp")))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o711))?;
    }
    let sb = client
        .create_sandbox(&CreateSandboxRequest::new(busybox))
        .await?;
    let bundle = daemon.state.join("sandboxes").join(&sb.id);
    let donor = Donor {
        config: std::fs::read_to_string(bundle.join("config.json"))?,
        bundle: std::fs::canonicalize(&bundle)?,
        id: sb.id.clone(),
    };
    client.delete_sandbox(&sb.id).await?;
    println!(
        "  [warren's config.json: {}]",
        seccomp_summary(&donor.config)
    );
    let w = work.path().to_owned();
    let (plain_ov, plain, rp) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let plain_ov = baseline_plain(&w, &layer, n, true)?;
        let plain = baseline_plain(&w, &layer, n, false)?;
        let rp = replay(&w, &layer, &donor, n)?;
        Ok((plain_ov, plain, rp))
    })
    .await??;
    print_table(
        "2. baselines in the same run (busybox layer, userns 0→100000/65536)",
        &[
            durations(
                "plain runc run /bin/true (fresh overlay each)",
                &plain_ov,
                None,
            ),
            durations("plain runc run /bin/true (no overlay)", &plain, None),
            durations(
                "warren's config.json, /bin/true (+overlay)",
                &rp.spec_true,
                None,
            ),
            durations(
                "warren's config.json, /bin/true, no seccomp",
                &rp.spec_true_noseccomp,
                None,
            ),
            durations(
                "replayed agent: overlay mount + config write",
                &rp.mount,
                None,
            ),
            durations("replayed agent: runc run --detach", &rp.runc_detach, None),
            durations("replayed agent: runc exit → /health OK", &rp.agent_up, None),
            durations(
                "replayed agent: kill + runc delete + umount",
                &rp.teardown,
                None,
            ),
        ],
    );
    println!("  [baselines done; load {}]", loadavg());
    Ok(())
}

/// What the replayed spec's seccomp filter holds: its architectures and number of rules.
fn seccomp_summary(config: &str) -> String {
    let spec: serde_json::Value = serde_json::from_str(config).unwrap_or_default();
    let sc = &spec["linux"]["seccomp"];
    if sc.is_null() {
        return "no seccomp section".to_owned();
    }
    format!(
        "seccomp default {}, architectures {}, {} syscall rules",
        sc["defaultAction"],
        sc["architectures"],
        sc["syscalls"].as_array().map_or(0, Vec::len)
    )
}

/// runc's default spec plus warren's user namespace (0 → 100000, 65536) and a cgroup namespace,
/// running `/bin/true` on `root`.
fn plain_spec(root: &Path) -> anyhow::Result<serde_json::Value> {
    let tmp = tempfile::tempdir()?;
    let ok = Command::new("runc")
        .arg("spec")
        .current_dir(tmp.path())
        .status()?;
    if !ok.success() {
        bail!("runc spec failed");
    }
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("config.json"))?)?;
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = serde_json::json!(["/bin/true"]);
    spec["root"] = serde_json::json!({"path": root, "readonly": false});
    let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    spec["linux"]["uidMappings"] = map.clone();
    spec["linux"]["gidMappings"] = map;
    let ns = spec["linux"]["namespaces"]
        .as_array_mut()
        .context("runc spec has no namespaces")?;
    ns.push(serde_json::json!({"type": "user"}));
    ns.push(serde_json::json!({"type": "cgroup"}));
    Ok(spec)
}

/// Plain `runc run /bin/true` N times; with a fresh overlay each time (mount + run + umount
/// timed), or directly on the layer.
fn baseline_plain(
    work: &Path,
    layer: &Path,
    n: usize,
    overlay: bool,
) -> anyhow::Result<Vec<Duration>> {
    let runc_root = work.join(if overlay { "runc-ov" } else { "runc-plain" });
    let mut times = Vec::with_capacity(n);
    if !overlay {
        // The layer itself, read-only, bind-mounted once (untimed) at the bundle's rootfs: the
        // image store is 0700, so the mapped root could not reach the layer by its own path.
        let b = fresh_bundle(work, "plain-direct")?;
        let rootfs = b.join("rootfs");
        bind_mount(layer, &rootfs)?;
        let mut spec = plain_spec(&rootfs)?;
        spec["root"]["readonly"] = true.into();
        std::fs::write(b.join("config.json"), serde_json::to_vec(&spec)?)?;
        let runs = (0..n)
            .map(|i| runc_run(&runc_root, &b, &format!("plain-{i}")))
            .collect::<anyhow::Result<Vec<_>>>();
        umount(&rootfs)?;
        return runs;
    }
    for i in 0..n {
        let b = fresh_bundle(work, &format!("plain-ov-{i}"))?;
        let spec = plain_spec(&b.join("rootfs"))?;
        std::fs::write(b.join("config.json"), serde_json::to_vec(&spec)?)?;
        let t = Instant::now();
        mount_bundle_overlay(layer, &b)?;
        let run = runc_run(&runc_root, &b, &format!("plain-ov-{i}"));
        umount(&b.join("rootfs"))?;
        run?;
        times.push(t.elapsed());
        std::fs::remove_dir_all(&b)?;
    }
    Ok(times)
}
