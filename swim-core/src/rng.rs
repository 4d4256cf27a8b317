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

/// A keyed SipHash-2-4 [`BuildHasher`] (the one `core` ships), keyed from the core's RNG.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SeededState {
    k0: u64,
    k1: u64,
}

impl BuildHasher for SeededState {
    #[allow(deprecated)] // core's SipHasher is deprecated only in favour of std's, which no_std lacks.
    type Hasher = core::hash::SipHasher;
    #[allow(deprecated)]
    fn build_hasher(&self) -> Self::Hasher {
        core::hash::SipHasher::new_with_keys(self.k0, self.k1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
