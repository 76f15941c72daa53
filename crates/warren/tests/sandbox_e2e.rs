//! The walking skeleton end to end: pull from a local registry, create a
//! sandbox, run commands, move files, delete, and check nothing is left.

mod common;

use warren_api_types::{CreateSandboxRequest, ErrorCode, ExecRequest};
use warren_client::Client;

fn create_req(image: &str) -> CreateSandboxRequest {
    CreateSandboxRequest::new(image)
}

fn exec(cmd: &[&str]) -> ExecRequest {
    ExecRequest::new(cmd.iter().copied())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_lifecycle_exec_and_files() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let python = registry.push(&env.fixtures.join("python"), "latest", "python");
    let python_app = registry.push(&env.fixtures.join("python"), "app", "python");
    let daemon = common::Daemon::start(&env);
    let client = daemon.client();

    // Create from an image that is not local yet: it is pulled on the way.
    let mut req = create_req(&python);
    req.env.insert("GREETING".into(), "hello".into());
    req.labels.insert("suite".into(), "e2e".into());
    let sb = client.create_sandbox(&req).await.expect("create sandbox");
    assert_eq!(sb.state.as_str(), "running");
    assert!(sb.id.starts_with("sb-"));
    assert_eq!(sb.labels["suite"], "e2e");

    python_runs(&client, &sb.id).await;
    exit_codes_and_stderr(&client, &sb.id).await;
    env_and_cwd(&client, &sb.id).await;
    files_round_trip(&client, &sb.id).await;
    timeouts(&client, &sb.id).await;
    listed_and_fetched(&client, &sb.id).await;

    // The image's User and WorkingDir are the defaults for commands.
    let app = client
        .create_sandbox(&create_req(&python_app))
        .await
        .expect("create app sandbox");
    let out = client
        .exec(&app.id, &exec(&["sh", "-c", "id -un; pwd"]))
        .await
        .unwrap();
    assert_eq!(out.stdout, "app\n/home/app\n", "stderr: {}", out.stderr);
    let mut as_root = exec(&["id", "-u"]);
    as_root.user = Some("root".into());
    assert_eq!(client.exec(&app.id, &as_root).await.unwrap().stdout, "0\n");

    // Create-time workdir and user override the image's for every command.
    let mut custom = create_req(&python);
    custom.workdir = Some("/tmp".into());
    custom.user = Some("app".into());
    let custom = client
        .create_sandbox(&custom)
        .await
        .expect("create with workdir and user");
    assert_eq!(
        (custom.workdir.as_deref(), custom.user.as_deref()),
        (Some("/tmp"), Some("app"))
    );
    let out = client
        .exec(&custom.id, &exec(&["sh", "-c", "id -un; pwd"]))
        .await
        .unwrap();
    assert_eq!(out.stdout, "app\n/tmp\n", "stderr: {}", out.stderr);
    let mut relative = create_req(&python);
    relative.workdir = Some("tmp".into());
    let err = client.create_sandbox(&relative).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");
    assert!(err.to_string().contains("workdir"), "{err}");

    // Listing filters: label selector, state, image; a bad state is a 400 naming the field.
    use warren_client::SandboxQuery;
    let ids = |v: Vec<warren_api_types::Sandbox>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    let by_label = SandboxQuery {
        label: Some("suite=e2e".into()),
        ..SandboxQuery::default()
    };
    assert_eq!(
        ids(client.find_all_sandboxes(&by_label).await.unwrap()),
        vec![sb.id.clone()]
    );
    let by_image = SandboxQuery {
        image: Some(python_app.clone()),
        ..SandboxQuery::default()
    };
    assert_eq!(
        ids(client.find_all_sandboxes(&by_image).await.unwrap()),
        vec![app.id.clone()]
    );
    let running = SandboxQuery {
        state: Some("running".into()),
        ..SandboxQuery::default()
    };
    assert_eq!(client.find_all_sandboxes(&running).await.unwrap().len(), 3);
    let bogus = SandboxQuery {
        state: Some("sleeping".into()),
        ..SandboxQuery::default()
    };
    let err = client.find_all_sandboxes(&bogus).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");
    assert!(err.to_string().contains("state"), "{err}");
    let out = daemon.cli(&["sandbox", "ls", "--label", "suite=e2e", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");

    // Deleting leaves no mount, cgroup, directory or runc state behind.
    for id in [&sb.id, &app.id, &custom.id] {
        client.delete_sandbox(id).await.expect("delete");
        let err = client.get_sandbox(id).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::SandboxNotFound));
        assert!(
            common::mounts_containing(id).is_empty(),
            "mounts left: {:?}",
            common::mounts_containing(id)
        );
        assert!(
            common::cgroups_of(id).is_empty(),
            "cgroups left: {:?}",
            common::cgroups_of(id)
        );
        assert!(
            !daemon.state.join("sandboxes").join(id).exists(),
            "sandbox dir left"
        );
        assert!(
            !daemon.state.join("runc").join(id).exists(),
            "runc state left"
        );
    }
}

async fn python_runs(client: &Client, id: &str) {
    let out = client
        .exec(id, &exec(&["python3", "-c", "print(6*7)"]))
        .await
        .expect("exec python");
    assert_eq!(out.exit_code, 0, "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "42\n");
    assert_eq!(out.stderr, "");
}

async fn exit_codes_and_stderr(client: &Client, id: &str) {
    let out = client
        .exec(id, &exec(&["sh", "-c", "echo out; echo err >&2; exit 3"]))
        .await
        .unwrap();
    assert_eq!(out.exit_code, 3);
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
    let out = client.exec(id, &exec(&["false"])).await.unwrap();
    assert_eq!(out.exit_code, 1);
    // A program that does not exist is the caller's mistake: 400 naming it.
    let err = client
        .exec(id, &exec(&["/no/such/program"]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");
    assert!(err.to_string().contains("/no/such/program"), "{err}");
    let mut bad_cwd = exec(&["true"]);
    bad_cwd.cwd = Some("/no/such/dir".into());
    let err = client.exec(id, &bad_cwd).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");
}

async fn env_and_cwd(client: &Client, id: &str) {
    // Sandbox env from create, plus per-exec env, plus the image's PATH.
    let mut req = exec(&["sh", "-c", "echo $GREETING $EXTRA; pwd; echo $PATH"]);
    req.env.insert("EXTRA".into(), "world".into());
    req.cwd = Some("/tmp".into());
    let out = client.exec(id, &req).await.unwrap();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "hello world");
    assert_eq!(lines[1], "/tmp");
    assert!(lines[2].contains("/usr/bin"), "PATH: {}", lines[2]);
    // The hostname is the sandbox id.
    let out = client.exec(id, &exec(&["hostname"])).await.unwrap();
    assert_eq!(out.stdout.trim(), id);
}

async fn files_round_trip(client: &Client, id: &str) {
    let mut data: Vec<u8> = (0..=255u8).collect();
    data.extend((0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    client
        .write_file(id, "/tmp/deep/dir/blob.bin", data.clone())
        .await
        .expect("write file");
    let back = client
        .read_file(id, "/tmp/deep/dir/blob.bin")
        .await
        .expect("read file");
    assert!(back == data, "file bytes differ after a round trip");
    // The sandbox sees the same bytes.
    let out = client.exec(id, &exec(&["python3", "-c", "import sys;d=open('/tmp/deep/dir/blob.bin','rb').read();print(len(d), d[:3].hex())"])).await.unwrap();
    assert_eq!(out.stdout, format!("{} 000102\n", data.len()));
    // Empty file and overwrite.
    client
        .write_file(id, "/tmp/empty", Vec::new())
        .await
        .unwrap();
    assert!(client.read_file(id, "/tmp/empty").await.unwrap().is_empty());
    client
        .write_file(id, "/tmp/empty", b"now full".to_vec())
        .await
        .unwrap();
    assert_eq!(
        &client.read_file(id, "/tmp/empty").await.unwrap()[..],
        b"now full"
    );
    // Missing file → 404 with a stable code; relative path → 400.
    let err = client.read_file(id, "/tmp/nope").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::FileNotFound), "{err}");
    let err = client.read_file(id, "tmp/relative").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");
}

async fn timeouts(client: &Client, id: &str) {
    let mut req = exec(&["sh", "-c", "echo started; sleep 30"]);
    req.timeout_s = Some(1);
    let out = client.exec(id, &req).await.unwrap();
    assert!(out.timed_out);
    assert_eq!(out.exit_code, -1);
    assert_eq!(out.stdout, "started\n");
    assert!(
        out.duration_ms < 20_000,
        "timeout not enforced: {} ms",
        out.duration_ms
    );
}

async fn listed_and_fetched(client: &Client, id: &str) {
    let all = client.list_all_sandboxes().await.unwrap();
    assert!(all.iter().any(|s| s.id == id));
    let page = client.list_sandboxes(None, Some(1)).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let got = client.get_sandbox(id).await.unwrap();
    assert_eq!(got.memory_mb, 512);
    assert_eq!(got.cpu, 1.0);
}
