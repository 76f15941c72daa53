//! Images through the daemon: pulls of every layer format from a real
//! registry, digest verification, and imports of archives and layouts.

mod common;

use warren_api_types::{CreateSandboxRequest, ErrorCode, ExecRequest, PullEvent, PullRequest};

fn pull(reference: &str) -> PullRequest {
    PullRequest {
        reference: reference.to_owned(),
        insecure: false,
        username: None,
        password: None,
    }
}

async fn echo_in(client: &warren_client::Client, image: &str) -> String {
    let mut req = CreateSandboxRequest::new(image);
    req.memory_mb = Some(64);
    let sb = client
        .create_sandbox(&req)
        .await
        .unwrap_or_else(|e| panic!("create from {image}: {e}"));
    let exec = ExecRequest::new(["sh", "-c", "echo ok; uname -m"]);
    let out = client.exec(&sb.id, &exec).await.unwrap();
    client.delete_sandbox(&sb.id).await.unwrap();
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_verify_and_imports() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let fx = &env.fixtures;
    let gzip = registry.push(&fx.join("busybox"), "latest", "busybox");
    let zstd = registry.push(&fx.join("busybox-zstd"), "latest", "busybox-zstd");
    let multi = registry.push_with(&fx.join("multiarch"), "latest", "multiarch", &["--all"]);
    let daemon = common::Daemon::start(&env);
    let client = daemon.client();

    // gzip: progress events arrive in order and end with the stored image.
    let mut events = Vec::new();
    let image = client
        .pull_image(&pull(&gzip), |ev| events.push(ev.clone()))
        .await
        .expect("pull gzip");
    assert_eq!(image.reference, gzip);
    assert!(image.digest.starts_with("sha256:"));
    assert!(
        matches!(events.first(), Some(PullEvent::Resolved { layers: 1, .. })),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, PullEvent::LayerDone { .. })),
        "{events:?}"
    );
    // A second pull finds the layer cached.
    let mut again = Vec::new();
    client
        .pull_image(&pull(&gzip), |ev| again.push(ev.clone()))
        .await
        .unwrap();
    assert!(
        again
            .iter()
            .any(|e| matches!(e, PullEvent::LayerCached { .. })),
        "{again:?}"
    );
    assert_eq!(echo_in(&client, &gzip).await, "ok\nx86_64\n");

    // zstd layers.
    client
        .pull_image(&pull(&zstd), |_| {})
        .await
        .expect("pull zstd");
    assert_eq!(echo_in(&client, &zstd).await, "ok\nx86_64\n");

    // A multi-arch index resolves to linux/amd64: the same manifest as busybox.
    let m = client
        .pull_image(&pull(&multi), |_| {})
        .await
        .expect("pull index");
    assert_eq!(
        m.digest, image.digest,
        "index must resolve to the amd64 (busybox) manifest"
    );

    // A blob whose bytes do not match its digest fails clearly and stores nothing.
    let bad = registry.push(&fx.join("python"), "latest", "corrupt");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            fx.join("python/blobs/sha256")
                .join(python_manifest_digest(fx).strip_prefix("sha256:").unwrap()),
        )
        .unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap().to_owned();
    let blob = registry.blob_path(&layer);
    let mut bytes = std::fs::read(&blob).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    let err = client
        .pull_image(&pull(&bad), |_| {})
        .await
        .expect_err("corrupt blob must fail");
    let msg = err.to_string();
    assert!(
        msg.contains(&layer) || msg.contains("digest"),
        "error should name the digest: {msg}"
    );
    let images = client.list_images().await.unwrap();
    assert!(
        !images.iter().any(|i| i.reference == bad),
        "nothing stored for a corrupt pull"
    );
    let blobs_dir = daemon.state.join("content/blobs/sha256");
    assert!(
        !blobs_dir
            .join(layer.strip_prefix("sha256:").unwrap())
            .exists(),
        "corrupt blob was stored"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&blobs_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() != 64)
        .collect();
    assert!(
        leftovers.is_empty(),
        "temp files left in the blob store: {leftovers:?}"
    );

    // Unknown image in the registry → 404 code.
    let err = client
        .pull_image(&pull(&format!("{}/absent:1", registry.addr)), |_| {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::ImageNotFound), "{err}");
    let err = client
        .pull_image(&pull("UPPER/Case"), |_| {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");

    // Import a docker-save tarball and an OCI layout directory through the CLI.
    let out = daemon.cli(&[
        "image",
        "import",
        fx.join("busybox.docker-save.tar").to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "import docker-save: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let imported: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(imported["reference"], "docker.io/library/busybox:latest");
    assert_eq!(echo_in(&client, "busybox").await, "ok\nx86_64\n");
    let out = daemon.cli(&[
        "image",
        "import",
        fx.join("busybox-zstd").to_str().unwrap(),
        "--tag",
        "local/bb:zstd",
    ]);
    assert!(
        out.status.success(),
        "import layout: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(echo_in(&client, "local/bb:zstd").await, "ok\nx86_64\n");

    // Removing images leaves the stores empty again.
    for i in client.list_images().await.unwrap() {
        client
            .remove_image(&i.reference)
            .await
            .unwrap_or_else(|e| panic!("rm {}: {e}", i.reference));
    }
    assert!(client.list_images().await.unwrap().is_empty());
    let layers: Vec<_> = std::fs::read_dir(daemon.state.join("layers"))
        .unwrap()
        .flatten()
        .collect();
    assert!(
        layers.is_empty(),
        "layers left after removing every image: {layers:?}"
    );
}

fn python_manifest_digest(fx: &std::path::Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fx.join("python/index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "latest")
        .expect("python:latest in the layout")["digest"]
        .as_str()
        .unwrap()
        .to_owned()
}
