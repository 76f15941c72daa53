//! Test support: a directory holding everything a sandbox filesystem can (built as root), a
//! snapshot of a tree that compares everything that must round-trip, and a real S3 server
//! (moto) on loopback.
//!
//! Tests that need root or moto print why and pass without them, unless
//! `WARREN_REQUIRE_E2E=1` (set by `scripts/test.sh`), where a missing piece is a failure.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::stat::{Mode, SFlag, UtimensatFlags, mknod, utimensat};
use nix::sys::time::TimeSpec;
use sha2::{Digest, Sha256};

/// Says why a test cannot run: fails under `WARREN_REQUIRE_E2E=1`, else prints and returns.
pub fn cannot_run(reason: &str) {
    if std::env::var("WARREN_REQUIRE_E2E").is_ok_and(|v| v == "1") {
        panic!("warren-archive test cannot run: {reason} (run scripts/test.sh)");
    }
    eprintln!("SKIPPED: {reason} (run scripts/test.sh)");
}

/// Whether we are root (needed to create device nodes, chown, set `trusted.*` xattrs).
pub fn root_or_skip() -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        cannot_run("not root");
    }
    root
}

/// Deterministic incompressible bytes.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("no NUL in path")
}

/// `lsetxattr(2)`.
pub fn set_xattr(path: &Path, name: &str, value: &[u8]) {
    let (p, n) = (cpath(path), CString::new(name).unwrap());
    // SAFETY: both strings are NUL-terminated and live across the call; `value` is a valid
    // buffer of `value.len()` bytes.
    let rc = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(
        rc,
        0,
        "setxattr {name} on {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// All extended attributes of `path` (not following a symlink).
pub fn xattrs(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let p = cpath(path);
    let mut names = vec![0u8; 64 * 1024];
    // SAFETY: `p` is NUL-terminated; `names` is a writable buffer of the given length.
    let n = unsafe { libc::llistxattr(p.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    assert!(
        n >= 0,
        "listxattr {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    names.truncate(n as usize);
    let mut out = BTreeMap::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let cname = CString::new(name).unwrap();
        let mut value = vec![0u8; 64 * 1024];
        // SAFETY: as above; `value` is a writable buffer of the given length.
        let len = unsafe {
            libc::lgetxattr(
                p.as_ptr(),
                cname.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        assert!(
            len >= 0,
            "getxattr {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
        value.truncate(len as usize);
        out.insert(String::from_utf8_lossy(name).into_owned(), value);
    }
    out
}

/// A POSIX ACL in the kernel's xattr format (`system.posix_acl_*`).
fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut out = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    out
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Size of the sparse disk image in [`build_sandbox_tree`].
pub const SPARSE_SIZE: u64 = 1 << 30;

/// Fills `root` (an existing empty directory) with what a stopped sandbox's upper dir and
/// CRIU images hold, owned by shifted uids: whiteouts, an opaque dir, device nodes, a FIFO,
/// a socket, setuid and sticky bits, xattrs in several namespaces, ACLs, hard links, dangling
/// and absolute symlinks, a 1 GiB sparse image holding ~200 KiB, odd file names, mtimes with
/// nanoseconds. Needs root.
pub fn build_sandbox_tree(root: &Path) {
    let u = 100_000;
    let mk = |rel: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(&p).unwrap();
        p
    };
    let write = |rel: &str, data: &[u8], mode: u32, uid: u32, gid: u32| {
        let p = root.join(rel);
        std::fs::write(&p, data).unwrap();
        chown(&p, uid, gid);
        chmod(&p, mode);
        p
    };
    for d in [
        "etc",
        "usr/bin",
        "tmp",
        "run",
        "data",
        "other",
        "opaque/sub",
        "empty",
        "criu",
    ] {
        chown(&mk(d), u, u);
    }
    chmod(&root.join("tmp"), 0o1777);
    chmod(&root.join("run"), 0o750);
    chown(root, u, u);
    chmod(root, 0o755);
    set_xattr(root, "user.root-note", b"top");

    write(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\n",
        0o644,
        u,
        u,
    );
    write(
        "etc/shadow",
        b"root:*:19000:0:99999:7:::\n",
        0o640,
        u,
        u + 42,
    );
    write("usr/bin/su", &noise(1, 5000), 0o4755, u, u);
    write("usr/bin/wall", &noise(2, 300), 0o2755, u, u + 5);
    write("empty-file", b"", 0o600, u + 7, u + 7);

    // overlayfs: an opaque directory and its redirect/origin xattrs, and a whiteout.
    let opaque = root.join("opaque");
    set_xattr(&opaque, "trusted.overlay.opaque", b"y");
    set_xattr(
        &opaque,
        "trusted.overlay.origin",
        &[0, 0xfb, 0x21, 0x00, 0xff, 0x01],
    );
    write("opaque/sub/kept", b"kept\n", 0o644, u, u);
    let wh = root.join("etc/deleted.conf");
    mknod(
        &wh,
        SFlag::S_IFCHR,
        Mode::empty(),
        nix::sys::stat::makedev(0, 0),
    )
    .unwrap();
    chown(&wh, u, u);
    chmod(&wh, 0);
    let null = root.join("run/null");
    mknod(
        &null,
        SFlag::S_IFCHR,
        Mode::empty(),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    chmod(&null, 0o666);
    let loopdev = root.join("run/loop0");
    mknod(
        &loopdev,
        SFlag::S_IFBLK,
        Mode::empty(),
        nix::sys::stat::makedev(7, 0),
    )
    .unwrap();
    chmod(&loopdev, 0o660);
    chown(&loopdev, u, u + 6);
    let fifo = root.join("run/fifo");
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o620)).unwrap();
    chown(&fifo, u + 2, u + 2);
    chmod(&fifo, 0o620);
    let sock = root.join("run/app.sock");
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    chown(&sock, u + 3, u + 3);
    chmod(&sock, 0o770);

    // xattrs and ACLs.
    let f = write("data/with-xattrs", b"x", 0o644, u, u);
    set_xattr(&f, "user.binary", &[0, 1, 2, 255, 0]);
    set_xattr(&f, "trusted.overlay.redirect", b"/elsewhere");
    set_xattr(&f, "security.warren-test", b"sec");
    let aclf = write("data/acl", b"acl\n", 0o640, u, u);
    // user::rw- user:100007:r-- group::r-- mask::r-- other::---
    set_xattr(
        &aclf,
        "system.posix_acl_access",
        &acl(&[
            (0x01, 6, u32::MAX),
            (0x02, 4, u + 7),
            (0x04, 4, u32::MAX),
            (0x10, 4, u32::MAX),
            (0x20, 0, u32::MAX),
        ]),
    );
    set_xattr(
        &root.join("data"),
        "system.posix_acl_default",
        &acl(&[
            (0x01, 7, u32::MAX),
            (0x04, 5, u32::MAX),
            (0x08, 5, u + 9),
            (0x10, 5, u32::MAX),
            (0x20, 5, u32::MAX),
        ]),
    );

    // Hard links, across directories.
    let a = write("data/a", &noise(3, 10_000), 0o644, u + 1, u + 1);
    std::fs::hard_link(&a, root.join("data/b")).unwrap();
    std::fs::hard_link(&a, root.join("other/c")).unwrap();

    // Symlinks: dangling absolute, absolute to a host path that exists (must stay a link),
    // relative, to a directory; owned by a shifted uid.
    for (name, target) in [
        ("data/dangling", "/nonexistent/target"),
        ("data/host-passwd", "/etc/passwd"),
        ("data/relative", "../etc/passwd"),
        ("data/dir-link", "../usr"),
    ] {
        let p = root.join(name);
        std::os::unix::fs::symlink(target, &p).unwrap();
        chown(&p, u + 5, u + 5);
    }

    // A 1 GiB sparse disk image with a little data at the start, middle and end.
    let img = root.join("disk.img");
    let mut file = std::fs::File::create(&img).unwrap();
    file.set_len(SPARSE_SIZE).unwrap();
    for (off, seed) in [
        (0u64, 10u64),
        (SPARSE_SIZE / 3, 11),
        (SPARSE_SIZE - 65536, 12),
    ] {
        file.seek(SeekFrom::Start(off)).unwrap();
        file.write_all(&noise(seed, 65536)).unwrap();
    }
    drop(file);
    chown(&img, u, u);

    // CRIU image directory.
    write("criu/inventory.img", &noise(4, 64), 0o600, 0, 0);
    write("criu/pages-1.img", &noise(5, 1 << 20), 0o600, 0, 0);
    write("criu/pagemap-1.img", &[0u8; 8192], 0o600, 0, 0);
    chmod(&root.join("criu"), 0o755);

    // Odd names: not UTF-8, spaces and a newline, a 200-byte name deep down.
    let odd = root.join(OsStr::from_bytes(b"caf\xe9 latin1"));
    std::fs::write(&odd, b"odd").unwrap();
    std::fs::write(root.join("with space\nand newline"), b"nl").unwrap();
    let deep = mk("deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p");
    std::fs::write(deep.join("n".repeat(200)), b"long").unwrap();

    // Distinct mtimes with nanoseconds everywhere, children before their directories.
    let mut all = Vec::new();
    walk(root, Path::new(""), &mut |rel, _| all.push(rel.to_owned()));
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for (i, rel) in all.iter().enumerate() {
        let t = TimeSpec::new(1_600_000_000 + i as i64 * 7, 123_456_789 - i as i64 * 1000);
        let p = root.join(rel);
        utimensat(
            nix::fcntl::AT_FDCWD,
            &p,
            &t,
            &t,
            UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
    }
}

/// Visits every entry below `root` (not `root` itself), parents before children, sorted.
fn walk(root: &Path, rel: &Path, f: &mut dyn FnMut(&Path, &std::fs::Metadata)) {
    let mut entries: Vec<_> = std::fs::read_dir(root.join(rel))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    entries.sort();
    for name in entries {
        let rel = rel.join(name);
        let meta = std::fs::symlink_metadata(root.join(&rel)).unwrap();
        f(&rel, &meta);
        if meta.is_dir() {
            walk(root, &rel, f);
        }
    }
}

/// Everything about an entry that must survive a round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub mtime: (i64, i64),
    pub sha256: Option<String>,
    pub link_target: Option<PathBuf>,
    pub xattrs: BTreeMap<String, Vec<u8>>,
    /// For hard-linked files: the first path (in walk order) of the same inode.
    pub hard_link_of: Option<PathBuf>,
}

/// A tree's entries by relative path (`""` is the root itself).
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut inodes: BTreeMap<u64, PathBuf> = BTreeMap::new();
    let mut out = BTreeMap::new();
    let mut visit = |rel: &Path, meta: &std::fs::Metadata| {
        let path = root.join(rel);
        let ft = meta.file_type();
        let hard_link_of = (meta.nlink() > 1 && !ft.is_dir()).then(|| {
            inodes
                .entry(meta.ino())
                .or_insert_with(|| rel.to_owned())
                .clone()
        });
        let entry = Entry {
            mode: meta.mode(),
            uid: meta.uid(),
            gid: meta.gid(),
            rdev: if ft.is_char_device() || ft.is_block_device() {
                meta.rdev()
            } else {
                0
            },
            size: if ft.is_file() || ft.is_symlink() {
                meta.len()
            } else {
                0
            },
            mtime: (meta.mtime(), meta.mtime_nsec()),
            sha256: ft.is_file().then(|| file_sha256(&path)),
            link_target: ft.is_symlink().then(|| std::fs::read_link(&path).unwrap()),
            xattrs: xattrs(&path),
            hard_link_of,
        };
        out.insert(rel.to_owned(), entry);
    };
    visit(Path::new(""), &std::fs::symlink_metadata(root).unwrap());
    walk(root, Path::new(""), &mut visit);
    out
}

fn file_sha256(path: &Path) -> String {
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex::encode(h.finalize())
}

/// Asserts that two snapshots are equal, listing every difference.
pub fn assert_same_tree(want: &BTreeMap<PathBuf, Entry>, got: &BTreeMap<PathBuf, Entry>) {
    let mut diffs = Vec::new();
    for (path, w) in want {
        match got.get(path) {
            None => diffs.push(format!("missing: {path:?}")),
            Some(g) if g != w => {
                diffs.push(format!("differs: {path:?}\n  want {w:?}\n  got  {g:?}"))
            }
            Some(_) => {}
        }
    }
    for path in got.keys().filter(|p| !want.contains_key(*p)) {
        diffs.push(format!("unexpected: {path:?}"));
    }
    assert!(
        diffs.is_empty(),
        "restored tree differs:\n{}",
        diffs.join("\n")
    );
}

/// Bytes allocated on disk for `path`.
pub fn allocated(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().blocks() * 512
}

/// Entries of a directory (for checking that nothing was left behind).
pub fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Polls `f` for up to 10 s.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A moto S3 server on 127.0.0.1, stopped on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
}

pub const MOTO_DEFAULT: &str = "/opt/warren-test/moto/bin/moto_server";

impl Moto {
    /// Starts moto (`$WARREN_MOTO_SERVER`, else [`MOTO_DEFAULT`], installed by
    /// `scripts/setup-host.sh --with-test-deps`), or says why it cannot.
    pub fn start() -> Option<Moto> {
        let bin = std::env::var_os("WARREN_MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(MOTO_DEFAULT));
        if !bin.is_file() {
            cannot_run(&format!(
                "no moto_server at {} (scripts/setup-host.sh --with-test-deps installs it; \
                 WARREN_MOTO_SERVER overrides the path)",
                bin.display()
            ));
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("{} exited at start: {status}", bin.display());
            }
            if moto
                .request("GET", "/", b"")
                .is_ok_and(|(status, _)| status > 0)
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One unsigned HTTP/1.1 request (moto does not check signatures); returns the status and
    /// body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        )?;
        s.write_all(body)?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp)?;
        let head_end = resp
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or(resp.len());
        let status = std::str::from_utf8(&resp[..head_end])
            .ok()
            .and_then(|h| h.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = resp.get(head_end + 4..).unwrap_or_default().to_vec();
        Ok((status, body))
    }

    /// Creates a bucket (`PUT /bucket`).
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = self.request("PUT", &format!("/{bucket}"), b"").unwrap();
        assert_eq!(
            status,
            200,
            "create bucket: {}",
            String::from_utf8_lossy(&body)
        );
    }

    /// Multipart uploads begun but neither completed nor aborted.
    pub fn pending_uploads(&self, bucket: &str) -> usize {
        let (status, body) = self
            .request("GET", &format!("/{bucket}?uploads"), b"")
            .unwrap();
        assert_eq!(
            status,
            200,
            "list uploads: {}",
            String::from_utf8_lossy(&body)
        );
        String::from_utf8_lossy(&body).matches("<Upload>").count()
    }

    pub fn config(&self, bucket: &str) -> warren_archive::ArchiveConfig {
        warren_archive::ArchiveConfig::S3 {
            bucket: bucket.to_owned(),
            endpoint: Some(self.endpoint()),
            region: "us-east-1".to_owned(),
            access_key_id: "warren-test-key".to_owned(),
            secret_access_key: "warren-test-secret".to_owned(),
            allow_http: true,
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
