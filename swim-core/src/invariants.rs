//! The safety invariants of one member, checked from the outside: one checker for swim-core's
//! tests, the fuzz targets and the simulator.
//!
//! A [`Checker`] watches one member (the *observer*) through [`Swim`]'s public API only: the
//! events it emits and what its queries report. It holds what it needs to compare one step with
//! the next (the observer's own incarnation, and the last state and incarnation it reported for
//! each other member). The rules:
//!
//! | rule | what must hold |
//! |---|---|
//! | [`Rule::HoldsItselfDead`] | a member never holds itself dead |
//! | [`Rule::HoldsItselfNotAlive`] | a member holds itself alive unless it is leaving |
//! | [`Rule::OwnIncarnationDown`] | a member's own incarnation never goes down within one life |
//! | [`Rule::IncarnationDown`] | the incarnation an observer holds or reports for another member never goes down, until it forgets that member (`MemberRemoved`; a process at another address taking the name over; or the observer restarts) |
//! | [`Rule::Precedence`] | every reported transition is one [`member::overrides`] allows: the new state and incarnation, as a claim, override the previous ones |
//! | [`Rule::AliveAfterDead`] | once an observer has held a member dead or left at incarnation `i`, it never holds it alive at an incarnation `<= i` (no member is both alive and dead at one observer for the same incarnation) until it forgets it |
//! | [`Rule::EventAboutItself`] | a member never reports a membership event about itself |
//! | [`Rule::HoldsIncompatible`] | a member never holds a member whose protocol or application versions share none with its own (checked with the table scan) |
//! | [`Rule::OverBound`] | the member table within `limits.max_members`, both piggyback queues within their depths, pending transmits and events within theirs, relays within `limits.max_relays`, the health score below `lifeguard.awareness_max_multiplier` |
//!
//! Liveness (everyone agrees once faults heal) is not a safety invariant and is not checked
//! here: it needs the whole cluster and a deadline (the simulator's runner checks it).
//!
//! ## Use
//!
//! Keep one checker per member and per life (make a new one when the process restarts).
//! After each input to the member, drain its outputs, pass every event to
//! [`Checker::check_event`] as it is polled, then call [`Checker::check`] (or the constant-time
//! [`Checker::check_local`] where scanning the member table after every input costs too much,
//! as in a simulator with thousands of members: the event rules still see every transition).
//!
//! ```
//! use swim_core::invariants::Checker;
//! use swim_core::{Config, Identity, Instant, Swim};
//!
//! let mut swim: Swim<u32> = Swim::new(Config::local(), Identity::new("node-0", 0), 1, Instant::ZERO).unwrap();
//! let mut checker = Checker::new();
//! swim.join(Instant::ZERO, [1]).unwrap();
//! while let Some(event) = swim.poll_event() {
//!     checker.check_event(&swim, &event).unwrap();
//! }
//! checker.check(&swim).unwrap();
//! ```
//!
//! ## Bounds
//!
//! The checker holds one entry per member its observer holds or reported and has not
//! forgotten, so at most about `limits.max_members` entries: [`Checker::check`] drops entries
//! of members the observer no longer holds. When the observer reports that its caller fell
//! behind ([`Event::Lagged`]), the history has holes: the entries start afresh from the lag
//! notice's snapshot.

use alloc::collections::BTreeMap;
use core::fmt;

use crate::event::Event;
use crate::member::{self, Address, Claim, Member, Name, State};
use crate::swim::Swim;

/// A broken safety invariant: who saw it, about whom, and which rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The member whose state or output broke the rule.
    pub observer: Name,
    /// The member the rule is about (the observer itself for its own state and its bounds).
    pub member: Name,
    /// The rule, with the values that broke it.
    pub rule: Rule,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} about {}: {} [{}]", self.observer, self.member, self.rule, self.rule.name())
    }
}

impl core::error::Error for Violation {}

/// One safety rule, with the values that broke it. See the [module docs](self) for the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The member holds itself dead.
    HoldsItselfDead,
    /// The member holds itself in `state`, not alive, without leaving.
    HoldsItselfNotAlive {
        /// Its state in its own view.
        state: State,
    },
    /// The member's own incarnation went down within one life.
    OwnIncarnationDown {
        /// Before.
        from: u32,
        /// After.
        to: u32,
    },
    /// The incarnation the observer holds or reports for another member went down.
    IncarnationDown {
        /// Before.
        from: u32,
        /// After.
        to: u32,
    },
    /// A reported transition that the precedence rules ([`member::overrides`]) do not allow.
    Precedence {
        /// The view before: state and incarnation.
        from: (State, u32),
        /// The view reported: state and incarnation.
        to: (State, u32),
    },
    /// The observer holds alive, at incarnation `alive`, a member it held dead or left at
    /// incarnation `dead >= alive`.
    AliveAfterDead {
        /// The incarnation it was held dead or left at.
        dead: u32,
        /// The incarnation it is now held alive at.
        alive: u32,
    },
    /// A membership event about the observer itself.
    EventAboutItself,
    /// The observer holds a member that speaks `theirs`, which shares no protocol or
    /// application version with the observer's own: it should have been refused.
    HoldsIncompatible {
        /// What the held member speaks, as the observer holds it.
        theirs: crate::versions::Versions,
    },
    /// A table, queue or score over its bound.
    OverBound {
        /// Which bound.
        bound: Bound,
        /// The value found.
        value: usize,
        /// The largest allowed.
        limit: usize,
    },
}

impl Rule {
    /// A short name of the rule.
    pub fn name(&self) -> &'static str {
        match self {
            Rule::HoldsItselfDead => "a member never holds itself dead",
            Rule::HoldsItselfNotAlive { .. } => "a member holds itself alive unless leaving",
            Rule::OwnIncarnationDown { .. } => "own incarnation never goes down",
            Rule::IncarnationDown { .. } => "incarnations never go down",
            Rule::Precedence { .. } => "precedence",
            Rule::AliveAfterDead { .. } => "never alive and dead at one incarnation",
            Rule::EventAboutItself => "no membership event about itself",
            Rule::HoldsIncompatible { .. } => "no member held that shares no version",
            Rule::OverBound { .. } => "bounds",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::HoldsItselfDead => f.write_str("holds itself dead"),
            Rule::HoldsItselfNotAlive { state } => write!(f, "holds itself {state:?} without leaving"),
            Rule::OwnIncarnationDown { from, to } => write!(f, "own incarnation went from {from} to {to}"),
            Rule::IncarnationDown { from, to } => write!(f, "incarnation went from {from} to {to}"),
            Rule::Precedence { from, to } => {
                write!(f, "went from {:?} at {} to {:?} at {}, which does not override it", from.0, from.1, to.0, to.1)
            }
            Rule::AliveAfterDead { dead, alive } => {
                write!(f, "held alive at incarnation {alive} after being held dead or left at {dead}")
            }
            Rule::EventAboutItself => f.write_str("reported a membership event about itself"),
            Rule::HoldsIncompatible { theirs } => {
                write!(f, "holds a member speaking {theirs}, which shares no version")
            }
            Rule::OverBound { bound, value, limit } => write!(f, "{} is {value}, over {limit}", bound.knob()),
        }
    }
}

/// A bounded table, queue or score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// `Swim::table_len` within `limits.max_members`.
    MemberTable,
    /// The membership piggyback queue within `limits.broadcast_queue_depth`.
    BroadcastQueue,
    /// The user-broadcast piggyback queue within `limits.user_broadcast_queue_depth`.
    UserBroadcastQueue,
    /// Transmits waiting within `limits.max_pending_transmits`.
    PendingTransmits,
    /// Events waiting within `limits.max_pending_events`.
    PendingEvents,
    /// Relays in progress within `limits.max_relays`.
    Relays,
    /// The health score at most `lifeguard.awareness_max_multiplier - 1`.
    HealthScore,
}

impl Bound {
    /// What is bounded, by which configuration knob.
    pub fn knob(&self) -> &'static str {
        match self {
            Bound::MemberTable => "the member table (limits.max_members)",
            Bound::BroadcastQueue => "the membership piggyback queue (limits.broadcast_queue_depth)",
            Bound::UserBroadcastQueue => "the user-broadcast piggyback queue (limits.user_broadcast_queue_depth)",
            Bound::PendingTransmits => "pending transmits (limits.max_pending_transmits)",
            Bound::PendingEvents => "pending events (limits.max_pending_events)",
            Bound::Relays => "relays (limits.max_relays)",
            Bound::HealthScore => "the health score (lifeguard.awareness_max_multiplier - 1)",
        }
    }
}

/// What the observer last held or reported about one other member.
#[derive(Clone, Debug, PartialEq, Eq)]
struct View<A> {
    state: State,
    incarnation: u32,
    /// The highest incarnation the observer held the member dead or left at.
    dead_at: Option<u32>,
    /// Where the member was: a process at another address that took the name over (a
    /// reclaim) starts a new history.
    addr: A,
}

impl<A: Clone> View<A> {
    fn of(m: &Member<A>) -> Self {
        View {
            state: m.state,
            incarnation: m.incarnation,
            dead_at: m.state.is_gone().then_some(m.incarnation),
            addr: m.addr.clone(),
        }
    }
}

/// What the local rules read from the observer.
#[derive(Clone, Debug)]
struct Local {
    state: State,
    incarnation: u32,
    leaving: bool,
    /// (bound, value, largest allowed)
    bounds: [(Bound, usize, usize); 7],
}

impl Local {
    fn of<A: Address>(swim: &Swim<A>) -> Self {
        let c = swim.config();
        let l = &c.limits;
        let (queue, user_queue) = swim.queue_depth();
        let (transmits, events) = swim.pending_outputs();
        Local {
            state: swim.local().state,
            incarnation: swim.local().incarnation,
            leaving: swim.is_leaving(),
            bounds: [
                (Bound::MemberTable, swim.table_len(), l.max_members),
                (Bound::BroadcastQueue, queue, l.broadcast_queue_depth),
                (Bound::UserBroadcastQueue, user_queue, l.user_broadcast_queue_depth),
                (Bound::PendingTransmits, transmits, l.max_pending_transmits),
                (Bound::PendingEvents, events, l.max_pending_events),
                (Bound::Relays, swim.relays_in_progress(), l.max_relays),
                (
                    Bound::HealthScore,
                    swim.health_score() as usize,
                    c.lifeguard.awareness_max_multiplier.saturating_sub(1) as usize,
                ),
            ],
        }
    }
}

/// The checks of one member over one life. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Checker<A> {
    /// The observer's own incarnation at the last check.
    own: Option<u32>,
    /// Per other member: the last state, incarnation and address held or reported.
    views: BTreeMap<Name, View<A>>,
}

impl<A: Address> Default for Checker<A> {
    fn default() -> Self {
        Checker { own: None, views: BTreeMap::new() }
    }
}

impl<A: Address> Checker<A> {
    /// A checker for a member that has just started (a new life).
    pub fn new() -> Self {
        Checker::default()
    }

    /// Check one event the observer `swim` emitted, in the order it was polled.
    pub fn check_event(&mut self, swim: &Swim<A>, event: &Event<A>) -> Result<(), Violation> {
        let (m, forgot) = match event {
            Event::Lagged { members, .. } => {
                // Membership events were lost: start the history afresh from the snapshot.
                self.views.clear();
                for m in members {
                    if m.name == swim.local().name {
                        let v = Violation {
                            observer: m.name.clone(),
                            member: m.name.clone(),
                            rule: Rule::EventAboutItself,
                        };
                        return Err(v);
                    }
                    self.views.insert(m.name.clone(), View::of(m));
                }
                return Ok(());
            }
            Event::MemberRemoved(m) => (m, true),
            Event::MemberJoined(m)
            | Event::MemberUpdated(m)
            | Event::MemberFailed(m)
            | Event::MemberLeft(m)
            | Event::MemberAlive(m)
            | Event::MemberSuspected { member: m, .. } => (m, false),
            _ => return Ok(()),
        };
        let violation = |rule| Err(Violation { observer: swim.local().name.clone(), member: m.name.clone(), rule });
        if m.name == swim.local().name {
            return violation(Rule::EventAboutItself);
        }
        if forgot {
            self.views.remove(m.name.as_str());
            return Ok(());
        }
        match self.views.get_mut(m.name.as_str()) {
            None => {
                self.views.insert(m.name.clone(), View::of(m));
                Ok(())
            }
            Some(view) => match transition(view, m) {
                Ok(()) => Ok(()),
                Err(rule) => violation(rule),
            },
        }
    }

    /// Check the observer's own state, its own incarnation and every bound: constant time.
    pub fn check_local(&mut self, swim: &Swim<A>) -> Result<(), Violation> {
        let local = Local::of(swim);
        match self.local_rules(&local) {
            Ok(()) => Ok(()),
            Err(rule) => {
                let me = &swim.local().name;
                Err(Violation { observer: me.clone(), member: me.clone(), rule })
            }
        }
    }

    fn local_rules(&mut self, local: &Local) -> Result<(), Rule> {
        if local.state == State::Dead {
            return Err(Rule::HoldsItselfDead);
        }
        if local.state != State::Alive && !local.leaving {
            return Err(Rule::HoldsItselfNotAlive { state: local.state });
        }
        if let Some(from) = self.own
            && local.incarnation < from
        {
            return Err(Rule::OwnIncarnationDown { from, to: local.incarnation });
        }
        self.own = Some(local.incarnation);
        for &(bound, value, limit) in &local.bounds {
            if value > limit {
                return Err(Rule::OverBound { bound, value, limit });
            }
        }
        Ok(())
    }

    /// Check every member the observer holds against what it held or reported before: no
    /// incarnation went down, nothing held dead came back alive at the same incarnation.
    /// Linear in the member table. Call after the events of the same input were checked.
    pub fn check_table(&mut self, swim: &Swim<A>) -> Result<(), Violation> {
        let local = &swim.local().name;
        let ours = swim.config().versions;
        for m in swim.members() {
            if m.name == *local {
                continue;
            }
            if let Some(theirs) = swim.versions_of(&m.name)
                && !ours.compatible(&theirs)
            {
                let rule = Rule::HoldsIncompatible { theirs };
                return Err(Violation { observer: local.clone(), member: m.name.clone(), rule });
            }
            match self.views.get_mut(m.name.as_str()) {
                // Not seen before, or now another process (a reclaim whose events were
                // drained by someone else): a new history.
                None => {
                    self.views.insert(m.name.clone(), View::of(m));
                }
                Some(view) if view.addr != m.addr => *view = View::of(m),
                Some(view) => {
                    let rule = if m.incarnation < view.incarnation {
                        Some(Rule::IncarnationDown { from: view.incarnation, to: m.incarnation })
                    } else {
                        alive_after_dead(view, m)
                    };
                    if let Some(rule) = rule {
                        return Err(Violation { observer: local.clone(), member: m.name.clone(), rule });
                    }
                    view.state = m.state;
                    view.incarnation = m.incarnation;
                    if m.state.is_gone() {
                        view.dead_at = view.dead_at.max(Some(m.incarnation));
                    }
                }
            }
        }
        // Members no longer held were forgotten.
        if self.views.len() > swim.table_len() {
            self.views.retain(|name, _| swim.member(name).is_some());
        }
        Ok(())
    }

    /// [`check_local`](Self::check_local), then [`check_table`](Self::check_table).
    pub fn check(&mut self, swim: &Swim<A>) -> Result<(), Violation> {
        self.check_local(swim)?;
        self.check_table(swim)
    }
}

/// `view` becomes `m` by a reported event: check the rules and update the view.
fn transition<A>(view: &mut View<A>, m: &Member<A>) -> Result<(), Rule> {
    if m.incarnation < view.incarnation {
        return Err(Rule::IncarnationDown { from: view.incarnation, to: m.incarnation });
    }
    if let Some(rule) = alive_after_dead(view, m) {
        return Err(rule);
    }
    let claim = match m.state {
        State::Alive => Claim::Alive(m.incarnation),
        State::Suspect => Claim::Suspect(m.incarnation),
        State::Dead | State::Left => Claim::Dead(m.incarnation),
    };
    if !member::overrides(claim, view.state, view.incarnation) {
        return Err(Rule::Precedence { from: (view.state, view.incarnation), to: (m.state, m.incarnation) });
    }
    view.state = m.state;
    view.incarnation = m.incarnation;
    if m.state.is_gone() {
        view.dead_at = view.dead_at.max(Some(m.incarnation));
    }
    Ok(())
}

fn alive_after_dead<A>(view: &View<A>, m: &Member<A>) -> Option<Rule> {
    match view.dead_at {
        Some(dead) if m.state == State::Alive && m.incarnation <= dead => {
            Some(Rule::AliveAfterDead { dead, alive: m.incarnation })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;
    use alloc::vec::Vec;

    use super::*;
    use crate::config::Config;
    use crate::swim::Identity;
    use crate::time::Instant;
    use crate::wire::{Alive, Codec, Message, PostcardCodec, Suspect, envelope};

    fn member(name: &str, state: State, incarnation: u32) -> Member<u32> {
        Member {
            name: Name::from(name),
            addr: 9,
            meta: bytes::Bytes::new(),
            incarnation,
            state,
            state_changed: Instant::ZERO,
        }
    }

    fn observer(config: Config) -> Swim<u32> {
        Swim::new(config, Identity::new("node-0", 0), 7, Instant::ZERO).unwrap()
    }

    /// The rule of the first violation among `events`, checked in order.
    fn first_violation(events: &[Event<u32>]) -> Option<Rule> {
        let swim = observer(Config::lan());
        let mut c = Checker::new();
        events.iter().find_map(|e| c.check_event(&swim, e).err()).map(|v| v.rule)
    }

    fn datagram(msgs: &[Message<'_, u32>]) -> Vec<u8> {
        let mut buf = Vec::new();
        envelope::begin(&mut buf, b"", false);
        for m in msgs {
            PostcardCodec.encode(m, &mut buf);
        }
        buf
    }

    #[test]
    fn an_honest_history_passes() {
        let events = [
            Event::MemberJoined(member("a", State::Alive, 0)),
            Event::MemberSuspected { member: member("a", State::Suspect, 0), accuser: Name::from("b") },
            Event::MemberAlive(member("a", State::Alive, 1)),
            Event::MemberUpdated(member("a", State::Alive, 2)),
            Event::MemberSuspected { member: member("a", State::Suspect, 2), accuser: Name::from("b") },
            Event::MemberSuspected { member: member("a", State::Suspect, 3), accuser: Name::from("b") },
            Event::MemberFailed(member("a", State::Dead, 3)),
            Event::MemberAlive(member("a", State::Alive, 4)),
            Event::MemberLeft(member("a", State::Left, 5)),
            Event::MemberJoined(member("a", State::Alive, 6)),
            Event::MemberFailed(member("a", State::Dead, 6)),
            // Forgotten, then a new process reclaims the name from scratch.
            Event::MemberRemoved(member("a", State::Dead, 6)),
            Event::MemberJoined(member("a", State::Alive, 0)),
        ];
        assert_eq!(first_violation(&events), None);
    }

    #[test]
    fn a_reported_incarnation_must_not_go_down() {
        let events =
            [Event::MemberJoined(member("a", State::Alive, 3)), Event::MemberUpdated(member("a", State::Alive, 2))];
        assert_eq!(first_violation(&events), Some(Rule::IncarnationDown { from: 3, to: 2 }));
    }

    #[test]
    fn a_transition_must_override_the_view() {
        // Suspect at the incarnation it is already suspected at is no transition.
        let events = [
            Event::MemberSuspected { member: member("a", State::Suspect, 2), accuser: Name::from("b") },
            Event::MemberSuspected { member: member("a", State::Suspect, 2), accuser: Name::from("c") },
        ];
        assert_eq!(
            first_violation(&events),
            Some(Rule::Precedence { from: (State::Suspect, 2), to: (State::Suspect, 2) })
        );
        // Nothing but a newer alive changes a dead view.
        let events = [
            Event::MemberFailed(member("a", State::Dead, 1)),
            Event::MemberSuspected { member: member("a", State::Suspect, 4), accuser: Name::from("b") },
        ];
        assert_eq!(
            first_violation(&events),
            Some(Rule::Precedence { from: (State::Dead, 1), to: (State::Suspect, 4) })
        );
    }

    #[test]
    fn alive_and_dead_at_one_incarnation_is_caught() {
        let events =
            [Event::MemberFailed(member("a", State::Dead, 2)), Event::MemberAlive(member("a", State::Alive, 2))];
        assert_eq!(first_violation(&events), Some(Rule::AliveAfterDead { dead: 2, alive: 2 }));
        let events =
            [Event::MemberLeft(member("a", State::Left, 5)), Event::MemberJoined(member("a", State::Alive, 5))];
        assert_eq!(first_violation(&events), Some(Rule::AliveAfterDead { dead: 5, alive: 5 }));
    }

    #[test]
    fn an_event_about_the_observer_itself_is_caught() {
        let events = [Event::MemberSuspected { member: member("node-0", State::Suspect, 0), accuser: Name::from("b") }];
        assert_eq!(first_violation(&events), Some(Rule::EventAboutItself));
    }

    #[test]
    fn a_lag_notice_resets_the_history() {
        let mut c = Checker::new();
        let swim = observer(Config::lan());
        c.check_event(&swim, &Event::MemberJoined(member("a", State::Alive, 3))).unwrap();
        // Overflow the event queue: the history has holes, so a lower incarnation is no proof.
        let mut l = Config::lan();
        l.limits.max_pending_events = 1;
        let mut swim = observer(l);
        let alive = |n: &'static str| {
            Message::Alive(Alive {
                incarnation: 0,
                name: n,
                addr: 9u32,
                meta: b"",
                versions: crate::Versions::DEFAULT,
                capabilities: crate::Capabilities::NONE,
            })
        };
        swim.handle_datagram(Instant::ZERO, 9, &datagram(&[alive("x"), alive("y")])).unwrap();
        assert!(swim.stats().events_dropped > 0);
        let lagged = swim.poll_event().unwrap();
        assert!(matches!(&lagged, Event::Lagged { members, .. } if members.len() == 2), "{lagged:?}");
        c.check_event(&swim, &lagged).unwrap();
        c.check_event(&swim, &Event::MemberJoined(member("a", State::Alive, 1))).unwrap();
        // The snapshot starts a history of its own, checked from there on.
        let down = Event::MemberSuspected { member: member("x", State::Suspect, 0), accuser: Name::from("b") };
        c.check_event(&swim, &down).unwrap();
        let alive_again = Event::MemberAlive(member("x", State::Alive, 0));
        let rule = c.check_event(&swim, &alive_again).unwrap_err().rule;
        assert_eq!(rule, Rule::Precedence { from: (State::Suspect, 0), to: (State::Alive, 0) });
    }

    /// The local rule a snapshot of a fresh member breaks after `edit`.
    fn local_violation(edit: impl FnOnce(&mut Local)) -> Option<Rule> {
        let swim = observer(Config::lan());
        let mut local = Local::of(&swim);
        let mut c = Checker::<u32>::new();
        c.local_rules(&local).unwrap();
        edit(&mut local);
        c.local_rules(&local).err()
    }

    #[test]
    fn the_observer_must_not_hold_itself_dead() {
        assert_eq!(local_violation(|l| l.state = State::Dead), Some(Rule::HoldsItselfDead));
        // Not even while leaving.
        assert_eq!(
            local_violation(|l| {
                l.state = State::Dead;
                l.leaving = true;
            }),
            Some(Rule::HoldsItselfDead)
        );
    }

    #[test]
    fn the_observer_holds_itself_alive_unless_leaving() {
        assert_eq!(
            local_violation(|l| l.state = State::Suspect),
            Some(Rule::HoldsItselfNotAlive { state: State::Suspect })
        );
        assert_eq!(local_violation(|l| l.state = State::Left), Some(Rule::HoldsItselfNotAlive { state: State::Left }));
        // A real leave: the member holds itself left, which is allowed.
        let mut swim = observer(Config::lan());
        swim.leave(Instant::ZERO).unwrap();
        assert_eq!(swim.local().state, State::Left);
        Checker::new().check(&swim).unwrap();
    }

    #[test]
    fn the_own_incarnation_must_not_go_down() {
        // The observer refutes a suspicion: incarnation 0 -> 1, allowed.
        let mut swim = observer(Config::lan());
        let mut c = Checker::new();
        c.check_local(&swim).unwrap();
        let sus = Message::Suspect(Suspect { incarnation: 0, name: "node-0", from: "node-1" });
        swim.handle_datagram(Instant::ZERO, 1, &datagram(&[sus])).unwrap();
        assert_eq!(swim.local().incarnation, 1);
        c.check_local(&swim).unwrap();
        // The same checker shown a new life at incarnation 0 (a restart without a new checker).
        let restarted = observer(Config::lan());
        let v = c.check_local(&restarted).unwrap_err();
        assert_eq!(v.rule, Rule::OwnIncarnationDown { from: 1, to: 0 });
        assert_eq!((v.observer.as_str(), v.member.as_str()), ("node-0", "node-0"));
        // A new checker per life accepts it.
        Checker::new().check_local(&restarted).unwrap();
    }

    #[test]
    fn every_bound_is_checked() {
        let swim = observer(Config::lan());
        let bounds = Local::of(&swim).bounds;
        assert_eq!(bounds.len(), 7);
        for (k, &(bound, _, limit)) in bounds.iter().enumerate() {
            let rule = local_violation(|l| l.bounds[k].1 = limit + 1);
            assert_eq!(rule, Some(Rule::OverBound { bound, value: limit + 1, limit }), "{bound:?}");
            // At the limit is within it.
            assert_eq!(local_violation(|l| l.bounds[k].1 = limit), None, "{bound:?}");
        }
        let l = Config::lan();
        assert_eq!(bounds[0], (Bound::MemberTable, 0, l.limits.max_members));
        assert_eq!(bounds[6], (Bound::HealthScore, 0, l.lifeguard.awareness_max_multiplier as usize - 1));
        let v = Violation {
            observer: Name::from("node-0"),
            member: Name::from("node-0"),
            rule: Rule::OverBound { bound: Bound::MemberTable, value: 4, limit: 3 },
        };
        assert_eq!(v.to_string(), "node-0 about node-0: the member table (limits.max_members) is 4, over 3 [bounds]");
    }

    #[test]
    fn the_table_scan_catches_a_lower_incarnation() {
        // The observer held `a` at incarnation 5 (reported), then holds it at 0: the table
        // scan catches it even without an event.
        let mut swim = observer(Config::lan());
        let mut c = Checker::new();
        c.check_event(&swim, &Event::MemberJoined(member("a", State::Alive, 5))).unwrap();
        let alive = Message::Alive(Alive {
            incarnation: 0,
            name: "a",
            addr: 9u32,
            meta: b"",
            versions: crate::Versions::DEFAULT,
            capabilities: crate::Capabilities::NONE,
        });
        swim.handle_datagram(Instant::ZERO, 9, &datagram(&[alive])).unwrap();
        while swim.poll_event().is_some() {}
        let v = c.check_table(&swim).unwrap_err();
        assert_eq!(v.rule, Rule::IncarnationDown { from: 5, to: 0 });
        assert_eq!(v.member, "a");
        assert_eq!(v.observer, "node-0");
        // And a member held dead at 0, then alive at 0.
        let mut c = Checker::new();
        c.check_event(&swim, &Event::MemberFailed(member("a", State::Dead, 0))).unwrap();
        let v = c.check_table(&swim).unwrap_err();
        assert_eq!(v.rule, Rule::AliveAfterDead { dead: 0, alive: 0 });
        // Forgetting a member forgets its history.
        let mut c = Checker::new();
        c.check_event(&swim, &Event::MemberFailed(member("a", State::Dead, 0))).unwrap();
        c.check_event(&swim, &Event::MemberRemoved(member("a", State::Dead, 0))).unwrap();
        c.check_table(&swim).unwrap();
        // So does a process at another address taking the name over (a reclaim), even when
        // the checker did not see its events.
        let mut c = Checker::new();
        let elsewhere = Member { addr: 10, ..member("a", State::Dead, 5) };
        c.check_event(&swim, &Event::MemberFailed(elsewhere)).unwrap();
        c.check_table(&swim).unwrap();
    }
}
