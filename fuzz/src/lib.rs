//! # swim-fuzz
//!
//! The bodies of swim's cargo-fuzz targets. Each `fuzz_targets/<name>.rs` calls the function
//! of the same name; `tests/corpus.rs` calls them over the committed corpus, so `cargo test`
//! replays every seed and every input a fuzzer ever found. See `fuzz/README.md`.
//!
//! | target | what it feeds | what it checks |
//! |---|---|---|
//! | [`datagram`] | arbitrary bytes as a datagram to a member with state | no panic; rejected input changes nothing; accepted messages re-encode to themselves |
//! | [`stream`] | arbitrary bytes as a TCP byte stream (framed) | the same, through the frame decoder |
//! | [`decrypt`] | arbitrary bytes to an encrypting member, or arbitrary plaintext sealed with its key | no panic; forged or corrupt ciphertext is rejected without effect |
//! | [`cluster`] | an arbitrary plan: cluster size, seed, faults, hostile injections | the safety invariants after every step of every member |

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use swim_core::rng::SwimRng;
use swim_core::security::{Cipher, Key, Keyring};
use swim_core::wire::{Codec, DecodeLimits, Message, PostcardCodec, Suspect, envelope, frame};
use swim_core::{Bytes, Config, Event, Identity, Instant, Member, Name, State, Swim, TransmitKind};

/// Addresses are member indices.
pub type Addr = u32;

/// The key every fuzzed encrypting member uses (and the corpus generator seals with).
pub const FUZZ_KEY: [u8; 32] = [0x42; 32];

fn config() -> Config {
    Config::lan()
}

/// The keyring the `decrypt` target's member uses.
pub fn fuzz_keyring(cipher: Cipher) -> Keyring {
    Keyring::new(cipher, Key::from_bytes(FUZZ_KEY), [1; 8])
}

/// A member with state worth protecting: six known members, one of them suspected, gossip
/// queued.
pub fn busy_member(keyring: Option<Keyring>) -> Swim<Addr> {
    let now = Instant::from_secs(10);
    let mut s = Swim::new(config(), Identity::new("node-0", 0), 1, now).expect("valid config");
    s.restore(
        now,
        (1..=6u32).map(|i| Member {
            name: Name::from(format!("node-{i}")),
            addr: i,
            meta: Bytes::new(),
            incarnation: 0,
            state: State::Alive,
            state_changed: now,
        }),
    );
    let mut p = Vec::new();
    envelope::begin(&mut p, b"", false);
    let sus: Message<'_, Addr> = Message::Suspect(Suspect { incarnation: 0, name: "node-3", from: "node-1" });
    PostcardCodec.encode(&sus, &mut p);
    s.handle_datagram(now, 1, &p).expect("a well-formed suspicion");
    if keyring.is_some() {
        s.set_keyring(keyring);
    }
    s
}

/// Everything observable about a member's state, for "rejected input changed nothing".
#[derive(Debug, PartialEq)]
struct Snapshot {
    members: Vec<Member<Addr>>,
    health: u32,
    queues: (usize, usize),
    outputs: (usize, usize),
    deadline: Instant,
    suspicions: Vec<(String, Instant, u32)>,
}

fn snapshot(s: &Swim<Addr>) -> Snapshot {
    Snapshot {
        members: s.members().cloned().collect(),
        health: s.health_score(),
        queues: s.queue_depth(),
        outputs: s.pending_outputs(),
        deadline: s.poll_timeout(),
        suspicions: s
            .members()
            .filter_map(|m| s.suspicion(&m.name).map(|x| (m.name.to_string(), x.deadline(), x.confirmations())))
            .collect(),
    }
}

/// Drain outputs and run timers: whatever was accepted, the member keeps working.
fn exercise(s: &mut Swim<Addr>, now: Instant) {
    let mut buf = Vec::new();
    while s.poll_transmit(&mut buf).is_some() {}
    while s.poll_event().is_some() {}
    s.handle_timeout(now + Duration::from_secs(60));
    while s.poll_transmit(&mut buf).is_some() {}
    assert_ne!(s.local().state, State::Dead, "a member believes itself dead");
}

/// Feed one input; if rejected, nothing but the counters may change.
fn feed(s: &mut Swim<Addr>, data: &[u8], stream: bool) {
    let now = Instant::from_secs(10);
    let before = snapshot(s);
    let errors = s.stats().decode_errors.total();
    let r = if stream { s.handle_stream(now, 9, data) } else { s.handle_datagram(now, 9, data) };
    if r.is_err() {
        assert_eq!(snapshot(s), before, "rejected input ({r:?}) changed state");
        assert_eq!(s.stats().decode_errors.total(), errors + 1, "a rejection was not counted");
    }
}

/// Messages that decode must re-encode to messages that decode to the same thing.
fn roundtrip(data: &[u8]) {
    let limits = DecodeLimits::from_config(&config());
    let Ok((header, body)) = envelope::parse(data) else { return };
    if header.encrypted {
        return;
    }
    let mut first: Vec<Message<'_, Addr>> = Vec::new();
    if PostcardCodec.decode(body, &limits, &mut |m| first.push(m)).is_err() {
        return;
    }
    let mut buf = Vec::new();
    for m in &first {
        PostcardCodec.encode(m, &mut buf);
    }
    let mut second: Vec<Message<'_, Addr>> = Vec::new();
    PostcardCodec.decode(&buf, &limits, &mut |m| second.push(m)).expect("re-encoded messages decode");
    assert_eq!(first, second, "decode(encode(decode(x))) != decode(x)");
}

/// Target `datagram`: arbitrary bytes as one datagram.
pub fn datagram(data: &[u8]) {
    roundtrip(data);
    let mut s = busy_member(None);
    feed(&mut s, data, false);
    exercise(&mut s, Instant::from_secs(10));
}

/// Target `stream`: arbitrary bytes as a TCP stream of frames, and as one stream message.
pub fn stream(data: &[u8]) {
    let mut s = busy_member(None);
    feed(&mut s, data, true);
    let max = s.config().limits.max_stream_message_size;
    let mut frames = frame::FrameDecoder::new(max);
    // Arrive in chunks whose sizes the input picks, as TCP may split it.
    let chunk = 1 + data.first().copied().unwrap_or(0) as usize;
    for piece in data.chunks(chunk) {
        frames.push(piece);
        loop {
            match frames.next_frame() {
                Ok(Some(body)) => {
                    roundtrip(&body);
                    feed(&mut s, &body, true);
                }
                Ok(None) => break,
                Err(_) => return, // the connection would be closed
            }
        }
        assert!(frames.buffered() <= max + frame::HEADER_LEN + chunk, "frame decoder buffered past its bound");
    }
    exercise(&mut s, Instant::from_secs(10));
}

/// Target `decrypt`: the first byte picks the cipher and the mode. In mode 0 the rest is a
/// packet for an encrypting member (forged or corrupt ciphertext must be rejected); in mode 1
/// the rest is plaintext messages sealed with the member's own key (so the fuzzer reaches the
/// decoder behind a valid tag).
pub fn decrypt(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let cipher = if mode & 1 == 0 { Cipher::Aes256Gcm } else { Cipher::ChaCha20Poly1305 };
    let mut s = busy_member(Some(fuzz_keyring(cipher)));
    if mode & 2 == 0 {
        feed(&mut s, rest, mode & 4 != 0);
        // Without the key, nothing gets through.
        let ring = fuzz_keyring(cipher);
        let mut plain = Vec::new();
        if !ring.open_packet(rest, &mut plain) {
            assert!(s.stats().decode_errors.total() >= 1, "an unopenable packet was accepted");
        }
    } else {
        let mut ring = fuzz_keyring(cipher);
        let sealed = ring.seal_packet(b"", rest);
        let mut plain = Vec::new();
        assert!(ring.open_packet(&sealed, &mut plain), "own seal does not open");
        assert_eq!(plain, rest);
        feed(&mut s, &sealed, mode & 4 != 0);
    }
    exercise(&mut s, Instant::from_secs(10));
}

// ---------------------------------------------------------------------------- cluster

/// One step of a fuzzed cluster plan.
#[derive(Arbitrary, Debug)]
pub enum Op {
    /// Let time pass (milliseconds, up to about 65 s).
    Run(u16),
    /// Crash a member.
    Crash(u8),
    /// Restart a crashed member (same name and address, a fresh process).
    Restart(u8),
    /// Cut the members in the mask off from the others.
    Partition(u8),
    /// Drop everything sent to a member.
    Blackhole(u8),
    /// Restore every link.
    Heal,
    /// A member leaves.
    Leave(u8),
    /// A member changes its metadata.
    Meta(u8, u8),
    /// A member broadcasts.
    Broadcast(u8, u8),
    /// Hostile bytes arrive at a member, as a datagram or a stream message.
    Inject(u8, bool, Vec<u8>),
    /// Datagram loss, in percent.
    Loss(u8),
}

/// A fuzzed cluster plan.
#[derive(Arbitrary, Debug)]
pub struct Plan {
    /// Cluster size: 2 plus this, modulo 7 (2 to 8 members).
    pub size: u8,
    /// Seed of the members and the network.
    pub seed: u64,
    /// Plain SWIM instead of Lifeguard.
    pub plain: bool,
    /// The steps.
    pub ops: Vec<Op>,
}

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

/// A small cluster on a virtual clock, checking invariants after every step.
struct Cluster {
    now: Instant,
    nodes: Vec<Swim<Addr>>,
    up: Vec<bool>,
    seen: Vec<HashMap<Name, u32>>,
    net: BinaryHeap<Reverse<Packet>>,
    blocked: Vec<Vec<bool>>,
    loss: u64,
    rng: SwimRng,
    seq: u64,
    config: Config,
    steps: u64,
}

/// Most steps one plan may take (keeps every fuzz input fast).
const MAX_STEPS: u64 = 200_000;

impl Cluster {
    fn new(n: usize, seed: u64, config: Config) -> Self {
        let now = Instant::ZERO;
        let nodes = (0..n)
            .map(|i| {
                Swim::new(config.clone(), Identity::new(format!("node-{i}"), i as Addr), seed ^ i as u64, now)
                    .expect("valid config")
            })
            .collect();
        Cluster {
            now,
            nodes,
            up: vec![true; n],
            seen: vec![HashMap::new(); n],
            net: BinaryHeap::new(),
            blocked: vec![vec![false; n]; n],
            loss: 0,
            rng: SwimRng::from_seed_u64(seed),
            seq: 0,
            config,
            steps: 0,
        }
    }

    fn flush(&mut self, i: usize) {
        let mut buf = Vec::new();
        while let Some(t) = self.nodes[i].poll_transmit(&mut buf) {
            let to = t.destination as usize;
            let dropped = to >= self.nodes.len()
                || self.blocked[i][to]
                || (t.kind == TransmitKind::Datagram && self.rng.next_u64() % 100 < self.loss);
            if dropped || (t.kind == TransmitKind::Stream && !self.up[to]) {
                if t.kind == TransmitKind::Stream {
                    self.nodes[i].handle_stream_failed(self.now, &t.destination);
                }
                continue;
            }
            self.seq += 1;
            let at = self.now + Duration::from_micros(500 + self.rng.next_u64() % 1000);
            self.net.push(Reverse(Packet {
                at,
                seq: self.seq,
                from: i as Addr,
                to: t.destination,
                kind: t.kind,
                bytes: buf.clone(),
            }));
        }
        while let Some(e) = self.nodes[i].poll_event() {
            if let Event::MemberRemoved(m) = e {
                self.seen[i].remove(m.name.as_str());
            }
        }
        self.check(i);
    }

    /// The safety invariants of member `i`.
    fn check(&mut self, i: usize) {
        let s = &self.nodes[i];
        let c = &self.config;
        assert_ne!(s.local().state, State::Dead, "node {i} believes itself dead");
        if !s.is_leaving() {
            assert_eq!(s.local().state, State::Alive, "node {i} does not see itself alive");
        }
        assert!(s.table_len() <= c.limits.max_members);
        let (q, uq) = s.queue_depth();
        assert!(q <= c.limits.broadcast_queue_depth && uq <= c.limits.user_broadcast_queue_depth);
        let (t, e) = s.pending_outputs();
        assert!(t <= c.limits.max_pending_transmits && e <= c.limits.max_pending_events);
        assert!(s.relays_in_progress() <= c.limits.max_relays);
        assert!(s.health_score() < c.lifeguard.awareness_max_multiplier);
        for m in s.members() {
            let prev = self.seen[i].entry(m.name.clone()).or_insert(m.incarnation);
            assert!(
                m.incarnation >= *prev,
                "node {i}: incarnation of {} fell from {prev} to {}",
                m.name,
                m.incarnation
            );
            *prev = m.incarnation;
        }
    }

    fn step(&mut self) -> bool {
        self.steps += 1;
        let next_packet = self.net.peek().map(|p| p.0.at);
        let next_timer = (0..self.nodes.len()).filter(|&i| self.up[i]).map(|i| (self.nodes[i].poll_timeout(), i)).min();
        match (next_packet, next_timer) {
            (Some(p), t) if t.is_none_or(|(t, _)| p <= t) => {
                let Reverse(pk) = self.net.pop().expect("peeked");
                self.now = self.now.max(pk.at);
                let to = pk.to as usize;
                if self.up[to] && !self.blocked[pk.from as usize][to] {
                    let now = self.now;
                    let r = match pk.kind {
                        TransmitKind::Datagram => self.nodes[to].handle_datagram(now, pk.from, &pk.bytes),
                        TransmitKind::Stream => self.nodes[to].handle_stream(now, pk.from, &pk.bytes),
                    };
                    assert!(r.is_ok(), "node {to} rejected honest traffic: {r:?}");
                    self.flush(to);
                }
                true
            }
            (_, Some((t, i))) => {
                self.now = self.now.max(t);
                let now = self.now;
                self.nodes[i].handle_timeout(now);
                self.flush(i);
                true
            }
            _ => false,
        }
    }

    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.steps < MAX_STEPS {
            let next = self
                .net
                .peek()
                .map(|p| p.0.at)
                .into_iter()
                .chain((0..self.nodes.len()).filter(|&i| self.up[i]).map(|i| self.nodes[i].poll_timeout()))
                .min();
            if next.is_none_or(|t| t > end) || !self.step() {
                break;
            }
        }
        self.now = self.now.max(end);
    }
}

/// Target `cluster`: run an arbitrary plan on a small cluster, checking the safety
/// invariants (no member believes itself dead, incarnations never decrease, every table,
/// queue and output within its bound) after every step of every member.
pub fn cluster(data: &[u8]) {
    let Ok(plan) = Plan::arbitrary(&mut Unstructured::new(data)) else { return };
    let n = 2 + plan.size as usize % 7;
    let mut config = config();
    if plan.plain {
        config.lifeguard = swim_core::Lifeguard::disabled();
    }
    let mut c = Cluster::new(n, plan.seed, config.clone());
    for i in 1..n {
        let now = c.now;
        c.nodes[i].join(now, [0]).expect("join");
        c.flush(i);
    }
    let pick = |x: u8| x as usize % n;
    for op in plan.ops.iter().take(64) {
        let now = c.now;
        match op {
            Op::Run(ms) => c.run_for(Duration::from_millis(*ms as u64)),
            Op::Crash(i) => c.up[pick(*i)] = false,
            Op::Restart(i) => {
                let i = pick(*i);
                if !c.up[i] {
                    let id = Identity::new(format!("node-{i}"), i as Addr);
                    c.nodes[i] = Swim::new(config.clone(), id, plan.seed.wrapping_add(c.steps), now).expect("valid");
                    c.up[i] = true;
                    c.seen[i].clear();
                    let seed = (i + 1) % n;
                    let _ = c.nodes[i].join(now, [seed as Addr]);
                    c.flush(i);
                }
            }
            Op::Partition(mask) => {
                for a in 0..n {
                    for b in 0..n {
                        if (mask >> a) & 1 != (mask >> b) & 1 {
                            c.blocked[a][b] = true;
                        }
                    }
                }
            }
            Op::Blackhole(i) => {
                let i = pick(*i);
                for a in 0..n {
                    if a != i {
                        c.blocked[a][i] = true;
                    }
                }
            }
            Op::Heal => c.blocked = vec![vec![false; n]; n],
            Op::Leave(i) => {
                let i = pick(*i);
                if c.up[i] {
                    let _ = c.nodes[i].leave(now);
                    c.flush(i);
                }
            }
            Op::Meta(i, v) => {
                let i = pick(*i);
                if c.up[i] {
                    let _ = c.nodes[i].update_metadata(now, vec![*v; (*v % 64) as usize]);
                    c.flush(i);
                }
            }
            Op::Broadcast(i, v) => {
                let i = pick(*i);
                if c.up[i] {
                    let _ = c.nodes[i].broadcast(now, Some(&[*v % 4]), vec![*v; 8]);
                    c.flush(i);
                }
            }
            Op::Inject(i, stream, bytes) => {
                let i = pick(*i);
                if c.up[i] {
                    let _ = if *stream {
                        c.nodes[i].handle_stream(now, 77, bytes)
                    } else {
                        c.nodes[i].handle_datagram(now, 77, bytes)
                    };
                    c.flush(i);
                }
            }
            Op::Loss(p) => c.loss = (*p % 101) as u64,
        }
        if c.steps >= MAX_STEPS {
            break;
        }
    }
    c.blocked = vec![vec![false; n]; n];
    c.loss = 0;
    c.run_for(Duration::from_secs(60));
}
