//! memberlist's messages mapped onto swim-core's message model ([`crate::wire::Message`]) and
//! back: what a memberlist profile of the core will run on. Pure functions, no state.
//!
//! Most messages map field for field. What one side carries and the other does not:
//!
//! | memberlist → swim | dropped or filled |
//! |---|---|
//! | ping `SourceAddr`/`SourcePort`/`SourceNode` | dropped (the ack goes to the packet's sender) |
//! | ack `Payload` (the ping delegate's) | an empty one gives an ack, any other an extended ack with that payload and no coordinate |
//! | alive / node state `Vsn` | becomes [`Versions`] (protocol = memberlist's protocol range, application = its delegate range); fewer than six bytes is [`DecodeError::Malformed`]; capabilities are [`Capabilities::NONE`] |
//! | user message | `from` is empty: memberlist does not say who sent it |
//! | push-pull, err | not mapped here: a push-pull's sender, id and kind come from its connection ([`member_state`] maps its node states) |
//!
//! | swim → memberlist | dropped or filled |
//! |---|---|
//! | indirect ping, pings | no source fields (memberlist leaves them out too when it has none) |
//! | ping, extended ping | both a ping: memberlist has no extended ping |
//! | ack, extended ack | an ack with the extended ack's payload (empty for a plain ack); the coordinate is dropped |
//! | alive / member state | `Vsn` from [`Versions`]; capabilities dropped |
//! | user message | `from` dropped |
//! | user broadcast | sent as a user message: `origin`, `id` and `key` dropped (memberlist's broadcasts are plain user messages) |
//! | push-pull | `Join` from the kind's exchange; `id`, `from`, `from_addr` dropped (the connection says them) |
//! | join refusal | an `errResp` with the reason |

use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};

use super::message::{self as ml, NodeStateKind};
use crate::DecodeError;
use crate::member::State;
use crate::versions::{Capabilities, VersionRange, Versions};
use crate::wire::message as model;

/// An address memberlist can carry: an IP address and a port.
pub trait IpPort: Sized {
    /// The IP address and port.
    fn ip_port(&self) -> (IpAddr, u16);
    /// The address of an IP address and port.
    fn from_ip_port(ip: IpAddr, port: u16) -> Self;
}

impl IpPort for SocketAddr {
    fn ip_port(&self) -> (IpAddr, u16) {
        (self.ip(), self.port())
    }
    fn from_ip_port(ip: IpAddr, port: u16) -> Self {
        SocketAddr::new(ip, port)
    }
}

/// For simulators and tests whose addresses are integers: the integer is an IPv4 address
/// and the port is memberlist's default, 7946. An IPv6 address maps to its low 32 bits.
impl IpPort for u32 {
    fn ip_port(&self) -> (IpAddr, u16) {
        (IpAddr::V4((*self).into()), 7946)
    }
    fn from_ip_port(ip: IpAddr, _port: u16) -> Self {
        match ip {
            IpAddr::V4(v4) => v4.into(),
            IpAddr::V6(v6) => v6.to_bits() as u32,
        }
    }
}

/// [`IpPort`]'s two functions as values, so that code generic over any address type can
/// carry the mapping of one that has it (a core is built for any address; only the
/// memberlist profile needs IP addresses, see `Swim::with_wire`).
pub struct AddressMap<A> {
    /// The IP address and port of an address.
    pub to_ip_port: fn(&A) -> (IpAddr, u16),
    /// The address of an IP address and port.
    pub from_ip_port: fn(IpAddr, u16) -> A,
}

impl<A> Clone for AddressMap<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A> Copy for AddressMap<A> {}

impl<A> core::fmt::Debug for AddressMap<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AddressMap")
    }
}

impl<A: IpPort> AddressMap<A> {
    /// The mapping of an [`IpPort`] address type.
    pub fn of() -> Self {
        AddressMap { to_ip_port: A::ip_port, from_ip_port: A::from_ip_port }
    }
}

/// `Vsn` bytes as [`Versions`]: protocol min, max, current, then delegate min, max, current.
pub fn versions(vsn: &[u8]) -> Result<Versions, DecodeError> {
    match vsn {
        [pmin, pmax, pcur, dmin, dmax, dcur, ..] => Ok(Versions {
            protocol: VersionRange::new(*pmin, *pmax, *pcur),
            application: VersionRange::new(*dmin, *dmax, *dcur),
        }),
        _ => Err(DecodeError::Malformed),
    }
}

/// [`Versions`] as `Vsn` bytes.
pub fn vsn(versions: &Versions) -> [u8; 6] {
    let (p, a) = (versions.protocol, versions.application);
    [p.min, p.max, p.current, a.min, a.max, a.current]
}

/// A push-pull's node state in swim's model.
pub fn member_state<A: IpPort>(n: &ml::PushNodeState) -> Result<model::MemberState<'_, A>, DecodeError> {
    member_state_via(&AddressMap::of(), n)
}

/// [`member_state`] with the address mapping as a value.
pub fn member_state_via<'m, A>(
    map: &AddressMap<A>,
    n: &'m ml::PushNodeState,
) -> Result<model::MemberState<'m, A>, DecodeError> {
    Ok(model::MemberState {
        name: &n.name,
        addr: (map.from_ip_port)(n.addr, n.port),
        meta: &n.meta,
        incarnation: n.incarnation,
        state: match n.state {
            NodeStateKind::Alive => State::Alive,
            NodeStateKind::Suspect => State::Suspect,
            NodeStateKind::Dead => State::Dead,
            NodeStateKind::Left => State::Left,
        },
        versions: versions(&n.vsn)?,
        capabilities: Capabilities::NONE,
    })
}

/// A member state of swim's model as a push-pull's node state.
pub fn node_state<A: IpPort>(m: &model::MemberState<'_, A>) -> ml::PushNodeState {
    node_state_via(&AddressMap::of(), m)
}

/// [`node_state`] with the address mapping as a value.
pub fn node_state_via<A>(map: &AddressMap<A>, m: &model::MemberState<'_, A>) -> ml::PushNodeState {
    let (addr, port) = (map.to_ip_port)(&m.addr);
    ml::PushNodeState {
        name: m.name.into(),
        addr,
        port,
        meta: m.meta.to_vec(),
        incarnation: m.incarnation,
        state: match m.state {
            State::Alive => NodeStateKind::Alive,
            State::Suspect => NodeStateKind::Suspect,
            State::Dead => NodeStateKind::Dead,
            State::Left => NodeStateKind::Left,
        },
        vsn: vsn(&m.versions).to_vec(),
    }
}

/// A memberlist message in swim's model; `Ok(None)` for a push-pull or an err (see the module
/// docs), `Err` when a field does not map (a `Vsn` shorter than six bytes).
pub fn to_model<A: IpPort>(msg: &ml::Message) -> Result<Option<model::Message<'_, A>>, DecodeError> {
    to_model_via(&AddressMap::of(), msg)
}

/// [`to_model`] with the address mapping as a value.
pub fn to_model_via<'m, A>(
    map: &AddressMap<A>,
    msg: &'m ml::Message,
) -> Result<Option<model::Message<'m, A>>, DecodeError> {
    let addr = map.from_ip_port;
    Ok(Some(match msg {
        ml::Message::Ping(p) => model::Message::Ping(model::Ping { seq: p.seq_no, target: &p.node }),
        ml::Message::IndirectPing(p) => model::Message::PingReq(model::PingReq {
            seq: p.seq_no,
            target: &p.node,
            target_addr: addr(p.target, p.port),
            nack: p.nack,
        }),
        ml::Message::Ack(a) if a.payload.is_empty() => model::Message::Ack(model::Ack { seq: a.seq_no }),
        ml::Message::Ack(a) => {
            model::Message::ExtendedAck(model::ExtendedAck { seq: a.seq_no, payload: &a.payload, coordinate: None })
        }
        ml::Message::Nack(n) => model::Message::Nack(model::Nack { seq: n.seq_no }),
        ml::Message::Alive(a) => model::Message::Alive(model::Alive {
            incarnation: a.incarnation,
            name: &a.node,
            addr: addr(a.addr, a.port),
            meta: &a.meta,
            versions: versions(&a.vsn)?,
            capabilities: Capabilities::NONE,
        }),
        ml::Message::Suspect(s) => {
            model::Message::Suspect(model::Suspect { incarnation: s.incarnation, name: &s.node, from: &s.from })
        }
        ml::Message::Dead(d) => {
            model::Message::Dead(model::Dead { incarnation: d.incarnation, name: &d.node, from: &d.from })
        }
        ml::Message::User(payload) => model::Message::User(model::UserMessage { from: "", payload }),
        ml::Message::PushPull(_) | ml::Message::Err(_) => return Ok(None),
    }))
}

/// A message of swim's model as memberlist's (see the module docs for what is dropped).
pub fn from_model<A: IpPort>(msg: &model::Message<'_, A>) -> ml::Message {
    from_model_via(&AddressMap::of(), msg)
}

/// [`from_model`] with the address mapping as a value.
pub fn from_model_via<A>(map: &AddressMap<A>, msg: &model::Message<'_, A>) -> ml::Message {
    let ip_port = map.to_ip_port;
    match msg {
        model::Message::Ping(p) | model::Message::ExtendedPing(p) => ml::Message::Ping(ml::Ping {
            seq_no: p.seq,
            node: p.target.into(),
            source_addr: None,
            source_port: 0,
            source_node: Default::default(),
        }),
        model::Message::PingReq(p) => {
            let (target, port) = ip_port(&p.target_addr);
            ml::Message::IndirectPing(ml::IndirectPing {
                seq_no: p.seq,
                target,
                port,
                node: p.target.into(),
                nack: p.nack,
                source_addr: None,
                source_port: 0,
                source_node: Default::default(),
            })
        }
        model::Message::Ack(a) => ml::Message::Ack(ml::Ack { seq_no: a.seq, payload: Vec::new() }),
        model::Message::ExtendedAck(a) => ml::Message::Ack(ml::Ack { seq_no: a.seq, payload: a.payload.to_vec() }),
        model::Message::Nack(n) => ml::Message::Nack(ml::Nack { seq_no: n.seq }),
        model::Message::Alive(a) => {
            let (addr, port) = ip_port(&a.addr);
            ml::Message::Alive(ml::Alive {
                incarnation: a.incarnation,
                node: a.name.into(),
                addr,
                port,
                meta: a.meta.to_vec(),
                vsn: vsn(&a.versions).to_vec(),
            })
        }
        model::Message::Suspect(s) => {
            ml::Message::Suspect(ml::Suspect { incarnation: s.incarnation, node: s.name.into(), from: s.from.into() })
        }
        model::Message::Dead(d) => {
            ml::Message::Dead(ml::Dead { incarnation: d.incarnation, node: d.name.into(), from: d.from.into() })
        }
        model::Message::User(u) => ml::Message::User(u.payload.to_vec()),
        model::Message::Broadcast(b) => ml::Message::User(b.payload.to_vec()),
        model::Message::PushPull(pp) => ml::Message::PushPull(ml::PushPull {
            join: pp.kind.exchange() == crate::hooks::Exchange::Join,
            nodes: pp.members.iter().map(|m| node_state_via(map, m)).collect(),
            user_state: pp.state.to_vec(),
        }),
        model::Message::JoinRefused(r) => ml::Message::Err(ml::ErrResp { error: r.reason.into() }),
    }
}
