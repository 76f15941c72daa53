//! Pulls from a real local registry. Runs only when `WARREN_TEST_REGISTRY`
//! (e.g. `127.0.0.1:5099`) names a registry holding the fixtures from
//! `scripts/test-fixtures.sh` pushed as in `scripts/fixtures/README.md`
//! (busybox, busybox-zstd, python, multiarch, busybox-docker).

use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;

use warren_images::*;

#[derive(Default)]
struct Recorder(Mutex<Vec<PullEvent>>);

impl PullProgress for Recorder {
    fn event(&self, ev: PullEvent) {
        self.0.lock().unwrap().push(ev);
    }
}

impl Recorder {
    fn kinds(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|e| {
                serde_json::to_value(e).unwrap()["event"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

fn registry() -> Option<String> {
    let r = std::env::var("WARREN_TEST_REGISTRY").ok();
    if r.is_none() {
        eprintln!("skipping: set WARREN_TEST_REGISTRY=127.0.0.1:PORT to run registry pull tests");
    }
    r
}

async fn store(dir: &tempfile::TempDir) -> ImageStore {
    ImageStore::open(StoreOptions {
        root: dir.path().to_path_buf(),
        id_shift: IdShift::default(),
    })
    .await
    .unwrap()
}

fn count(dir: std::path::PathBuf) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[tokio::test]
async fn pull_busybox_cache_get_remove() {
    let Some(reg) = registry() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let s = store(&tmp).await;
    let rec = Recorder::default();
    let img = s
        .pull(&format!("{reg}/busybox"), &PullOptions::default(), &rec)
        .await
        .unwrap();
    assert_eq!(img.reference, format!("{reg}/busybox:latest"));
    assert_eq!(img.config.cmd, vec!["sh"]);
    assert!(img.config.env.iter().any(|e| e.starts_with("PATH=")));
    assert_eq!(img.layers.len(), 1);
    let kinds = rec.kinds();
    assert_eq!(kinds.first().map(String::as_str), Some("resolved"));
    assert!(kinds.contains(&"layer_started".to_owned()) && kinds.contains(&"unpacking".to_owned()));
    assert_eq!(kinds.last().map(String::as_str), Some("done"));

    let dirs = s.layer_dirs(&img).await.unwrap();
    let bb = std::fs::metadata(dirs[0].join("bin/busybox")).unwrap();
    assert_eq!(bb.uid(), 100_000);
    assert!(
        std::fs::symlink_metadata(dirs[0].join("bin/sh"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::metadata(dirs[0].join("home/app")).unwrap().uid(),
        101_000
    );

    // Pulling again reuses everything.
    let rec = Recorder::default();
    let again = s
        .pull(
            &format!("{reg}/busybox:latest"),
            &PullOptions::default(),
            &rec,
        )
        .await
        .unwrap();
    assert_eq!(again.digest, img.digest);
    assert!(rec.kinds().contains(&"layer_cached".to_owned()));
    assert!(!rec.kinds().contains(&"unpacking".to_owned()));

    // Lookups.
    assert_eq!(
        s.get(&img.digest).await.unwrap().unwrap().reference,
        img.reference
    );
    assert_eq!(
        s.get(&img.digest[..19]).await.unwrap().unwrap().digest,
        img.digest
    );
    assert_eq!(
        s.get(&img.config_digest[7..20])
            .await
            .unwrap()
            .unwrap()
            .digest,
        img.digest
    );
    assert!(s.get("docker.io/library/nothere").await.unwrap().is_none());

    // The index survives a reopen.
    let s2 = store(&tmp).await;
    assert_eq!(s2.list().await.unwrap().len(), 1);

    // Remove collects every blob and layer.
    s.remove(&img.reference).await.unwrap();
    assert!(s.list().await.unwrap().is_empty());
    assert_eq!(count(tmp.path().join("content/blobs/sha256")), 0);
    assert_eq!(count(tmp.path().join("layers")), 0);
    assert_eq!(
        s.remove(&img.reference).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn pull_zstd_docker_manifest_and_multiarch() {
    let Some(reg) = registry() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let s = store(&tmp).await;
    let z = s
        .pull(
            &format!("{reg}/busybox-zstd"),
            &PullOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap();
    assert!(z.layers[0].media_type.ends_with("zstd"));
    let d = s
        .pull(
            &format!("{reg}/busybox-docker"),
            &PullOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap();
    assert!(d.layers[0].media_type.starts_with("application/vnd.docker"));
    for img in [&z, &d] {
        let dirs = s.layer_dirs(img).await.unwrap();
        assert!(dirs[0].join("bin/busybox").is_file());
    }

    let amd = s
        .pull(
            &format!("{reg}/multiarch"),
            &PullOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap();
    let dirs = s.layer_dirs(&amd).await.unwrap();
    assert!(dirs[0].join("bin/busybox").is_file());
    let arm = PullOptions {
        platform: Platform {
            architecture: "arm64".into(),
            ..Platform::default()
        },
        ..PullOptions::default()
    };
    let arm_img = s
        .pull(&format!("{reg}/multiarch"), &arm, &NoProgress)
        .await
        .unwrap();
    assert_ne!(arm_img.digest, amd.digest);
    assert!(
        s.layer_dirs(&arm_img).await.unwrap()[0]
            .join("etc/arch")
            .is_file()
    );
    let s390 = PullOptions {
        platform: Platform {
            architecture: "s390x".into(),
            ..Platform::default()
        },
        ..PullOptions::default()
    };
    let err = s
        .pull(&format!("{reg}/multiarch"), &s390, &NoProgress)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("linux/s390x") && msg.contains("linux/amd64") && msg.contains("linux/arm64"),
        "{msg}"
    );

    let err = s
        .pull(
            &format!("{reg}/does-not-exist"),
            &PullOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = s
        .pull(
            &format!("{reg}/UPPER"),
            &PullOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap_err();
    assert!(err.is_invalid_reference(), "{err}");
}

#[tokio::test]
async fn pull_python_timing() {
    let Some(reg) = registry() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let s = store(&tmp).await;
    let t = std::time::Instant::now();
    let img = s
        .pull(
            &format!("{reg}/python"),
            &PullOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap();
    eprintln!(
        "pulled python ({} bytes compressed) in {:?}",
        img.size,
        t.elapsed()
    );
    let dirs = s.layer_dirs(&img).await.unwrap();
    assert!(dirs[0].join("usr/bin/python3").exists());
    assert_eq!(img.config.cmd, vec!["python3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pulls_share_one_layer() {
    let Some(reg) = registry() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let s = store(&tmp).await;
    let (a, b) = (s.clone(), s.clone());
    let (ra, rb) = (format!("{reg}/busybox"), format!("{reg}/busybox-docker"));
    let (x, y) = tokio::join!(
        async move { a.pull(&ra, &PullOptions::default(), &NoProgress).await },
        async move { b.pull(&rb, &PullOptions::default(), &NoProgress).await },
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x.layers[0].diff_id, y.layers[0].diff_id);
    // One shared unpacked layer, no temp dirs left.
    assert_eq!(count(tmp.path().join("layers")), 1);
}
