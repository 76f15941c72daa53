//! Throughput of `put_dir`/`get_dir` for a 200 MiB directory, on the local backend and on moto
//! (S3 on loopback, when installed; see tests/s3.rs). Prints numbers; asserts nothing.
//!
//!     cargo run -p warren-archive --example throughput [-- MIB]
//!
//! The directory: 48% incompressible data, 48% text-like data (4 MiB files), 4% small files
//! (4 KiB each). Page cache warm; tmpfs or not depends on where `TMPDIR` points.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::time::Instant;

use warren_archive::{Archive, ArchiveConfig};

fn build(dir: &Path, mib: usize) -> u64 {
    std::fs::create_dir_all(dir.join("small")).unwrap();
    let mut total = 0u64;
    let big_files = mib * 48 / 100 / 4;
    for i in 0..big_files {
        let data = common::noise(i as u64 + 1, 4 << 20);
        std::fs::write(dir.join(format!("noise{i}")), &data).unwrap();
        let mut text = Vec::with_capacity(4 << 20);
        let mut line = 0u64;
        while text.len() < 4 << 20 {
            text.extend_from_slice(
                format!(
                    "{line:08} INFO worker-{} request handled in {} us\n",
                    line % 7,
                    (line * 37) % 1000
                )
                .as_bytes(),
            );
            line += 1;
        }
        text.truncate(4 << 20);
        std::fs::write(dir.join(format!("text{i}")), &text).unwrap();
        total += 8 << 20;
    }
    let small = (mib << 20) as u64 - total;
    for i in 0..small / 4096 {
        std::fs::write(
            dir.join(format!("small/f{i}")),
            common::noise(10_000 + i, 4096),
        )
        .unwrap();
        total += 4096;
    }
    total
}

async fn measure(name: &str, archive: &Archive, src: &Path, out: &Path, bytes: u64) {
    let mib = bytes as f64 / (1 << 20) as f64;
    let t = Instant::now();
    let info = archive.put_dir("bench/dir", src, &|_| {}).await.unwrap();
    let put = t.elapsed().as_secs_f64();
    let dest = out.join(name);
    let t = Instant::now();
    archive
        .get_dir("bench/dir", &dest, &|_, _| {})
        .await
        .unwrap();
    let get = t.elapsed().as_secs_f64();
    println!(
        "{name:6} {mib:.0} MiB -> {:.1} MiB stored (ratio {:.2}): put {put:.2} s = {:.0} MiB/s, get {get:.2} s = {:.0} MiB/s",
        info.stored_bytes as f64 / (1 << 20) as f64,
        bytes as f64 / info.stored_bytes as f64,
        mib / put,
        mib / get,
    );
    archive.delete("bench/dir").await.unwrap();
    std::fs::remove_dir_all(&dest).unwrap();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("MIB: a number"))
        .unwrap_or(200);
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let bytes = build(&src, mib);
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();

    let local = Archive::open(&ArchiveConfig::Local {
        dir: tmp.path().join("archive"),
    })
    .unwrap();
    measure("local", &local, &src, &out, bytes).await;

    match common::Moto::start() {
        Some(moto) => {
            moto.create_bucket("bench");
            let s3 = Archive::open(&moto.config("bench")).unwrap();
            measure("moto", &s3, &src, &out, bytes).await;
        }
        None => println!("moto: not installed, skipped"),
    }
}
