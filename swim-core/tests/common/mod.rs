//! A scenario harness for swim-core: several cores, a virtual clock that jumps to the
//! earliest deadline or delivery, and an in-memory network with latency, loss, partitions,
//! crashes and a CPU-starvation model. Modelled on quinn-proto's test `Pair`.
//!
//! Every randomized test takes its seed from [`seeds`]; a failing test prints the seed and
//! the command that replays it (see [`SeedGuard`]). The safety invariants of
//! `swim_core::invariants` are checked on every event and after every step.
//!
//! Why a cluster harness of its own rather than swim-sim's engine: swim-sim depends on
//! swim-core, so swim-core's tests cannot use it (a dev-dependency cycle would build a second
//! copy of swim-core whose types do not unify with the one under test). It stays small, and
//! the invariants it checks are swim-core's one checker, not a copy.

#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::time::Duration;

use swim_core::invariants::Checker;
use swim_core::rng::SwimRng;
use swim_core::{Config, Event, Identity, Instant, State, Swim, TransmitKind};

pub type Addr = u32;

/// A recorded transmit: (time sent, from, to, bytes).
pub type Sent = (Instant, Addr, Addr, Vec<u8>);

/// Seeds for a randomized test: `SWIM_SEED=n` replays one, otherwise `count` seeds from `base`.
pub fn seeds(base: u64, count: u64) -> Vec<u64> {
    match std::env::var("SWIM_SEED") {
        Ok(s) => vec![s.parse().expect("SWIM_SEED must be a u64")],
        Err(_) => (base..base + count).collect(),
    }
}

/// Prints the seed and a replay command if the test panics while this guard is alive.
pub struct SeedGuard {
    pub seed: u64,
    pub test: &'static str,
    pub file: &'static str,
}

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "\n*** failed with seed {seed}; replay with:\n    SWIM_SEED={seed} cargo test -p swim-core --test {file} {test} -- --exact --nocapture\n",
                seed = self.seed,
                file = self.file,
                test = self.test
            );
        }
    }
}

/// A CPU-starved node, as in the Lifeguard paper's experiments: it reads its inbound messages
/// late but in order (each waits a uniform `0..=inbound` behind the backlog), and its timers
/// fire up to `timers` late. A starved process's timer wakes roughly on time while its socket
/// buffer backs up, so a slow accuser's probe and suspicion timers run out before it reads the
/// acks and refutations that would have stopped them.
#[derive(Clone, Copy, Debug)]
pub struct Slowness {
    pub inbound: Duration,
    pub timers: Duration,
}

#[derive(Debug)]
struct Packet {
    at: Instant,
    seq: u64,
    from: Addr,
    to: Addr,
    kind: TransmitKind,
    bytes: Vec<u8>,
}

impl PartialEq for Packet {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Packet {}
impl PartialOrd for Packet {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Packet {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

pub struct Node {
    pub swim: Swim<Addr>,
    /// False once crashed (silent: drops everything, fires nothing).
    pub up: bool,
    pub events: Vec<(Instant, Event<Addr>)>,
    pub slow: Option<Slowness>,
    /// For a slow node: inputs waiting to be handled, by handling time.
    inbox: BinaryHeap<Reverse<Packet>>,
    /// For a slow node: (deadline seen, when its timer will actually fire).
    timer: Option<(Instant, Instant)>,
    /// For a slow node: when the last queued input will be handled (FIFO backlog).
    backlog_until: Instant,
    /// Times `handle_timeout` was called.
    pub wakeups: u64,
    /// Leave events in the core's queue after each input (a caller that falls behind); poll
    /// them with [`Cluster::poll_events`]. Only the constant-time invariants run after each
    /// step then, since the table moves ahead of the events.
    pub hold_events: bool,
    /// The safety invariants of this life of the node.
    checker: Checker<Addr>,
}

pub struct Cluster {
    pub now: Instant,
    pub nodes: Vec<Node>,
    net: BinaryHeap<Reverse<Packet>>,
    rng: SwimRng,
    pub latency: Duration,
    /// One-way latency per directed link (from, to), replacing `latency` when set (jitter
    /// still added): a network where members sit at different distances.
    pub link_latency: Option<Box<dyn Fn(Addr, Addr) -> Duration>>,
    pub jitter: Duration,
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Directed links that drop everything (from, to).
    pub blocked: BTreeSet<(Addr, Addr)>,
    seq: u64,
    buf: Vec<u8>,
    /// FNV-1a digest of every transmit, event and time step: equal digests, equal runs.
    pub digest: u64,
    pub delivered: u64,
    pub steps: u64,
    configs: Vec<Config>,
    node_seed: u64,
    /// When set, every transmit is recorded here: (time sent, from, to, bytes).
    pub log: Option<Vec<Sent>>,
    /// Panic if a core rejects a delivery. Tests of labels and keys, where rejections are the
    /// point, turn it off.
    pub strict: bool,
}

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

pub fn name(i: usize) -> String {
    format!("node-{i}")
}

impl Cluster {
    /// `n` cores named `node-i` at address `i`, not yet joined, all with `config`.
    pub fn new(n: usize, config: Config, seed: u64) -> Self {
        Self::with_configs((0..n).map(|_| config.clone()).collect(), seed)
    }

    pub fn with_configs(configs: Vec<Config>, seed: u64) -> Self {
        let mut rng = SwimRng::from_seed_u64(seed);
        let node_seed = rng.next_u64();
        let now = Instant::ZERO;
        let nodes = configs
            .iter()
            .enumerate()
            .map(|(i, c)| Node::new(c.clone(), i, 0, node_seed.wrapping_add(i as u64), now))
            .collect();
        Cluster {
            now,
            nodes,
            net: BinaryHeap::new(),
            rng,
            latency: Duration::from_millis(1),
            link_latency: None,
            jitter: Duration::from_micros(500),
            loss: 0.0,
            blocked: BTreeSet::new(),
            seq: 0,
            buf: Vec::new(),
            digest: 0xcbf29ce484222325,
            delivered: 0,
            steps: 0,
            configs,
            node_seed,
            log: None,
            strict: true,
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn node(&self, i: usize) -> &Swim<Addr> {
        &self.nodes[i].swim
    }

    /// Run a command on node `i` at the current time, then move its outputs to the network.
    pub fn with<R>(&mut self, i: usize, f: impl FnOnce(&mut Swim<Addr>, Instant) -> R) -> R {
        let now = self.now;
        let r = f(&mut self.nodes[i].swim, now);
        self.flush(i);
        r
    }

    /// Every node but `seed` joins through `seed`, now.
    pub fn join_all(&mut self, seed: usize) {
        let now = self.now;
        for i in 0..self.nodes.len() {
            if i != seed {
                self.nodes[i].swim.join(now, [seed as Addr]).expect("join");
                self.flush(i);
            }
        }
    }

    /// Start the cluster and wait until every node sees every other alive (panics if not
    /// within `limit`).
    pub fn converge(&mut self, limit: Duration) {
        self.join_all(0);
        let ok = self.run_until(limit, |c| c.converged());
        assert!(ok, "cluster of {} did not converge within {limit:?}", self.len());
    }

    fn jitter(&mut self) -> Duration {
        let j = self.jitter.as_nanos() as u64;
        if j == 0 { Duration::ZERO } else { Duration::from_nanos(self.rng.next_u64() % (j + 1)) }
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// Move node `i`'s outputs onto the network and into its event log.
    fn flush(&mut self, i: usize) {
        let now = self.now;
        let from = i as Addr;
        let mut buf = std::mem::take(&mut self.buf);
        while let Some(t) = self.nodes[i].swim.poll_transmit(&mut buf) {
            self.digest = fnv(self.digest, &now.as_nanos().to_le_bytes());
            self.digest = fnv(self.digest, &t.destination.to_le_bytes());
            self.digest = fnv(self.digest, &buf);
            let to = t.destination;
            if let Some(log) = &mut self.log {
                log.push((now, from, to, buf.clone()));
            }
            let reachable = (to as usize) < self.nodes.len() && !self.blocked.contains(&(from, to));
            match t.kind {
                TransmitKind::Datagram => {
                    if !reachable || self.chance(self.loss) {
                        continue;
                    }
                }
                TransmitKind::Stream => {
                    let up = (to as usize) < self.nodes.len() && self.nodes[to as usize].up;
                    if !reachable || !up {
                        self.nodes[i].swim.handle_stream_failed(now, &to);
                        continue;
                    }
                }
            }
            let latency = self.link_latency.as_ref().map_or(self.latency, |f| f(from, to));
            let at = now + latency + self.jitter();
            self.seq += 1;
            self.net.push(Reverse(Packet { at, seq: self.seq, from, to, kind: t.kind, bytes: buf.clone() }));
        }
        self.buf = buf;
        if !self.nodes[i].hold_events {
            self.poll_events(i, usize::MAX);
        }
        self.check_node(i);
    }

    /// Poll up to `max` of node `i`'s events now, check them and append them to its `events`.
    /// Returns how many were polled.
    pub fn poll_events(&mut self, i: usize, max: usize) -> usize {
        let now = self.now;
        let mut polled = 0;
        while polled < max
            && let Some(e) = self.nodes[i].swim.poll_event()
        {
            polled += 1;
            self.digest = fnv(self.digest, format!("{i}{e:?}").as_bytes());
            let node = &mut self.nodes[i];
            if let Err(v) = node.checker.check_event(&node.swim, &e) {
                panic!("node {i}, event {e:?}: invariant violated: {v}");
            }
            self.nodes[i].events.push((now, e));
        }
        polled
    }

    /// When the next thing happens, if anything is scheduled.
    fn next_time(&mut self) -> Option<Instant> {
        let mut t = self.net.peek().map(|p| p.0.at);
        for i in 0..self.nodes.len() {
            if !self.nodes[i].up {
                continue;
            }
            let fire = self.timer_fire_time(i);
            t = Some(t.map_or(fire, |t| t.min(fire)));
            if let Some(p) = self.nodes[i].inbox.peek() {
                t = Some(t.map_or(p.0.at, |t| t.min(p.0.at)));
            }
        }
        t
    }

    fn uniform(&mut self, max: Duration) -> Duration {
        Duration::from_nanos(self.rng.next_u64() % (max.as_nanos() as u64 + 1))
    }

    fn timer_fire_time(&mut self, i: usize) -> Instant {
        let deadline = self.nodes[i].swim.poll_timeout();
        match self.nodes[i].slow {
            None => deadline,
            Some(s) => match self.nodes[i].timer {
                Some((d, fire)) if d == deadline => fire,
                _ => {
                    let extra = self.uniform(s.timers);
                    let fire = deadline.max(self.now) + extra;
                    self.nodes[i].timer = Some((deadline, fire));
                    fire
                }
            },
        }
    }

    /// Handle the next scheduled thing. Returns false if nothing is scheduled.
    pub fn step(&mut self) -> bool {
        let Some(t) = self.next_time() else { return false };
        self.now = self.now.max(t);
        self.steps += 1;
        let now = self.now;
        // Network deliveries first, then slow inboxes, then timers: a fixed order for determinism.
        if self.net.peek().is_some_and(|p| p.0.at <= now) {
            let Reverse(p) = self.net.pop().expect("peeked");
            let to = p.to as usize;
            if !self.nodes[to].up || self.blocked.contains(&(p.from, p.to)) {
                return true;
            }
            if let Some(s) = self.nodes[to].slow {
                let at = (now + self.uniform(s.inbound)).max(self.nodes[to].backlog_until);
                self.nodes[to].backlog_until = at;
                self.nodes[to].inbox.push(Reverse(Packet { at, ..p }));
                return true;
            }
            self.deliver(p);
            return true;
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].up && self.nodes[i].inbox.peek().is_some_and(|p| p.0.at <= now) {
                let Reverse(p) = self.nodes[i].inbox.pop().expect("peeked");
                self.deliver(p);
                return true;
            }
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].up && self.timer_fire_time(i) <= now {
                self.nodes[i].timer = None;
                self.nodes[i].wakeups += 1;
                self.nodes[i].swim.handle_timeout(now);
                self.flush(i);
                return true;
            }
        }
        true
    }

    fn deliver(&mut self, p: Packet) {
        let to = p.to as usize;
        let now = self.now;
        self.delivered += 1;
        let node = &mut self.nodes[to].swim;
        let r = match p.kind {
            TransmitKind::Datagram => node.handle_datagram(now, p.from, &p.bytes),
            TransmitKind::Stream => node.handle_stream(now, p.from, &p.bytes),
        };
        assert!(r.is_ok() || !self.strict, "honest traffic rejected by node {to}: {r:?}");
        self.flush(to);
    }

    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.next_time().is_some_and(|t| t <= end) {
            self.step();
        }
        self.now = self.now.max(end);
    }

    /// Run until `cond` holds (checked after every step) or `limit` of virtual time passes.
    pub fn run_until(&mut self, limit: Duration, mut cond: impl FnMut(&Cluster) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            if cond(self) {
                return true;
            }
            match self.next_time() {
                Some(t) if t <= end => {
                    self.step();
                }
                _ => {
                    self.now = self.now.max(end);
                    return cond(self);
                }
            }
        }
    }

    // ---------------------------------------------------------------- faults

    /// Crash node `i`: it stops handling anything, silently.
    pub fn crash(&mut self, i: usize) {
        self.nodes[i].up = false;
        self.nodes[i].inbox.clear();
    }

    /// Node `i`'s next life (see [`restart`](Self::restart)) runs with `config`.
    pub fn set_config(&mut self, i: usize, config: Config) {
        self.configs[i] = config;
    }

    /// Restart node `i` as a new process with the same name and address, at `incarnation`,
    /// and join it through `seed`.
    pub fn restart(&mut self, i: usize, incarnation: u32, seed: usize) {
        let c = self.configs[i].clone();
        self.nodes[i] = Node::new(c, i, incarnation, self.node_seed.wrapping_add(1000 + i as u64), self.now);
        let now = self.now;
        self.nodes[i].swim.join(now, [seed as Addr]).expect("join");
        self.flush(i);
    }

    /// Cut every link between `a` and `b`, both ways.
    pub fn partition(&mut self, a: &[usize], b: &[usize]) {
        for &x in a {
            for &y in b {
                self.blocked.insert((x as Addr, y as Addr));
                self.blocked.insert((y as Addr, x as Addr));
            }
        }
    }

    /// Drop everything sent to `i` (one-way, inbound).
    pub fn blackhole_inbound(&mut self, i: usize) {
        for j in 0..self.nodes.len() {
            if j != i {
                self.blocked.insert((j as Addr, i as Addr));
            }
        }
    }

    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    pub fn set_slow(&mut self, i: usize, slow: Option<Slowness>) {
        self.nodes[i].slow = slow;
        self.nodes[i].timer = None;
    }

    // ---------------------------------------------------------------- observations

    /// Node `observer`'s view of node `target`'s state.
    pub fn view(&self, observer: usize, target: usize) -> Option<State> {
        self.nodes[observer].swim.member(&name(target)).map(|m| m.state)
    }

    pub fn up(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|&i| self.nodes[i].up)
    }

    /// Every up node sees exactly the up nodes as alive, and nothing else as alive or suspect.
    pub fn converged(&self) -> bool {
        let up: Vec<usize> = self.up().collect();
        up.iter().all(|&o| {
            let node = &self.nodes[o].swim;
            let live = node.members().filter(|m| m.state == State::Alive).count();
            node.num_members() == up.len()
                && live == up.len()
                && up.iter().all(|&t| node.member(&name(t)).is_some_and(|m| m.state == State::Alive))
        })
    }

    /// Whether every up node (other than `target`) sees `target` in `state`.
    pub fn all_see(&self, target: usize, state: State) -> bool {
        self.up().filter(|&o| o != target).all(|o| self.view(o, target) == Some(state))
    }

    /// Events of node `i` matching `f`.
    pub fn events_of(&self, i: usize, mut f: impl FnMut(&Event<Addr>) -> bool) -> Vec<(Instant, Event<Addr>)> {
        self.nodes[i].events.iter().filter(|(_, e)| f(e)).cloned().collect()
    }

    /// Count of events matching `f` across all nodes.
    pub fn count_events(&self, mut f: impl FnMut(usize, &Event<Addr>) -> bool) -> usize {
        self.nodes.iter().enumerate().map(|(i, n)| n.events.iter().filter(|(_, e)| f(i, e)).count()).sum()
    }

    /// Safety invariants of node `i`, checked after each of its steps.
    fn check_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let checked =
            if node.hold_events { node.checker.check_local(&node.swim) } else { node.checker.check(&node.swim) };
        if let Err(v) = checked {
            panic!("node {i}: invariant violated: {v}");
        }
    }
}

impl Node {
    fn new(config: Config, i: usize, incarnation: u32, seed: u64, now: Instant) -> Self {
        let id = Identity::new(name(i), i as Addr).with_incarnation(incarnation);
        Node {
            swim: Swim::new(config, id, seed, now).expect("valid config"),
            up: true,
            events: Vec::new(),
            slow: None,
            inbox: BinaryHeap::new(),
            timer: None,
            backlog_until: Instant::ZERO,
            wakeups: 0,
            hold_events: false,
            checker: Checker::new(),
        }
    }
}

/// Member `node-i` at address `i`, alive at incarnation 0 since `now`, as `Swim::restore`
/// takes it.
pub fn alive(i: u32, now: Instant) -> swim_core::Member<Addr> {
    swim_core::Member {
        name: swim_core::Name::from(name(i as usize)),
        addr: i,
        meta: swim_core::Bytes::new(),
        incarnation: 0,
        state: State::Alive,
        state_changed: now,
    }
}

/// Decode a plaintext packet (panics on malformed or encrypted input: the harness only decodes
/// what unencrypted cores produced).
pub fn messages(bytes: &[u8]) -> Vec<swim_core::wire::Message<'_, Addr>> {
    use swim_core::wire::{Codec, DecodeLimits, PostcardCodec, envelope};
    let limits = DecodeLimits::from_config(&Config::lan());
    let (header, body) = envelope::parse(bytes).expect("envelope");
    if header.encrypted {
        return Vec::new();
    }
    let mut out = Vec::new();
    if header.compressed {
        // The messages borrow from the bytes they were decoded from: keep the decompressed
        // bytes alive for the test's lifetime (a few per test).
        let mut plain = Vec::new();
        swim_core::wire::compression::decompress(body, usize::MAX, &mut plain).expect("core output decompresses");
        let plain: &'static [u8] = Vec::leak(plain);
        PostcardCodec.decode(plain, &limits, &mut |m| out.push(m)).expect("core output decodes");
        return out;
    }
    PostcardCodec.decode(body, &limits, &mut |m| out.push(m)).expect("core output decodes");
    out
}

/// Encode one unlabelled plaintext packet holding `msgs`, as a peer would send it.
pub fn packet(msgs: &[swim_core::wire::Message<'_, Addr>]) -> Vec<u8> {
    use swim_core::wire::{Codec, PostcardCodec, envelope};
    let mut buf = Vec::new();
    envelope::begin(&mut buf, b"", false);
    for m in msgs {
        PostcardCodec.encode(m, &mut buf);
    }
    buf
}
