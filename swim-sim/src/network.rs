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
//!
//! **Latency model** (off by default). With `space`, every member sits at a seeded point of a
//! 2- or 3-dimensional box (uniformly, or clustered around a few "data centres") and has its
//! own access delay (its "height"): a datagram from `a` to `b` takes
//! `distance(a, b) / 2 + access(a) + access(b)` on top of `latency + jitter`, where distances
//! are round-trip times (crossing a box side and back takes `size`). With `rtt_matrix`, the
//! one-way delay is half the measured round-trip time of the pair in a file (see
//! [`RttMatrix`]). Stream messages take the same one-way delay on top of `stream_latency`.
//! [`Network::true_rtt`] is the round-trip time a datagram pair takes on average with no
//! fault: what a coordinate system should estimate.

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
    /// The latency model: members in a seeded space with access delays. Default off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub space: Option<SpaceSpec>,
    /// The latency model: a file of measured round-trip times (format: [`RttMatrix`]). A
    /// relative path is relative to the scenario file's directory (the current directory for
    /// built-in scenarios and `--set`). Default off; not with `space`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_matrix: Option<String>,
}

/// Most dimensions of [`SpaceSpec::dimensions`].
pub const MAX_DIMENSIONS: usize = 3;
/// Most data centres of [`SpaceSpec::clusters`].
pub const MAX_CLUSTERS: usize = 1024;
/// Largest [`SpaceSpec::size`]: 10 s across one side of the box.
pub const MAX_SPACE_SIZE: Duration = Duration::from_secs(10);
/// Most members an [`RttMatrix`] file may describe (its memory grows with the square).
pub const MAX_MATRIX_MEMBERS: usize = 2048;
/// Largest round-trip time in an [`RttMatrix`] file: 10 s.
pub const MAX_MATRIX_RTT: Duration = Duration::from_secs(10);

/// Where members sit (`[network.space]`): a seeded Euclidean space plus a per-member access
/// delay. Positions and access delays are drawn once per run from their own seed stream
/// ([`crate::rng::Stream::Space`]), so turning the model on changes no other random draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpaceSpec {
    /// 2 or 3 ([`MAX_DIMENSIONS`]). Default 2.
    pub dimensions: usize,
    /// Side of the box, as the round-trip time between two members at opposite ends of one
    /// axis. At most [`MAX_SPACE_SIZE`]. Default 100 ms.
    pub size: Dur,
    /// 0: members uniform in the box. `n` ([`MAX_CLUSTERS`] at most): `n` data centres
    /// uniform in the box, each member at one of them (uniformly chosen) with a normal offset
    /// of `cluster_spread` per axis. Default 0.
    pub clusters: usize,
    /// Standard deviation of a member's offset from its data centre, per axis, in the same
    /// round-trip unit as `size`. Default 2 ms.
    pub cluster_spread: Dur,
    /// Each member's one-way access delay (its "height"), drawn once. Default uniform
    /// 100 µs to 1 ms.
    pub access: Dist,
}

impl Default for SpaceSpec {
    fn default() -> Self {
        SpaceSpec {
            dimensions: 2,
            size: Dur::millis(100),
            clusters: 0,
            cluster_spread: Dur::millis(2),
            access: Dist::uniform(Duration::from_micros(100), Duration::from_millis(1)),
        }
    }
}

impl SpaceSpec {
    /// Check the ranges; the error names the field (relative to `network.space`).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(2..=MAX_DIMENSIONS).contains(&self.dimensions) {
            return Err(("dimensions", format!("must be 2 or 3, not {}", self.dimensions)));
        }
        if self.size.0.is_zero() || self.size.0 > MAX_SPACE_SIZE {
            return Err(("size", format!("must be positive and at most 10s, not {}", self.size)));
        }
        if self.clusters > MAX_CLUSTERS {
            return Err(("clusters", format!("must be at most {MAX_CLUSTERS}, not {}", self.clusters)));
        }
        if self.cluster_spread.0 > self.size.0 {
            return Err((
                "cluster_spread",
                format!("{} is larger than the box (`size` {})", self.cluster_spread, self.size),
            ));
        }
        self.access.validate().map_err(|e| ("access", e))?;
        if self.access.mean() > MAX_SPACE_SIZE.as_secs_f64() {
            return Err(("access", "must have a mean of at most 10s".into()));
        }
        Ok(())
    }
}

/// A matrix of measured round-trip times, loaded from a text file (`network.rtt_matrix`).
///
/// The format: one line per member (member `i` on the `i`-th line that is not blank and does
/// not start with `#`), each with one round-trip time in milliseconds per member, separated
/// by spaces, tabs or commas; the file is square (`m` lines of `m` numbers, at most
/// [`MAX_MATRIX_MEMBERS`]) and describes at least as many members as the run has. Entry
/// `(i, j)` is the round-trip time measured from `i` to `j`; the diagonal is ignored; a
/// datagram between `i` and `j` takes `(rtt(i, j) + rtt(j, i)) / 4` each way, so a round trip
/// takes their mean. Every entry is finite, at least 0 and at most 10 s ([`MAX_MATRIX_RTT`]).
/// `swim-sim/scenarios/data/rtt-example.txt` is an example.
#[derive(Clone, Debug, PartialEq)]
pub struct RttMatrix {
    members: usize,
    /// One-way delays in nanoseconds, row-major, symmetric.
    one_way: Vec<u64>,
}

impl RttMatrix {
    /// Parse the file's text; an error names the line.
    pub fn parse(text: &str) -> Result<RttMatrix, String> {
        let mut rows: Vec<Vec<f64>> = Vec::new();
        for (k, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if rows.len() == MAX_MATRIX_MEMBERS {
                return Err(format!("line {}: more than {MAX_MATRIX_MEMBERS} members", k + 1));
            }
            let mut row = Vec::new();
            for word in line.split(|c: char| c == ',' || c.is_whitespace()).filter(|w| !w.is_empty()) {
                let ms: f64 = word.parse().map_err(|_| format!("line {}: `{word}` is not a number", k + 1))?;
                if !(ms.is_finite() && ms >= 0.0 && ms <= MAX_MATRIX_RTT.as_secs_f64() * 1e3) {
                    return Err(format!("line {}: {ms} ms is not between 0 and 10000 ms", k + 1));
                }
                row.push(ms);
            }
            if let Some(first) = rows.first()
                && row.len() != first.len()
            {
                return Err(format!("line {}: {} entries, the first row has {}", k + 1, row.len(), first.len()));
            }
            rows.push(row);
        }
        let m = rows.len();
        if m == 0 {
            return Err("no rows".into());
        }
        if rows[0].len() != m {
            return Err(format!("{m} rows of {} entries: the matrix must be square", rows[0].len()));
        }
        let mut one_way = vec![0u64; m * m];
        for i in 0..m {
            for j in 0..m {
                if i != j {
                    // ms to ns, a quarter of the two directions' sum: at most 5e9, fits.
                    one_way[i * m + j] = ((rows[i][j] + rows[j][i]) * 1e6 / 4.0).round() as u64;
                }
            }
        }
        Ok(RttMatrix { members: m, one_way })
    }

    /// Read and parse `path`; an error names the file and the line.
    pub fn load(path: &str) -> Result<RttMatrix, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
        RttMatrix::parse(&text).map_err(|e| format!("`{path}`, {e}"))
    }

    /// How many members the file describes.
    pub fn members(&self) -> usize {
        self.members
    }
}

/// A compiled latency model: the per-pair delay added to every message.
#[derive(Clone, Debug, Default)]
pub enum LatencyModel {
    /// No per-pair delay (the default).
    #[default]
    Off,
    /// Members in a space.
    Space {
        /// Dimensions used.
        dims: usize,
        /// Each member's position, in round-trip nanoseconds.
        pos: Vec<[f64; MAX_DIMENSIONS]>,
        /// Each member's one-way access delay, in nanoseconds.
        access: Vec<u64>,
    },
    /// Measured round-trip times.
    Matrix(RttMatrix),
}

impl LatencyModel {
    /// The model `spec` asks for, for `nodes` members, drawing positions from `rng`.
    pub fn build(spec: &NetworkSpec, nodes: usize, mut rng: SimRng) -> Result<LatencyModel, String> {
        match (&spec.space, &spec.rtt_matrix) {
            (Some(_), Some(_)) => Err("network.space and network.rtt_matrix exclude each other".into()),
            (None, None) => Ok(LatencyModel::Off),
            (None, Some(path)) => {
                let m = RttMatrix::load(path).map_err(|e| format!("network.rtt_matrix: {e}"))?;
                if m.members < nodes {
                    return Err(format!(
                        "network.rtt_matrix: `{path}` describes {} members, the cluster has {nodes}",
                        m.members
                    ));
                }
                Ok(LatencyModel::Matrix(m))
            }
            (Some(s), None) => {
                s.validate().map_err(|(f, e)| format!("network.space.{f}: {e}"))?;
                let size = s.size.0.as_nanos() as f64;
                let spread = s.cluster_spread.0.as_nanos() as f64;
                let point = |rng: &mut SimRng| {
                    let mut p = [0.0; MAX_DIMENSIONS];
                    for x in p.iter_mut().take(s.dimensions) {
                        *x = rng.unit() * size;
                    }
                    p
                };
                let centres: Vec<_> = (0..s.clusters).map(|_| point(&mut rng)).collect();
                let mut pos = Vec::with_capacity(nodes);
                for _ in 0..nodes {
                    if centres.is_empty() {
                        pos.push(point(&mut rng));
                    } else {
                        let mut p = centres[rng.below(centres.len())];
                        for x in p.iter_mut().take(s.dimensions) {
                            *x += spread * crate::dist::standard_normal(&mut rng);
                        }
                        pos.push(p);
                    }
                }
                let access_sampler = s.access.sampler();
                let access = (0..nodes).map(|_| access_sampler.sample(&mut rng)).collect();
                Ok(LatencyModel::Space { dims: s.dimensions, pos, access })
            }
        }
    }

    /// The model's one-way delay from `a` to `b`, in nanoseconds (0 when off).
    #[inline]
    pub fn one_way(&self, a: u32, b: u32) -> u64 {
        match self {
            LatencyModel::Off => 0,
            LatencyModel::Space { dims, pos, access } => {
                let (pa, pb) = (&pos[a as usize], &pos[b as usize]);
                let d2: f64 = (0..*dims).map(|k| (pa[k] - pb[k]) * (pa[k] - pb[k])).sum();
                (d2.sqrt() / 2.0) as u64 + access[a as usize] + access[b as usize]
            }
            LatencyModel::Matrix(m) => m.one_way[a as usize * m.members + b as usize],
        }
    }

    /// Approximate heap bytes.
    pub fn heap_bytes(&self) -> usize {
        match self {
            LatencyModel::Off => 0,
            LatencyModel::Space { pos, access, .. } => pos.len() * 24 + access.len() * 8,
            LatencyModel::Matrix(m) => m.one_way.len() * 8,
        }
    }
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
            space: None,
            rtt_matrix: None,
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
        if let Some(s) = &self.space {
            s.validate().map_err(|(f, e)| format!("network.space.{f}: {e}"))?;
        }
        if self.space.is_some() && self.rtt_matrix.is_some() {
            return Err("network.space and network.rtt_matrix exclude each other".into());
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
    /// Mean of `extra`, in nanoseconds.
    extra_mean: f64,
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
    model: LatencyModel,
    /// Mean of `latency + jitter`, in nanoseconds.
    base_mean: f64,
    /// Counters.
    pub stats: NetStats,
}

impl Network {
    /// The network for `nodes` nodes, drawing from `rng`.
    pub fn new(spec: &NetworkSpec, nodes: usize, rng: SimRng) -> Self {
        let mut links = FxHashMap::default();
        for l in &spec.links {
            let link = Link { loss: l.loss, extra: l.latency.sampler(), extra_mean: l.latency.mean() * 1e9 };
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
            model: LatencyModel::Off,
            base_mean: (spec.latency.mean() + spec.jitter.mean()) * 1e9,
            stats: NetStats::default(),
        }
    }

    /// Install the latency model (the network starts without one).
    pub fn set_model(&mut self, model: LatencyModel) {
        self.model = model;
    }

    /// The latency model.
    pub fn model(&self) -> &LatencyModel {
        &self.model
    }

    /// The true round-trip time between `a` and `b`: the mean time a datagram takes from `a`
    /// to `b` and one takes back, with no fault, no reordering and no CPU starvation: twice
    /// the model's one-way delay (see [`LatencyModel`]) plus the means of `latency` and
    /// `jitter` both ways and of the link's extra latency each way. It is the same for every
    /// call: nothing random is drawn.
    pub fn true_rtt(&self, a: u32, b: u32) -> Duration {
        let mut ns = self.model.one_way(a, b) as f64 + self.model.one_way(b, a) as f64 + 2.0 * self.base_mean;
        for key in [(a, b), (b, a)] {
            if let Some(l) = self.links.get(&key) {
                ns += l.extra_mean;
            }
        }
        Duration::from_nanos(ns.min(u64::MAX as f64) as u64)
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
        d = d.saturating_add(self.model.one_way(from, to));
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
        let mut d = self.stream_latency.sample(&mut self.rng).saturating_add(self.model.one_way(from, to));
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
        n * (8 + 8 + 8 + 8 + 2 + 2 + 8) + self.links.capacity() * 40 + self.model.heap_bytes()
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

    fn delay(n: &mut Network, a: u32, b: u32) -> Duration {
        match n.send_datagram(Instant::ZERO, a, b, 10) {
            Route::Deliver { at, .. } => at - Instant::ZERO,
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn the_space_model_adds_half_the_distance_and_both_access_delays() {
        let spec = NetworkSpec {
            latency: Dist::default(),
            jitter: Dist::default(),
            space: Some(SpaceSpec { access: Dist::constant(Duration::from_millis(1)), ..SpaceSpec::default() }),
            ..NetworkSpec::default()
        };
        let mut n = net(spec.clone());
        n.set_model(LatencyModel::build(&spec, 4, SimRng::new(7)).unwrap());
        let LatencyModel::Space { pos, .. } = n.model().clone() else { panic!("a space model") };
        for (a, b) in [(0u32, 1u32), (2, 3), (3, 0)] {
            let (pa, pb) = (pos[a as usize], pos[b as usize]);
            let dist = ((pa[0] - pb[0]).powi(2) + (pa[1] - pb[1]).powi(2)).sqrt();
            assert!(pa.iter().chain(&pb).take(2).all(|x| (0.0..100e6).contains(x)), "inside the box: {pa:?} {pb:?}");
            let expect = Duration::from_nanos((dist / 2.0) as u64) + Duration::from_millis(2);
            assert_eq!(delay(&mut n, a, b), expect);
            assert_eq!(delay(&mut n, b, a), expect);
            assert_eq!(n.true_rtt(a, b), expect * 2);
            assert_eq!(n.true_rtt(b, a), expect * 2);
        }
        // The same seed places the members at the same points; another seed elsewhere.
        let again = LatencyModel::build(&spec, 4, SimRng::new(7)).unwrap();
        let other = LatencyModel::build(&spec, 4, SimRng::new(8)).unwrap();
        assert_eq!(again.one_way(0, 1), n.model().one_way(0, 1));
        assert_ne!(other.one_way(0, 1), n.model().one_way(0, 1));
    }

    #[test]
    fn clustered_members_are_near_their_data_centre() {
        let space = SpaceSpec { clusters: 3, cluster_spread: Dur::millis(1), ..SpaceSpec::default() };
        let spec = NetworkSpec { space: Some(space), ..NetworkSpec::default() };
        let m = LatencyModel::build(&spec, 300, SimRng::new(3)).unwrap();
        let LatencyModel::Space { pos, .. } = &m else { panic!("a space model") };
        // Members gather around their data centre (1 ms spread): pairs split into near ones
        // (same data centre, within 8 ms) and far ones.
        let mut near = 0;
        let mut far = 0;
        for a in 0..300 {
            for b in a + 1..300 {
                let d = ((pos[a][0] - pos[b][0]).powi(2) + (pos[a][1] - pos[b][1]).powi(2)).sqrt();
                if d < 8e6 {
                    near += 1;
                } else {
                    far += 1;
                }
            }
        }
        // With 3 data centres about a third of the pairs share one.
        let share = near as f64 / (near + far) as f64;
        assert!((0.25..0.45).contains(&share), "{near} near, {far} far");
    }

    #[test]
    fn measured_round_trips_average_to_the_true_rtt() {
        let spec = NetworkSpec { space: Some(SpaceSpec::default()), ..NetworkSpec::default() };
        let mut n = net(spec.clone());
        n.set_model(LatencyModel::build(&spec, 4, SimRng::new(11)).unwrap());
        let rounds = 20_000;
        let total: Duration = (0..rounds).map(|_| delay(&mut n, 1, 2) + delay(&mut n, 2, 1)).sum();
        let mean = total.as_secs_f64() / rounds as f64;
        let truth = n.true_rtt(1, 2).as_secs_f64();
        assert!((mean - truth).abs() / truth < 0.01, "measured {mean}, true {truth}");
    }

    #[test]
    fn rtt_matrices_parse_and_refuse_with_the_line() {
        let m = RttMatrix::parse("# three members\n0 10 20\n12, 0, 30\n\n20\t30\t0\n").unwrap();
        assert_eq!(m.members(), 3);
        let model = LatencyModel::Matrix(m);
        assert_eq!(model.one_way(0, 1), 5_500_000, "a quarter of 10 ms + 12 ms");
        assert_eq!(model.one_way(1, 0), 5_500_000);
        assert_eq!(model.one_way(2, 1), 15_000_000);
        assert_eq!(model.one_way(1, 1), 0);
        for (text, wanted) in [
            ("0 1\n1 x\n", "line 2: `x` is not a number"),
            ("0 1\n1\n", "line 2: 1 entries, the first row has 2"),
            ("0 1 2\n1 0 2\n", "must be square"),
            ("0 -1\n1 0\n", "line 1: -1 ms is not between"),
            ("# nothing\n", "no rows"),
        ] {
            let e = RttMatrix::parse(text).unwrap_err();
            assert!(e.contains(wanted), "`{wanted}` missing from: {e}");
        }
        let spec = NetworkSpec { rtt_matrix: Some("/nonexistent/rtt.txt".into()), ..NetworkSpec::default() };
        let e = LatencyModel::build(&spec, 2, SimRng::new(1)).unwrap_err();
        assert!(e.contains("network.rtt_matrix: cannot read `/nonexistent/rtt.txt`"), "{e}");
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
