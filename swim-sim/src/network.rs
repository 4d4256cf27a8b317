//! The network model: latency, loss, duplication, reordering, size limit, reliable streams,
//! partitions, blackholes and clogs.
//!
//! A datagram from `a` to `b` is decided twice. When it is **sent**: the size limit, one-way
//! and symmetric partitions, an outbound blackhole at `a`, then loss (global, outbound at `a`,
//! per link, inbound at `b`, each independent) and duplication; its arrival time is `latency +
//! jitter` (plus the link's extra latency) and, with probability `reorder`, a further
//! `reorder_delay`. When it **arrives**: the destination must be running, not behind a
//! partition or an inbound blackhole; a clogged destination holds it until the clog ends.
//! Reliable stream messages are never lost or duplicated; they take `stream_latency` (plus
//! `len / stream_bytes_per_sec`) and fail, reported to the sender after
//! `stream_failure_delay`, when a partition or blackhole separates the ends or the destination
//! is down.

use std::time::Duration;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use swim_core::Instant;

use crate::dist::{Dist, Sampler};
use crate::duration::Dur;
use crate::rng::SimRng;

/// Largest datagram the default network carries: Ethernet's 1500-byte MTU minus IPv4 and UDP
/// headers.
pub const DEFAULT_MTU: usize = 1472;

/// The network of a scenario. Every field has a default; see the module docs for semantics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSpec {
    /// Base one-way datagram latency. Default 500 µs (a datacenter).
    pub latency: Dist,
    /// Added to every datagram's latency. Default: exponential, mean 100 µs.
    pub jitter: Dist,
    /// Probability that a datagram is lost anywhere on the way. Default 0.
    pub loss: f64,
    /// Probability that a datagram is delivered twice (the copy has its own latency).
    pub duplicate: f64,
    /// Probability that a datagram is held back by `reorder_delay`, so later ones overtake it.
    pub reorder: f64,
    /// The hold-back of a reordered datagram. Default uniform 1 to 20 ms.
    pub reorder_delay: Dist,
    /// Largest datagram delivered, in bytes; larger ones are dropped. Default 1472.
    pub mtu: usize,
    /// Latency of a reliable stream message (connection, request, reply). Default 2 ms.
    pub stream_latency: Dist,
    /// Stream throughput in bytes per second; 0 means unlimited. Default 1.25e9 (10 Gbit/s).
    pub stream_bytes_per_sec: f64,
    /// How long a sender takes to learn a stream could not be delivered. Default 1 s.
    pub stream_failure_delay: Dur,
    /// Per-link overrides.
    pub links: Vec<LinkSpec>,
}

/// One link's extra loss and latency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// Sender node index.
    pub from: u32,
    /// Destination node index.
    pub to: u32,
    /// Also apply from `to` to `from`. Default true.
    #[serde(default = "yes")]
    pub both_ways: bool,
    /// Loss probability on this link, on top of the others.
    #[serde(default)]
    pub loss: f64,
    /// Extra latency on this link.
    #[serde(default)]
    pub latency: Dist,
}

fn yes() -> bool {
    true
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            latency: Dist::constant(Duration::from_micros(500)),
            jitter: Dist::exponential(Duration::from_micros(100)),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Dist::uniform(Duration::from_millis(1), Duration::from_millis(20)),
            mtu: DEFAULT_MTU,
            stream_latency: Dist::constant(Duration::from_millis(2)),
            stream_bytes_per_sec: 1.25e9,
            stream_failure_delay: Dur::secs(1),
            links: Vec::new(),
        }
    }
}

impl NetworkSpec {
    /// Check probabilities and distributions.
    pub fn validate(&self, nodes: usize) -> Result<(), String> {
        for (p, name) in [(self.loss, "loss"), (self.duplicate, "duplicate"), (self.reorder, "reorder")] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("network.{name} must be in [0, 1], not {p}"));
            }
        }
        for (d, name) in [
            (&self.latency, "latency"),
            (&self.jitter, "jitter"),
            (&self.reorder_delay, "reorder_delay"),
            (&self.stream_latency, "stream_latency"),
        ] {
            d.validate().map_err(|e| format!("network.{name}: {e}"))?;
        }
        if self.mtu == 0 {
            return Err("network.mtu must be positive".into());
        }
        if !(self.stream_bytes_per_sec >= 0.0 && self.stream_bytes_per_sec.is_finite()) {
            return Err("network.stream_bytes_per_sec must be finite and >= 0".into());
        }
        for l in &self.links {
            if l.from as usize >= nodes || l.to as usize >= nodes {
                return Err(format!("network.links: link {}->{} names a node >= {nodes}", l.from, l.to));
            }
            if !(0.0..=1.0).contains(&l.loss) {
                return Err(format!("network.links: loss {} not in [0, 1]", l.loss));
            }
            l.latency.validate()?;
        }
        Ok(())
    }
}

/// Why a datagram was not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Random loss.
    Loss,
    /// Larger than the MTU.
    TooLarge,
    /// A partition separates the ends.
    Partition,
    /// The sender's outbound or the receiver's inbound traffic is blackholed.
    Blackhole,
    /// The destination is not running.
    Down,
}

/// What happens to a message when it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// It arrives at `at`, and a duplicate at `dup` if any.
    Deliver {
        /// Arrival.
        at: Instant,
        /// Arrival of a duplicate.
        dup: Option<Instant>,
    },
    /// It is dropped.
    Drop(DropReason),
    /// A stream that fails; the sender learns at `at`.
    StreamFails {
        /// When the sender is told.
        at: Instant,
    },
}

/// What happens to a message when it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Hand it to the node.
    Accept,
    /// Dropped (a stream's sender is told).
    Drop(DropReason),
    /// The destination is clogged: try again at this time.
    Hold(Instant),
}

/// Network counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetStats {
    /// Datagrams sent.
    pub datagrams_sent: u64,
    /// Datagrams handed to a node.
    pub datagrams_delivered: u64,
    /// Lost at random.
    pub lost: u64,
    /// Dropped for exceeding the MTU.
    pub too_large: u64,
    /// Dropped by a partition.
    pub partitioned: u64,
    /// Dropped by a blackhole.
    pub blackholed: u64,
    /// Dropped because the destination was not running.
    pub to_down_node: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Datagrams held back to be overtaken.
    pub reordered: u64,
    /// Messages held by a clog.
    pub clogged: u64,
    /// Stream messages sent.
    pub streams_sent: u64,
    /// Stream messages delivered.
    pub streams_delivered: u64,
    /// Stream messages that failed.
    pub streams_failed: u64,
}

#[derive(Clone, Copy, Debug)]
struct Link {
    loss: f64,
    extra: Sampler,
}

/// Most partitions that can be in force at once.
pub const MAX_PARTITIONS: usize = 64;

/// The network's state during a run.
#[derive(Debug)]
pub struct Network {
    rng: SimRng,
    latency: Sampler,
    jitter: Sampler,
    reorder_delay: Sampler,
    stream_latency: Sampler,
    loss: f64,
    duplicate: f64,
    reorder: f64,
    mtu: usize,
    stream_bytes_per_sec: f64,
    stream_failure_delay: Duration,
    loss_in: Vec<f64>,
    loss_out: Vec<f64>,
    node_loss: usize,
    links: FxHashMap<(u32, u32), Link>,
    part_a: Vec<u64>,
    part_b: Vec<u64>,
    part_active: u64,
    part_one_way: u64,
    hole_in: Vec<u16>,
    hole_out: Vec<u16>,
    holes: usize,
    clog_until: Vec<Instant>,
    clogs: usize,
    /// Counters.
    pub stats: NetStats,
}

impl Network {
    /// The network for `nodes` nodes, drawing from `rng`.
    pub fn new(spec: &NetworkSpec, nodes: usize, rng: SimRng) -> Self {
        let mut links = FxHashMap::default();
        for l in &spec.links {
            let link = Link { loss: l.loss, extra: l.latency.sampler() };
            links.insert((l.from, l.to), link);
            if l.both_ways {
                links.insert((l.to, l.from), link);
            }
        }
        Network {
            rng,
            latency: spec.latency.sampler(),
            jitter: spec.jitter.sampler(),
            reorder_delay: spec.reorder_delay.sampler(),
            stream_latency: spec.stream_latency.sampler(),
            loss: spec.loss,
            duplicate: spec.duplicate,
            reorder: spec.reorder,
            mtu: spec.mtu,
            stream_bytes_per_sec: spec.stream_bytes_per_sec,
            stream_failure_delay: spec.stream_failure_delay.0,
            loss_in: vec![0.0; nodes],
            loss_out: vec![0.0; nodes],
            node_loss: 0,
            links,
            part_a: vec![0; nodes],
            part_b: vec![0; nodes],
            part_active: 0,
            part_one_way: 0,
            hole_in: vec![0; nodes],
            hole_out: vec![0; nodes],
            holes: 0,
            clog_until: vec![Instant::ZERO; nodes],
            clogs: 0,
            stats: NetStats::default(),
        }
    }

    /// Whether a partition blocks `from -> to`.
    #[inline]
    pub fn partitioned(&self, from: u32, to: u32) -> bool {
        if self.part_active == 0 {
            return false;
        }
        let (f, t) = (from as usize, to as usize);
        let ab = self.part_a[f] & self.part_b[t];
        let ba = self.part_b[f] & self.part_a[t] & !self.part_one_way;
        (ab | ba) & self.part_active != 0
    }

    #[inline]
    fn blackholed(&self, from: u32, to: u32) -> bool {
        self.holes > 0 && (self.hole_out[from as usize] > 0 || self.hole_in[to as usize] > 0)
    }

    /// Whether a network fault touches `node` now: a partition, a blackhole, extra loss or a
    /// clog.
    pub fn impaired(&self, now: Instant, node: u32) -> bool {
        let n = node as usize;
        (self.part_active != 0 && (self.part_a[n] | self.part_b[n]) & self.part_active != 0)
            || (self.holes > 0 && (self.hole_in[n] > 0 || self.hole_out[n] > 0))
            || (self.node_loss > 0 && (self.loss_in[n] > 0.0 || self.loss_out[n] > 0.0))
            || (self.clogs > 0 && self.clog_until[n] > now)
    }

    /// Whether `from` can reach `to` right now (no partition or blackhole between them).
    pub fn reachable(&self, from: u32, to: u32) -> bool {
        !self.partitioned(from, to) && !self.blackholed(from, to)
    }

    fn clogged_until(&self, now: Instant, a: u32, b: u32) -> Option<Instant> {
        if self.clogs == 0 {
            return None;
        }
        let t = self.clog_until[a as usize].max(self.clog_until[b as usize]);
        (t > now).then_some(t)
    }

    fn keep_probability(&self, from: u32, to: u32) -> f64 {
        let mut keep = 1.0 - self.loss;
        if self.node_loss > 0 {
            keep *= (1.0 - self.loss_out[from as usize]) * (1.0 - self.loss_in[to as usize]);
        }
        if !self.links.is_empty()
            && let Some(l) = self.links.get(&(from, to))
        {
            keep *= 1.0 - l.loss;
        }
        keep
    }

    fn datagram_delay(&mut self, from: u32, to: u32) -> u64 {
        let mut d = self.latency.sample(&mut self.rng).saturating_add(self.jitter.sample(&mut self.rng));
        if !self.links.is_empty()
            && let Some(l) = self.links.get(&(from, to)).copied()
        {
            d = d.saturating_add(l.extra.sample(&mut self.rng));
        }
        if self.rng.chance(self.reorder) {
            self.stats.reordered += 1;
            d = d.saturating_add(self.reorder_delay.sample(&mut self.rng));
        }
        d
    }

    /// Decide the fate of a datagram of `len` bytes sent now.
    pub fn send_datagram(&mut self, now: Instant, from: u32, to: u32, len: usize) -> Route {
        self.stats.datagrams_sent += 1;
        if len > self.mtu {
            self.stats.too_large += 1;
            return Route::Drop(DropReason::TooLarge);
        }
        if self.partitioned(from, to) {
            self.stats.partitioned += 1;
            return Route::Drop(DropReason::Partition);
        }
        if self.holes > 0 && self.hole_out[from as usize] > 0 {
            self.stats.blackholed += 1;
            return Route::Drop(DropReason::Blackhole);
        }
        let keep = self.keep_probability(from, to);
        if keep < 1.0 && !self.rng.chance(keep) {
            self.stats.lost += 1;
            return Route::Drop(DropReason::Loss);
        }
        let base = self.clogged_until(now, from, to).inspect(|_| self.stats.clogged += 1).unwrap_or(now);
        let at = base + Duration::from_nanos(self.datagram_delay(from, to));
        let dup = if self.rng.chance(self.duplicate) {
            self.stats.duplicated += 1;
            Some(base + Duration::from_nanos(self.datagram_delay(from, to)))
        } else {
            None
        };
        Route::Deliver { at, dup }
    }

    /// Decide the fate of a stream message of `len` bytes sent now (`up`: destination running).
    pub fn send_stream(&mut self, now: Instant, from: u32, to: u32, len: usize, up: bool) -> Route {
        self.stats.streams_sent += 1;
        if !up || !self.reachable(from, to) {
            self.stats.streams_failed += 1;
            return Route::StreamFails { at: now + self.stream_failure_delay };
        }
        let base = self.clogged_until(now, from, to).inspect(|_| self.stats.clogged += 1).unwrap_or(now);
        let mut d = self.stream_latency.sample(&mut self.rng);
        if self.stream_bytes_per_sec > 0.0 {
            d = d.saturating_add((len as f64 / self.stream_bytes_per_sec * 1e9) as u64);
        }
        Route::Deliver { at: base + Duration::from_nanos(d), dup: None }
    }

    /// Decide whether a message arriving now is handed to the node (`up`: it is running).
    pub fn arrive(&mut self, now: Instant, from: u32, to: u32, stream: bool, up: bool) -> Admit {
        let reason = if !up {
            Some(DropReason::Down)
        } else if self.partitioned(from, to) {
            Some(DropReason::Partition)
        } else if self.holes > 0 && self.hole_in[to as usize] > 0 {
            Some(DropReason::Blackhole)
        } else {
            None
        };
        if let Some(r) = reason {
            if stream {
                self.stats.streams_failed += 1;
            } else {
                match r {
                    DropReason::Down => self.stats.to_down_node += 1,
                    DropReason::Partition => self.stats.partitioned += 1,
                    _ => self.stats.blackholed += 1,
                }
            }
            return Admit::Drop(r);
        }
        if self.clogs > 0 && self.clog_until[to as usize] > now {
            self.stats.clogged += 1;
            return Admit::Hold(self.clog_until[to as usize]);
        }
        if stream {
            self.stats.streams_delivered += 1;
        } else {
            self.stats.datagrams_delivered += 1;
        }
        Admit::Accept
    }

    /// How long a stream sender waits to learn of a failure.
    pub fn stream_failure_delay(&self) -> Duration {
        self.stream_failure_delay
    }

    // ------------------------------------------------------------ faults

    /// Start a partition between `a` and `b` (one-way: only `a -> b` is cut). Returns its id,
    /// or `None` if [`MAX_PARTITIONS`] are already in force.
    pub fn partition(&mut self, a: &[u32], b: &[u32], one_way: bool) -> Option<u32> {
        let free = !self.part_active;
        if free == 0 {
            return None;
        }
        let id = free.trailing_zeros();
        let bit = 1u64 << id;
        for x in self.part_a.iter_mut().chain(self.part_b.iter_mut()) {
            *x &= !bit;
        }
        for &n in a {
            self.part_a[n as usize] |= bit;
        }
        for &n in b {
            self.part_b[n as usize] |= bit;
        }
        self.part_active |= bit;
        if one_way {
            self.part_one_way |= bit;
        } else {
            self.part_one_way &= !bit;
        }
        Some(id)
    }

    /// End partition `id`.
    pub fn heal_partition(&mut self, id: u32) {
        self.part_active &= !(1u64 << id);
    }

    /// Partitions in force.
    pub fn partitions(&self) -> u32 {
        self.part_active.count_ones()
    }

    /// Blackhole (or stop blackholing, `on = false`) inbound and/or outbound traffic of `node`.
    /// Blackholes nest: each `on` needs its own `off`.
    pub fn blackhole(&mut self, node: u32, inbound: bool, outbound: bool, on: bool) {
        let n = node as usize;
        for (dir, v) in [(inbound, &mut self.hole_in[n]), (outbound, &mut self.hole_out[n])] {
            if !dir {
                continue;
            }
            if on {
                *v += 1;
                self.holes += 1;
            } else if *v > 0 {
                *v -= 1;
                self.holes -= 1;
            }
        }
    }

    /// End every blackhole.
    pub fn clear_blackholes(&mut self) {
        self.hole_in.iter_mut().for_each(|h| *h = 0);
        self.hole_out.iter_mut().for_each(|h| *h = 0);
        self.holes = 0;
    }

    /// End `node`'s clog now (messages already held keep their delivery time).
    pub fn unclog(&mut self, node: u32, now: Instant) {
        let c = &mut self.clog_until[node as usize];
        *c = (*c).min(now);
    }

    /// Hold all traffic to and from `node` until `until`.
    pub fn clog(&mut self, node: u32, until: Instant) {
        let n = node as usize;
        if self.clog_until[n] == Instant::ZERO {
            self.clogs += 1;
        }
        self.clog_until[n] = self.clog_until[n].max(until);
    }

    /// Set `node`'s inbound and outbound loss.
    pub fn set_node_loss(&mut self, node: u32, inbound: f64, outbound: f64) {
        let n = node as usize;
        let before = self.loss_in[n] > 0.0 || self.loss_out[n] > 0.0;
        self.loss_in[n] = inbound;
        self.loss_out[n] = outbound;
        let after = inbound > 0.0 || outbound > 0.0;
        match (before, after) {
            (false, true) => self.node_loss += 1,
            (true, false) => self.node_loss -= 1,
            _ => {}
        }
    }

    /// A node's `(inbound, outbound)` loss.
    pub fn node_loss(&self, node: u32) -> (f64, f64) {
        (self.loss_in[node as usize], self.loss_out[node as usize])
    }

    /// Set the global loss.
    pub fn set_loss(&mut self, loss: f64) {
        self.loss = loss;
    }

    /// The global loss.
    pub fn loss(&self) -> f64 {
        self.loss
    }

    /// Approximate heap bytes.
    pub fn heap_bytes(&self) -> usize {
        let n = self.loss_in.len();
        n * (8 + 8 + 8 + 8 + 2 + 2 + 8) + self.links.capacity() * 32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(spec: NetworkSpec) -> Network {
        Network::new(&spec, 4, SimRng::new(1))
    }

    #[test]
    fn partitions_cut_the_right_directions() {
        let mut n = net(NetworkSpec::default());
        let sym = n.partition(&[0, 1], &[2, 3], false).unwrap();
        assert!(n.partitioned(0, 2) && n.partitioned(2, 0) && !n.partitioned(0, 1) && !n.partitioned(2, 3));
        n.heal_partition(sym);
        assert!(!n.partitioned(0, 2));
        let one = n.partition(&[0], &[1], true).unwrap();
        assert!(n.partitioned(0, 1) && !n.partitioned(1, 0));
        n.heal_partition(one);
        assert_eq!(n.partitions(), 0);
    }

    #[test]
    fn loss_size_and_blackholes() {
        let mut n = net(NetworkSpec { loss: 0.5, jitter: Dist::default(), ..NetworkSpec::default() });
        let now = Instant::ZERO;
        let kept = (0..10_000).filter(|_| matches!(n.send_datagram(now, 0, 1, 100), Route::Deliver { .. })).count();
        assert!((4_500..5_500).contains(&kept), "{kept}");
        assert_eq!(n.send_datagram(now, 0, 1, 5000), Route::Drop(DropReason::TooLarge));
        n.set_loss(0.0);
        assert_eq!(
            n.send_datagram(now, 0, 1, 100),
            Route::Deliver { at: Instant::from_micros_for_test(500), dup: None }
        );
        n.blackhole(1, true, false, true);
        assert_eq!(n.arrive(now, 0, 1, false, true), Admit::Drop(DropReason::Blackhole));
        assert_eq!(n.arrive(now, 1, 0, false, true), Admit::Accept);
        n.blackhole(1, true, false, false);
        assert_eq!(n.arrive(now, 0, 1, false, true), Admit::Accept);
        assert_eq!(n.arrive(now, 0, 1, false, false), Admit::Drop(DropReason::Down));
    }

    #[test]
    fn streams_fail_across_partitions_and_clogs_hold() {
        let mut n = net(NetworkSpec::default());
        let now = Instant::from_secs(1);
        n.partition(&[0], &[1], false);
        assert_eq!(n.send_stream(now, 0, 1, 10, true), Route::StreamFails { at: Instant::from_secs(2) });
        assert!(matches!(n.send_stream(now, 0, 2, 10, true), Route::Deliver { .. }));
        assert!(matches!(n.send_stream(now, 0, 2, 10, false), Route::StreamFails { .. }));
        n.clog(3, Instant::from_secs(5));
        match n.send_datagram(now, 2, 3, 10) {
            Route::Deliver { at, .. } => assert!(at > Instant::from_secs(5)),
            r => panic!("{r:?}"),
        }
        assert_eq!(n.arrive(now, 2, 3, false, true), Admit::Hold(Instant::from_secs(5)));
    }

    trait ForTest {
        fn from_micros_for_test(us: u64) -> Instant;
    }
    impl ForTest for Instant {
        fn from_micros_for_test(us: u64) -> Instant {
            Instant::from_nanos(us * 1000)
        }
    }
}
