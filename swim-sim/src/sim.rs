//! The simulation: many cores, one network, one fault schedule, one virtual clock, one thread.
//!
//! [`Simulation::step`] takes the earliest event from the [`EventQueue`] (a packet arriving,
//! a starved member getting round to a packet, a member's timer, a fault, a metrics sample),
//! moves the clock to it, hands it to the member it concerns, and then drains that member
//! exactly as swim-core's run-loop contract says: `poll_transmit` until `None` (each transmit
//! goes through the [`Network`]), `poll_event` until `None` (each event updates the
//! [`Truth`] and is checked), and `poll_timeout` to schedule the member's next timer. The
//! safety invariants of [`crate::invariants`] are checked after every input.
//!
//! Nothing here reads a clock or a global random source: the master seed decides every
//! choice (see [`crate::rng`]), so a run is a pure function of its [`SimConfig`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;
use swim_core::{
    DecodeError, Event, Identity, Instant, Member, Name, State, StreamRole, Swim, TransmitKind, WireProfile,
};

use crate::connections::{Conn, Connections};
use crate::digest::Digest;
use crate::dist::Dist;
use crate::faults::{self, Action, RestartIncarnation, Schedule, Scheduled};
use crate::invariants::{self, Checker, Violation};
use crate::network::{Admit, LatencyModel, Network, Route};
use crate::node::{SimNode, Slow, Status, Traffic};
use crate::queue::{Ev, EventQueue};
use crate::rng::{SimRng, Stream, derive_seed};
use crate::trace::{TraceRecord, event_member};
use crate::truth::{Sample, Truth, node_index, node_name};

pub use crate::config::{HooksFactory, SetupError, SimConfig, StartMode, StartSpec};

/// A packet in flight; its bytes are reused once it is delivered or dropped.
#[derive(Debug, Default)]
struct Packet {
    from: u32,
    to: u32,
    from_life: u32,
    to_life: u32,
    stream: bool,
    /// The connection a stream message uses (memberlist profile).
    conn: Conn,
    bytes: Vec<u8>,
}

/// How a message is handed to its destination's core.
#[derive(Clone, Copy, Debug)]
enum Input {
    /// `handle_datagram`.
    Datagram,
    /// `handle_stream` (swim's own profile).
    Stream,
    /// `handle_stream_on` with this connection (memberlist profile).
    On(swim_core::ConnectionId),
    /// `handle_stream_reply` to this request (memberlist profile).
    Reply(swim_core::RequestId),
}

/// Packets in flight, by slot, and spare buffers: after warm-up no datagram allocates.
#[derive(Debug, Default)]
struct Slab {
    packets: Vec<Packet>,
    free: Vec<u32>,
    spare: Vec<Vec<u8>>,
}

/// Spare buffers larger than this are freed rather than kept (a big push-pull state).
const MAX_SPARE_CAPACITY: usize = 1 << 20;
/// Spare buffers kept at most.
const MAX_SPARE: usize = 4096;

impl Slab {
    fn take_buf(&mut self) -> Vec<u8> {
        self.spare.pop().unwrap_or_else(|| Vec::with_capacity(1500))
    }

    fn put_buf(&mut self, mut b: Vec<u8>) {
        if b.capacity() <= MAX_SPARE_CAPACITY && self.spare.len() < MAX_SPARE {
            b.clear();
            self.spare.push(b);
        }
    }

    fn insert(&mut self, p: Packet) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.packets[i as usize] = p;
                i
            }
            None => {
                self.packets.push(p);
                (self.packets.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, i: u32) {
        let b = std::mem::take(&mut self.packets[i as usize].bytes);
        self.put_buf(b);
        self.free.push(i);
    }

    fn in_flight(&self) -> usize {
        self.packets.len() - self.free.len()
    }

    fn heap_bytes(&self) -> usize {
        self.packets.iter().map(|p| p.bytes.capacity()).sum::<usize>()
            + self.spare.iter().map(|b| b.capacity()).sum::<usize>()
            + self.packets.capacity() * std::mem::size_of::<Packet>()
    }
}

/// Counters of the simulator itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SimStats {
    /// Events taken from the queue.
    pub steps: u64,
    /// Messages handed to cores (datagrams and streams).
    pub delivered: u64,
    /// Messages the cores sent.
    pub transmitted: u64,
    /// Timer calls.
    pub timeouts: u64,
    /// Events the cores emitted.
    pub events: u64,
    /// Transmits to an address no member has.
    pub unknown_destination: u64,
    /// Joins the core refused and the engine tried again (`StartSpec::retry_join`); the core's
    /// own retries of joins that reached no seed are in its `Stats::join_retries`.
    pub join_retries: u64,
    /// Most packets in flight at once.
    pub peak_in_flight: usize,
    /// Memberlist profile: stream requests sent ([`StreamRole::Request`]; see
    /// [`crate::connections`]).
    pub requests: u64,
    /// Memberlist profile: replies handed to their requester.
    pub replies_delivered: u64,
    /// Memberlist profile: replies dropped because the engine no longer knew their connection
    /// (the request failed or timed out, or it was one-way) or their requester restarted.
    pub replies_unroutable: u64,
    /// Memberlist profile: requests with no reply within the requester's
    /// `Config::stream_timeout` (reported to it as a failed stream).
    pub requests_timed_out: u64,
}

/// What version negotiation did in a run: the envelope versions used, and who refused whom.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VersionStats {
    /// Packets the members of the cluster sent (datagrams and stream messages; outsiders'
    /// are counted apart), per phase of the run ([`SimConfig::phases`]; one entry without
    /// phases), per envelope version.
    pub packets: Vec<BTreeMap<u8, u64>>,
    /// `MemberRefused` events about members that share versions with the run's configuration:
    /// refusals that should not happen.
    pub compatible_refused: u64,
    /// Members that share no version with the run's configuration (outsiders), by node index.
    pub outsiders: BTreeMap<u32, OutsiderStats>,
}

/// How the cluster treated one outsider.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OutsiderStats {
    /// Packets it sent.
    pub sent: u64,
    /// Members that were handed a packet it sent.
    pub reached: BTreeSet<u32>,
    /// Members that refused its alive record (`MemberRefused`).
    pub refused_by: BTreeSet<u32>,
    /// Members that rejected a packet it sent (`DecodeError::UnsupportedVersion`).
    pub rejected_by: BTreeSet<u32>,
    /// Events at which a member came to hold it alive (`MemberJoined`, `MemberAlive`): should
    /// be none.
    pub held_alive: u64,
}

/// Every member's recorded events, by member.
type EventLog = Vec<Vec<(Instant, Event<u32>)>>;

/// A hook called with every member event: `(time, member, event)`.
pub type EventHook = Box<dyn FnMut(Instant, u32, &Event<u32>) + Send>;

/// A hook called with every message handed to a core: `(time, from, to, is_stream, bytes)`.
pub type PacketHook = Box<dyn FnMut(Instant, u32, u32, bool, &[u8]) + Send>;

/// A running simulation. See the module docs.
pub struct Simulation {
    pub(crate) cfg: SimConfig,
    pub(crate) now: Instant,
    queue: EventQueue,
    slab: Slab,
    pub(crate) nodes: Vec<SimNode>,
    names: Vec<Name>,
    pub(crate) net: Network,
    pub(crate) truth: Truth,
    checker: Checker,
    digest: Digest,
    pub(crate) schedule: Schedule,
    pub(crate) partitions: BTreeMap<u32, u32>,
    fault_rng: SimRng,
    start_rng: SimRng,
    warmup_at: Instant,
    warm_snapshot: Option<Vec<Member<u32>>>,
    stats: SimStats,
    pub(crate) versions: VersionStats,
    violation: Option<Violation>,
    hook: Option<EventHook>,
    packet_hook: Option<PacketHook>,
    events_log: Option<EventLog>,
    samples: Vec<Sample>,
    pub(crate) metadata_version: u64,
    /// The members speak memberlist's wire profile ([`WireProfile::Memberlist`]).
    memberlist: bool,
    /// Memberlist profile: open request/reply exchanges.
    conns: Connections,
    /// Until when a member counts as cut off by a network fault that touched it.
    pub(crate) impaired_until: Vec<Instant>,
    started_by: Instant,
    next_memory_sample: Instant,
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("seed", &self.cfg.seed)
            .field("nodes", &self.cfg.nodes)
            .field("now", &self.now)
            .finish()
    }
}

impl Simulation {
    /// Build the run: validate, expand the fault schedule, start the initial members.
    pub fn new(cfg: SimConfig) -> Result<Self, SetupError> {
        let n = cfg.nodes;
        if n == 0 || n > u32::MAX as usize / 2 {
            return Err(SetupError("nodes must be between 1 and 2^31".into()));
        }
        cfg.config.validate().map_err(|e| SetupError(format!("config: {e}")))?;
        cfg.network.validate(n).map_err(SetupError)?;
        if let Some(bad) = cfg.start.seeds.iter().find(|&&s| s as usize >= n) {
            return Err(SetupError(format!("start.seeds: node {bad} does not exist")));
        }
        if cfg.start.seeds.is_empty() && cfg.start.mode == StartMode::Join {
            return Err(SetupError("start.seeds: join mode needs at least one seed".into()));
        }
        let initial = cfg.start.initial.unwrap_or(n).min(n);
        let mut fault_rng = SimRng::derive(cfg.seed, Stream::Faults, 0);
        let mut start_rng = SimRng::derive(cfg.seed, Stream::Start, 0);
        let mut schedule = faults::expand(&cfg.faults, n, &cfg.start.seeds, cfg.duration, &mut fault_rng)
            .map_err(|e| SetupError(format!("faults: {e}")))?;
        // Join mode: the non-seed members' start times are part of the schedule.
        let mut joined_by = Instant::ZERO;
        if cfg.start.mode == StartMode::Join {
            let window = u64::try_from(cfg.start.window.0.as_nanos()).unwrap_or(u64::MAX);
            for i in 0..initial as u32 {
                if cfg.start.seeds.contains(&i) {
                    continue;
                }
                let at = Instant::from_nanos(start_rng.range_u64(0, window));
                joined_by = joined_by.max(at);
                schedule.actions.push(Scheduled {
                    at,
                    fault: "start".into(),
                    action: Action::Start {
                        nodes: vec![i],
                        restart: false,
                        incarnation: RestartIncarnation::Zero,
                        versions: None,
                    },
                });
            }
            schedule.actions.sort_by_key(|a| a.at);
            schedule.healed_at = schedule.healed_at.map(|h| h.max(joined_by));
        }
        let names: Vec<Name> = (0..n as u32).map(|i| Name::from(node_name(i))).collect();
        let nodes = (0..n as u64).map(|i| SimNode::new(SimRng::derive(cfg.seed, Stream::Slow, i))).collect();
        let mut net = Network::new(&cfg.network, n, SimRng::derive(cfg.seed, Stream::Network, 0));
        net.set_model(
            LatencyModel::build(&cfg.network, n, SimRng::derive(cfg.seed, Stream::Space, 0)).map_err(SetupError)?,
        );
        let truth = Truth::new(n, cfg.stale_window());
        let mut sim = Simulation {
            now: Instant::ZERO,
            queue: EventQueue::default(),
            slab: Slab::default(),
            nodes,
            names,
            net,
            truth,
            checker: Checker::new(n),
            digest: Digest::default(),
            schedule,
            partitions: BTreeMap::new(),
            fault_rng,
            start_rng,
            warmup_at: Instant::ZERO + cfg.warmup,
            warm_snapshot: None,
            stats: SimStats::default(),
            versions: VersionStats {
                packets: vec![BTreeMap::new(); cfg.phases.len().max(1)],
                ..VersionStats::default()
            },
            violation: None,
            hook: None,
            packet_hook: None,
            events_log: cfg.record_events.then(|| (0..n).map(|_| Vec::new()).collect()),
            samples: Vec::new(),
            metadata_version: 0,
            memberlist: cfg.config.wire == WireProfile::Memberlist,
            conns: Connections::default(),
            impaired_until: vec![Instant::ZERO; n],
            started_by: joined_by,
            next_memory_sample: Instant::ZERO,
            cfg,
        };
        for (k, a) in sim.schedule.actions.iter().enumerate() {
            sim.queue.push(a.at, Ev::Fault(k as u32));
        }
        if !sim.cfg.sample_interval.is_zero() {
            sim.queue.push(Instant::ZERO, Ev::Sample);
        }
        if !sim.cfg.warmup.is_zero() {
            sim.queue.push(sim.warmup_at, Ev::Warmup);
        }
        match sim.cfg.start.mode {
            StartMode::Warm => {
                sim.warm_snapshot = Some(
                    (0..initial as u32)
                        .map(|i| Member {
                            name: sim.names[i as usize].clone(),
                            addr: i,
                            meta: swim_core::Bytes::new(),
                            incarnation: 0,
                            state: State::Alive,
                            state_changed: Instant::ZERO,
                        })
                        .collect(),
                );
                for i in 0..initial as u32 {
                    sim.start_node(i, false, RestartIncarnation::Zero, true, false)?;
                }
                sim.warm_snapshot = None;
            }
            StartMode::Join => {
                let seeds = sim.cfg.start.seeds.clone();
                for &s in &seeds {
                    if (s as usize) < initial {
                        sim.start_node(s, false, RestartIncarnation::Zero, false, false)?;
                    }
                }
                // Seeds join each other, so several seeds form one cluster.
                for &s in &seeds {
                    let others: Vec<u32> = seeds.iter().copied().filter(|&o| o != s).collect();
                    if !others.is_empty() && sim.nodes[s as usize].running() {
                        sim.join(s, others);
                    }
                }
            }
        }
        if let Some(v) = sim.violation.take() {
            return Err(SetupError(v.to_string()));
        }
        Ok(sim)
    }

    // ------------------------------------------------------------------ queries

    /// The configuration of the run.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// The master seed.
    pub fn seed(&self) -> u64 {
        self.cfg.seed
    }

    /// Virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// When the next event is due, if any.
    pub fn next_time(&self) -> Option<Instant> {
        self.queue.peek_time()
    }

    /// Members (running or not).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the cluster has no members.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Member `i`'s core, while its process runs.
    pub fn node(&self, i: u32) -> Option<&Swim<u32>> {
        self.nodes.get(i as usize).and_then(|n| n.swim.as_deref())
    }

    /// Member `i`'s process status.
    pub fn status(&self, i: u32) -> Status {
        self.nodes[i as usize].status
    }

    /// Member `i`'s name.
    pub fn name(&self, i: u32) -> &Name {
        &self.names[i as usize]
    }

    /// Ground truth and views.
    pub fn truth(&self) -> &Truth {
        &self.truth
    }

    /// The true round-trip time between members `a` and `b` ([`Network::true_rtt`]): what
    /// a network coordinate system should estimate. `a` and `b` must be below
    /// [`Simulation::len`] (a harness's own indices; it panics otherwise).
    pub fn true_rtt(&self, a: u32, b: u32) -> Duration {
        self.net.true_rtt(a, b)
    }

    /// The network.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The expanded fault schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Simulator counters.
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// What version negotiation did so far.
    pub fn version_stats(&self) -> &VersionStats {
        &self.versions
    }

    /// The phase of the run at `t` (an index into [`SimConfig::phases`]; 0 without phases).
    fn phase_at(&self, t: Instant) -> usize {
        let phases = &self.cfg.phases;
        phases.partition_point(|p| Instant::ZERO + p.at.0 <= t).saturating_sub(1)
    }

    /// Periodic samples so far.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The trace digest so far.
    pub fn digest(&self) -> u64 {
        self.digest.value()
    }

    /// When the last initially started member started (the end of the join window).
    pub fn started_by(&self) -> Instant {
        self.started_by
    }

    /// Memberlist profile: request/reply exchanges open now (requests waiting for their
    /// reply; each closes by its requester's `stream_timeout` at the latest).
    pub fn open_exchanges(&self) -> usize {
        self.conns.len()
    }

    /// Member `i`'s traffic since the warm-up ended, and its up time in that window.
    pub fn traffic(&self, i: u32) -> (Traffic, Duration) {
        let n = &self.nodes[i as usize];
        let mut up = n.up_ns;
        if let Some(s) = n.up_since {
            let from = s.max(self.warmup_at);
            if self.now > from {
                up += (self.now - from).as_nanos() as u64;
            }
        }
        (n.traffic.minus(&n.baseline), Duration::from_nanos(up))
    }

    /// Largest member-table estimate member `i` reported at a sample.
    pub fn peak_table_bytes(&self, i: u32) -> usize {
        self.nodes[i as usize].peak_table_bytes
    }

    /// Whether every running member holds exactly the running members alive, nobody suspect.
    pub fn converged(&self) -> bool {
        self.truth.converged()
    }

    /// `observer`'s view of `target` according to its core.
    pub fn sees(&self, observer: u32, target: u32) -> Option<State> {
        self.node(observer)?.member(&self.names[target as usize]).map(|m| m.state)
    }

    /// Whether every running member other than `target` holds it in `state` (or, for `Dead`
    /// and `Left`, no longer holds it at all).
    pub fn all_see(&self, target: u32, state: State) -> bool {
        (0..self.nodes.len() as u32).filter(|&o| o != target && self.nodes[o as usize].status == Status::Up).all(|o| {
            match self.sees(o, target) {
                Some(s) => s == state,
                None => state.is_gone(),
            }
        })
    }

    /// Member `i`'s events so far (only with [`SimConfig::record_events`]), emptied.
    pub fn take_events(&mut self, i: u32) -> Vec<(Instant, Event<u32>)> {
        self.events_log.as_mut().map(|l| std::mem::take(&mut l[i as usize])).unwrap_or_default()
    }

    /// Call `hook` with every member event from now on.
    pub fn set_event_hook(&mut self, hook: EventHook) {
        self.hook = Some(hook);
    }

    /// Call `hook` with every message handed to a core from now on (a debugging aid: decode
    /// the bytes with [`swim_core::wire`] to see what a member was told).
    pub fn set_packet_hook(&mut self, hook: PacketHook) {
        self.packet_hook = Some(hook);
    }

    /// Approximate heap bytes of the simulator's own structures (not the cores).
    pub fn sim_heap_bytes(&self) -> usize {
        self.truth.heap_bytes()
            + self.net.heap_bytes()
            + self.queue.heap_bytes()
            + self.slab.heap_bytes()
            + self.conns.heap_bytes()
            + self.nodes.capacity() * std::mem::size_of::<SimNode>()
    }

    // ------------------------------------------------------------------ driving

    /// Handle the next event. Returns false if nothing is scheduled.
    pub fn step(&mut self) -> Result<bool, Violation> {
        let Some((at, ev)) = self.queue.pop() else { return Ok(false) };
        debug_assert!(at >= self.now, "time went backwards");
        self.now = at;
        self.stats.steps += 1;
        match ev {
            Ev::Arrive(p) => self.arrive(p),
            Ev::Process(p) => {
                let pk = &self.slab.packets[p as usize];
                let node = &self.nodes[pk.to as usize];
                if node.running() && node.life == pk.to_life {
                    self.deliver(p);
                } else {
                    self.slab.release(p);
                }
            }
            Ev::Timer { node, generation } => self.fire_timer(node, generation),
            Ev::Fault(k) => self.apply_scheduled(k as usize),
            Ev::StreamFailed { node, life, to } => self.stream_failed(node, life, to),
            Ev::RequestTimeout { conn } => {
                if let Some(x) = self.conns.close(conn) {
                    self.stats.requests_timed_out += 1;
                    self.stream_failed(x.requester, x.life, x.replier);
                }
            }
            Ev::Sample => {
                self.take_sample();
                let next = self.now + self.cfg.sample_interval;
                self.queue.push(next, Ev::Sample);
            }
            Ev::Warmup => {
                for n in &mut self.nodes {
                    n.baseline = n.traffic;
                    n.up_ns = 0;
                    if n.up_since.is_some() {
                        n.up_since = Some(self.now);
                    }
                }
            }
            Ev::Stop { node, life } => {
                let n = &self.nodes[node as usize];
                if n.status == Status::Leaving && n.life == life {
                    self.crash(node, false);
                }
            }
            Ev::RetryJoin { node, life } => {
                let n = &self.nodes[node as usize];
                if n.status == Status::Up && n.life == life && n.swim.as_ref().is_some_and(|s| s.num_members() == 1) {
                    self.stats.join_retries += 1;
                    let seeds = self.join_seeds(node, true);
                    self.join(node, seeds);
                }
            }
        }
        match self.violation.take() {
            Some(v) => Err(v),
            None => Ok(true),
        }
    }

    /// Run until virtual time `end` (events at `end` included).
    pub fn run_until_time(&mut self, end: Instant) -> Result<(), Violation> {
        while self.queue.peek_time().is_some_and(|t| t <= end) {
            self.step()?;
        }
        self.now = self.now.max(end);
        Ok(())
    }

    /// Run for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) -> Result<(), Violation> {
        let end = self.now + d;
        self.run_until_time(end)
    }

    /// Run until `cond` holds (checked after every step) or `limit` of virtual time passes.
    /// Returns whether `cond` held.
    pub fn run_until(&mut self, limit: Duration, mut cond: impl FnMut(&Simulation) -> bool) -> Result<bool, Violation> {
        let end = self.now + limit;
        loop {
            if cond(self) {
                return Ok(true);
            }
            match self.queue.peek_time() {
                Some(t) if t <= end => {
                    self.step()?;
                }
                _ => {
                    self.now = self.now.max(end);
                    return Ok(cond(self));
                }
            }
        }
    }

    /// Run a command on member `i`'s core now (if it is running), then drain its outputs.
    pub fn command<R>(&mut self, i: u32, f: impl FnOnce(&mut Swim<u32>, Instant) -> R) -> Result<Option<R>, Violation> {
        let now = self.now;
        let Some(s) = self.nodes[i as usize].swim.as_mut() else { return Ok(None) };
        let r = f(s, now);
        self.after_input(i, 0);
        match self.violation.take() {
            Some(v) => Err(v),
            None => Ok(Some(r)),
        }
    }

    // ------------------------------------------------------------------ faults, by hand

    /// Apply one fault action now (the same actions a schedule applies).
    pub fn apply(&mut self, action: &Action) -> Result<(), Violation> {
        self.apply_action(action);
        match self.violation.take() {
            Some(v) => Err(v),
            None => Ok(()),
        }
    }

    /// Crash member `i` silently (a real failure: its detection is measured).
    pub fn crash_node(&mut self, i: u32) {
        self.crash(i, true);
    }

    /// Make member `i` CPU-starved with `delay` (or healthy again with `None`).
    pub fn set_slow(&mut self, i: u32, delay: Option<&Dist>, in_order: bool) {
        let n = &mut self.nodes[i as usize];
        n.slow = delay.map(|d| Slow { sampler: d.sampler(), in_order, busy_until: self.now });
        self.truth.set_slow(i, n.slow.is_some());
        self.arm_timer(i, true);
    }

    // ------------------------------------------------------------------ hostile traffic

    /// Hand `bytes` to member `i` now, as a datagram or a stream message from address `from`,
    /// as if a process outside the cluster (or a forger) had sent them; then drain its outputs
    /// and check it. Returns `None` if `i` is not running, else whether its core accepted them.
    ///
    /// Injected claims may name members outside the cluster or contest addresses, so from the
    /// first injection on those two engine rules are off (see [`crate::invariants`]);
    /// swim-core's safety invariants stay on, and honest traffic must still be accepted.
    /// Answers sent to `from` go nowhere unless `from` is a member's address.
    pub fn inject(
        &mut self,
        i: u32,
        from: u32,
        stream: bool,
        bytes: &[u8],
    ) -> Result<Option<Result<(), DecodeError>>, Violation> {
        self.checker.allow_foreign_claims();
        self.command(
            i,
            |s, now| if stream { s.handle_stream(now, from, bytes) } else { s.handle_datagram(now, from, bytes) },
        )
    }

    // ------------------------------------------------------------------ internals

    /// Record `r` in the trace digest.
    pub(crate) fn trace(&mut self, r: TraceRecord<'_>) {
        r.feed(&mut self.digest);
    }

    pub(crate) fn violate(&mut self, node: Option<u32>, message: String) {
        if self.violation.is_none() {
            self.violation = Some(Violation { seed: self.cfg.seed, at: self.now, node, message, replay: None });
        }
    }

    fn take_sample(&mut self) {
        let s = self.truth.sample(self.now);
        self.samples.push(s);
        // `memory_usage` walks the whole member table; member tables change slowly, so once
        // a virtual minute is plenty.
        if self.now >= self.next_memory_sample {
            self.next_memory_sample = self.now + Duration::from_secs(60);
            for n in &mut self.nodes {
                if let Some(swim) = &n.swim {
                    n.peak_table_bytes = n.peak_table_bytes.max(swim.memory_usage().member_table);
                }
            }
        }
    }

    /// The seeds member `i` joins through: the configured seeds, plus (for a restart or a
    /// retry, `extra`) `extra_seeds` random running members.
    fn join_seeds(&mut self, i: u32, extra: bool) -> Vec<u32> {
        let mut seeds: Vec<u32> = self.cfg.start.seeds.iter().copied().filter(|&s| s != i).collect();
        let k = if extra { self.cfg.start.extra_seeds } else { 0 };
        if k > 0 {
            let pool: Vec<u32> = (0..self.nodes.len() as u32)
                .filter(|&j| j != i && self.nodes[j as usize].status == Status::Up && !seeds.contains(&j))
                .collect();
            seeds.extend(self.start_rng.choose(&pool, k));
        }
        seeds
    }

    fn join(&mut self, i: u32, seeds: Vec<u32>) {
        if seeds.is_empty() {
            return;
        }
        let now = self.now;
        let Some(s) = self.nodes[i as usize].swim.as_mut() else { return };
        if s.join(now, seeds).is_err() {
            // Too many joins in flight or a full transmit queue (tiny limits): try again later.
            let life = self.nodes[i as usize].life;
            self.queue.push(now + self.cfg.start.retry_join.0, Ev::RetryJoin { node: i, life });
        }
        self.after_input(i, 0);
    }

    pub(crate) fn start_node(
        &mut self,
        i: u32,
        restart: bool,
        policy: RestartIncarnation,
        warm: bool,
        join: bool,
    ) -> Result<(), SetupError> {
        if self.nodes[i as usize].running() {
            self.crash(i, false);
        }
        let now = self.now;
        let n = &mut self.nodes[i as usize];
        n.life += 1;
        let incarnation = match policy {
            RestartIncarnation::Zero => 0,
            RestartIncarnation::Next => n.last_incarnation.saturating_add(1),
            RestartIncarnation::Clock => (now.as_nanos() / 1_000_000_000) as u32,
        };
        let seed = derive_seed(self.cfg.seed, Stream::Core, u64::from(i) << 32 | u64::from(n.life));
        let identity = Identity::new(self.names[i as usize].clone(), i).with_incarnation(incarnation);
        let mut config = self.cfg.config.clone();
        if let Some(v) = n.versions {
            config.versions = v;
        }
        // A member that shares no version with the run's configuration is not part of the
        // cluster: it must be refused, so the ground truth does not count it (see `outsider`).
        let outsider = !self.cfg.config.versions.compatible(&config.versions);
        // `with_wire` is `new` in swim's own profile (u32 addresses are IPv4 addresses to the
        // memberlist profile).
        let mut swim =
            Swim::with_wire(config, identity, seed, now).map_err(|e| SetupError(format!("node-{i}: {e:?}")))?;
        if let Some(factory) = &self.cfg.hooks {
            swim.set_boxed_hooks((factory.0)(i));
        }
        let mut known = Vec::new();
        if warm && let Some(snap) = &self.warm_snapshot {
            swim.restore(now, snap.iter().cloned());
            known.extend(0..snap.len() as u32);
        }
        n.swim = Some(Box::new(swim));
        n.status = Status::Up;
        n.timer_armed = false;
        n.up_since = Some(now);
        self.checker.started(i);
        self.checker.set_outsider(i, outsider);
        self.trace(TraceRecord::Start { node: i, incarnation });
        let kind = if warm {
            None
        } else if restart {
            Some("restart")
        } else {
            Some("join")
        };
        self.truth.start(now, i, &known, kind);
        if outsider {
            self.truth.exclude(now, i);
            self.versions.outsiders.entry(i).or_default();
        }
        if join {
            let seeds = self.join_seeds(i, restart);
            self.join(i, seeds);
        } else {
            self.after_input(i, 0);
        }
        Ok(())
    }

    /// Stop member `i`'s process; `real`: a crash whose detection is measured.
    pub(crate) fn crash(&mut self, i: u32, real: bool) {
        let now = self.now;
        let warmup_at = self.warmup_at;
        let n = &mut self.nodes[i as usize];
        let Some(s) = n.swim.take() else { return };
        n.last_incarnation = s.local().incarnation;
        let was_up = n.status == Status::Up;
        n.status = Status::Down;
        n.timer_gen = n.timer_gen.wrapping_add(1);
        n.timer_armed = false;
        n.account_uptime(now, warmup_at);
        n.up_since = None;
        drop(s);
        self.trace(TraceRecord::Stop { node: i });
        if was_up {
            self.truth.stop(now, i, real);
        }
    }

    pub(crate) fn leave(&mut self, i: u32) {
        let now = self.now;
        let n = &mut self.nodes[i as usize];
        if n.status != Status::Up {
            return;
        }
        let Some(s) = n.swim.as_mut() else { return };
        let _ = s.leave(now);
        n.status = Status::Leaving;
        let life = n.life;
        self.truth.stop(now, i, false);
        self.queue.push(now + self.cfg.start.leave_timeout.0, Ev::Stop { node: i, life });
        self.after_input(i, 0);
    }

    fn arm_timer(&mut self, i: u32, force: bool) {
        let now = self.now;
        let n = &mut self.nodes[i as usize];
        let Some(s) = &n.swim else { return };
        let d = s.poll_timeout();
        if !force && n.timer_armed && d == n.timer_at {
            return;
        }
        n.timer_at = d;
        n.timer_gen = n.timer_gen.wrapping_add(1);
        n.timer_armed = true;
        let mut fire = d.max(now);
        if let Some(slow) = &n.slow {
            fire += Duration::from_nanos(slow.sampler.sample(&mut n.rng));
        }
        self.queue.push(fire, Ev::Timer { node: i, generation: n.timer_gen });
    }

    fn fire_timer(&mut self, i: u32, generation: u32) {
        let now = self.now;
        let n = &mut self.nodes[i as usize];
        if n.timer_gen != generation || !n.running() {
            return;
        }
        n.timer_armed = false;
        if let Err(message) = invariants::timer_fired(n, now) {
            self.violate(Some(i), message);
            return;
        }
        let Some(s) = n.swim.as_mut() else { return };
        let before = s.stats().deaths_declared;
        s.handle_timeout(now);
        self.stats.timeouts += 1;
        self.trace(TraceRecord::Timer { node: i });
        self.after_input(i, before);
    }

    fn arrive(&mut self, p: u32) {
        let now = self.now;
        let (from, to, stream, from_life, conn) = {
            let pk = &self.slab.packets[p as usize];
            (pk.from, pk.to, pk.stream, pk.from_life, pk.conn)
        };
        let up = self.nodes[to as usize].running();
        match self.net.arrive(now, from, to, stream, up) {
            Admit::Accept => {
                let n = &mut self.nodes[to as usize];
                let life = n.life;
                if let Some(slow) = &mut n.slow {
                    let mut at = now + Duration::from_nanos(slow.sampler.sample(&mut n.rng));
                    if slow.in_order {
                        at = at.max(slow.busy_until);
                        slow.busy_until = at;
                    }
                    self.slab.packets[p as usize].to_life = life;
                    self.queue.push(at, Ev::Process(p));
                } else {
                    self.deliver(p);
                }
            }
            Admit::Drop(_) => {
                self.trace(TraceRecord::Drop { packet: p });
                if stream {
                    self.stream_lost(now, from, from_life, to, conn);
                }
                self.slab.release(p);
            }
            Admit::Hold(until) => self.queue.push(until, Ev::Arrive(p)),
        }
    }

    fn deliver(&mut self, p: u32) {
        let now = self.now;
        let pk = &self.slab.packets[p as usize];
        let (from, to, stream, len, conn) = (pk.from, pk.to, pk.stream, pk.bytes.len(), pk.conn);
        // How the core takes it: the memberlist profile names the connection.
        let input = match conn {
            Conn::None if stream => Input::Stream,
            Conn::None => Input::Datagram,
            Conn::OneWay => Input::On(self.conns.fresh()),
            // A request whose exchange failed or timed out: its requester closed the connection.
            Conn::Request(c) if !self.conns.is_open(c) => {
                self.slab.release(p);
                return;
            }
            Conn::Request(c) => Input::On(swim_core::ConnectionId(c)),
            Conn::Reply(c) => match self.conns.close(c) {
                Some(x) if x.life == self.nodes[to as usize].life => {
                    self.stats.replies_delivered += 1;
                    Input::Reply(x.request)
                }
                _ => {
                    self.stats.replies_unroutable += 1;
                    self.slab.release(p);
                    return;
                }
            },
        };
        let n = &mut self.nodes[to as usize];
        let Some(s) = n.swim.as_mut() else {
            self.slab.release(p);
            return;
        };
        n.traffic.msgs_in += 1;
        n.traffic.bytes_in += len as u64;
        if let Some(o) = self.versions.outsiders.get_mut(&from) {
            o.reached.insert(to);
        }
        self.stats.delivered += 1;
        TraceRecord::Deliver { at: now, from, to }.feed(&mut self.digest);
        let before = s.stats().deaths_declared;
        if let Some(h) = self.packet_hook.as_mut() {
            h(now, from, to, stream, &pk.bytes);
        }
        let r = match input {
            Input::Datagram => s.handle_datagram(now, from, &pk.bytes),
            Input::Stream => s.handle_stream(now, from, &pk.bytes),
            Input::On(c) => s.handle_stream_on(now, from, c, &pk.bytes),
            Input::Reply(request) => s.handle_stream_reply(now, from, request, &pk.bytes),
        };
        self.slab.release(p);
        if let Err(e) = r {
            match self.checker.delivery_rejected(from, to, stream, e) {
                Err(message) => self.violate(Some(to), message),
                Ok(()) if e == DecodeError::UnsupportedVersion => {
                    if let Some(o) = self.versions.outsiders.get_mut(&from) {
                        o.rejected_by.insert(to);
                    }
                }
                Ok(()) => {}
            }
        }
        self.after_input(to, before);
    }

    /// A stream message from `from` (in life `from_life`) to `to` on `conn` could not be
    /// delivered: tell the member waiting on it at `at`. That is the sender, except for a
    /// reply, whose requester learns that its request failed (memberlist profile).
    fn stream_lost(&mut self, at: Instant, from: u32, from_life: u32, to: u32, conn: Conn) {
        match conn {
            Conn::Reply(c) => {
                if let Some(x) = self.conns.close(c) {
                    self.queue.push(at, Ev::StreamFailed { node: x.requester, life: x.life, to: x.replier });
                }
            }
            Conn::Request(c) => {
                self.conns.close(c);
                self.queue.push(at, Ev::StreamFailed { node: from, life: from_life, to });
            }
            Conn::None | Conn::OneWay => self.queue.push(at, Ev::StreamFailed { node: from, life: from_life, to }),
        }
    }

    /// Tell member `node`, if it still runs in life `life`, that its stream to `to` failed.
    /// Its core forgets its requests to `to`, so their exchanges close too.
    fn stream_failed(&mut self, node: u32, life: u32, to: u32) {
        let n = &mut self.nodes[node as usize];
        if n.running() && n.life == life {
            let now = self.now;
            if let Some(s) = n.swim.as_mut() {
                s.handle_stream_failed(now, &to);
            }
            self.conns.close_between(node, life, to);
            self.trace(TraceRecord::StreamFailed { node, to });
            self.after_input(node, 0);
        }
    }

    /// Drain member `i` after an input: transmits, events, checks, timer. `declared_before`
    /// is its `deaths_declared` counter before the input (to tell its own declarations apart).
    pub(crate) fn after_input(&mut self, i: u32, declared_before: u64) {
        let now = self.now;
        let n_nodes = self.nodes.len() as u32;
        // Transmits.
        loop {
            let mut buf = self.slab.take_buf();
            let node = &mut self.nodes[i as usize];
            let life = node.life;
            let Some(s) = node.swim.as_mut() else {
                self.slab.put_buf(buf);
                return;
            };
            let Some(t) = s.poll_transmit(&mut buf) else {
                self.slab.put_buf(buf);
                break;
            };
            let to = t.destination;
            let stream = t.kind == TransmitKind::Stream;
            node.traffic.msgs_out += 1;
            if !stream {
                node.traffic.bytes_out += t.len as u64;
            }
            self.stats.transmitted += 1;
            match self.versions.outsiders.get_mut(&i) {
                Some(o) => o.sent += 1,
                None => {
                    let phase = self.phase_at(now);
                    // swim's envelope starts with its version; memberlist's packets have none, so
                    // they count under the protocol version the member speaks.
                    let version = if self.memberlist {
                        let v = self.nodes[i as usize].versions.unwrap_or(self.cfg.config.versions);
                        v.protocol.current
                    } else {
                        buf.first().copied().unwrap_or_default()
                    };
                    *self.versions.packets[phase].entry(version).or_default() += 1;
                }
            }
            TraceRecord::Transmit { at: now, stream, from: i, to, bytes: &buf[..t.len] }.feed(&mut self.digest);
            // The connection a stream message uses (memberlist profile; see `connections`).
            let conn = match t.stream {
                _ if !stream => Conn::None,
                StreamRole::OneWay if self.memberlist => Conn::OneWay,
                StreamRole::OneWay => Conn::None,
                StreamRole::Reply(c) if self.conns.reply(c.0, i, to) => Conn::Reply(c.0),
                StreamRole::Reply(_) => {
                    self.stats.replies_unroutable += 1;
                    self.slab.put_buf(buf);
                    continue;
                }
                StreamRole::Request(_) if to >= n_nodes => Conn::None,
                StreamRole::Request(request) => {
                    self.stats.requests += 1;
                    let c = self.conns.open(i, life, request, to);
                    self.queue.push(now + self.cfg.config.stream_timeout, Ev::RequestTimeout { conn: c });
                    Conn::Request(c)
                }
            };
            if to >= n_nodes {
                self.stats.unknown_destination += 1;
                if stream {
                    self.queue.push(now + self.net.stream_failure_delay(), Ev::StreamFailed { node: i, life, to });
                }
                self.slab.put_buf(buf);
                continue;
            }
            let route = if stream {
                let up = self.nodes[to as usize].running();
                self.net.send_stream(now, i, to, t.len, up)
            } else {
                self.net.send_datagram(now, i, to, t.len)
            };
            match route {
                Route::Deliver { at, dup } => {
                    if stream {
                        // A stream's bytes go on the wire once its connection is made; a
                        // refused connection (down or unreachable peer) sends none.
                        self.nodes[i as usize].traffic.bytes_out += t.len as u64;
                    }
                    if let Some(d) = dup {
                        let mut copy = self.slab.take_buf();
                        copy.extend_from_slice(&buf[..t.len]);
                        let q = self.slab.insert(Packet {
                            from: i,
                            to,
                            from_life: life,
                            to_life: 0,
                            stream,
                            conn,
                            bytes: copy,
                        });
                        self.queue.push(d, Ev::Arrive(q));
                    }
                    buf.truncate(t.len);
                    let q =
                        self.slab.insert(Packet { from: i, to, from_life: life, to_life: 0, stream, conn, bytes: buf });
                    self.queue.push(at, Ev::Arrive(q));
                    let inflight = self.slab.in_flight();
                    if inflight > self.stats.peak_in_flight {
                        self.stats.peak_in_flight = inflight;
                    }
                }
                Route::Drop(_) => self.slab.put_buf(buf),
                Route::StreamFails { at } => {
                    self.stream_lost(at, i, life, to, conn);
                    self.slab.put_buf(buf);
                }
            }
        }
        // Events.
        let mut declared = self.nodes[i as usize]
            .swim
            .as_ref()
            .map_or(0, |s| s.stats().deaths_declared.saturating_sub(declared_before));
        while let Some(e) = self.nodes[i as usize].swim.as_mut().and_then(|s| s.poll_event()) {
            self.observe(i, e, &mut declared);
        }
        // Checks.
        if let Some(s) = self.nodes[i as usize].swim.as_deref()
            && let Err(m) = self.checker.after_input(i, s)
        {
            self.violate(Some(i), m);
        }
        self.arm_timer(i, false);
    }

    /// Member `i` emitted `e`: record it, check it, update the ground truth, and act on the
    /// events the engine answers (a finished leave stops the process; a join that reached
    /// nobody is retried by the core itself, `Config::join_retry`). `declared` counts `i`'s own death declarations not yet matched to
    /// a `MemberFailed`.
    fn observe(&mut self, i: u32, e: Event<u32>, declared: &mut u64) {
        let now = self.now;
        self.stats.events += 1;
        let target = event_member(&e).and_then(|m| node_index(&m.name));
        self.trace(TraceRecord::Event { node: i, event: &e, target });
        let Some(s) = self.nodes[i as usize].swim.as_deref() else { return };
        let target = match self.checker.event(i, s, &e, target) {
            Ok(t) => t,
            Err(message) => {
                self.violate(Some(i), message);
                return;
            }
        };
        if let Some(t) = target {
            let (net, impaired_until) = (&self.net, &self.impaired_until);
            self.truth.record_event(now, i, t, &e, || {
                let own = *declared > 0;
                *declared = declared.saturating_sub(1);
                (own, net.impaired(now, t) || now < impaired_until[t as usize])
            });
        }
        if let Event::Lagged { members, .. } = &e {
            self.truth.resync(now, i, members);
        }
        self.count_refusals(i, &e);
        if let Event::LeaveCompleted = &e {
            let n = &self.nodes[i as usize];
            if n.status == Status::Leaving {
                let life = n.life;
                self.queue.push(now + self.cfg.config.gossip_interval, Ev::Stop { node: i, life });
            }
        }
        if let Some(h) = self.hook.as_mut() {
            h(now, i, &e);
        }
        if let Some(log) = self.events_log.as_mut() {
            log[i as usize].push((now, e));
        }
    }

    /// Member `i` emitted `e`: count refusals, and outsiders held alive. An outsider's own
    /// view does not count (it refuses everyone, as it should).
    fn count_refusals(&mut self, i: u32, e: &Event<u32>) {
        if self.versions.outsiders.contains_key(&i) {
            return;
        }
        let about = match e {
            Event::MemberRefused { name, .. } => node_index(name).map(|t| (t, true)),
            Event::MemberJoined(m) | Event::MemberAlive(m) => node_index(&m.name).map(|t| (t, false)),
            _ => None,
        };
        let Some((t, refused)) = about else { return };
        match self.versions.outsiders.get_mut(&t) {
            Some(o) if refused => {
                o.refused_by.insert(i);
            }
            Some(o) => o.held_alive += 1,
            None if refused => self.versions.compatible_refused += 1,
            None => {}
        }
    }

    /// A random running member (for user tests that want one).
    pub fn random_running(&mut self) -> Option<u32> {
        let pool: Vec<u32> =
            (0..self.nodes.len() as u32).filter(|&i| self.nodes[i as usize].status == Status::Up).collect();
        (!pool.is_empty()).then(|| pool[self.fault_rng.below(pool.len())])
    }
}
