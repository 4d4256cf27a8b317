//! The core's timers: the deadlines it can wake for, and the one stagger rule.

use core::time::Duration;

use crate::rng::SwimRng;

/// A random offset in `[0, d)` (in `[0, 1 ns)` when `d` is zero), one RNG draw. Staggers
/// the first periodic ticks of members started together, the first push-pull after a restore
/// and the join follow-up, so that members do not act in lockstep.
pub(crate) fn stagger(rng: &mut SwimRng, d: Duration) -> Duration {
    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1);
    Duration::from_nanos(rng.next_u64() % nanos)
}
