//! One seed decides everything: the sub-seeds derived from it, and the generator.
//!
//! A run's master seed is split into independent streams, one per concern ([`Stream`]):
//! each node's core gets its own seed (and a new one for every restart), each node's
//! CPU-starvation delays come from its own generator, and the network and the fault
//! schedule have theirs. Adding a node or a fault therefore changes only what depends on it.

use swim_core::rng::SwimRng;

/// The independent random streams of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// The seed handed to a node's [`swim_core::Swim`] (index: node, life).
    Core,
    /// A node's CPU-starvation delays (index: node).
    Slow,
    /// Latency, loss, duplication and reordering.
    Network,
    /// Random node choices in the fault schedule.
    Faults,
    /// Join times and join seeds.
    Start,
    /// Swarm testing: the drawn cluster, configuration and faults.
    Swarm,
    /// The latency model's positions and access delays (`network.space`).
    Space,
}

impl Stream {
    fn tag(self) -> u64 {
        match self {
            Stream::Core => 0x636f_7265,
            Stream::Slow => 0x736c_6f77,
            Stream::Network => 0x6e65_7477,
            Stream::Faults => 0x6661_756c,
            Stream::Start => 0x7374_6172,
            Stream::Swarm => 0x7377_6172,
            Stream::Space => 0x7370_6163,
        }
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of stream `stream`, item `index`, of master seed `master`.
pub fn derive_seed(master: u64, stream: Stream, index: u64) -> u64 {
    let a = mix(master.wrapping_add(0x9e37_79b9_7f4a_7c15));
    let b = mix(a ^ stream.tag().wrapping_mul(0xd6e8_feb8_6659_fd93));
    mix(b ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(1))
}

/// A seeded generator (xoshiro256++, the core's own).
#[derive(Clone, Debug)]
pub struct SimRng(SwimRng);

impl SimRng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        SimRng(SwimRng::from_seed_u64(seed))
    }

    /// The generator of stream `stream`, item `index`, of master seed `master`.
    pub fn derive(master: u64, stream: Stream, index: u64) -> Self {
        SimRng::new(derive_seed(master, stream, index))
    }

    /// 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n`; `n` must not be 0.
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        self.0.below(n)
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p` (no draw when `p <= 0`).
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (p >= 1.0 || self.unit() < p)
    }

    /// Uniform in `[lo, hi]`.
    pub fn range_u64(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo { lo } else { lo + self.next_u64() % (hi - lo + 1) }
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        self.0.shuffle(items)
    }

    /// `k` distinct items of `pool` (all of them if `k >= pool.len()`), in random order.
    pub fn choose<T: Copy>(&mut self, pool: &[T], k: usize) -> Vec<T> {
        let mut v = pool.to_vec();
        let k = k.min(v.len());
        for i in 0..k {
            let j = i + self.below(v.len() - i);
            v.swap(i, j);
        }
        v.truncate(k);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_and_reproducible() {
        assert_eq!(derive_seed(1, Stream::Core, 0), derive_seed(1, Stream::Core, 0));
        assert_ne!(derive_seed(1, Stream::Core, 0), derive_seed(1, Stream::Core, 1));
        assert_ne!(derive_seed(1, Stream::Core, 0), derive_seed(1, Stream::Slow, 0));
        assert_ne!(derive_seed(1, Stream::Core, 0), derive_seed(2, Stream::Core, 0));
        let mut a = SimRng::derive(7, Stream::Network, 0);
        let mut b = SimRng::derive(7, Stream::Network, 0);
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn choose_returns_distinct_items() {
        let mut r = SimRng::new(3);
        let pool: Vec<u32> = (0..10).collect();
        let mut c = r.choose(&pool, 4);
        assert_eq!(c.len(), 4);
        c.sort_unstable();
        c.dedup();
        assert_eq!(c.len(), 4);
        assert_eq!(r.choose(&pool, 20).len(), 10);
        let u = r.unit();
        assert!((0.0..1.0).contains(&u));
    }
}
