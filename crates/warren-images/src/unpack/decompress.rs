//! Picks the decompressor from the stream's magic bytes (gzip `1f 8b`, zstd
//! `28 b5 2f fd`, else plain tar). Magic bytes win over the media type:
//! registries and tools mislabel layers often enough that trusting the
//! bytes is the robust choice; the media type is checked at pull time only
//! to refuse what we cannot handle at all.

use std::io::{self, BufRead, Read};

use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

/// The compression of a layer stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub(crate) fn detect(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Compression::None => "tar",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// Wraps `src` in the decompressor its first bytes call for.
pub(crate) fn decoder<'a, R: BufRead + 'a>(
    mut src: R,
) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let c = Compression::detect(src.fill_buf()?);
    let r: Box<dyn Read + 'a> = match c {
        Compression::None => Box::new(src),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(src)),
        Compression::Zstd => Box::new(ZstdReader {
            src,
            dec: FrameDecoder::new(),
            in_frame: false,
        }),
    };
    Ok((c, r))
}

/// A zstd reader over any number of concatenated frames (including
/// skippable ones), which `ruzstd::StreamingDecoder` does not handle.
struct ZstdReader<R> {
    src: R,
    dec: FrameDecoder,
    in_frame: bool,
}

impl<R: BufRead> Read for ZstdReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.in_frame {
                let d = &mut self.dec;
                while d.can_collect() < buf.len() && !d.is_finished() {
                    let need = buf.len() - d.can_collect();
                    d.decode_blocks(&mut self.src, BlockDecodingStrategy::UptoBytes(need))
                        .map_err(io::Error::other)?;
                }
                let n = d.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
                self.in_frame = false;
            }
            if self.src.fill_buf()?.is_empty() {
                return Ok(0);
            }
            match self.dec.reset(&mut self.src) {
                Ok(()) => self.in_frame = true,
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                    length,
                    ..
                })) => {
                    io::copy(
                        &mut (&mut self.src).take(u64::from(length)),
                        &mut io::sink(),
                    )?;
                }
                Err(e) => return Err(io::Error::other(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(data: &[u8], compressed: &[u8], expect: Compression) {
        let (c, mut r) = decoder(io::BufReader::new(compressed)).unwrap();
        assert_eq!(c, expect);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn zstd_multi_frame_and_skippable() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut z = ruzstd::encoding::compress_to_vec(
            &data[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        roundtrip(&data, &z, Compression::Zstd);
        // A skippable frame followed by a second frame.
        z.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        z.extend(ruzstd::encoding::compress_to_vec(
            &b"tail"[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        ));
        let mut both = data.clone();
        both.extend_from_slice(b"tail");
        roundtrip(&both, &z, Compression::Zstd);
    }

    #[test]
    fn gzip_multi_member_and_plain() {
        use std::io::Write;
        let mut gz = Vec::new();
        for part in [&b"hello "[..], b"world"] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(part).unwrap();
            gz.extend(e.finish().unwrap());
        }
        roundtrip(b"hello world", &gz, Compression::Gzip);
        roundtrip(b"plain", b"plain", Compression::None);
    }
}
