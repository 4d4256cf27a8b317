//! What the core hands its driver: transmits and their kinds, user-message ids, and the
//! memory estimate; and the queued form of a transmit before it is encoded.

use alloc::boxed::Box;
use alloc::vec::Vec;

use bytes::Bytes;

use crate::config::Limits;
use crate::coordinates::Coordinate;
use crate::hooks::Refusal;
use crate::member::{Address, Member, Name};
use crate::membership::Membership;
use crate::push_pull::snapshot;
use crate::versions::Peer;
use crate::wire::{self, Codec, Message, PushPullKind};

/// A codec bound to one protocol version, so the encoding below reads as before.
struct Versioned<'c, C> {
    codec: &'c C,
    version: u8,
}

impl<C> Versioned<'_, C> {
    fn encode<A>(&self, msg: &Message<'_, A>, buf: &mut Vec<u8>)
    where
        C: Codec<A>,
    {
        self.codec.encode_versioned(self.version, msg, buf);
    }
}

/// How a transmit must travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransmitKind {
    /// One unreliable datagram (UDP). At most `packet_budget` bytes.
    Datagram,
    /// One message on a reliable stream (TCP), framed with [`crate::wire::frame`]. At most
    /// `limits.max_stream_message_size` bytes. If it cannot be delivered, tell the core with
    /// [`Swim::handle_stream_failed`](crate::Swim::handle_stream_failed).
    Stream,
}

/// Something to send, returned by [`Swim::poll_transmit`](crate::Swim::poll_transmit); its bytes are in the caller's buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit<A> {
    /// Where to send it.
    pub destination: A,
    /// Datagram or stream.
    pub kind: TransmitKind,
    /// Bytes written to the buffer.
    pub len: usize,
    /// The user message this transmit carries, as returned by
    /// [`Swim::send_user_message`](crate::Swim::send_user_message); `None` for protocol traffic. A driver that reports the
    /// outcome of a reliable send pairs it by this id.
    pub message: Option<MessageId>,
    /// Which connection a stream transmit uses. Always [`StreamRole::OneWay`] for datagrams
    /// and in swim's own wire profile; the memberlist profile answers on the connection a
    /// request came on and reads replies on the connection it opened (see [`StreamRole`]).
    pub stream: StreamRole,
}

/// How a stream transmit uses a connection.
///
/// swim's own profile opens one connection per message ([`OneWay`](Self::OneWay)); Go
/// memberlist answers a push-pull or a TCP ping on the connection it came on, so the
/// memberlist profile also needs the other two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamRole {
    /// Open a connection to the destination, write the bytes, close it.
    OneWay,
    /// Write the bytes on the inbound connection the driver named with this id when it called
    /// [`Swim::handle_stream_on`](crate::Swim::handle_stream_on), then close it. If that
    /// connection is gone, drop the bytes.
    Reply(ConnectionId),
    /// Open a connection to the destination, write the bytes, then read one message back
    /// (see [`Swim::stream_framing`](crate::Swim::stream_framing)) and hand it to
    /// [`Swim::handle_stream_reply`](crate::Swim::handle_stream_reply) with this id; if none
    /// comes within the driver's I/O timeout, call
    /// [`Swim::handle_stream_failed`](crate::Swim::handle_stream_failed).
    Request(RequestId),
}

/// The driver's name for an inbound connection, unique among its open connections; given to
/// [`Swim::handle_stream_on`](crate::Swim::handle_stream_on) and returned in
/// [`StreamRole::Reply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// The core's name for a request whose reply comes on the same connection
/// ([`StreamRole::Request`]). Ids count up from 0 per member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Identifies one user message from [`Swim::send_user_message`](crate::Swim::send_user_message) to the [`Transmit`] that
/// carries it. Ids count up from 0 per member and never repeat within 2^64 messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub u64);

/// Identifies one user broadcast: returned by [`Swim::broadcast`](crate::Swim::broadcast) at
/// its origin and told to [`Hooks::broadcast_finished`](crate::hooks::Hooks::broadcast_finished).
/// Ids count up from 0 per origin; with the origin's name they identify a broadcast in the
/// cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BroadcastId(pub u64);

/// Approximate heap use of one core, by part; see [`Swim::memory_usage`](crate::Swim::memory_usage).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryUsage {
    /// The member table: records, index, names, metadata, suspicion timers.
    pub member_table: usize,
    /// Both piggyback queues and the duplicate-broadcast memory.
    pub queues: usize,
    /// Transmits and events waiting to be polled, relays, timers.
    pub other: usize,
}

impl MemoryUsage {
    /// All parts together.
    pub fn total(&self) -> usize {
        self.member_table + self.queues + self.other
    }
}

/// A transmit waiting in the core's queue; encoded (with fresh piggybacked gossip) only when
/// polled. A ping with `extended` set goes as an extended ping (the target reads it and this
/// member wants extended acks).
#[derive(Clone, Debug)]
pub(crate) enum Out<A> {
    Ping {
        seq: u32,
        target: Name,
        buddy: Option<u32>,
        extended: bool,
    },
    PingReq {
        seq: u32,
        target: Name,
        target_addr: A,
        nack: bool,
    },
    Ack {
        seq: u32,
    },
    ExtendedAck {
        seq: u32,
        payload: Bytes,
        coordinate: Option<Box<Coordinate>>,
    },
    Nack {
        seq: u32,
    },
    Gossip,
    Leave {
        incarnation: u32,
    },
    PushPull {
        kind: PushPullKind,
        id: u32,
    },
    JoinRefused {
        id: u32,
        reason: Refusal,
    },
    User {
        payload: Bytes,
        reliable: bool,
        id: MessageId,
    },
    /// memberlist's TCP fallback ping to a probe target (memberlist profile only).
    TcpPing {
        seq: u32,
        target: Name,
    },
}

/// How a queued transmit goes: its envelope's protocol version (see [`crate::versions`]) and
/// whether a stream message may be compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Route {
    pub version: u8,
    pub compress: bool,
}

/// A queued transmit, its destination and its route.
#[derive(Clone, Debug)]
pub(crate) struct Outgoing<A> {
    pub to: A,
    pub body: Out<A>,
    pub route: Route,
}

impl<A> Outgoing<A> {
    /// How it travels: push-pulls, join refusals and reliable user messages over the stream.
    pub fn kind(&self) -> TransmitKind {
        match self.body {
            Out::PushPull { .. } | Out::JoinRefused { .. } | Out::User { reliable: true, .. } | Out::TcpPing { .. } => {
                TransmitKind::Stream
            }
            _ => TransmitKind::Datagram,
        }
    }
}

impl<A: Address> Out<A> {
    /// Append this transmit's messages to `buf` with `codec` at protocol `version`, as sent by
    /// `local` speaking `local_peer` (a push-pull carries a snapshot of `members` and the
    /// application `state`). Piggybacked gossip is added by the caller.
    #[allow(clippy::too_many_arguments)] // each is a distinct input of the encoding
    pub fn encode<C: Codec<A>>(
        self,
        codec: &C,
        version: u8,
        local: &Member<A>,
        local_peer: Peer,
        members: &Membership<A>,
        limits: &Limits,
        state: &[u8],
        buf: &mut Vec<u8>,
    ) {
        let codec = Versioned { codec, version };
        match self {
            Out::Ping { seq, target, buddy, extended } => {
                // The buddy system: a ping to a member we suspect carries the suspicion.
                if let Some(incarnation) = buddy {
                    let from = &local.name;
                    codec.encode(&Message::Suspect(wire::Suspect { incarnation, name: &target, from }), buf);
                }
                let ping = wire::Ping { seq, target: &target };
                codec.encode(&if extended { Message::ExtendedPing(ping) } else { Message::Ping(ping) }, buf);
            }
            Out::PingReq { seq, target, target_addr, nack } => {
                codec.encode(&Message::PingReq(wire::PingReq { seq, target: &target, target_addr, nack }), buf);
            }
            Out::Ack { seq } => codec.encode(&Message::Ack(wire::Ack { seq }), buf),
            Out::ExtendedAck { seq, payload, coordinate } => {
                let coordinate = coordinate.as_deref().copied();
                codec.encode(&Message::ExtendedAck(wire::ExtendedAck { seq, payload: &payload, coordinate }), buf)
            }
            Out::Nack { seq } => codec.encode(&Message::Nack(wire::Nack { seq }), buf),
            Out::Gossip => {}
            // The local member's leave notice, sent directly; piggyback fills the rest.
            Out::Leave { incarnation } => {
                let name = &local.name;
                codec.encode(&Message::Dead(wire::Dead { incarnation, name, from: name }), buf);
            }
            Out::PushPull { kind, id } => {
                codec.encode(&snapshot(local, local_peer, members, limits, kind, id, state), buf)
            }
            Out::JoinRefused { id, reason } => {
                let reason = cut(&reason.reason, limits.max_name_len);
                codec.encode(&Message::JoinRefused(wire::JoinRefused { id, from: &local.name, reason }), buf);
            }
            Out::User { payload, .. } => {
                codec.encode(&Message::User(wire::UserMessage { from: &local.name, payload: &payload }), buf);
            }
            Out::TcpPing { seq, target } => codec.encode(&Message::Ping(wire::Ping { seq, target: &target }), buf),
        }
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    #[test]
    fn reasons_are_cut_at_a_character_boundary() {
        assert_eq!(super::cut("abc", 8), "abc");
        assert_eq!(super::cut("abc", 2), "ab");
        assert_eq!(super::cut("é1", 1), "");
        assert_eq!(super::cut("aé", 2), "a");
    }
}
