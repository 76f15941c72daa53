//! Unpacker tests with hostile tars built byte by byte. Each test unpacks
//! into `<tmp>/layer` next to a sibling `<tmp>/outside` and checks that
//! nothing appeared outside the layer.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use tar::{EntryType, Header};

use super::*;

struct Fixture {
    _tmp: tempfile::TempDir,
    layer: PathBuf,
    outside: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let layer = tmp.path().join("layer");
    let outside = tmp.path().join("outside");
    fs::create_dir(&layer).unwrap();
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret"), b"secret").unwrap();
    Fixture {
        _tmp: tmp,
        layer,
        outside,
    }
}

impl Fixture {
    fn unpack(&self, tar: &[u8]) -> Result<UnpackStats, UnpackError> {
        unpack_layer(
            tar,
            &self.layer,
            None,
            IdShift::default(),
            UnpackLimits::default(),
        )
    }

    /// The sibling directory still holds exactly the untouched secret file,
    /// and nothing was created next to the layer or at absolute paths.
    fn assert_outside_untouched(&self) {
        let names: Vec<_> = fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("secret")]);
        let m = fs::symlink_metadata(self.outside.join("secret")).unwrap();
        assert_eq!((m.nlink(), m.uid(), m.len()), (1, 0, 6));
        let parent: Vec<_> = fs::read_dir(self.layer.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(parent.len(), 2, "unexpected siblings: {parent:?}");
    }
}

/// Appends an entry with raw name/link bytes; `tar::Builder`'s path
/// helpers would refuse the hostile ones.
fn raw(
    b: &mut tar::Builder<Vec<u8>>,
    path: &str,
    kind: EntryType,
    link: &str,
    data: &[u8],
    mode: u32,
) {
    let mut h = Header::new_gnu();
    {
        let old = h.as_old_mut();
        old.name[..path.len()].copy_from_slice(path.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

fn tar_of(f: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    f(&mut b);
    b.into_inner().unwrap()
}

fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
    raw(b, path, EntryType::Regular, "", data, 0o644);
}

fn is_refused(r: Result<UnpackStats, UnpackError>) -> bool {
    matches!(r, Err(UnpackError::UnsafeEntry { .. }))
}

#[test]
fn dotdot_is_refused() {
    let fx = fixture();
    for name in ["../outside/escape", "a/../../outside/escape", "./../escape"] {
        let t = tar_of(|b| file(b, name, b"x"));
        assert!(is_refused(fx.unpack(&t)), "{name}");
    }
    fx.assert_outside_untouched();
}

#[test]
fn absolute_paths_stay_inside() {
    let fx = fixture();
    let abs = format!("{}/escape", fx.outside.display());
    let t = tar_of(|b| {
        file(b, "/abs/escape", b"x");
        file(b, &abs, b"y");
    });
    fx.unpack(&t).unwrap();
    assert_eq!(fs::read(fx.layer.join("abs/escape")).unwrap(), b"x");
    assert!(fx.layer.join(abs.trim_start_matches('/')).is_file());
    fx.assert_outside_untouched();
}

#[test]
fn symlink_parent_is_never_followed() {
    let fx = fixture();
    let target = fx.outside.display().to_string();
    let t = tar_of(|b| {
        raw(b, "link", EntryType::Symlink, &target, b"", 0o777);
        file(b, "link/file", b"pwned");
    });
    assert!(is_refused(fx.unpack(&t)));
    fx.assert_outside_untouched();
    // The symlink itself is created as-is and left dangling-safe.
    assert_eq!(fs::read_link(fx.layer.join("link")).unwrap(), fx.outside);
}

#[test]
fn symlink_chain_and_whiteout_through_symlink_refused() {
    let fx = fixture();
    let target = fx.outside.display().to_string();
    let t = tar_of(|b| {
        raw(b, "b", EntryType::Symlink, &target, b"", 0o777);
        raw(b, "a", EntryType::Symlink, "b", b"", 0o777);
        file(b, "a/x", b"pwned");
    });
    assert!(is_refused(fx.unpack(&t)));
    let fx2 = fixture();
    let t = tar_of(|b| {
        raw(
            b,
            "evil",
            EntryType::Symlink,
            &fx2.outside.display().to_string(),
            b"",
            0o777,
        );
        file(b, "evil/.wh.secret", b"");
    });
    assert!(is_refused(fx2.unpack(&t)));
    let t = tar_of(|b| {
        raw(
            b,
            "evil2",
            EntryType::Symlink,
            &fx2.outside.display().to_string(),
            b"",
            0o777,
        );
        file(b, "evil2/.wh..wh..opq", b"");
    });
    assert!(is_refused(fx2.unpack(&t)));
    fx.assert_outside_untouched();
    fx2.assert_outside_untouched();
}

#[test]
fn directory_replaced_by_symlink_then_written_through() {
    let fx = fixture();
    let target = fx.outside.display().to_string();
    let t = tar_of(|b| {
        raw(b, "d/", EntryType::Directory, "", b"", 0o755);
        file(b, "d/keep", b"1");
        raw(b, "d", EntryType::Symlink, &target, b"", 0o777);
        file(b, "d/secret", b"pwned");
    });
    assert!(is_refused(fx.unpack(&t)));
    fx.assert_outside_untouched();
}

#[test]
fn hardlinks_must_stay_inside() {
    let fx = fixture();
    let secret = fx.outside.join("secret").display().to_string();
    let cases: Vec<Vec<u8>> = vec![
        tar_of(|b| raw(b, "h1", EntryType::Link, "../../outside/secret", b"", 0o644)),
        tar_of(|b| raw(b, "h2", EntryType::Link, "/etc/passwd", b"", 0o644)),
        tar_of(|b| raw(b, "h3", EntryType::Link, &secret, b"", 0o644)),
        tar_of(|b| {
            raw(b, "sl", EntryType::Symlink, &secret, b"", 0o777);
            raw(b, "h4", EntryType::Link, "sl", b"", 0o644);
        }),
        tar_of(|b| {
            raw(
                b,
                "dl",
                EntryType::Symlink,
                &fx.outside.display().to_string(),
                b"",
                0o777,
            );
            raw(b, "h5", EntryType::Link, "dl/secret", b"", 0o644);
        }),
    ];
    for (i, t) in cases.iter().enumerate() {
        assert!(is_refused(fx.unpack(t)), "case {i}");
    }
    fx.assert_outside_untouched();
    // A legitimate in-layer hardlink works and shares the inode.
    let fx = fixture();
    let t = tar_of(|b| {
        file(b, "bin/busybox", b"elf");
        raw(b, "bin/sh", EntryType::Link, "bin/busybox", b"", 0o755);
    });
    fx.unpack(&t).unwrap();
    let a = fs::metadata(fx.layer.join("bin/busybox")).unwrap();
    let b = fs::metadata(fx.layer.join("bin/sh")).unwrap();
    assert_eq!(a.ino(), b.ino());
}

#[test]
fn devices_and_fifos_are_skipped() {
    let fx = fixture();
    let t = tar_of(|b| {
        raw(b, "dev/null", EntryType::Char, "", b"", 0o666);
        raw(b, "dev/sda", EntryType::Block, "", b"", 0o660);
        raw(b, "run/fifo", EntryType::Fifo, "", b"", 0o600);
        file(b, "ok", b"1");
    });
    fx.unpack(&t).unwrap();
    assert!(fs::symlink_metadata(fx.layer.join("dev/null")).is_err());
    assert!(fs::symlink_metadata(fx.layer.join("dev/sda")).is_err());
    assert!(fs::symlink_metadata(fx.layer.join("run/fifo")).is_err());
    assert!(fx.layer.join("ok").is_file());
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let fx = fixture();
    let t = tar_of(|b| {
        raw(b, "etc/", EntryType::Directory, "", b"", 0o755);
        file(b, "etc/.wh.passwd", b"");
        file(b, "opaque/.wh..wh..opq", b"");
        file(b, "same", b"kept");
        file(b, ".wh.same", b"");
    });
    fx.unpack(&t).unwrap();
    let m = fs::symlink_metadata(fx.layer.join("etc/passwd")).unwrap();
    assert!(m.file_type().is_char_device());
    assert_eq!(m.rdev(), 0);
    assert_eq!((m.uid(), m.gid()), (100_000, 100_000));
    assert!(fs::symlink_metadata(fx.layer.join("etc/.wh.passwd")).is_err());
    assert_eq!(
        sys::lgetxattr(&fx.layer.join("opaque"), "trusted.overlay.opaque").unwrap(),
        b"y"
    );
    assert!(fs::symlink_metadata(fx.layer.join("opaque/.wh..wh..opq")).is_err());
    assert_eq!(fs::read(fx.layer.join("same")).unwrap(), b"kept");
}

#[test]
fn modes_owners_mtimes_and_replacement() {
    let fx = fixture();
    let t = tar_of(|b| {
        let mut h = Header::new_gnu();
        h.set_path("usr/bin/su").unwrap();
        h.set_entry_type(EntryType::Regular);
        h.set_size(2);
        h.set_mode(0o4755);
        h.set_uid(1000);
        h.set_gid(70_000);
        h.set_mtime(1_234_567_890);
        h.set_cksum();
        b.append(&h, &b"su"[..]).unwrap();
        raw(b, "dir/", EntryType::Directory, "", b"", 0o1777);
        file(b, "dir/f", b"1");
        raw(b, "dir", EntryType::Symlink, "elsewhere", b"", 0o777);
        raw(b, "x/", EntryType::Directory, "", b"", 0o700);
        file(b, "x", b"now a file");
        file(b, "y", b"old");
        file(b, "y", b"new");
        raw(b, "./", EntryType::Directory, "", b"", 0o755);
    });
    fx.unpack(&t).unwrap();
    let m = fs::symlink_metadata(fx.layer.join("usr/bin/su")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o4755);
    assert_eq!((m.uid(), m.gid()), (101_000, 165_534));
    assert_eq!(m.mtime(), 1_234_567_890);
    let parent = fs::symlink_metadata(fx.layer.join("usr")).unwrap();
    assert_eq!((parent.uid(), parent.mode() & 0o7777), (100_000, 0o755));
    assert_eq!(
        fs::read_link(fx.layer.join("dir")).unwrap(),
        PathBuf::from("elsewhere")
    );
    assert_eq!(fs::read(fx.layer.join("x")).unwrap(), b"now a file");
    assert_eq!(fs::read(fx.layer.join("y")).unwrap(), b"new");
    let root = fs::metadata(&fx.layer).unwrap();
    assert_eq!((root.uid(), root.mtime()), (100_000, 1_600_000_000));
}

#[test]
fn limits_and_long_paths() {
    let fx = fixture();
    let t = tar_of(|b| {
        for i in 0..3 {
            file(b, &format!("f{i}"), b"x");
        }
    });
    let r = unpack_layer(
        &t[..],
        &fx.layer,
        None,
        IdShift::default(),
        UnpackLimits {
            max_entries: 2,
            max_bytes: 100,
        },
    );
    assert!(matches!(
        r,
        Err(UnpackError::Limit {
            what: "entries",
            ..
        })
    ));
    let fx = fixture();
    let r = unpack_layer(
        &t[..],
        &fx.layer,
        None,
        IdShift::default(),
        UnpackLimits {
            max_entries: 10,
            max_bytes: 2,
        },
    );
    assert!(matches!(r, Err(UnpackError::Limit { what: "bytes", .. })));
    let fx = fixture();
    let long = "d/".repeat(2100) + "f";
    let t = tar_of(|b| {
        let mut h = Header::new_gnu();
        h.set_size(1);
        h.set_entry_type(EntryType::Regular);
        b.append_data(&mut h, &long, &b"x"[..]).unwrap();
    });
    let err = fx.unpack(&t).unwrap_err().to_string();
    assert!(err.contains("4096"), "{err}");
}

#[test]
fn gzip_zstd_and_diff_id() {
    use std::io::Write;
    let t = tar_of(|b| file(b, "hello", b"world"));
    let diff_id = Digest::of(&t);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&t).unwrap();
    let gz = gz.finish().unwrap();
    let zst =
        ruzstd::encoding::compress_to_vec(&t[..], ruzstd::encoding::CompressionLevel::Fastest);
    for blob in [&t, &gz, &zst] {
        let fx = fixture();
        unpack_layer(
            &blob[..],
            &fx.layer,
            Some(&diff_id),
            IdShift::default(),
            UnpackLimits::default(),
        )
        .unwrap();
        assert_eq!(fs::read(fx.layer.join("hello")).unwrap(), b"world");
    }
    let fx = fixture();
    let wrong = Digest::of(b"nope");
    let r = unpack_layer(
        &gz[..],
        &fx.layer,
        Some(&wrong),
        IdShift::default(),
        UnpackLimits::default(),
    );
    assert!(matches!(r, Err(UnpackError::DiffIdMismatch { .. })));
    // Corrupt compressed data is a read error, not a panic.
    let fx = fixture();
    let mut bad = gz.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    bad.truncate(mid + 4);
    assert!(
        unpack_layer(
            &bad[..],
            &fx.layer,
            Some(&diff_id),
            IdShift::default(),
            UnpackLimits::default()
        )
        .is_err()
    );
}
