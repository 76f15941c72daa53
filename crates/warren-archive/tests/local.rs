//! The local-directory backend: exact round trip of a sandbox filesystem, corrupt and
//! truncated objects, interrupted uploads, bad keys. Needs root (device nodes, chown,
//! `trusted.*` xattrs) and GNU tar.

mod common;

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use warren_archive::{Archive, ArchiveConfig, ArchiveError, TarOp};

fn local(dir: &Path) -> Archive {
    Archive::open(&ArchiveConfig::Local {
        dir: dir.to_owned(),
    })
    .unwrap()
}

/// Records progress calls and checks they only grow.
#[derive(Default)]
struct Progress {
    calls: Mutex<Vec<(u64, Option<u64>)>>,
}

impl Progress {
    fn put(&self, done: u64) {
        self.record(done, None);
    }
    fn get(&self, done: u64, total: Option<u64>) {
        self.record(done, total);
    }
    fn record(&self, done: u64, total: Option<u64>) {
        let mut calls = self.calls.lock().unwrap();
        if let Some((last, _)) = calls.last() {
            assert!(done >= *last, "progress went back: {last} -> {done}");
        }
        calls.push((done, total));
    }
    fn last(&self) -> Option<(u64, Option<u64>)> {
        self.calls.lock().unwrap().last().copied()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_tree_round_trips_exactly() {
    if !root_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    build_sandbox_tree(&src);
    let want = snapshot(&src);

    let store_dir = tmp.path().join("archive");
    let archive = local(&store_dir);
    assert_eq!(archive.describe(), format!("local:{}", store_dir.display()));
    let key = "sandboxes/sb-1/fs.tar.zst";
    assert!(!archive.exists(key).await.unwrap());

    let put = Progress::default();
    let info = archive.put_dir(key, &src, &|n| put.put(n)).await.unwrap();
    assert_eq!(put.last(), Some((info.stored_bytes, None)));
    assert_eq!(info.sha256.len(), 64);
    let object = store_dir.join(key);
    assert_eq!(std::fs::metadata(&object).unwrap().len(), info.stored_bytes);
    // The sparse image's 1 GiB of holes is neither stored nor even counted.
    assert!(info.source_bytes < 8 << 20, "{info:?}");
    assert!(info.stored_bytes < 4 << 20, "{info:?}");
    assert!(archive.exists(key).await.unwrap());
    // The source is untouched (the socket is still there, tar only skipped it).
    assert_same_tree(&want, &snapshot(&src));

    let dest = tmp.path().join("restored/sb-1");
    let get = Progress::default();
    archive
        .get_dir(key, &dest, &|d, t| get.get(d, t))
        .await
        .unwrap();
    assert_eq!(
        get.last(),
        Some((info.stored_bytes, Some(info.stored_bytes)))
    );
    assert_same_tree(&want, &snapshot(&dest));
    let img = allocated(&dest.join("disk.img"));
    assert!(img < 4 << 20, "restored sparse image allocates {img} bytes");
    // Nothing left beside the destination.
    assert_eq!(list(&tmp.path().join("restored")), ["sb-1"]);

    // A second restore to the same place is refused and changes nothing.
    match archive.get_dir(key, &dest, &|_, _| {}).await {
        Err(ArchiveError::DestExists { dest: d, .. }) => assert_eq!(d, dest),
        other => panic!("restore over an existing directory: {other:?}"),
    }
    assert_same_tree(&want, &snapshot(&dest));

    // The object is an ordinary .tar.zst (header and trailer are skippable frames), when zstd
    // is installed to check.
    if std::process::Command::new("zstd")
        .arg("--version")
        .output()
        .is_ok()
    {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("zstd -dc < \"$0\" | tar -tf - | grep -c .")
            .arg(&object)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let count: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        // Every entry but the root and the socket (in the manifest) is a tar member.
        assert!(
            count >= want.len() - 2,
            "{count} tar members for {} entries",
            want.len()
        );
    }

    archive.delete(key).await.unwrap();
    assert!(!archive.exists(key).await.unwrap());
    archive.delete(key).await.unwrap(); // idempotent
    match archive
        .get_dir(key, &tmp.path().join("gone"), &|_, _| {})
        .await
    {
        Err(ArchiveError::NotFound { key: k, .. }) => assert_eq!(k, key),
        other => panic!("get of a deleted key: {other:?}"),
    }
    assert!(!tmp.path().join("gone").exists());
}

/// A small tree for the failure tests (no root needed to build it).
fn small_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("a"), noise(7, 300_000)).unwrap();
    std::fs::write(dir.join("sub/b"), b"hello\n".repeat(10_000)).unwrap();
}

/// Restores `key` and expects an error; checks no destination and no leftovers appeared.
async fn expect_bad_restore(archive: &Archive, key: &str, parent: &Path) -> ArchiveError {
    let dest = parent.join("dest");
    let err = archive
        .get_dir(key, &dest, &|_, _| {})
        .await
        .expect_err("restore of a damaged archive succeeded");
    assert!(!dest.exists(), "{err}: destination exists");
    assert!(
        list(parent).is_empty(),
        "{err}: left behind {:?}",
        list(parent)
    );
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_and_truncated_objects_are_refused() {
    if !root_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    small_tree(&src);
    let store_dir = tmp.path().join("archive");
    let archive = local(&store_dir);
    let info = archive.put_dir("k", &src, &|_| {}).await.unwrap();
    let object = store_dir.join("k");
    let good = std::fs::read(&object).unwrap();
    let parent = tmp.path().join("out");
    std::fs::create_dir(&parent).unwrap();

    // A flipped bit in the recorded checksum: the data is fine, the object is not.
    let mut bad = good.clone();
    *bad.last_mut().unwrap() ^= 1;
    std::fs::write(&object, &bad).unwrap();
    match expect_bad_restore(&archive, "k", &parent).await {
        ArchiveError::ChecksumMismatch {
            key,
            expected,
            actual,
        } => {
            assert_eq!(key, "k");
            assert_eq!(actual, info.sha256);
            assert_ne!(expected, actual);
        }
        other => panic!("wrong error for a bad checksum: {other}"),
    }

    // A flipped bit in the compressed data.
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    std::fs::write(&object, &bad).unwrap();
    let err = expect_bad_restore(&archive, "k", &parent).await;
    assert!(
        matches!(err, ArchiveError::ChecksumMismatch { .. }),
        "wrong error for damaged data: {err}"
    );

    // Truncated: half of it, and all but the last byte.
    for len in [good.len() / 2, good.len() - 1] {
        std::fs::write(&object, &good[..len]).unwrap();
        let err = expect_bad_restore(&archive, "k", &parent).await;
        assert!(
            matches!(err, ArchiveError::Corrupt { .. }),
            "wrong error for an object truncated to {len}: {err}"
        );
        assert!(err.to_string().contains("archive k is corrupt"), "{err}");
    }

    // Something else stored under the key.
    std::fs::write(
        &object,
        b"not an archive at all, but long enough to have a trailer......",
    )
    .unwrap();
    let err = expect_bad_restore(&archive, "k", &parent).await;
    assert!(matches!(err, ArchiveError::Corrupt { .. }), "{err}");

    // And the intact object still restores.
    std::fs::write(&object, &good).unwrap();
    archive
        .get_dir("k", &parent.join("dest"), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(parent.join("dest/a")).unwrap(),
        noise(7, 300_000)
    );
}

/// A directory large enough for several upload parts (incompressible).
fn big_tree(dir: &Path, mib: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..mib / 16 {
        std::fs::write(
            dir.join(format!("blob{i}")),
            noise(100 + i as u64, 16 << 20),
        )
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_upload_leaves_no_object() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    big_tree(&src, 64);
    let store_dir = tmp.path().join("archive");
    let archive = local(&store_dir);

    let first_part = tokio::sync::Notify::new();
    let uploaded = AtomicU64::new(0);
    let progress = |n| {
        uploaded.store(n, Ordering::SeqCst);
        first_part.notify_one();
    };
    tokio::select! {
        r = archive.put_dir("big/one", &src, &progress) => panic!("upload finished first: {r:?}"),
        () = first_part.notified() => {}
    }
    let done = uploaded.load(Ordering::SeqCst);
    assert!(done > 0 && done < 64 << 20, "{done}");
    assert!(!archive.exists("big/one").await.unwrap());
    // The staging file goes too (removed in the background).
    eventually("staging file removed", || {
        !store_dir.join("big").exists() || list(&store_dir.join("big")).is_empty()
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_restore_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    big_tree(&src, 64);
    let archive = local(&tmp.path().join("archive"));
    archive.put_dir("big", &src, &|_| {}).await.unwrap();

    let out = tmp.path().join("out");
    let part_way = tokio::sync::Notify::new();
    let progress = |done, _| {
        if done > 16 << 20 {
            part_way.notify_one();
        }
    };
    let dest = out.join("dest");
    tokio::select! {
        r = archive.get_dir("big", &dest, &progress) => {
            panic!("restore finished first: {r:?}")
        }
        () = part_way.notified() => {}
    }
    // The unpacker notices, stops tar and removes its temporary directory.
    eventually("temporary directory removed", || list(&out).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_failing_half_way_leaves_the_old_object() {
    let tmp = tempfile::tempdir().unwrap();
    let store_dir = tmp.path().join("archive");
    let archive = local(&store_dir);
    let old = tmp.path().join("old");
    small_tree(&old);
    archive.put_dir("k", &old, &|_| {}).await.unwrap();

    let src = tmp.path().join("src");
    big_tree(&src, 64);
    // When the first part is uploaded, tar has read a part or two of the 64 MiB (back-pressure:
    // a few MiB are buffered on the way): deleting the files makes tar fail on those it has
    // not reached yet.
    let cut = std::sync::Once::new();
    let progress = |_| {
        cut.call_once(|| {
            for i in 0..4 {
                std::fs::remove_file(src.join(format!("blob{i}"))).unwrap();
            }
        })
    };
    let err = archive.put_dir("k", &src, &progress).await.unwrap_err();
    match &err {
        ArchiveError::Tar {
            key,
            op: TarOp::Create,
            stderr,
            ..
        } => {
            assert_eq!(key, "k");
            assert!(stderr.contains("removed before we read it"), "{err}");
        }
        other => panic!("wrong error: {other}"),
    }
    assert!(cut.is_completed());
    // The old archive is still there, intact, and nothing else.
    eventually("staging file removed", || list(&store_dir) == ["k"]);
    let dest = tmp.path().join("dest");
    archive.get_dir("k", &dest, &|_, _| {}).await.unwrap();
    assert_eq!(std::fs::read(dest.join("a")).unwrap(), noise(7, 300_000));
}

#[tokio::test]
async fn bad_keys_are_rejected_before_any_io() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = local(tmp.path());
    let dir = tmp.path();
    for key in [
        "", "/abs", "../up", "a/../b", "a//b", "a/", "sp ace", "x#1", "ü",
    ] {
        let check = |r: Result<(), ArchiveError>| match r {
            Err(ArchiveError::InvalidKey { key: k, reason }) => {
                assert_eq!(k, key);
                assert!(!reason.is_empty());
            }
            other => panic!("{key:?}: {other:?}"),
        };
        check(archive.put_dir(key, dir, &|_| {}).await.map(|_| ()));
        check(archive.get_dir(key, &dir.join("d"), &|_, _| {}).await);
        check(archive.delete(key).await);
        check(archive.exists(key).await.map(|_| ()));
    }
    assert!(list(tmp.path()).is_empty());
}

#[tokio::test]
async fn missing_source_directory_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = local(&tmp.path().join("archive"));
    let missing = tmp.path().join("nope");
    match archive.put_dir("k", &missing, &|_| {}).await {
        Err(e @ ArchiveError::Source { .. }) => {
            assert!(e.to_string().contains("nope"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!archive.exists("k").await.unwrap());
}
