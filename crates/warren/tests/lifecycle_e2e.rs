//! Many sandboxes at once, and nothing left behind: 50 create/delete cycles
//! leave no mount, loop device, cgroup, directory, runc state or process; then a bounded
//! load (50 concurrent creates, 200 concurrent execs) runs with zero errors.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use warren_api_types::{CreateSandboxRequest, ExecRequest};
use warren_client::Client;

/// Everything a sandbox leaves on the host, as names, so a leak is visible in a diff.
fn host_footprint(state: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let state_s = state.to_string_lossy().into_owned();
    for m in common::mounts_containing(&state_s) {
        out.insert(format!("mount {m}"));
    }
    for dir in ["sandboxes", "runc"] {
        if let Ok(rd) = std::fs::read_dir(state.join(dir)) {
            for e in rd.flatten() {
                out.insert(format!("{dir}/{}", e.file_name().to_string_lossy()));
            }
        }
    }
    // cgroups named after sandboxes, in every hierarchy.
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        for h in rd.flatten() {
            for parent in [
                h.path().join("warren"),
                Path::new("/sys/fs/cgroup/warren").to_path_buf(),
            ] {
                if let Ok(rd) = std::fs::read_dir(&parent) {
                    for e in rd.flatten().filter(|e| e.path().is_dir()) {
                        out.insert(format!("cgroup {}", e.path().display()));
                    }
                }
            }
        }
    }
    // Loop devices backing sandboxes' disks (quotas).
    if let Ok(rd) = std::fs::read_dir("/sys/block") {
        for e in rd.flatten() {
            let backing = std::fs::read_to_string(e.path().join("loop/backing_file"));
            if let Ok(b) = backing
                && b.contains(&state_s)
            {
                let name = e.file_name().to_string_lossy().into_owned();
                out.insert(format!("loop device {name}: {}", b.trim()));
            }
        }
    }
    // Processes in a sandbox cgroup.
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(cgroup) = std::fs::read_to_string(e.path().join("cgroup")) else {
                continue;
            };
            // A killed sandbox's PID 1 is reparented to the host's init, which reaps it
            // in its own time (some inits lazily): zombies are not leaks warren owns.
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            if stat
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
            {
                continue;
            }
            if let Some(line) = cgroup.lines().find(|l| l.contains("/warren/sb-")) {
                let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                out.insert(format!("process {name}: {cmd} in {line}"));
            }
        }
    }
    out
}

fn busybox_req(image: &str) -> CreateSandboxRequest {
    let mut req = CreateSandboxRequest::new(image);
    req.memory_mb = Some(32);
    req.cpu = Some(0.2);
    req.pids_limit = Some(64);
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_leaks_and_bounded_load() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let busybox = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let daemon = common::Daemon::start(&env);
    let client = daemon.client();
    // Warm the image so the cycles measure sandboxes, not the pull.
    let warm = client.create_sandbox(&busybox_req(&busybox)).await.unwrap();
    client.delete_sandbox(&warm.id).await.unwrap();

    // Other test files may run sandboxes of their own; only this daemon's state counts,
    // and cgroups/processes are compared by set difference.
    let before = host_footprint(&daemon.state);
    for i in 0..50 {
        let sb = client
            .create_sandbox(&busybox_req(&busybox))
            .await
            .unwrap_or_else(|e| panic!("create {i}: {e}"));
        let out = client
            .exec(&sb.id, &ExecRequest::new(["true"]))
            .await
            .unwrap();
        assert_eq!(out.exit_code, 0);
        client
            .delete_sandbox(&sb.id)
            .await
            .unwrap_or_else(|e| panic!("delete {i}: {e}"));
    }
    let after = host_footprint(&daemon.state);
    let leaked: Vec<_> = after.difference(&before).collect();
    assert!(
        leaked.is_empty(),
        "50 create/delete cycles leaked: {leaked:#?}"
    );

    load(&client, &busybox).await;
    let end = host_footprint(&daemon.state);
    let leaked: Vec<_> = end.difference(&before).collect();
    assert!(leaked.is_empty(), "the load left behind: {leaked:#?}");
    assert!(client.list_all_sandboxes().await.unwrap().is_empty());
}

/// 50 concurrent creates, then 200 concurrent execs across them, then 50 concurrent deletes:
/// zero errors. Bounded in count; each call has the client's own timeouts.
async fn load(client: &Client, image: &str) {
    let client = Arc::new(client.clone());
    let creates = (0..50).map(|_| {
        let client = client.clone();
        let req = busybox_req(image);
        tokio::spawn(async move { client.create_sandbox(&req).await })
    });
    let mut ids = Vec::new();
    for (i, t) in creates.collect::<Vec<_>>().into_iter().enumerate() {
        ids.push(
            t.await
                .unwrap()
                .unwrap_or_else(|e| panic!("concurrent create {i}: {e}"))
                .id,
        );
    }
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        50,
        "ids are unique"
    );

    let execs = (0..200).map(|i| {
        let client = client.clone();
        let id = ids[i % ids.len()].clone();
        tokio::spawn(async move {
            let out = client
                .exec(&id, &ExecRequest::new(["sh", "-c", &format!("echo {i}")]))
                .await?;
            Ok::<_, warren_client::ClientError>((i, out))
        })
    });
    for t in execs.collect::<Vec<_>>() {
        let (i, out) = t
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("concurrent exec: {e}"));
        assert_eq!(
            (out.exit_code, out.stdout.trim()),
            (0, i.to_string().as_str())
        );
    }

    let deletes = ids.into_iter().map(|id| {
        let client = client.clone();
        tokio::spawn(async move { client.delete_sandbox(&id).await.map(|()| id) })
    });
    for t in deletes.collect::<Vec<_>>() {
        t.await
            .unwrap()
            .unwrap_or_else(|e| panic!("concurrent delete: {e}"));
    }
}
