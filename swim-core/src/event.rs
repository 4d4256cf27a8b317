//! What the core tells its caller, drained with [`crate::Swim::poll_event`].
//!
//! # No membership change is lost silently
//!
//! Events wait in a queue of at most `limits.max_pending_events`. *Membership events* (the
//! member events, [`Event::changes_membership`]) are never dropped without notice: when the
//! queue is full and holds any, they are all dropped together, the queue is marked *lagged*,
//! and no membership event is queued until the caller polls again. The next
//! [`poll_event`](crate::Swim::poll_event) then returns one [`Event::Lagged`] carrying a
//! snapshot of the member table taken at that moment, so it covers every change dropped or
//! never queued, and no older membership event follows it. Other events (user messages and
//! broadcasts, health, joins) are dropped oldest first when the queue is full of them.
//! Every drop is counted in `Stats::events_dropped`.
//!
//! A reader that applies every event in order, replacing what it knows by each lag notice's
//! snapshot, holds the member table: [`MemberView`] does exactly that.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::fmt;

use bytes::Bytes;

use crate::hooks::Refusal;
use crate::member::{Member, Name};
use crate::versions::Versions;

/// Identifies one call to [`crate::Swim::join`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JoinId(pub u64);

/// Identifies one call to [`crate::Swim::ping`] or [`crate::Swim::ping_addr`]; its outcome is
/// an [`Event::PingCompleted`] with the same id. Ids count up from 0 per member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PingId(pub u64);

/// A change the caller may act on. Member events carry the member as it is after the change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<A> {
    /// A member not known before is alive: a newcomer, a member that had left and rejoined, or
    /// a new process that reclaimed a dead or left member's name from another address.
    MemberJoined(Member<A>),
    /// A live member changed its metadata.
    MemberUpdated(Member<A>),
    /// A member is suspected of having failed.
    MemberSuspected {
        /// The member.
        member: Member<A>,
        /// Who suspected it first.
        accuser: Name,
    },
    /// A member's suspicion timed out (here or elsewhere): it is considered failed.
    MemberFailed(Member<A>),
    /// A member left gracefully.
    MemberLeft(Member<A>),
    /// A suspected or failed member proved it is alive (refuted, or came back after a
    /// partition).
    MemberAlive(Member<A>),
    /// A dead or left member was forgotten: its retention ended, it was evicted to make room,
    /// or a new process reclaimed its name (a `MemberJoined` follows).
    MemberRemoved(Member<A>),
    /// Flap damping (`Config::damping`) holds this member down: it kept being declared dead
    /// and coming back, or kept refuting. Treat it as failed until
    /// [`Event::MemberReadmitted`], whatever its state in the member table (it is still
    /// probed and may refute, which is how a member that keeps flapping stays held down).
    /// `Swim::is_held_down` answers the same question; after an [`Event::Lagged`], ask it.
    MemberHeldDown(Member<A>),
    /// A held-down member's penalty has decayed: it counts again as its state in the member
    /// table says (the member carried is as held now).
    MemberReadmitted(Member<A>),
    /// Two addresses claim one name; the claim was ignored.
    AddressConflict {
        /// The contested name.
        name: Name,
        /// The address held.
        existing: A,
        /// The address claimed.
        claimed: A,
    },
    /// An alive claim about a member not held alive here was refused by the application
    /// ([`Hooks::admit_member`](crate::hooks::Hooks::admit_member)), its address by
    /// [`Hooks::allow_address`](crate::hooks::Hooks::allow_address), or its versions: the member was not stored
    /// and is not gossiped. Counted in `Stats::members_refused`, or `Stats::versions_refused`
    /// when its version ranges share nothing with this member's.
    MemberRefused {
        /// The claimed name.
        name: Name,
        /// The claimed address.
        addr: A,
        /// Why: the application, the address allowlist, or no version in common.
        reason: RefusalReason,
    },
    /// A push-pull state was refused whole by
    /// [`Hooks::admit_merge`](crate::hooks::Hooks::admit_merge): nothing of it was applied
    /// (a refused join request is answered with the refusal). Counted in
    /// `Stats::merges_refused`.
    MergeRefused {
        /// The sender of the state.
        from: Name,
        /// Why.
        reason: Refusal,
    },
    /// A seed refused this member's join (its application's admission said no), or this
    /// member refused the seed's reply. The join is not retried: the seed answered, and asking
    /// again would get the same answer; a [`Event::JoinCompleted`] with the same id follows
    /// once every seed of the attempt is settled.
    JoinRefused {
        /// Which join.
        join: JoinId,
        /// The seed's address, as given to `join`.
        seed: A,
        /// Why, as the refusing side said it.
        reason: Refusal,
    },
    /// A user message arrived.
    UserMessage {
        /// Transport address it came from. For a reliable (stream) message this is the
        /// connection's source address, which is usually not where the sender listens: to
        /// answer, look up `sender` with `Swim::member` and use its address.
        from: A,
        /// The name the sender gave.
        sender: Name,
        /// The payload.
        payload: Bytes,
    },
    /// A user broadcast arrived (once per broadcast).
    UserBroadcast {
        /// The member that broadcast it.
        origin: Name,
        /// The payload.
        payload: Bytes,
    },
    /// The local health score (Lifeguard awareness) changed.
    HealthChanged {
        /// The new score, `0..awareness_max_multiplier`.
        score: u32,
    },
    /// A join finished: every seed answered, failed or timed out.
    JoinCompleted {
        /// Which join.
        join: JoinId,
        /// Seeds that answered with their state.
        reached: usize,
        /// Seeds contacted.
        attempted: usize,
    },
    /// A join reached none of its seeds and will be tried again after `delay` (see
    /// `Config::join_retry`); a [`Event::JoinCompleted`] with the same id follows each attempt.
    JoinRetrying {
        /// Which join.
        join: JoinId,
        /// The attempt that will be made (2 for the first retry).
        attempt: u32,
        /// How long until it is made.
        delay: core::time::Duration,
    },
    /// A join reached none of its seeds in `JoinRetry::max_attempts` attempts; no more are
    /// made. The member runs on alone until someone contacts it or the application joins again.
    JoinGaveUp {
        /// Which join.
        join: JoinId,
        /// Attempts made.
        attempts: u32,
    },
    /// A ping of [`crate::Swim::ping`] or [`crate::Swim::ping_addr`] was answered, or timed
    /// out (no ack within the probe timeout in force when it was sent).
    PingCompleted {
        /// Which ping.
        id: PingId,
        /// The member pinged, `None` for a bare address.
        name: Option<Name>,
        /// The address pinged.
        addr: A,
        /// The round-trip time (from the command to the ack, in the caller's time), or `None`
        /// on a timeout.
        rtt: Option<core::time::Duration>,
    },
    /// The leave notice has been sent as often as gossip sends any update (or there was no
    /// one to tell). Safe to shut down.
    LeaveCompleted,
    /// The reader fell behind: events were lost, membership changes among them. `members` is
    /// the member table as it is now (every member but the local one, in every state, as
    /// [`crate::Swim::members`] lists them after the local member): replace what you know
    /// with it. It covers every membership change lost, and no older membership event
    /// follows it. See the [module docs](self) for when the core sends it; swim-tokio's
    /// event streams send it to a subscriber that falls behind, too.
    Lagged {
        /// Events lost since the previous lag notice, of every kind (user messages and
        /// broadcasts among them, which the snapshot does not cover).
        dropped: u64,
        /// Every member but the local one, as held when the notice was handed out.
        members: Vec<Member<A>>,
    },
}

impl<A> Event<A> {
    /// Whether this event changes what a reader of the events knows about the membership:
    /// the member events (joined, updated, suspected, failed, left, alive, removed) and a lag
    /// notice. These are never dropped silently (see the [module docs](self)); the others
    /// are notices that the member table does not record.
    pub fn changes_membership(&self) -> bool {
        match self {
            Event::MemberJoined(_)
            | Event::MemberUpdated(_)
            | Event::MemberSuspected { .. }
            | Event::MemberFailed(_)
            | Event::MemberLeft(_)
            | Event::MemberAlive(_)
            | Event::MemberRemoved(_)
            | Event::MemberHeldDown(_)
            | Event::MemberReadmitted(_)
            | Event::Lagged { .. } => true,
            // An ignored or refused claim changes nothing in the table.
            Event::AddressConflict { .. }
            | Event::MemberRefused { .. }
            | Event::MergeRefused { .. }
            | Event::JoinRefused { .. }
            | Event::UserMessage { .. }
            | Event::UserBroadcast { .. }
            | Event::HealthChanged { .. }
            | Event::JoinCompleted { .. }
            | Event::JoinRetrying { .. }
            | Event::JoinGaveUp { .. }
            | Event::PingCompleted { .. }
            | Event::LeaveCompleted => false,
        }
    }

    /// The member a member event is about, as it is after the change.
    pub fn member(&self) -> Option<&Member<A>> {
        match self {
            Event::MemberJoined(m)
            | Event::MemberUpdated(m)
            | Event::MemberFailed(m)
            | Event::MemberLeft(m)
            | Event::MemberAlive(m)
            | Event::MemberRemoved(m)
            | Event::MemberHeldDown(m)
            | Event::MemberReadmitted(m)
            | Event::MemberSuspected { member: m, .. } => Some(m),
            _ => None,
        }
    }
}

/// The membership as a reader of the events knows it: apply every event in order and it
/// holds the member table (every member but the local one), a lag notice's snapshot
/// included. swim-tokio keeps one per member to build the snapshot it hands a subscriber
/// that fell behind; an application can keep one to reconcile from.
///
/// What it holds matches the table in every member's name, address, metadata and state.
/// Incarnations match too, except where a member's incarnation rose without a change of
/// state or metadata (a refutation heard by a member that never held the suspicion; a newer
/// death notice about a member already dead): like memberlist, the core reports no event
/// for that, and the view keeps the incarnation of the last event (a lag notice brings it
/// up to date).
///
/// Memory: one [`Member`] per member held, so at most `limits.max_members`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberView<A> {
    members: BTreeMap<Name, Member<A>>,
}

impl<A> Default for MemberView<A> {
    fn default() -> Self {
        MemberView { members: BTreeMap::new() }
    }
}

impl<A: Clone> MemberView<A> {
    /// An empty view: what a reader knows before the first event.
    pub fn new() -> Self {
        MemberView::default()
    }

    /// Apply one event, in the order polled. Returns whether it was a membership event
    /// ([`Event::changes_membership`]); other events leave the view as it was.
    pub fn apply(&mut self, event: &Event<A>) -> bool {
        match event {
            Event::MemberRemoved(m) => {
                self.members.remove(m.name.as_str());
            }
            Event::Lagged { members, .. } => {
                self.members.clear();
                self.members.extend(members.iter().map(|m| (m.name.clone(), m.clone())));
            }
            e => match e.member() {
                Some(m) => {
                    self.members.insert(m.name.clone(), m.clone());
                }
                None => return false,
            },
        }
        true
    }

    /// One member by name.
    pub fn get(&self, name: &str) -> Option<&Member<A>> {
        self.members.get(name)
    }

    /// Every member held, in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Member<A>> + '_ {
        self.members.values()
    }

    /// Members held, in every state.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether no member is held.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Every member held, in name order, as a list (what a lag notice carries).
    pub fn to_vec(&self) -> Vec<Member<A>> {
        self.members.values().cloned().collect()
    }
}

/// The core's event queue: bounded by `limits.max_pending_events`, it never drops a
/// membership event without a lag notice (see the [module docs](self)).
#[derive(Debug)]
pub(crate) struct EventQueue<A> {
    events: VecDeque<Event<A>>,
    /// Membership events among `events`, so that a full queue need not be scanned.
    membership: usize,
    /// Membership events were dropped: the next poll hands out a lag notice.
    lagged: bool,
    /// Events dropped since the last lag notice, of every kind.
    dropped: u64,
}

impl<A> Default for EventQueue<A> {
    fn default() -> Self {
        EventQueue { events: VecDeque::new(), membership: 0, lagged: false, dropped: 0 }
    }
}

impl<A> EventQueue<A> {
    /// Queue `e` within `max` events. Returns how many events were dropped (`e` included).
    pub fn push(&mut self, e: Event<A>, max: usize) -> u64 {
        let membership = e.changes_membership();
        if membership && self.lagged {
            self.dropped += 1;
            return 1;
        }
        let mut dropped = 0;
        if self.events.len() >= max {
            if self.membership > 0 {
                // Drop every queued membership change; the lag notice's snapshot covers them.
                let before = self.events.len();
                self.events.retain(|e| !e.changes_membership());
                dropped = (before - self.events.len()) as u64;
                self.membership = 0;
                self.lagged = true;
                if membership {
                    dropped += 1;
                    self.dropped += dropped;
                    return dropped;
                }
            } else {
                self.events.pop_front();
                dropped = 1;
            }
        }
        self.dropped += dropped;
        self.membership += usize::from(membership);
        self.events.push_back(e);
        dropped
    }

    /// The next event: a lag notice first if one is due, with `members()`'s snapshot.
    pub fn pop(&mut self, members: impl FnOnce() -> Vec<Member<A>>) -> Option<Event<A>> {
        if self.lagged {
            self.lagged = false;
            let dropped = core::mem::take(&mut self.dropped);
            return Some(Event::Lagged { dropped, members: members() });
        }
        let e = self.events.pop_front()?;
        if e.changes_membership() {
            self.membership = self.membership.saturating_sub(1);
        }
        Some(e)
    }

    /// Events waiting (a due lag notice not counted).
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Capacity of the queue, for memory estimates.
    pub fn capacity(&self) -> usize {
        self.events.capacity()
    }
}

/// Why a member was refused ([`Event::MemberRefused`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    /// The application refused it ([`Hooks::admit_member`](crate::hooks::Hooks::admit_member)).
    Application(Refusal),
    /// Its claimed address is not allowed
    /// ([`Hooks::allow_address`](crate::hooks::Hooks::allow_address)).
    AddressNotAllowed,
    /// Its protocol or application version range shares no version with this member's (see
    /// [`crate::versions`]).
    Version {
        /// What its alive record says it speaks.
        theirs: Versions,
        /// What this member speaks (`Config::versions`).
        ours: Versions,
    },
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefusalReason::Application(r) => f.write_str(&r.reason),
            RefusalReason::AddressNotAllowed => f.write_str("address not allowed"),
            RefusalReason::Version { theirs, ours } => {
                let what = if theirs.protocol.overlaps(&ours.protocol) { "application" } else { "protocol" };
                write!(f, "no {what} version in common: it speaks {theirs}; this member speaks {ours}")
            }
        }
    }
}

/// One line in words, for logs and command-line tools: a member event starts with the
/// member's name and what happened to it (`b joined at 10.0.0.2:7946 (incarnation 3)`,
/// `b suspected by a at 10.0.0.2:7946 (incarnation 3)`); payloads are shown by their size.
impl<A: fmt::Display> fmt::Display for Event<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at =
            |f: &mut fmt::Formatter<'_>, m: &Member<A>| write!(f, " at {} (incarnation {})", m.addr, m.incarnation);
        match self {
            Event::MemberJoined(m) => {
                write!(f, "{} joined", m.name)?;
                at(f, m)
            }
            Event::MemberUpdated(m) => {
                write!(f, "{} updated its metadata ({} bytes)", m.name, m.meta.len())?;
                at(f, m)
            }
            Event::MemberSuspected { member, accuser } => {
                write!(f, "{} suspected by {accuser}", member.name)?;
                at(f, member)
            }
            Event::MemberFailed(m) => {
                write!(f, "{} failed", m.name)?;
                at(f, m)
            }
            Event::MemberLeft(m) => {
                write!(f, "{} left", m.name)?;
                at(f, m)
            }
            Event::MemberAlive(m) => {
                write!(f, "{} alive again", m.name)?;
                at(f, m)
            }
            Event::MemberRemoved(m) => write!(f, "{} forgotten (removed from the member table)", m.name),
            Event::MemberHeldDown(m) => {
                write!(f, "{} held down: it keeps failing and coming back", m.name)?;
                at(f, m)
            }
            Event::MemberReadmitted(m) => {
                write!(f, "{} readmitted after its hold-down", m.name)?;
                at(f, m)
            }
            Event::AddressConflict { name, existing, claimed } => {
                write!(f, "{name} claimed from {claimed} but held at {existing}; the claim was ignored")
            }
            Event::MemberRefused { name, addr, reason } => write!(f, "{name} at {addr} refused: {reason}"),
            Event::MergeRefused { from, reason } => write!(f, "push-pull state from {from} refused: {reason}"),
            Event::JoinRefused { seed, reason, .. } => write!(f, "join refused by the seed at {seed}: {reason}"),
            Event::UserMessage { from, sender, payload } => {
                write!(f, "message from {sender} ({from}): {} bytes", payload.len())
            }
            Event::UserBroadcast { origin, payload } => write!(f, "broadcast from {origin}: {} bytes", payload.len()),
            Event::HealthChanged { score } => write!(f, "local health score now {score} (0 is healthy)"),
            Event::JoinCompleted { reached, attempted, .. } => {
                write!(f, "join finished: {reached} of {attempted} seeds answered")
            }
            Event::JoinRetrying { attempt, delay, .. } => {
                write!(f, "join reached no seed; attempt {attempt} in {delay:?}")
            }
            Event::JoinGaveUp { attempts, .. } => write!(f, "join gave up: no seed answered in {attempts} attempts"),
            Event::PingCompleted { id, name, addr, rtt } => {
                write!(f, "ping {} of ", id.0)?;
                match name {
                    Some(n) => write!(f, "{n} ({addr})")?,
                    None => write!(f, "{addr}")?,
                }
                match rtt {
                    Some(rtt) => write!(f, ": answered in {rtt:?}"),
                    None => f.write_str(": timed out"),
                }
            }
            Event::LeaveCompleted => f.write_str("leave notice spread; safe to shut down"),
            Event::Lagged { dropped, members } => write!(
                f,
                "fell behind: {dropped} events lost; reconcile from this snapshot of {} members",
                members.len()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;
    use crate::{Instant, State};

    fn member(name: &str, meta: &'static [u8]) -> Member<u16> {
        Member {
            name: name.into(),
            addr: 7946,
            meta: Bytes::from_static(meta),
            incarnation: 3,
            state: State::Alive,
            state_changed: Instant::ZERO,
        }
    }

    #[test]
    fn every_event_reads_as_words() {
        let b = || member("b", b"zone=a");
        let no = || Refusal::new("wrong datacenter");
        let ours = Versions::DEFAULT;
        let theirs = Versions { protocol: crate::VersionRange::only(3), ..ours };
        let cases: [(Event<u16>, &str); 23] = [
            (Event::MemberJoined(b()), "b joined at 7946 (incarnation 3)"),
            (Event::MemberUpdated(b()), "b updated its metadata (6 bytes) at 7946 (incarnation 3)"),
            (Event::MemberSuspected { member: b(), accuser: "a".into() }, "b suspected by a at 7946 (incarnation 3)"),
            (Event::MemberFailed(b()), "b failed at 7946 (incarnation 3)"),
            (Event::MemberLeft(b()), "b left at 7946 (incarnation 3)"),
            (Event::MemberAlive(b()), "b alive again at 7946 (incarnation 3)"),
            (Event::MemberRemoved(b()), "b forgotten (removed from the member table)"),
            (
                Event::AddressConflict { name: "b".into(), existing: 1, claimed: 2 },
                "b claimed from 2 but held at 1; the claim was ignored",
            ),
            (
                Event::MemberRefused { name: "b".into(), addr: 2, reason: RefusalReason::Application(no()) },
                "b at 2 refused: wrong datacenter",
            ),
            (
                Event::MemberRefused { name: "b".into(), addr: 2, reason: RefusalReason::AddressNotAllowed },
                "b at 2 refused: address not allowed",
            ),
            (
                Event::MergeRefused { from: "c".into(), reason: no() },
                "push-pull state from c refused: wrong datacenter",
            ),
            (
                Event::JoinRefused { join: JoinId(0), seed: 9, reason: no() },
                "join refused by the seed at 9: wrong datacenter",
            ),
            (
                Event::MemberRefused { name: "x".into(), addr: 5, reason: RefusalReason::Version { theirs, ours } },
                "x at 5 refused: no protocol version in common: it speaks protocol 3..=3 (current 3), application \
                 0..=0 (current 0); this member speaks protocol 1..=1 (current 1), application 0..=0 (current 0)",
            ),
            (
                Event::UserMessage { from: 9, sender: "c".into(), payload: Bytes::from_static(b"hi") },
                "message from c (9): 2 bytes",
            ),
            (Event::UserBroadcast { origin: "c".into(), payload: Bytes::new() }, "broadcast from c: 0 bytes"),
            (Event::HealthChanged { score: 1 }, "local health score now 1 (0 is healthy)"),
            (
                Event::PingCompleted {
                    id: PingId(3),
                    name: Some("c".into()),
                    addr: 9,
                    rtt: Some(core::time::Duration::from_micros(1500)),
                },
                "ping 3 of c (9): answered in 1.5ms",
            ),
            (Event::PingCompleted { id: PingId(4), name: None, addr: 8, rtt: None }, "ping 4 of 8: timed out"),
            (
                Event::JoinCompleted { join: JoinId(0), reached: 1, attempted: 2 },
                "join finished: 1 of 2 seeds answered",
            ),
            (
                Event::JoinRetrying { join: JoinId(0), attempt: 2, delay: core::time::Duration::from_millis(750) },
                "join reached no seed; attempt 2 in 750ms",
            ),
            (Event::JoinGaveUp { join: JoinId(0), attempts: 3 }, "join gave up: no seed answered in 3 attempts"),
            (Event::LeaveCompleted, "leave notice spread; safe to shut down"),
            (
                Event::Lagged { dropped: 12, members: alloc::vec![b(), member("c", b"")] },
                "fell behind: 12 events lost; reconcile from this snapshot of 2 members",
            ),
        ];
        for (event, text) in cases {
            assert_eq!(event.to_string(), text, "{event:?}");
        }
    }

    fn joined(name: &str) -> Event<u16> {
        Event::MemberJoined(member(name, b""))
    }

    fn message() -> Event<u16> {
        Event::UserMessage { from: 1, sender: "a".into(), payload: Bytes::new() }
    }

    fn drain(q: &mut EventQueue<u16>, table: &[&str]) -> Vec<Event<u16>> {
        let snapshot = || table.iter().map(|n| member(n, b"")).collect();
        core::iter::from_fn(|| q.pop(snapshot)).collect()
    }

    #[test]
    fn a_full_queue_drops_other_events_oldest_first() {
        let mut q = EventQueue::default();
        assert_eq!(q.push(message(), 2), 0);
        assert_eq!(q.push(Event::HealthChanged { score: 1 }, 2), 0);
        assert_eq!(q.push(Event::LeaveCompleted, 2), 1, "the message goes");
        assert_eq!(drain(&mut q, &[]), [Event::HealthChanged { score: 1 }, Event::LeaveCompleted]);
    }

    #[test]
    fn a_full_queue_trades_membership_events_for_one_lag_notice() {
        let mut q = EventQueue::default();
        q.push(joined("a"), 3);
        q.push(message(), 3);
        q.push(joined("b"), 3);
        // Full: both joins go, the lag is marked, and this join is not queued either.
        assert_eq!(q.push(joined("c"), 3), 3);
        assert_eq!(q.len(), 1);
        // Lagged: membership events are counted, not queued; other events still are.
        assert_eq!(q.push(joined("d"), 3), 1);
        assert_eq!(q.push(Event::LeaveCompleted, 3), 0);
        let got = drain(&mut q, &["a", "b", "c", "d"]);
        let members = ["a", "b", "c", "d"].map(|n| member(n, b"")).to_vec();
        assert_eq!(got, [Event::Lagged { dropped: 4, members }, message(), Event::LeaveCompleted]);
        // After the notice, membership events queue again, and the count starts afresh.
        q.push(joined("e"), 3);
        assert_eq!(drain(&mut q, &[]), [joined("e")]);
    }

    #[test]
    fn while_lagged_a_full_queue_of_other_events_drops_the_oldest_and_counts_it() {
        let mut q = EventQueue::default();
        q.push(joined("a"), 1);
        q.push(message(), 1); // full with a join: the join goes, the lag begins
        assert_eq!(q.push(Event::LeaveCompleted, 1), 1, "the message goes");
        let got = drain(&mut q, &["a"]);
        assert_eq!(got, [Event::Lagged { dropped: 2, members: alloc::vec![member("a", b"")] }, Event::LeaveCompleted]);
    }

    #[test]
    fn a_view_follows_events_and_lag_notices() {
        let mut v = MemberView::new();
        assert!(v.apply(&joined("a")));
        assert!(v.apply(&joined("b")));
        assert!(!v.apply(&message()));
        let failed = Member { state: State::Dead, incarnation: 4, ..member("a", b"") };
        v.apply(&Event::MemberFailed(failed.clone()));
        assert_eq!(v.get("a"), Some(&failed));
        v.apply(&Event::MemberRemoved(failed));
        assert_eq!(v.to_vec(), [member("b", b"")]);
        v.apply(&Event::Lagged { dropped: 9, members: alloc::vec![member("c", b"x"), member("d", b"")] });
        assert_eq!(v.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["c", "d"]);
        assert_eq!(v.len(), 2);
    }
}
