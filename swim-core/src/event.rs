//! What the core tells its caller, drained with [`crate::Swim::poll_event`].

use core::fmt;

use bytes::Bytes;

use crate::member::{Member, Name};
use crate::versions::Versions;

/// Identifies one call to [`crate::Swim::join`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JoinId(pub u64);

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
    /// Two addresses claim one name; the claim was ignored.
    AddressConflict {
        /// The contested name.
        name: Name,
        /// The address held.
        existing: A,
        /// The address claimed.
        claimed: A,
    },
    /// A member claimed alive by a peer was refused: it is not stored and not gossiped
    /// (counted in `Stats::versions_refused` for a version refusal).
    MemberRefused {
        /// The refused member's name.
        name: Name,
        /// The address claimed for it.
        addr: A,
        /// Why.
        reason: RefusalReason,
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
    /// The leave notice has been sent as often as gossip sends any update (or there was no
    /// one to tell). Safe to shut down.
    LeaveCompleted,
}

/// Why a member was refused ([`Event::MemberRefused`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefusalReason {
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
            Event::AddressConflict { name, existing, claimed } => {
                write!(f, "{name} claimed from {claimed} but held at {existing}; the claim was ignored")
            }
            Event::MemberRefused { name, addr, reason } => write!(f, "{name} refused at {addr}: {reason}"),
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
            Event::LeaveCompleted => f.write_str("leave notice spread; safe to shut down"),
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
        let ours = Versions::DEFAULT;
        let theirs = Versions { protocol: crate::VersionRange::only(3), ..ours };
        let cases: [(Event<u16>, &str); 16] = [
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
                Event::MemberRefused { name: "x".into(), addr: 5, reason: RefusalReason::Version { theirs, ours } },
                "x refused at 5: no protocol version in common: it speaks protocol 3..=3 (current 3), application \
                 0..=0 (current 0); this member speaks protocol 1..=1 (current 1), application 0..=0 (current 0)",
            ),
            (
                Event::UserMessage { from: 9, sender: "c".into(), payload: Bytes::from_static(b"hi") },
                "message from c (9): 2 bytes",
            ),
            (Event::UserBroadcast { origin: "c".into(), payload: Bytes::new() }, "broadcast from c: 0 bytes"),
            (Event::HealthChanged { score: 1 }, "local health score now 1 (0 is healthy)"),
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
        ];
        for (event, text) in cases {
            assert_eq!(event.to_string(), text, "{event:?}");
        }
    }
}
