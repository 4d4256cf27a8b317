//! The core's timers: the periodic deadlines it can wake for, and the one stagger rule.
//!
//! [`TimerTable`] holds one deadline per [`Timer`]: the protocol's periodic ticks. The
//! deadlines that belong to one piece of state live with that state: the probe in flight and
//! the relays (`probe::Prober::deadline`), the suspicions (`suspicion::Suspicions::deadline`)
//! and the joins (`push_pull::Joins::deadline`). `Swim::poll_timeout` is the minimum over the
//! table and those.

use core::time::Duration;

use crate::rng::SwimRng;
use crate::time::Instant;

/// A periodic tick of the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Start the next probe (every probe interval, scaled by the health score).
    Probe,
    /// The gossip tick: send queued updates to `gossip_nodes` members. Counts for
    /// `poll_timeout` only while something is queued.
    Gossip,
    /// Periodic push-pull with one random member (`None` in the config: never armed).
    PushPull,
    /// Reconnect: ping one recently dead member to heal a partition (`None`: never armed).
    Reconnect,
}

impl Timer {
    /// Every timer, in the order `handle_timeout` serves them.
    pub const ALL: [Timer; 4] = [Timer::Probe, Timer::Gossip, Timer::PushPull, Timer::Reconnect];
}

/// One deadline per [`Timer`]; `None` is disarmed.
#[derive(Clone, Debug, Default)]
pub(crate) struct TimerTable {
    at: [Option<Instant>; 4],
}

impl TimerTable {
    /// When `timer` fires, if armed.
    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.at[timer as usize]
    }

    /// Arm `timer` for `at`.
    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.at[timer as usize] = Some(at);
    }

    /// Whether `timer` is armed and due at `now`.
    pub fn is_due(&self, timer: Timer, now: Instant) -> bool {
        self.get(timer).is_some_and(|t| t <= now)
    }

    /// The earliest armed deadline among the timers `counts` accepts.
    pub fn next(&self, counts: impl Fn(Timer) -> bool) -> Option<Instant> {
        Timer::ALL.into_iter().filter(|&t| counts(t)).filter_map(|t| self.get(t)).min()
    }
}

/// A random offset in `[0, d)` (in `[0, 1 ns)` when `d` is zero), one RNG draw. Staggers
/// the first periodic ticks of members started together, the first push-pull after a restore
/// and the join follow-up, so that members do not act in lockstep.
pub(crate) fn stagger(rng: &mut SwimRng, d: Duration) -> Duration {
    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1);
    Duration::from_nanos(rng.next_u64() % nanos)
}
