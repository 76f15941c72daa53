//! The files API end to end: a 1 GiB upload and download through the daemon with bounded
//! memory, directory operations, permissions and ownership, `warren cp` of a directory tree
//! both ways, and paths that try to leave the sandbox.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use warren_api_types::{CreateSandboxRequest, ErrorCode, ExecRequest, FileKind};
use warren_client::Client;

const GIB: u64 = 1 << 30;
const CHUNK: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn files_api_and_cp() {
    let Some(env) = common::env() else { return };
    let registry = common::Registry::start();
    let busybox = registry.push(&env.fixtures.join("busybox"), "latest", "busybox");
    let daemon = common::Daemon::start(&env);
    let client = daemon.client();
    let sb = client
        .create_sandbox(&CreateSandboxRequest::new(&busybox))
        .await
        .expect("create sandbox");
    let id = sb.id.as_str();

    big_file_streams(&daemon, &client, id).await;
    directory_operations(&client, id).await;
    permissions_and_owner(&daemon, &client, id).await;
    cp_tree_round_trip(&daemon, &client, id).await;
    paths_stay_inside(&client, id).await;

    client.delete_sandbox(id).await.expect("delete");
}

async fn sh(client: &Client, id: &str, script: &str) -> String {
    let out = client
        .exec(id, &ExecRequest::new(["sh", "-c", script]))
        .await
        .expect("exec");
    assert_eq!(out.exit_code, 0, "{script}: {}", out.stderr);
    out.stdout
}

/// The pid of `warren serve --listen <addr>`.
fn daemon_pid(addr: &str) -> u32 {
    let needle = format!("serve\0--listen\0{addr}\0");
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd).contains(&needle)
        {
            return pid;
        }
    }
    panic!("no daemon process listening on {addr}");
}

/// The pid of the sandbox's agent (its container's init), from runc's state.
fn agent_pid(daemon: &common::Daemon, id: &str) -> u32 {
    let state = daemon.state.join("runc").join(id).join("state.json");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).expect("runc state")).unwrap();
    v["init_process_pid"].as_u64().expect("init_process_pid") as u32
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Samples the daemon's RSS until dropped; `max()` is the largest seen.
struct RssSampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    samples: Arc<AtomicU64>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(0));
        let samples = Arc::new(AtomicU64::new(0));
        let (s, m, n) = (stop.clone(), max.clone(), samples.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                m.fetch_max(rss_kib(pid), Ordering::Relaxed);
                n.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        });
        Self { stop, max, samples }
    }

    fn max_kib(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Chunk `i` of the test data: a fixed pseudo-random block stamped with its index.
fn chunk(block: &[u8], i: u64) -> Bytes {
    let mut c = block.to_vec();
    c[..8].copy_from_slice(&i.to_le_bytes());
    Bytes::from(c)
}

async fn big_file_streams(daemon: &common::Daemon, client: &Client, id: &str) {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let block: Vec<u8> = (0..CHUNK)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let pid = daemon_pid(&daemon.addr.to_string());
    let sampler = RssSampler::start(pid);
    let agent = RssSampler::start(agent_pid(daemon, id));

    // Upload 1 GiB generated on the fly, hashing what is sent.
    let sent = Arc::new(Mutex::new(Sha256::new()));
    let hasher = sent.clone();
    let block2 = block.clone();
    let chunks = futures_util::stream::iter(0..GIB / CHUNK as u64).map(move |i| {
        let c = chunk(&block2, i);
        hasher.lock().unwrap().update(&c);
        Ok::<_, std::io::Error>(c)
    });
    client
        .write_file_stream(id, "/root/big.bin", reqwest::Body::wrap_stream(chunks))
        .await
        .expect("upload 1 GiB");
    let sent = hex::encode(sent.lock().unwrap().clone().finalize());

    // The sandbox sees the same bytes.
    let inside = sh(client, id, "sha256sum /root/big.bin").await;
    assert_eq!(inside.split_whitespace().next(), Some(sent.as_str()));
    let size = client.stat_file(id, "/root/big.bin").await.unwrap().size;
    assert_eq!(size, GIB);

    // Download it back, hashing as it arrives.
    let mut s = client.read_file_stream(id, "/root/big.bin").await.unwrap();
    let mut got = Sha256::new();
    let mut n = 0u64;
    while let Some(c) = s.next().await {
        let c = c.expect("download chunk");
        n += c.len() as u64;
        got.update(&c);
    }
    assert_eq!(n, GIB);
    assert_eq!(hex::encode(got.finalize()), sent);

    let max = sampler.max_kib();
    let agent_max = agent.max_kib();
    drop(agent);
    eprintln!("agent RSS peaked at {} MiB", agent_max / 1024);
    assert!(agent_max > 0, "agent RSS was sampled");
    assert!(
        agent_max < 100 * 1024,
        "agent RSS reached {} MiB during a 1 GiB transfer",
        agent_max / 1024
    );
    eprintln!(
        "daemon RSS peaked at {} MiB during the 1 GiB transfer",
        max / 1024
    );
    assert!(sampler.samples.load(Ordering::Relaxed) > 10);
    drop(sampler);
    assert!(
        max < 100 * 1024,
        "daemon RSS reached {} MiB during a 1 GiB transfer",
        max / 1024
    );
    client
        .remove_file(id, "/root/big.bin", false)
        .await
        .unwrap();
}

async fn directory_operations(client: &Client, id: &str) {
    // mkdir -p, with a mode; again is fine.
    let d = client
        .make_dir(id, "/tmp/t/a/b/c", Some("0700"))
        .await
        .expect("mkdir -p");
    assert_eq!((d.kind, d.mode.as_str()), (FileKind::Dir, "0700"));
    client
        .make_dir(id, "/tmp/t/a/b/c", None)
        .await
        .expect("mkdir again");
    client
        .write_file(id, "/tmp/t/a/one.txt", "one")
        .await
        .unwrap();
    client
        .write_file(id, "/tmp/t/a/b/two.txt", "two!")
        .await
        .unwrap();
    let err = client
        .make_dir(id, "/tmp/t/a/one.txt", None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");

    // List one level, then three.
    let names = |l: &warren_api_types::FileList| {
        l.entries.iter().map(|e| e.path.clone()).collect::<Vec<_>>()
    };
    let l1 = client.list_files(id, "/tmp/t/a", 1).await.unwrap();
    assert_eq!(names(&l1), ["/tmp/t/a/b", "/tmp/t/a/one.txt"]);
    let l3 = client.list_files(id, "/tmp/t", 3).await.unwrap();
    assert_eq!(
        names(&l3),
        [
            "/tmp/t/a",
            "/tmp/t/a/b",
            "/tmp/t/a/b/c",
            "/tmp/t/a/b/two.txt",
            "/tmp/t/a/one.txt"
        ]
    );
    let two = l3.entries.iter().find(|e| e.name == "two.txt").unwrap();
    assert_eq!((two.kind, two.size), (FileKind::File, 4));
    assert!(two.modified_at.is_some());

    // stat, and a missing path.
    let st = client.stat_file(id, "/tmp/t/a/one.txt").await.unwrap();
    assert_eq!(
        (st.kind, st.size, st.name.as_str()),
        (FileKind::File, 3, "one.txt")
    );
    let err = client.stat_file(id, "/tmp/t/nope").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::FileNotFound));
    let err = client.stat_file(id, "tmp/relative").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest));
    assert!(err.to_string().contains("path"), "{err}");

    // A non-empty directory needs recursive.
    let err = client.remove_file(id, "/tmp/t/a", false).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict), "{err}");
    assert!(matches!(
        err,
        warren_client::ClientError::Api { status: 409, .. }
    ));
    client
        .remove_file(id, "/tmp/t/a/b/c", false)
        .await
        .expect("empty dir");

    // Move creates the destination's parents.
    let m = client
        .move_file(id, "/tmp/t/a/one.txt", "/tmp/t/moved/deeper/1.txt")
        .await
        .unwrap();
    assert_eq!(m.path, "/tmp/t/moved/deeper/1.txt");
    assert_eq!(
        &client
            .read_file(id, "/tmp/t/moved/deeper/1.txt")
            .await
            .unwrap()[..],
        b"one"
    );
    let err = client.stat_file(id, "/tmp/t/a/one.txt").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::FileNotFound));

    client.remove_file(id, "/tmp/t", true).await.expect("rm -r");
    let err = client.stat_file(id, "/tmp/t").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::FileNotFound));
    let err = client.remove_file(id, "/tmp/t", true).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::FileNotFound));
    // The root cannot be removed, however it is spelt.
    for root in ["/", "/tmp/..", "/tmp/../../"] {
        let err = client.remove_file(id, root, true).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{root}: {err}");
    }
}

async fn permissions_and_owner(daemon: &common::Daemon, client: &Client, id: &str) {
    client
        .write_file(id, "/tmp/perm.sh", "#!/bin/sh\necho hi\n")
        .await
        .unwrap();
    let e = client.chmod_file(id, "/tmp/perm.sh", "0751").await.unwrap();
    assert_eq!(e.mode, "0751");
    let e = client
        .chown_file(id, "/tmp/perm.sh", Some("app"), Some("app"))
        .await
        .unwrap();
    assert_eq!((e.owner.as_str(), e.group.as_str()), ("app", "app"));
    let st = client.stat_file(id, "/tmp/perm.sh").await.unwrap();
    assert_eq!((st.mode.as_str(), st.owner.as_str()), ("0751", "app"));
    let ls = sh(client, id, "ls -l /tmp/perm.sh").await;
    let cols: Vec<&str> = ls.split_whitespace().collect();
    assert_eq!(
        (cols[0], cols[2], cols[3]),
        ("-rwxr-x--x", "app", "app"),
        "{ls}"
    );
    assert_eq!(sh(client, id, "/tmp/perm.sh").await, "hi\n");

    let err = client
        .chmod_file(id, "/tmp/perm.sh", "999")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest));
    let err = client
        .chown_file(id, "/tmp/perm.sh", Some("nosuchuser"), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");

    // The CLI: fs chmod, chown, stat --json, ls table.
    let cli = |args: &[&str]| {
        let out = daemon.cli(args);
        assert!(
            out.status.success(),
            "warren {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    cli(&["fs", "chmod", id, "0700", "/tmp/perm.sh"]);
    cli(&["fs", "chown", id, "root:root", "/tmp/perm.sh"]);
    let st: warren_api_types::FileEntry =
        serde_json::from_str(&cli(&["fs", "stat", id, "/tmp/perm.sh", "--json"])).unwrap();
    assert_eq!(
        (st.mode.as_str(), st.owner.as_str(), st.group.as_str()),
        ("0700", "root", "root")
    );
    cli(&["fs", "mkdir", id, "/tmp/cli/x/y"]);
    cli(&["fs", "mv", id, "/tmp/perm.sh", "/tmp/cli/x/perm.sh"]);
    let table = cli(&["fs", "ls", id, "/tmp/cli", "--depth", "3"]);
    assert!(table.starts_with("TYPE"), "{table}");
    assert!(table.contains("/tmp/cli/x/perm.sh"), "{table}");
    let out = daemon.cli(&["fs", "rm", id, "/tmp/cli"]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "non-empty dir without -r is a conflict"
    );
    cli(&["fs", "rm", "-r", id, "/tmp/cli"]);
    let out = daemon.cli(&["fs", "stat", id, "/tmp/cli"]);
    assert_eq!(out.status.code(), Some(3));
}

/// Every entry below `root`: relative path → (kind, mode, content or link target).
fn snapshot(root: &Path) -> Vec<(PathBuf, String, u32, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String, u32, Vec<u8>)>) {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        for n in names {
            let p = dir.join(&n);
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_owned();
            let mode = m.permissions().mode() & 0o7777;
            if m.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.push((
                    rel,
                    "link".into(),
                    0,
                    t.into_os_string().into_encoded_bytes(),
                ));
            } else if m.is_dir() {
                out.push((rel, "dir".into(), mode, vec![]));
                walk(root, &p, out);
            } else {
                out.push((rel, "file".into(), mode, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

async fn cp_tree_round_trip(daemon: &common::Daemon, client: &Client, id: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("tree");
    std::fs::create_dir_all(src.join("a/b/c")).unwrap();
    std::fs::create_dir_all(src.join("emptydir")).unwrap();
    std::fs::write(src.join("a/hello.txt"), "hello\n").unwrap();
    std::fs::write(src.join("a/b/c/deep.bin"), vec![7u8; 300_000]).unwrap();
    std::fs::write(src.join("empty"), "").unwrap();
    std::fs::write(src.join("run.sh"), "#!/bin/sh\necho ran\n").unwrap();
    std::fs::set_permissions(src.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(src.join("a/b"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("a/hello.txt", src.join("link")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", src.join("abs-link")).unwrap();

    let cli = |args: &[&str]| {
        let out = daemon.cli(args);
        assert!(
            out.status.success(),
            "warren {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // Into a path that does not exist: the tree lands there.
    let remote = format!("{id}:/srv/copy");
    cli(&["cp", src.to_str().unwrap(), &remote]);
    assert_eq!(sh(client, id, "/srv/copy/run.sh").await, "ran\n");
    assert_eq!(sh(client, id, "cat /srv/copy/link").await, "hello\n");
    assert_eq!(
        sh(client, id, "readlink /srv/copy/abs-link").await,
        "/etc/passwd\n"
    );
    let ls = sh(client, id, "ls -l /srv/copy/run.sh /srv/copy/empty").await;
    assert!(ls.contains("-rwxr-xr-x"), "{ls}");
    assert!(
        sh(client, id, "wc -c < /srv/copy/a/b/c/deep.bin")
            .await
            .trim()
            == "300000"
    );

    // Into an existing directory: under its own name.
    cli(&["cp", src.to_str().unwrap(), &format!("{id}:/srv")]);
    assert_eq!(sh(client, id, "cat /srv/tree/a/hello.txt").await, "hello\n");

    // And back: identical.
    let back = tmp.path().join("back");
    cli(&["cp", &remote, back.to_str().unwrap()]);
    assert_eq!(snapshot(&src), snapshot(&back));
    // A symlink named as the source is followed.
    sh(client, id, "ln -s /srv/copy /srv/copy-link").await;
    let via_link = tmp.path().join("via-link");
    cli(&[
        "cp",
        &format!("{id}:/srv/copy-link"),
        via_link.to_str().unwrap(),
    ]);
    assert_eq!(snapshot(&src), snapshot(&via_link));
    // Into an existing local directory: under the remote name.
    cli(&["cp", &format!("{id}:/srv/tree"), back.to_str().unwrap()]);
    assert_eq!(snapshot(&src), snapshot(&back.join("tree")));

    // Single files both ways keep their mode.
    cli(&[
        "cp",
        src.join("run.sh").to_str().unwrap(),
        &format!("{id}:/srv/one.sh"),
    ]);
    assert_eq!(sh(client, id, "/srv/one.sh").await, "ran\n");
    let one = tmp.path().join("one.sh");
    cli(&["cp", &format!("{id}:/srv/one.sh"), one.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(&one).unwrap(),
        std::fs::read(src.join("run.sh")).unwrap()
    );
    assert_eq!(
        std::fs::metadata(&one).unwrap().permissions().mode() & 0o777,
        0o755
    );

    // Missing remote source: not found (exit 3).
    let out = daemon.cli(&[
        "cp",
        &format!("{id}:/srv/nope"),
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
}

async fn paths_stay_inside(client: &Client, id: &str) {
    // `..` resolves inside the sandbox's own root.
    client
        .write_file(id, "/tmp/../../../../etc/warren-escape", "inside")
        .await
        .unwrap();
    assert_eq!(sh(client, id, "cat /etc/warren-escape").await, "inside");
    assert!(!Path::new("/etc/warren-escape").exists());
    let passwd = client.read_file(id, "/../../../etc/passwd").await.unwrap();
    assert!(String::from_utf8_lossy(&passwd).contains("app:x:1000"));
    let st = client.stat_file(id, "/srv/../../etc/passwd").await.unwrap();
    assert_eq!(st.path, "/etc/passwd");

    // Archives with `..`, absolute names or entries through a symlink are refused.
    let tar_with = |name: &str| {
        let mut buf = Vec::new();
        {
            let mut b = tar::Builder::new(&mut buf);
            let mut h = tar::Header::new_gnu();
            h.set_size(1);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            // `append_data` refuses `..`; write the name into the header directly.
            let gnu = h.as_gnu_mut().unwrap();
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, &b"x"[..]).unwrap();
            b.finish().unwrap();
        }
        buf
    };
    sh(client, id, "mkdir -p /srv/x && ln -sfn / /srv/x/root").await;
    for evil in ["../evil", "a/../../evil", "/evil", "root/etc/evil"] {
        let err = client
            .write_archive(id, "/srv/x", reqwest::Body::from(tar_with(evil)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{evil}: {err}");
    }
    assert_eq!(
        sh(client, id, "ls /evil /etc/evil /srv/evil 2>/dev/null; true").await,
        ""
    );
}
