//! The S3 backend against a real S3 server on loopback (moto). Needs moto_server (installed
//! by `scripts/setup-host.sh --with-test-deps` at /opt/warren-test/moto; `WARREN_MOTO_SERVER`
//! overrides the path) and, for the sandbox tree, root.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use object_store::ObjectStoreExt;
use warren_archive::{Archive, ArchiveError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_round_trip_damage_and_interruption() {
    if !root_or_skip() {
        return;
    }
    let Some(moto) = Moto::start() else {
        return;
    };
    moto.create_bucket("warren-archive");
    let cfg = moto.config("warren-archive");
    let archive = Archive::open(&cfg).unwrap();
    let described = archive.describe();
    assert_eq!(
        described,
        format!(
            "s3://warren-archive ({}, region us-east-1)",
            moto.endpoint()
        )
    );
    assert!(!format!("{described} {cfg:?} {archive:?}").contains("warren-test-secret"));

    // The sandbox tree round-trips exactly through S3 too.
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    build_sandbox_tree(&src);
    let want = snapshot(&src);
    let key = "sandboxes/sb-2/fs.tar.zst";
    assert!(!archive.exists(key).await.unwrap());
    let info = archive.put_dir(key, &src, &|_| {}).await.unwrap();
    assert!(archive.exists(key).await.unwrap());
    let dest = tmp.path().join("restored");
    let total = AtomicU64::new(0);
    archive
        .get_dir(key, &dest, &|_, t| {
            total.store(t.unwrap(), Ordering::SeqCst)
        })
        .await
        .unwrap();
    assert_eq!(total.load(Ordering::SeqCst), info.stored_bytes);
    assert_same_tree(&want, &snapshot(&dest));
    assert!(allocated(&dest.join("disk.img")) < 4 << 20);

    // A damaged object (written behind warren's back) is refused; nothing appears.
    let raw = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("warren-archive")
        .with_endpoint(moto.endpoint())
        .with_region("us-east-1")
        .with_access_key_id("warren-test-key")
        .with_secret_access_key("warren-test-secret")
        .with_allow_http(true)
        .build()
        .unwrap();
    let (status, good) = moto
        .request("GET", &format!("/warren-archive/{key}"), b"")
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(good.len() as u64, info.stored_bytes);
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    for (what, body) in [
        ("damaged", &bad[..]),
        ("truncated", &good[..good.len() / 3]),
    ] {
        raw.put(
            &object_store::path::Path::from(key),
            bytes::Bytes::copy_from_slice(body).into(),
        )
        .await
        .unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        let err = archive
            .get_dir(key, &out.join("dest"), &|_, _| {})
            .await
            .expect_err(what);
        assert!(
            matches!(
                err,
                ArchiveError::ChecksumMismatch { .. } | ArchiveError::Corrupt { .. }
            ),
            "{what}: {err}"
        );
        assert!(list(&out).is_empty(), "{what}: left {:?}", list(&out));
    }

    archive.delete(key).await.unwrap();
    archive.delete(key).await.unwrap();
    assert!(!archive.exists(key).await.unwrap());

    // An upload dropped half-way leaves no object and no pending multipart upload.
    let big = tmp.path().join("big");
    std::fs::create_dir(&big).unwrap();
    for i in 0..3 {
        std::fs::write(big.join(format!("blob{i}")), noise(200 + i, 16 << 20)).unwrap();
    }
    let first_part = tokio::sync::Notify::new();
    let progress = |_| first_part.notify_one();
    tokio::select! {
        r = archive.put_dir("big", &big, &progress) => {
            panic!("upload finished first: {r:?}")
        }
        () = first_part.notified() => {}
    }
    assert!(!archive.exists("big").await.unwrap());
    eventually("multipart upload aborted", || {
        moto.pending_uploads("warren-archive") == 0
    });

    // Wrong credentials or bucket: a storage error naming the key, without the secret.
    let mut wrong = cfg.clone();
    if let warren_archive::ArchiveConfig::S3 { bucket, .. } = &mut wrong {
        *bucket = "no-such-bucket".to_owned();
    }
    let err = Archive::open(&wrong)
        .unwrap()
        .put_dir("k", &src, &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, ArchiveError::Storage { .. }), "{err}");
    let chain = format!("{:?} {}", err, error_chain(&err));
    assert!(chain.contains("no-such-bucket"), "{chain}");
    assert!(!chain.contains("warren-test-secret"), "{chain}");
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
