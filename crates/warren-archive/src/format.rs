//! The stored object's layout (see the crate documentation): a header frame with the
//! [`Manifest`], the zstd frame of the tar stream, and a fixed-size trailer frame with the
//! sha256 of everything before it. Both extra frames are zstd *skippable frames*, so
//! `zstd -d` ignores them and the object is an ordinary `.tar.zst` file.

use serde::{Deserialize, Serialize};

/// Magic of the header frame (zstd skippable frame, variant 0).
const HEADER_MAGIC: u32 = 0x184D_2A50;
/// Magic of the trailer frame (zstd skippable frame, variant 0xE).
const TRAILER_MAGIC: u32 = 0x184D_2A5E;
/// Identifies this crate's trailer and its format version.
const TRAILER_TAG: &[u8; 8] = b"WRNARC01";
/// Size of the trailer frame: 8 bytes of frame header, then tag, payload length, tar bytes,
/// sha256.
pub(crate) const TRAILER_LEN: usize = 8 + 8 + 8 + 8 + 32;
/// Size of a skippable frame's header (magic and length).
pub(crate) const FRAME_HEADER_LEN: usize = 8;
/// A manifest larger than this is not one this crate wrote.
pub(crate) const MAX_MANIFEST_LEN: u32 = 64 << 20;
/// The manifest format this crate writes and reads.
pub(crate) const MANIFEST_FORMAT: u32 = 1;

/// What the tar stream cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// Unix socket files, which GNU tar skips.
    pub sockets: Vec<SocketEntry>,
}

/// One socket file, recreated (unbound) on restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SocketEntry {
    /// Path relative to the archived directory, as hex of its bytes (paths need not be UTF-8).
    pub path_hex: String,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Numeric owner.
    pub uid: u32,
    /// Numeric group.
    pub gid: u32,
    /// Modification time, seconds since the epoch.
    pub mtime_sec: i64,
    /// Modification time, nanoseconds part.
    pub mtime_nsec: i64,
}

/// The header frame holding `manifest`.
pub(crate) fn header_frame(manifest: &Manifest) -> Vec<u8> {
    let json = serde_json::to_vec(manifest).expect("a manifest always serializes");
    let len = u32::try_from(json.len()).expect("manifest below 4 GiB");
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + json.len());
    out.extend_from_slice(&HEADER_MAGIC.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&json);
    out
}

/// The manifest length announced by the first [`FRAME_HEADER_LEN`] bytes of an object.
pub(crate) fn parse_header_prefix(prefix: &[u8; FRAME_HEADER_LEN]) -> Result<u32, &'static str> {
    let magic = u32::from_le_bytes(prefix[..4].try_into().expect("4 bytes"));
    if magic != HEADER_MAGIC {
        return Err("it does not start with a warren archive header");
    }
    let len = u32::from_le_bytes(prefix[4..].try_into().expect("4 bytes"));
    if len > MAX_MANIFEST_LEN {
        return Err("its header announces an implausibly large manifest");
    }
    Ok(len)
}

/// Parses the manifest bytes of the header frame.
pub(crate) fn parse_manifest(json: &[u8]) -> Result<Manifest, &'static str> {
    let manifest: Manifest =
        serde_json::from_slice(json).map_err(|_| "its header manifest is not valid")?;
    if manifest.format != MANIFEST_FORMAT {
        return Err("it was written in an unknown (newer?) format");
    }
    Ok(manifest)
}

/// The trailer frame's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trailer {
    /// Bytes before the trailer (header frame and zstd data).
    pub payload_len: u64,
    /// Length of the uncompressed tar stream.
    pub tar_bytes: u64,
    /// sha256 of the `payload_len` bytes before the trailer.
    pub sha256: [u8; 32],
}

impl Trailer {
    pub(crate) fn encode(&self) -> [u8; TRAILER_LEN] {
        let mut out = [0u8; TRAILER_LEN];
        out[..4].copy_from_slice(&TRAILER_MAGIC.to_le_bytes());
        let body_len = u32::try_from(TRAILER_LEN - FRAME_HEADER_LEN).expect("small");
        out[4..8].copy_from_slice(&body_len.to_le_bytes());
        out[8..16].copy_from_slice(TRAILER_TAG);
        out[16..24].copy_from_slice(&self.payload_len.to_le_bytes());
        out[24..32].copy_from_slice(&self.tar_bytes.to_le_bytes());
        out[32..].copy_from_slice(&self.sha256);
        out
    }

    /// Parses the last [`TRAILER_LEN`] bytes of an object (fewer when it was shorter: an error).
    pub(crate) fn decode(bytes: &[u8]) -> Result<Trailer, &'static str> {
        const MISSING: &str = "it has no warren archive trailer (truncated, or not an archive)";
        let bytes: &[u8; TRAILER_LEN] = bytes.try_into().map_err(|_| MISSING)?;
        let body_len = u32::try_from(TRAILER_LEN - FRAME_HEADER_LEN).expect("small");
        if bytes[..4] != TRAILER_MAGIC.to_le_bytes()
            || bytes[4..8] != body_len.to_le_bytes()
            || &bytes[8..16] != TRAILER_TAG
        {
            return Err(MISSING);
        }
        Ok(Trailer {
            payload_len: u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")),
            tar_bytes: u64::from_le_bytes(bytes[24..32].try_into().expect("8 bytes")),
            sha256: bytes[32..].try_into().expect("32 bytes"),
        })
    }
}

/// Passes a byte stream on while holding back its last [`TRAILER_LEN`] bytes, which are only
/// known to be the trailer once the stream ends.
#[derive(Debug, Default)]
pub(crate) struct TailSplitter {
    tail: Vec<u8>,
}

impl TailSplitter {
    /// Feeds `chunk`; `emit` receives every byte that can no longer be part of the trailer.
    pub(crate) fn push(&mut self, chunk: &[u8], mut emit: impl FnMut(&[u8])) {
        if chunk.len() >= TRAILER_LEN {
            if !self.tail.is_empty() {
                emit(&self.tail);
                self.tail.clear();
            }
            let (body, tail) = chunk.split_at(chunk.len() - TRAILER_LEN);
            if !body.is_empty() {
                emit(body);
            }
            self.tail.extend_from_slice(tail);
        } else {
            self.tail.extend_from_slice(chunk);
            if self.tail.len() > TRAILER_LEN {
                let excess = self.tail.len() - TRAILER_LEN;
                emit(&self.tail[..excess]);
                self.tail.drain(..excess);
            }
        }
    }

    /// The held-back bytes: the trailer if the stream was complete (fewer bytes if it was
    /// shorter than a trailer).
    pub(crate) fn finish(self) -> Vec<u8> {
        self.tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_round_trips_and_rejects_garbage() {
        let t = Trailer {
            payload_len: 123_456_789_012,
            tar_bytes: 42,
            sha256: [7; 32],
        };
        let bytes = t.encode();
        assert_eq!(Trailer::decode(&bytes), Ok(t));
        let mut bad = bytes;
        bad[10] ^= 1;
        assert!(Trailer::decode(&bad).is_err());
        assert!(Trailer::decode(&bytes[1..]).is_err());
    }

    #[test]
    fn header_round_trips() {
        let m = Manifest {
            format: MANIFEST_FORMAT,
            sockets: vec![SocketEntry {
                path_hex: hex::encode(b"run/\xffsock"),
                mode: 0o755,
                uid: 100_000,
                gid: 100_001,
                mtime_sec: 1_700_000_000,
                mtime_nsec: 5,
            }],
        };
        let frame = header_frame(&m);
        let len = parse_header_prefix(frame[..8].try_into().unwrap()).unwrap();
        assert_eq!(len as usize, frame.len() - 8);
        assert_eq!(parse_manifest(&frame[8..]), Ok(m));
        assert!(parse_header_prefix(&[0; 8]).is_err());
        assert!(parse_manifest(b"{\"format\":2,\"sockets\":[]}").is_err());
    }

    #[test]
    fn splitter_holds_back_exactly_the_trailer() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        for chunk in [
            1,
            3,
            TRAILER_LEN - 1,
            TRAILER_LEN,
            TRAILER_LEN + 1,
            100,
            999,
            1000,
        ] {
            let mut s = TailSplitter::default();
            let mut out = Vec::new();
            for c in data.chunks(chunk) {
                s.push(c, |b| out.extend_from_slice(b));
            }
            let tail = s.finish();
            assert_eq!(tail, data[data.len() - TRAILER_LEN..], "chunk {chunk}");
            assert_eq!(out, data[..data.len() - TRAILER_LEN], "chunk {chunk}");
        }
        let mut s = TailSplitter::default();
        s.push(b"short", |_| panic!("nothing to emit"));
        assert_eq!(s.finish(), b"short");
    }
}
