//! Unpredictable transaction ids for upstream queries (RFC 5452: an off-path attacker who can't
//! guess the id and the source port can't slip a forged answer in).
//!
//! Without a random-number crate: std's `RandomState` is keyed from the OS's random source, and
//! SipHash under a secret key is a pseudo-random function, so hashing a counter gives ids that
//! can't be predicted from earlier ones. (The source port comes from the kernel: each query uses
//! a fresh socket.)

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// A source of transaction ids.
#[derive(Debug)]
pub(crate) struct TxIds {
    key: RandomState,
    counter: AtomicU64,
}

impl TxIds {
    pub(crate) fn new() -> TxIds {
        TxIds {
            key: RandomState::new(),
            counter: AtomicU64::new(0),
        }
    }

    pub(crate) fn next(&self) -> u16 {
        let mut h = self.key.build_hasher();
        h.write_u64(self.counter.fetch_add(1, Ordering::Relaxed));
        h.finish() as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_spread_out() {
        let ids = TxIds::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            seen.insert(ids.next());
        }
        // 1000 draws from 65536 values: about 8 collisions expected, a counter would give 0 and
        // a constant 999.
        assert!(seen.len() > 950, "{} distinct ids", seen.len());
        let first: Vec<u16> = (0..4).map(|_| TxIds::new().next()).collect();
        assert!(
            first.windows(2).any(|w| w[0] != w[1]),
            "every generator starts the same: {first:?}"
        );
    }
}
