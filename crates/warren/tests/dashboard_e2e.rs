//! The web dashboard end to end: a real daemon, Debian's headless Chromium driven by
//! `playwright-core` (tests/dashboard/e2e.mjs): sign in, create a sandbox from the form (and see
//! the API's message for bad input), a terminal (`echo hello`), the file browser (drag-and-drop
//! and picker uploads, edit, download, then `cat` in the terminal), pause/resume seen live in
//! the table, snapshot + branch ×3 + the lineage tree, a sandbox from a tree node, the other
//! pages, sign-out. Screenshots of each page land in `target/dashboard-e2e/`.
//! Afterwards the test checks through the API that what the browser did really happened.

mod common;

use std::process::Command;

use common::clients;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_headless_chromium() {
    let Some(env) = common::env() else { return };
    let Some(node_modules) = clients::node_modules() else {
        return;
    };
    for tool in ["node", "chromium"] {
        assert!(
            common::which(tool).is_some(),
            "{tool} is not installed (scripts/setup-host.sh --with-test-deps)"
        );
    }
    let registry = common::Registry::start();
    let image = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let daemon = common::Daemon::start(&env);
    let root = clients::repo_root();
    let shots = root.join("target/dashboard-e2e");

    let mut cmd = Command::new("node");
    cmd.arg(root.join("tests/dashboard/e2e.mjs"))
        .env("WARREN_URL", &daemon.url)
        .env("WARREN_KEY", common::TEST_KEY)
        .env("WARREN_IMAGE", &image)
        .env("WARREN_NODE_MODULES", &node_modules)
        .env("WARREN_SHOTS", &shots);
    let out = clients::run_ok(cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result: serde_json::Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|j| serde_json::from_str(j).unwrap())
        .expect("the script reports its result");
    let id = result["sandbox"].as_str().unwrap();

    // What the browser did, seen through the API.
    let client = daemon.client();
    let sb = client.get_sandbox(id).await.unwrap();
    assert_eq!(sb.memory_mb, 128, "the form's memory");
    assert_eq!(sb.labels.get("team").map(String::as_str), Some("ui"));
    let edited = client.read_file(id, "/tmp/picked.txt").await.unwrap();
    assert_eq!(&edited[..], b"picked and edited\n");
    let snaps = client.list_all_snapshots(None).await.unwrap();
    let named = snaps
        .iter()
        .find(|s| s.name.as_deref() == Some("ui-base"))
        .expect("the snapshot taken in the browser");
    assert_eq!(named.source_sandbox.as_deref(), Some(id));
    let all = client.list_all_sandboxes().await.unwrap();
    let from_named = all
        .iter()
        .filter(|s| s.parent_snapshot.as_deref() == Some(named.id.as_str()))
        .count();
    assert_eq!(from_named, 1, "one sandbox made from the tree node");
    let branches = snaps
        .iter()
        .filter(|s| s.source_sandbox.as_deref() == Some(id) && s.id != named.id)
        .map(|s| {
            all.iter()
                .filter(|b| b.parent_snapshot.as_deref() == Some(s.id.as_str()))
                .count()
        })
        .collect::<Vec<_>>();
    assert_eq!(
        branches,
        vec![3],
        "one branch snapshot with three sandboxes"
    );
    for name in ["signin", "terminal", "files", "snapshots", "sandboxes"] {
        assert!(
            shots.join(format!("{name}.png")).exists(),
            "screenshot {name}"
        );
    }
}
