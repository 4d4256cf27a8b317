//! Safety invariants, checked after every input to every member, and the violation report.
//!
//! After each input (and its outputs drained) a member must:
//! - never hold itself dead, and hold itself alive unless it is leaving;
//! - never lower its own incarnation within one life;
//! - keep every table and queue within its configured bound (member table, both
//!   dissemination queues, pending transmits and events, relays) and its health score
//!   below `awareness_max_multiplier`.
//!
//! Every member event is checked too: the incarnation a member reports for another never
//! decreases (until it forgets that member: `MemberRemoved`, or a restart of the observer).
//! Liveness (everyone agrees after faults heal) is checked by the runner, see
//! [`crate::runner`].

use std::fmt;

use rustc_hash::FxHashMap;
use swim_core::{Instant, State, Swim};

/// A broken invariant: the run failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The run's master seed.
    pub seed: u64,
    /// Virtual time of the violation.
    pub at: Instant,
    /// The member, if one is to blame.
    pub node: Option<u32>,
    /// What went wrong.
    pub message: String,
    /// The command that replays the run (filled in by whoever started it).
    pub replay: Option<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invariant violated at t={:.6}s", self.at.as_nanos() as f64 / 1e9)?;
        if let Some(n) = self.node {
            write!(f, " on node-{n}")?;
        }
        write!(f, ": {} (seed {})", self.message, self.seed)?;
        if let Some(r) = &self.replay {
            write!(f, "\n    replay: {r}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violation {}

/// Per-member state the checks need.
#[derive(Debug, Default)]
pub struct Checker {
    local_incarnation: Vec<u32>,
    seen: Vec<FxHashMap<u32, u32>>,
}

impl Checker {
    /// Checks for `n` members.
    pub fn new(n: usize) -> Self {
        Checker { local_incarnation: vec![0; n], seen: (0..n).map(|_| FxHashMap::default()).collect() }
    }

    /// Member `i` started a new life at `incarnation`.
    pub fn started(&mut self, i: u32, incarnation: u32) {
        self.local_incarnation[i as usize] = incarnation;
        self.seen[i as usize] = FxHashMap::default();
    }

    /// The state checks, after an input to `i`.
    pub fn after_input(&mut self, i: u32, s: &Swim<u32>) -> Result<(), String> {
        let me = s.local();
        if me.state == State::Dead {
            return Err("member holds itself dead".into());
        }
        if !s.is_leaving() && me.state != State::Alive {
            return Err(format!("member holds itself {:?} without leaving", me.state));
        }
        let last = &mut self.local_incarnation[i as usize];
        if me.incarnation < *last {
            return Err(format!("own incarnation went from {last} to {}", me.incarnation));
        }
        *last = me.incarnation;
        let c = s.config();
        let l = &c.limits;
        if s.table_len() > l.max_members {
            return Err(format!("member table holds {} > limits.max_members {}", s.table_len(), l.max_members));
        }
        let (q, uq) = s.queue_depth();
        if q > l.broadcast_queue_depth || uq > l.user_broadcast_queue_depth {
            return Err(format!("dissemination queues {q}/{uq} over their bounds"));
        }
        let (t, e) = s.pending_outputs();
        if t > l.max_pending_transmits || e > l.max_pending_events {
            return Err(format!("pending outputs {t}/{e} over their bounds"));
        }
        if s.relays_in_progress() > l.max_relays {
            return Err(format!("{} relays > limits.max_relays", s.relays_in_progress()));
        }
        if s.health_score() >= c.lifeguard.awareness_max_multiplier.max(1) {
            return Err(format!("health score {} out of range", s.health_score()));
        }
        Ok(())
    }

    /// `o` reported `t` at `incarnation` (`forgot`: it removed `t` from its table).
    pub fn member_event(&mut self, o: u32, t: u32, incarnation: u32, forgot: bool) -> Result<(), String> {
        let seen = &mut self.seen[o as usize];
        if forgot {
            seen.remove(&t);
            return Ok(());
        }
        match seen.get_mut(&t) {
            Some(prev) if incarnation < *prev => {
                Err(format!("reported node-{t} at incarnation {incarnation} after {prev}"))
            }
            Some(prev) => {
                *prev = incarnation;
                Ok(())
            }
            None => {
                if incarnation > 0 {
                    seen.insert(t, incarnation);
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incarnations_must_not_decrease_until_forgotten() {
        let mut c = Checker::new(2);
        c.member_event(0, 1, 3, false).unwrap();
        c.member_event(0, 1, 3, false).unwrap();
        assert!(c.member_event(0, 1, 2, false).is_err());
        c.member_event(0, 1, 0, true).unwrap();
        c.member_event(0, 1, 1, false).unwrap();
        c.started(0, 0);
        c.member_event(0, 1, 0, false).unwrap();
    }

    #[test]
    fn violation_names_seed_and_replay() {
        let v = Violation {
            seed: 42,
            at: Instant::from_millis(1500),
            node: Some(3),
            message: "boom".into(),
            replay: Some("swim-sim run x --seed 42".into()),
        };
        let s = v.to_string();
        assert!(s.contains("seed 42") && s.contains("node-3") && s.contains("swim-sim run x --seed 42"), "{s}");
    }
}
