//! Seeded randomness and seeded hashing.
//!
//! Every random choice the core makes (probe order, indirect-probe helpers,
//! gossip targets, push-pull partners) comes from one [`SwimRng`] seeded at
//! construction, so the same seed and inputs give the same outputs. Hash tables
//! are keyed from the same RNG: iteration order is reproducible, and a remote
//! party that does not know the seed cannot aim colliding names at a table.

use core::convert::Infallible;
use core::hash::BuildHasher;

/// xoshiro256++ (Blackman and Vigna), seeded through SplitMix64.
///
/// Not cryptographic: it decides protocol choices, never keys or nonces.
#[derive(Clone, Debug)]
pub struct SwimRng {
    s: [u64; 4],
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl SwimRng {
    /// A generator fully determined by `seed`.
    pub fn from_seed_u64(seed: u64) -> Self {
        let mut st = seed;
        let s = [splitmix64(&mut st), splitmix64(&mut st), splitmix64(&mut st), splitmix64(&mut st)];
        SwimRng { s }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform integer in `0..n` (Lemire's method with rejection). `n` must be non-zero.
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        let n = n as u64;
        if n <= 1 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            if (m as u64) >= threshold {
                return (m >> 64) as usize;
            }
        }
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// A hasher builder keyed from this generator.
    pub(crate) fn hash_state(&mut self) -> SeededState {
        SeededState { k0: self.next_u64(), k1: self.next_u64() }
    }
}

impl rand_core::TryRng for SwimRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.next_u64() >> 32) as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.next_u64())
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::SeedableRng for SwimRng {
    type Seed = [u8; 8];
    fn from_seed(seed: [u8; 8]) -> Self {
        SwimRng::from_seed_u64(u64::from_le_bytes(seed))
    }
}

/// A [`BuildHasher`] for keyed SipHash-1-3 (the hash `std`'s `HashMap` uses), keyed from the
/// core's RNG. `core` only ships the slower SipHash-2-4.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SeededState {
    k0: u64,
    k1: u64,
}

impl BuildHasher for SeededState {
    type Hasher = SipHasher13;
    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

/// SipHash-1-3 (Aumasson and Bernstein): one compression round per 8-byte block, three
/// finalization rounds.
#[derive(Clone, Debug)]
pub(crate) struct SipHasher13 {
    v: [u64; 4],
    tail: u64,
    ntail: usize,
    length: usize,
}

impl SipHasher13 {
    fn new_with_keys(k0: u64, k1: u64) -> Self {
        SipHasher13 {
            v: [
                k0 ^ 0x736f_6d65_7073_6575,
                k1 ^ 0x646f_7261_6e64_6f6d,
                k0 ^ 0x6c79_6765_6e65_7261,
                k1 ^ 0x7465_6462_7974_6573,
            ],
            tail: 0,
            ntail: 0,
            length: 0,
        }
    }

    #[inline]
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13);
        v[1] ^= v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16);
        v[3] ^= v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21);
        v[3] ^= v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17);
        v[1] ^= v[2];
        v[2] = v[2].rotate_left(32);
    }

    #[inline]
    fn block(&mut self, m: u64) {
        self.v[3] ^= m;
        Self::round(&mut self.v);
        self.v[0] ^= m;
    }
}

impl core::hash::Hasher for SipHasher13 {
    fn write(&mut self, bytes: &[u8]) {
        self.length += bytes.len();
        let mut bytes = bytes;
        if self.ntail != 0 {
            let take = (8 - self.ntail).min(bytes.len());
            for (i, b) in bytes[..take].iter().enumerate() {
                self.tail |= u64::from(*b) << (8 * (self.ntail + i));
            }
            self.ntail += take;
            bytes = &bytes[take..];
            if self.ntail < 8 {
                return;
            }
            let m = self.tail;
            self.block(m);
            self.tail = 0;
            self.ntail = 0;
        }
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.block(u64::from_le_bytes(w));
        }
        for (i, b) in chunks.remainder().iter().enumerate() {
            self.tail |= u64::from(*b) << (8 * i);
        }
        self.ntail = chunks.remainder().len();
    }

    fn finish(&self) -> u64 {
        let mut v = self.v;
        let b = ((self.length as u64 & 0xff) << 56) | self.tail;
        v[3] ^= b;
        Self::round(&mut v);
        v[0] ^= b;
        v[2] ^= 0xff;
        Self::round(&mut v);
        Self::round(&mut v);
        Self::round(&mut v);
        v[0] ^ v[1] ^ v[2] ^ v[3]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siphash13_matches_std() {
        extern crate std;
        use core::hash::Hasher;
        // std's DefaultHasher is SipHash-1-3 keyed with (0, 0).
        let inputs: [&[&[u8]]; 6] = [
            &[],
            &[b"a"],
            &[b"node-1"],
            &[b"12345678"],
            &[b"a-rather-long-hostname.example.internal:7946"],
            &[b"abc", b"defghij", b"k", b"lmnopqrstuvwxyz"],
        ];
        for parts in inputs {
            let mut ours = SipHasher13::new_with_keys(0, 0);
            #[allow(deprecated)]
            let mut theirs = std::collections::hash_map::DefaultHasher::new();
            for p in parts {
                ours.write(p);
                theirs.write(p);
            }
            assert_eq!(ours.finish(), theirs.finish(), "{parts:?}");
        }
        let a = SeededState { k0: 1, k1: 2 }.hash_one("x");
        let b = SeededState { k0: 1, k1: 3 }.hash_one("x");
        assert_ne!(a, b, "the key changes the hash");
    }

    #[test]
    fn same_seed_same_stream() {
        let mut a = SwimRng::from_seed_u64(7);
        let mut b = SwimRng::from_seed_u64(7);
        let mut c = SwimRng::from_seed_u64(8);
        let xs: [u64; 8] = core::array::from_fn(|_| a.next_u64());
        let ys: [u64; 8] = core::array::from_fn(|_| b.next_u64());
        let zs: [u64; 8] = core::array::from_fn(|_| c.next_u64());
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn below_is_in_range_and_covers() {
        let mut r = SwimRng::from_seed_u64(1);
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            let v = r.below(7);
            seen[v] += 1;
        }
        for (i, c) in seen.iter().enumerate() {
            assert!(*c > 800 && *c < 1200, "bucket {i} got {c}");
        }
        assert_eq!(r.below(1), 0);
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut r = SwimRng::from_seed_u64(3);
        let mut v: [u32; 50] = core::array::from_fn(|i| i as u32);
        r.shuffle(&mut v);
        let mut sorted = v;
        sorted.sort();
        assert_eq!(sorted, core::array::from_fn::<u32, 50, _>(|i| i as u32));
        assert_ne!(v, sorted);
    }
}
