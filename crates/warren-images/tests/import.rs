//! Import tests: a docker-save tar built in memory (always runs), and the
//! cached fixtures from `scripts/test-fixtures.sh` when present (docker-save,
//! OCI layout directory, OCI archive, multi-arch index, a corrupted blob).

use std::path::{Path, PathBuf};

use sha2::Digest as _;
use warren_images::*;

async fn store(dir: &Path) -> ImageStore {
    ImageStore::open(StoreOptions {
        root: dir.to_path_buf(),
        id_shift: IdShift::default(),
    })
    .await
    .unwrap()
}

fn sha(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

fn add(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, path, data).unwrap();
}

/// A legacy docker-save archive with one layer; `corrupt` flips the layer
/// so it no longer matches its name and diff id.
fn docker_save(corrupt: bool) -> Vec<u8> {
    let mut layer = tar::Builder::new(Vec::new());
    add(&mut layer, "hello.txt", b"hi");
    let layer = layer.into_inner().unwrap();
    let diff = sha(&layer);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["/hello"],"WorkingDir":"/w","User":"1000"}},"rootfs":{{"type":"layers","diff_ids":["sha256:{diff}"]}}}}"#
    );
    let cfg_hex = sha(config.as_bytes());
    let manifest = format!(
        r#"[{{"Config":"{cfg_hex}.json","RepoTags":["hello:v1"],"Layers":["{diff}/layer.tar"]}}]"#
    );
    let mut out = tar::Builder::new(Vec::new());
    add(&mut out, &format!("{cfg_hex}.json"), config.as_bytes());
    let mut l = layer.clone();
    if corrupt {
        l[0] ^= 1;
    }
    add(&mut out, &format!("{diff}/layer.tar"), &l);
    add(&mut out, "manifest.json", manifest.as_bytes());
    out.into_inner().unwrap()
}

#[tokio::test]
async fn imports_docker_save_and_rejects_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(&tmp.path().join("store")).await;
    let good = tmp.path().join("good.tar");
    std::fs::write(&good, docker_save(false)).unwrap();
    let imgs = s.import(&good, None, &NoProgress).await.unwrap();
    assert_eq!(imgs.len(), 1);
    let img = &imgs[0];
    assert_eq!(img.reference, "docker.io/library/hello:v1");
    assert_eq!(
        (
            img.config.cmd.clone(),
            img.config.working_dir.as_str(),
            img.config.user.as_str()
        ),
        (vec!["/hello".to_owned()], "/w", "1000")
    );
    let dirs = s.layer_dirs(img).await.unwrap();
    assert_eq!(std::fs::read(dirs[0].join("hello.txt")).unwrap(), b"hi");

    // The explicit tag wins.
    let imgs = s
        .import(&good, Some("mine/x:2"), &NoProgress)
        .await
        .unwrap();
    assert_eq!(imgs[0].reference, "docker.io/mine/x:2");
    assert_eq!(s.list().await.unwrap().len(), 2);

    // A corrupted layer is refused and nothing new is stored.
    let s2 = store(&tmp.path().join("store2")).await;
    let bad = tmp.path().join("bad.tar");
    std::fs::write(&bad, docker_save(true)).unwrap();
    let err = s2.import(&bad, None, &NoProgress).await.unwrap_err();
    assert!(matches!(err, ImportError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains("expected sha256:"), "{err}");
    assert!(s2.list().await.unwrap().is_empty());
    assert!(
        std::fs::read_dir(tmp.path().join("store2/layers"))
            .unwrap()
            .next()
            .is_none()
    );
    assert!(
        std::fs::read_dir(tmp.path().join("store2/tmp"))
            .unwrap()
            .next()
            .is_none()
    );

    let err = s2.import(tmp.path(), None, &NoProgress).await.unwrap_err();
    assert!(matches!(err, ImportError::UnknownFormat { .. }), "{err}");
}

fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("WARREN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/fixtures"));
    if dir.join("busybox/index.json").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: no fixtures at {} (run scripts/test-fixtures.sh)",
            dir.display()
        );
        None
    }
}

#[tokio::test]
async fn imports_fixtures() {
    let Some(f) = fixtures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let s = store(&tmp.path().join("store")).await;

    let saved = s
        .import(&f.join("busybox.docker-save.tar"), None, &NoProgress)
        .await
        .unwrap();
    assert_eq!(saved[0].reference, "docker.io/library/busybox:latest");
    assert!(
        s.layer_dirs(&saved[0]).await.unwrap()[0]
            .join("bin/busybox")
            .is_file()
    );

    let layout = s
        .import(
            &f.join("busybox"),
            Some("127.0.0.1:5000/bb:dir"),
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(layout[0].reference, "127.0.0.1:5000/bb:dir");
    assert_eq!(layout[0].config_digest, saved[0].config_digest);

    // Unnamed by the caller: the layout's ref.name tag under import/<short>.
    let z = s
        .import(&f.join("busybox-zstd"), None, &NoProgress)
        .await
        .unwrap();
    assert!(
        z[0].reference.starts_with("docker.io/import/") && z[0].reference.ends_with(":latest"),
        "{}",
        z[0].reference
    );
    assert!(
        s.layer_dirs(&z[0]).await.unwrap()[0]
            .join("bin/busybox")
            .is_file()
    );

    // OCI archive: the layout tarred.
    let archive = tmp.path().join("bb.oci.tar");
    let st = std::process::Command::new("tar")
        .arg("-C")
        .arg(f.join("busybox"))
        .arg("-cf")
        .arg(&archive)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let a = s
        .import(&archive, Some("archived"), &NoProgress)
        .await
        .unwrap();
    assert_eq!(a[0].reference, "docker.io/library/archived:latest");
    assert_eq!(a[0].digest, layout[0].digest);

    // Multi-arch layout: index.json has several tags (latest → index, amd64, arm64).
    let m = s
        .import(&f.join("multiarch"), None, &NoProgress)
        .await
        .unwrap();
    assert!(m.len() >= 2);
    assert!(m.iter().any(|i| i.digest == layout[0].digest));

    // A corrupted copy of a layer blob is refused.
    let bad = tmp.path().join("bad-layout");
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(f.join("busybox"))
        .arg(&bad)
        .status()
        .unwrap();
    assert!(st.success());
    let s2 = store(&tmp.path().join("store2")).await;
    let layer_hex = &layout[0].layers[0].digest[7..];
    let blob = bad.join("blobs/sha256").join(layer_hex);
    let mut bytes = std::fs::read(&blob).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    let err = s2.import(&bad, None, &NoProgress).await.unwrap_err();
    assert!(matches!(err, ImportError::DigestMismatch { .. }), "{err}");
    assert!(
        !tmp.path()
            .join("store2/content/blobs/sha256")
            .join(layer_hex)
            .exists()
    );
}
