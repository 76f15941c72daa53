//! The restoring half of [`crate::Archive::get_dir`], run on a blocking thread: downloaded
//! chunks arrive as [`Msg`]s; the header frame is parsed, the zstd data decompressed into
//! `tar --extract` in a temporary directory, every byte but the trailer hashed. Only when the
//! stream ended, its sha256 matches the trailer and tar succeeded are the sockets recreated and
//! the directory renamed to its destination (without replacing anything there). On any failure
//! the temporary directory is removed.
//!
//! When tar or the decompressor fails part-way, the rest is still downloaded and hashed: a
//! damaged object is then reported as such ([`ArchiveError::ChecksumMismatch`]) rather than as
//! whatever tar made of it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ChildStdin;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::ArchiveError;
use crate::error::TarOp;
use crate::format::{
    FRAME_HEADER_LEN, Manifest, TailSplitter, Trailer, parse_header_prefix, parse_manifest,
};
use crate::tar::{TarChild, extract_command};

/// What the downloader sends.
#[derive(Debug)]
pub(crate) enum Msg {
    /// The next bytes of the object.
    Data(Bytes),
    /// The object is complete. A channel closed without it means the download failed or was
    /// abandoned.
    End,
}

/// Unpacks the object arriving on `rx` into `tmp` (an empty directory), then moves it to
/// `dest`. Removes `tmp` on failure.
pub(crate) fn unpack(
    key: &str,
    tmp: &Path,
    dest: &Path,
    rx: mpsc::Receiver<Msg>,
) -> Result<(), ArchiveError> {
    let result = extract(key, tmp, rx).and_then(|manifest| {
        let dest_err = |(path, source): (PathBuf, std::io::Error)| ArchiveError::Dest {
            key: key.to_owned(),
            path,
            source,
        };
        crate::scan::restore_sockets(tmp, &manifest.sockets).map_err(dest_err)?;
        rename_noreplace(tmp, dest).map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => ArchiveError::DestExists {
                key: key.to_owned(),
                dest: dest.to_owned(),
            },
            _ => dest_err((dest.to_owned(), source)),
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(tmp);
    }
    result
}

/// `rename(2)` that fails with `AlreadyExists` instead of replacing an (empty) directory.
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    nix::fcntl::renameat2(
        nix::fcntl::AT_FDCWD,
        from,
        nix::fcntl::AT_FDCWD,
        to,
        nix::fcntl::RenameFlags::RENAME_NOREPLACE,
    )
    .map_err(std::io::Error::from)
}

/// Where the stream is.
struct Extractor<'a> {
    key: &'a str,
    hasher: Sha256,
    payload_len: u64,
    /// The header frame until complete.
    header: Vec<u8>,
    /// Bytes of header still expected (`None` until its length is known).
    header_left: Option<usize>,
    manifest: Option<Manifest>,
    /// `None` once decompression stopped (finished or failed).
    decoder: Option<zstd::stream::write::Decoder<'static, ChildStdin>>,
    /// The first failure of the decompressor or of tar's stdin.
    failure: Option<ArchiveError>,
}

impl Extractor<'_> {
    /// Takes payload bytes (everything but the trailer).
    fn payload(&mut self, mut data: &[u8]) -> Result<(), ArchiveError> {
        self.hasher.update(data);
        self.payload_len += data.len() as u64;
        if self.manifest.is_none() {
            data = self.header_bytes(data)?;
        }
        if data.is_empty() {
            return Ok(());
        }
        if let Some(decoder) = self.decoder.as_mut()
            && let Err(e) = decoder.write_all(data)
        {
            self.decoder = None;
            self.failure = Some(if e.kind() == std::io::ErrorKind::BrokenPipe {
                // tar exited early; its status says why (see `finish`).
                ArchiveError::Pipe {
                    key: self.key.to_owned(),
                    op: TarOp::Extract,
                    source: e,
                }
            } else {
                ArchiveError::Decompress {
                    key: self.key.to_owned(),
                    source: e,
                }
            });
        }
        Ok(())
    }

    /// Consumes header bytes from the front of `data`; returns the rest.
    fn header_bytes<'d>(&mut self, data: &'d [u8]) -> Result<&'d [u8], ArchiveError> {
        let corrupt = |reason| ArchiveError::Corrupt {
            key: self.key.to_owned(),
            reason,
        };
        let want = self
            .header_left
            .unwrap_or(FRAME_HEADER_LEN - self.header.len());
        let take = want.min(data.len());
        self.header.extend_from_slice(&data[..take]);
        let rest = &data[take..];
        match self.header_left {
            None if self.header.len() == FRAME_HEADER_LEN => {
                let prefix: &[u8; FRAME_HEADER_LEN] =
                    self.header[..].try_into().expect("header prefix");
                let len = parse_header_prefix(prefix).map_err(corrupt)?;
                self.header.clear();
                self.header_left = Some(len as usize);
                self.header_bytes(rest)
            }
            Some(left) => {
                self.header_left = Some(left - take);
                if left == take {
                    self.manifest = Some(parse_manifest(&self.header).map_err(corrupt)?);
                    self.header = Vec::new();
                }
                Ok(rest)
            }
            None => Ok(rest),
        }
    }
}

/// Extracts into `tmp` and verifies; returns the manifest.
fn extract(key: &str, tmp: &Path, mut rx: mpsc::Receiver<Msg>) -> Result<Manifest, ArchiveError> {
    let corrupt = |reason| ArchiveError::Corrupt {
        key: key.to_owned(),
        reason,
    };
    let pipe_err = |source| ArchiveError::Pipe {
        key: key.to_owned(),
        op: TarOp::Extract,
        source,
    };
    let mut tar =
        TarChild::spawn(extract_command(tmp)).map_err(|source| ArchiveError::TarSpawn {
            key: key.to_owned(),
            op: TarOp::Extract,
            source,
        })?;
    let stdin = tar.child().stdin.take().expect("stdin is piped");
    TarChild::widen_pipe(&stdin);
    let mut x = Extractor {
        key,
        hasher: Sha256::new(),
        payload_len: 0,
        header: Vec::new(),
        header_left: None,
        manifest: None,
        decoder: Some(zstd::stream::write::Decoder::new(stdin).map_err(pipe_err)?),
        failure: None,
    };
    let mut splitter = TailSplitter::default();
    loop {
        match rx.blocking_recv() {
            Some(Msg::Data(chunk)) => {
                let mut result = Ok(());
                splitter.push(&chunk, |b| {
                    if result.is_ok() {
                        result = x.payload(b);
                    }
                });
                result?;
            }
            Some(Msg::End) => break,
            None => return Err(corrupt("the download stopped before the end")),
        }
    }

    // Integrity first: a damaged object is reported as such, whatever tar made of it.
    let trailer = Trailer::decode(&splitter.finish()).map_err(corrupt)?;
    if trailer.payload_len != x.payload_len {
        return Err(corrupt(
            "its length does not match its trailer (truncated?)",
        ));
    }
    let actual: [u8; 32] = x.hasher.finalize_reset().into();
    if actual != trailer.sha256 {
        return Err(ArchiveError::ChecksumMismatch {
            key: key.to_owned(),
            expected: hex::encode(trailer.sha256),
            actual: hex::encode(actual),
        });
    }
    let Some(manifest) = x.manifest.take() else {
        return Err(corrupt("it ends inside its header"));
    };

    if let Some(mut decoder) = x.decoder.take() {
        if let Err(e) = decoder.flush() {
            x.failure.get_or_insert(pipe_err(e));
        }
        drop(decoder); // closes tar's stdin
    }
    let status = tar.wait().map_err(pipe_err)?;
    match (x.failure, status) {
        // tar then only saw a truncated stream; the decompressor's error is the cause.
        (Some(e @ ArchiveError::Decompress { .. }), _) => Err(e),
        (_, Err((status, stderr))) => Err(ArchiveError::Tar {
            key: key.to_owned(),
            op: TarOp::Extract,
            status,
            stderr,
        }),
        (Some(e), Ok(())) => Err(e),
        (None, Ok(())) => Ok(manifest),
    }
}
