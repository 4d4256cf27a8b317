//! How well network coordinates estimate round-trip times: the relative error
//! `|estimate - true| / true` of estimated against true RTT ([`Simulation::true_rtt`]) over
//! member pairs, sampled during a run (`metrics.coordinate_interval`).
//!
//! Two estimates are measured for every pair `(a, b)` of running members:
//! - **own**: from each member's own current coordinate (`Swim::coordinate` at `a` and at
//!   `b`), what the two would compute if they exchanged coordinates now;
//! - **observer**: what one member (the observer: the lowest-numbered running member)
//!   estimates from the coordinates it last heard (`Swim::estimate_rtt(a, b)` at the
//!   observer), for the pairs whose two coordinates it holds.
//!
//! All pairs are measured when there are at most `metrics.coordinate_pairs` of them, otherwise
//! that many pairs drawn once per run from the run's seed ([`sample_pairs`]).

use serde::Serialize;

use crate::rng::{SimRng, Stream};
use crate::sim::Simulation;

/// Most pairs `metrics.coordinate_pairs` may ask for: each sample costs two coordinate
/// distances per pair.
pub const MAX_COORDINATE_PAIRS: usize = 1_000_000;

/// One measurement of the coordinates' error at one instant.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CoordinateErrors {
    /// Virtual seconds since the start.
    pub at: f64,
    /// Pairs measured from the members' own coordinates (both running, both with one).
    pub pairs: usize,
    /// Median relative error of the own estimates (`None` without pairs).
    pub median: Option<f64>,
    /// 90th percentile of the own estimates' relative error.
    pub p90: Option<f64>,
    /// The observer (node index).
    pub observer: Option<u32>,
    /// Pairs whose two coordinates the observer holds.
    pub observer_pairs: usize,
    /// Median relative error of the observer's estimates.
    pub observer_median: Option<f64>,
    /// 90th percentile of the observer's estimates' relative error.
    pub observer_p90: Option<f64>,
}

/// The pairs to measure among `n` members: all `a < b` when there are at most `max`,
/// otherwise `max` distinct pairs drawn from `seed`'s [`Stream::Space`] (item 1).
pub fn sample_pairs(n: usize, max: usize, seed: u64) -> Vec<(u32, u32)> {
    let all = n * n.saturating_sub(1) / 2;
    if all <= max {
        return (0..n as u32).flat_map(|a| (a + 1..n as u32).map(move |b| (a, b))).collect();
    }
    let mut rng = SimRng::derive(seed, Stream::Space, 1);
    let mut seen = std::collections::BTreeSet::new();
    let mut pairs = Vec::with_capacity(max);
    while pairs.len() < max {
        let a = rng.below(n) as u32;
        let b = rng.below(n) as u32;
        if a != b && seen.insert((a.min(b), a.max(b))) {
            pairs.push((a.min(b), a.max(b)));
        }
    }
    pairs
}

/// The `q` quantile (nearest rank) of `v`, sorted in place; `None` when empty.
fn quantile(v: &mut [f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

/// Measure the coordinates' error over `pairs` now.
pub fn measure(sim: &Simulation, pairs: &[(u32, u32)]) -> CoordinateErrors {
    let running = |i: u32| sim.node(i).filter(|_| sim.truth().is_up(i));
    let observer = (0..sim.len() as u32).find(|&i| running(i).is_some());
    let mut own = Vec::with_capacity(pairs.len());
    let mut seen = Vec::new();
    for &(a, b) in pairs {
        let (Some(na), Some(nb)) = (running(a), running(b)) else { continue };
        let truth = sim.true_rtt(a, b).as_secs_f64();
        if truth <= 0.0 {
            continue;
        }
        let err = |est: f64| (est - truth).abs() / truth;
        if let (Some(ca), Some(cb)) = (na.coordinate(), nb.coordinate()) {
            own.push(err(ca.estimate_seconds(cb)));
        }
        if let Some(o) = observer.and_then(|o| sim.node(o))
            && let Some(est) = o.estimate_rtt(sim.name(a), sim.name(b))
        {
            seen.push(err(est.as_secs_f64()));
        }
    }
    CoordinateErrors {
        at: sim.now().as_nanos() as f64 / 1e9,
        pairs: own.len(),
        median: quantile(&mut own, 0.5),
        p90: quantile(&mut own, 0.9),
        observer,
        observer_pairs: seen.len(),
        observer_median: quantile(&mut seen, 0.5),
        observer_p90: quantile(&mut seen, 0.9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_all_or_a_seeded_sample_of_distinct_ones() {
        assert_eq!(sample_pairs(4, 10, 1), [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]);
        let s = sample_pairs(1000, 500, 7);
        assert_eq!(s.len(), 500);
        assert!(s.iter().all(|&(a, b)| a < b && b < 1000));
        let distinct: std::collections::BTreeSet<_> = s.iter().collect();
        assert_eq!(distinct.len(), 500);
        assert_eq!(s, sample_pairs(1000, 500, 7), "the same seed draws the same pairs");
        assert_ne!(s, sample_pairs(1000, 500, 8));
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let mut v = vec![0.5, 0.1, 0.4, 0.2, 0.3];
        assert_eq!(quantile(&mut v, 0.5), Some(0.3));
        assert_eq!(quantile(&mut v, 0.9), Some(0.5));
        assert_eq!(quantile(&mut [], 0.5), None);
    }
}
