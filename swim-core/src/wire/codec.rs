//! Turning messages into bytes and back.
//!
//! [`PostcardCodec`] lays out the body of a packet (inside the
//! [`envelope`](super::envelope), which carries the version, label and encryption) as
//!
//! ```text
//! messages := message+
//! message  := tag:u8 length:varint body[length]
//! body     := postcard encoding of the message struct
//! ```
//!
//! The per-message length lets a receiver check every body ends exactly where
//! its header says. A datagram packs as many messages as fit in the packet
//! budget (the first is the datagram's purpose, the rest piggybacked gossip); a
//! stream message is one packet. Tags follow memberlist's numbering where a
//! message exists in both.

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::message::*;
use crate::coordinates::{Coordinate, MAX_DIMENSIONS};
use crate::error::DecodeError;
use crate::member::Address;

/// Message tags of [`PostcardCodec`].
pub mod tag {
    /// [`super::Ping`]
    pub const PING: u8 = 0;
    /// [`super::PingReq`]
    pub const PING_REQ: u8 = 1;
    /// [`super::Ack`]
    pub const ACK: u8 = 2;
    /// [`super::Suspect`]
    pub const SUSPECT: u8 = 3;
    /// [`super::Alive`]
    pub const ALIVE: u8 = 4;
    /// [`super::Dead`]
    pub const DEAD: u8 = 5;
    /// [`super::PushPull`]
    pub const PUSH_PULL: u8 = 6;
    /// [`super::UserMessage`]
    pub const USER: u8 = 8;
    /// [`super::Nack`]
    pub const NACK: u8 = 11;
    /// [`super::JoinRefused`] (memberlist's number for its error response)
    pub const JOIN_REFUSED: u8 = 13;
    /// [`super::UserBroadcast`]
    pub const BROADCAST: u8 = 14;
    /// [`super::ExtendedAck`]
    pub const EXTENDED_ACK: u8 = 15;
    /// [`super::Message::ExtendedPing`] (a [`super::Ping`] body)
    pub const EXTENDED_PING: u8 = 16;
}

/// Limits a decoder enforces on fields, so that nothing oversized reaches the state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Longest name (and broadcast key, and join refusal reason), in bytes.
    pub max_name_len: usize,
    /// Longest metadata, in bytes.
    pub max_meta: usize,
    /// Longest user message payload, in bytes.
    pub max_user_message: usize,
    /// Longest user broadcast payload, in bytes.
    pub max_broadcast: usize,
    /// Most members in one push-pull (the sender's table plus the sender).
    pub max_members: usize,
    /// Longest application state in one push-pull, in bytes.
    pub max_app_state: usize,
    /// Longest ack payload ([`ExtendedAck::payload`]), in bytes.
    pub max_ack_payload: usize,
}

impl DecodeLimits {
    /// The limits a core built with `config` enforces.
    pub fn from_config(config: &crate::Config) -> Self {
        DecodeLimits {
            max_name_len: config.limits.max_name_len,
            max_meta: config.max_metadata_size,
            max_user_message: config.limits.max_user_message_size,
            max_broadcast: config.limits.max_user_broadcast_size,
            // The sender's own entry comes on top of its table.
            max_members: config.limits.max_members + 1,
            max_app_state: config.limits.max_app_state,
            max_ack_payload: config.limits.max_ack_payload,
        }
    }
}

/// An encoding of the message model.
///
/// A codec is stateless (cloned freely) and deterministic. `decode` must validate the whole
/// input before it returns `Ok`; the state machine decodes once to validate and again to apply,
/// so that rejected input changes nothing.
pub trait Codec<A>: Clone {
    /// Append one message to the packet in `out`.
    fn encode(&self, msg: &Message<'_, A>, out: &mut Vec<u8>);
    /// Decode every message of a packet body, in order, handing each to `visit`; return how many.
    /// Fails, having called `visit` for the messages before the fault, on malformed input.
    fn decode<'a>(
        &self,
        input: &'a [u8],
        limits: &DecodeLimits,
        visit: &mut dyn FnMut(Message<'a, A>),
    ) -> Result<usize, DecodeError>;

    /// [`encode`](Self::encode) for a packet sent at protocol `version` (negotiated with its
    /// destination, see [`crate::versions`]). The core calls this one for the first messages of
    /// every packet; piggybacked gossip is encoded once, with [`encode`](Self::encode), for
    /// every version. A codec whose body format changes with the version overrides it. Default:
    /// the same bytes for every version.
    fn encode_versioned(&self, version: u8, msg: &Message<'_, A>, out: &mut Vec<u8>) {
        let _ = version;
        self.encode(msg, out);
    }

    /// [`decode`](Self::decode) for a packet whose envelope says protocol `version` (one the
    /// receiver reads). The core calls this one. Default: the same format for every version.
    fn decode_versioned<'a>(
        &self,
        version: u8,
        input: &'a [u8],
        limits: &DecodeLimits,
        visit: &mut dyn FnMut(Message<'a, A>),
    ) -> Result<usize, DecodeError> {
        let _ = version;
        self.decode(input, limits, visit)
    }
}

/// swim's own codec; see the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct PostcardCodec;

/// Serialises into a caller's `Vec` without an intermediate buffer.
struct VecFlavor<'v>(&'v mut Vec<u8>);

impl postcard::ser_flavors::Flavor for VecFlavor<'_> {
    type Output = ();
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }
    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

fn ser<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    // VecFlavor never fails and every message type serialises without maps or unsized
    // sequences, postcard's only other failure causes; a failure would leave a short body,
    // which the peer rejects as malformed rather than misreading.
    let r = postcard::serialize_with_flavor(value, VecFlavor(out));
    debug_assert!(r.is_ok());
}

/// The head of a push-pull body; `count` member states follow.
#[derive(Serialize, Deserialize)]
struct PushPullHead<'a, A> {
    kind: PushPullKind,
    id: u32,
    from: &'a str,
    from_addr: A,
    count: u32,
}

/// The head of an extended ack's body; its coordinate follows (see [`write_coordinate`]).
#[derive(Serialize, Deserialize)]
struct ExtendedAckHead<'a> {
    seq: u32,
    #[serde(with = "super::message::raw")]
    payload: &'a [u8],
}

/// An optional coordinate: one byte of dimensions `d` (0 for none, at most
/// [`MAX_DIMENSIONS`]), then `d + 3` little-endian IEEE 754 doubles: the components, the
/// error, the adjustment and the height. The body ends there.
fn write_coordinate(c: Option<&Coordinate>, out: &mut Vec<u8>) {
    let Some(c) = c else {
        out.push(0);
        return;
    };
    out.push(c.dimensions() as u8);
    for v in c.vec().iter().chain([c.error(), c.adjustment(), c.height()].iter()) {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// The inverse of [`write_coordinate`], which must take all of `input`. Values are not
/// checked here (the core checks and counts them, keeping the ack).
fn read_coordinate(input: &[u8]) -> Result<Option<Coordinate>, DecodeError> {
    let (&d, rest) = input.split_first().ok_or(DecodeError::Truncated)?;
    let d = usize::from(d);
    if d == 0 {
        return if rest.is_empty() { Ok(None) } else { Err(DecodeError::TrailingBytes) };
    }
    if d > MAX_DIMENSIONS {
        return Err(DecodeError::Malformed);
    }
    let n = (d + 3) * 8;
    if rest.len() < n {
        return Err(DecodeError::Truncated);
    }
    if rest.len() > n {
        return Err(DecodeError::TrailingBytes);
    }
    let mut values = [0.0; MAX_DIMENSIONS + 3];
    for (v, chunk) in values.iter_mut().zip(rest.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *v = f64::from_le_bytes(b);
    }
    Ok(Some(Coordinate::from_raw(&values[..d], values[d], values[d + 1], values[d + 2])))
}

/// The tail of a push-pull body, after its member states: the application state.
#[derive(Serialize, Deserialize)]
struct AppState<'a>(#[serde(with = "super::message::raw")] &'a [u8]);

/// The fewest bytes one encoded [`MemberState`] can take: name length and one byte of name,
/// at least one byte of address, metadata length, incarnation, state, six version bytes and
/// the capabilities.
const MIN_MEMBER_STATE: usize = 13;

/// Write `v` as a LEB128 varint into `buf`; returns its length.
pub(crate) fn write_varint(mut v: u32, buf: &mut [u8; 5]) -> usize {
    let mut i = 0;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            buf[i] = byte;
            return i + 1;
        }
        buf[i] = byte | 0x80;
        i += 1;
    }
}

/// Read a LEB128 varint of at most 32 bits from the front of `input`; returns it and the rest.
pub(crate) fn read_varint(input: &[u8]) -> Result<(usize, &[u8]), DecodeError> {
    let mut v: u64 = 0;
    for (i, &b) in input.iter().enumerate().take(5) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if v > u64::from(u32::MAX) {
                return Err(DecodeError::BadLength);
            }
            return Ok((v as usize, &input[i + 1..]));
        }
    }
    if input.len() < 5 { Err(DecodeError::Truncated) } else { Err(DecodeError::BadLength) }
}

fn map_postcard(e: postcard::Error) -> DecodeError {
    match e {
        postcard::Error::DeserializeUnexpectedEnd => DecodeError::Truncated,
        _ => DecodeError::Malformed,
    }
}

fn take<'a, T: Deserialize<'a>>(input: &'a [u8]) -> Result<(T, &'a [u8]), DecodeError> {
    postcard::take_from_bytes(input).map_err(map_postcard)
}

fn exact<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    let (v, rest) = take(body)?;
    if rest.is_empty() { Ok(v) } else { Err(DecodeError::TrailingBytes) }
}

fn name(s: &str, l: &DecodeLimits) -> Result<(), DecodeError> {
    if s.is_empty() || s.len() > l.max_name_len { Err(DecodeError::NameTooLong) } else { Ok(()) }
}

fn meta(m: &[u8], l: &DecodeLimits) -> Result<(), DecodeError> {
    if m.len() > l.max_meta { Err(DecodeError::MetadataTooLarge) } else { Ok(()) }
}

fn tag_of<A>(msg: &Message<'_, A>) -> u8 {
    match msg {
        Message::Ping(_) => tag::PING,
        Message::ExtendedPing(_) => tag::EXTENDED_PING,
        Message::PingReq(_) => tag::PING_REQ,
        Message::Ack(_) => tag::ACK,
        Message::ExtendedAck(_) => tag::EXTENDED_ACK,
        Message::Nack(_) => tag::NACK,
        Message::Alive(_) => tag::ALIVE,
        Message::Suspect(_) => tag::SUSPECT,
        Message::Dead(_) => tag::DEAD,
        Message::PushPull(_) => tag::PUSH_PULL,
        Message::User(_) => tag::USER,
        Message::Broadcast(_) => tag::BROADCAST,
        Message::JoinRefused(_) => tag::JOIN_REFUSED,
    }
}

fn decode_body<'a, A: Address>(t: u8, body: &'a [u8], l: &DecodeLimits) -> Result<Message<'a, A>, DecodeError> {
    Ok(match t {
        tag::PING | tag::EXTENDED_PING => {
            let p: Ping = exact(body)?;
            // An empty target is a ping to whoever is at the address (`Swim::ping_addr`).
            if !p.target.is_empty() {
                name(p.target, l)?;
            }
            if t == tag::PING { Message::Ping(p) } else { Message::ExtendedPing(p) }
        }
        tag::PING_REQ => {
            let p: PingReq<A> = exact(body)?;
            name(p.target, l)?;
            Message::PingReq(p)
        }
        tag::ACK => Message::Ack(exact(body)?),
        tag::NACK => Message::Nack(exact(body)?),
        tag::EXTENDED_ACK => {
            let (head, rest): (ExtendedAckHead, _) = take(body)?;
            if head.payload.len() > l.max_ack_payload {
                return Err(DecodeError::PayloadTooLarge);
            }
            let coordinate = read_coordinate(rest)?;
            Message::ExtendedAck(ExtendedAck { seq: head.seq, payload: head.payload, coordinate })
        }
        tag::ALIVE => {
            let a: Alive<A> = exact(body)?;
            name(a.name, l)?;
            meta(a.meta, l)?;
            Message::Alive(a)
        }
        tag::SUSPECT => {
            let s: Suspect = exact(body)?;
            name(s.name, l)?;
            name(s.from, l)?;
            Message::Suspect(s)
        }
        tag::DEAD => {
            let d: Dead = exact(body)?;
            name(d.name, l)?;
            name(d.from, l)?;
            Message::Dead(d)
        }
        tag::PUSH_PULL => {
            let (head, mut rest): (PushPullHead<A>, _) = take(body)?;
            name(head.from, l)?;
            let count = head.count as usize;
            if count > l.max_members {
                return Err(DecodeError::TooManyMembers);
            }
            if count.saturating_mul(MIN_MEMBER_STATE) > rest.len() {
                return Err(DecodeError::BadLength);
            }
            let mut members = Vec::with_capacity(count);
            for _ in 0..count {
                let (m, r): (MemberState<A>, _) = take(rest)?;
                name(m.name, l)?;
                meta(m.meta, l)?;
                members.push(m);
                rest = r;
            }
            let (AppState(state), rest) = take(rest)?;
            if state.len() > l.max_app_state {
                return Err(DecodeError::AppStateTooLarge);
            }
            if !rest.is_empty() {
                return Err(DecodeError::TrailingBytes);
            }
            Message::PushPull(PushPull {
                kind: head.kind,
                id: head.id,
                from: head.from,
                from_addr: head.from_addr,
                members,
                state,
            })
        }
        tag::USER => {
            let u: UserMessage = exact(body)?;
            name(u.from, l)?;
            if u.payload.len() > l.max_user_message {
                return Err(DecodeError::PayloadTooLarge);
            }
            Message::User(u)
        }
        tag::BROADCAST => {
            let b: UserBroadcast = exact(body)?;
            name(b.origin, l)?;
            if b.key.len() > l.max_name_len || b.payload.len() > l.max_broadcast {
                return Err(DecodeError::PayloadTooLarge);
            }
            Message::Broadcast(b)
        }
        tag::JOIN_REFUSED => {
            let r: JoinRefused = exact(body)?;
            name(r.from, l)?;
            if r.reason.len() > l.max_name_len {
                return Err(DecodeError::PayloadTooLarge);
            }
            Message::JoinRefused(r)
        }
        _ => return Err(DecodeError::UnknownMessage),
    })
}

impl<A: Address> Codec<A> for PostcardCodec {
    fn encode(&self, msg: &Message<'_, A>, out: &mut Vec<u8>) {
        out.push(tag_of(msg));
        let len_pos = out.len();
        out.push(0);
        let body_start = out.len();
        match msg {
            Message::Ping(m) | Message::ExtendedPing(m) => ser(m, out),
            Message::PingReq(m) => ser(m, out),
            Message::Ack(m) => ser(m, out),
            Message::ExtendedAck(m) => {
                ser(&ExtendedAckHead { seq: m.seq, payload: m.payload }, out);
                write_coordinate(m.coordinate.as_ref(), out);
            }
            Message::Nack(m) => ser(m, out),
            Message::Alive(m) => ser(m, out),
            Message::Suspect(m) => ser(m, out),
            Message::Dead(m) => ser(m, out),
            Message::PushPull(p) => {
                let head = PushPullHead {
                    kind: p.kind,
                    id: p.id,
                    from: p.from,
                    from_addr: &p.from_addr,
                    count: p.members.len() as u32,
                };
                ser(&head, out);
                for m in &p.members {
                    ser(m, out);
                }
                ser(&AppState(p.state), out);
            }
            Message::User(m) => ser(m, out),
            Message::Broadcast(m) => ser(m, out),
            Message::JoinRefused(m) => ser(m, out),
        }
        let body_len = out.len() - body_start;
        let mut v = [0u8; 5];
        let n = write_varint(body_len as u32, &mut v);
        if n > 1 {
            out.resize(out.len() + n - 1, 0);
            out.copy_within(body_start..body_start + body_len, body_start + n - 1);
        }
        out[len_pos..len_pos + n].copy_from_slice(&v[..n]);
    }

    fn decode<'a>(
        &self,
        input: &'a [u8],
        limits: &DecodeLimits,
        visit: &mut dyn FnMut(Message<'a, A>),
    ) -> Result<usize, DecodeError> {
        if input.is_empty() {
            return Err(DecodeError::Empty);
        }
        let mut rest = input;
        let mut count = 0;
        while let Some((&t, r)) = rest.split_first() {
            let (len, r) = read_varint(r)?;
            if len > r.len() {
                return Err(DecodeError::BadLength);
            }
            let (body, r) = r.split_at(len);
            rest = r;
            visit(decode_body(t, body, limits)?);
            count += 1;
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinates::Coordinate;
    use crate::member::State;
    use crate::versions::{Capabilities, VersionRange, Versions};
    use alloc::vec;

    const L: DecodeLimits = DecodeLimits {
        max_name_len: 64,
        max_meta: 512,
        max_user_message: 4096,
        max_broadcast: 1024,
        max_members: 1000,
        max_app_state: 2048,
        max_ack_payload: 64,
    };

    fn roundtrip(msg: Message<'_, u32>) {
        let mut out = Vec::new();
        <PostcardCodec as Codec<u32>>::encode(&PostcardCodec, &msg, &mut out);
        let mut got = Vec::new();
        let n = PostcardCodec.decode(&out, &L, &mut |m| got.push(m)).unwrap();
        assert_eq!(n, 1);
        assert_eq!(got, vec![msg]);
    }

    #[test]
    fn every_message_roundtrips() {
        roundtrip(Message::Ping(Ping { seq: 7, target: "b" }));
        roundtrip(Message::PingReq(PingReq { seq: 1, target: "c", target_addr: 9, nack: true }));
        roundtrip(Message::Ack(Ack { seq: u32::MAX }));
        roundtrip(Message::ExtendedPing(Ping { seq: 8, target: "b" }));
        roundtrip(Message::Ping(Ping { seq: 9, target: "" }));
        roundtrip(Message::ExtendedAck(ExtendedAck { seq: 3, payload: b"rack-7", coordinate: None }));
        let c = Coordinate::from_parts(&[0.001, -0.25, 3.0], 0.4, -0.0001, 0.00002).unwrap();
        roundtrip(Message::ExtendedAck(ExtendedAck { seq: 4, payload: b"", coordinate: Some(c) }));
        // Decoded as sent, NaN included: the core checks coordinates, not the codec.
        let nan = Coordinate::from_raw(&[f64::NAN; 8], f64::INFINITY, 0.0, -1.0);
        roundtrip(Message::ExtendedAck(ExtendedAck { seq: 5, payload: &[0; 64], coordinate: Some(nan) }));
        roundtrip(Message::Nack(Nack { seq: 0 }));
        let versions = Versions { protocol: VersionRange::new(1, 3, 2), application: VersionRange::only(7) };
        let capabilities = Capabilities(1);
        roundtrip(Message::Alive(Alive {
            incarnation: 3,
            name: "a",
            addr: 1,
            meta: b"role=db",
            versions,
            capabilities,
        }));
        roundtrip(Message::Suspect(Suspect { incarnation: 3, name: "a", from: "b" }));
        roundtrip(Message::Dead(Dead { incarnation: 3, name: "a", from: "a" }));
        let big = vec![7u8; 300];
        roundtrip(Message::User(UserMessage { from: "a", payload: &big }));
        roundtrip(Message::Broadcast(UserBroadcast { origin: "a", id: 5, key: b"k", payload: b"hello" }));
        roundtrip(Message::PushPull(PushPull {
            kind: PushPullKind::Join,
            id: 2,
            from: "a",
            from_addr: 1,
            members: vec![
                MemberState {
                    name: "a",
                    addr: 1,
                    meta: b"",
                    incarnation: 0,
                    state: State::Alive,
                    versions,
                    capabilities,
                },
                MemberState {
                    name: "b",
                    addr: 2,
                    meta: b"x",
                    incarnation: 9,
                    state: State::Left,
                    versions: Versions::DEFAULT,
                    capabilities: Capabilities::NONE,
                },
            ],
            state: b"",
        }));
        let app = vec![3u8; 2048];
        roundtrip(Message::PushPull(PushPull {
            kind: PushPullKind::JoinReply,
            id: 3,
            from: "b",
            from_addr: 2,
            members: vec![MemberState {
                name: "b",
                addr: 2,
                meta: b"",
                incarnation: 1,
                state: State::Alive,
                versions: crate::Versions::DEFAULT,
                capabilities: crate::Capabilities::NONE,
            }],
            state: &app,
        }));
        roundtrip(Message::JoinRefused(JoinRefused { id: 4, from: "b", reason: "wrong datacenter" }));
        roundtrip(Message::JoinRefused(JoinRefused { id: 4, from: "b", reason: "" }));
    }

    #[test]
    fn app_state_and_refusal_reasons_are_bounded() {
        let c = PostcardCodec;
        let mut out = Vec::new();
        let app = vec![0u8; 2049];
        let pp = PushPull {
            kind: PushPullKind::Periodic,
            id: 1,
            from: "a",
            from_addr: 1u32,
            members: vec![MemberState {
                name: "a",
                addr: 1,
                meta: b"",
                incarnation: 0,
                state: State::Alive,
                versions: crate::Versions::DEFAULT,
                capabilities: crate::Capabilities::NONE,
            }],
            state: &app,
        };
        Codec::<u32>::encode(&c, &Message::PushPull(pp.clone()), &mut out);
        assert_eq!(Codec::<u32>::decode(&c, &out, &L, &mut |_| {}), Err(DecodeError::AppStateTooLarge));
        // A push-pull cut before its state (the member states alone) is truncated, not accepted.
        out.clear();
        Codec::<u32>::encode(&c, &Message::PushPull(PushPull { state: b"", ..pp }), &mut out);
        let cut = out.len() - 1;
        let mut short = out[..cut].to_vec();
        short[1] -= 1;
        assert_eq!(Codec::<u32>::decode(&c, &short, &L, &mut |_| {}), Err(DecodeError::Truncated));
        out.clear();
        let long = "x".repeat(65);
        Codec::<u32>::encode(&c, &Message::JoinRefused(JoinRefused { id: 1, from: "a", reason: &long }), &mut out);
        assert_eq!(Codec::<u32>::decode(&c, &out, &L, &mut |_| {}), Err(DecodeError::PayloadTooLarge));
    }

    #[test]
    fn several_messages_in_one_packet() {
        let mut out = Vec::new();
        let c = PostcardCodec;
        Codec::<u32>::encode(&c, &Message::Ping(Ping { seq: 1, target: "x" }), &mut out);
        Codec::<u32>::encode(&c, &Message::Suspect(Suspect { incarnation: 1, name: "y", from: "z" }), &mut out);
        let n = Codec::<u32>::decode(&c, &out, &L, &mut |_| {}).unwrap();
        assert_eq!(n, 2);
    }

    #[test]
    fn rejects_bad_envelopes() {
        let c = PostcardCodec;
        let d = |b: &[u8]| Codec::<u32>::decode(&c, b, &L, &mut |_| {});
        assert_eq!(d(&[]), Err(DecodeError::Empty));
        assert_eq!(d(&[200, 0]), Err(DecodeError::UnknownMessage));
        assert_eq!(d(&[tag::ACK]), Err(DecodeError::Truncated));
        assert_eq!(d(&[tag::ACK, 5, 1]), Err(DecodeError::BadLength));
        assert_eq!(d(&[tag::ACK, 2, 1, 0]), Err(DecodeError::TrailingBytes));
        assert_eq!(d(&[tag::ACK, 0]), Err(DecodeError::Truncated));
        assert_eq!(d(&[tag::ACK, 0xff, 0xff, 0xff, 0xff, 0x7f]), Err(DecodeError::BadLength));
        // Invalid UTF-8 in a name.
        assert_eq!(d(&[tag::PING, 3, 1, 1, 0xff]), Err(DecodeError::Malformed));
        // Empty name (target of a ping-req).
        assert_eq!(d(&[tag::PING_REQ, 4, 1, 0, 0, 0]), Err(DecodeError::NameTooLong));
        // A ping's target may be empty: a ping to whoever listens (`Swim::ping_addr`).
        assert_eq!(d(&[tag::PING, 2, 1, 0]), Ok(1));
        // Extended acks: a payload over the limit, a coordinate of too many dimensions, one cut
        // short, and bytes after it.
        assert_eq!(d(&[tag::EXTENDED_ACK, 3, 1, 65, 0]), Err(DecodeError::Truncated));
        let mut big = vec![tag::EXTENDED_ACK, 68, 1, 65];
        big.extend_from_slice(&[0; 66]);
        assert_eq!(d(&big), Err(DecodeError::PayloadTooLarge));
        assert_eq!(d(&[tag::EXTENDED_ACK, 3, 1, 0, 9]), Err(DecodeError::Malformed));
        assert_eq!(d(&[tag::EXTENDED_ACK, 4, 1, 0, 1, 0]), Err(DecodeError::Truncated));
        assert_eq!(d(&[tag::EXTENDED_ACK, 2, 1, 0]), Err(DecodeError::Truncated));
        assert_eq!(d(&[tag::EXTENDED_ACK, 4, 1, 0, 0, 7]), Err(DecodeError::TrailingBytes));
        assert_eq!(d(&[tag::EXTENDED_ACK, 3, 1, 0, 0]), Ok(1));
    }

    #[test]
    fn push_pull_count_must_be_backed_by_bytes() {
        // Head claims 1000 members with no bytes behind it: rejected before allocating.
        let mut body = Vec::new();
        ser(&PushPullHead { kind: PushPullKind::Periodic, id: 0, from: "a", from_addr: 1u32, count: 1000 }, &mut body);
        let mut pkt = vec![tag::PUSH_PULL, body.len() as u8];
        pkt.extend_from_slice(&body);
        assert_eq!(Codec::<u32>::decode(&PostcardCodec, &pkt, &L, &mut |_| {}), Err(DecodeError::BadLength));
        let mut body = Vec::new();
        ser(&PushPullHead { kind: PushPullKind::Periodic, id: 0, from: "a", from_addr: 1u32, count: 5000 }, &mut body);
        let mut pkt = vec![tag::PUSH_PULL, body.len() as u8];
        pkt.extend_from_slice(&body);
        assert_eq!(Codec::<u32>::decode(&PostcardCodec, &pkt, &L, &mut |_| {}), Err(DecodeError::TooManyMembers));
    }

    #[test]
    fn limits_are_enforced() {
        let c = PostcardCodec;
        let mut out = Vec::new();
        let meta = vec![0u8; 513];
        let alive = Alive {
            incarnation: 0,
            name: "a",
            addr: 1,
            meta: &meta,
            versions: Versions::DEFAULT,
            capabilities: Capabilities::NONE,
        };
        Codec::<u32>::encode(&c, &Message::Alive(alive), &mut out);
        assert_eq!(Codec::<u32>::decode(&c, &out, &L, &mut |_| {}), Err(DecodeError::MetadataTooLarge));
        let long = "x".repeat(65);
        out.clear();
        Codec::<u32>::encode(&c, &Message::Ping(Ping { seq: 0, target: &long }), &mut out);
        assert_eq!(Codec::<u32>::decode(&c, &out, &L, &mut |_| {}), Err(DecodeError::NameTooLong));
    }

    #[test]
    fn varint_lengths() {
        let mut b = [0; 5];
        for v in [0u32, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            let n = write_varint(v, &mut b);
            let (got, rest) = read_varint(&b[..n]).unwrap();
            assert_eq!(got, v as usize);
            assert!(rest.is_empty());
        }
    }
}
