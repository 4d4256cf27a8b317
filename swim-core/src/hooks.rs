//! Application hooks: what an application built on the membership plugs into the protocol.
//!
//! memberlist's users build on its delegates (Serf, Consul, Alertmanager, the memberlist
//! key-value store of Loki and Mimir); foca has its `BroadcastHandler`. Here one trait,
//! [`Hooks`], holds every decision the core asks the application for. The core calls it
//! synchronously, from inside the input that needs the answer (`handle_datagram`,
//! `handle_stream`, `poll_transmit`, ...), so the core stays sans-IO and deterministic: the same
//! seed, inputs and hook answers give the same outputs. Every method has a default that keeps
//! the core's own behaviour, so an application implements only what it needs.
//!
//! | memberlist | swim |
//! |---|---|
//! | `Delegate.LocalState(join)` | [`Hooks::local_state`] |
//! | `Delegate.MergeRemoteState(buf, join)` | [`Hooks::merge_remote_state`] |
//! | `Delegate.NotifyMsg` + `Broadcast.Invalidates` | [`Hooks::on_broadcast`] and global broadcast keys |
//! | `Broadcast.Finished` | [`Hooks::broadcast_finished`] |
//! | `AliveDelegate.NotifyAlive` | [`Hooks::admit_member`] |
//! | `MergeDelegate.NotifyMerge` | [`Hooks::admit_merge`] |
//! | `Config.CIDRsAllowed` | [`Hooks::allow_address`] |
//! | `PingDelegate.AckPayload` | [`Hooks::ack_payload`] |
//! | `PingDelegate.NotifyPingComplete` | [`Hooks::probe_completed`] (direct and indirect, told apart) |
//!
//! Install hooks with [`Swim::set_hooks`](crate::Swim::set_hooks) (or
//! [`Swim::set_boxed_hooks`](crate::Swim::set_boxed_hooks)). A hook must not block: it runs
//! inside the protocol's input handling, and a slow hook delays probes and acks the way a
//! starved process does.
//!
//! When each is called:
//!
//! | hook | called from | when |
//! |---|---|---|
//! | [`Hooks::allow_address`] | `handle_datagram`, `handle_stream` | first, on the source address (a refusal is `DecodeError::AddressNotAllowed`); then on a push-pull's `from_addr` and on every claimed member address |
//! | [`Hooks::admit_merge`] | `handle_stream` | for every push-pull, before any of it is applied |
//! | [`Hooks::admit_member`] | `handle_datagram`, `handle_stream` | for an alive claim about a member not held alive, before anything changes |
//! | [`Hooks::merge_remote_state`] | `handle_stream` | after a push-pull's member states merged, if it carried a state |
//! | [`Hooks::local_state`] | `poll_transmit` | when a push-pull (request or reply) is encoded |
//! | [`Hooks::on_broadcast`] | `handle_datagram` | the first time a broadcast is seen |
//! | [`Hooks::ack_payload`] | `handle_datagram` | for every ping answered with an ack to a member that advertises extended acks (`Capabilities::EXTENDED_ACK`) |
//! | [`Hooks::probe_completed`] | `handle_datagram` | when an ack (direct or relayed) ends one of this member's probes |
//! | [`Hooks::broadcast_finished`] | `poll_transmit`, `broadcast`, `handle_datagram` | when a broadcast leaves the user queue: sent its full count (while filling a datagram), replaced or dropped (while queueing another) |

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

use bytes::Bytes;

use crate::member::State;
use crate::transmit::BroadcastId;

/// Why a push-pull exchange happened, as told to the state hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exchange {
    /// A join: the request a joiner sends its seed, and the seed's reply to it.
    Join,
    /// The periodic anti-entropy exchange (and a reconnect after a partition), and its reply.
    Periodic,
}

/// The application's answer about a received user broadcast.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// New to the application: deliver it ([`crate::Event::UserBroadcast`]) and relay it,
    /// replacing any queued broadcast with an equal key, whatever its origin.
    New,
    /// Stale or unwanted: drop it; it is neither delivered nor relayed (counted).
    Stale,
}

/// How a user broadcast left this member's piggyback queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BroadcastOutcome {
    /// It was sent its full retransmit count.
    Sent,
    /// A newer broadcast with an equal key replaced it before that.
    Replaced,
    /// The queue was full and it was dropped to make room (`limits.user_broadcast_queue_depth`).
    Dropped,
}

/// A user broadcast that left this member's piggyback queue, told to
/// [`Hooks::broadcast_finished`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FinishedBroadcast<'a> {
    /// The member that broadcast it first.
    pub origin: &'a str,
    /// Its id, unique per origin (what [`crate::Swim::broadcast`] returned at the origin).
    pub id: BroadcastId,
    /// Its invalidation key (empty for none).
    pub key: &'a [u8],
    /// Whether this member originated it (as opposed to relaying it).
    pub local: bool,
    /// How it left the queue.
    pub outcome: BroadcastOutcome,
}

/// How a probe reached its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbePath {
    /// The target acked our ping itself (in the direct phase or later).
    Direct,
    /// A helper relayed the target's ack (the indirect probe).
    Indirect,
}

/// A probe of this member that ended with an ack, told to [`Hooks::probe_completed`].
///
/// Only the protocol's own probes are reported: reconnect pings to dead members, acks relayed
/// for others and the pings of [`crate::Swim::ping`] are not probes of ours (a ping's outcome
/// is an [`crate::Event::PingCompleted`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeCompleted<'a, A> {
    /// The member probed.
    pub name: &'a str,
    /// Where it was probed.
    pub addr: &'a A,
    /// The round-trip time in the caller's time (the `now`s given to the core): for a direct
    /// ack, from the probe's start (when its ping was queued) to the ack; for a relayed one,
    /// from when the ping-reqs were queued to the relayed ack, so it includes the helper's two
    /// extra hops.
    pub rtt: core::time::Duration,
    /// Direct or through a helper.
    pub path: ProbePath,
    /// The target's [`Hooks::ack_payload`]; empty when it sent none, when this member does not
    /// advertise extended acks, and always for an indirect ack (helpers relay a plain ack).
    pub payload: &'a [u8],
}

/// A member as claimed by a peer, before the core stores it: what admission hooks judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate<'a, A> {
    /// The claimed name.
    pub name: &'a str,
    /// The claimed address.
    pub addr: &'a A,
    /// The claimed metadata.
    pub meta: &'a [u8],
    /// The claimed incarnation.
    pub incarnation: u32,
    /// The claimed state (always [`State::Alive`] in an alive message; any state in a merge).
    pub state: State,
}

/// An application's refusal, with a reason in words (sent to a refused joiner, at most
/// `limits.max_name_len` bytes of it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Refusal {
    /// Why, for the refused party and for logs.
    pub reason: String,
}

impl Refusal {
    /// A refusal saying `reason`.
    pub fn new(reason: impl Into<String>) -> Self {
        Refusal { reason: reason.into() }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// The decisions an application makes for the core. Every method has a default that keeps the
/// core's own behaviour; see the module docs for the memberlist equivalents.
pub trait Hooks<A>: Send {
    /// The application state to send in a push-pull (request or reply), at most
    /// `limits.max_app_state` bytes; a larger one is not sent (counted in
    /// `Stats::app_state_refused`). Default: none.
    fn local_state(&mut self, exchange: Exchange) -> Bytes {
        let _ = exchange;
        Bytes::new()
    }

    /// A peer's application state arrived with its push-pull (request or reply), after the
    /// member states in it were merged. Not called when the push-pull carried none.
    fn merge_remote_state(&mut self, from: &str, state: &[u8], exchange: Exchange) {
        let _ = (from, state, exchange);
    }

    /// A user broadcast this member has not seen before arrived: is it new to the application?
    /// Default: every broadcast is new.
    fn on_broadcast(&mut self, origin: &str, key: &[u8], payload: &[u8]) -> Verdict {
        let _ = (origin, key, payload);
        Verdict::New
    }

    /// A user broadcast left this member's piggyback queue (sent its full count, replaced, or
    /// dropped). Called for broadcasts originated here and for relayed ones.
    fn broadcast_finished(&mut self, broadcast: &FinishedBroadcast<'_>) {
        let _ = broadcast;
    }

    /// May this member, claimed alive by a peer and not held alive here, be admitted? A
    /// refused member is not stored and not gossiped (counted, and reported as an
    /// event). Default: admit.
    fn admit_member(&mut self, candidate: &Candidate<'_, A>) -> Result<(), Refusal> {
        let _ = candidate;
        Ok(())
    }

    /// May this push-pull state (from `from`, every member it holds) be merged? Called before
    /// any of it is applied; a refusal drops all of it, and a refused join request is answered
    /// with the refusal so the joiner learns why. Default: merge.
    fn admit_merge(&mut self, from: &str, members: &[Candidate<'_, A>], exchange: Exchange) -> Result<(), Refusal> {
        let _ = (from, members, exchange);
        Ok(())
    }

    /// The payload to put in an ack to a ping (memberlist's `AckPayload`), at most
    /// `limits.max_ack_payload` bytes; a larger one is not sent (counted in
    /// `Stats::ack_payloads_refused`). Only sent to members that advertise extended acks.
    /// Default: none.
    fn ack_payload(&mut self) -> Bytes {
        Bytes::new()
    }

    /// One of this member's probes ended with an ack (memberlist's `NotifyPingComplete`,
    /// which reports direct acks only): the target, its RTT, the path and its ack payload.
    /// Default: nothing.
    fn probe_completed(&mut self, probe: &ProbeCompleted<'_, A>) {
        let _ = probe;
    }

    /// May traffic from, or a member claimed at, `addr` be accepted? Applied to every
    /// datagram's and stream message's source and to the address in every alive claim and
    /// merged member state. Default: every address.
    fn allow_address(&mut self, addr: &A) -> bool {
        let _ = addr;
        true
    }
}

/// The hooks of a core with none installed: every default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoHooks;

impl<A> Hooks<A> for NoHooks {}

/// The installed hooks, boxed so that `Swim` keeps one type whatever the application.
pub(crate) struct Installed<A>(pub Box<dyn Hooks<A>>);

impl<A: 'static> Default for Installed<A> {
    fn default() -> Self {
        Installed(Box::new(NoHooks))
    }
}

impl<A> fmt::Debug for Installed<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hooks")
    }
}
