//! The packing half of [`crate::Archive::put_dir`], run on a blocking thread: tar's stdout is
//! compressed and framed (header, zstd data, trailer; see [`crate::format`]) into chunks that
//! `out` hands to the uploader. Nothing but the current chunk is held in memory.

use std::io::{Read, Write};
use std::path::Path;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::ArchiveError;
use crate::error::TarOp;
use crate::format::{Manifest, Trailer, header_frame};
use crate::tar::{TarChild, create_command};

/// Size of the chunks passed to the uploader.
pub(crate) const CHUNK: usize = 1 << 20;
/// zstd level: 3 is zstd's default, about 300 MB/s per core with a ratio close to gzip -9.
const ZSTD_LEVEL: i32 = 3;

/// What [`pack`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Packed {
    /// Bytes of the whole object, trailer included.
    pub stored_bytes: u64,
    /// sha256 of the object without its trailer.
    pub sha256: [u8; 32],
    /// Bytes of the uncompressed tar stream.
    pub tar_bytes: u64,
}

/// Where packed bytes go. `out` fails only when the uploader has gone away.
struct Sink<'a> {
    out: &'a mut dyn FnMut(Bytes) -> std::io::Result<()>,
    buf: Vec<u8>,
    hasher: Sha256,
    len: u64,
}

impl Sink<'_> {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        (self.out)(Bytes::from(chunk))
    }
}

impl Write for Sink<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(data);
        self.len += data.len() as u64;
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Packs `dir` (its manifest already made by [`crate::scan`]) and passes the object's bytes
/// to `out` in order, the trailer last.
pub(crate) fn pack(
    key: &str,
    dir: &Path,
    manifest: &Manifest,
    out: &mut dyn FnMut(Bytes) -> std::io::Result<()>,
) -> Result<Packed, ArchiveError> {
    let pipe_err = |source| ArchiveError::Pipe {
        key: key.to_owned(),
        op: TarOp::Create,
        source,
    };
    let mut sink = Sink {
        out,
        buf: Vec::with_capacity(CHUNK),
        hasher: Sha256::new(),
        len: 0,
    };
    sink.write_all(&header_frame(manifest)).map_err(pipe_err)?;

    let mut tar =
        TarChild::spawn(create_command(dir)).map_err(|source| ArchiveError::TarSpawn {
            key: key.to_owned(),
            op: TarOp::Create,
            source,
        })?;
    let mut stdout = tar.child().stdout.take().expect("stdout is piped");
    TarChild::widen_pipe(&stdout);
    let mut encoder = zstd::stream::write::Encoder::new(&mut sink, ZSTD_LEVEL).map_err(pipe_err)?;
    encoder.include_checksum(true).map_err(pipe_err)?;
    let mut buf = vec![0u8; CHUNK];
    let mut tar_bytes = 0u64;
    loop {
        let n = match stdout.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(pipe_err(e)),
        };
        tar_bytes += n as u64;
        // On error `tar` is dropped: killed and reaped.
        encoder.write_all(&buf[..n]).map_err(pipe_err)?;
    }
    encoder.finish().map_err(pipe_err)?;
    drop(stdout);
    match tar.wait().map_err(pipe_err)? {
        Ok(()) => {}
        Err((status, stderr)) => {
            return Err(ArchiveError::Tar {
                key: key.to_owned(),
                op: TarOp::Create,
                status,
                stderr,
            });
        }
    }

    let sha256: [u8; 32] = sink.hasher.finalize_reset().into();
    let trailer = Trailer {
        payload_len: sink.len,
        tar_bytes,
        sha256,
    };
    sink.buf.extend_from_slice(&trailer.encode());
    sink.send().map_err(pipe_err)?;
    Ok(Packed {
        stored_bytes: trailer.payload_len + crate::format::TRAILER_LEN as u64,
        sha256,
        tar_bytes,
    })
}
