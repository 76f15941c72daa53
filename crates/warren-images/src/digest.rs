//! Content digests (`sha256:<64 hex>`) and a hashing helper.
//!
//! Only sha256 is supported: it is what every registry and every OCI image
//! in practice uses. Anything else is refused when parsed, so a digest that
//! exists is always one we can verify.

use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::error::DigestError;

/// A validated `sha256:<64 lowercase hex>` digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses `sha256:<hex>`; rejects other algorithms and malformed hex.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let Some((algo, hex)) = s.split_once(':') else {
            return Err(DigestError::Malformed {
                digest: s.to_owned(),
            });
        };
        if algo != "sha256" {
            return Err(DigestError::UnsupportedAlgorithm {
                digest: s.to_owned(),
            });
        }
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(DigestError::Malformed {
                digest: s.to_owned(),
            });
        }
        Ok(Digest(s.to_owned()))
    }

    /// Digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        Digest::from_hasher(Sha256::new_with_prefix(data))
    }

    pub(crate) fn from_hasher(h: Sha256) -> Self {
        Digest(format!("sha256:{}", hex::encode(h.finalize())))
    }

    /// The 64 hex characters.
    pub fn hex(&self) -> &str {
        &self.0[7..]
    }

    /// The full `sha256:…` form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// First 12 hex characters, for display and generated names.
    pub fn short(&self) -> &str {
        &self.0[7..19]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A `Read` adapter that hashes everything read through it.
#[derive(Debug)]
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Bytes read so far and their digest.
    pub(crate) fn finish(self) -> (u64, Digest) {
        (self.count, Digest::from_hasher(self.hasher))
    }
}

impl<R: std::io::Read> std::io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_hash() {
        let d = Digest::of(b"");
        assert_eq!(
            d.as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::parse(d.as_str()).unwrap(), d);
        assert_eq!(d.short(), "e3b0c44298fc");
        assert!(Digest::parse("sha512:00").is_err());
        assert!(
            Digest::parse(
                "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
            )
            .is_err()
        );
        assert!(Digest::parse("e3b0c44298fc").is_err());
        let mut r = HashingReader::new(&b"abc"[..]);
        std::io::copy(&mut r, &mut std::io::sink()).unwrap();
        let (n, d) = r.finish();
        assert_eq!(n, 3);
        assert_eq!(
            d.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
