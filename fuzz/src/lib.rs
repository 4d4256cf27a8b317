//! # swim-fuzz
//!
//! The bodies of swim's cargo-fuzz targets. Each `fuzz_targets/<name>.rs` calls the function
//! of the same name; `tests/corpus.rs` calls them over the committed corpus, so `cargo test`
//! replays every seed and every input a fuzzer ever found. See `fuzz/README.md`.
//!
//! | target | what it feeds | what it checks |
//! |---|---|---|
//! | [`datagram`] | arbitrary bytes as a datagram to a member with state | no panic; rejected input changes nothing; accepted messages re-encode to themselves |
//! | [`stream`] | arbitrary bytes as a TCP byte stream (framed), and as a compressed stream message (hostile, and compressed by swim) | the same, through the frame decoder and through decompression (bounded by `limits.max_stream_message_size`) |
//! | [`decrypt`] | arbitrary bytes to an encrypting member, or arbitrary plaintext sealed with its key | no panic; forged or corrupt ciphertext is rejected without effect |
//! | [`memberlist`] | byte 0 picks packet or stream; the rest as Go memberlist's wire: decompressed if compressed, then a packet through the CRC check and compound split, a stream as messages back to back | no panic; a message never claims more bytes than it had; whatever decodes re-encodes canonically (encode, decode, encode gives the same bytes) |
//! | [`cluster`] | an arbitrary plan: cluster size, seed, faults, hostile injections, run in swim-sim's engine | swim-core's safety invariants on every event and after every input of every member; honest traffic accepted |

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use swim_core::security::{Cipher, Key, Keyring};
use swim_core::wire::{Codec, DecodeLimits, Message, PostcardCodec, Suspect, compression, envelope, frame};
use swim_core::{Bytes, Config, Identity, Instant, Member, Name, State, Swim};
use swim_sim::faults::{Action, RestartIncarnation};
use swim_sim::network::MAX_PARTITIONS;
use swim_sim::node::Status;
use swim_sim::sim::{StartMode, StartSpec};
use swim_sim::{SimConfig, Simulation};

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
    compressed(&mut s, data);
    exercise(&mut s, Instant::from_secs(10));
}

/// The compressed path of [`stream`]: `data` as a compressed payload (a bomb, garbage), then
/// `data` compressed by swim (so the fuzzer reaches the message decoder behind a valid block),
/// and the latter as a datagram, which must be refused.
fn compressed(s: &mut Swim<Addr>, data: &[u8]) {
    let packet = |payload: &[u8]| {
        let mut p = Vec::new();
        envelope::begin(&mut p, b"", false);
        envelope::set_compressed(&mut p);
        p.extend_from_slice(payload);
        p
    };
    feed(s, &packet(data), true);
    let max = s.config().limits.max_stream_message_size;
    let mut plain = Vec::new();
    if compression::decompress(data, max, &mut plain).is_ok() {
        assert!(plain.len() <= max, "decompressed past the limit");
    }
    let mut block = Vec::new();
    compression::compress(data, &mut block);
    compression::decompress(&block, usize::MAX, &mut plain).expect("own compression decompresses");
    assert_eq!(plain, data, "decompress(compress(x)) != x");
    let p = packet(&block);
    feed(s, &p, true);
    let errors = s.stats().decode_errors.get(swim_core::DecodeError::WrongChannel);
    feed(s, &p, false);
    assert_eq!(s.stats().decode_errors.get(swim_core::DecodeError::WrongChannel), errors + 1, "a compressed datagram");
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
    /// Cut the members in the mask off from the others (at most 64 partitions at once).
    Partition(u8),
    /// Drop everything sent to a member.
    Blackhole(u8),
    /// End every partition, blackhole and extra loss.
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

/// Most engine steps one plan may take (keeps every fuzz input fast).
const MAX_STEPS: u64 = 200_000;

/// The address hostile traffic comes from: no member has it, so answers go nowhere.
const STRANGER: u32 = 77;

/// A broken invariant is what the fuzzer looks for: panic with the engine's report.
fn ok<T>(r: Result<T, swim_sim::invariants::Violation>) -> T {
    r.unwrap_or_else(|v| panic!("{v}"))
}

/// Run the engine for `d` of virtual time or until the plan's step budget is spent; returns
/// false once it is spent.
fn run_for(sim: &mut Simulation, d: Duration) -> bool {
    let end = sim.now() + d;
    while sim.next_time().is_some_and(|t| t <= end) {
        if sim.stats().steps >= MAX_STEPS {
            return false;
        }
        ok(sim.step());
    }
    ok(sim.run_until_time(end));
    true
}

/// Target `cluster`: run an arbitrary plan on a small cluster in swim-sim's engine, which
/// checks swim-core's safety invariants ([`swim_core::invariants`]: no member believes itself
/// dead, incarnations never go down, precedence holds, every table, queue and output within
/// its bound, ...) on every event and after every input of every member, and that honest
/// traffic is never rejected. Hostile bytes arrive through [`Simulation::inject`].
pub fn cluster(data: &[u8]) {
    if let Ok(plan) = Plan::arbitrary(&mut Unstructured::new(data)) {
        run_plan(&plan);
    }
}

/// Run one cluster plan (the body of [`cluster`], for tests that build plans themselves).
/// Panics with the engine's report if an invariant breaks.
pub fn run_plan(plan: &Plan) {
    let n = 2 + plan.size as usize % 7;
    let mut cfg = SimConfig::new(n, plan.seed);
    cfg.config = config();
    if plan.plain {
        cfg.config.lifeguard = swim_core::Lifeguard::disabled();
    }
    // Every member joins through member 0 at time 0.
    cfg.start = StartSpec { mode: StartMode::Join, seeds: vec![0], ..StartSpec::default() };
    cfg.sample_interval = Duration::ZERO;
    let mut sim = Simulation::new(cfg).expect("a valid simulation");
    ok(sim.run_until_time(Instant::ZERO));
    let pick = |x: u8| x as u32 % n as u32;
    let mut partitions = 0;
    for op in plan.ops.iter().take(64) {
        let running = |sim: &Simulation, i: u32| sim.status(i) == Status::Up;
        match op {
            Op::Run(ms) => {
                if !run_for(&mut sim, Duration::from_millis(*ms as u64)) {
                    return;
                }
            }
            Op::Crash(i) => ok(sim.apply(&Action::Crash(vec![pick(*i)]))),
            Op::Restart(i) => {
                let i = pick(*i);
                if sim.status(i) == Status::Down {
                    let start = Action::Start {
                        nodes: vec![i],
                        restart: true,
                        incarnation: RestartIncarnation::Zero,
                        versions: None,
                    };
                    ok(sim.apply(&start));
                }
            }
            Op::Partition(mask) => {
                let (a, b): (Vec<u32>, Vec<u32>) = (0..n as u32).partition(|&x| (mask >> x) & 1 == 1);
                if !a.is_empty() && !b.is_empty() && sim.network().partitions() < MAX_PARTITIONS as u32 {
                    partitions += 1;
                    ok(sim.apply(&Action::Partition { key: partitions, a, b, one_way: false }));
                }
            }
            Op::Blackhole(i) => {
                let hole = Action::Blackhole { nodes: vec![pick(*i)], inbound: true, outbound: false, on: true };
                ok(sim.apply(&hole));
            }
            Op::Heal => ok(sim.apply(&Action::HealAll)),
            Op::Leave(i) => ok(sim.apply(&Action::Leave(vec![pick(*i)]))),
            Op::Meta(i, v) => {
                let _ = ok(sim.command(pick(*i), |s, now| s.update_metadata(now, vec![*v; (*v % 64) as usize])));
            }
            Op::Broadcast(i, v) => {
                let _ = ok(sim.command(pick(*i), |s, now| s.broadcast(now, Some(&[*v % 4]), vec![*v; 8])));
            }
            Op::Inject(i, stream, bytes) => {
                let i = pick(*i);
                if running(&sim, i) {
                    let _ = ok(sim.inject(i, STRANGER, *stream, bytes));
                }
            }
            Op::Loss(p) => {
                let loss = (*p % 101) as f64 / 100.0;
                ok(sim.apply(&Action::Loss { nodes: None, inbound: loss, outbound: loss }));
            }
        }
    }
    ok(sim.apply(&Action::HealAll));
    ok(sim.apply(&Action::Loss { nodes: None, inbound: 0.0, outbound: 0.0 }));
    run_for(&mut sim, Duration::from_secs(60));
}

/// The same bytes into a member running the memberlist wire profile, on the input `mode`
/// picks (datagram, stream on a connection, reply to a request): refused input leaves its
/// members as they were.
fn memberlist_member(mode: u8, data: &[u8]) {
    use std::net::SocketAddr;
    use swim_core::{ConnectionId, Identity, RequestId};
    let at = |p: u16| SocketAddr::from(([10, 0, 0, 1], p));
    let Ok(mut m) = Swim::with_wire(config().memberlist_wire(), Identity::new("m0", at(1)), 1, Instant::ZERO) else {
        unreachable!("the memberlist profile of the LAN preset is a valid configuration")
    };
    let _ = m.join(Instant::ZERO, [at(2)]);
    let mut buf = Vec::new();
    while m.poll_transmit(&mut buf).is_some() {}
    let before: Vec<_> = m.members().cloned().collect();
    let now = Instant::ZERO + std::time::Duration::from_millis(5);
    let r = match (mode >> 1) % 3 {
        0 => m.handle_datagram(now, at(3), data),
        1 => m.handle_stream_on(now, at(3), ConnectionId(1), data),
        _ => m.handle_stream_reply(now, at(2), RequestId(0), data),
    };
    if r.is_err() {
        assert_eq!(m.members().cloned().collect::<Vec<_>>(), before, "refused input changed the member table");
    }
    while m.poll_transmit(&mut buf).is_some() {}
    let _ = m.stream_framing().message_len(data);
}

/// Target `memberlist`: arbitrary bytes as Go memberlist's wire format (swim-core's
/// `wire::memberlist` decoder). Byte 0's low bit picks the transport: a packet (through the
/// CRC check, then split if compound) or a stream (messages back to back);
/// and the same bytes into a member running the memberlist wire profile (byte 0's next bits
/// pick its input: a datagram, a stream message on a connection, a reply to its request).
pub fn memberlist(data: &[u8]) {
    use swim_core::wire::memberlist::{self as ml, MessageType, Transport};
    let Some((&mode, data)) = data.split_first() else { return };
    memberlist_member(mode, data);
    let limits = DecodeLimits::from_config(&config());
    let check = |bytes: &[u8], transport: Transport| -> Option<usize> {
        let (msg, used) = ml::Message::decode(bytes, transport, &limits).ok()?;
        assert!(used <= bytes.len(), "a message claimed {used} of {} bytes", bytes.len());
        let mut once = Vec::new();
        msg.encode(transport, &mut once);
        let (again, _) = ml::Message::decode(&once, transport, &limits).expect("a re-encoded message decodes");
        assert_eq!(again, msg, "decode(encode(m)) != m");
        let mut twice = Vec::new();
        again.encode(transport, &mut twice);
        assert_eq!(once, twice, "the encoding is not canonical");
        Some(used)
    };
    // A compressed message (memberlist compresses push-pulls and large packets) is checked
    // as the message inside, decompressed within the stream bound.
    let max = config().limits.max_stream_message_size;
    let inflated;
    let data = if data.first() == Some(&(MessageType::Compress as u8)) {
        let Ok((plain, used)) = ml::decompress(data, max) else { return };
        assert!(used <= data.len() && plain.len() <= max, "decompression overran its bounds");
        inflated = plain;
        &inflated[..]
    } else {
        data
    };
    if mode & 1 == 0 {
        let Ok(packet) = ml::check_crc(data) else { return };
        if packet.first() == Some(&(MessageType::Compound as u8)) {
            if let Ok((parts, _truncated)) = ml::decode_compound(packet) {
                for part in parts {
                    check(part, Transport::Packet);
                }
            }
        } else {
            check(packet, Transport::Packet);
        }
    } else {
        let mut rest = data;
        // Each message takes at least its type byte, so this ends.
        while let Some(used) = check(rest, Transport::Stream) {
            rest = &rest[used..];
        }
    }
}
