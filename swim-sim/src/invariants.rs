//! The engine's checks: swim-core's safety invariants on every member, the simulator's own
//! honesty rules, and the violation report.
//!
//! The safety invariants are [`swim_core::invariants`]' (one checker for swim-core's tests,
//! the fuzz targets and this simulator): after each input to a member (its outputs drained)
//! its own state, own incarnation and every bound ([`Checker::after_input`]); and every member
//! event, in order, against what the member reported before ([`Checker::event`]: incarnations
//! never go down until it forgets a member, every transition obeys precedence, never alive
//! and dead at one incarnation). In clusters of up to [`TABLE_SCAN_MAX_MEMBERS`] it also scans
//! every member's table after each of its inputs; larger clusters skip that scan (it is linear
//! in the table) and rely on the event rules, which see every transition a member reports.
//!
//! On top of them, what only holds in a simulated cluster whose members are all honest: no
//! member rejects a message another member sent ([`Checker::delivery_rejected`]), every
//! member event names a member of the cluster (`node-<i>`, `i < n`) other than the observer,
//! and no address conflict is reported. Traffic injected by a test
//! ([`crate::Simulation::inject`]) may name anything and give members false addresses, so
//! once a run has taken such traffic events about foreign names and address conflicts are
//! allowed and a ping misdirected by a false address is no violation
//! ([`Checker::allow_foreign_claims`]); swim-core's rules stay.
//!
//! And one rule of the engine itself: no member's timer keeps firing without time passing
//! ([`MAX_SAME_INSTANT_FIRES`]).
//!
//! A violation ends the run and is reported with the seed and the command that replays it
//! ([`Violation`]). Liveness (everyone agrees after faults heal) is checked by the runner,
//! see [`crate::runner`].

use std::fmt;

use swim_core::invariants::Checker as CoreChecker;
use swim_core::{DecodeError, Event, Instant, Swim};

use crate::node::SimNode;
use crate::trace::event_member;
use crate::truth::node_name;

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

/// The checks of every member of a run.
#[derive(Debug, Default)]
pub struct Checker {
    /// swim-core's checker of each member's current life.
    members: Vec<CoreChecker<u32>>,
    /// Events may name members outside the cluster, and report address conflicts.
    foreign_claims: bool,
    /// Scan every member table after every input (small clusters only).
    scan_tables: bool,
    /// Members that share no version with the run's configuration (see
    /// [`Checker::set_outsider`]).
    outsiders: Vec<bool>,
}

/// Clusters up to this size have every member's table scanned after each of its inputs
/// (swim-core's `Checker::check_table`: linear in the table, so quadratic per round in the
/// cluster size); larger ones rely on the event rules, which see every reported transition.
pub const TABLE_SCAN_MAX_MEMBERS: usize = 16;

impl Checker {
    /// Checks for `n` members.
    pub fn new(n: usize) -> Self {
        Checker {
            members: (0..n).map(|_| CoreChecker::new()).collect(),
            foreign_claims: false,
            scan_tables: n <= TABLE_SCAN_MAX_MEMBERS,
            outsiders: vec![false; n],
        }
    }

    /// Member `i` started a new life: what it reported before no longer binds it.
    pub fn started(&mut self, i: u32) {
        self.members[i as usize] = CoreChecker::new();
    }

    /// Member `i` (in its current life) shares no protocol or application version with the
    /// run's configuration: packets between it and the others may be rejected as
    /// `UnsupportedVersion`.
    pub fn set_outsider(&mut self, i: u32, outsider: bool) {
        self.outsiders[i as usize] = outsider;
    }

    /// From now on, events may name members that are not in the cluster and report address
    /// conflicts: the run has taken traffic that no member sent.
    pub fn allow_foreign_claims(&mut self) {
        self.foreign_claims = true;
    }

    /// The state checks, after an input to member `i` (and its events): its own state and
    /// incarnation and every bound, and in clusters of up to [`TABLE_SCAN_MAX_MEMBERS`] every
    /// member it holds.
    pub fn after_input(&mut self, i: u32, s: &Swim<u32>) -> Result<(), String> {
        let c = &mut self.members[i as usize];
        let r = if self.scan_tables { c.check(s) } else { c.check_local(s) };
        r.map_err(|v| v.to_string())
    }

    /// Member `to` rejected a message member `from` sent it. Members are honest, so that is a
    /// violation, except that after injected lies a member may address a ping to whichever
    /// member a lie gave the target's address (`DecodeError::Misdirected`), and a packet from or
    /// to an outsider may be of a protocol version its receiver does not read
    /// (`DecodeError::UnsupportedVersion`). Between members that share versions, negotiation
    /// must pick one the receiver reads.
    pub fn delivery_rejected(&self, from: u32, to: u32, stream: bool, e: DecodeError) -> Result<(), String> {
        if self.foreign_claims && e == DecodeError::Misdirected {
            return Ok(());
        }
        let outsider = |i: u32| self.outsiders.get(i as usize).copied().unwrap_or(false);
        if e == DecodeError::UnsupportedVersion && (outsider(from) || outsider(to)) {
            return Ok(());
        }
        Err(format!("honest {} from node-{from} rejected: {e:?}", if stream { "stream" } else { "datagram" }))
    }

    /// Member `i` (`s`) emitted `e`, about member `target` (`None`: not a member of the
    /// cluster, or not a membership event). Returns the member whose ground truth the event
    /// updates, if any.
    pub fn event(&mut self, i: u32, s: &Swim<u32>, e: &Event<u32>, target: Option<u32>) -> Result<Option<u32>, String> {
        let n = self.members.len() as u32;
        self.members[i as usize].check_event(s, e).map_err(|v| v.to_string())?;
        if let Event::AddressConflict { name, existing, claimed } = e
            && !self.foreign_claims
        {
            return Err(format!("address conflict for {name}: {existing} vs {claimed}"));
        }
        let Some(m) = event_member(e) else { return Ok(None) };
        match target {
            // An injected name may parse to an index without being that member's name.
            Some(t) if t < n && t != i && (!self.foreign_claims || m.name == node_name(t)) => Ok(Some(t)),
            _ if self.foreign_claims => Ok(None),
            None => Err(format!("event about unknown member {:?}", m.name)),
            Some(_) => Err(format!("event about member {} (self or out of range): {e:?}", m.name)),
        }
    }
}

/// Timer fires of one member at one instant before the run is declared livelocked.
pub const MAX_SAME_INSTANT_FIRES: u32 = 10_000;

/// Member `n`'s timer fires at `now`: a timer that keeps firing without time passing (more
/// than [`MAX_SAME_INSTANT_FIRES`] times at one instant) is a livelock.
pub(crate) fn timer_fired(n: &mut SimNode, now: Instant) -> Result<(), String> {
    if n.last_fire == now {
        n.same_instant_fires += 1;
        if n.same_instant_fires > MAX_SAME_INSTANT_FIRES {
            return Err("livelock: the timer keeps firing without time passing".into());
        }
    } else {
        n.last_fire = now;
        n.same_instant_fires = 0;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(i: u32, state: swim_core::State, incarnation: u32) -> swim_core::Member<u32> {
        swim_core::Member {
            name: crate::truth::node_name(i).into(),
            addr: i,
            meta: swim_core::Bytes::new(),
            incarnation,
            state,
            state_changed: Instant::ZERO,
        }
    }

    fn core(i: u32) -> Swim<u32> {
        let id = swim_core::Identity::new(crate::truth::node_name(i), i);
        Swim::new(swim_core::Config::lan(), id, 1, Instant::ZERO).unwrap()
    }

    #[test]
    fn incarnations_must_not_decrease_until_forgotten_or_restarted() {
        use swim_core::State::{Alive, Dead};
        let mut c = Checker::new(3);
        let s = core(0);
        let ev = |state, inc| Event::MemberJoined(member(1, state, inc));
        assert_eq!(c.event(0, &s, &ev(Alive, 3), Some(1)), Ok(Some(1)));
        let err = c.event(0, &s, &Event::MemberUpdated(member(1, Alive, 2)), Some(1)).unwrap_err();
        assert!(err.contains("node-0 about node-1") && err.contains("from 3 to 2"), "{err}");
        c.event(0, &s, &Event::MemberRemoved(member(1, Dead, 3)), Some(1)).unwrap();
        c.event(0, &s, &ev(Alive, 1), Some(1)).unwrap();
        c.started(0);
        c.event(0, &s, &ev(Alive, 0), Some(1)).unwrap();
    }

    #[test]
    fn events_must_name_another_member_of_the_cluster_unless_injected() {
        use swim_core::State::Alive;
        let mut c = Checker::new(3);
        let s = core(0);
        let stranger = Event::MemberJoined(swim_core::Member { name: "evil".into(), ..member(1, Alive, 0) });
        assert!(c.event(0, &s, &stranger, None).unwrap_err().contains("unknown member"));
        let far = Event::MemberJoined(member(7, Alive, 0));
        assert!(c.event(0, &s, &far, Some(7)).unwrap_err().contains("out of range"));
        let conflict = Event::AddressConflict { name: "node-1".into(), existing: 1, claimed: 9 };
        assert!(c.event(0, &s, &conflict, None).unwrap_err().contains("address conflict"));
        // A fresh checker: the first one has seen these events already.
        let mut c = Checker::new(3);
        c.allow_foreign_claims();
        assert_eq!(c.event(0, &s, &stranger, None), Ok(None));
        assert_eq!(c.event(0, &s, &far, Some(7)), Ok(None));
        assert_eq!(c.event(0, &s, &conflict, None), Ok(None));
        // A ping misdirected by a false address is no violation any more; malformed traffic is.
        assert_eq!(c.delivery_rejected(1, 0, false, swim_core::DecodeError::Misdirected), Ok(()));
        assert!(
            c.delivery_rejected(1, 0, true, swim_core::DecodeError::Malformed).unwrap_err().contains("honest stream")
        );
        assert!(
            Checker::new(3).delivery_rejected(1, 0, false, swim_core::DecodeError::Misdirected).is_err(),
            "without injections every rejection is a violation"
        );
        // swim-core's rules stay on.
        let about_itself = Event::MemberJoined(member(0, Alive, 0));
        assert!(c.event(0, &s, &about_itself, Some(0)).unwrap_err().contains("about itself"));
    }

    #[test]
    fn a_timer_firing_without_time_passing_is_a_livelock() {
        let mut n = SimNode::new(crate::rng::SimRng::derive(1, crate::rng::Stream::Slow, 0));
        let t = Instant::from_secs(3);
        for _ in 0..=MAX_SAME_INSTANT_FIRES {
            timer_fired(&mut n, t).unwrap();
        }
        assert!(timer_fired(&mut n, t).unwrap_err().contains("livelock"));
        // Time passing resets the count.
        timer_fired(&mut n, Instant::from_secs(4)).unwrap();
        timer_fired(&mut n, Instant::from_secs(4)).unwrap();
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
