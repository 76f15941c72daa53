//! Connect streaming envelopes: `[flags: u8][length: u32 big-endian][message]`.
//!
//! Flag `0x01` marks a compressed message (never produced here, rejected on input), `0x02` the
//! end-of-stream message, whose JSON is `{"error"?: {"code","message"}, "metadata"?: {...}}`.
//! [`EnvelopeDecoder`] takes bytes in whatever chunks the transport delivers and yields whole
//! frames; it refuses a frame whose declared length exceeds its limit before buffering it.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use crate::error::ConnectError;

/// Flag: the message is compressed.
pub const FLAG_COMPRESSED: u8 = 0x01;
/// Flag: this is the end-of-stream message.
pub const FLAG_END_STREAM: u8 = 0x02;
/// Bytes before the message.
pub const HEADER_LEN: usize = 5;

/// Frame one message.
pub fn encode_envelope(flags: u8, message: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(HEADER_LEN + message.len());
    b.put_u8(flags);
    b.put_u32(u32::try_from(message.len()).expect("envelope message larger than 4 GiB"));
    b.put_slice(message);
    b.freeze()
}

/// Frame a JSON-serializable message (flags 0).
pub fn encode_json<T: Serialize>(msg: &T) -> Bytes {
    encode_envelope(
        0,
        &serde_json::to_vec(msg).expect("proto messages always serialize"),
    )
}

/// Frame the end-of-stream message, with an error or without.
pub fn encode_end_stream(error: Option<&ConnectError>) -> Bytes {
    let end = EndStreamMessage {
        error: error.cloned(),
        metadata: None,
    };
    encode_envelope(
        FLAG_END_STREAM,
        &serde_json::to_vec(&end).expect("serializes"),
    )
}

/// One decoded envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Flag bits.
    pub flags: u8,
    /// The message bytes.
    pub payload: Bytes,
}

impl Frame {
    /// True for the end-of-stream message.
    pub fn is_end_stream(&self) -> bool {
        self.flags & FLAG_END_STREAM != 0
    }
}

/// The JSON of the end-of-stream message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndStreamMessage {
    /// Set when the stream failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ConnectError>,
    /// Trailing metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

/// Why a byte stream is not a valid sequence of envelopes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// A frame declares more bytes than allowed.
    #[error("envelope of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Declared length.
        len: usize,
        /// Limit.
        limit: usize,
    },
    /// The stream ended inside a frame.
    #[error("stream ended inside an envelope ({buffered} bytes buffered)")]
    Truncated {
        /// Bytes left over.
        buffered: usize,
    },
}

/// Incremental envelope decoder.
#[derive(Debug)]
pub struct EnvelopeDecoder {
    buf: BytesMut,
    limit: usize,
}

impl EnvelopeDecoder {
    /// A decoder refusing frames longer than `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            limit,
        }
    }

    /// Append bytes as they arrived.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole frame, if buffered.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, EnvelopeError> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > self.limit {
            return Err(EnvelopeError::TooLarge {
                len,
                limit: self.limit,
            });
        }
        if self.buf.len() < HEADER_LEN + len {
            self.buf.reserve(HEADER_LEN + len - self.buf.len());
            return Ok(None);
        }
        let flags = self.buf[0];
        self.buf.advance(HEADER_LEN);
        let payload = self.buf.split_to(len).freeze();
        Ok(Some(Frame { flags, payload }))
    }

    /// Call at end of input: fails if a partial frame is left.
    pub fn finish(&self) -> Result<(), EnvelopeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(EnvelopeError::Truncated {
                buffered: self.buf.len(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ConnectCode;

    fn decode_all(chunks: &[&[u8]], limit: usize) -> Result<Vec<Frame>, EnvelopeError> {
        let mut d = EnvelopeDecoder::new(limit);
        let mut out = Vec::new();
        for c in chunks {
            d.push(c);
            while let Some(f) = d.next_frame()? {
                out.push(f);
            }
        }
        d.finish()?;
        Ok(out)
    }

    fn sample() -> (Vec<u8>, Vec<Frame>) {
        let msgs: Vec<(u8, Vec<u8>)> = vec![
            (0, br#"{"event":{"start":{"pid":1}}}"#.to_vec()),
            (0, Vec::new()),
            (0, vec![0xAB; 300]),
            (
                FLAG_END_STREAM,
                br#"{"error":{"code":"not_found","message":"x"}}"#.to_vec(),
            ),
        ];
        let mut wire = Vec::new();
        let mut frames = Vec::new();
        for (f, m) in msgs {
            wire.extend_from_slice(&encode_envelope(f, &m));
            frames.push(Frame {
                flags: f,
                payload: Bytes::from(m),
            });
        }
        (wire, frames)
    }

    #[test]
    fn header_layout() {
        let e = encode_envelope(2, b"abc");
        assert_eq!(&e[..], &[2, 0, 0, 0, 3, b'a', b'b', b'c']);
    }

    #[test]
    fn whole_and_bytewise() {
        let (wire, frames) = sample();
        assert_eq!(decode_all(&[&wire], 1 << 20).unwrap(), frames);
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(decode_all(&bytes, 1 << 20).unwrap(), frames);
    }

    #[test]
    fn split_at_every_boundary() {
        let (wire, frames) = sample();
        for i in 0..=wire.len() {
            for j in i..=wire.len() {
                let got = decode_all(&[&wire[..i], &wire[i..j], &wire[j..]], 1 << 20).unwrap();
                assert_eq!(got, frames, "split at {i},{j}");
            }
        }
    }

    #[test]
    fn oversized_rejected_before_buffering() {
        let mut d = EnvelopeDecoder::new(10);
        d.push(&[0, 0, 0, 0, 11]);
        assert_eq!(
            d.next_frame(),
            Err(EnvelopeError::TooLarge { len: 11, limit: 10 })
        );
        let mut d = EnvelopeDecoder::new(10);
        d.push(&[0, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(matches!(
            d.next_frame(),
            Err(EnvelopeError::TooLarge { .. })
        ));
        // Exactly the limit is fine.
        assert_eq!(
            decode_all(&[&encode_envelope(0, &[1; 10])], 10)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn truncated() {
        let (wire, _) = sample();
        for cut in 1..wire.len() {
            let r = decode_all(&[&wire[..cut]], 1 << 20);
            // Cuts exactly at a frame boundary are valid prefixes.
            let boundary = {
                let mut d = EnvelopeDecoder::new(1 << 20);
                d.push(&wire[..cut]);
                while d.next_frame().unwrap().is_some() {}
                d.finish().is_ok()
            };
            assert_eq!(r.is_ok(), boundary, "cut at {cut}");
            if !boundary {
                assert!(matches!(r, Err(EnvelopeError::Truncated { .. })));
            }
        }
    }

    #[test]
    fn end_stream_trailer() {
        let err = ConnectError::new(ConnectCode::InvalidArgument, "bad");
        let f = decode_all(&[&encode_end_stream(Some(&err))], 1024)
            .unwrap()
            .remove(0);
        assert!(f.is_end_stream());
        let m: EndStreamMessage = serde_json::from_slice(&f.payload).unwrap();
        assert_eq!(m.error, Some(err));
        let ok = decode_all(&[&encode_end_stream(None)], 1024)
            .unwrap()
            .remove(0);
        assert_eq!(&ok.payload[..], b"{}");
        let m: EndStreamMessage =
            serde_json::from_slice(br#"{"metadata":{"a":["b"]},"error":{"code":"internal"}}"#)
                .unwrap();
        assert_eq!(m.error.unwrap().code, ConnectCode::Internal);
    }
}
