//! The message model. Messages borrow names and payloads from the input they were
//! decoded from, so decoding a steady-state datagram allocates nothing.

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::coordinates::Coordinate;
use crate::hooks::Exchange;
use crate::member::State;
use crate::versions::{Capabilities, Versions};

/// Every message members exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message<'a, A> {
    /// A direct probe. Answered with an [`Ack`] carrying the same sequence number.
    Ping(Ping<'a>),
    /// A direct probe from a member that wants an [`ExtendedAck`] (it advertises
    /// [`Capabilities::EXTENDED_ACK`]), sent only to members that advertise it too (older
    /// ones cannot read it). Answered with an extended ack when the target has an ack payload
    /// or a coordinate to send, else with a plain [`Ack`]. Same body as [`Ping`].
    ExtendedPing(Ping<'a>),
    /// Ask the receiver to probe `target` and relay its ack (SWIM's ping-req).
    PingReq(PingReq<'a, A>),
    /// The answer to a ping.
    Ack(Ack),
    /// The answer to a ping, with the target's ack payload and network coordinate: sent
    /// instead of an [`Ack`] to a member that advertises [`Capabilities::EXTENDED_ACK`], when
    /// there is something to carry.
    ExtendedAck(ExtendedAck<'a>),
    /// An indirect-probe helper's report that the target did not answer it (Lifeguard).
    Nack(Nack),
    /// "Member `name` is alive at `incarnation`, at `addr`, with `meta`."
    Alive(Alive<'a, A>),
    /// "`from` suspects member `name` at `incarnation`."
    Suspect(Suspect<'a>),
    /// "`from` declares member `name` dead at `incarnation`"; when `from == name`, it left.
    Dead(Dead<'a>),
    /// A full-state exchange (stream only).
    PushPull(PushPull<'a, A>),
    /// An application message to one member.
    User(UserMessage<'a>),
    /// An application broadcast, gossiped to every member.
    Broadcast(UserBroadcast<'a>),
    /// A seed's refusal of a join request (stream only), sent instead of the reply.
    JoinRefused(JoinRefused<'a>),
}

/// A direct probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping<'a> {
    /// Sequence number, echoed by the ack.
    pub seq: u32,
    /// The member the prober meant to reach; a member ignores pings meant for another name
    /// (an address reused after a restart).
    pub target: &'a str,
}

/// A ping-req: asks a helper to ping `target` for the requester and relay the ack (the
/// indirect step of a probe); the helper's state for it is a relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingReq<'a, A> {
    /// The requester's sequence number, echoed in the relayed ack or nack.
    pub seq: u32,
    /// The member to probe.
    pub target: &'a str,
    /// Where to probe it.
    pub target_addr: A,
    /// Whether the requester wants a nack if the target does not answer.
    pub nack: bool,
}

/// The answer to a ping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The ping's sequence number.
    pub seq: u32,
}

/// An ack with extensions. The payload and the coordinate are the acking member's own;
/// relayed acks never carry them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtendedAck<'a> {
    /// The ping's sequence number.
    pub seq: u32,
    /// The acking member's [`crate::hooks::Hooks::ack_payload`], at most
    /// `limits.max_ack_payload` bytes; empty for none.
    pub payload: &'a [u8],
    /// The acking member's network coordinate, if it has them on. Decoded as sent: the
    /// receiver checks it ([`Coordinate::check`]) before use.
    pub coordinate: Option<Coordinate>,
}

/// A helper's report that the target did not answer in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nack {
    /// The requester's sequence number.
    pub seq: u32,
}

/// A member announcing itself or refuting a suspicion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alive<'a, A> {
    /// The member's incarnation.
    pub incarnation: u32,
    /// The member's name.
    pub name: &'a str,
    /// The member's address.
    pub addr: A,
    /// The member's metadata.
    #[serde(with = "raw")]
    pub meta: &'a [u8],
    /// The protocol and application versions the member speaks.
    pub versions: Versions,
    /// The optional features the member accepts.
    pub capabilities: Capabilities,
}

/// A suspicion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspect<'a> {
    /// The incarnation suspected.
    pub incarnation: u32,
    /// The suspected member.
    pub name: &'a str,
    /// The accuser.
    pub from: &'a str,
}

/// A death notice, or a leave when `from == name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dead<'a> {
    /// The incarnation declared dead.
    pub incarnation: u32,
    /// The dead member.
    pub name: &'a str,
    /// Who declared it.
    pub from: &'a str,
}

/// Why a push-pull was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PushPullKind {
    /// A join through a seed.
    Join,
    /// The periodic anti-entropy exchange, or a reconnect attempt to a dead member.
    Periodic,
    /// The answer to a `Periodic` request; carries the answering member's state after it
    /// merged the request.
    Reply,
    /// The answer to a `Join` request, as [`Reply`](Self::Reply) is to a periodic one. The
    /// reply says which request it answers so that the application state hooks are told the
    /// right [`Exchange`] on both sides.
    JoinReply,
}

impl PushPullKind {
    /// The exchange this push-pull belongs to: a join request and its reply are
    /// [`Exchange::Join`], everything else [`Exchange::Periodic`].
    pub fn exchange(self) -> Exchange {
        match self {
            PushPullKind::Join | PushPullKind::JoinReply => Exchange::Join,
            PushPullKind::Periodic | PushPullKind::Reply => Exchange::Periodic,
        }
    }

    /// Whether this is a reply (to a join or a periodic request).
    pub fn is_reply(self) -> bool {
        matches!(self, PushPullKind::Reply | PushPullKind::JoinReply)
    }

    /// The kind of the reply to a request of this kind (a reply's own kind for a reply).
    pub fn reply(self) -> PushPullKind {
        match self {
            PushPullKind::Join | PushPullKind::JoinReply => PushPullKind::JoinReply,
            PushPullKind::Periodic | PushPullKind::Reply => PushPullKind::Reply,
        }
    }
}

/// A full-state exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushPull<'a, A> {
    /// Request or reply.
    pub kind: PushPullKind,
    /// Chosen by the requester, echoed by the reply.
    pub id: u32,
    /// The sender's name.
    pub from: &'a str,
    /// Where the sender receives streams (the reply goes there).
    pub from_addr: A,
    /// Every member the sender holds, itself included.
    pub members: Vec<MemberState<'a, A>>,
    /// The sender's application state ([`crate::hooks::Hooks::local_state`]), at most
    /// `limits.max_app_state` bytes; empty for none.
    pub state: &'a [u8],
}

/// One member in a push-pull.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberState<'a, A> {
    /// Name.
    pub name: &'a str,
    /// Address.
    pub addr: A,
    /// Metadata.
    #[serde(with = "raw")]
    pub meta: &'a [u8],
    /// Incarnation.
    pub incarnation: u32,
    /// State in the sender's view.
    pub state: State,
    /// The protocol and application versions the member speaks (as its alive record said).
    pub versions: Versions,
    /// The optional features the member accepts (as its alive record said).
    pub capabilities: Capabilities,
}

/// An application message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMessage<'a> {
    /// The sender's name.
    pub from: &'a str,
    /// The payload.
    #[serde(with = "raw")]
    pub payload: &'a [u8],
}

/// An application broadcast.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserBroadcast<'a> {
    /// The member that broadcast it.
    pub origin: &'a str,
    /// Unique per origin; with `origin`, identifies the broadcast for duplicate suppression.
    pub id: u64,
    /// Invalidation key, global to the cluster: a newer broadcast with the same non-empty key,
    /// from any origin, replaces this one in every user piggyback queue it still waits in.
    /// Empty for none.
    #[serde(with = "raw")]
    pub key: &'a [u8],
    /// The payload.
    #[serde(with = "raw")]
    pub payload: &'a [u8],
}

/// A seed's refusal of a join request: its admission hook
/// ([`crate::hooks::Hooks::admit_merge`]) refused the joiner's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRefused<'a> {
    /// The id of the refused `Join` request.
    pub id: u32,
    /// The refusing member's name.
    pub from: &'a str,
    /// Why, in words: at most `limits.max_name_len` bytes (a longer reason is cut at a
    /// character boundary when sent); may be empty.
    pub reason: &'a str,
}

/// Byte strings as length-prefixed raw bytes, borrowed on decode.
pub(crate) mod raw {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &&[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<&'a [u8], D::Error> {
        <&'a [u8]>::deserialize(d)
    }
}
