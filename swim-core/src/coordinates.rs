//! Vivaldi network coordinates: every member estimates its round-trip time to every other
//! member without measuring it.
//!
//! Each member holds a [`Coordinate`]: a point in a small Euclidean space plus a *height* (the
//! delay of its own access link, which every path to it pays) and an *adjustment* (a learned
//! offset that absorbs what the Euclidean model gets wrong). The estimated RTT between two
//! members is the distance between their points plus both heights, plus both adjustments
//! ([`Coordinate::estimate_rtt`]).
//!
//! This is the variant HashiCorp's Serf uses (its `coordinate` package): Vivaldi (Dabek, Cox,
//! Kaashoek, Morris, SIGCOMM 2004) with the height vectors of that paper, and from Ledlie,
//! Gardner, Seltzer ("Network coordinates in the wild", NSDI 2007) a latency filter (the
//! median of the last few RTT samples per peer, which discards the one-off spikes of a busy
//! host), the adjustment term and a weak gravity toward the origin that stops the whole
//! system drifting. The constants are Serf's ([`CoordinateConfig::default`]); the code is ours.
//!
//! One update ([`Vivaldi::update`]) takes a peer's coordinate and one RTT sample:
//!
//! 1. the sample goes through the peer's [`LatencyFilter`]; the median is used;
//! 2. *Vivaldi*: the local error estimate moves toward the relative error of the current
//!    estimate (weighted by how sure each side is), and the local point moves along the line
//!    to the peer by `cc * weight * (rtt - estimate)`, which also grows or shrinks the height;
//! 3. *adjustment*: the median of the last `adjustment_window` residuals (`rtt - raw
//!    distance`), halved (each side of a pair corrects half). Serf takes their mean; the
//!    median keeps one far-off peer (a starved member) from dragging everyone's term;
//! 4. *gravity*: a pull toward the origin of `(distance to origin / rho)^2`.
//!
//! A result that is not finite resets the coordinate to the origin (counted). Coordinates from
//! the network are checked before use ([`Coordinate::from_parts`], [`Coordinate::check`]):
//! wrong dimensionality, NaN, infinities and magnitudes above [`MAX_MAGNITUDE`] are refused and
//! never reach the local coordinate.
//!
//! Every quantity is in seconds, as `f64`. The update is deterministic: the only randomness
//! (a direction to push two coincident points apart) comes from the caller's [`SwimRng`].
//!
//! In swim-core the system is switched on by [`crate::Config::coordinates`]; probes feed it
//! (see [`crate::Swim::coordinate`]).

use core::fmt;
use core::time::Duration;

use crate::rng::SwimRng;

/// Most dimensions a coordinate can have (Serf's default, 8, is the most allowed): a
/// coordinate is a fixed array, so it is `Copy` and decoding one allocates nothing.
pub const MAX_DIMENSIONS: usize = 8;

/// Longest latency filter ([`CoordinateConfig::latency_filter_size`]), in samples.
pub const MAX_LATENCY_FILTER: usize = 8;

/// Longest adjustment window ([`CoordinateConfig::adjustment_window`]), in samples.
pub const MAX_ADJUSTMENT_WINDOW: usize = 256;

/// Largest absolute value, in seconds, of any component, the height, the adjustment and the
/// error of a coordinate accepted from the network. Real ones stay within a few seconds (no
/// RTT sample above [`MAX_RTT`] is used); anything larger is forged or broken.
pub const MAX_MAGNITUDE: f64 = 1_000.0;

/// RTT samples above this are discarded (Serf's bound): no real probe takes 10 s.
pub const MAX_RTT: Duration = Duration::from_secs(10);

/// Bytes a coordinate of [`MAX_DIMENSIONS`] takes in an extended ack (docs/protocol.md): one
/// byte of dimensions and eleven doubles.
pub const WIRE_SIZE: usize = 1 + (MAX_DIMENSIONS + 3) * 8;

/// Below this, a distance or an error counts as zero (Serf's threshold, 1 µs).
const ZERO_THRESHOLD: f64 = 1.0e-6;

/// The settings of the coordinate system ([`crate::Config::coordinates`]).
#[derive(Clone, Debug, PartialEq)]
pub struct CoordinateConfig {
    /// Dimensions of the Euclidean part, `1..=MAX_DIMENSIONS`. Default 8 (Serf's).
    pub dimensionality: usize,
    /// The error estimate's ceiling, and a new coordinate's error. Must be finite and
    /// positive. Default 1.5.
    pub vivaldi_error_max: f64,
    /// How fast the error estimate follows new samples (Vivaldi's `ce`), in `(0, 1]`.
    /// Default 0.25.
    pub vivaldi_ce: f64,
    /// How far one sample moves the coordinate (Vivaldi's `cc`), in `(0, 1]`. Default 0.25.
    pub vivaldi_cc: f64,
    /// Residuals whose median (halved) is the adjustment term, `0..=MAX_ADJUSTMENT_WINDOW`; 0 turns the
    /// adjustment off. Default 20.
    pub adjustment_window: usize,
    /// The smallest height. Must not be zero. Default 10 µs.
    pub height_min: Duration,
    /// RTT samples per peer whose median is used, `1..=MAX_LATENCY_FILTER`. Default 3.
    pub latency_filter_size: usize,
    /// Gravity's `rho`: the pull toward the origin is `(distance / rho)^2`, distance in
    /// seconds. Must be finite and positive. Default 150.
    pub gravity_rho: f64,
}

impl Default for CoordinateConfig {
    /// Serf's `coordinate.DefaultConfig`.
    fn default() -> Self {
        CoordinateConfig {
            dimensionality: 8,
            vivaldi_error_max: 1.5,
            vivaldi_ce: 0.25,
            vivaldi_cc: 0.25,
            adjustment_window: 20,
            height_min: Duration::from_micros(10),
            latency_filter_size: 3,
            gravity_rho: 150.0,
        }
    }
}

impl CoordinateConfig {
    /// The first field outside its documented range, if any (what `Config::validate` reports
    /// as [`crate::ConfigError::Coordinates`]).
    pub fn invalid_field(&self) -> Option<&'static str> {
        let unit = |v: f64| v > 0.0 && v <= 1.0;
        let positive = |v: f64| v.is_finite() && v > 0.0 && v <= MAX_MAGNITUDE;
        if self.dimensionality == 0 || self.dimensionality > MAX_DIMENSIONS {
            Some("coordinates.dimensionality")
        } else if !positive(self.vivaldi_error_max) {
            Some("coordinates.vivaldi_error_max")
        } else if !unit(self.vivaldi_ce) {
            Some("coordinates.vivaldi_ce")
        } else if !unit(self.vivaldi_cc) {
            Some("coordinates.vivaldi_cc")
        } else if self.adjustment_window > MAX_ADJUSTMENT_WINDOW {
            Some("coordinates.adjustment_window")
        } else if self.height_min.is_zero() || self.height_min.as_secs_f64() > MAX_MAGNITUDE {
            Some("coordinates.height_min")
        } else if self.latency_filter_size == 0 || self.latency_filter_size > MAX_LATENCY_FILTER {
            Some("coordinates.latency_filter_size")
        } else if !positive(self.gravity_rho) {
            Some("coordinates.gravity_rho")
        } else {
            None
        }
    }
}

/// Why a coordinate (or an RTT sample) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InvalidCoordinate {
    /// Its dimensionality is not this member's (or is above [`MAX_DIMENSIONS`]).
    Dimensions,
    /// A component, the error, the adjustment or the height is NaN or infinite.
    NotFinite,
    /// A value is above [`MAX_MAGNITUDE`] in absolute value, or the error or height is
    /// negative.
    OutOfRange,
    /// The RTT sample is above [`MAX_RTT`].
    Rtt,
}

impl fmt::Display for InvalidCoordinate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidCoordinate::Dimensions => "wrong number of dimensions",
            InvalidCoordinate::NotFinite => "a value is not finite",
            InvalidCoordinate::OutOfRange => "a value is out of range",
            InvalidCoordinate::Rtt => "round-trip time above the maximum",
        })
    }
}

/// A network coordinate. All values in seconds.
///
/// Equality is bitwise (`0.0` and `-0.0` differ, a NaN equals itself), which makes it an
/// equivalence, so messages that carry coordinates can be `Eq`.
#[derive(Clone, Copy, Debug)]
pub struct Coordinate {
    /// The Euclidean part; components at and past `dimensions` are zero.
    vec: [f64; MAX_DIMENSIONS],
    dimensions: u8,
    error: f64,
    adjustment: f64,
    height: f64,
}

impl PartialEq for Coordinate {
    fn eq(&self, other: &Self) -> bool {
        let bits = |c: &Coordinate| {
            let mut b = [0u64; MAX_DIMENSIONS + 3];
            for (o, v) in b.iter_mut().zip(c.vec.iter().chain([c.error, c.adjustment, c.height].iter())) {
                *o = v.to_bits();
            }
            b
        };
        self.dimensions == other.dimensions && bits(self) == bits(other)
    }
}

impl Eq for Coordinate {}

impl Coordinate {
    /// The origin of `config`'s space, with the largest error and the smallest height: what a
    /// member starts from.
    pub fn new(config: &CoordinateConfig) -> Self {
        Coordinate {
            vec: [0.0; MAX_DIMENSIONS],
            dimensions: config.dimensionality.clamp(1, MAX_DIMENSIONS) as u8,
            error: config.vivaldi_error_max,
            adjustment: 0.0,
            height: config.height_min.as_secs_f64(),
        }
    }

    /// A coordinate from its parts (as received from a peer), checked: at most
    /// [`MAX_DIMENSIONS`] components, every value finite and within [`MAX_MAGNITUDE`], error and
    /// height not negative.
    pub fn from_parts(vec: &[f64], error: f64, adjustment: f64, height: f64) -> Result<Self, InvalidCoordinate> {
        if vec.is_empty() || vec.len() > MAX_DIMENSIONS {
            return Err(InvalidCoordinate::Dimensions);
        }
        let mut c = Coordinate { vec: [0.0; MAX_DIMENSIONS], dimensions: vec.len() as u8, error, adjustment, height };
        c.vec[..vec.len()].copy_from_slice(vec);
        c.check(vec.len())?;
        Ok(c)
    }

    /// A coordinate from its parts, unchecked: what a decoder ([`crate::wire::Codec`]) reads
    /// off the wire, NaN and all (the core checks it with [`check`](Self::check) before use,
    /// and counts refusals). `vec` longer than [`MAX_DIMENSIONS`] is cut. Use
    /// [`from_parts`](Self::from_parts) everywhere else.
    pub fn from_raw(vec: &[f64], error: f64, adjustment: f64, height: f64) -> Self {
        let d = vec.len().min(MAX_DIMENSIONS);
        let mut c = Coordinate { vec: [0.0; MAX_DIMENSIONS], dimensions: d as u8, error, adjustment, height };
        c.vec[..d].copy_from_slice(&vec[..d]);
        c
    }

    /// Check a coordinate against this member's `dimensions` and the bounds of
    /// [`from_parts`](Self::from_parts).
    pub fn check(&self, dimensions: usize) -> Result<(), InvalidCoordinate> {
        if usize::from(self.dimensions) != dimensions {
            return Err(InvalidCoordinate::Dimensions);
        }
        let rest = [self.error, self.adjustment, self.height];
        let mut in_range = true;
        for v in self.vec().iter().chain(rest.iter()) {
            if !v.is_finite() {
                return Err(InvalidCoordinate::NotFinite);
            }
            in_range &= v.abs() <= MAX_MAGNITUDE;
        }
        if !in_range || self.error < 0.0 || self.height < 0.0 {
            return Err(InvalidCoordinate::OutOfRange);
        }
        Ok(())
    }

    /// The Euclidean part (as many components as dimensions).
    pub fn vec(&self) -> &[f64] {
        &self.vec[..usize::from(self.dimensions)]
    }

    /// The number of dimensions.
    pub fn dimensions(&self) -> usize {
        usize::from(self.dimensions)
    }

    /// The error estimate: how wrong this coordinate's estimates have been lately, relative
    /// (0.1 is about 10 %).
    pub fn error(&self) -> f64 {
        self.error
    }

    /// The adjustment term, in seconds (may be negative).
    pub fn adjustment(&self) -> f64 {
        self.adjustment
    }

    /// The height (access-link delay), in seconds.
    pub fn height(&self) -> f64 {
        self.height
    }

    /// The estimated round-trip time between the members holding `self` and `other`:
    /// the Euclidean distance plus both heights, plus both adjustments unless that makes it
    /// negative. Symmetric. Components past either's dimensionality count as zero, so
    /// coordinates of different dimensionality give a number (not a meaningful one) instead of
    /// a panic; a non-finite or huge result saturates.
    pub fn estimate_rtt(&self, other: &Coordinate) -> Duration {
        seconds_to_duration(self.estimate_seconds(other))
    }

    /// [`estimate_rtt`](Self::estimate_rtt) in seconds.
    pub fn estimate_seconds(&self, other: &Coordinate) -> f64 {
        let raw = self.raw_distance(other);
        let adjusted = raw + self.adjustment + other.adjustment;
        if adjusted > 0.0 { adjusted } else { raw }
    }

    /// Distance plus both heights, without the adjustments.
    fn raw_distance(&self, other: &Coordinate) -> f64 {
        magnitude(&diff(&self.vec, &other.vec)) + self.height + other.height
    }

    /// Whether every value is finite (a reset is due otherwise).
    fn is_finite(&self) -> bool {
        self.vec.iter().chain([self.error, self.adjustment, self.height].iter()).all(|v| v.is_finite())
    }

    /// Move by `force` seconds along the line from `other` to `self` (a negative force moves
    /// toward it), growing or shrinking the height in proportion.
    fn apply_force(&mut self, height_min: f64, force: f64, other: &Coordinate, rng: &mut SwimRng) {
        let (unit, mag) = unit_vector_at(&self.vec, &other.vec, self.dimensions(), rng);
        for (v, u) in self.vec.iter_mut().zip(unit.iter()) {
            *v += u * force;
        }
        if mag > ZERO_THRESHOLD {
            self.height = ((self.height + other.height) * force / mag + self.height).max(height_min);
        }
    }
}

/// `seconds` as a [`Duration`], zero for negative or NaN, saturating for huge values.
fn seconds_to_duration(seconds: f64) -> Duration {
    if seconds.is_nan() || seconds <= 0.0 {
        Duration::ZERO
    } else {
        Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
    }
}

fn diff(a: &[f64; MAX_DIMENSIONS], b: &[f64; MAX_DIMENSIONS]) -> [f64; MAX_DIMENSIONS] {
    let mut d = [0.0; MAX_DIMENSIONS];
    for ((o, x), y) in d.iter_mut().zip(a).zip(b) {
        *o = x - y;
    }
    d
}

fn magnitude(v: &[f64; MAX_DIMENSIONS]) -> f64 {
    // libm: core has no square root without std.
    libm::sqrt(v.iter().map(|x| x * x).sum())
}

/// The unit vector from `b` to `a` and the distance between them. Two points closer than
/// [`ZERO_THRESHOLD`] get a random direction (and distance 0), so they can separate.
fn unit_vector_at(
    a: &[f64; MAX_DIMENSIONS],
    b: &[f64; MAX_DIMENSIONS],
    dimensions: usize,
    rng: &mut SwimRng,
) -> ([f64; MAX_DIMENSIONS], f64) {
    let mut d = diff(a, b);
    let mag = magnitude(&d);
    if mag > ZERO_THRESHOLD {
        d.iter_mut().for_each(|x| *x /= mag);
        return (d, mag);
    }
    let mut r = [0.0; MAX_DIMENSIONS];
    for x in r.iter_mut().take(dimensions) {
        // 53 random bits as a float in [0, 1), centred.
        *x = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64) - 0.5;
    }
    let mag = magnitude(&r);
    if mag > ZERO_THRESHOLD {
        r.iter_mut().for_each(|x| *x /= mag);
        return (r, 0.0);
    }
    let mut e = [0.0; MAX_DIMENSIONS];
    e[0] = 1.0;
    (e, 0.0)
}

/// The last few RTT samples from one peer (at most [`MAX_LATENCY_FILTER`]), whose median
/// feeds the update. Held in the peer's member record; dropped with it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LatencyFilter {
    samples: [f64; MAX_LATENCY_FILTER],
    len: u8,
    next: u8,
}

impl LatencyFilter {
    /// Add `sample` (seconds), keeping the last `size` (clamped to `1..=MAX_LATENCY_FILTER`);
    /// returns their median (the upper one of an even count, as Serf).
    pub fn push(&mut self, sample: f64, size: usize) -> f64 {
        let size = size.clamp(1, MAX_LATENCY_FILTER);
        let len = usize::from(self.len).min(size);
        let next = usize::from(self.next) % size;
        self.samples[next] = sample;
        self.next = ((next + 1) % size) as u8;
        let len = (len + 1).min(size);
        self.len = len as u8;
        let mut sorted = [0.0; MAX_LATENCY_FILTER];
        sorted[..len].copy_from_slice(&self.samples[..len]);
        sorted[..len].sort_unstable_by(f64::total_cmp);
        sorted[len / 2]
    }

    /// Samples held.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether no sample is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The local member's side of the coordinate system (Serf's `coordinate.Client`): its
/// coordinate, the adjustment window, and the update rule. The per-peer latency filters are
/// kept by the caller (in swim-core, in each member's record).
#[derive(Clone, Debug)]
pub struct Vivaldi {
    config: CoordinateConfig,
    coordinate: Coordinate,
    origin: Coordinate,
    /// The last `config.adjustment_window` residuals (allocated once, at most
    /// [`MAX_ADJUSTMENT_WINDOW`]).
    adjustment_samples: alloc::vec::Vec<f64>,
    adjustment_index: usize,
    updates: u64,
    resets: u64,
}

impl Vivaldi {
    /// A coordinate system at the origin. `config` should be valid
    /// ([`CoordinateConfig::invalid_field`]); out-of-range sizes are clamped.
    pub fn new(config: CoordinateConfig) -> Self {
        let coordinate = Coordinate::new(&config);
        let window = config.adjustment_window.min(MAX_ADJUSTMENT_WINDOW);
        Vivaldi {
            origin: coordinate,
            coordinate,
            adjustment_samples: alloc::vec![0.0; window],
            adjustment_index: 0,
            updates: 0,
            resets: 0,
            config,
        }
    }

    /// The settings.
    pub fn config(&self) -> &CoordinateConfig {
        &self.config
    }

    /// The local coordinate.
    pub fn coordinate(&self) -> &Coordinate {
        &self.coordinate
    }

    /// Updates applied.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Times the coordinate was reset to the origin because an update made it non-finite.
    pub fn resets(&self) -> u64 {
        self.resets
    }

    /// One observation: the peer whose latency filter is `filter` holds coordinate `other`,
    /// and a probe to it took `rtt`. `other` is checked first and `rtt` must be at most
    /// [`MAX_RTT`] (a zero RTT, possible in a simulation, counts as 1 µs, as in Serf); a
    /// refused input changes nothing (not even the filter).
    pub fn update(
        &mut self,
        filter: &mut LatencyFilter,
        other: &Coordinate,
        rtt: Duration,
        rng: &mut SwimRng,
    ) -> Result<&Coordinate, InvalidCoordinate> {
        other.check(self.coordinate.dimensions())?;
        if rtt > MAX_RTT {
            return Err(InvalidCoordinate::Rtt);
        }
        let rtt = filter.push(rtt.as_secs_f64(), self.config.latency_filter_size);
        self.update_vivaldi(other, rtt, rng);
        self.update_adjustment(other, rtt);
        self.update_gravity(rng);
        if !self.coordinate.is_finite() {
            self.resets += 1;
            self.coordinate = Coordinate::new(&self.config);
        }
        self.updates += 1;
        Ok(&self.coordinate)
    }

    fn update_vivaldi(&mut self, other: &Coordinate, rtt: f64, rng: &mut SwimRng) {
        let c = &self.config;
        let rtt = rtt.max(ZERO_THRESHOLD);
        let dist = self.coordinate.estimate_seconds(other);
        let wrongness = (dist - rtt).abs() / rtt;
        let total = (self.coordinate.error + other.error).max(ZERO_THRESHOLD);
        let weight = self.coordinate.error / total;
        let error = c.vivaldi_ce * weight * wrongness + self.coordinate.error * (1.0 - c.vivaldi_ce * weight);
        self.coordinate.error = error.min(c.vivaldi_error_max);
        let force = c.vivaldi_cc * weight * (rtt - dist);
        self.coordinate.apply_force(c.height_min.as_secs_f64(), force, other, rng);
    }

    fn update_adjustment(&mut self, other: &Coordinate, rtt: f64) {
        let window = self.adjustment_samples.len();
        if window == 0 {
            return;
        }
        self.adjustment_samples[self.adjustment_index] = rtt - self.coordinate.raw_distance(other);
        self.adjustment_index = (self.adjustment_index + 1) % window;
        // The median of the window, where Serf takes the mean: one peer whose RTTs are far
        // off the model (a CPU-starved member answers hundreds of ms late) would otherwise pull
        // every member's adjustment with it, and the Vivaldi force, which uses the adjusted
        // distance, spreads the coordinates apart to make up for it, feeding the next residuals
        // (docs/coordinates.md, "Accuracy"). Each side of a pair corrects half.
        let mut sorted = [0.0f64; MAX_ADJUSTMENT_WINDOW];
        let sorted = &mut sorted[..window];
        sorted.copy_from_slice(&self.adjustment_samples);
        sorted.sort_unstable_by(f64::total_cmp);
        let median =
            if window % 2 == 1 { sorted[window / 2] } else { (sorted[window / 2 - 1] + sorted[window / 2]) / 2.0 };
        self.coordinate.adjustment = median / 2.0;
    }

    fn update_gravity(&mut self, rng: &mut SwimRng) {
        let dist = self.origin.estimate_seconds(&self.coordinate);
        let ratio = dist / self.config.gravity_rho;
        let force = -(ratio * ratio);
        let origin = self.origin;
        self.coordinate.apply_force(self.config.height_min.as_secs_f64(), force, &origin, rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Members at points of a plane (seconds), each with an access delay: the true RTT of a
    /// pair is their distance plus both delays.
    struct Space {
        points: Vec<([f64; 3], f64)>,
    }

    impl Space {
        fn random(rng: &mut SwimRng, n: usize, dims: usize, scale: f64) -> Self {
            let mut unit = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let points = (0..n)
                .map(|_| {
                    let mut p = [0.0; 3];
                    for x in p.iter_mut().take(dims) {
                        *x = unit() * scale;
                    }
                    (p, 0.0005 + unit() * 0.002)
                })
                .collect();
            Space { points }
        }

        fn rtt(&self, i: usize, j: usize) -> Duration {
            let ((a, ha), (b, hb)) = (self.points[i], self.points[j]);
            let d: f64 = a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum();
            Duration::from_secs_f64(libm::sqrt(d) + ha + hb)
        }
    }

    /// The median relative error of the estimates over every pair.
    fn median_error(space: &Space, nodes: &[Vivaldi]) -> f64 {
        let mut errors = Vec::new();
        for i in 0..nodes.len() {
            for j in i + 1..nodes.len() {
                let truth = space.rtt(i, j).as_secs_f64();
                let est = nodes[i].coordinate().estimate_seconds(nodes[j].coordinate());
                errors.push((est - truth).abs() / truth);
            }
        }
        errors.sort_by(f64::total_cmp);
        errors[errors.len() / 2]
    }

    /// Each of `n` members probes one random other per round for `rounds` rounds (virtual
    /// time: only the order of updates matters), from `seed`.
    fn converge(seed: u64, n: usize, dims: usize, rounds: usize) -> (f64, f64) {
        let mut rng = SwimRng::from_seed_u64(seed);
        let space = Space::random(&mut rng, n, dims, 0.05);
        let mut nodes: Vec<Vivaldi> = (0..n).map(|_| Vivaldi::new(CoordinateConfig::default())).collect();
        let mut filters = alloc::vec![LatencyFilter::default(); n * n];
        let before = median_error(&space, &nodes);
        for _ in 0..rounds {
            for i in 0..n {
                let j = (i + 1 + rng.below(n - 1)) % n;
                let other = *nodes[j].coordinate();
                nodes[i].update(&mut filters[i * n + j], &other, space.rtt(i, j), &mut rng).unwrap();
            }
        }
        (before, median_error(&space, &nodes))
    }

    #[test]
    fn converges_on_a_plane_and_in_space() {
        for (dims, seed) in [(2, 1u64), (2, 2), (3, 3), (3, 4)] {
            let (before, after) = converge(seed, 30, dims, 300);
            assert!(
                after < 0.10 && after < before / 4.0,
                "dims {dims}: median relative error {before:.3} -> {after:.3}; replay: \
                 cargo test -p swim-core --lib coordinates (seed {seed})"
            );
        }
    }

    #[test]
    fn one_far_off_peer_does_not_drag_the_adjustment() {
        let mut v = Vivaldi::new(CoordinateConfig::default());
        let other = Coordinate::from_parts(&[0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], 0.5, 0.0, 0.001).unwrap();
        let raw = v.coordinate().raw_distance(&other);
        // 19 residuals of 2 ms and one of 800 ms (a starved peer answering late): the mean
        // would make the term 21 ms, the median keeps it at 1 ms (half of 2 ms).
        for _ in 0..19 {
            v.update_adjustment(&other, raw + 0.002);
        }
        v.update_adjustment(&other, raw + 0.8);
        assert!((v.coordinate().adjustment() - 0.001).abs() < 1e-12, "{}", v.coordinate().adjustment());
    }

    #[test]
    fn deterministic() {
        assert_eq!(converge(7, 12, 2, 50), converge(7, 12, 2, 50));
    }

    #[test]
    fn estimate_is_symmetric_and_never_negative() {
        let a = Coordinate::from_parts(&[0.01, 0.02], 0.5, -0.004, 0.001).unwrap();
        let b = Coordinate::from_parts(&[-0.03, 0.02], 0.5, -0.009, 0.002).unwrap();
        assert_eq!(a.estimate_rtt(&b), b.estimate_rtt(&a));
        // Distance 0.04 + heights 0.003 = 0.043; adjustments -0.013 give 0.030.
        assert!((a.estimate_seconds(&b) - 0.030).abs() < 1e-12);
        // Adjustments that would make it negative are ignored.
        let c = Coordinate::from_parts(&[0.0, 0.0], 0.5, -1.0, 0.0).unwrap();
        assert!((c.estimate_seconds(&c) - 0.0).abs() < 1e-12);
        assert_eq!(c.estimate_rtt(&c), Duration::ZERO);
    }

    #[test]
    fn invalid_coordinates_are_refused_and_never_poison() {
        let config = CoordinateConfig { dimensionality: 2, ..CoordinateConfig::default() };
        let mut v = Vivaldi::new(config);
        let mut rng = SwimRng::from_seed_u64(1);
        let mut filter = LatencyFilter::default();
        let good = Coordinate::from_parts(&[0.01, 0.0], 0.5, 0.0, 0.0001).unwrap();
        v.update(&mut filter, &good, Duration::from_millis(20), &mut rng).unwrap();
        let before = *v.coordinate();
        assert_eq!(Coordinate::from_parts(&[f64::NAN, 0.0], 0.5, 0.0, 0.0), Err(InvalidCoordinate::NotFinite));
        assert_eq!(Coordinate::from_parts(&[0.0, f64::INFINITY], 0.5, 0.0, 0.0), Err(InvalidCoordinate::NotFinite));
        assert_eq!(Coordinate::from_parts(&[0.0, 1e9], 0.5, 0.0, 0.0), Err(InvalidCoordinate::OutOfRange));
        assert_eq!(Coordinate::from_parts(&[0.0, 0.0], -1.0, 0.0, 0.0), Err(InvalidCoordinate::OutOfRange));
        assert_eq!(Coordinate::from_parts(&[0.0, 0.0], 0.5, 0.0, -1.0), Err(InvalidCoordinate::OutOfRange));
        assert_eq!(Coordinate::from_parts(&[], 0.5, 0.0, 0.0), Err(InvalidCoordinate::Dimensions));
        assert_eq!(Coordinate::from_parts(&[0.0; 9], 0.5, 0.0, 0.0), Err(InvalidCoordinate::Dimensions));
        let three = Coordinate::from_parts(&[0.0; 3], 0.5, 0.0, 0.0).unwrap();
        assert_eq!(
            v.update(&mut filter, &three, Duration::from_millis(20), &mut rng),
            Err(InvalidCoordinate::Dimensions)
        );
        // A coordinate built around the checks (a NaN inside) is refused by `update` too.
        let mut nan = good;
        nan.vec[1] = f64::NAN;
        assert_eq!(v.update(&mut filter, &nan, Duration::from_millis(20), &mut rng), Err(InvalidCoordinate::NotFinite));
        assert_eq!(v.update(&mut filter, &good, Duration::from_secs(11), &mut rng), Err(InvalidCoordinate::Rtt));
        assert_eq!(*v.coordinate(), before, "refused input changes nothing");
        assert_eq!(filter.len(), 1, "nor the filter");
        v.coordinate().check(2).unwrap();
    }

    #[test]
    fn latency_filter_takes_the_median_of_the_last_samples() {
        let mut f = LatencyFilter::default();
        assert!(f.is_empty());
        assert_eq!(f.push(0.010, 3), 0.010);
        assert_eq!(f.push(0.500, 3), 0.500, "upper median of two");
        assert_eq!(f.push(0.012, 3), 0.012, "the spike is filtered");
        assert_eq!(f.push(0.011, 3), 0.012);
        assert_eq!(f.push(0.013, 3), 0.012, "0.500 fell out of the window");
        assert_eq!(f.len(), 3);
    }

    #[test]
    fn coincident_points_separate() {
        let config = CoordinateConfig::default();
        let mut v = Vivaldi::new(config.clone());
        let mut rng = SwimRng::from_seed_u64(9);
        let other = Coordinate::new(&config);
        v.update(&mut LatencyFilter::default(), &other, Duration::from_millis(10), &mut rng).unwrap();
        assert!(v.coordinate().vec().iter().any(|x| *x != 0.0), "pushed off the origin: {:?}", v.coordinate());
        assert!(v.coordinate().estimate_rtt(&other) > Duration::ZERO);
    }

    #[test]
    fn defaults_are_serfs_and_valid() {
        let c = CoordinateConfig::default();
        assert_eq!((c.dimensionality, c.adjustment_window, c.latency_filter_size), (8, 20, 3));
        assert_eq!((c.vivaldi_error_max, c.vivaldi_ce, c.vivaldi_cc, c.gravity_rho), (1.5, 0.25, 0.25, 150.0));
        assert_eq!(c.height_min, Duration::from_micros(10));
        assert_eq!(c.invalid_field(), None);
        let bad = CoordinateConfig { vivaldi_cc: f64::NAN, ..c.clone() };
        assert_eq!(bad.invalid_field(), Some("coordinates.vivaldi_cc"));
        let bad = CoordinateConfig { dimensionality: 9, ..c };
        assert_eq!(bad.invalid_field(), Some("coordinates.dimensionality"));
    }
}
