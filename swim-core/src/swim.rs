//! The state machine: where probing, suspicion, awareness, dissemination and
//! push-pull meet. See the crate docs for the run-loop contract.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::hash::BuildHasher;
use core::time::Duration;

use bytes::Bytes;
use hashbrown::HashMap;

use crate::awareness::Awareness;
use crate::config::{Config, MESSAGE_OVERHEAD};
use crate::dissemination::{BroadcastQueue, Pushed, Seen, retransmit_limit};
use crate::error::{CommandError, DecodeError, NewError};
use crate::event::{Event, JoinId};
use crate::member::{Address, Claim, Member, Name, State, overrides};
use crate::membership::Membership;
use crate::probe::{InFlight, Relay, Relays};
use crate::rng::{SeededState, SwimRng};
use crate::stats::Stats;
use crate::suspicion::{self, Suspicion};
use crate::sync::{self, AfterAttempt, Finished, Joins};
use crate::time::Instant;
use crate::wire::{self, Codec, DecodeLimits, Message, PostcardCodec, PushPullKind, envelope};

#[cfg(feature = "encryption")]
use crate::security::Keyring;

/// A push-pull bringing more new members than this is merged by appending them and shuffling
/// the probe order once, instead of placing each at a random position.
const BATCH_INSERT_THRESHOLD: usize = 64;

/// Largest datagram accepted inbound, whatever the sender's budget (the UDP maximum).
pub const MAX_DATAGRAM: usize = 65_535;

/// The local member's identity and starting state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity<A> {
    /// Unique name in the cluster.
    pub name: Name,
    /// The address other members reach this member at (the advertise address).
    pub addr: A,
    /// Initial metadata.
    pub meta: Bytes,
    /// Initial incarnation. 0 is fine; a member that restarts often can start from a
    /// clock reading so that its first announcement already outranks its previous life.
    pub incarnation: u32,
}

impl<A> Identity<A> {
    /// A member called `name` at `addr`, with no metadata, at incarnation 0.
    pub fn new(name: impl Into<Name>, addr: A) -> Self {
        Identity { name: name.into(), addr, meta: Bytes::new(), incarnation: 0 }
    }

    /// With metadata.
    pub fn with_meta(mut self, meta: impl Into<Bytes>) -> Self {
        self.meta = meta.into();
        self
    }

    /// Starting at `incarnation`.
    pub fn with_incarnation(mut self, incarnation: u32) -> Self {
        self.incarnation = incarnation;
        self
    }
}

/// How a transmit must travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransmitKind {
    /// One unreliable datagram (UDP). At most `packet_budget` bytes.
    Datagram,
    /// One message on a reliable stream (TCP), framed with [`crate::wire::frame`]. At most
    /// `limits.max_stream_message_size` bytes. If it cannot be delivered, tell the core with
    /// [`Swim::handle_stream_failed`].
    Stream,
}

/// Something to send, returned by [`Swim::poll_transmit`]; its bytes are in the caller's buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit<A> {
    /// Where to send it.
    pub destination: A,
    /// Datagram or stream.
    pub kind: TransmitKind,
    /// Bytes written to the buffer.
    pub len: usize,
    /// The user message this transmit carries, as returned by
    /// [`Swim::send_user_message`]; `None` for protocol traffic. A driver that reports the
    /// outcome of a reliable send pairs it by this id.
    pub message: Option<MessageId>,
}

/// Identifies one user message from [`Swim::send_user_message`] to the [`Transmit`] that
/// carries it. Ids count up from 0 per member and never repeat within 2^64 messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub u64);

/// Approximate heap use of one core, by part; see [`Swim::memory_usage`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryUsage {
    /// The member table: records, index, names, metadata, suspicion timers.
    pub member_table: usize,
    /// Both dissemination queues and the duplicate-broadcast memory.
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

/// Invalidation key of a user broadcast.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum BroadcastKey {
    Keyed(Name, Bytes),
    Unique(Name, u64),
}

#[derive(Clone, Debug)]
enum Out<A> {
    Ping { seq: u32, target: Name, buddy: Option<u32> },
    IndirectPing { seq: u32, target: Name, target_addr: A, nack: bool },
    Ack { seq: u32 },
    Nack { seq: u32 },
    Gossip,
    PushPull { kind: PushPullKind, id: u32 },
    User { payload: Bytes, reliable: bool, id: MessageId },
}

#[derive(Clone, Debug)]
struct Outgoing<A> {
    to: A,
    body: Out<A>,
}

impl<A> Outgoing<A> {
    fn kind(&self) -> TransmitKind {
        match self.body {
            Out::PushPull { .. } | Out::User { reliable: true, .. } => TransmitKind::Stream,
            _ => TransmitKind::Datagram,
        }
    }
}

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
/// `limits.max_pending_events` and drop the oldest (counted).
///
/// Nothing here reads a clock, sleeps, spawns or does I/O; randomness comes from the seed.
/// The same seed, configuration and sequence of calls produce the same outputs, bit for bit.
#[derive(Debug)]
pub struct Swim<A: Address, C: Codec<A> = PostcardCodec> {
    config: Config,
    limits: DecodeLimits,
    codec: C,
    local: Member<A>,
    leaving: bool,
    leave_done: bool,
    members: Membership<A>,
    rng: SwimRng,
    hasher: SeededState,
    awareness: Awareness,
    next_seq: u32,
    probe: Option<InFlight<A>>,
    relays: Relays<A>,
    /// Suspicions of members, by name, with their timers ordered in `suspicion_timers`.
    suspicions: HashMap<Name, Suspicion, SeededState>,
    /// The reconnect ping in flight to a dead member: (sequence number, its address).
    reconnect: Option<(u32, A)>,
    /// While merging a push-pull that brings many new members: append newcomers and shuffle
    /// the probe order once at the end, instead of a random swap per newcomer.
    batch_insert: bool,
    suspicion_timers: BTreeMap<(Instant, u64), Name>,
    next_timer_id: u64,
    gossip: BroadcastQueue<Name>,
    user_gossip: BroadcastQueue<BroadcastKey>,
    seen: Seen<u64>,
    next_broadcast_id: u64,
    next_message_id: u64,
    joins: Joins<A>,
    next_push_pull_id: u32,
    next_probe: Instant,
    next_gossip: Instant,
    next_push_pull: Option<Instant>,
    next_reconnect: Option<Instant>,
    transmits: VecDeque<Outgoing<A>>,
    events: VecDeque<Event<A>>,
    stats: Stats,
    scratch_idx: Vec<usize>,
    scratch_removed: Vec<Member<A>>,
    scratch_buf: Vec<u8>,
    /// Decrypted packets are opened here.
    #[cfg(feature = "encryption")]
    open_buf: Vec<u8>,
    #[cfg(feature = "encryption")]
    keyring: Option<Keyring>,
    accept_plaintext: bool,
    send_plaintext: bool,
}

impl<A: Address> Swim<A, PostcardCodec> {
    /// A member with swim's own wire format. Validates `config` and `identity`.
    pub fn new(config: Config, identity: Identity<A>, seed: u64, now: Instant) -> Result<Self, NewError> {
        Self::with_codec(PostcardCodec, config, identity, seed, now)
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
        config.validate()?;
        if identity.name.is_empty() || identity.name.len() > config.limits.max_name_len {
            return Err(NewError::BadName);
        }
        if identity.meta.len() > config.max_metadata_size {
            return Err(NewError::MetadataTooLarge);
        }
        let mut rng = SwimRng::from_seed_u64(seed);
        let hasher = rng.hash_state();
        let members = Membership::new(rng.hash_state());
        let gossip = BroadcastQueue::new(config.limits.broadcast_queue_depth, rng.hash_state());
        let user_gossip = BroadcastQueue::new(config.limits.user_broadcast_queue_depth, rng.hash_state());
        let seen = Seen::new(config.limits.seen_broadcasts, rng.hash_state());
        let rng_hash = rng.hash_state();
        // Stagger the periodic timers so members started together do not tick together.
        let stagger = |rng: &mut SwimRng, d: Duration| {
            let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1);
            Duration::from_nanos(rng.next_u64() % nanos)
        };
        let next_probe = now + stagger(&mut rng, config.probe_interval);
        let next_gossip = now + stagger(&mut rng, config.gossip_interval);
        let next_push_pull = config.push_pull_interval.map(|d| now + stagger(&mut rng, d));
        let next_reconnect = config.reconnect_interval.map(|d| now + d + stagger(&mut rng, d));
        let local = Member {
            name: identity.name,
            addr: identity.addr,
            meta: identity.meta,
            incarnation: identity.incarnation,
            state: State::Alive,
            state_changed: now,
        };
        Ok(Swim {
            limits: DecodeLimits::from_config(&config),
            awareness: Awareness::new(config.lifeguard.awareness_max_multiplier, config.lifeguard.awareness),
            relays: Relays::new(config.limits.max_relays),
            codec,
            local,
            leaving: false,
            leave_done: false,
            members,
            rng,
            hasher,
            next_seq: 0,
            probe: None,
            suspicions: HashMap::with_hasher(rng_hash),
            reconnect: None,
            batch_insert: false,
            suspicion_timers: BTreeMap::new(),
            next_timer_id: 0,
            gossip,
            user_gossip,
            seen,
            next_broadcast_id: 0,
            next_message_id: 0,
            joins: Joins::new(),
            next_push_pull_id: 0,
            next_probe,
            next_gossip,
            next_push_pull,
            next_reconnect,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            scratch_idx: Vec::new(),
            scratch_removed: Vec::new(),
            scratch_buf: Vec::new(),
            #[cfg(feature = "encryption")]
            open_buf: Vec::new(),
            #[cfg(feature = "encryption")]
            keyring: None,
            accept_plaintext: true,
            send_plaintext: true,
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

    /// Updates waiting in the membership and user dissemination queues.
    pub fn queue_depth(&self) -> (usize, usize) {
        (self.gossip.len(), self.user_gossip.len())
    }

    /// Transmits and events waiting to be polled.
    pub fn pending_outputs(&self) -> (usize, usize) {
        (self.transmits.len(), self.events.len())
    }

    /// Indirect probes this member is serving for others.
    pub fn relays_in_progress(&self) -> usize {
        self.relays.len()
    }

    /// Approximate heap bytes held (an estimate from sizes and capacities, not an allocator
    /// count; the performance benchmarks measure the latter).
    pub fn memory_usage(&self) -> MemoryUsage {
        let seen = self
            .config
            .limits
            .seen_broadcasts
            .min(self.stats.user_broadcasts as usize + self.next_broadcast_id as usize);
        MemoryUsage {
            member_table: self.members.heap_bytes(),
            queues: self.gossip.heap_bytes() + self.user_gossip.heap_bytes() + seen * 24,
            other: self.transmits.capacity() * core::mem::size_of::<Outgoing<A>>()
                + self.events.capacity() * core::mem::size_of::<Event<A>>()
                + self.relays.len() * core::mem::size_of::<Relay<A>>()
                + self
                    .suspicions
                    .values()
                    .map(|s| core::mem::size_of::<(Name, Suspicion)>() + s.heap_bytes())
                    .sum::<usize>()
                + self.suspicion_timers.len()
                    * (core::mem::size_of::<(Instant, u64)>() + core::mem::size_of::<Name>())
                    * 2,
        }
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
        self.handle_packet(now, from, data, false)
    }

    /// A message arrived over a reliable stream (one frame body) from `from`.
    pub fn handle_stream(&mut self, now: Instant, from: A, data: &[u8]) -> Result<(), DecodeError> {
        self.stats.streams_in += 1;
        self.stats.stream_bytes_in += data.len() as u64;
        if data.len() > self.config.limits.max_stream_message_size {
            return self.reject(DecodeError::Oversized);
        }
        self.handle_packet(now, from, data, true)
    }

    /// A stream transmit to `to` could not be delivered (connect or write failed). Joins
    /// waiting on that address count it as unreached.
    pub fn handle_stream_failed(&mut self, now: Instant, to: &A) {
        let mut done = Vec::new();
        self.joins.failed(to, &mut done);
        self.finish_joins(now, done);
    }

    /// Time passed. Call at (or after) [`poll_timeout`](Self::poll_timeout); extra calls are
    /// harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.probe_timers(now);
        self.relay_timers(now);
        self.suspicion_timers(now);
        let mut done = Vec::new();
        self.joins.expire(now, &mut done);
        self.finish_joins(now, done);
        if self.next_probe <= now {
            self.start_probe(now);
        }
        if self.next_gossip <= now {
            self.gossip_tick(now);
        }
        if self.next_push_pull.is_some_and(|t| t <= now) {
            self.push_pull_tick(now);
        }
        if self.next_reconnect.is_some_and(|t| t <= now) {
            self.reconnect_tick(now);
        }
        if self.joins.retry_deadline().is_some_and(|t| t <= now) {
            self.join_retry_tick(now);
        }
    }

    // ------------------------------------------------------------------ commands

    /// Contact `seeds` with a push-pull each. A [`Event::JoinCompleted`] with the same id
    /// reports how many answered. The local address is skipped.
    pub fn join(&mut self, now: Instant, seeds: impl IntoIterator<Item = A>) -> Result<JoinId, CommandError> {
        if self.leaving {
            return Err(CommandError::Leaving);
        }
        let seeds: Vec<A> = seeds.into_iter().filter(|s| *s != self.local.addr).collect();
        if self.joins.pending() + seeds.len() > self.config.limits.max_pending_joins {
            return Err(CommandError::TooManyJoins);
        }
        if self.transmits.len() + seeds.len() > self.config.limits.max_pending_transmits {
            return Err(CommandError::TransmitQueueFull);
        }
        let id = self.joins.start(seeds.clone());
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
            let request = self.push_pull_id();
            self.joins.add(id, seed.clone(), request, deadline);
            self.stats.push_pulls += 1;
            self.queue(seed, Out::PushPull { kind: PushPullKind::Join, id: request });
        }
        if let Some(f) = self.joins.finish_if_empty(id) {
            self.finish_joins(now, [f]);
        }
    }

    /// A join retry is due: try the seeds again, unless a member at one of their addresses is
    /// alive here already (the member joined some other way) or the transmit queue is full (try
    /// at the next backoff step instead).
    fn join_retry_tick(&mut self, now: Instant) {
        let Some(retry) = self.joins.take_due_retry(now) else { return };
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
        let room = self.config.limits.max_pending_joins.saturating_sub(self.joins.pending());
        if self.transmits.len() + retry.seeds.len() > self.config.limits.max_pending_transmits
            || retry.seeds.len() > room
        {
            // Count this attempt as one that reached nobody; the backoff continues.
            let f = sync::Finished {
                id: retry.join,
                reached: 0,
                attempted: retry.seeds.len(),
                seeds: retry.seeds,
                attempt: retry.attempt,
            };
            self.finish_joins(now, [f]);
            return;
        }
        self.stats.join_retries += 1;
        let (id, seeds) = (retry.join, retry.seeds.clone());
        self.joins.restart(retry);
        self.send_join(now, id, seeds);
    }

    /// Leave gracefully: gossip a leave notice, stop probing. [`Event::LeaveCompleted`] follows
    /// once the notice has been sent as often as any update. Calling it again does nothing.
    pub fn leave(&mut self, now: Instant) -> Result<(), CommandError> {
        if self.leaving {
            return Ok(());
        }
        self.leaving = true;
        self.joins.cancel_retry();
        self.probe = None;
        self.local.state = State::Left;
        self.local.state_changed = now;
        let name = self.local.name.clone();
        let dead = Message::Dead(wire::Dead { incarnation: self.local.incarnation, name: &name, from: &name });
        let bytes = self.encode_one(&dead);
        self.push_gossip(name, bytes);
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

    /// Gossip `payload` to every member. A later broadcast with the same non-empty `key`
    /// replaces this one in every queue it still waits in.
    pub fn broadcast(
        &mut self,
        _now: Instant,
        key: Option<&[u8]>,
        payload: impl Into<Bytes>,
    ) -> Result<(), CommandError> {
        let payload = payload.into();
        let key = key.unwrap_or_default();
        if payload.len() > self.config.limits.max_user_broadcast_size || key.len() > self.config.limits.max_name_len {
            return Err(CommandError::PayloadTooLarge);
        }
        if self.leaving {
            return Err(CommandError::Leaving);
        }
        let id = self.next_broadcast_id;
        self.next_broadcast_id += 1;
        let origin = self.local.name.clone();
        self.seen.insert(self.broadcast_hash(&origin, id));
        let msg = Message::Broadcast(wire::UserBroadcast { origin: &origin, id, key, payload: &payload });
        let bytes = self.encode_one(&msg);
        let k = if key.is_empty() {
            BroadcastKey::Unique(origin, id)
        } else {
            BroadcastKey::Keyed(origin, Bytes::copy_from_slice(key))
        };
        if self.user_gossip.push(k, bytes) == Pushed::Evicted {
            self.stats.broadcasts_dropped += 1;
        }
        Ok(())
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
        self.queue(to, Out::User { payload, reliable, id });
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
        let (added, full) = self.members.extend(
            fresh,
            self.config.limits.max_members,
            |m| !m.name.is_empty() && m.name.len() <= max_name && m.meta.len() <= max_meta && m.name != local,
            &mut self.rng,
        );
        self.stats.members_rejected += full as u64;
        // The first periodic push-pull was staggered within one unscaled interval; with a
        // large restored table that would make every member exchange its whole state at once.
        if added > 0
            && let Some(base) = self.config.push_pull_interval
        {
            let scaled = sync::push_pull_interval(base, self.num_members());
            let nanos = u64::try_from(scaled.as_nanos()).unwrap_or(u64::MAX).max(1);
            self.next_push_pull = Some(now + Duration::from_nanos(self.rng.next_u64() % nanos));
        }
        added
    }

    // ------------------------------------------------------------------ outputs

    /// The next thing to send, written into `buf` (cleared first). Call until `None`.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<Transmit<A>> {
        loop {
            let out = self.transmits.pop_front()?;
            let kind = out.kind();
            let message = match out.body {
                Out::User { id, .. } => Some(id),
                _ => None,
            };
            let encrypt = self.encrypting();
            envelope::begin(buf, &self.config.label, encrypt);
            let body = self.begin_body(buf, encrypt);
            self.encode_out(out.body, buf);
            if kind == TransmitKind::Datagram {
                // Leave room for the authentication tag when encrypting.
                let budget = self.config.packet_budget - if encrypt { crate::config::ENCRYPTION_OVERHEAD } else { 0 };
                let limit = retransmit_limit(self.config.retransmit_mult, self.num_members());
                self.gossip.fill(budget.saturating_sub(buf.len()), limit, buf);
                self.user_gossip.fill(budget.saturating_sub(buf.len()), limit, buf);
                self.check_leave_done();
            }
            if buf.len() == body {
                continue; // a gossip slot with nothing left to gossip
            }
            self.seal(buf, body, encrypt);
            match kind {
                TransmitKind::Datagram => {
                    self.stats.packets_out += 1;
                    self.stats.bytes_out += buf.len() as u64;
                }
                TransmitKind::Stream => {
                    self.stats.streams_out += 1;
                    self.stats.stream_bytes_out += buf.len() as u64;
                }
            }
            return Some(Transmit { destination: out.to, kind, len: buf.len(), message });
        }
    }

    /// The next event. Call until `None`.
    pub fn poll_event(&mut self) -> Option<Event<A>> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    ///
    /// The gossip tick counts only while something is queued, so an idle member wakes once
    /// per probe interval, not every gossip interval; an update queued after an idle spell
    /// goes out at once.
    pub fn poll_timeout(&self) -> Instant {
        let mut t = self.next_probe;
        if !(self.gossip.is_empty() && self.user_gossip.is_empty()) {
            t = t.min(self.next_gossip);
        }
        if let Some(p) = &self.probe {
            t = t.min(p.deadline());
        }
        for d in [
            self.relays.deadline(),
            self.suspicion_timers.keys().next().map(|k| k.0),
            self.joins.deadline(),
            self.joins.retry_deadline(),
            self.next_push_pull,
            self.next_reconnect,
        ]
        .into_iter()
        .flatten()
        {
            t = t.min(d);
        }
        t
    }

    // ------------------------------------------------------------------ encryption

    /// Install (or with `None`, remove) the keyring. Installing one turns both plaintext
    /// switches off: from then on only encrypted packets are sent and accepted, until
    /// [`set_plaintext`](Self::set_plaintext) says otherwise.
    #[cfg(feature = "encryption")]
    pub fn set_keyring(&mut self, keyring: Option<Keyring>) {
        let on = keyring.is_some();
        self.keyring = keyring;
        self.accept_plaintext = !on;
        self.send_plaintext = !on;
    }

    /// The keyring, if encryption is on.
    #[cfg(feature = "encryption")]
    pub fn keyring(&self) -> Option<&Keyring> {
        self.keyring.as_ref()
    }

    /// The keyring, to add, promote or remove keys at runtime (see [`crate::security`]).
    #[cfg(feature = "encryption")]
    pub fn keyring_mut(&mut self) -> Option<&mut Keyring> {
        self.keyring.as_mut()
    }

    /// Migration switches, meaningful only with a keyring: `accept` plaintext packets as well
    /// as encrypted ones, and `send` plaintext instead of encrypting. To switch a running
    /// cluster to encryption: install keyrings with both on, then turn `send` off everywhere,
    /// then `accept` off everywhere (see docs/security.md).
    pub fn set_plaintext(&mut self, accept: bool, send: bool) {
        self.accept_plaintext = accept;
        self.send_plaintext = send;
    }

    /// `(accept, send)` plaintext, as set by [`set_plaintext`](Self::set_plaintext).
    pub fn plaintext(&self) -> (bool, bool) {
        (self.accept_plaintext, self.send_plaintext)
    }

    fn encrypting(&self) -> bool {
        #[cfg(feature = "encryption")]
        {
            self.keyring.is_some() && !self.send_plaintext
        }
        #[cfg(not(feature = "encryption"))]
        {
            false
        }
    }

    fn has_keyring(&self) -> bool {
        #[cfg(feature = "encryption")]
        {
            self.keyring.is_some()
        }
        #[cfg(not(feature = "encryption"))]
        {
            false
        }
    }

    /// Write what goes between the envelope header and the messages (cipher id and nonce when
    /// encrypting); returns where the messages start.
    #[cfg(feature = "encryption")]
    fn begin_body(&mut self, buf: &mut Vec<u8>, encrypt: bool) -> usize {
        match &mut self.keyring {
            Some(k) if encrypt => k.begin(buf),
            _ => buf.len(),
        }
    }

    #[cfg(not(feature = "encryption"))]
    fn begin_body(&mut self, buf: &[u8], _encrypt: bool) -> usize {
        buf.len()
    }

    /// Encrypt the messages after `body` in place and append the tag, when encrypting.
    #[cfg(feature = "encryption")]
    fn seal(&self, buf: &mut Vec<u8>, body: usize, encrypt: bool) {
        if let Some(k) = &self.keyring
            && encrypt
        {
            k.seal(buf, body);
        }
    }

    #[cfg(not(feature = "encryption"))]
    fn seal(&self, _buf: &mut [u8], _body: usize, _encrypt: bool) {}

    /// Check the envelope of an inbound packet and hand its plaintext messages to `f`
    /// (decrypting into `open_buf` if needed).
    fn open<R>(&mut self, data: &[u8], f: impl FnOnce(&mut Self, &[u8]) -> R) -> Result<R, DecodeError> {
        let (header, body) = envelope::parse(data)?;
        if header.label != &self.config.label[..] {
            return Err(DecodeError::LabelMismatch);
        }
        if !header.encrypted {
            if self.has_keyring() && !self.accept_plaintext {
                return Err(DecodeError::Unencrypted);
            }
            return Ok(f(self, body));
        }
        #[cfg(feature = "encryption")]
        {
            let mut plain = core::mem::take(&mut self.open_buf);
            let opened = self.keyring.as_ref().is_some_and(|k| k.open(&data[..header.len], body, &mut plain));
            let r = if opened { Ok(f(self, &plain)) } else { Err(DecodeError::Decrypt) };
            plain.clear();
            self.open_buf = plain;
            r
        }
        #[cfg(not(feature = "encryption"))]
        {
            let _ = f;
            Err(DecodeError::Decrypt)
        }
    }

    // ------------------------------------------------------------------ internals: plumbing

    fn reject(&mut self, e: DecodeError) -> Result<(), DecodeError> {
        self.stats.decode_errors.record(e);
        Err(e)
    }

    fn queue(&mut self, to: A, body: Out<A>) {
        if self.transmits.len() >= self.config.limits.max_pending_transmits {
            self.stats.transmits_dropped += 1;
            return;
        }
        self.transmits.push_back(Outgoing { to, body });
    }

    fn emit(&mut self, e: Event<A>) {
        if self.events.len() >= self.config.limits.max_pending_events {
            self.events.pop_front();
            self.stats.events_dropped += 1;
        }
        self.events.push_back(e);
    }

    fn set_health(&mut self, delta: i64) {
        if let Some(score) = self.awareness.apply(delta) {
            self.emit(Event::HealthChanged { score });
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.next_seq = self.next_seq.wrapping_add(1);
        self.next_seq
    }

    fn push_pull_id(&mut self) -> u32 {
        self.next_push_pull_id = self.next_push_pull_id.wrapping_add(1);
        self.next_push_pull_id
    }

    fn broadcast_hash(&self, origin: &str, id: u64) -> u64 {
        self.hasher.hash_one((origin, id))
    }

    fn encode_one(&mut self, msg: &Message<'_, A>) -> Bytes {
        let mut buf = core::mem::take(&mut self.scratch_buf);
        buf.clear();
        self.codec.encode(msg, &mut buf);
        let bytes = Bytes::copy_from_slice(&buf);
        self.scratch_buf = buf;
        bytes
    }

    fn push_gossip(&mut self, key: Name, bytes: Bytes) {
        if self.gossip.push(key, bytes) == Pushed::Evicted {
            self.stats.broadcasts_dropped += 1;
        }
    }

    fn gossip_local_alive(&mut self) {
        let l = &self.local;
        let msg = Message::Alive(wire::Alive {
            incarnation: l.incarnation,
            name: &l.name,
            addr: l.addr.clone(),
            meta: &l.meta,
        });
        let mut buf = core::mem::take(&mut self.scratch_buf);
        buf.clear();
        self.codec.encode(&msg, &mut buf);
        let bytes = Bytes::copy_from_slice(&buf);
        self.scratch_buf = buf;
        let key = self.local.name.clone();
        self.push_gossip(key, bytes);
    }

    fn gossip_member(&mut self, i: usize, msg_from: Option<&str>) {
        let m = &self.members.get(i).member;
        let name = m.name.clone();
        let msg = match m.state {
            State::Alive => Message::Alive(wire::Alive {
                incarnation: m.incarnation,
                name: &name,
                addr: m.addr.clone(),
                meta: &m.meta,
            }),
            State::Suspect => Message::Suspect(wire::Suspect {
                incarnation: m.incarnation,
                name: &name,
                from: msg_from.unwrap_or(&name),
            }),
            State::Dead => Message::Dead(wire::Dead {
                incarnation: m.incarnation,
                name: &name,
                from: msg_from.unwrap_or(&self.local.name),
            }),
            State::Left => Message::Dead(wire::Dead { incarnation: m.incarnation, name: &name, from: &name }),
        };
        let mut buf = core::mem::take(&mut self.scratch_buf);
        buf.clear();
        self.codec.encode(&msg, &mut buf);
        let bytes = Bytes::copy_from_slice(&buf);
        self.scratch_buf = buf;
        self.push_gossip(name, bytes);
    }

    fn check_leave_done(&mut self) {
        if self.leaving && !self.leave_done && !self.gossip.contains(&self.local.name) {
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
                if let (Some(base), Some(next)) = (self.config.push_pull_interval, self.next_push_pull) {
                    let half = base / sync::JOIN_FOLLOW_UP_DIVISOR / 2;
                    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).max(1);
                    let at = now + half + Duration::from_nanos(self.rng.next_u64() % nanos);
                    self.next_push_pull = Some(next.min(at));
                }
            }
            let (join, reached, attempted) = (f.id, f.reached, f.attempted);
            self.emit(Event::JoinCompleted { join, reached, attempted });
            let policy = if self.leaving { None } else { self.config.join_retry.as_ref() };
            let rng = &mut self.rng;
            match self.joins.after_attempt(f, policy, now, |bound| rng.next_u64() % bound) {
                AfterAttempt::Done => {}
                AfterAttempt::Retrying { attempt, delay } => self.emit(Event::JoinRetrying { join, attempt, delay }),
                AfterAttempt::GaveUp { attempts } => self.emit(Event::JoinGaveUp { join, attempts }),
            }
        }
    }

    fn encode_out(&mut self, body: Out<A>, buf: &mut Vec<u8>) {
        let codec = self.codec.clone();
        match body {
            Out::Ping { seq, target, buddy } => {
                if let Some(incarnation) = buddy {
                    let from = &self.local.name;
                    codec.encode(&Message::Suspect(wire::Suspect { incarnation, name: &target, from }), buf);
                }
                codec.encode(&Message::Ping(wire::Ping { seq, target: &target }), buf);
            }
            Out::IndirectPing { seq, target, target_addr, nack } => {
                codec.encode(
                    &Message::IndirectPing(wire::IndirectPing { seq, target: &target, target_addr, nack }),
                    buf,
                );
            }
            Out::Ack { seq } => codec.encode(&Message::Ack(wire::Ack { seq }), buf),
            Out::Nack { seq } => codec.encode(&Message::Nack(wire::Nack { seq }), buf),
            Out::Gossip => {}
            Out::PushPull { kind, id } => {
                let msg = self.push_pull_state(kind, id);
                codec.encode(&msg, buf);
            }
            Out::User { payload, .. } => {
                codec.encode(&Message::User(wire::UserMessage { from: &self.local.name, payload: &payload }), buf);
            }
        }
    }

    /// The local view as a push-pull message: the local member, then live members, then dead
    /// and left ones, stopping before `limits.max_stream_message_size` would be exceeded.
    fn push_pull_state(&self, kind: PushPullKind, id: u32) -> Message<'_, A> {
        let budget =
            self.config.limits.max_stream_message_size.saturating_sub(MESSAGE_OVERHEAD + self.local.name.len());
        let mut used = 0usize;
        fn state<A: Clone>(m: &Member<A>) -> wire::MemberState<'_, A> {
            wire::MemberState {
                name: m.name.as_str(),
                addr: m.addr.clone(),
                meta: &m.meta[..],
                incarnation: m.incarnation,
                state: m.state,
            }
        }
        let mut members = Vec::with_capacity(self.members.len() + 1);
        let live = self.members.records().iter().filter(|r| !r.member.state.is_gone());
        let gone = self.members.records().iter().filter(|r| r.member.state.is_gone());
        for m in core::iter::once(&self.local).chain(live.chain(gone).map(|r| &r.member)) {
            // Conservative size estimate: name, metadata, address and numbers.
            used += m.name.len() + m.meta.len() + 48;
            if used > budget {
                break;
            }
            members.push(state(m));
        }
        Message::PushPull(wire::PushPull {
            kind,
            id,
            from: &self.local.name,
            from_addr: self.local.addr.clone(),
            members,
        })
    }

    // ------------------------------------------------------------------ internals: input

    fn handle_packet(&mut self, now: Instant, from: A, data: &[u8], stream: bool) -> Result<(), DecodeError> {
        let r = self.open(data, |this, plain| this.handle_messages(now, from, plain, stream));
        match r.and_then(|r| r) {
            Ok(()) => Ok(()),
            Err(e) => self.reject(e),
        }
    }

    fn handle_messages(&mut self, now: Instant, from: A, data: &[u8], stream: bool) -> Result<(), DecodeError> {
        let codec = self.codec.clone();
        let limits = self.limits;
        if stream {
            // Stream messages are few and large (push-pull states): decode once into a list,
            // then apply, rather than decoding every member state twice.
            let mut messages = Vec::new();
            codec.decode(data, &limits, &mut |m| messages.push(m))?;
            if messages.iter().any(|m| matches!(m, Message::Ping(p) if p.target != self.local.name.as_str())) {
                return Err(DecodeError::Misdirected);
            }
            for m in messages {
                self.handle_message(now, &from, m);
            }
            return Ok(());
        }
        // Datagrams: pass 1 validates everything, so rejected input changes nothing; pass 2
        // applies. Decoding twice is cheaper than collecting, and allocates nothing.
        let mut fault = None;
        let local = &self.local.name;
        let validated = codec.decode(data, &limits, &mut |m| match m {
            Message::PushPull(_) => fault = Some(DecodeError::WrongChannel),
            Message::Ping(p) if p.target != local.as_str() => fault = Some(DecodeError::Misdirected),
            _ => {}
        });
        validated.and_then(|_| fault.map_or(Ok(()), Err))?;
        let _ = codec.decode(data, &limits, &mut |m| self.handle_message(now, &from, m));
        Ok(())
    }

    fn handle_message(&mut self, now: Instant, from: &A, msg: Message<'_, A>) {
        match msg {
            Message::Ping(p) => self.queue(from.clone(), Out::Ack { seq: p.seq }),
            Message::IndirectPing(p) => self.on_indirect_ping(now, from, p),
            Message::Ack(a) => self.on_ack(a.seq),
            Message::Nack(n) => self.on_nack(n.seq),
            Message::Alive(a) => self.on_alive(now, a),
            Message::Suspect(s) => self.on_suspect(now, s),
            Message::Dead(d) => self.on_dead(now, d),
            Message::PushPull(p) => self.on_push_pull(now, p),
            Message::User(u) => {
                self.stats.user_messages += 1;
                self.emit(Event::UserMessage {
                    from: from.clone(),
                    sender: Name::from(u.from),
                    payload: Bytes::copy_from_slice(u.payload),
                });
            }
            Message::Broadcast(b) => self.on_broadcast(b),
        }
    }

    // ------------------------------------------------------------------ probing

    fn start_probe(&mut self, now: Instant) {
        self.next_probe = now + self.probe_interval();
        if self.leaving {
            return;
        }
        let left_after = self.config.gossip_to_the_dead_time;
        let dead_after =
            if self.config.reconnect_interval.is_some() { self.config.reconnect_timeout } else { left_after };
        let mut removed = core::mem::take(&mut self.scratch_removed);
        let target = self.members.next_probe_target(
            &mut self.rng,
            |m| {
                let age = now - m.state_changed;
                match m.state {
                    State::Left => age >= left_after,
                    State::Dead => age >= dead_after,
                    _ => false,
                }
            },
            &mut removed,
        );
        for m in removed.drain(..) {
            self.emit(Event::MemberRemoved(m));
        }
        self.scratch_removed = removed;
        let Some(i) = target else { return };
        let m = &self.members.get(i).member;
        let (target, addr, incarnation) = (m.name.clone(), m.addr.clone(), m.incarnation);
        let buddy = (self.config.lifeguard.buddy && m.state == State::Suspect).then_some(incarnation);
        let seq = self.next_seq();
        self.probe = Some(InFlight {
            seq,
            target: target.clone(),
            addr: addr.clone(),
            incarnation,
            ack_deadline: Some(now + self.probe_timeout()),
            end: now + self.probe_interval(),
            expected_nacks: 0,
            nacks: 0,
        });
        self.stats.probes += 1;
        self.queue(addr, Out::Ping { seq, target, buddy });
    }

    fn probe_timers(&mut self, now: Instant) {
        let Some(p) = &mut self.probe else { return };
        if p.ack_deadline.is_some_and(|d| d <= now) {
            p.ack_deadline = None;
            if p.end > now {
                self.send_indirect_probes();
            }
        }
        if self.probe.as_ref().is_some_and(|p| p.end <= now)
            && let Some(p) = self.probe.take()
        {
            self.probe_failed(now, p);
        }
    }

    fn send_indirect_probes(&mut self) {
        let Some(p) = &self.probe else { return };
        let target = p.target.clone();
        let mut helpers = core::mem::take(&mut self.scratch_idx);
        self.members.sample(&mut self.rng, self.config.indirect_checks, &mut helpers, |m| {
            m.state == State::Alive && m.name != target
        });
        let nack = self.config.lifeguard.nack;
        let (seq, target_addr) = match &self.probe {
            Some(p) => (p.seq, p.addr.clone()),
            None => return,
        };
        for &h in &helpers {
            let to = self.members.get(h).member.addr.clone();
            self.stats.indirect_probes += 1;
            self.queue(to, Out::IndirectPing { seq, target: target.clone(), target_addr: target_addr.clone(), nack });
        }
        if let Some(p) = &mut self.probe {
            p.expected_nacks = if nack { helpers.len() as u32 } else { 0 };
        }
        self.scratch_idx = helpers;
    }

    fn probe_failed(&mut self, now: Instant, p: InFlight<A>) {
        self.stats.probe_failures += 1;
        self.set_health(p.failure_penalty());
        let from = self.local.name.clone();
        self.on_suspect(now, wire::Suspect { incarnation: p.incarnation, name: &p.target, from: &from });
    }

    fn on_ack(&mut self, seq: u32) {
        if self.probe.as_ref().is_some_and(|p| p.seq == seq) {
            self.probe = None;
            self.set_health(-1);
            return;
        }
        if let Some(r) = self.relays.take(seq) {
            self.stats.acks_relayed += 1;
            self.queue(r.requester, Out::Ack { seq: r.requester_seq });
            return;
        }
        if let Some((_, to)) = self.reconnect.take_if(|(s, _)| *s == seq) {
            // A member we hold dead answered: exchange state, which heals a partition.
            let id = self.push_pull_id();
            self.stats.push_pulls += 1;
            self.queue(to, Out::PushPull { kind: PushPullKind::Periodic, id });
            return;
        }
        self.stats.stale_acks += 1;
    }

    fn on_nack(&mut self, seq: u32) {
        if let Some(p) = &mut self.probe
            && p.seq == seq
            && p.ack_deadline.is_none()
            && p.record_nack()
        {
            self.stats.nacks_received += 1;
        }
    }

    fn on_indirect_ping(&mut self, now: Instant, from: &A, p: wire::IndirectPing<'_, A>) {
        let seq = self.next_seq();
        let relay = Relay {
            local_seq: seq,
            requester: from.clone(),
            requester_seq: p.seq,
            nack_at: p.nack.then(|| now + self.config.nack_timeout()),
            expires: now + self.config.probe_interval,
        };
        if !self.relays.add(relay) {
            self.stats.relays_dropped += 1;
            return;
        }
        self.stats.relays += 1;
        self.queue(p.target_addr, Out::Ping { seq, target: Name::from(p.target), buddy: None });
    }

    fn relay_timers(&mut self, now: Instant) {
        let mut due: Vec<(A, u32)> = Vec::new(); // allocates only when a nack is due
        self.relays.expire(now, |a, s| due.push((a.clone(), s)));
        for (a, seq) in due {
            self.stats.nacks_sent += 1;
            self.queue(a, Out::Nack { seq });
        }
    }

    // ------------------------------------------------------------------ suspicion

    fn suspicion_timers(&mut self, now: Instant) {
        while let Some((&(at, id), _)) = self.suspicion_timers.first_key_value() {
            if at > now {
                break;
            }
            let Some(name) = self.suspicion_timers.remove(&(at, id)) else { break };
            let Some(i) = self.members.find(&name) else { continue };
            let current = self.suspicions.get(name.as_str()).is_some_and(|s| s.timer_id == id);
            if self.members.get(i).member.state != State::Suspect || !current {
                continue;
            }
            self.suspicion_expired(now, i);
        }
    }

    fn suspicion_expired(&mut self, now: Instant, i: usize) {
        let m = &self.members.get(i).member;
        let name = m.name.clone();
        let incarnation = m.incarnation;
        self.stats.deaths_declared += 1;
        let from = self.local.name.clone();
        self.on_dead(now, wire::Dead { incarnation, name: &name, from: &from });
    }

    fn cancel_suspicion(&mut self, i: usize) {
        if self.suspicions.is_empty() {
            return;
        }
        let name = &self.members.get(i).member.name;
        if let Some(s) = self.suspicions.remove(name.as_str()) {
            self.suspicion_timers.remove(&(s.deadline(), s.timer_id));
        }
    }

    fn start_suspicion(&mut self, now: Instant, i: usize, incarnation: u32, accuser: &str) {
        self.cancel_suspicion(i);
        self.members.get_mut(i).member.incarnation = incarnation;
        self.members.set_state(i, State::Suspect, now);
        let n = self.num_members();
        let lg = &self.config.lifeguard;
        let (min, max) = suspicion::timeout_bounds(
            self.config.suspicion_mult,
            self.config.suspicion_max_timeout_mult,
            n,
            self.config.probe_interval,
        );
        let (max, k) = if lg.dynamic_suspicion {
            let configured = lg.suspicion_confirmations.unwrap_or(self.config.suspicion_mult.saturating_sub(2));
            (max, suspicion::needed_confirmations(configured, n))
        } else {
            (min, 0)
        };
        let id = self.next_timer_id;
        self.next_timer_id += 1;
        let accuser_name =
            if accuser == self.local.name.as_str() { self.local.name.clone() } else { Name::from(accuser) };
        let s = Suspicion::new(incarnation, now, min, max, k, accuser_name.clone(), id);
        let name = self.members.get(i).member.name.clone();
        self.suspicion_timers.insert((s.deadline(), id), name.clone());
        self.suspicions.insert(name, s);
        self.stats.suspicions += 1;
        self.gossip_member(i, Some(accuser));
        let member = self.members.get(i).member.clone();
        self.emit(Event::MemberSuspected { member, accuser: accuser_name });
    }

    /// A suspicion about member `i` at its current incarnation from `from`.
    fn confirm_suspicion(&mut self, now: Instant, i: usize, from: &str) {
        if !self.config.lifeguard.dynamic_suspicion {
            return;
        }
        let name = &self.members.get(i).member.name;
        let Some(s) = self.suspicions.get_mut(name.as_str()) else { return };
        let old = (s.deadline(), s.timer_id);
        if !s.confirm(from) {
            return;
        }
        let new = (s.deadline(), s.timer_id);
        self.stats.suspicion_confirmations += 1;
        if let Some(name) = self.suspicion_timers.remove(&old) {
            self.suspicion_timers.insert(new, name);
        }
        // Re-gossip the confirmation so others can count it too.
        self.gossip_member(i, Some(from));
        if new.0 <= now {
            self.suspicion_timers.remove(&new);
            self.suspicion_expired(now, i);
        }
    }

    // ------------------------------------------------------------------ membership updates

    fn refute(&mut self, accused: u32) {
        let inc = self.local.incarnation.saturating_add(1).max(accused.saturating_add(1));
        self.local.incarnation = inc;
        self.stats.refutations += 1;
        self.gossip_local_alive();
        self.set_health(1);
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
            if a.incarnation == self.local.incarnation && a.meta == &self.local.meta[..] {
                return;
            }
            // Someone announced us with a newer incarnation or other metadata: reassert.
            self.refute(a.incarnation);
            return;
        }
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
                // Another process has taken the name: forget the old member, admit the new one.
                let old = self.members.remove(i);
                self.emit(Event::MemberRemoved(old));
                found = None;
            }
        }
        let Some(i) = found else {
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
            let i = if self.batch_insert {
                self.members.push(member.clone())
            } else {
                self.members.insert(member.clone(), &mut self.rng)
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
        let old_state = m.state;
        let meta_changed = m.meta[..] != *a.meta;
        self.cancel_suspicion(i);
        let r = self.members.get_mut(i);
        r.member.incarnation = a.incarnation;
        if meta_changed {
            r.member.meta = Bytes::copy_from_slice(a.meta);
        }
        self.members.set_state(i, State::Alive, now);
        self.gossip_member(i, None);
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
        if m.state.is_gone() {
            // Already dead or left: remember the newer incarnation, nothing else changes.
            self.members.get_mut(i).member.incarnation = d.incarnation;
            return;
        }
        self.cancel_suspicion(i);
        self.members.get_mut(i).member.incarnation = d.incarnation;
        self.members.set_state(i, if left { State::Left } else { State::Dead }, now);
        self.gossip_member(i, Some(d.from));
        let member = self.members.get(i).member.clone();
        self.emit(if left { Event::MemberLeft(member) } else { Event::MemberFailed(member) });
    }

    fn on_push_pull(&mut self, now: Instant, p: wire::PushPull<'_, A>) {
        self.stats.push_pull_merges += 1;
        // Size the tables once for the members this state could add (a join's reply is the
        // whole cluster), instead of growing and rehashing them one insert at a time.
        let additional = p.members.len().saturating_sub(self.members.len() + 1);
        if additional > 0 {
            let room = self.config.limits.max_members.saturating_sub(self.members.len());
            self.members.reserve(additional.min(room));
            self.gossip.reserve(additional);
        }
        // Many newcomers (a join's reply): one shuffle at the end costs less than a random
        // swap (two index look-ups) per newcomer.
        self.batch_insert = additional > BATCH_INSERT_THRESHOLD;
        let local = self.local.name.clone();
        for m in &p.members {
            match m.state {
                State::Alive => self.on_alive(
                    now,
                    wire::Alive { incarnation: m.incarnation, name: m.name, addr: m.addr.clone(), meta: m.meta },
                ),
                State::Left => self.on_dead(now, wire::Dead { incarnation: m.incarnation, name: m.name, from: m.name }),
                // A remote death becomes a local suspicion: the accused may still refute.
                State::Suspect | State::Dead => {
                    self.on_suspect(now, wire::Suspect { incarnation: m.incarnation, name: m.name, from: &local })
                }
            }
        }
        if self.batch_insert {
            self.batch_insert = false;
            self.members.reshuffle(&mut self.rng);
        }
        match p.kind {
            PushPullKind::Reply => {
                if let Some(f) = self.joins.replied(p.id) {
                    self.finish_joins(now, [f]);
                }
            }
            PushPullKind::Join | PushPullKind::Periodic => {
                self.queue(p.from_addr, Out::PushPull { kind: PushPullKind::Reply, id: p.id });
            }
        }
    }

    fn on_broadcast(&mut self, b: wire::UserBroadcast<'_>) {
        if self.local.name == b.origin {
            return;
        }
        if !self.seen.insert(self.broadcast_hash(b.origin, b.id)) {
            self.stats.duplicate_broadcasts += 1;
            return;
        }
        self.stats.user_broadcasts += 1;
        let origin = Name::from(b.origin);
        let payload = Bytes::copy_from_slice(b.payload);
        let bytes = self.encode_one(&Message::Broadcast(b));
        let key = if b.key.is_empty() {
            BroadcastKey::Unique(origin.clone(), b.id)
        } else {
            BroadcastKey::Keyed(origin.clone(), Bytes::copy_from_slice(b.key))
        };
        if self.user_gossip.push(key, bytes) == Pushed::Evicted {
            self.stats.broadcasts_dropped += 1;
        }
        self.emit(Event::UserBroadcast { origin, payload });
    }

    // ------------------------------------------------------------------ periodic ticks

    fn gossip_tick(&mut self, now: Instant) {
        self.next_gossip = now + self.config.gossip_interval;
        if self.leaving && !self.leave_done && self.members.live() == 0 {
            self.leave_done = true;
            self.emit(Event::LeaveCompleted);
        }
        if self.gossip.is_empty() && self.user_gossip.is_empty() {
            return;
        }
        let dead_window = self.config.gossip_to_the_dead_time;
        let mut targets = core::mem::take(&mut self.scratch_idx);
        self.members.sample(&mut self.rng, self.config.gossip_nodes, &mut targets, |m| match m.state {
            State::Alive | State::Suspect => true,
            State::Dead => now - m.state_changed < dead_window,
            State::Left => false,
        });
        for &t in &targets {
            let to = self.members.get(t).member.addr.clone();
            self.queue(to, Out::Gossip);
        }
        self.scratch_idx = targets;
    }

    fn push_pull_tick(&mut self, now: Instant) {
        let Some(base) = self.config.push_pull_interval else { return };
        self.next_push_pull = Some(now + sync::push_pull_interval(base, self.num_members()));
        if self.leaving {
            return;
        }
        let mut pick = core::mem::take(&mut self.scratch_idx);
        self.members.sample(&mut self.rng, 1, &mut pick, |m| m.state == State::Alive);
        if let Some(&i) = pick.first() {
            let to = self.members.get(i).member.addr.clone();
            let id = self.push_pull_id();
            self.stats.push_pulls += 1;
            self.queue(to, Out::PushPull { kind: PushPullKind::Periodic, id });
        }
        self.scratch_idx = pick;
    }

    /// Partition healing: ping one random dead member; if it answers, push-pull with it
    /// (`on_ack`). The ping is cheap where the push-pull carries the whole table, and most dead
    /// members are really dead.
    fn reconnect_tick(&mut self, now: Instant) {
        let Some(interval) = self.config.reconnect_interval else { return };
        self.next_reconnect = Some(now + interval);
        if self.leaving || self.members.dead() == 0 {
            return;
        }
        let window = self.config.reconnect_timeout;
        let mut candidates = core::mem::take(&mut self.scratch_idx);
        candidates.clear();
        candidates.extend((0..self.members.len()).filter(|&i| {
            let m = &self.members.get(i).member;
            m.state == State::Dead && now - m.state_changed < window
        }));
        if !candidates.is_empty() {
            let i = candidates[self.rng.below(candidates.len())];
            let m = &self.members.get(i).member;
            let (to, target) = (m.addr.clone(), m.name.clone());
            let seq = self.next_seq();
            self.reconnect = Some((seq, to.clone()));
            self.stats.reconnects += 1;
            self.queue(to, Out::Ping { seq, target, buddy: None });
        }
        self.scratch_idx = candidates;
    }
}
