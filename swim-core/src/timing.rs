//! Every timing the protocol derives from its [`Config`], in one place.
//!
//! The formulas (memberlist's, so that mixed clusters agree) are the functions below; the
//! methods this module adds to [`Config`] apply them to a configuration and a cluster size,
//! and [`Timings`] gathers them, with the bounds tests and tools wait for. The core uses these
//! methods for its suspicion timeouts, its retransmit limit and its push-pull period, so a
//! test that waits for [`Timings::detection_bound`] waits for what the core does.
//!
//! `n` is always the number of alive and suspect members, the local one included
//! (`Swim::num_members`).

use core::time::Duration;

use crate::config::Config;
use crate::math;

/// `(min, max)` suspicion timeouts for a cluster of `n` members (self included).
pub fn timeout_bounds(
    suspicion_mult: u32,
    max_timeout_mult: u32,
    n: usize,
    probe_interval: Duration,
) -> (Duration, Duration) {
    let scale = math::log10(n.max(1) as f64).max(1.0);
    let min = probe_interval.mul_f64(f64::from(suspicion_mult) * scale);
    let max = min.saturating_mul(max_timeout_mult);
    (min, max)
}

/// The suspicion confirmations (K) needed to reach `min`: `configured` (memberlist: `suspicion_mult - 2`),
/// or 0 when fewer than `K + 2` members exist (too few to confirm).
pub fn needed_confirmations(configured: u32, n: usize) -> u32 {
    if (n as u64) < u64::from(configured) + 2 { 0 } else { configured }
}

/// The retransmit limit for a cluster of `n` members: `mult * ceil(log10(n + 1))`.
pub fn retransmit_limit(mult: u32, n: usize) -> u32 {
    mult.saturating_mul(math::ceil_log10_plus_one(n)).max(1)
}

/// Members up to which the push-pull interval is not stretched.
pub const PUSH_PULL_SCALE_THRESHOLD: usize = 32;

/// The push-pull period for `n` members: `base` up to 32 members, then
/// `(ceil(log2(n) - log2(32)) + 1) * base`, as memberlist scales it.
pub fn push_pull_interval(base: Duration, n: usize) -> Duration {
    if n <= PUSH_PULL_SCALE_THRESHOLD {
        return base;
    }
    // ceil(log2(n) - 5) == ceil(log2(n)) - 5 because 5 is an integer.
    let mult = math::ceil_log2(n) - 5 + 1;
    base.saturating_mul(mult)
}

impl Config {
    /// `(min, max)` suspicion timeouts for `n` members: [`timeout_bounds`] of this config.
    pub fn suspicion_timeouts(&self, n: usize) -> (Duration, Duration) {
        timeout_bounds(self.suspicion_mult, self.suspicion_max_timeout_mult, n, self.probe_interval)
    }

    /// The suspicion confirmations (K) that bring a suspicion's timeout down to its minimum,
    /// for `n` members: `lifeguard.suspicion_confirmations` or `suspicion_mult - 2`, and 0 in
    /// a cluster too small to confirm ([`needed_confirmations`]). Used only with dynamic
    /// suspicion.
    pub fn suspicion_confirmations(&self, n: usize) -> u32 {
        let configured = self.lifeguard.suspicion_confirmations.unwrap_or(self.suspicion_mult.saturating_sub(2));
        needed_confirmations(configured, n)
    }

    /// How many times each piggybacked update is sent with `n` members ([`retransmit_limit`]).
    pub fn retransmit_limit(&self, n: usize) -> u32 {
        retransmit_limit(self.retransmit_mult, n)
    }

    /// The periodic push-pull period for `n` members ([`push_pull_interval`]), or `None` if
    /// periodic push-pull is off.
    pub fn push_pull_interval_for(&self, n: usize) -> Option<Duration> {
        self.push_pull_interval.map(|base| push_pull_interval(base, n))
    }

    /// Every derived timing for `n` members.
    pub fn timings(&self, n: usize) -> Timings {
        let (suspicion_min, suspicion_max) = self.suspicion_timeouts(n);
        Timings {
            members: n,
            probe_interval: self.probe_interval,
            gossip_interval: self.gossip_interval,
            suspicion_min,
            suspicion_max,
            suspicion_confirmations: self.suspicion_confirmations(n),
            retransmit_limit: self.retransmit_limit(n),
            push_pull_interval: self.push_pull_interval_for(n),
        }
    }
}

/// The timings a [`Config`] implies for `n` members (see [`Config::timings`]), for the core
/// and for every test or tool that waits for a bound.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timings {
    /// The `n` these timings are for.
    pub members: usize,
    /// The unscaled probe interval (a healthy member's health score is 0).
    pub probe_interval: Duration,
    /// The gossip tick's period.
    pub gossip_interval: Duration,
    /// The shortest suspicion timeout (with every confirmation, or always without dynamic
    /// suspicion).
    pub suspicion_min: Duration,
    /// The longest suspicion timeout (dynamic suspicion with no confirmation). Without dynamic
    /// suspicion every suspicion lasts `suspicion_min`, so this is an upper bound either way.
    pub suspicion_max: Duration,
    /// Confirmations (K) that bring a suspicion down to `suspicion_min` (dynamic suspicion).
    pub suspicion_confirmations: u32,
    /// Transmits of each piggybacked update.
    pub retransmit_limit: u32,
    /// The periodic push-pull period, if on.
    pub push_pull_interval: Option<Duration>,
}

impl Timings {
    /// Upper bound from a member's crash to some healthy member declaring it dead: the
    /// round-robin probe order is reshuffled at each pass, so the crashed member is probed
    /// within `2n - 2` probe intervals and that probe fails one interval later (`2n - 1` in
    /// all), then the suspicion runs at most `suspicion_max`. Assumes healthy probers (health
    /// score 0); the death then spreads within [`gossip_bound`](Self::gossip_bound).
    pub fn detection_bound(&self) -> Duration {
        let intervals = u32::try_from((2 * self.members).saturating_sub(1)).unwrap_or(u32::MAX);
        self.probe_interval.saturating_mul(intervals) + self.suspicion_max
    }

    /// How long gossip keeps sending one update: `retransmit_limit` gossip intervals. Members
    /// gossip missed are repaired by the next push-pull (`push_pull_interval`).
    pub fn gossip_bound(&self) -> Duration {
        self.gossip_interval.saturating_mul(self.retransmit_limit)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn bounds_follow_memberlist_at_the_edges() {
        let i = S(1);
        // n = 1, 2, 3, 10: log10(n) <= 1, so min = alpha * interval.
        for n in [0, 1, 2, 3, 10] {
            assert_eq!(timeout_bounds(4, 6, n, i), (S(4), S(24)), "n={n}");
        }
        assert_eq!(timeout_bounds(4, 6, 100, i), (S(8), S(48)));
        assert_eq!(timeout_bounds(4, 6, 1000, i), (S(12), S(72)));
        assert_eq!(timeout_bounds(4, 6, 10_000, i), (S(16), S(96)));
        // A non-power of ten uses the fractional log.
        let (min, _) = timeout_bounds(4, 6, 50, i);
        let want = 4.0 * 50f64.log10();
        assert!((min.as_secs_f64() - want).abs() < 1e-9, "{min:?}");
    }

    #[test]
    fn needed_confirmations_drop_to_zero_in_small_clusters() {
        assert_eq!(needed_confirmations(2, 1), 0);
        assert_eq!(needed_confirmations(2, 2), 0);
        assert_eq!(needed_confirmations(2, 3), 0);
        assert_eq!(needed_confirmations(2, 4), 2);
        assert_eq!(needed_confirmations(2, 1000), 2);
        assert_eq!(needed_confirmations(3, 4), 0);
        assert_eq!(needed_confirmations(3, 5), 3);
        assert_eq!(needed_confirmations(0, 100), 0);
    }

    #[test]
    fn retransmit_limit_matches_memberlist() {
        assert_eq!(retransmit_limit(4, 1), 4);
        assert_eq!(retransmit_limit(4, 9), 4);
        assert_eq!(retransmit_limit(4, 10), 8);
        assert_eq!(retransmit_limit(4, 1000), 16);
        assert_eq!(retransmit_limit(4, 0), 1);
    }

    #[test]
    fn interval_scales_like_memberlist() {
        let b = Duration::from_secs(30);
        assert_eq!(push_pull_interval(b, 1), b);
        assert_eq!(push_pull_interval(b, 32), b);
        assert_eq!(push_pull_interval(b, 33), b * 2);
        assert_eq!(push_pull_interval(b, 64), b * 2);
        assert_eq!(push_pull_interval(b, 65), b * 3);
        assert_eq!(push_pull_interval(b, 1000), b * 6);
        assert_eq!(push_pull_interval(b, 10_000), b * 10);
    }

    #[test]
    fn config_timings_apply_the_formulas() {
        let c = Config::lan();
        let t = c.timings(100);
        assert_eq!((t.suspicion_min, t.suspicion_max), timeout_bounds(4, 6, 100, S(1)));
        assert_eq!((t.suspicion_min, t.suspicion_max), (S(8), S(48)));
        assert_eq!(t.suspicion_confirmations, 2, "LAN: suspicion_mult - 2");
        assert_eq!(t.retransmit_limit, 4 * 3);
        assert_eq!(t.push_pull_interval, Some(S(30) * 3));
        assert_eq!(t.detection_bound(), S(199) + S(48));
        assert_eq!(t.gossip_bound(), Duration::from_millis(200) * 12);
        let mut off = c.clone();
        off.push_pull_interval = None;
        assert_eq!(off.push_pull_interval_for(100), None);
        assert_eq!(c.suspicion_confirmations(3), 0, "too few members to confirm");
    }
}
