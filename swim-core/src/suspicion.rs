//! Suspicion timers, with Lifeguard's local-health-aware timeout.
//!
//! Every member that hears a suspicion starts its own timer; whichever timer
//! runs out first declares the member dead and gossips it. With dynamic
//! suspicion the timeout starts at `max` and falls toward `min` as distinct
//! members confirm the suspicion:
//!
//! ```text
//! min     = suspicion_mult * max(1, log10(n)) * probe_interval
//! max     = suspicion_max_timeout_mult * min
//! timeout = max(min, max - (max - min) * ln(C + 1) / ln(K + 1))
//! ```
//!
//! `C` counts confirmations from members other than the first accuser, each
//! once, capped at `K`. Without dynamic suspicion the timeout is `min` and
//! confirmations are ignored (plain SWIM).
//!
//! `Suspicions` is the table of every suspicion this member holds, with
//! their timers ordered by deadline: starting one, counting confirmations,
//! cancelling one when a refutation or death overrides it, and handing
//! expired ones to the hub, which declares those members dead.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::time::Duration;

use hashbrown::HashMap;

use crate::config::Config;
use crate::math;
use crate::member::Name;
use crate::rng::SeededState;
use crate::time::Instant;
pub use crate::timing::{needed_confirmations, timeout_bounds};

/// The timeout after `c` confirmations out of `k` needed.
pub fn timeout(min: Duration, max: Duration, k: u32, c: u32) -> Duration {
    if k == 0 || max <= min {
        return min;
    }
    let c = c.min(k);
    let frac = math::ln(f64::from(c) + 1.0) / math::ln(f64::from(k) + 1.0);
    let span = (max - min).as_secs_f64();
    let raw = max.as_secs_f64() - span * frac;
    // Round to whole nanoseconds and never go below min (floating error at c = k).
    let t = Duration::from_secs_f64(raw.max(0.0));
    if t < min { min } else { t }
}

/// One member's suspicion, as held by this member.
#[derive(Clone, Debug)]
pub struct Suspicion {
    /// The incarnation the suspicion is about.
    pub incarnation: u32,
    started: Instant,
    min: Duration,
    max: Duration,
    k: u32,
    first_accuser: Name,
    confirmations: Vec<Name>,
    /// The key of this suspicion's entry in the core's timer set.
    pub(crate) timer_id: u64,
}

impl Suspicion {
    /// A suspicion started at `now` by `accuser`, needing `k` confirmations
    /// (0 for a fixed timeout at `min`).
    pub fn new(
        incarnation: u32,
        now: Instant,
        min: Duration,
        max: Duration,
        k: u32,
        accuser: Name,
        timer_id: u64,
    ) -> Self {
        Suspicion {
            incarnation,
            started: now,
            min,
            max,
            k,
            first_accuser: accuser,
            confirmations: Vec::new(),
            timer_id,
        }
    }

    /// Record a confirmation from `from`. Returns true if it was new and counted (the first
    /// accuser, repeats and confirmations past `k` are not), i.e. the timeout got shorter.
    pub fn confirm(&mut self, from: &str) -> bool {
        if self.confirmations.len() as u32 >= self.k {
            return false;
        }
        if self.first_accuser.as_str() == from || self.confirmations.iter().any(|n| n.as_str() == from) {
            return false;
        }
        self.confirmations.push(Name::from(from));
        true
    }

    /// Distinct confirmations counted so far.
    pub fn confirmations(&self) -> u32 {
        self.confirmations.len() as u32
    }

    /// Confirmations needed to reach the minimum timeout.
    pub fn needed(&self) -> u32 {
        self.k
    }

    /// The current timeout, measured from the start.
    pub fn timeout(&self) -> Duration {
        timeout(self.min, self.max, self.k, self.confirmations())
    }

    /// When the suspicion turns into a death, given the confirmations so far. May already be
    /// in the past after a confirmation: the caller declares the member dead at once.
    pub fn deadline(&self) -> Instant {
        self.started + self.timeout()
    }

    /// Heap bytes held for confirmations.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.confirmations.capacity() * core::mem::size_of::<Name>() + self.first_accuser.heap_bytes()
    }

    /// When the suspicion started.
    pub fn started(&self) -> Instant {
        self.started
    }
}

/// What a confirmation did to a suspicion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Confirmed {
    /// Not counted: no suspicion, plain SWIM, a repeat, the first accuser, or past `K`.
    Ignored,
    /// Counted: the timeout got shorter.
    Shortened,
    /// Counted, and the shorter timeout has already passed: the member must be declared dead
    /// now (its timer is gone; the suspicion stays until the death cancels it).
    Expired,
}

/// Every suspicion this member holds, by name, with their timers ordered by deadline.
/// At most one per member in the table, so bounded by `limits.max_members`.
#[derive(Debug)]
pub(crate) struct Suspicions {
    by_name: HashMap<Name, Suspicion, SeededState>,
    timers: BTreeMap<(Instant, u64), Name>,
    next_id: u64,
}

impl Suspicions {
    /// An empty table, its index hashed with `hasher`.
    pub fn new(hasher: SeededState) -> Self {
        Suspicions { by_name: HashMap::with_hasher(hasher), timers: BTreeMap::new(), next_id: 0 }
    }

    /// The suspicion of `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Suspicion> {
        self.by_name.get(name)
    }

    /// Suspect `name` at `incarnation` from `now`, accused by `accuser`, in a cluster of `n`
    /// members: with dynamic suspicion the timeout starts at the maximum and needs
    /// [`needed_confirmations`] to reach the minimum; without, it is the minimum.
    /// The caller has cancelled any older suspicion of `name`.
    pub fn start(&mut self, config: &Config, n: usize, now: Instant, name: Name, incarnation: u32, accuser: Name) {
        let (min, max) = config.suspicion_timeouts(n);
        let (max, k) =
            if config.lifeguard.dynamic_suspicion { (max, config.suspicion_confirmations(n)) } else { (min, 0) };
        let id = self.next_id;
        self.next_id += 1;
        let s = Suspicion::new(incarnation, now, min, max, k, accuser, id);
        self.timers.insert((s.deadline(), id), name.clone());
        self.by_name.insert(name, s);
    }

    /// A confirmation of the suspicion of `name` from `from`, at `now`. Only counted with
    /// `dynamic` (Lifeguard's dynamic suspicion); moves the timer to the shorter deadline.
    pub fn confirm(&mut self, dynamic: bool, now: Instant, name: &str, from: &str) -> Confirmed {
        if !dynamic {
            return Confirmed::Ignored;
        }
        let Some(s) = self.by_name.get_mut(name) else { return Confirmed::Ignored };
        let old = (s.deadline(), s.timer_id);
        if !s.confirm(from) {
            return Confirmed::Ignored;
        }
        let new = (s.deadline(), s.timer_id);
        if let Some(name) = self.timers.remove(&old) {
            self.timers.insert(new, name);
        }
        if new.0 <= now {
            self.timers.remove(&new);
            return Confirmed::Expired;
        }
        Confirmed::Shortened
    }

    /// Forget the suspicion of `name` (refuted, or overridden by a death) and its timer.
    pub fn cancel(&mut self, name: &str) {
        if self.by_name.is_empty() {
            return;
        }
        if let Some(s) = self.by_name.remove(name) {
            self.timers.remove(&(s.deadline(), s.timer_id));
        }
    }

    /// The next suspicion whose timer has run out by `now`, its timer removed; the hub declares
    /// the member dead if it is still suspect. Call until `None`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<Name> {
        while let Some((&(at, id), _)) = self.timers.first_key_value() {
            if at > now {
                return None;
            }
            let name = self.timers.remove(&(at, id))?;
            if self.by_name.get(name.as_str()).is_some_and(|s| s.timer_id == id) {
                return Some(name);
            }
        }
        None
    }

    /// The earliest suspicion deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.timers.keys().next().map(|k| k.0)
    }

    /// Approximate heap bytes: suspicions, their confirmations and their timers.
    pub fn heap_bytes(&self) -> usize {
        self.by_name.values().map(|s| core::mem::size_of::<(Name, Suspicion)>() + s.heap_bytes()).sum::<usize>()
            + self.timers.len() * (core::mem::size_of::<(Instant, u64)>() + core::mem::size_of::<Name>()) * 2
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn timeout_formula_for_every_c() {
        let (min, max) = (S(8), S(48));
        let k = 3;
        let mut prev = Duration::MAX;
        for c in 0..=k + 1 {
            let t = timeout(min, max, k, c);
            let cc = c.min(k) as f64;
            let want = (48.0 - 40.0 * (cc + 1.0).ln() / (k as f64 + 1.0).ln()).max(8.0);
            assert!((t.as_secs_f64() - want).abs() < 1e-6, "c={c}: {t:?} want {want}");
            assert!(t <= prev, "timeout must not grow with confirmations");
            prev = t;
        }
        assert_eq!(timeout(min, max, k, 0), max);
        assert_eq!(timeout(min, max, k, k), min);
        assert_eq!(timeout(min, max, k, k + 1), min);
        assert_eq!(timeout(min, max, 0, 0), min);
    }

    #[test]
    fn distinct_confirmations_count_duplicates_do_not() {
        let t0 = Instant::from_secs(100);
        let mut s = Suspicion::new(1, t0, S(8), S(48), 2, Name::from("a"), 0);
        assert_eq!(s.deadline(), t0 + S(48));
        assert!(!s.confirm("a"), "the first accuser is not a confirmation");
        assert!(s.confirm("b"));
        assert!(!s.confirm("b"), "duplicates are ignored");
        let after_one = s.deadline();
        assert!(after_one < t0 + S(48));
        assert!(s.confirm("c"));
        assert_eq!(s.deadline(), t0 + S(8));
        assert!(!s.confirm("d"), "extras past K are ignored");
        assert_eq!(s.confirmations(), 2);
    }

    #[test]
    fn k_zero_starts_at_min() {
        let t0 = Instant::ZERO;
        let mut s = Suspicion::new(1, t0, S(4), S(24), 0, Name::from("a"), 0);
        assert_eq!(s.deadline(), t0 + S(4));
        assert!(!s.confirm("b"));
    }
}
