//! The state machine's hub: where probing, suspicion, awareness, dissemination and
//! push-pull meet. See the crate docs for the run-loop contract.
//!
//! Each concern's module owns its state and rules and answers with decisions (the prober's
//! `AckFor` and `ProbeDue`, the suspicion table's `Confirmed`, ...); this file
//! keeps construction, queries, the `handle_*` inputs with decoding and dispatch, the commands,
//! the `poll_*` outputs, and the claim rules (alive, suspect, dead, refute) that tie the member
//! table to them.

mod memberlist;

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use core::time::Duration;

use bytes::Bytes;

use crate::awareness::Awareness;
use crate::config::{Config, MESSAGE_OVERHEAD};
use crate::coordinates::{Coordinate, Vivaldi};
use crate::damping::Penalties;
use crate::dissemination::{Dissemination, Pushed, gossip_targets, leave_targets, update_of};
use crate::error::{CommandError, ConfigError, DecodeError, NewError};
use crate::event::{Event, EventQueue, JoinId, PingId, RefusalReason};
use crate::hooks::{
    Candidate, Exchange, FinishedBroadcast, Hooks, Installed, ProbeCompleted, ProbePath, Refusal, Verdict,
};
use crate::member::{Address, Claim, Member, Name, State, overrides};
use crate::membership::{Membership, RemoteCoordinate};
use crate::probe::{self, AckFor, ProbeDue, Prober};
use crate::push_pull::{AfterAttempt, Exchanges, Finished, Update, as_update, choose_reconnect, follow_up};
use crate::rng::SwimRng;
use crate::stats::Stats;
use crate::suspicion::{Confirmed, Suspicion, Suspicions};
use crate::time::Instant;
use crate::timers::{Timer, TimerTable, stagger};
use crate::versions::{Capabilities, Peer, VersionRange, Versions};
use crate::wire::memberlist::model::{AddressMap, IpPort};
use crate::wire::{self, Codec, DecodeLimits, Message, PostcardCodec, PushPullKind};

#[cfg(feature = "encryption")]
use crate::security::Keyring;
use crate::security::{Opened, Sealer};

pub use crate::member::Identity;
pub use crate::transmit::{
    BroadcastId, ConnectionId, MemoryUsage, MessageId, RequestId, StreamRole, Transmit, TransmitKind,
};
use crate::transmit::{Out, Outgoing, Route};

/// Largest datagram accepted inbound, whatever the sender's budget (the UDP maximum).
pub const MAX_DATAGRAM: usize = 65_535;

/// Live members a leaving member sends its leave notice to directly, on top of gossiping it:
/// every member of a cluster of up to 17, where the notice's few gossip transmits could miss
/// one; in a larger cluster these and their re-gossip reach the rest. One datagram each, once.
pub const LEAVE_DIRECT_FANOUT: usize = 16;

/// Mixed into the seed for the coordinate system's own generator.
const COORDINATE_SEED: u64 = 0x5669_7661_6c64_6921;

/// One SWIM + Lifeguard member, as a deterministic state machine.
///
/// Inputs are the `handle_*` methods and the commands ([`join`](Self::join),
/// [`leave`](Self::leave), [`update_metadata`](Self::update_metadata),
/// [`broadcast`](Self::broadcast), [`send_user_message`](Self::send_user_message)); every one
/// takes `now`. Outputs are drained with the `poll_*` methods.
///
/// # Drain order
///
/// After **every** input, call [`poll_transmit`](Self::poll_transmit) until it returns `None`,
/// then [`poll_event`](Self::poll_event) until it returns `None`, then read
/// [`poll_timeout`](Self::poll_timeout) and call [`handle_timeout`](Self::handle_timeout) no
/// later than that instant (it may be called early or late; late calls are how a starved
/// process looks, and Lifeguard is designed for them). Transmits are encoded when polled, so
/// polling late piggybacks the freshest gossip; a transmit queue left undrained is bounded by
/// `limits.max_pending_transmits` and drops the excess (counted). Events are bounded by
/// `limits.max_pending_events`; past it, membership changes are replaced by one
/// [`Event::Lagged`] with a snapshot of the member table, and other events drop the oldest
/// (see [`crate::event`]; every drop is counted).
///
/// Nothing here reads a clock, sleeps, spawns or does I/O; randomness comes from the seed.
/// The same seed, configuration and sequence of calls produce the same outputs, bit for bit.
#[derive(Debug)]
pub struct Swim<A: Address, C: Codec<A> = PostcardCodec> {
    config: Config,
    limits: DecodeLimits,
    codec: C,
    local: Member<A>,
    /// What the local member speaks: `config.versions` and its capabilities.
    local_peer: Peer,
    leaving: bool,
    leave_done: bool,
    members: Membership<A>,
    rng: SwimRng,
    awareness: Awareness,
    prober: Prober<A>,
    suspicions: Suspicions,
    /// Flap damping's penalties (used only with `config.damping`).
    penalties: Penalties,
    dissemination: Dissemination,
    next_message_id: u64,
    exchanges: Exchanges<A>,
    timers: TimerTable,
    transmits: VecDeque<Outgoing<A>>,
    events: EventQueue<A>,
    stats: Stats,
    scratch_idx: Vec<usize>,
    scratch_removed: Vec<Member<A>>,
    scratch_buf: Vec<u8>,
    sealer: Sealer,
    hooks: Installed<A>,
    /// The local coordinate system, with `config.coordinates` on.
    vivaldi: Option<Vivaldi>,
    /// The coordinate system's own randomness (seeded from the seed, not drawn from `rng`, so
    /// that turning coordinates on does not change the protocol's random choices).
    coordinate_rng: SwimRng,
    next_ping_id: u64,
    /// The memberlist wire profile's state, with `config.wire` = `WireProfile::Memberlist`.
    profile: Option<crate::wire::memberlist::profile::Profile<A>>,
}

impl<A: Address> Swim<A, PostcardCodec> {
    /// A member with swim's own wire format. Validates `config` and `identity`. A
    /// configuration in the memberlist profile is refused
    /// ([`NewError::WireNeedsIpAddresses`]): use [`with_wire`](Self::with_wire).
    pub fn new(config: Config, identity: Identity<A>, seed: u64, now: Instant) -> Result<Self, NewError> {
        Self::with_codec(PostcardCodec, config, identity, seed, now)
    }
}

impl<A: Address + IpPort> Swim<A, PostcardCodec> {
    /// A member speaking `config.wire`'s profile: swim's own format (as [`new`](Self::new))
    /// or Go memberlist's ([`crate::WireProfile::Memberlist`], which needs addresses that are
    /// IP addresses and ports, as `SocketAddr` is).
    pub fn with_wire(config: Config, identity: Identity<A>, seed: u64, now: Instant) -> Result<Self, NewError> {
        let profile = (config.wire == crate::config::WireProfile::Memberlist)
            .then(|| crate::wire::memberlist::profile::Profile::new(AddressMap::of()));
        Self::build(PostcardCodec, config, identity, seed, now, profile)
    }
}

impl<A: Address, C: Codec<A>> Swim<A, C> {
    /// A member speaking `codec`.
    pub fn with_codec(
        codec: C,
        config: Config,
        identity: Identity<A>,
        seed: u64,
        now: Instant,
    ) -> Result<Self, NewError> {
        if config.wire == crate::config::WireProfile::Memberlist {
            return Err(NewError::WireNeedsIpAddresses);
        }
        Self::build(codec, config, identity, seed, now, None)
    }

    /// The constructor behind [`with_codec`](Self::with_codec) and
    /// [`with_wire`](Swim::with_wire): `profile` is the memberlist profile's state.
    fn build(
        codec: C,
        config: Config,
        identity: Identity<A>,
        seed: u64,
        now: Instant,
        profile: Option<crate::wire::memberlist::profile::Profile<A>>,
    ) -> Result<Self, NewError> {
        config.validate()?;
        if identity.name.is_empty() || identity.name.len() > config.limits.max_name_len {
            return Err(NewError::BadName { len: identity.name.len(), max: config.limits.max_name_len });
        }
        if identity.meta.len() > config.max_metadata_size {
            return Err(NewError::MetadataTooLarge { len: identity.meta.len(), max: config.max_metadata_size });
        }
        let mut rng = SwimRng::from_seed_u64(seed);
        // The hashers are drawn in this order; changing it changes every trace.
        let broadcast_hasher = rng.hash_state();
        let members = Membership::new(rng.hash_state());
        let (membership_hasher, user_hasher) = (rng.hash_state(), rng.hash_state());
        let seen_hasher = rng.hash_state();
        let dissemination =
            Dissemination::new(&config.limits, broadcast_hasher, membership_hasher, user_hasher, seen_hasher);
        let rng_hash = rng.hash_state();
        // Stagger the periodic timers so members started together do not tick together.
        let mut timers = TimerTable::default();
        timers.set(Timer::Probe, now + stagger(&mut rng, config.probe_interval));
        timers.set(Timer::Gossip, now + stagger(&mut rng, config.gossip_interval));
        if let Some(d) = config.push_pull_interval {
            timers.set(Timer::PushPull, now + stagger(&mut rng, d));
        }
        if let Some(d) = config.reconnect_interval {
            timers.set(Timer::Reconnect, now + d + stagger(&mut rng, d));
        }
        let local = Member {
            name: identity.name,
            addr: identity.addr,
            meta: identity.meta,
            incarnation: identity.incarnation,
            state: State::Alive,
            state_changed: now,
        };
        let extended_ack = config.ack_payloads || config.coordinates.is_some();
        let capabilities =
            Capabilities::NONE.with_compression(config.compression.is_some()).with_extended_ack(extended_ack);
        let local_peer = Peer { versions: config.versions, capabilities };
        Ok(Swim {
            limits: DecodeLimits::from_config(&config),
            local_peer,
            awareness: Awareness::new(config.lifeguard.awareness_max_multiplier, config.lifeguard.awareness),
            prober: Prober::new(config.limits.max_relays, config.limits.max_pings_in_flight),
            codec,
            local,
            leaving: false,
            leave_done: false,
            members,
            rng,
            suspicions: Suspicions::new(rng_hash),
            penalties: Penalties::new(rng_hash),
            dissemination,
            next_message_id: 0,
            exchanges: Exchanges::new(),
            timers,
            transmits: VecDeque::new(),
            events: EventQueue::default(),
            stats: Stats::default(),
            scratch_idx: Vec::new(),
            scratch_removed: Vec::new(),
            scratch_buf: Vec::new(),
            sealer: Sealer::new(config.versions.protocol),
            hooks: Installed::default(),
            vivaldi: config.coordinates.clone().map(Vivaldi::new),
            coordinate_rng: SwimRng::from_seed_u64(seed ^ COORDINATE_SEED),
            next_ping_id: 0,
            profile,
            config,
        })
    }

    // ------------------------------------------------------------------ queries

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The local member as the cluster should see it.
    pub fn local(&self) -> &Member<A> {
        &self.local
    }

    /// Every member known, the local one first, in every state (dead and left members stay
    /// until their retention ends).
    pub fn members(&self) -> impl Iterator<Item = &Member<A>> + '_ {
        core::iter::once(&self.local).chain(self.members.records().iter().map(|r| &r.member))
    }

    /// One member by name (the local member included).
    pub fn member(&self, name: &str) -> Option<&Member<A>> {
        if self.local.name == name { Some(&self.local) } else { self.members.by_name(name).map(|r| &r.member) }
    }

    /// The protocol and application version ranges member `name` speaks, as its alive record
    /// said (this member's own `Config::versions` for the local name). A member restored with
    /// [`restore`](Self::restore) is taken to speak only `versions.protocol.min` (and this
    /// member's application versions) until it announces itself. `None` for a name not held.
    pub fn versions_of(&self, name: &str) -> Option<Versions> {
        self.peer_of(name).map(|p| p.versions)
    }

    /// The optional features member `name` accepts, as its alive record said.
    pub fn capabilities_of(&self, name: &str) -> Option<Capabilities> {
        self.peer_of(name).map(|p| p.capabilities)
    }

    /// This member's network coordinate, with [`Config::coordinates`] on (see
    /// [`crate::coordinates`]); it starts at the origin and moves with every direct probe
    /// whose target sent its own coordinate.
    pub fn coordinate(&self) -> Option<&Coordinate> {
        self.vivaldi.as_ref().map(Vivaldi::coordinate)
    }

    /// The last coordinate member `name` sent in an ack to one of this member's probes (this
    /// member's own for the local name). `None` with coordinates off, for a name not held, or
    /// before the first such ack. Kept in the member's record, so dropped with it.
    pub fn coordinate_of(&self, name: &str) -> Option<&Coordinate> {
        if self.local.name == name {
            return self.coordinate();
        }
        self.members.by_name(name)?.coordinate.as_ref().map(|r| &r.coordinate)
    }

    /// The round-trip time between members `a` and `b` (either may be the local member) as
    /// their coordinates estimate it ([`Coordinate::estimate_rtt`]). `None` unless both
    /// coordinates are known ([`coordinate_of`](Self::coordinate_of)).
    pub fn estimate_rtt(&self, a: &str, b: &str) -> Option<Duration> {
        Some(self.coordinate_of(a)?.estimate_rtt(self.coordinate_of(b)?))
    }

    fn peer_of(&self, name: &str) -> Option<Peer> {
        if self.local.name == name { Some(self.local_peer) } else { self.members.by_name(name).map(|r| r.peer) }
    }

    /// Alive and suspect members, the local one included: the `n` of every formula.
    pub fn num_members(&self) -> usize {
        self.members.live() + 1
    }

    /// Members held in the table (all states, local excluded); bounded by `limits.max_members`.
    pub fn table_len(&self) -> usize {
        self.members.len()
    }

    /// The current suspicion of `name`, if it is suspect here.
    pub fn suspicion(&self, name: &str) -> Option<&Suspicion> {
        self.suspicions.get(name)
    }

    /// The local health score (Lifeguard awareness), `0..awareness_max_multiplier`.
    pub fn health_score(&self) -> u32 {
        self.awareness.score()
    }

    /// The probe interval in force (scaled by the health score).
    pub fn probe_interval(&self) -> Duration {
        self.awareness.scale(self.config.probe_interval)
    }

    /// The probe timeout in force (scaled by the health score if so configured).
    pub fn probe_timeout(&self) -> Duration {
        if self.config.lifeguard.scale_probe_timeout {
            self.awareness.scale(self.config.probe_timeout)
        } else {
            self.config.probe_timeout
        }
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Updates waiting in the membership and user piggyback queues.
    pub fn queue_depth(&self) -> (usize, usize) {
        self.dissemination.depths()
    }

    /// Transmits and events waiting to be polled.
    pub fn pending_outputs(&self) -> (usize, usize) {
        (self.transmits.len(), self.events.len())
    }

    /// Ping-reqs this member is relaying for others (relays in progress).
    pub fn relays_in_progress(&self) -> usize {
        self.prober.relays()
    }

    /// Approximate heap bytes held (an estimate from sizes and capacities, not an allocator
    /// count; the performance benchmarks measure the latter).
    pub fn memory_usage(&self) -> MemoryUsage {
        let seen = self
            .config
            .limits
            .seen_broadcasts
            .min(self.stats.user_broadcasts as usize + self.dissemination.broadcasts_originated() as usize);
        MemoryUsage {
            member_table: self.members.heap_bytes(),
            queues: self.dissemination.heap_bytes(seen),
            other: self.transmits.capacity() * core::mem::size_of::<Outgoing<A>>()
                + self.events.capacity() * core::mem::size_of::<Event<A>>()
                + self.prober.heap_bytes()
                + self.suspicions.heap_bytes()
                + self.penalties.heap_bytes()
                + self.profile.as_ref().map_or(0, |p| p.heap_bytes()),
        }
    }

    /// Whether flap damping ([`Config::damping`]) holds member `name` down: treat it as failed
    /// whatever its state (see [`Event::MemberHeldDown`]). Always false without damping.
    pub fn is_held_down(&self, name: &str) -> bool {
        self.penalties.is_held(name)
    }

    /// The members flap damping holds down, in the order they were held down.
    pub fn held_down(&self) -> impl Iterator<Item = &Name> + '_ {
        self.penalties.held().iter()
    }

    /// Member `name`'s flap-damping penalty at `now` (0 without damping; see
    /// [`crate::damping`]).
    pub fn damping_penalty(&self, name: &str, now: Instant) -> u32 {
        self.config.damping.map_or(0, |d| self.penalties.penalty(&d, name, now))
    }

    /// Whether [`leave`](Self::leave) was called.
    pub fn is_leaving(&self) -> bool {
        self.leaving
    }

    // ------------------------------------------------------------------ inputs

    /// A datagram arrived from `from`. Rejected input returns the reason and changes nothing
    /// but the counters.
    pub fn handle_datagram(&mut self, now: Instant, from: A, data: &[u8]) -> Result<(), DecodeError> {
        self.stats.packets_in += 1;
        self.stats.bytes_in += data.len() as u64;
        if data.len() > MAX_DATAGRAM {
            return self.reject(DecodeError::Oversized);
        }
        if self.profile.is_some() {
            return self.memberlist_input(now, from, data, None);
        }
        self.handle_packet(now, from, data, false)
    }

    /// A message arrived over a reliable stream (one frame body) from `from`. In the
    /// memberlist profile, prefer [`handle_stream_on`](Self::handle_stream_on): a push-pull
    /// that arrives here is merged but cannot be answered.
    pub fn handle_stream(&mut self, now: Instant, from: A, data: &[u8]) -> Result<(), DecodeError> {
        self.stream_input(now, from, data, memberlist::Via::Unknown)
    }

    /// A message arrived on inbound connection `conn` (the driver's name for it, unique among
    /// its open connections) from `from`. A reply the core sends on that connection comes as a
    /// transmit with [`StreamRole::Reply`]`(conn)`; once the core has been drained after this
    /// call, nothing more comes for it and the driver may close it. In swim's own profile the
    /// same as [`handle_stream`](Self::handle_stream).
    pub fn handle_stream_on(
        &mut self,
        now: Instant,
        from: A,
        conn: ConnectionId,
        data: &[u8],
    ) -> Result<(), DecodeError> {
        self.stream_input(now, from, data, memberlist::Via::Connection(conn))
    }

    /// The reply to a transmit with [`StreamRole::Request`]`(request)`, read from the
    /// connection that transmit opened to `from`. A reply to a request the core no longer
    /// knows is refused ([`DecodeError::WrongChannel`]).
    pub fn handle_stream_reply(
        &mut self,
        now: Instant,
        from: A,
        request: RequestId,
        data: &[u8],
    ) -> Result<(), DecodeError> {
        if self.profile.is_none() {
            self.stats.streams_in += 1;
            return self.reject(DecodeError::WrongChannel);
        }
        self.stream_input(now, from, data, memberlist::Via::Reply(request))
    }

    fn stream_input(&mut self, now: Instant, from: A, data: &[u8], via: memberlist::Via) -> Result<(), DecodeError> {
        self.stats.streams_in += 1;
        self.stats.stream_bytes_in += data.len() as u64;
        if data.len() > self.config.limits.max_stream_message_size {
            return self.reject(DecodeError::Oversized);
        }
        if self.profile.is_some() {
            return self.memberlist_input(now, from, data, Some(via));
        }
        self.handle_packet(now, from, data, true)
    }

    /// Input in the memberlist profile: a datagram (`via` none) or a stream message.
    fn memberlist_input(
        &mut self,
        now: Instant,
        from: A,
        data: &[u8],
        via: Option<memberlist::Via>,
    ) -> Result<(), DecodeError> {
        if !self.hooks.0.allow_address(&from) {
            return self.reject(DecodeError::AddressNotAllowed);
        }
        let r = match via {
            None => self.memberlist_datagram(now, from, data),
            Some(via) => self.memberlist_stream(now, from, via, data),
        };
        r.or_else(|e| self.reject(e))
    }

    /// How stream messages are delimited on a connection, for the driver's reader: swim's
    /// length-prefixed frames, or memberlist's messages, which carry no length of their own.
    pub fn stream_framing(&self) -> wire::frame::StreamFraming {
        match self.profile {
            None => wire::frame::StreamFraming::Frames,
            Some(_) => wire::frame::StreamFraming::Memberlist {
                limits: self.limits,
                max: self.config.limits.max_stream_message_size,
            },
        }
    }

    /// Install (or with `None`, remove) memberlist's keyring: in the memberlist profile every
    /// packet and stream is then encrypted with its primary key and opened with any of its
    /// keys, and unencrypted input is refused (memberlist's `GossipVerifyIncoming` and
    /// `GossipVerifyOutgoing`, both on). Returns false, installing nothing, in swim's own
    /// profile (which has [`set_keyring`](Self::set_keyring)).
    #[cfg(feature = "encryption")]
    pub fn set_memberlist_keyring(
        &mut self,
        keyring: Option<crate::wire::memberlist::profile::MemberlistKeyring>,
    ) -> bool {
        match &mut self.profile {
            Some(p) => {
                p.set_keyring(keyring);
                true
            }
            None => false,
        }
    }

    /// memberlist's keyring, to rotate keys, if one is installed.
    #[cfg(feature = "encryption")]
    pub fn memberlist_keyring_mut(&mut self) -> Option<&mut crate::wire::memberlist::profile::MemberlistKeyring> {
        self.profile.as_mut().and_then(|p| p.keyring_mut())
    }

    /// A stream transmit to `to` could not be delivered (connect or write failed, or no
    /// reply came to a [`StreamRole::Request`]). Joins waiting on that address count it as
    /// unreached.
    pub fn handle_stream_failed(&mut self, now: Instant, to: &A) {
        if let Some(p) = &mut self.profile {
            p.forget_requests_to(to);
        }
        let mut done = Vec::new();
        self.exchanges.joins.failed(to, &mut done);
        self.finish_joins(now, done);
    }

    /// Time passed. Call at (or after) [`poll_timeout`](Self::poll_timeout); extra calls are
    /// harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.prober.poll_due(now) {
            Some(ProbeDue::AskHelpers) => self.send_ping_reqs(),
            Some(ProbeDue::Failed(p)) => {
                self.stats.probe_failures += 1;
                self.adjust_health_score(p.failure_penalty());
                let from = self.local.name.clone();
                self.on_suspect(now, wire::Suspect { incarnation: p.incarnation, name: &p.target, from: &from });
            }
            None => {}
        }
        self.relay_timers(now);
        let mut timed_out = Vec::new(); // allocates only when a ping timed out
        self.prober.expire_pings(now, |p| timed_out.push(p));
        for p in timed_out {
            self.stats.pings_timed_out += 1;
            self.emit(Event::PingCompleted { id: p.id, name: p.name, addr: p.addr, rtt: None });
        }
        while let Some(name) = self.suspicions.pop_expired(now) {
            let Some(i) = self.members.find(&name) else { continue };
            if self.members.get(i).member.state == State::Suspect {
                self.suspicion_expired(now, i);
            }
        }
        let mut done = Vec::new();
        self.exchanges.joins.expire(now, &mut done);
        self.finish_joins(now, done);
        for timer in Timer::ALL {
            if self.timers.is_due(timer, now) {
                match timer {
                    Timer::Probe => self.start_probe(now),
                    Timer::Gossip => self.gossip_tick(now),
                    Timer::PushPull => self.push_pull_tick(now),
                    Timer::Reconnect => self.reconnect_tick(now),
                }
            }
        }
        if self.exchanges.joins.retry_deadline().is_some_and(|t| t <= now) {
            self.join_retry_tick(now);
        }
        self.readmit(now);
    }

    // ------------------------------------------------------------------ commands

    /// Ping member `name` (alive or suspect here) once, outside the probe cycle
    /// (memberlist's `Ping`). The outcome is an [`Event::PingCompleted`] with the returned id:
    /// the round-trip time, or `None` if no ack came within the probe timeout in force now
    /// ([`probe_timeout`](Self::probe_timeout)). With coordinates on, the ack's coordinate
    /// updates this member's as a probe's would. At most `limits.max_pings_in_flight` at once.
    pub fn ping(&mut self, now: Instant, name: &str) -> Result<PingId, CommandError> {
        let i = self.members.find(name).filter(|&i| !self.members.get(i).member.state.is_gone());
        let i = i.ok_or(CommandError::UnknownMember)?;
        let addr = self.members.get(i).member.addr.clone();
        let extended = self.extended_ping_to(i);
        let route = self.route_to(i);
        self.send_ping(now, Some(Name::from(name)), addr, extended, route)
    }

    /// Ping whatever member listens at `addr`, known here or not: the ping names no target, so
    /// any member of this version or later answers it (an older one drops it as malformed, and
    /// the ping times out). As [`ping`](Self::ping) otherwise, without extended acks.
    pub fn ping_addr(&mut self, now: Instant, addr: A) -> Result<PingId, CommandError> {
        let route = self.route_to_addr(&addr);
        self.send_ping(now, None, addr, false, route)
    }

    fn send_ping(
        &mut self,
        now: Instant,
        name: Option<Name>,
        addr: A,
        extended: bool,
        route: Route,
    ) -> Result<PingId, CommandError> {
        if self.transmits.len() >= self.config.limits.max_pending_transmits {
            return Err(CommandError::TransmitQueueFull);
        }
        let id = PingId(self.next_ping_id);
        let deadline = now + self.probe_timeout();
        let target = name.clone().unwrap_or_else(|| Name::from(""));
        let seq = self.prober.start_ping(id, name, addr.clone(), now, deadline).ok_or(CommandError::TooManyPings)?;
        self.next_ping_id += 1;
        self.stats.pings_sent += 1;
        self.queue(addr, Out::Ping { seq, target, buddy: None, extended }, route);
        Ok(id)
    }

    /// Contact `seeds` with a push-pull each. A [`Event::JoinCompleted`] with the same id
    /// reports how many answered. The local address is skipped.
    pub fn join(&mut self, now: Instant, seeds: impl IntoIterator<Item = A>) -> Result<JoinId, CommandError> {
        if self.leaving {
            return Err(CommandError::Leaving);
        }
        let seeds: Vec<A> = seeds.into_iter().filter(|s| *s != self.local.addr).collect();
        if self.exchanges.joins.pending() + seeds.len() > self.config.limits.max_pending_joins {
            return Err(CommandError::TooManyJoins);
        }
        if self.transmits.len() + seeds.len() > self.config.limits.max_pending_transmits {
            return Err(CommandError::TransmitQueueFull);
        }
        let id = self.exchanges.joins.start(seeds.clone());
        // Announce ourselves too, as memberlist does on creation: the seed gossips us, but in
        // a join burst most members hear of a newcomer from their own join reply and do not
        // pass it on, so the newcomer's own gossip is what reaches the rest quickly.
        self.gossip_local_alive();
        self.send_join(now, id, seeds);
        Ok(id)
    }

    /// Send attempt of join `id` to `seeds`: one push-pull each.
    fn send_join(&mut self, now: Instant, id: JoinId, seeds: Vec<A>) {
        let deadline = now + self.config.stream_timeout;
        for seed in seeds {
            let request = self.exchanges.next_id();
            self.exchanges.joins.add(id, seed.clone(), request, deadline);
            self.stats.push_pulls += 1;
            let route = self.route_unknown();
            self.queue(seed, Out::PushPull { kind: PushPullKind::Join, id: request }, route);
        }
        if let Some(f) = self.exchanges.joins.finish_if_empty(id) {
            self.finish_joins(now, [f]);
        }
    }

    /// A join retry is due: try the seeds again, unless a member at one of their addresses is
    /// alive here already (the member joined some other way) or the transmit queue is full (try
    /// at the next backoff step instead).
    fn join_retry_tick(&mut self, now: Instant) {
        let Some(retry) = self.exchanges.joins.take_due_retry(now) else { return };
        if self.leaving {
            return;
        }
        let joined = self
            .members
            .records()
            .iter()
            .any(|r| r.member.state == State::Alive && retry.seeds.contains(&r.member.addr));
        if joined {
            return;
        }
        let room = self.config.limits.max_pending_joins.saturating_sub(self.exchanges.joins.pending());
        if self.transmits.len() + retry.seeds.len() > self.config.limits.max_pending_transmits
            || retry.seeds.len() > room
        {
            // Count this attempt as one that reached nobody; the backoff continues.
            let f = Finished {
                id: retry.join,
                reached: 0,
                attempted: retry.seeds.len(),
                refused: 0,
                seeds: retry.seeds,
                attempt: retry.attempt,
            };
            self.finish_joins(now, [f]);
            return;
        }
        self.stats.join_retries += 1;
        let (id, seeds) = (retry.join, retry.seeds.clone());
        self.exchanges.joins.restart(retry);
        self.send_join(now, id, seeds);
    }

    /// Leave gracefully: gossip a leave notice, stop probing. [`Event::LeaveCompleted`] follows
    /// once the notice has been sent as often as any update. Calling it again does nothing.
    pub fn leave(&mut self, now: Instant) -> Result<(), CommandError> {
        if self.leaving {
            return Ok(());
        }
        self.leaving = true;
        self.exchanges.joins.cancel_retry();
        self.prober.stop();
        self.local.state = State::Left;
        self.local.state_changed = now;
        let name = self.local.name.clone();
        let dead = Message::Dead(wire::Dead { incarnation: self.local.incarnation, name: &name, from: &name });
        let bytes = self.encode_one(&dead);
        self.push_gossip(name, bytes);
        // Gossip alone leaves the notice `retransmit_limit` transmits, which in a small cluster
        // (2 with the local preset) can all go to dead members or the same few peers, so a live
        // member hears nothing and later suspects and fails the leaver. Tell up to
        // `LEAVE_DIRECT_FANOUT` live members directly as well.
        let mut direct = core::mem::take(&mut self.scratch_idx);
        leave_targets(&self.members, &mut self.rng, LEAVE_DIRECT_FANOUT, &mut direct);
        for &i in &direct {
            let to = self.members.get(i).member.addr.clone();
            let route = self.route_to(i);
            self.queue(to, Out::Leave { incarnation: self.local.incarnation }, route);
        }
        self.scratch_idx = direct;
        if self.members.live() == 0 {
            self.leave_done = true;
            self.emit(Event::LeaveCompleted);
        }
        Ok(())
    }

    /// Replace the local metadata and announce it (a new incarnation).
    pub fn update_metadata(&mut self, _now: Instant, meta: impl Into<Bytes>) -> Result<(), CommandError> {
        let meta = meta.into();
        if meta.len() > self.config.max_metadata_size {
            return Err(CommandError::MetadataTooLarge);
        }
        if self.leaving {
            return Err(CommandError::Leaving);
        }
        self.local.meta = meta;
        self.local.incarnation = self.local.incarnation.saturating_add(1);
        self.gossip_local_alive();
        Ok(())
    }

    /// Gossip `payload` to every member. A later broadcast with the same non-empty `key`, from
    /// this member or any other, replaces this one in every queue it still waits in. Returns
    /// the broadcast's id, which [`Hooks::broadcast_finished`] is told when the broadcast
    /// leaves this member's queue.
    pub fn broadcast(
        &mut self,
        _now: Instant,
        key: Option<&[u8]>,
        payload: impl Into<Bytes>,
    ) -> Result<BroadcastId, CommandError> {
        let payload = payload.into();
        let key = key.unwrap_or_default();
        if payload.len() > self.config.limits.max_user_broadcast_size || key.len() > self.config.limits.max_name_len {
            return Err(CommandError::PayloadTooLarge);
        }
        if self.leaving {
            return Err(CommandError::Leaving);
        }
        let id = self.dissemination.next_broadcast_id();
        let origin = self.local.name.clone();
        self.dissemination.first_sight(&origin, id);
        let msg = Message::Broadcast(wire::UserBroadcast { origin: &origin, id, key, payload: &payload });
        let bytes = self.encode_one(&msg);
        if self.dissemination.push_user(origin, id, key, bytes, true) == Pushed::Evicted {
            self.stats.user_broadcasts_dropped += 1;
        }
        self.report_finished();
        Ok(BroadcastId(id))
    }

    /// Send `payload` to the member at `to`: in one datagram (best effort, with gossip
    /// piggybacked) or over the reliable stream. The returned id is on the [`Transmit`] that
    /// carries the message; if the transmit queue drops it, no transmit carries it.
    pub fn send_user_message(
        &mut self,
        _now: Instant,
        to: A,
        payload: impl Into<Bytes>,
        reliable: bool,
    ) -> Result<MessageId, CommandError> {
        let payload = payload.into();
        let max = if reliable {
            self.config.limits.max_user_message_size
        } else {
            self.config.packet_budget.saturating_sub(self.local.name.len() + MESSAGE_OVERHEAD)
        };
        if payload.len() > max {
            return Err(CommandError::PayloadTooLarge);
        }
        if self.transmits.len() >= self.config.limits.max_pending_transmits {
            return Err(CommandError::TransmitQueueFull);
        }
        let id = MessageId(self.next_message_id);
        self.next_message_id = self.next_message_id.wrapping_add(1);
        // A reliable message opens a stream anyway: finding its member in the table (a scan)
        // is cheap next to that, and lets it be negotiated (and compressed). A best-effort one
        // goes at `min`, like any datagram to an address.
        let route = if reliable { self.route_to_addr(&to) } else { self.route_unknown() };
        self.queue(to, Out::User { payload, reliable, id }, route);
        Ok(id)
    }

    /// Insert members from a snapshot (a previous run's member list, or a simulator's warm
    /// start) without gossiping them and without events: the caller already knows them.
    /// Unknown names only; suspect members are taken as alive (no timer is running for them
    /// here). Members with an invalid name or metadata, the local name, and members that do not
    /// fit in `limits.max_members` are skipped. Returns how many were added.
    pub fn restore(&mut self, now: Instant, members: impl IntoIterator<Item = Member<A>>) -> usize {
        let members = members.into_iter();
        self.members.reserve(members.size_hint().0.min(self.config.limits.max_members));
        let (max_name, max_meta) = (self.config.limits.max_name_len, self.config.max_metadata_size);
        let local = self.local.name.clone();
        let fresh = members.map(|m| {
            let state = if m.state == State::Suspect { State::Alive } else { m.state };
            Member { state, state_changed: now, ..m }
        });
        // What restored members speak is not known until they announce it: take them to speak
        // only the oldest protocol version this member reads (which every member reads until an
        // operator raises it), and this member's application versions and capabilities (every
        // member reads compressed streams, so wanting them is only a preference).
        let versions = Versions {
            protocol: VersionRange::only(self.config.versions.protocol.min),
            application: self.config.versions.application,
        };
        let peer = Peer { versions, capabilities: self.local_peer.capabilities };
        let (added, full) = self.members.extend(
            fresh,
            peer,
            self.config.limits.max_members,
            |m| !m.name.is_empty() && m.name.len() <= max_name && m.meta.len() <= max_meta && m.name != local,
            &mut self.rng,
        );
        self.stats.members_rejected += full as u64;
        // The first periodic push-pull was staggered within one unscaled interval; with a
        // large restored table that would make every member exchange its whole state at once.
        if added > 0
            && let Some(scaled) = self.config.push_pull_interval_for(self.num_members())
        {
            self.timers.set(Timer::PushPull, now + stagger(&mut self.rng, scaled));
        }
        added
    }

    // ------------------------------------------------------------------ outputs

    /// The next thing to send, written into `buf` (cleared first). Call until `None`.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<Transmit<A>> {
        if self.profile.is_some() {
            return self.memberlist_poll_transmit(buf);
        }
        loop {
            let out = self.transmits.pop_front()?;
            let kind = out.kind();
            let message = match out.body {
                Out::User { id, .. } => Some(id),
                _ => None,
            };
            // The application state is asked for when the push-pull is encoded, as its member
            // states are taken: both are as fresh as the moment it leaves.
            let state = match out.body {
                Out::PushPull { kind, .. } => self.local_state(kind.exchange()),
                _ => Bytes::new(),
            };
            let version = out.route.version;
            let label = if self.config.send_unlabelled { &[][..] } else { &self.config.label[..] };
            let sealing = self.sealer.begin(buf, version, label);
            let (local, peer, members, limits) = (&self.local, self.local_peer, &self.members, &self.config.limits);
            out.body.encode(&self.codec, version, local, peer, members, limits, &state, buf);
            if kind == TransmitKind::Stream && out.route.compress {
                self.compress(buf, sealing.body);
            }
            if kind == TransmitKind::Datagram {
                // Leave room for the authentication tag when encrypting.
                let budget = self.config.packet_budget - sealing.trailer_room();
                let limit = self.config.retransmit_limit(self.num_members());
                self.dissemination.fill(budget, limit, buf);
                self.report_finished();
                self.check_leave_done();
            }
            if buf.len() == sealing.body {
                continue; // a gossip slot with nothing left to gossip
            }
            self.sealer.seal(buf, sealing);
            self.count_out(kind, buf.len());
            return Some(Transmit { destination: out.to, kind, len: buf.len(), message, stream: StreamRole::OneWay });
        }
    }

    /// The next event. Call until `None`. After the caller fell `limits.max_pending_events`
    /// behind with membership changes queued, the first event is an [`Event::Lagged`] whose
    /// snapshot of the member table is taken now (see [`crate::event`]).
    pub fn poll_event(&mut self) -> Option<Event<A>> {
        let members = &self.members;
        let stats = &mut self.stats;
        self.events.pop(|| {
            stats.event_lags += 1;
            members.records().iter().map(|r| r.member.clone()).collect()
        })
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    ///
    /// The gossip tick counts only while something is queued, so an idle member wakes once
    /// per probe interval, not every gossip interval; an update queued after an idle spell
    /// goes out at once.
    pub fn poll_timeout(&self) -> Instant {
        let idle = self.dissemination.is_empty();
        let ticks = self.timers.next(|t| !(idle && t == Timer::Gossip));
        let leaves = [
            self.prober.deadline(),
            self.suspicions.deadline(),
            self.exchanges.joins.deadline(),
            self.exchanges.joins.retry_deadline(),
            self.config.damping.and_then(|d| self.penalties.deadline(&d)),
        ];
        // The probe timer is always armed, so the minimum exists; MAX only satisfies the type.
        ticks.into_iter().chain(leaves.into_iter().flatten()).min().unwrap_or(Instant::MAX)
    }

    // ------------------------------------------------------------------ hooks

    /// Install the application's hooks (see [`crate::hooks`]), replacing any installed before.
    /// The core calls them synchronously from the inputs that need their answers.
    pub fn set_hooks(&mut self, hooks: impl Hooks<A> + 'static) {
        self.hooks = Installed(alloc::boxed::Box::new(hooks));
    }

    /// Install boxed hooks (for callers that choose the hooks at run time, such as a factory).
    pub fn set_boxed_hooks(&mut self, hooks: alloc::boxed::Box<dyn Hooks<A>>) {
        self.hooks = Installed(hooks);
    }

    /// The application state for a push-pull of `exchange`, or none if it is over
    /// `limits.max_app_state` (counted).
    fn local_state(&mut self, exchange: Exchange) -> Bytes {
        let state = self.hooks.0.local_state(exchange);
        if state.len() > self.config.limits.max_app_state {
            self.stats.app_state_refused += 1;
            return Bytes::new();
        }
        state
    }

    /// Tell the application about the user broadcasts that left the queue, now that the queue
    /// is no longer borrowed.
    fn report_finished(&mut self) {
        let mut finished = self.dissemination.take_finished();
        for (b, outcome) in finished.drain(..) {
            let f = FinishedBroadcast { origin: &b.origin, id: b.id, key: &b.key, local: b.local, outcome };
            self.hooks.0.broadcast_finished(&f);
        }
        self.dissemination.restore_finished(finished);
    }

    /// Whether an alive claim for a member not held alive here is admitted; a refusal is
    /// counted and reported.
    fn admit(&mut self, a: &wire::Alive<'_, A>) -> bool {
        let candidate =
            Candidate { name: a.name, addr: &a.addr, meta: a.meta, incarnation: a.incarnation, state: State::Alive };
        match self.hooks.0.admit_member(&candidate) {
            Ok(()) => true,
            Err(reason) => {
                self.refuse_member(a.name, a.addr.clone(), RefusalReason::Application(reason));
                false
            }
        }
    }

    /// Whether `addr`, claimed for member `name`, is allowed; a refusal is counted and reported.
    fn allow_claimed(&mut self, name: &str, addr: &A) -> bool {
        if self.hooks.0.allow_address(addr) {
            return true;
        }
        self.refuse_member(name, addr.clone(), RefusalReason::AddressNotAllowed);
        false
    }

    fn refuse_member(&mut self, name: &str, addr: A, reason: RefusalReason) {
        self.stats.members_refused += 1;
        self.emit(Event::MemberRefused { name: Name::from(name), addr, reason });
    }

    // ------------------------------------------------------------------ encryption

    /// Install (or with `None`, remove) the keyring. Installing one turns both plaintext
    /// switches off: from then on only encrypted packets are sent and accepted, until
    /// [`set_plaintext`](Self::set_plaintext) says otherwise.
    #[cfg(feature = "encryption")]
    pub fn set_keyring(&mut self, keyring: Option<Keyring>) {
        self.sealer.set_keyring(keyring);
    }

    /// The keyring, if encryption is on.
    #[cfg(feature = "encryption")]
    pub fn keyring(&self) -> Option<&Keyring> {
        self.sealer.keyring()
    }

    /// The keyring, to add, promote or remove keys at runtime (see [`crate::security`]).
    #[cfg(feature = "encryption")]
    pub fn keyring_mut(&mut self) -> Option<&mut Keyring> {
        self.sealer.keyring_mut()
    }

    /// Migration switches, meaningful only with a keyring: `accept` plaintext packets as well
    /// as encrypted ones, and `send` plaintext instead of encrypting. To switch a running
    /// cluster to encryption: install keyrings with both on, then turn `send` off everywhere,
    /// then `accept` off everywhere (see docs/security.md).
    pub fn set_plaintext(&mut self, accept: bool, send: bool) {
        self.sealer.set_plaintext(accept, send);
    }

    /// `(accept, send)` plaintext, as set by [`set_plaintext`](Self::set_plaintext).
    pub fn plaintext(&self) -> (bool, bool) {
        self.sealer.plaintext()
    }

    // ------------------------------------------------------------------ label

    /// Change the cluster label at run time, with the roll-out switches (see
    /// [`Config::accept_unlabelled`] for the three steps that move a running cluster to a
    /// label without a restart and without a false suspicion): `label` is sent in every
    /// packet unless `send_unlabelled`; packets with it are accepted, and packets without any
    /// label too if `accept_unlabelled`. Refused (nothing changes) if the label is longer
    /// than 255 bytes or leaves no room in `packet_budget` for the metadata and broadcast
    /// limits, as [`Config::validate`] would.
    pub fn set_label(
        &mut self,
        label: impl Into<Bytes>,
        accept_unlabelled: bool,
        send_unlabelled: bool,
    ) -> Result<(), ConfigError> {
        let config = Config { label: label.into(), accept_unlabelled, send_unlabelled, ..self.config.clone() };
        config.validate()?;
        self.config = config;
        Ok(())
    }

    // ------------------------------------------------------------------ internals: plumbing

    /// Count a transmit of `len` bytes handed to the driver.
    fn count_out(&mut self, kind: TransmitKind, len: usize) {
        match kind {
            TransmitKind::Datagram => {
                self.stats.packets_out += 1;
                self.stats.bytes_out += len as u64;
            }
            TransmitKind::Stream => {
                self.stats.streams_out += 1;
                self.stats.stream_bytes_out += len as u64;
            }
        }
    }

    fn reject(&mut self, e: DecodeError) -> Result<(), DecodeError> {
        self.stats.decode_errors.record(e);
        Err(e)
    }

    fn queue(&mut self, to: A, body: Out<A>, route: Route) {
        if self.transmits.len() >= self.config.limits.max_pending_transmits {
            self.stats.transmits_dropped += 1;
            return;
        }
        self.transmits.push_back(Outgoing { to, body, route });
    }

    /// Compress the messages of the stream message in `buf` (from `body` on), if it is large
    /// enough and compressing makes it smaller.
    fn compress(&mut self, buf: &mut Vec<u8>, body: usize) {
        let Some(c) = self.config.compression else { return };
        let len = buf.len() - body;
        if len < c.min_size {
            return;
        }
        let mut out = Vec::new(); // streams are rare: no buffer kept between them
        if wire::compression::compress(&buf[body..], &mut out) < len {
            buf.truncate(body);
            buf.extend_from_slice(&out);
            wire::envelope::set_compressed(buf);
            self.stats.streams_compressed += 1;
        }
    }

    // ------------------------------------------------------------------ internals: versions

    /// The route to an address that is no known member: this member's `min` (see
    /// [`crate::versions`]), uncompressed.
    fn route_unknown(&self) -> Route {
        Route { version: self.config.versions.protocol.min, compress: false }
    }

    /// The route of an answer to a packet that came at `version`: the same version.
    fn route_answer(&self, version: u8) -> Route {
        Route { version, compress: false }
    }

    /// The route to member `i` of the table: the version negotiated with what it speaks.
    fn route_to(&self, i: usize) -> Route {
        let peer = self.members.get(i).peer;
        self.route_peer(peer)
    }

    fn route_peer(&self, peer: Peer) -> Route {
        match peer.route(&self.config.versions.protocol, self.config.compression.is_some()) {
            Some((version, compress)) => Route { version, compress },
            None => self.route_unknown(),
        }
    }

    /// The route to the member called `name`, if held, else to an unknown address.
    fn route_to_name(&self, name: &str) -> Route {
        self.members.find(name).map_or_else(|| self.route_unknown(), |i| self.route_to(i))
    }

    /// The route to the member at `addr`, a live one first (a scan of the table: for rare
    /// streams only).
    fn route_to_addr(&self, addr: &A) -> Route {
        let records = self.members.records();
        let at = |r: &&crate::membership::Record<A>| r.member.addr == *addr;
        let held = records.iter().filter(at).find(|r| !r.member.state.is_gone()).or_else(|| records.iter().find(at));
        held.map_or_else(|| self.route_unknown(), |r| self.route_peer(r.peer))
    }

    /// Refuse member `name` at `addr`, which speaks `theirs`: counted and reported.
    fn refuse_versions(&mut self, name: &str, addr: A, theirs: Versions) {
        self.stats.versions_refused += 1;
        let reason = RefusalReason::Version { theirs, ours: self.config.versions };
        self.emit(Event::MemberRefused { name: Name::from(name), addr, reason });
    }

    fn emit(&mut self, e: Event<A>) {
        if let Event::MemberRemoved(m) = &e {
            self.penalties.forget(&m.name);
        }
        self.stats.events_dropped += self.events.push(e, self.config.limits.max_pending_events);
    }

    fn adjust_health_score(&mut self, delta: i64) {
        if let Some(score) = self.awareness.apply(delta) {
            self.emit(Event::HealthChanged { score });
        }
    }

    fn encode_one(&mut self, msg: &Message<'_, A>) -> Bytes {
        encode(&self.codec, &mut self.scratch_buf, msg)
    }

    fn push_gossip(&mut self, key: Name, bytes: Bytes) {
        if self.dissemination.push_update(key, bytes) == Pushed::Evicted {
            self.stats.membership_updates_dropped += 1;
        }
    }

    fn gossip_local_alive(&mut self) {
        let l = &self.local;
        let msg = Message::Alive(wire::Alive {
            incarnation: l.incarnation,
            name: &l.name,
            addr: l.addr.clone(),
            meta: &l.meta,
            versions: self.local_peer.versions,
            capabilities: self.local_peer.capabilities,
        });
        let bytes = encode(&self.codec, &mut self.scratch_buf, &msg);
        let key = self.local.name.clone();
        self.push_gossip(key, bytes);
    }

    fn gossip_member(&mut self, i: usize, msg_from: Option<&str>) {
        let r = self.members.get(i);
        let m = &r.member;
        let msg = update_of(m, r.peer, msg_from, &self.local.name);
        let bytes = encode(&self.codec, &mut self.scratch_buf, &msg);
        let name = m.name.clone();
        self.push_gossip(name, bytes);
    }

    fn check_leave_done(&mut self) {
        if self.leaving && !self.leave_done && !self.dissemination.pending_update(&self.local.name) {
            self.leave_done = true;
            self.emit(Event::LeaveCompleted);
        }
    }

    fn finish_joins(&mut self, now: Instant, done: impl IntoIterator<Item = Finished<A>>) {
        for f in done {
            if f.reached > 0 {
                // Members that joined at the same time as this one were not in the seed's reply,
                // and gossip misses a few members in a large join burst. One early exchange with
                // a random member repairs both without waiting a whole push-pull period.
                // It waits half the window first so that a join burst has settled and the partner
                // has heard of the other newcomers.
                if let (Some(base), Some(next)) = (self.config.push_pull_interval, self.timers.get(Timer::PushPull)) {
                    self.timers.set(Timer::PushPull, follow_up(now, base, next, &mut self.rng));
                }
            }
            let (join, reached, attempted) = (f.id, f.reached, f.attempted);
            self.emit(Event::JoinCompleted { join, reached, attempted });
            let policy = if self.leaving { None } else { self.config.join_retry.as_ref() };
            let rng = &mut self.rng;
            match self.exchanges.joins.after_attempt(f, policy, now, |bound| rng.next_u64() % bound) {
                AfterAttempt::Done => {}
                AfterAttempt::Retrying { attempt, delay } => self.emit(Event::JoinRetrying { join, attempt, delay }),
                AfterAttempt::GaveUp { attempts } => self.emit(Event::JoinGaveUp { join, attempts }),
            }
        }
    }

    // ------------------------------------------------------------------ internals: input

    fn handle_packet(&mut self, now: Instant, from: A, data: &[u8], stream: bool) -> Result<(), DecodeError> {
        // Before anything else: a refused source costs no decryption.
        if !self.hooks.0.allow_address(&from) {
            return self.reject(DecodeError::AddressNotAllowed);
        }
        // The envelope's first byte is its version; `open` rejects an empty packet first.
        let version = data.first().copied().unwrap_or_default();
        let compressed = wire::envelope::is_compressed(data);
        let r = match self.sealer.open(&self.config.label, self.config.accept_unlabelled, data) {
            Ok(Opened::Plain(body)) => self.handle_payload(now, from, version, &data[body..], stream, compressed),
            Ok(Opened::Decrypted(plain)) => {
                let r = self.handle_payload(now, from, version, &plain, stream, compressed);
                self.sealer.recycle(plain);
                r
            }
            Err(e) => Err(e),
        };
        self.stats.unlabelled_accepted = self.sealer.unlabelled_accepted();
        match r {
            Ok(()) => Ok(()),
            Err(e) => self.reject(e),
        }
    }

    /// The payload of an opened packet: its messages, or (`compressed`, streams only) their
    /// compressed form, decompressed within `limits.max_stream_message_size` first.
    fn handle_payload(
        &mut self,
        now: Instant,
        from: A,
        version: u8,
        payload: &[u8],
        stream: bool,
        compressed: bool,
    ) -> Result<(), DecodeError> {
        if !compressed {
            return self.handle_messages(now, from, version, payload, stream);
        }
        if !stream {
            return Err(DecodeError::WrongChannel);
        }
        let mut messages = Vec::new();
        wire::compression::decompress(payload, self.config.limits.max_stream_message_size, &mut messages)?;
        self.handle_messages(now, from, version, &messages, stream)
    }

    fn handle_messages(
        &mut self,
        now: Instant,
        from: A,
        version: u8,
        data: &[u8],
        stream: bool,
    ) -> Result<(), DecodeError> {
        let codec = self.codec.clone();
        let limits = self.limits;
        if stream {
            // Stream messages are few and large (push-pull states): decode once into a list,
            // then apply, rather than decoding every member state twice.
            let mut messages = Vec::new();
            codec.decode_versioned(version, data, &limits, &mut |m| messages.push(m))?;
            if messages.iter().any(|m| matches!(m, Message::Ping(p) | Message::ExtendedPing(p) if !p.target.is_empty() && p.target != self.local.name.as_str())) {
                return Err(DecodeError::Misdirected);
            }
            // A push-pull's reply goes to its `from_addr`: that address must be allowed too.
            let hooks = &mut self.hooks.0;
            if messages.iter().any(|m| matches!(m, Message::PushPull(p) if !hooks.allow_address(&p.from_addr))) {
                return Err(DecodeError::AddressNotAllowed);
            }
            for m in messages {
                self.handle_message(now, &from, version, m);
            }
            return Ok(());
        }
        // Datagrams: pass 1 validates everything, so rejected input changes nothing; pass 2
        // applies. Decoding twice is cheaper than collecting, and allocates nothing.
        let mut fault = None;
        let local = &self.local.name;
        let validated = codec.decode_versioned(version, data, &limits, &mut |m| match m {
            Message::PushPull(_) | Message::JoinRefused(_) => fault = Some(DecodeError::WrongChannel),
            Message::Ping(p) | Message::ExtendedPing(p) if !p.target.is_empty() && p.target != local.as_str() => {
                fault = Some(DecodeError::Misdirected)
            }
            _ => {}
        });
        validated.and_then(|_| fault.map_or(Ok(()), Err))?;
        let _ = codec.decode_versioned(version, data, &limits, &mut |m| self.handle_message(now, &from, version, m));
        Ok(())
    }

    /// One message of a packet from `from` that came at protocol `version`.
    fn handle_message(&mut self, now: Instant, from: &A, version: u8, msg: Message<'_, A>) {
        match msg {
            Message::Ping(p) => self.queue(from.clone(), Out::Ack { seq: p.seq }, self.route_answer(version)),
            Message::ExtendedPing(p) => self.on_extended_ping(from, version, p.seq),
            Message::PingReq(p) => self.on_ping_req(now, from, version, p),
            Message::Ack(a) => self.on_ack(now, from, a.seq, &[], None),
            Message::ExtendedAck(a) => self.on_ack(now, from, a.seq, a.payload, a.coordinate),
            Message::Nack(n) => self.on_nack(n.seq),
            Message::Alive(a) => self.on_alive(now, a),
            Message::Suspect(s) => self.on_suspect(now, s),
            Message::Dead(d) => self.on_dead(now, d),
            Message::PushPull(p) => self.on_push_pull(now, version, p),
            Message::User(u) => {
                self.stats.user_messages += 1;
                self.emit(Event::UserMessage {
                    from: from.clone(),
                    sender: Name::from(u.from),
                    payload: Bytes::copy_from_slice(u.payload),
                });
            }
            Message::Broadcast(b) => self.on_broadcast(b),
            Message::JoinRefused(r) => self.on_join_refused(now, r),
        }
    }

    // ------------------------------------------------------------------ probing

    fn start_probe(&mut self, now: Instant) {
        self.timers.set(Timer::Probe, now + self.probe_interval());
        if self.leaving {
            return;
        }
        let mut removed = core::mem::take(&mut self.scratch_removed);
        let target = probe::next_target(&mut self.members, &mut self.rng, &self.config, now, &mut removed);
        for m in removed.drain(..) {
            self.emit(Event::MemberRemoved(m));
        }
        self.scratch_removed = removed;
        let Some(i) = target else { return };
        let m = &self.members.get(i).member;
        let (target, addr, incarnation) = (m.name.clone(), m.addr.clone(), m.incarnation);
        let buddy = self.buddy(m);
        let (ack_deadline, end) = (now + self.probe_timeout(), now + self.probe_interval());
        let extended = self.extended_ping_to(i);
        let seq = self.prober.start(now, target.clone(), addr.clone(), incarnation, ack_deadline, end);
        self.stats.probes += 1;
        let route = self.route_to(i);
        self.queue(addr, Out::Ping { seq, target, buddy, extended }, route);
    }

    fn send_ping_reqs(&mut self) {
        let mut helpers = core::mem::take(&mut self.scratch_idx);
        let (k, nack) = (self.config.indirect_checks, self.config.lifeguard.nack);
        if let Some((seq, target, target_addr)) =
            self.prober.choose_helpers(&self.members, &mut self.rng, k, nack, &mut helpers)
        {
            self.send_tcp_ping(seq, &target, &target_addr);
            for &h in &helpers {
                let to = self.members.get(h).member.addr.clone();
                self.stats.ping_reqs_sent += 1;
                let body = Out::PingReq { seq, target: target.clone(), target_addr: target_addr.clone(), nack };
                let route = self.route_to(h);
                self.queue(to, body, route);
            }
        }
        self.scratch_idx = helpers;
    }

    /// Whether a ping to member `i` should be an extended one: this member wants extended acks
    /// and `i` reads extended pings.
    fn extended_ping_to(&self, i: usize) -> bool {
        self.local_peer.capabilities.extended_ack() && self.members.get(i).peer.capabilities.extended_ack()
    }

    /// An extended ping: answer with this member's ack payload and coordinate, if it has any.
    fn on_extended_ping(&mut self, from: &A, version: u8, seq: u32) {
        let route = self.route_answer(version);
        let mut payload = self.hooks.0.ack_payload();
        if payload.len() > self.config.limits.max_ack_payload {
            self.stats.ack_payloads_refused += 1;
            payload = Bytes::new();
        }
        let coordinate = self.vivaldi.as_ref().map(|v| alloc::boxed::Box::new(*v.coordinate()));
        if payload.is_empty() && coordinate.is_none() {
            return self.queue(from.clone(), Out::Ack { seq }, route);
        }
        self.stats.extended_acks_sent += 1;
        self.queue(from.clone(), Out::ExtendedAck { seq, payload, coordinate }, route);
    }

    /// An ack (plain, or extended with `payload` and `coordinate`) from `from`.
    fn on_ack(&mut self, now: Instant, from: &A, seq: u32, payload: &[u8], coordinate: Option<Coordinate>) {
        match self.prober.on_ack(now, from, seq) {
            AckFor::Probe { target, addr, rtt, path } => {
                self.adjust_health_score(-1);
                let payload = match path {
                    ProbePath::Direct => {
                        self.stats.probes_direct += 1;
                        // Indirect RTTs include the helper's two hops: not fed to Vivaldi.
                        self.observe_coordinate(&target, coordinate, rtt);
                        payload
                    }
                    ProbePath::Indirect => {
                        self.stats.probes_indirect += 1;
                        &[]
                    }
                };
                self.hooks.0.probe_completed(&ProbeCompleted { name: &target, addr: &addr, rtt, path, payload });
                if path == ProbePath::Direct {
                    self.resync_suspect(&target, addr);
                }
            }
            AckFor::Ping { ping, rtt } => {
                if let Some(name) = &ping.name {
                    self.observe_coordinate(name, coordinate, rtt);
                }
                self.emit(Event::PingCompleted { id: ping.id, name: ping.name, addr: ping.addr, rtt: Some(rtt) });
            }
            AckFor::Relay { requester, requester_seq, version } => {
                self.stats.acks_relayed += 1;
                self.queue(requester, Out::Ack { seq: requester_seq }, self.route_answer(version));
            }
            AckFor::Reconnect(to) => {
                // A member we hold dead answered: exchange state, which heals a partition.
                let id = self.exchanges.next_id();
                self.stats.push_pulls += 1;
                let route = self.route_to_addr(&to);
                self.queue(to, Out::PushPull { kind: PushPullKind::Periodic, id }, route);
            }
            AckFor::Stale => self.stats.stale_acks += 1,
        }
    }

    /// Member `name` sent `coordinate` in its ack to a direct ping that took `rtt`: check it,
    /// keep it in the member's record and update the local coordinate.
    fn observe_coordinate(&mut self, name: &str, coordinate: Option<Coordinate>, rtt: Duration) {
        let (Some(vivaldi), Some(c)) = (self.vivaldi.as_mut(), coordinate) else { return };
        let Some(i) = self.members.find(name) else { return };
        if c.check(vivaldi.coordinate().dimensions()).is_err() || rtt > crate::coordinates::MAX_RTT {
            self.stats.coordinates_rejected += 1;
            return;
        }
        let record = self.members.get_mut(i);
        let remote = record.coordinate.get_or_insert_with(|| {
            alloc::boxed::Box::new(RemoteCoordinate { coordinate: c, filter: Default::default() })
        });
        let resets = vivaldi.resets();
        match vivaldi.update(&mut remote.filter, &c, rtt, &mut self.coordinate_rng) {
            Ok(_) => {
                remote.coordinate = c;
                self.stats.coordinate_updates += 1;
                self.stats.coordinate_resets += vivaldi.resets() - resets;
            }
            // Checked above; counted all the same should the rules ever differ.
            Err(_) => self.stats.coordinates_rejected += 1,
        }
    }

    fn on_nack(&mut self, seq: u32) {
        if self.prober.on_nack(seq) {
            self.stats.nacks_received += 1;
        }
    }

    fn on_ping_req(&mut self, now: Instant, from: &A, version: u8, p: wire::PingReq<'_, A>) {
        let nack_at = p.nack.then(|| now + self.config.nack_timeout());
        let expires = now + self.config.probe_interval;
        let Some(seq) = self.prober.relay(from.clone(), version, p.seq, nack_at, expires) else {
            self.stats.relays_dropped += 1;
            return;
        };
        self.stats.relays += 1;
        let route = self.route_to_name(p.target);
        // The buddy system on the helper's ping too: a member that loses most inbound packets
        // may hear only this ping before the suspicion times out (issue 17).
        let buddy = self.members.find(p.target).and_then(|i| self.buddy(&self.members.get(i).member));
        self.queue(p.target_addr, Out::Ping { seq, target: Name::from(p.target), buddy, extended: false }, route);
    }

    /// Lifeguard's buddy system: the incarnation at which a ping to `m` carries this member's
    /// suspicion of it (so a suspect learns it must refute), or `None`. One rule for the
    /// prober's ping and a helper's relayed ping.
    fn buddy(&self, m: &Member<A>) -> Option<u32> {
        (self.config.lifeguard.buddy && m.state == State::Suspect).then_some(m.incarnation)
    }

    fn relay_timers(&mut self, now: Instant) {
        let mut due: Vec<(A, u8, u32)> = Vec::new(); // allocates only when a nack is due
        self.prober.relay_timers(now, |a, v, s| due.push((a.clone(), v, s)));
        for (a, version, seq) in due {
            self.stats.nacks_sent += 1;
            self.queue(a, Out::Nack { seq }, self.route_answer(version));
        }
    }

    // ------------------------------------------------------------------ suspicion

    fn suspicion_expired(&mut self, now: Instant, i: usize) {
        let m = &self.members.get(i).member;
        let name = m.name.clone();
        let incarnation = m.incarnation;
        self.stats.deaths_declared += 1;
        let from = self.local.name.clone();
        self.on_dead(now, wire::Dead { incarnation, name: &name, from: &from });
    }

    fn cancel_suspicion(&mut self, i: usize) {
        self.suspicions.cancel(&self.members.get(i).member.name);
    }

    fn start_suspicion(&mut self, now: Instant, i: usize, incarnation: u32, accuser: &str) {
        self.cancel_suspicion(i);
        let old = self.members.get(i).member.incarnation;
        self.members.get_mut(i).member.incarnation = incarnation;
        self.members.set_state(i, State::Suspect, now);
        self.damp(now, i, old, false);
        let n = self.num_members();
        let accuser_name =
            if accuser == self.local.name.as_str() { self.local.name.clone() } else { Name::from(accuser) };
        let name = self.members.get(i).member.name.clone();
        self.suspicions.start(&self.config, n, now, name, incarnation, accuser_name.clone());
        self.stats.suspicions += 1;
        self.gossip_member(i, Some(accuser));
        let member = self.members.get(i).member.clone();
        self.emit(Event::MemberSuspected { member, accuser: accuser_name });
    }

    /// A suspicion about member `i` at its current incarnation from `from`.
    fn confirm_suspicion(&mut self, now: Instant, i: usize, from: &str) {
        let dynamic = self.config.lifeguard.dynamic_suspicion;
        let name = &self.members.get(i).member.name;
        let confirmed = self.suspicions.confirm(dynamic, now, name, from);
        if confirmed == Confirmed::Ignored {
            return;
        }
        self.stats.suspicion_confirmations += 1;
        // Re-gossip the confirmation so others can count it too.
        self.gossip_member(i, Some(from));
        if confirmed == Confirmed::Expired {
            self.suspicion_expired(now, i);
        }
    }

    // ------------------------------------------------------------------ flap damping

    /// Member `i`'s incarnation rose from `old` (a refutation, unless its metadata changed:
    /// pass `old` equal to the current one then) and, with `died`, a death notice made it dead:
    /// add the penalties (`damping.rs`) and report a hold-down. Call before the event of the
    /// change, so that a reader never sees a held-down member come back.
    fn damp(&mut self, now: Instant, i: usize, old: u32, died: bool) {
        let Some(d) = self.config.damping else { return };
        let cap = self.config.limits.max_members;
        let m = &self.members.get(i).member;
        let (name, new) = (m.name.clone(), m.incarnation);
        let mut held = self.penalties.stepped(&d, cap, now, &name, old, new);
        if died {
            held |= self.penalties.died(&d, cap, now, &name);
        }
        if held {
            self.stats.members_held_down += 1;
            let member = self.members.get(i).member.clone();
            self.emit(Event::MemberHeldDown(member));
        }
    }

    /// Readmit the held-down members whose penalty has decayed by `now`.
    fn readmit(&mut self, now: Instant) {
        let Some(d) = self.config.damping else { return };
        while let Some(name) = self.penalties.pop_readmitted(&d, now) {
            self.stats.members_readmitted += 1;
            if let Some(i) = self.members.find(&name) {
                let member = self.members.get(i).member.clone();
                self.emit(Event::MemberReadmitted(member));
            }
        }
    }

    // ------------------------------------------------------------------ membership updates

    fn refute(&mut self, accused: u32) {
        let inc = self.local.incarnation.saturating_add(1).max(accused.saturating_add(1));
        self.local.incarnation = inc;
        self.stats.refutations += 1;
        self.gossip_local_alive();
        self.adjust_health_score(1);
    }

    /// A suspicion or death notice about the local member at `incarnation`.
    fn accused(&mut self, incarnation: u32) {
        if self.leaving {
            return;
        }
        if incarnation < self.local.incarnation {
            // Already refuted, but whoever sent this has not heard: the refutation's gossip may
            // have run out before reaching it. Queue the current alive again (no new incarnation,
            // no health penalty) so the reply to this very packet carries it. memberlist ignores
            // these, leaving the accuser to declare a healthy member dead.
            self.stats.stale_updates += 1;
            self.gossip_local_alive();
            return;
        }
        self.refute(incarnation);
    }

    /// Make room for one more member: evict the oldest dead or left one if the table is full.
    fn make_room(&mut self) -> bool {
        if self.members.len() < self.config.limits.max_members {
            return true;
        }
        match self.members.evict_oldest_gone() {
            Some(m) => {
                self.emit(Event::MemberRemoved(m));
                true
            }
            None => false,
        }
    }

    fn on_alive(&mut self, now: Instant, a: wire::Alive<'_, A>) {
        if self.local.name == a.name {
            if a.addr != self.local.addr {
                let e = Event::AddressConflict {
                    name: self.local.name.clone(),
                    existing: self.local.addr.clone(),
                    claimed: a.addr,
                };
                self.emit(e);
                return;
            }
            if self.leaving || a.incarnation < self.local.incarnation {
                return;
            }
            // Capabilities are only preferences (every member reads compressed streams): a stale
            // view of them is harmless and not worth a new incarnation.
            let same = a.meta == &self.local.meta[..] && a.versions == self.local_peer.versions;
            if a.incarnation == self.local.incarnation && same {
                return;
            }
            // Someone announced us with a newer incarnation, other metadata or other versions
            // (a previous life before an upgrade): reassert.
            self.refute(a.incarnation);
            return;
        }
        if !self.config.versions.compatible(&a.versions) {
            self.refuse_versions(a.name, a.addr, a.versions);
            return;
        }
        if !self.allow_claimed(a.name, &a.addr) {
            return;
        }
        let peer = Peer { versions: a.versions, capabilities: a.capabilities };
        // Admission (`Hooks::admit_member`) is asked before anything changes, for a member not
        // held alive here: a new name, a reclaimed one, or one that left or died.
        let mut admitted = false;
        let mut found = self.members.find(a.name);
        if let Some(i) = found {
            let m = &self.members.get(i).member;
            if m.addr != a.addr {
                let reclaimable = m.state == State::Left
                    || (m.state == State::Dead
                        && self.config.dead_node_reclaim_time.is_some_and(|t| now - m.state_changed >= t));
                if !reclaimable {
                    let e = Event::AddressConflict { name: m.name.clone(), existing: m.addr.clone(), claimed: a.addr };
                    self.emit(e);
                    return;
                }
                if !self.admit(&a) {
                    return;
                }
                admitted = true;
                // Another process has taken the name: forget the old member, admit the new one.
                let old = self.members.remove(i);
                self.emit(Event::MemberRemoved(old));
                found = None;
            }
        }
        let Some(i) = found else {
            if !admitted && !self.admit(&a) {
                return;
            }
            if !self.make_room() {
                self.stats.members_rejected += 1;
                return;
            }
            let member = Member {
                name: Name::from(a.name),
                addr: a.addr,
                meta: Bytes::copy_from_slice(a.meta),
                incarnation: a.incarnation,
                state: State::Alive,
                state_changed: now,
            };
            let record = crate::membership::Record { member: member.clone(), peer, coordinate: None };
            let i = if self.exchanges.batch_insert() {
                self.members.push(record)
            } else {
                self.members.insert(record, &mut self.rng)
            };
            self.gossip_member(i, None);
            self.emit(Event::MemberJoined(member));
            return;
        };
        let m = &self.members.get(i).member;
        if !overrides(Claim::Alive(a.incarnation), m.state, m.incarnation) {
            self.stats.stale_updates += 1;
            return;
        }
        if m.state.is_gone() && !self.admit(&a) {
            return;
        }
        let m = &self.members.get(i).member;
        let old_state = m.state;
        let meta_changed = m.meta[..] != *a.meta;
        // A new incarnation with new metadata is an update, not a refutation: no penalty.
        let old_incarnation = if meta_changed { a.incarnation } else { m.incarnation };
        self.cancel_suspicion(i);
        let r = self.members.get_mut(i);
        r.member.incarnation = a.incarnation;
        r.peer = peer;
        if meta_changed {
            r.member.meta = Bytes::copy_from_slice(a.meta);
        }
        self.members.set_state(i, State::Alive, now);
        self.gossip_member(i, None);
        self.damp(now, i, old_incarnation, false);
        let member = self.members.get(i).member.clone();
        let event = match old_state {
            State::Left => Some(Event::MemberJoined(member)),
            State::Dead | State::Suspect => Some(Event::MemberAlive(member)),
            State::Alive if meta_changed => Some(Event::MemberUpdated(member)),
            State::Alive => None,
        };
        if let Some(e) = event {
            self.emit(e);
        }
    }

    fn on_suspect(&mut self, now: Instant, s: wire::Suspect<'_>) {
        if self.local.name == s.name {
            self.accused(s.incarnation);
            return;
        }
        let Some(i) = self.members.find(s.name) else {
            self.stats.unknown_member_updates += 1;
            return;
        };
        let m = &self.members.get(i).member;
        if m.state == State::Suspect && s.incarnation == m.incarnation {
            if self.penalties.is_held(s.from) && s.from != self.local.name.as_str() {
                // A held-down member's failed probes say more about it than about the target.
                self.stats.accusations_discounted += 1;
                return;
            }
            self.confirm_suspicion(now, i, s.from);
            return;
        }
        if !overrides(Claim::Suspect(s.incarnation), m.state, m.incarnation) {
            self.stats.stale_updates += 1;
            return;
        }
        self.start_suspicion(now, i, s.incarnation, s.from);
    }

    fn on_dead(&mut self, now: Instant, d: wire::Dead<'_>) {
        let left = d.from == d.name;
        if self.local.name == d.name {
            self.accused(d.incarnation);
            return;
        }
        let Some(i) = self.members.find(d.name) else {
            self.stats.unknown_member_updates += 1;
            return;
        };
        let m = &self.members.get(i).member;
        if !overrides(Claim::Dead(d.incarnation), m.state, m.incarnation) {
            self.stats.stale_updates += 1;
            return;
        }
        if !left && !m.state.is_gone() && self.penalties.is_held(d.from) {
            // A held-down member (one that loses most of its packets, typically) declares dead
            // the members whose acks and refutations it missed: here, where the member is
            // alive or suspect, its death notice counts only as a suspicion (not as a
            // confirmation), which the member can refute.
            self.stats.accusations_discounted += 1;
            let from = d.from;
            self.on_suspect(now, wire::Suspect { incarnation: d.incarnation, name: d.name, from });
            return;
        }
        let old = m.incarnation;
        if m.state.is_gone() {
            // Already dead or left: remember the newer incarnation, nothing else changes.
            self.members.get_mut(i).member.incarnation = d.incarnation;
            self.damp(now, i, old, false);
            return;
        }
        self.cancel_suspicion(i);
        self.members.get_mut(i).member.incarnation = d.incarnation;
        self.members.set_state(i, if left { State::Left } else { State::Dead }, now);
        self.gossip_member(i, Some(d.from));
        self.damp(now, i, old, !left);
        let member = self.members.get(i).member.clone();
        self.emit(if left { Event::MemberLeft(member) } else { Event::MemberFailed(member) });
    }

    fn on_push_pull(&mut self, now: Instant, version: u8, p: wire::PushPull<'_, A>) {
        let exchange = p.kind.exchange();
        // The whole state is judged before any of it is applied.
        let candidates: Vec<Candidate<'_, A>> = p
            .members
            .iter()
            .map(|m| Candidate {
                name: m.name,
                addr: &m.addr,
                meta: m.meta,
                incarnation: m.incarnation,
                state: m.state,
            })
            .collect();
        let verdict = self.hooks.0.admit_merge(p.from, &candidates, exchange);
        drop(candidates);
        if let Err(reason) = verdict {
            self.refuse_merge(now, version, &p, reason);
            return;
        }
        self.stats.push_pull_merges += 1;
        // Size the tables once for the members this state could add (a join's reply is the
        // whole cluster), instead of growing and rehashing them one insert at a time.
        let additional = p.members.len().saturating_sub(self.members.len() + 1);
        if additional > 0 {
            let room = self.config.limits.max_members.saturating_sub(self.members.len());
            self.members.reserve(additional.min(room));
            self.dissemination.reserve(additional);
        }
        // Many newcomers (a join's reply): one shuffle at the end costs less than a random
        // swap (two index look-ups) per newcomer.
        self.exchanges.begin_merge(additional);
        let local = self.local.name.clone();
        for m in &p.members {
            // An alive entry's address is judged with the claim (`on_alive`); the others here.
            if m.state != State::Alive && m.name != local.as_str() && !self.allow_claimed(m.name, &m.addr) {
                continue;
            }
            match as_update(m, &local) {
                Update::Alive(a) => self.on_alive(now, a),
                Update::Left(d) => self.on_dead(now, d),
                Update::Suspect(s) => self.on_suspect(now, s),
            }
        }
        if self.exchanges.end_merge() {
            self.members.reshuffle(&mut self.rng);
        }
        if !p.state.is_empty() {
            self.hooks.0.merge_remote_state(p.from, p.state, exchange);
        }
        if p.kind.is_reply() {
            if let Some(f) = self.exchanges.joins.replied(p.id) {
                self.finish_joins(now, [f]);
            }
        } else {
            // To the sender as just merged (its state came with the request), else at the
            // request's own version.
            let route = match self.members.find(p.from) {
                Some(i) => self.route_to(i),
                None => self.route_answer(version),
            };
            self.queue(p.from_addr, Out::PushPull { kind: p.kind.reply(), id: p.id }, route);
        }
    }

    /// `Hooks::admit_merge` refused push-pull `p`: nothing of it is applied. A join request is
    /// answered with the refusal; a join reply settles its seed as refused; a periodic request
    /// gets no reply (the requester's next exchange goes elsewhere or tries again).
    fn refuse_merge(&mut self, now: Instant, version: u8, p: &wire::PushPull<'_, A>, reason: Refusal) {
        self.stats.merges_refused += 1;
        match p.kind {
            PushPullKind::Join => {
                let route = self.route_answer(version);
                self.queue(p.from_addr.clone(), Out::JoinRefused { id: p.id, reason: reason.clone() }, route)
            }
            PushPullKind::JoinReply => {
                if let Some((join, seed, finished)) = self.exchanges.joins.refused(p.id) {
                    self.emit(Event::JoinRefused { join, seed, reason: reason.clone() });
                    self.finish_joins(now, finished);
                }
            }
            PushPullKind::Periodic | PushPullKind::Reply => {}
        }
        self.emit(Event::MergeRefused { from: Name::from(p.from), reason });
    }

    /// A seed refused a join request of this member.
    fn on_join_refused(&mut self, now: Instant, r: wire::JoinRefused<'_>) {
        self.stats.join_refusals += 1;
        if let Some((join, seed, finished)) = self.exchanges.joins.refused(r.id) {
            self.emit(Event::JoinRefused { join, seed, reason: Refusal::new(r.reason) });
            self.finish_joins(now, finished);
        }
    }

    fn on_broadcast(&mut self, b: wire::UserBroadcast<'_>) {
        if self.local.name == b.origin {
            return;
        }
        if !self.dissemination.first_sight(b.origin, b.id) {
            self.stats.duplicate_broadcasts += 1;
            return;
        }
        // The seen set keeps it either way: a stale broadcast is not judged again.
        if self.hooks.0.on_broadcast(b.origin, b.key, b.payload) == Verdict::Stale {
            self.stats.user_broadcasts_stale += 1;
            return;
        }
        self.stats.user_broadcasts += 1;
        let origin = Name::from(b.origin);
        let payload = Bytes::copy_from_slice(b.payload);
        let bytes = self.encode_one(&Message::Broadcast(b));
        if self.dissemination.push_user(origin.clone(), b.id, b.key, bytes, false) == Pushed::Evicted {
            self.stats.user_broadcasts_dropped += 1;
        }
        self.report_finished();
        self.emit(Event::UserBroadcast { origin, payload });
    }

    // ------------------------------------------------------------------ periodic ticks

    fn gossip_tick(&mut self, now: Instant) {
        self.timers.set(Timer::Gossip, now + self.config.gossip_interval);
        if self.leaving && !self.leave_done && self.members.live() == 0 {
            self.leave_done = true;
            self.emit(Event::LeaveCompleted);
        }
        if self.dissemination.is_empty() {
            return;
        }
        let (fanout, dead_window) = (self.config.gossip_nodes, self.config.gossip_to_the_dead_time);
        let mut targets = core::mem::take(&mut self.scratch_idx);
        gossip_targets(&self.members, &mut self.rng, now, fanout, dead_window, &mut targets);
        for &t in &targets {
            let to = self.members.get(t).member.addr.clone();
            let route = self.route_to(t);
            self.queue(to, Out::Gossip, route);
        }
        self.scratch_idx = targets;
    }

    fn push_pull_tick(&mut self, now: Instant) {
        let Some(interval) = self.config.push_pull_interval_for(self.num_members()) else { return };
        self.timers.set(Timer::PushPull, now + interval);
        if self.leaving {
            return;
        }
        let mut pick = core::mem::take(&mut self.scratch_idx);
        self.members.sample(&mut self.rng, 1, &mut pick, |m| m.state == State::Alive);
        if let Some(&i) = pick.first() {
            let to = self.members.get(i).member.addr.clone();
            let id = self.exchanges.next_id();
            self.stats.push_pulls += 1;
            let route = self.route_to(i);
            self.queue(to, Out::PushPull { kind: PushPullKind::Periodic, id }, route);
        }
        self.scratch_idx = pick;
    }

    /// Partition healing: ping the next `RECONNECT_FANOUT` dead members, round robin; each
    /// that answers is sent a push-pull (`on_ack`). A ping is cheap where the push-pull carries
    /// the whole table, and most dead members are really dead.
    fn reconnect_tick(&mut self, now: Instant) {
        let Some(interval) = self.config.reconnect_interval else { return };
        self.timers.set(Timer::Reconnect, now + interval);
        if self.leaving || self.members.dead() == 0 {
            return;
        }
        let window = self.config.reconnect_timeout;
        let mut candidates = core::mem::take(&mut self.scratch_idx);
        choose_reconnect(&self.members, &mut self.exchanges.reconnect_after, now, window, &mut candidates);
        self.prober.begin_reconnect();
        for &i in &candidates {
            let m = &self.members.get(i).member;
            let (to, target) = (m.addr.clone(), m.name.clone());
            let seq = self.prober.start_reconnect(to.clone());
            self.stats.reconnects += 1;
            let route = self.route_to(i);
            self.queue(to, Out::Ping { seq, target, buddy: None, extended: false }, route);
        }
        self.scratch_idx = candidates;
    }
}

/// Encode one message with `codec` through the `scratch` buffer, into bytes of its own.
fn encode<A: Address, C: Codec<A>>(codec: &C, scratch: &mut Vec<u8>, msg: &Message<'_, A>) -> Bytes {
    scratch.clear();
    codec.encode(msg, scratch);
    Bytes::copy_from_slice(scratch)
}
