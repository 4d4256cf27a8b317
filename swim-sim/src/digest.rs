//! The trace digest: a 64-bit fingerprint of everything a run did.
//!
//! Every transmit (time, sender, destination, bytes), every delivery and drop, every timer,
//! every event and every fault goes into it, in order. Two runs with the same seed and the
//! same build must end with the same digest; a test and `swim-sim run --check-determinism`
//! prove it. It is not cryptographic: it reads eight bytes at a time so that hashing the
//! traffic costs little next to encoding it.

/// An order-sensitive 64-bit hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digest(u64);

const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl Default for Digest {
    fn default() -> Self {
        Digest(0xcbf2_9ce4_8422_2325)
    }
}

impl Digest {
    /// Mix in one word.
    #[inline]
    pub fn u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x).wrapping_mul(K).rotate_left(27) ^ (self.0 >> 17);
    }

    /// Mix in bytes (and their length).
    pub fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.u64(u64::from_le_bytes(w));
        }
    }

    /// The fingerprint so far.
    pub fn value(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_content_matter() {
        let mut a = Digest::default();
        a.u64(1);
        a.u64(2);
        let mut b = Digest::default();
        b.u64(2);
        b.u64(1);
        assert_ne!(a, b);
        let mut c = Digest::default();
        c.bytes(b"hello world");
        let mut d = Digest::default();
        d.bytes(b"hello worle");
        assert_ne!(c, d);
        let mut e = Digest::default();
        e.bytes(b"hello world");
        assert_eq!(c, e);
    }
}
