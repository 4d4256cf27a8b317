//! What the core tells its caller, drained with [`crate::Swim::poll_event`].

use bytes::Bytes;

use crate::member::{Member, Name};

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
