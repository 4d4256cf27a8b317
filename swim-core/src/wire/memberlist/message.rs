//! memberlist's messages (0.2.2's `net.go` structs) and their msgpack bodies.
//!
//! Every message is its type byte ([`MessageType`]) followed by a body. Each struct here is one
//! of memberlist's, with its Go field names noted; an empty byte field is written as `nil`, as
//! Go writes a nil slice (a Go peer reads `nil` and an empty string alike), and `omitempty`
//! fields are left out when zero. Encoding is byte for byte what memberlist writes
//! (`swim-core/tests/memberlist_wire.rs` checks it against bytes from memberlist's own code).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::msgpack::{self, Reader};
use crate::DecodeError;
use crate::wire::DecodeLimits;

/// memberlist's message types (the `messageType` iota list in `net.go`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    /// `pingMsg`: [`Ping`].
    Ping = 0,
    /// `indirectPingMsg`: [`IndirectPing`].
    IndirectPing = 1,
    /// `ackRespMsg`: [`Ack`].
    Ack = 2,
    /// `suspectMsg`: [`Suspect`].
    Suspect = 3,
    /// `aliveMsg`: [`Alive`].
    Alive = 4,
    /// `deadMsg`: [`Dead`].
    Dead = 5,
    /// `pushPullMsg`: [`PushPull`], on streams only.
    PushPull = 6,
    /// `compoundMsg`: several messages in one packet ([`super::decode_compound`]).
    Compound = 7,
    /// `userMsg`: an application's message.
    User = 8,
    /// `compressMsg`: an LZW-compressed message (not supported yet).
    Compress = 9,
    /// `encryptMsg`: an encrypted stream (not supported yet).
    Encrypt = 10,
    /// `nackRespMsg`: [`Nack`].
    Nack = 11,
    /// `hasCrcMsg`: a CRC32 in front of a packet ([`super::check_crc`]).
    HasCrc = 12,
    /// `errMsg`: [`ErrResp`], on streams.
    Err = 13,
}

impl MessageType {
    /// The type a byte names, if any.
    pub fn from_byte(b: u8) -> Option<Self> {
        use MessageType::*;
        Some(match b {
            0 => Ping,
            1 => IndirectPing,
            2 => Ack,
            3 => Suspect,
            4 => Alive,
            5 => Dead,
            6 => PushPull,
            7 => Compound,
            8 => User,
            9 => Compress,
            10 => Encrypt,
            11 => Nack,
            12 => HasCrc,
            13 => Err,
            _ => return None,
        })
    }
}

/// Where a message travels: a UDP packet or a TCP stream. A user message differs: in a packet
/// it is the rest of the packet, on a stream it has a `userMsgHeader` with its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A UDP packet (or one part of a compound packet).
    Packet,
    /// A TCP stream.
    Stream,
}

/// `ping`: probe `node`, answer with an [`Ack`] of the same `seq_no`. Protocol versions from
/// 2 (memberlist 0.2.2 sends them at every version) add the source, so that the target of an
/// indirect probe can answer the prober directly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ping {
    /// `SeqNo`.
    pub seq_no: u32,
    /// `Node`: the name of the member meant (refused by a member of another name).
    pub node: String,
    /// `SourceAddr` (omitempty).
    pub source_addr: Option<IpAddr>,
    /// `SourcePort` (omitempty: 0 is left out).
    pub source_port: u16,
    /// `SourceNode` (omitempty: empty is left out).
    pub source_node: String,
}

/// `indirectPingReq`: ask the receiver to ping `target`:`port` (named `node`) and relay the
/// ack, with a nack when `nack` is set and the target did not answer in time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndirectPing {
    /// `SeqNo`.
    pub seq_no: u32,
    /// `Target`: the address to ping.
    pub target: IpAddr,
    /// `Port`.
    pub port: u16,
    /// `Node`: the target's name.
    pub node: String,
    /// `Nack`: protocol version 4 and later ask for a nack.
    pub nack: bool,
    /// `SourceAddr` (omitempty).
    pub source_addr: Option<IpAddr>,
    /// `SourcePort` (omitempty).
    pub source_port: u16,
    /// `SourceNode` (omitempty).
    pub source_node: String,
}

/// `ackResp`: the answer to a ping, with the ping delegate's payload (empty without one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// `SeqNo`.
    pub seq_no: u32,
    /// `Payload` (`nil` when empty).
    pub payload: Vec<u8>,
}

/// `nackResp`: an indirect probe's relay saying its ping went unanswered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nack {
    /// `SeqNo`.
    pub seq_no: u32,
}

/// `errResp`: a stream's error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrResp {
    /// `Error`.
    pub error: String,
}

/// `suspect`: `from` suspects `node` at `incarnation`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suspect {
    /// `Incarnation`.
    pub incarnation: u32,
    /// `Node`.
    pub node: String,
    /// `From`.
    pub from: String,
}

/// `dead`: `from` declares `node` dead at `incarnation`; `from == node` is a graceful leave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dead {
    /// `Incarnation`.
    pub incarnation: u32,
    /// `Node`.
    pub node: String,
    /// `From`.
    pub from: String,
}

/// `alive`: `node` is alive at `incarnation`, at `addr`:`port`, with metadata and versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alive {
    /// `Incarnation`.
    pub incarnation: u32,
    /// `Node`.
    pub node: String,
    /// `Addr`: 4 or 16 bytes on the wire.
    pub addr: IpAddr,
    /// `Port`.
    pub port: u16,
    /// `Meta` (`nil` when empty).
    pub meta: Vec<u8>,
    /// `Vsn`: protocol min, max, current, then delegate min, max, current (memberlist sends
    /// six bytes; `nil` when empty).
    pub vsn: Vec<u8>,
}

/// A member's state in a push-pull (`NodeStateType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeStateKind {
    /// `StateAlive` (0).
    Alive = 0,
    /// `StateSuspect` (1).
    Suspect = 1,
    /// `StateDead` (2).
    Dead = 2,
    /// `StateLeft` (3).
    Left = 3,
}

/// `pushNodeState`: one member in a push-pull.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushNodeState {
    /// `Name`.
    pub name: String,
    /// `Addr`.
    pub addr: IpAddr,
    /// `Port`.
    pub port: u16,
    /// `Meta` (`nil` when empty).
    pub meta: Vec<u8>,
    /// `Incarnation`.
    pub incarnation: u32,
    /// `State`.
    pub state: NodeStateKind,
    /// `Vsn`, as in [`Alive::vsn`].
    pub vsn: Vec<u8>,
}

/// A push-pull: the `pushPullHeader` (`Nodes`, `UserStateLen`, `Join`), that many node
/// states, then the delegate's `LocalState` bytes raw. The answer comes on the same stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushPull {
    /// `Join`: the sender is joining (its `LocalState(join)` and `MergeRemoteState(join)`).
    pub join: bool,
    /// The sender's member table.
    pub nodes: Vec<PushNodeState>,
    /// The application's state (the delegate's `LocalState`).
    pub user_state: Vec<u8>,
}

/// One memberlist message (compound packets and the CRC wrapper are framing around these:
/// see [`super::decode_compound`] and [`super::check_crc`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A ping.
    Ping(Ping),
    /// An indirect ping request.
    IndirectPing(IndirectPing),
    /// An ack.
    Ack(Ack),
    /// A nack.
    Nack(Nack),
    /// A suspicion.
    Suspect(Suspect),
    /// An alive claim.
    Alive(Alive),
    /// A death (or leave).
    Dead(Dead),
    /// An application's message.
    User(Vec<u8>),
    /// A push-pull (streams only).
    PushPull(PushPull),
    /// A stream's error answer.
    Err(ErrResp),
}

impl Message {
    /// Its type byte.
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::Ping(_) => MessageType::Ping,
            Message::IndirectPing(_) => MessageType::IndirectPing,
            Message::Ack(_) => MessageType::Ack,
            Message::Nack(_) => MessageType::Nack,
            Message::Suspect(_) => MessageType::Suspect,
            Message::Alive(_) => MessageType::Alive,
            Message::Dead(_) => MessageType::Dead,
            Message::User(_) => MessageType::User,
            Message::PushPull(_) => MessageType::PushPull,
            Message::Err(_) => MessageType::Err,
        }
    }

    /// Append the type byte and body as memberlist writes them on `transport`. A push-pull
    /// is a stream message; written for a packet it has the same bytes (memberlist would
    /// refuse it there).
    pub fn encode(&self, transport: Transport, out: &mut Vec<u8>) {
        out.push(self.message_type() as u8);
        // Fields in go-msgpack's order: sorted by name.
        match self {
            Message::Ping(p) => {
                let n = 2 + source_fields(&p.source_addr, p.source_port, &p.source_node);
                msgpack::write_map_len(out, n);
                str_field(out, "Node", &p.node);
                uint_field(out, "SeqNo", p.seq_no.into());
                write_source(out, &p.source_addr, p.source_port, &p.source_node);
            }
            Message::IndirectPing(p) => {
                let n = 5 + source_fields(&p.source_addr, p.source_port, &p.source_node);
                msgpack::write_map_len(out, n);
                msgpack::write_str(out, b"Nack");
                msgpack::write_bool(out, p.nack);
                str_field(out, "Node", &p.node);
                uint_field(out, "Port", p.port.into());
                uint_field(out, "SeqNo", p.seq_no.into());
                write_source(out, &p.source_addr, p.source_port, &p.source_node);
                addr_field(out, "Target", &p.target);
            }
            Message::Ack(a) => {
                msgpack::write_map_len(out, 2);
                bytes_field(out, "Payload", &a.payload);
                uint_field(out, "SeqNo", a.seq_no.into());
            }
            Message::Nack(n) => {
                msgpack::write_map_len(out, 1);
                uint_field(out, "SeqNo", n.seq_no.into());
            }
            Message::Err(e) => {
                msgpack::write_map_len(out, 1);
                str_field(out, "Error", &e.error);
            }
            Message::Suspect(Suspect { incarnation, node, from }) | Message::Dead(Dead { incarnation, node, from }) => {
                msgpack::write_map_len(out, 3);
                str_field(out, "From", from);
                uint_field(out, "Incarnation", (*incarnation).into());
                str_field(out, "Node", node);
            }
            Message::Alive(a) => {
                msgpack::write_map_len(out, 6);
                addr_field(out, "Addr", &a.addr);
                uint_field(out, "Incarnation", a.incarnation.into());
                bytes_field(out, "Meta", &a.meta);
                str_field(out, "Node", &a.node);
                uint_field(out, "Port", a.port.into());
                bytes_field(out, "Vsn", &a.vsn);
            }
            Message::User(payload) => {
                if transport == Transport::Stream {
                    msgpack::write_map_len(out, 1);
                    uint_field(out, "UserMsgLen", payload.len() as u64);
                }
                out.extend_from_slice(payload);
            }
            Message::PushPull(pp) => {
                msgpack::write_map_len(out, 3);
                msgpack::write_str(out, b"Join");
                msgpack::write_bool(out, pp.join);
                uint_field(out, "Nodes", pp.nodes.len() as u64);
                uint_field(out, "UserStateLen", pp.user_state.len() as u64);
                for n in &pp.nodes {
                    msgpack::write_map_len(out, 7);
                    addr_field(out, "Addr", &n.addr);
                    uint_field(out, "Incarnation", n.incarnation.into());
                    bytes_field(out, "Meta", &n.meta);
                    str_field(out, "Name", &n.name);
                    uint_field(out, "Port", n.port.into());
                    uint_field(out, "State", n.state as u64);
                    bytes_field(out, "Vsn", &n.vsn);
                }
                out.extend_from_slice(&pp.user_state);
            }
        }
    }

    /// Decode one message (type byte first) from the start of `input`; return it and how many
    /// bytes it took. A packet's user message takes the rest of the input; on a stream, a
    /// push-pull and a user message take what their headers say. Unknown keys are skipped,
    /// keys come in any order, a missing key is its zero value (as in Go), and a repeated key's
    /// last value wins. Fields are checked against `limits`.
    ///
    /// [`DecodeError::Truncated`] means the input ends inside the message: a stream reader
    /// can retry when more bytes arrived. [`DecodeError::UnknownMessage`] is a type byte this
    /// codec does not decode as a message (including compound, CRC, compress and encrypt,
    /// which are framing).
    pub fn decode(input: &[u8], transport: Transport, limits: &DecodeLimits) -> Result<(Message, usize), DecodeError> {
        let (&kind, body) = input.split_first().ok_or(DecodeError::Empty)?;
        let kind = MessageType::from_byte(kind).ok_or(DecodeError::UnknownMessage)?;
        let mut r = Reader::new(body);
        let msg = match kind {
            MessageType::Ping => {
                let (mut seq_no, mut node, mut source) = (0, String::new(), Source::default());
                fields(&mut r, |r, key| {
                    match key {
                        b"SeqNo" => seq_no = r.uint_as()?,
                        b"Node" => node = name(r, limits)?,
                        _ => return source.field(r, key, limits),
                    }
                    Ok(true)
                })?;
                let Source { addr: source_addr, port: source_port, node: source_node } = source;
                Message::Ping(Ping { seq_no, node, source_addr, source_port, source_node })
            }
            MessageType::IndirectPing => {
                let mut p = IndirectPing {
                    seq_no: 0,
                    target: UNSPECIFIED,
                    port: 0,
                    node: String::new(),
                    nack: false,
                    source_addr: None,
                    source_port: 0,
                    source_node: String::new(),
                };
                let (mut target, mut source) = (None, Source::default());
                fields(&mut r, |r, key| {
                    match key {
                        b"SeqNo" => p.seq_no = r.uint_as()?,
                        b"Target" => target = opt_addr(r)?,
                        b"Port" => p.port = r.uint_as()?,
                        b"Node" => p.node = name(r, limits)?,
                        b"Nack" => p.nack = r.bool()?,
                        _ => return source.field(r, key, limits),
                    }
                    Ok(true)
                })?;
                Source { addr: p.source_addr, port: p.source_port, node: p.source_node } = source;
                // Without a target there is nothing to ping.
                p.target = target.ok_or(DecodeError::Malformed)?;
                Message::IndirectPing(p)
            }
            MessageType::Ack => {
                let mut a = Ack { seq_no: 0, payload: Vec::new() };
                fields(&mut r, |r, key| {
                    match key {
                        b"SeqNo" => a.seq_no = r.uint_as()?,
                        b"Payload" => a.payload = limited(r, limits.max_user_message, DecodeError::PayloadTooLarge)?,
                        _ => return Ok(false),
                    }
                    Ok(true)
                })?;
                Message::Ack(a)
            }
            MessageType::Nack => {
                let mut n = Nack { seq_no: 0 };
                fields(&mut r, |r, key| {
                    if key != b"SeqNo" {
                        return Ok(false);
                    }
                    n.seq_no = r.uint_as()?;
                    Ok(true)
                })?;
                Message::Nack(n)
            }
            MessageType::Err => {
                let mut e = ErrResp { error: String::new() };
                fields(&mut r, |r, key| {
                    if key != b"Error" {
                        return Ok(false);
                    }
                    let text = limited(r, limits.max_user_message, DecodeError::PayloadTooLarge)?;
                    e.error = String::from_utf8(text).map_err(|_| DecodeError::Malformed)?;
                    Ok(true)
                })?;
                Message::Err(e)
            }
            MessageType::Suspect | MessageType::Dead => {
                let (mut incarnation, mut node, mut from) = (0, String::new(), String::new());
                fields(&mut r, |r, key| {
                    match key {
                        b"Incarnation" => incarnation = r.uint_as()?,
                        b"Node" => node = name(r, limits)?,
                        b"From" => from = name(r, limits)?,
                        _ => return Ok(false),
                    }
                    Ok(true)
                })?;
                if kind == MessageType::Suspect {
                    Message::Suspect(Suspect { incarnation, node, from })
                } else {
                    Message::Dead(Dead { incarnation, node, from })
                }
            }
            MessageType::Alive => {
                let mut a = Alive {
                    incarnation: 0,
                    node: String::new(),
                    addr: UNSPECIFIED,
                    port: 0,
                    meta: Vec::new(),
                    vsn: Vec::new(),
                };
                let mut addr = None;
                fields(&mut r, |r, key| {
                    match key {
                        b"Incarnation" => a.incarnation = r.uint_as()?,
                        b"Node" => a.node = name(r, limits)?,
                        b"Addr" => addr = opt_addr(r)?,
                        b"Port" => a.port = r.uint_as()?,
                        b"Meta" => a.meta = limited(r, limits.max_meta, DecodeError::MetadataTooLarge)?,
                        b"Vsn" => a.vsn = limited(r, VSN_MAX, DecodeError::Malformed)?,
                        _ => return Ok(false),
                    }
                    Ok(true)
                })?;
                a.addr = addr.ok_or(DecodeError::Malformed)?;
                Message::Alive(a)
            }
            MessageType::User => match transport {
                Transport::Packet => {
                    let payload = r.rest();
                    if payload.len() > limits.max_user_message {
                        return Err(DecodeError::PayloadTooLarge);
                    }
                    r.take(payload.len())?;
                    Message::User(payload.to_vec())
                }
                Transport::Stream => {
                    let mut len = 0usize;
                    fields(&mut r, |r, key| {
                        if key != b"UserMsgLen" {
                            return Ok(false);
                        }
                        len = r.uint_as()?;
                        Ok(true)
                    })?;
                    if len > limits.max_user_message {
                        return Err(DecodeError::PayloadTooLarge);
                    }
                    Message::User(r.take(len)?.to_vec())
                }
            },
            MessageType::PushPull => Message::PushPull(push_pull(&mut r, limits)?),
            MessageType::Compound | MessageType::Compress | MessageType::Encrypt | MessageType::HasCrc => {
                return Err(DecodeError::UnknownMessage);
            }
        };
        Ok((msg, 1 + r.position()))
    }
}

/// The longest `Vsn` accepted: memberlist sends six bytes; a little room for a future field.
const VSN_MAX: usize = 16;

/// The zero address a missing required address decodes to before it is refused.
const UNSPECIFIED: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

fn push_pull(r: &mut Reader<'_>, limits: &DecodeLimits) -> Result<PushPull, DecodeError> {
    let (mut count, mut user_len, mut join) = (0usize, 0usize, false);
    fields(r, |r, key| {
        match key {
            b"Nodes" => count = r.uint_as()?,
            b"UserStateLen" => user_len = r.uint_as()?,
            b"Join" => join = r.bool()?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if count > limits.max_members {
        return Err(DecodeError::TooManyMembers);
    }
    if user_len > limits.max_app_state {
        return Err(DecodeError::AppStateTooLarge);
    }
    // `count` is bounded by the limit, and each state takes input or fails.
    let mut nodes = Vec::with_capacity(count.min(r.rest().len() / 8));
    for _ in 0..count {
        let mut n = PushNodeState {
            name: String::new(),
            addr: UNSPECIFIED,
            port: 0,
            meta: Vec::new(),
            incarnation: 0,
            state: NodeStateKind::Alive,
            vsn: Vec::new(),
        };
        let mut addr = None;
        fields(r, |r, key| {
            match key {
                b"Name" => n.name = name(r, limits)?,
                b"Addr" => addr = opt_addr(r)?,
                b"Port" => n.port = r.uint_as()?,
                b"Meta" => n.meta = limited(r, limits.max_meta, DecodeError::MetadataTooLarge)?,
                b"Incarnation" => n.incarnation = r.uint_as()?,
                b"State" => {
                    n.state = match r.uint()? {
                        0 => NodeStateKind::Alive,
                        1 => NodeStateKind::Suspect,
                        2 => NodeStateKind::Dead,
                        3 => NodeStateKind::Left,
                        _ => return Err(DecodeError::Malformed),
                    }
                }
                b"Vsn" => n.vsn = limited(r, VSN_MAX, DecodeError::Malformed)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        n.addr = addr.ok_or(DecodeError::Malformed)?;
        nodes.push(n);
    }
    let user_state = r.take(user_len)?.to_vec();
    Ok(PushPull { join, nodes, user_state })
}

/// Read a struct: a map whose string keys `field` handles (answering whether it knew the
/// key; the value of an unknown key is skipped).
fn fields<'a>(
    r: &mut Reader<'a>,
    mut field: impl FnMut(&mut Reader<'a>, &[u8]) -> Result<bool, DecodeError>,
) -> Result<(), DecodeError> {
    for _ in 0..r.map_len()? {
        let key = r.bytes()?;
        if !field(r, key)? {
            r.skip()?;
        }
    }
    Ok(())
}

/// The omitempty source fields ping and indirect ping share, as decoded.
#[derive(Default)]
struct Source {
    addr: Option<IpAddr>,
    port: u16,
    node: String,
}

impl Source {
    /// Read the value of `key` if it is a source field; answers whether it was.
    fn field(&mut self, r: &mut Reader<'_>, key: &[u8], limits: &DecodeLimits) -> Result<bool, DecodeError> {
        match key {
            b"SourceAddr" => self.addr = opt_addr(r)?,
            b"SourcePort" => self.port = r.uint_as()?,
            b"SourceNode" => self.node = name(r, limits)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

fn name(r: &mut Reader<'_>, limits: &DecodeLimits) -> Result<String, DecodeError> {
    let s = r.str()?;
    if s.len() > limits.max_name_len {
        return Err(DecodeError::NameTooLong);
    }
    Ok(s.to_string())
}

fn limited(r: &mut Reader<'_>, max: usize, too_long: DecodeError) -> Result<Vec<u8>, DecodeError> {
    let b = r.bytes()?;
    if b.len() > max {
        return Err(too_long);
    }
    Ok(b.to_vec())
}

/// An address: 4 or 16 bytes; empty (or `nil`) is none; any other length is malformed.
fn opt_addr(r: &mut Reader<'_>) -> Result<Option<IpAddr>, DecodeError> {
    let b = r.bytes()?;
    Ok(match b.len() {
        0 => None,
        4 => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        16 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(b);
            Some(IpAddr::V6(Ipv6Addr::from(octets)))
        }
        _ => return Err(DecodeError::Malformed),
    })
}

fn addr_bytes(addr: &IpAddr) -> ([u8; 16], usize) {
    let mut buf = [0u8; 16];
    match addr {
        IpAddr::V4(v4) => {
            buf[..4].copy_from_slice(&v4.octets());
            (buf, 4)
        }
        IpAddr::V6(v6) => (v6.octets(), 16),
    }
}

fn str_field(out: &mut Vec<u8>, key: &str, value: &str) {
    msgpack::write_str(out, key.as_bytes());
    msgpack::write_str(out, value.as_bytes());
}

fn bytes_field(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    msgpack::write_str(out, key.as_bytes());
    msgpack::write_bytes(out, value);
}

fn uint_field(out: &mut Vec<u8>, key: &str, value: u64) {
    msgpack::write_str(out, key.as_bytes());
    msgpack::write_uint(out, value);
}

fn addr_field(out: &mut Vec<u8>, key: &str, addr: &IpAddr) {
    let (buf, len) = addr_bytes(addr);
    bytes_field(out, key, &buf[..len]);
}

/// How many of the three omitempty source fields are present.
fn source_fields(addr: &Option<IpAddr>, port: u16, node: &str) -> usize {
    usize::from(addr.is_some()) + usize::from(port != 0) + usize::from(!node.is_empty())
}

/// The omitempty source fields in name order: `SourceAddr`, `SourceNode`, `SourcePort`.
fn write_source(out: &mut Vec<u8>, addr: &Option<IpAddr>, port: u16, node: &str) {
    if let Some(addr) = addr {
        addr_field(out, "SourceAddr", addr);
    }
    if !node.is_empty() {
        str_field(out, "SourceNode", node);
    }
    if port != 0 {
        uint_field(out, "SourcePort", port.into());
    }
}
