//! Flap damping: holding down a member that keeps failing and coming back.
//!
//! SWIM lets a member declared dead refute and come back at once, so a member that keeps
//! losing its packets or flipping between reachable and unreachable is declared dead, comes
//! back, and is declared dead again, forever (Rapid's critique of memberlist, issue 17). This
//! module gives each member a *penalty*, route-flap damping style:
//!
//! - each death notice that makes it dead here adds [`Damping::death_penalty`];
//! - each step of its incarnation seen here without a change of metadata (it refuted a
//!   suspicion or a death, here or elsewhere) adds [`Damping::refutation_penalty`], at most
//!   [`MAX_STEPS`] steps per claim;
//! - the penalty decays linearly, from [`Damping::max_penalty`] (its cap) to
//!   [`Damping::reuse`] in [`Damping::hold_down`].
//!
//! When the penalty reaches [`Damping::suppress`] the member is *held down*: the hub reports
//! `Event::MemberHeldDown` and the application treats it as failed, whatever its protocol
//! state (it is still probed, gossiped to and may refute: that is how the penalty keeps
//! rising while it keeps flapping). Once the penalty has decayed to `reuse`, the hub
//! reports `Event::MemberReadmitted`.
//!
//! **Every decision is derived from facts every member shares**: death notices and
//! incarnation numbers are gossiped to everyone, so every healthy member adds the same
//! penalties, at about the same time (within the dissemination time), and crosses the same
//! thresholds. Counting incarnation *steps* rather than messages makes a member that missed
//! an intermediate refutation add the same total when it hears a later one.
//!
//! **A member stable for `hold_down` is never held down**: its penalty is at most
//! `max_penalty` after its last death or refutation and has decayed to `reuse` after
//! `hold_down`. Holding down never delays the detection of a real crash (deaths are reported
//! as before) and sends nothing.
//!
//! Bound: one entry per member with a penalty above zero or held down; entries of members
//! whose penalty decayed to zero are dropped, and the table never holds more than
//! `limits.max_members` entries (the one with the smallest penalty that is not held down makes
//! room, or the new penalty is not recorded).

use alloc::vec::Vec;
use core::time::Duration;

use hashbrown::HashMap;

use crate::member::Name;
use crate::rng::SeededState;
use crate::time::Instant;

/// Incarnation steps counted from one claim at most: a restart that starts from a clock
/// reading jumps by millions, and that is one return, not millions of refutations.
pub const MAX_STEPS: u32 = 2;

/// The flap-damping knob ([`crate::Config::damping`]). Penalties are in points; see the
/// [module docs](self) for the rules. Bounds (checked by `Config::validate`): every field is
/// above zero, `reuse < suppress <= max_penalty <= 1,000,000`, `hold_down` at most a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Damping {
    /// Added when a death notice makes the member dead here. Default 1,000.
    pub death_penalty: u32,
    /// Added per incarnation step without a metadata change (a refutation). Default 250.
    pub refutation_penalty: u32,
    /// Held down at or above this penalty. Default 2,000: two deaths close together, or
    /// one death and four refutations, or eight refutations.
    pub suppress: u32,
    /// Readmitted once the penalty has decayed to this. Default 800.
    pub reuse: u32,
    /// The penalty's cap. Default 3,000.
    pub max_penalty: u32,
    /// How long the penalty takes to decay from `max_penalty` to `reuse`: the longest a
    /// member is held down after its last death or refutation. Default 120 s.
    pub hold_down: Duration,
}

impl Default for Damping {
    fn default() -> Self {
        Damping {
            death_penalty: 1000,
            refutation_penalty: 250,
            suppress: 2000,
            reuse: 800,
            max_penalty: 3000,
            hold_down: Duration::from_secs(120),
        }
    }
}

impl Damping {
    /// The longest `hold_down` accepted.
    pub const MAX_HOLD_DOWN: Duration = Duration::from_secs(24 * 3600);
    /// The largest `max_penalty` accepted.
    pub const MAX_PENALTY: u32 = 1_000_000;

    /// Check the bounds (see the type's docs); `Config::validate` calls this.
    pub fn validate(&self) -> Result<(), crate::error::ConfigError> {
        use crate::error::ConfigError as E;
        for (v, name) in [
            (self.death_penalty, "damping.death_penalty"),
            (self.refutation_penalty, "damping.refutation_penalty"),
            (self.reuse, "damping.reuse"),
        ] {
            if v == 0 {
                return Err(E::Zero(name));
            }
        }
        if self.hold_down.is_zero() {
            return Err(E::Zero("damping.hold_down"));
        }
        let too_large = |field, value: u64, max: u64, limited_by| E::TooLarge { field, value, max, limited_by };
        if self.max_penalty > Self::MAX_PENALTY {
            return Err(too_large("damping.max_penalty", self.max_penalty.into(), Self::MAX_PENALTY.into(), None));
        }
        if self.suppress > self.max_penalty {
            return Err(too_large(
                "damping.suppress",
                self.suppress.into(),
                self.max_penalty.into(),
                Some("damping.max_penalty"),
            ));
        }
        if self.reuse >= self.suppress {
            let max = u64::from(self.suppress.saturating_sub(1));
            return Err(too_large("damping.reuse", self.reuse.into(), max, Some("damping.suppress")));
        }
        if self.hold_down > Self::MAX_HOLD_DOWN {
            let (value, max) = (self.hold_down.as_secs(), Self::MAX_HOLD_DOWN.as_secs());
            return Err(too_large("damping.hold_down (seconds)", value, max, None));
        }
        Ok(())
    }

    /// `penalty` after `elapsed` of decay.
    fn decayed(&self, penalty: u32, elapsed: Duration) -> u32 {
        let span = u128::from(self.max_penalty - self.reuse);
        let hold = self.hold_down.as_nanos().max(1);
        let drop = span.saturating_mul(elapsed.as_nanos()) / hold;
        u32::try_from(u128::from(penalty).saturating_sub(drop)).unwrap_or(0)
    }

    /// How long `penalty` takes to decay to `reuse` (zero if it already has).
    fn time_to_reuse(&self, penalty: u32) -> Duration {
        if penalty <= self.reuse {
            return Duration::ZERO;
        }
        let excess = u128::from(penalty - self.reuse);
        let span = u128::from(self.max_penalty - self.reuse).max(1);
        let nanos = excess.saturating_mul(self.hold_down.as_nanos()).div_ceil(span);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// One member's penalty as held here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    /// The penalty at `at`.
    penalty: u32,
    at: Instant,
    held: bool,
}

/// The penalties of every member, and which are held down.
#[derive(Debug)]
pub(crate) struct Penalties {
    by_name: HashMap<Name, Entry, SeededState>,
    /// The members held down (a small list: flapping members).
    held: Vec<Name>,
}

impl Penalties {
    /// An empty table, its index hashed with `hasher`.
    pub fn new(hasher: SeededState) -> Self {
        Penalties { by_name: HashMap::with_hasher(hasher), held: Vec::new() }
    }

    /// Whether `name` is held down.
    pub fn is_held(&self, name: &str) -> bool {
        self.by_name.get(name).is_some_and(|e| e.held)
    }

    /// The members held down, in the order they were held down.
    pub fn held(&self) -> &[Name] {
        &self.held
    }

    /// `name`'s penalty at `now`, decayed.
    pub fn penalty(&self, d: &Damping, name: &str, now: Instant) -> u32 {
        self.by_name.get(name).map_or(0, |e| d.decayed(e.penalty, now - e.at))
    }

    /// A death notice made `name` dead here at `now`: add the death penalty. Returns true if
    /// this holds it down (it was not held down before).
    pub fn died(&mut self, d: &Damping, cap: usize, now: Instant, name: &Name) -> bool {
        self.add(d, cap, now, name, d.death_penalty)
    }

    /// `name`'s incarnation rose from `old` to `new` at `now` without a metadata change.
    /// Returns true if this holds it down.
    pub fn stepped(&mut self, d: &Damping, cap: usize, now: Instant, name: &Name, old: u32, new: u32) -> bool {
        let steps = new.saturating_sub(old).min(MAX_STEPS);
        if steps == 0 {
            return false;
        }
        self.add(d, cap, now, name, d.refutation_penalty.saturating_mul(steps))
    }

    fn add(&mut self, d: &Damping, cap: usize, now: Instant, name: &Name, points: u32) -> bool {
        if !self.by_name.contains_key(name.as_str()) && !self.make_room(d, cap, now) {
            return false;
        }
        let e = self.by_name.entry(name.clone()).or_insert(Entry { penalty: 0, at: now, held: false });
        e.penalty = d.decayed(e.penalty, now - e.at).saturating_add(points).min(d.max_penalty);
        e.at = now;
        if e.held || e.penalty < d.suppress {
            return false;
        }
        e.held = true;
        self.held.push(name.clone());
        true
    }

    /// Room for one more entry within `cap`: drop entries decayed to zero, then the smallest
    /// penalty that is not held down. False if every entry is held down.
    fn make_room(&mut self, d: &Damping, cap: usize, now: Instant) -> bool {
        if self.by_name.len() < cap {
            return true;
        }
        self.by_name.retain(|_, e| e.held || d.decayed(e.penalty, now - e.at) > 0);
        if self.by_name.len() < cap {
            return true;
        }
        let smallest = self
            .by_name
            .iter()
            .filter(|(_, e)| !e.held)
            .min_by_key(|(n, e)| (d.decayed(e.penalty, now - e.at), (*n).clone()))
            .map(|(n, _)| n.clone());
        match smallest {
            Some(n) => {
                self.by_name.remove(n.as_str());
                true
            }
            None => false,
        }
    }

    /// When the next held-down member's penalty will have decayed to `reuse`.
    pub fn deadline(&self, d: &Damping) -> Option<Instant> {
        self.held.iter().filter_map(|n| self.by_name.get(n.as_str())).map(|e| e.at + d.time_to_reuse(e.penalty)).min()
    }

    /// The next held-down member whose penalty has decayed to `reuse` by `now`, no longer
    /// held down. Call until `None`.
    pub fn pop_readmitted(&mut self, d: &Damping, now: Instant) -> Option<Name> {
        let pos = self
            .held
            .iter()
            .position(|n| self.by_name.get(n.as_str()).is_none_or(|e| e.at + d.time_to_reuse(e.penalty) <= now))?;
        let name = self.held.remove(pos);
        if let Some(e) = self.by_name.get_mut(name.as_str()) {
            e.held = false;
        }
        Some(name)
    }

    /// Forget `name` (it left the member table): it is no longer held down.
    pub fn forget(&mut self, name: &str) {
        if self.by_name.remove(name).is_some_and(|e| e.held) {
            self.held.retain(|n| n.as_str() != name);
        }
    }

    /// Approximate heap bytes.
    pub fn heap_bytes(&self) -> usize {
        self.by_name.capacity() * core::mem::size_of::<(Name, Entry)>()
            + self.held.capacity() * core::mem::size_of::<Name>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn table() -> Penalties {
        Penalties::new(crate::rng::SwimRng::from_seed_u64(1).hash_state())
    }

    #[test]
    fn decay_is_linear_from_max_to_reuse_in_hold_down() {
        let d = Damping::default();
        assert_eq!(d.decayed(3000, Duration::ZERO), 3000);
        assert_eq!(d.decayed(3000, S(60)), 1900);
        assert_eq!(d.decayed(3000, S(120)), 800);
        assert_eq!(d.decayed(100, S(120)), 0);
        assert!(d.decayed(3000, d.time_to_reuse(3000)) <= d.reuse);
        assert!(d.decayed(3000, d.time_to_reuse(3000) - Duration::from_millis(1)) > d.reuse - 1);
        assert_eq!(d.time_to_reuse(3000), d.hold_down, "from the cap to reuse takes exactly hold_down");
        assert_eq!(d.time_to_reuse(800), Duration::ZERO);
    }

    #[test]
    fn two_deaths_close_together_hold_down_one_does_not() {
        let d = Damping::default();
        let mut p = table();
        let b = Name::from("b");
        let t0 = Instant::from_secs(10);
        assert!(!p.died(&d, 16, t0, &b));
        assert!(!p.stepped(&d, 16, t0 + S(1), &b, 3, 4), "one death and its refutation: 1,250");
        assert!(!p.is_held("b"));
        assert!(!p.died(&d, 16, t0 + S(40), &b), "a second death 40 s later: 1,883");
        assert!(p.died(&d, 16, t0 + S(45), &b), "a third 5 s after it");
        assert!(p.is_held("b"));
        assert!(!p.died(&d, 16, t0 + S(21), &b), "already held down: no second decision");
        assert_eq!(p.held(), core::slice::from_ref(&b));
    }

    #[test]
    fn refutations_alone_hold_down_a_member_that_keeps_refuting() {
        let d = Damping::default();
        let mut p = table();
        let b = Name::from("b");
        let mut held_at = None;
        for i in 0..20u32 {
            if p.stepped(&d, 16, Instant::from_secs(u64::from(i) * 3), &b, i, i + 1) {
                held_at = Some(i);
                break;
            }
        }
        // 250 per step against 18.3 points a second of decay: held at the 10th step (27 s).
        assert_eq!(held_at, Some(9));
    }

    #[test]
    fn steps_are_capped_per_claim_and_metadata_free_jumps_count_once_each() {
        let d = Damping::default();
        let mut p = table();
        let b = Name::from("b");
        let t0 = Instant::from_secs(1);
        p.stepped(&d, 16, t0, &b, 0, 1_000_000);
        assert_eq!(p.penalty(&d, "b", t0), 2 * 250);
        assert!(!p.stepped(&d, 16, t0, &b, 5, 5), "no step, no penalty");
        assert_eq!(p.penalty(&d, "b", t0), 500);
    }

    #[test]
    fn readmitted_once_the_penalty_decays_to_reuse_and_never_later_than_hold_down() {
        let d = Damping::default();
        let mut p = table();
        let b = Name::from("b");
        let t0 = Instant::from_secs(100);
        for k in 0..5 {
            p.died(&d, 16, t0 + S(k), &b);
        }
        assert_eq!(p.penalty(&d, "b", t0 + S(4)), d.max_penalty, "capped");
        let at = p.deadline(&d).unwrap();
        assert!(at <= t0 + S(4) + d.hold_down + Duration::from_millis(1), "{at:?}");
        assert!(at > t0 + S(4) + d.hold_down - S(1), "{at:?}");
        assert_eq!(p.pop_readmitted(&d, at - Duration::from_millis(1)), None);
        assert_eq!(p.pop_readmitted(&d, at), Some(b.clone()));
        assert!(!p.is_held("b"));
        assert_eq!(p.deadline(&d), None);
        assert!(p.penalty(&d, "b", at) <= d.reuse);
    }

    #[test]
    fn the_table_is_bounded_and_keeps_the_members_held_down() {
        let d = Damping::default();
        let mut p = table();
        let t0 = Instant::from_secs(1);
        let names: Vec<Name> = (0..4).map(|i| Name::from(alloc::format!("m{i}"))).collect();
        p.died(&d, 2, t0, &names[0]);
        p.died(&d, 2, t0, &names[0]);
        assert!(p.is_held("m0"));
        p.died(&d, 2, t0, &names[1]);
        p.stepped(&d, 2, t0, &names[2], 0, 1);
        assert_eq!(p.by_name.len(), 2, "m1, the smallest penalty not held down, made room for m2");
        assert!(p.is_held("m0"), "a held-down member is never evicted");
        p.died(&d, 2, t0, &names[3]);
        assert!(p.by_name.len() <= 2);
        assert!(p.is_held("m0"));
        p.forget("m0");
        assert!(!p.is_held("m0"));
        assert!(p.held().is_empty());
    }
}
