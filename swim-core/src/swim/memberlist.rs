//! The hub's side of the memberlist wire profile ([`crate::WireProfile::Memberlist`]): the
//! same protocol as swim's profile, decoded from and encoded to memberlist's bytes.
//!
//! Inbound, memberlist's messages are mapped onto swim's message model
//! (`wire::memberlist::model`) and dispatched exactly like swim's own; outbound, a transmit is
//! encoded as swim's own format would (so every protocol rule stays in one place), read back
//! as messages, mapped to memberlist's and packed into packets that fit the budget. The byte
//! layer (label, keyring, CRC, compression, compound, stream framing and the request/reply
//! tables) is `wire::memberlist::profile`.

use alloc::vec::Vec;

use bytes::Bytes;

use super::Swim;
use crate::error::DecodeError;
use crate::member::Address;
use crate::time::Instant;
use crate::transmit::{ConnectionId, Out, RequestId, StreamRole, Transmit, TransmitKind};
use crate::wire::memberlist::message::{self as ml, Transport};
use crate::wire::memberlist::model::{from_model_via, member_state_via, to_model_via};
use crate::wire::memberlist::profile::{Profile, Purpose, Ready, pack, packet_messages, packet_overhead};
use crate::wire::{self, Codec, MemberState, Message, PushPullKind};

/// How a stream message reached the member.
#[derive(Clone, Copy, Debug)]
pub(super) enum Via {
    /// On an inbound connection the driver named (a reply goes back on it).
    Connection(ConnectionId),
    /// As the reply to one of this member's requests.
    Reply(RequestId),
    /// Through `handle_stream`, which names no connection: nothing can be answered.
    Unknown,
}

impl<A: Address, C: Codec<A>> Swim<A, C> {
    fn profile(&mut self) -> &mut Profile<A> {
        // Only called on the memberlist paths, which `Swim` enters only with a profile.
        self.profile.as_mut().expect("the memberlist profile is installed")
    }

    /// A datagram in memberlist's format: every message validated first, then applied.
    pub(super) fn memberlist_datagram(&mut self, now: Instant, from: A, data: &[u8]) -> Result<(), DecodeError> {
        let (label, accept) = (self.config.label.clone(), self.config.accept_unlabelled);
        let plain = self.profile().open_packet(&label, accept, data)?;
        let mut msgs = Vec::new();
        packet_messages(&plain, &self.limits, &mut msgs)?;
        let map = self.profile().map;
        let mut models = Vec::with_capacity(msgs.len());
        for m in &msgs {
            match to_model_via(&map, m)? {
                // Push-pulls and errors travel on streams only.
                None => return Err(DecodeError::WrongChannel),
                Some(Message::Ping(p)) if !p.target.is_empty() && p.target != self.local.name.as_str() => {
                    return Err(DecodeError::Misdirected);
                }
                Some(m) => models.push(m),
            }
        }
        let version = self.config.versions.protocol.current;
        // memberlist's user messages do not name their sender: it is the live member at the
        // packet's source address, if any (a scan of the table, for user messages only).
        let sender = match models.iter().any(|m| matches!(m, Message::User(_))) {
            true => self.name_at(&from),
            false => None,
        };
        for m in models {
            let m = match (m, &sender) {
                (Message::User(u), Some(name)) => Message::User(wire::UserMessage { from: name.as_str(), ..u }),
                (m, _) => m,
            };
            self.handle_message(now, &from, version, m);
        }
        Ok(())
    }

    /// The name of the live member at `addr`, if any.
    fn name_at(&self, addr: &A) -> Option<crate::member::Name> {
        let records = self.members.records();
        records.iter().find(|r| r.member.addr == *addr && !r.member.state.is_gone()).map(|r| r.member.name.clone())
    }

    /// A stream message in memberlist's format.
    pub(super) fn memberlist_stream(
        &mut self,
        now: Instant,
        from: A,
        via: Via,
        data: &[u8],
    ) -> Result<(), DecodeError> {
        let (label, accept) = (self.config.label.clone(), self.config.accept_unlabelled);
        let max = self.config.limits.max_stream_message_size;
        let limits = self.limits;
        let reply = matches!(via, Via::Reply(_));
        let msg = self.profile().open_stream(&label, accept, reply, data, &limits, max)?;
        let version = self.config.versions.protocol.current;
        match msg {
            ml::Message::PushPull(pp) => self.memberlist_push_pull(now, from, via, version, &pp),
            ml::Message::Err(e) => {
                // The answer to a join request that the seed refused, or an error about a
                // request of ours; anything else has nothing to refer to.
                let Via::Reply(r) = via else { return Err(DecodeError::WrongChannel) };
                let req = self.profile().take_request(r).ok_or(DecodeError::WrongChannel)?;
                if let Purpose::PushPull { id, kind: PushPullKind::Join } = req.purpose {
                    let refusal = wire::JoinRefused { id, from: "", reason: &e.error };
                    self.handle_message(now, &from, version, Message::JoinRefused(refusal));
                }
                Ok(())
            }
            ml::Message::Ping(p) => {
                // memberlist's TCP fallback ping: answered with an ack on the same connection.
                if !p.node.is_empty() && p.node != self.local.name.as_str() {
                    return Err(DecodeError::Misdirected);
                }
                let Via::Connection(conn) = via else { return Err(DecodeError::WrongChannel) };
                // Answers wait with the other transmits, under the same bound.
                if self.profile().ready.len() >= self.config.limits.max_pending_transmits {
                    self.stats.transmits_dropped += 1;
                    return Ok(());
                }
                let mut ack = Vec::new();
                ml::Message::Ack(ml::Ack { seq_no: p.seq_no, payload: Vec::new() }).encode(Transport::Stream, &mut ack);
                let mut bytes = Vec::new();
                let label = self.send_label();
                self.profile().seal_stream(&label, false, &ack, &mut bytes);
                self.stats.tcp_pings_answered += 1;
                let stream = StreamRole::Reply(conn);
                let ready = Ready { to: from, kind: TransmitKind::Stream, stream, message: None, bytes };
                self.profile().ready.push_back(ready);
                Ok(())
            }
            other => {
                let map = self.profile().map;
                let m = to_model_via(&map, &other)?.ok_or(DecodeError::WrongChannel)?;
                if let Via::Reply(r) = via {
                    // Only a TCP ping's ack answers a request with a message of this kind.
                    let req = self.profile().take_request(r).ok_or(DecodeError::WrongChannel)?;
                    if req.purpose != Purpose::Ping || !matches!(m, Message::Ack(_) | Message::ExtendedAck(_)) {
                        return Err(DecodeError::WrongChannel);
                    }
                    self.stats.tcp_ping_acks += 1;
                    // `from` is the address the ping went to: the ack counts as the target's.
                    self.handle_message(now, &req.to, version, m);
                    return Ok(());
                }
                // A stream comes from an ephemeral port: its sender is not known by address.
                self.handle_message(now, &from, version, m);
                Ok(())
            }
        }
    }

    /// A push-pull from memberlist: a request read from a connection (answered on it), or the
    /// reply to one of ours. memberlist's push-pull names neither its sender nor an id: the
    /// sender is the member at the address we asked (a reply) or the one member of the
    /// state at the connection's IP address (a request; none if several share it), and the id
    /// is the profile's.
    fn memberlist_push_pull(
        &mut self,
        now: Instant,
        from: A,
        via: Via,
        version: u8,
        pp: &ml::PushPull,
    ) -> Result<(), DecodeError> {
        let map = self.profile().map;
        let members =
            pp.nodes.iter().map(|n| member_state_via(&map, n)).collect::<Result<Vec<MemberState<'_, A>>, _>>()?;
        let (kind, id, from_addr) = match via {
            Via::Reply(r) => {
                let req = self.profile().take_request(r).ok_or(DecodeError::WrongChannel)?;
                let Purpose::PushPull { id, kind } = req.purpose else { return Err(DecodeError::WrongChannel) };
                (kind.reply(), id, req.to)
            }
            Via::Connection(c) => {
                let kind = if pp.join { PushPullKind::Join } else { PushPullKind::Periodic };
                (kind, self.profile().open_inbound(c), from.clone())
            }
            // No connection to answer on: merged, and the reply is dropped when polled.
            Via::Unknown => (if pp.join { PushPullKind::Join } else { PushPullKind::Periodic }, u32::MAX, from.clone()),
        };
        let sender = match members.iter().find(|m| m.addr == from_addr) {
            Some(m) => m.name,
            None => {
                let ip = (map.to_ip_port)(&from_addr).0;
                let mut same_ip = members.iter().filter(|m| (map.to_ip_port)(&m.addr).0 == ip);
                match (same_ip.next(), same_ip.next()) {
                    (Some(m), None) => m.name,
                    _ => "",
                }
            }
        };
        let p = wire::PushPull { kind, id, from: sender, from_addr, members, state: &pp.user_state };
        self.handle_message(now, &from, version, Message::PushPull(p));
        Ok(())
    }

    /// memberlist's TCP fallback ping of probe `seq`'s target, when the direct ping went
    /// unanswered (`Config::tcp_fallback_ping`, memberlist profile, a target of protocol 3 or
    /// later); its ack, read on the same connection, counts as the probe's.
    pub(super) fn send_tcp_ping(&mut self, seq: u32, target: &crate::member::Name, addr: &A) {
        if self.profile.is_none() || !self.config.tcp_fallback_ping {
            return;
        }
        let Some(i) = self.members.find(target) else { return };
        if self.members.get(i).peer.versions.protocol.max < 3 {
            return;
        }
        self.stats.tcp_pings_sent += 1;
        let route = self.route_to(i);
        self.queue(addr.clone(), Out::TcpPing { seq, target: target.clone() }, route);
    }

    /// Member `name`, which we hold suspect, acked our ping itself. swim members answer a
    /// suspicion older than their incarnation with their current alive record (see
    /// `accused`); memberlist ignores it, so a member that missed a memberlist member's
    /// refutation would keep suspecting it until the suspicion times out and declares a
    /// healthy member dead. In the memberlist profile we ask it for its state instead: a
    /// push-pull, whose reply carries its current incarnation. At most one per probe.
    pub(super) fn resync_suspect(&mut self, name: &str, addr: A) {
        if self.profile.is_none() {
            return;
        }
        let Some(i) = self.members.find(name) else { return };
        if self.members.get(i).member.state != crate::member::State::Suspect {
            return;
        }
        let id = self.exchanges.next_id();
        self.stats.push_pulls += 1;
        self.stats.suspects_resynced += 1;
        let route = self.route_to(i);
        self.queue(addr, Out::PushPull { kind: PushPullKind::Periodic, id }, route);
    }

    /// The label this member writes (none while `send_unlabelled`).
    fn send_label(&self) -> Bytes {
        if self.config.send_unlabelled { Bytes::new() } else { self.config.label.clone() }
    }

    /// The next transmit in memberlist's format.
    pub(super) fn memberlist_poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<Transmit<A>> {
        loop {
            if let Some(r) = self.profile().ready.pop_front() {
                buf.clear();
                buf.extend_from_slice(&r.bytes);
                self.count_out(r.kind, buf.len());
                return Some(Transmit {
                    destination: r.to,
                    kind: r.kind,
                    len: buf.len(),
                    message: r.message,
                    stream: r.stream,
                });
            }
            let out = self.transmits.pop_front()?;
            let kind = out.kind();
            let message = match out.body {
                Out::User { id, .. } => Some(id),
                _ => None,
            };
            let stream = match &out.body {
                Out::PushPull { kind, id } if kind.is_reply() => match self.profile().take_inbound(*id) {
                    Some(c) => StreamRole::Reply(c),
                    None => {
                        self.stats.replies_unroutable += 1;
                        continue;
                    }
                },
                Out::PushPull { kind, id } => {
                    let (purpose, to) = (Purpose::PushPull { id: *id, kind: *kind }, out.to.clone());
                    StreamRole::Request(self.profile().open_request(purpose, to))
                }
                Out::TcpPing { .. } => {
                    let to = out.to.clone();
                    StreamRole::Request(self.profile().open_request(Purpose::Ping, to))
                }
                Out::JoinRefused { id, .. } => match self.profile().take_inbound(*id) {
                    Some(c) => StreamRole::Reply(c),
                    None => {
                        self.stats.replies_unroutable += 1;
                        continue;
                    }
                },
                _ => StreamRole::OneWay,
            };
            let state = match out.body {
                Out::PushPull { kind, .. } => self.local_state(kind.exchange()),
                _ => Bytes::new(),
            };
            let label = self.send_label();
            let encrypted = self.profile().encrypted();
            let budget = self.config.packet_budget.saturating_sub(packet_overhead(&label, encrypted));
            // The transmit in swim's own format first: every protocol rule of encoding
            // (buddy suspicions, leave notices, snapshots, piggybacked gossip) lives there.
            let mut swim_bytes = core::mem::take(&mut self.scratch_buf);
            swim_bytes.clear();
            let version = out.route.version;
            let (local, peer, members, limits) = (&self.local, self.local_peer, &self.members, &self.config.limits);
            out.body.encode(&self.codec, version, local, peer, members, limits, &state, &mut swim_bytes);
            if kind == TransmitKind::Datagram {
                // memberlist's msgpack bodies spell out field names: about twice swim's bytes.
                let limit = self.config.retransmit_limit(self.num_members());
                self.dissemination.fill(budget / 2, limit, &mut swim_bytes);
                self.report_finished();
                self.check_leave_done();
            }
            let map = self.profile().map;
            let transport = if kind == TransmitKind::Stream { Transport::Stream } else { Transport::Packet };
            let mut parts: Vec<Vec<u8>> = Vec::new();
            // Our own bytes, just encoded with the same limits: they decode.
            let _ = self.codec.decode(&swim_bytes, &self.limits, &mut |m| {
                let mut part = Vec::new();
                from_model_via(&map, &m).encode(transport, &mut part);
                parts.push(part);
            });
            self.scratch_buf = swim_bytes;
            if parts.is_empty() {
                continue; // a gossip slot with nothing left to gossip
            }
            let to = out.to;
            // `Config::compression` is memberlist's `EnableCompression` here (LZW).
            let compress = self.config.compression.is_some();
            let profile = self.profile.as_mut().expect("the memberlist profile is installed");
            if kind == TransmitKind::Stream {
                // A stream transmit is one message; the connection's opener writes the label.
                for part in &parts {
                    let mut bytes = Vec::new();
                    // memberlist compresses every stream message when compression is on.
                    let compressed;
                    let part = if compress {
                        let mut c = Vec::with_capacity(part.len() / 2);
                        crate::wire::memberlist::lzw::compress(part, &mut c);
                        compressed = c;
                        &compressed
                    } else {
                        part
                    };
                    profile.seal_stream(&label, !matches!(stream, StreamRole::Reply(_)), part, &mut bytes);
                    profile.ready.push_back(Ready { to: to.clone(), kind, stream, message, bytes });
                }
            } else {
                let mut packets = Vec::new();
                // At protocol 5 a packet carries memberlist's CRC (5 bytes, left out of the budget).
                let crc = self.config.versions.protocol.current >= 5;
                pack(&parts, budget.saturating_sub(if crc { 5 } else { 0 }), |p| packets.push(p));
                for p in packets {
                    let mut bytes = Vec::new();
                    // Compressed only when that makes the packet smaller, as memberlist does.
                    let p = match compress {
                        true => {
                            let mut c = Vec::with_capacity(p.len());
                            crate::wire::memberlist::lzw::compress(&p, &mut c);
                            if c.len() < p.len() { c } else { p }
                        }
                        false => p,
                    };
                    let p = if crc {
                        let mut with = Vec::with_capacity(p.len() + 5);
                        crate::wire::memberlist::add_crc(&p, &mut with);
                        with
                    } else {
                        p
                    };
                    profile.seal_packet(&label, &p, &mut bytes);
                    profile.ready.push_back(Ready { to: to.clone(), kind, stream, message, bytes });
                }
            }
        }
    }
}
