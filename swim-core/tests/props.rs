//! Property tests: precedence against a reference model, codec round trips, hostile bytes,
//! and random fault interleavings on small clusters.
//!
//! Seeds are fixed so CI is reproducible; `SWIM_SEED=n` explores others. A failure prints the
//! minimal failing input and the command that replays it.

mod common;

use std::time::Duration;

use common::{Addr, Cluster, SeedGuard, packet};
use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, RngSeed, TestRunner};
use swim_core::wire::{
    Ack, Alive, Codec, Dead, DecodeLimits, JoinRefused, MemberState, Message, Nack, Ping, PingReq, PostcardCodec,
    PushPull, PushPullKind, Suspect, UserBroadcast, UserMessage, envelope,
};
use swim_core::{Bytes, Config, Identity, Instant, Member, Name, State, Swim};

fn seed(default: u64) -> u64 {
    std::env::var("SWIM_SEED").map(|s| s.parse().expect("SWIM_SEED must be a u64")).unwrap_or(default)
}

fn runner(cases: u32, seed: u64) -> TestRunner {
    TestRunner::new(PropConfig {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..PropConfig::default()
    })
}

fn run<S: Strategy>(
    test: &'static str,
    default_seed: u64,
    cases: u32,
    strategy: S,
    f: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let seed = seed(default_seed);
    let _g = SeedGuard { seed, test, file: "props" };
    if let Err(e) = runner(cases, seed).run(&strategy, f) {
        panic!("{e}");
    }
}

fn solo(others: usize, now: Instant) -> Swim<Addr> {
    let mut s = Swim::new(Config::lan(), Identity::new("node-0", 0), 1, now).unwrap();
    s.restore(
        now,
        (1..=others).map(|i| Member {
            name: Name::from(format!("node-{i}")),
            addr: i as Addr,
            meta: Bytes::new(),
            incarnation: 0,
            state: State::Alive,
            state_changed: now,
        }),
    );
    s
}

// ------------------------------------------------------------------ precedence

#[derive(Clone, Copy, Debug)]
enum Kind {
    Alive,
    Suspect,
    Dead,
    Left,
}

/// The reference model: rank claims as alive(i) = 3i, suspect(i) = 3i+1, dead/left(i) = 3i+2;
/// a claim wins when it ranks higher, except that a suspicion never revives a dead member.
fn reference(view: (State, u32), claim: (Kind, u32)) -> (State, u32) {
    let rank = |s: State, i: u32| {
        3 * i as u64
            + match s {
                State::Alive => 0,
                State::Suspect => 1,
                State::Dead | State::Left => 2,
            }
    };
    let (kind, i) = claim;
    let as_state = match kind {
        Kind::Alive => State::Alive,
        Kind::Suspect => State::Suspect,
        Kind::Dead => State::Dead,
        Kind::Left => State::Left,
    };
    if matches!(kind, Kind::Suspect) && view.0.is_gone() {
        return view;
    }
    if rank(as_state, i) <= rank(view.0, view.1) {
        return view;
    }
    // A newer death over a death keeps the kind of death first recorded.
    if view.0.is_gone() && as_state.is_gone() {
        return (view.0, i);
    }
    (as_state, i)
}

fn claim_packet(kind: Kind, inc: u32) -> Vec<u8> {
    packet(&[match kind {
        Kind::Alive => Message::Alive(Alive {
            incarnation: inc,
            name: "node-1",
            addr: 1,
            meta: b"",
            versions: swim_core::Versions::DEFAULT,
            capabilities: swim_core::Capabilities::NONE,
        }),
        Kind::Suspect => Message::Suspect(Suspect { incarnation: inc, name: "node-1", from: "node-2" }),
        Kind::Dead => Message::Dead(Dead { incarnation: inc, name: "node-1", from: "node-2" }),
        Kind::Left => Message::Dead(Dead { incarnation: inc, name: "node-1", from: "node-1" }),
    }])
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Alive), Just(Kind::Suspect), Just(Kind::Dead), Just(Kind::Left)]
}

#[test]
fn precedence_matches_the_reference_model() {
    run("precedence_matches_the_reference_model", 1, 512, prop::collection::vec((kind(), 0u32..6), 1..24), |claims| {
        let mut now = Instant::from_secs(1);
        let mut s = solo(2, now);
        let mut model = (State::Alive, 0);
        for (kind, inc) in claims {
            now += Duration::from_millis(1);
            s.handle_datagram(now, 1, &claim_packet(kind, inc)).unwrap();
            model = reference(model, (kind, inc));
            let m = s.member("node-1").unwrap();
            prop_assert_eq!((m.state, m.incarnation), model, "after {:?}({})", kind, inc);
        }
        Ok(())
    });
}

#[test]
fn claims_about_oneself_are_refuted_never_accepted() {
    run(
        "claims_about_oneself_are_refuted_never_accepted",
        2,
        256,
        prop::collection::vec((kind(), 0u32..6), 1..24),
        |claims| {
            let mut now = Instant::from_secs(1);
            let mut s = solo(2, now);
            for (kind, inc) in claims {
                now += Duration::from_millis(1);
                let before = s.local().incarnation;
                let p = packet(&[match kind {
                    Kind::Alive => Message::Alive(Alive {
                        incarnation: inc,
                        name: "node-0",
                        addr: 0,
                        meta: b"x",
                        versions: swim_core::Versions::DEFAULT,
                        capabilities: swim_core::Capabilities::NONE,
                    }),
                    Kind::Suspect => Message::Suspect(Suspect { incarnation: inc, name: "node-0", from: "node-2" }),
                    Kind::Dead => Message::Dead(Dead { incarnation: inc, name: "node-0", from: "node-2" }),
                    Kind::Left => Message::Dead(Dead { incarnation: inc, name: "node-0", from: "node-0" }),
                }]);
                s.handle_datagram(now, 1, &p).unwrap();
                let me = s.local();
                prop_assert_eq!(me.state, State::Alive);
                prop_assert!(me.incarnation >= before);
                if inc >= before {
                    // Any claim at or above our incarnation (alive with other metadata included) is
                    // answered with a strictly higher one.
                    prop_assert!(me.incarnation > inc, "{:?}({}) left us at {}", kind, inc, me.incarnation);
                }
            }
            Ok(())
        },
    );
}

// ------------------------------------------------------------------ codec

/// An owned push-pull member state: name, address, metadata, incarnation, state, and the
/// bytes of its versions and capabilities.
type OwnedState = (String, u32, Vec<u8>, u32, u8, [u8; 7]);

/// An owned message, from which a borrowed [`Message`] is built.
#[derive(Clone, Debug)]
enum Owned {
    Ping(u32, String),
    Indirect(u32, String, u32, bool),
    Ack(u32),
    Nack(u32),
    Alive(u32, String, u32, Vec<u8>, [u8; 7]),
    Suspect(u32, String, String),
    Dead(u32, String, String),
    PushPull(u8, u32, String, u32, Vec<OwnedState>, Vec<u8>),
    User(String, Vec<u8>),
    Broadcast(String, u64, Vec<u8>, Vec<u8>),
    JoinRefused(u32, String, String),
}

/// Versions and capabilities from seven arbitrary bytes: the codec carries them as they are.
fn speaks(b: &[u8; 7]) -> (swim_core::Versions, swim_core::Capabilities) {
    use swim_core::VersionRange;
    let versions = swim_core::Versions {
        protocol: VersionRange::new(b[0], b[1], b[2]),
        application: VersionRange::new(b[3], b[4], b[5]),
    };
    (versions, swim_core::Capabilities(b[6]))
}

fn state(i: u8) -> State {
    [State::Alive, State::Suspect, State::Dead, State::Left][i as usize % 4]
}

impl Owned {
    fn msg(&self) -> Message<'_, Addr> {
        match self {
            Owned::Ping(seq, t) => Message::Ping(Ping { seq: *seq, target: t }),
            Owned::Indirect(seq, t, a, n) => {
                Message::PingReq(PingReq { seq: *seq, target: t, target_addr: *a, nack: *n })
            }
            Owned::Ack(seq) => Message::Ack(Ack { seq: *seq }),
            Owned::Nack(seq) => Message::Nack(Nack { seq: *seq }),
            Owned::Alive(i, n, a, m, v) => {
                let (versions, capabilities) = speaks(v);
                Message::Alive(Alive { incarnation: *i, name: n, addr: *a, meta: m, versions, capabilities })
            }
            Owned::Suspect(i, n, f) => Message::Suspect(Suspect { incarnation: *i, name: n, from: f }),
            Owned::Dead(i, n, f) => Message::Dead(Dead { incarnation: *i, name: n, from: f }),
            Owned::PushPull(k, id, from, a, ms, app) => Message::PushPull(PushPull {
                kind: [PushPullKind::Join, PushPullKind::Periodic, PushPullKind::Reply, PushPullKind::JoinReply]
                    [*k as usize % 4],
                id: *id,
                from,
                from_addr: *a,
                members: ms
                    .iter()
                    .map(|(n, a, m, i, s, v)| {
                        let (versions, capabilities) = speaks(v);
                        MemberState {
                            name: n,
                            addr: *a,
                            meta: m,
                            incarnation: *i,
                            state: state(*s),
                            versions,
                            capabilities,
                        }
                    })
                    .collect(),
                state: app,
            }),
            Owned::User(f, p) => Message::User(UserMessage { from: f, payload: p }),
            Owned::Broadcast(o, id, k, p) => {
                Message::Broadcast(UserBroadcast { origin: o, id: *id, key: k, payload: p })
            }
            Owned::JoinRefused(id, f, r) => Message::JoinRefused(JoinRefused { id: *id, from: f, reason: r }),
        }
    }
}

fn name() -> impl Strategy<Value = String> {
    // Any non-control characters, 1 to 20 of them (at most 80 bytes, under the 128 limit).
    "\\PC{1,20}"
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn owned() -> impl Strategy<Value = Owned> {
    prop_oneof![
        (any::<u32>(), name()).prop_map(|(s, t)| Owned::Ping(s, t)),
        (any::<u32>(), name(), any::<u32>(), any::<bool>()).prop_map(|(s, t, a, n)| Owned::Indirect(s, t, a, n)),
        any::<u32>().prop_map(Owned::Ack),
        any::<u32>().prop_map(Owned::Nack),
        (any::<u32>(), name(), any::<u32>(), bytes(512), any::<[u8; 7]>())
            .prop_map(|(i, n, a, m, v)| Owned::Alive(i, n, a, m, v)),
        (any::<u32>(), name(), name()).prop_map(|(i, n, f)| Owned::Suspect(i, n, f)),
        (any::<u32>(), name(), name()).prop_map(|(i, n, f)| Owned::Dead(i, n, f)),
        (
            any::<u8>(),
            any::<u32>(),
            name(),
            any::<u32>(),
            prop::collection::vec(
                (name(), any::<u32>(), bytes(64), any::<u32>(), any::<u8>(), any::<[u8; 7]>()),
                0..20
            ),
            bytes(4096),
        )
            .prop_map(|(k, id, f, a, ms, app)| Owned::PushPull(k, id, f, a, ms, app)),
        (name(), bytes(4096)).prop_map(|(f, p)| Owned::User(f, p)),
        (name(), any::<u64>(), bytes(64), bytes(768)).prop_map(|(o, id, k, p)| Owned::Broadcast(o, id, k, p)),
        // Reasons of 0 to 20 characters: within `limits.max_name_len` (an empty one included).
        (any::<u32>(), name(), "\\PC{0,20}").prop_map(|(id, f, r)| Owned::JoinRefused(id, f, r)),
    ]
}

fn encode(msgs: &[Owned]) -> Vec<u8> {
    let mut buf = Vec::new();
    envelope::begin(&mut buf, b"", false);
    for m in msgs {
        PostcardCodec.encode(&m.msg(), &mut buf);
    }
    buf
}

#[test]
fn every_message_roundtrips() {
    let limits = DecodeLimits::from_config(&Config::lan());
    run("every_message_roundtrips", 3, 1024, prop::collection::vec(owned(), 1..6), |msgs| {
        let buf = encode(&msgs);
        let (_, body) = envelope::parse(&buf).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let mut got = Vec::new();
        let n = PostcardCodec
            .decode(body, &limits, &mut |m| got.push(m))
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(n, msgs.len());
        let want: Vec<Message<'_, Addr>> = msgs.iter().map(|m| m.msg()).collect();
        prop_assert_eq!(got, want);
        Ok(())
    });
}

// ------------------------------------------------------------------ hostile bytes

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

/// A core with some state worth protecting: members, a suspicion, queued gossip.
fn busy_core(now: Instant) -> Swim<Addr> {
    let mut s = solo(6, now);
    let p = packet(&[Message::Suspect(Suspect { incarnation: 0, name: "node-3", from: "node-1" })]);
    s.handle_datagram(now, 1, &p).unwrap();
    s
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Append(Vec<u8>),
}

fn mutate(mut b: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        match m {
            Mutation::Flip(i, x) if !b.is_empty() => {
                let i = i % b.len();
                b[i] ^= x | 1;
            }
            Mutation::Truncate(i) => b.truncate(i % (b.len() + 1)),
            Mutation::Insert(i, x) => {
                let i = i % (b.len() + 1);
                b.insert(i, *x);
            }
            Mutation::Append(x) => b.extend_from_slice(x),
            _ => {}
        }
    }
    b
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Insert(i, x)),
        bytes(16).prop_map(Mutation::Append),
    ]
}

fn hostile() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        bytes(2000),
        // A version byte and a known tag in front of junk reaches deeper.
        (0u8..16, bytes(300)).prop_map(|(t, b)| {
            let mut v = vec![1, t];
            v.extend(b);
            v
        }),
        (prop::collection::vec(owned(), 1..4), prop::collection::vec(mutation(), 1..4))
            .prop_map(|(msgs, ms)| mutate(encode(&msgs), &ms)),
    ]
}

#[test]
fn hostile_bytes_never_panic_and_rejected_input_changes_nothing() {
    run(
        "hostile_bytes_never_panic_and_rejected_input_changes_nothing",
        4,
        4096,
        (hostile(), any::<bool>()),
        |(b, stream)| {
            let now = Instant::from_secs(10);
            let mut s = busy_core(now);
            let before = snapshot(&s);
            let errors = s.stats().decode_errors.total();
            let r = if stream { s.handle_stream(now, 9, &b) } else { s.handle_datagram(now, 9, &b) };
            if r.is_err() {
                prop_assert_eq!(snapshot(&s), before);
                prop_assert_eq!(s.stats().decode_errors.total(), errors + 1, "the rejection is counted");
            }
            // Whatever happened, the core still works: outputs drain and timers run.
            let mut buf = Vec::new();
            while s.poll_transmit(&mut buf).is_some() {}
            while s.poll_event().is_some() {}
            s.handle_timeout(now + Duration::from_secs(60));
            prop_assert_eq!(s.local().state, State::Alive);
            Ok(())
        },
    );
}

// ------------------------------------------------------------------ random interleavings

#[derive(Clone, Debug)]
enum Op {
    Run(u64),
    Crash(usize),
    Restart(usize),
    Partition(u8),
    OneWay(usize),
    Heal,
    Leave(usize),
    Meta(usize),
    Broadcast(usize),
    Loss(u8),
}

fn op(n: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..8000).prop_map(Op::Run),
        1 => (0..n).prop_map(Op::Crash),
        1 => (0..n).prop_map(Op::Restart),
        1 => any::<u8>().prop_map(Op::Partition),
        1 => (0..n).prop_map(Op::OneWay),
        1 => Just(Op::Heal),
        1 => (0..n).prop_map(Op::Leave),
        1 => (0..n).prop_map(Op::Meta),
        1 => (0..n).prop_map(Op::Broadcast),
        1 => (0u8..40).prop_map(Op::Loss),
    ]
}

fn scenario() -> impl Strategy<Value = (usize, u64, Vec<Op>)> {
    (3usize..7).prop_flat_map(|n| (Just(n), any::<u64>(), prop::collection::vec(op(n), 1..25)))
}

#[test]
fn random_interleavings_keep_the_invariants_and_heal() {
    run("random_interleavings_keep_the_invariants_and_heal", 5, 200, scenario(), |(n, seed, ops)| {
        // The harness checks safety after every step of every node: no member believes itself
        // dead, incarnations never decrease, tables, queues and outputs stay within bounds.
        let mut c = Cluster::new(n, Config::lan(), seed);
        c.converge(Duration::from_secs(10));
        let mut left = vec![false; n];
        for o in &ops {
            match *o {
                Op::Run(ms) => c.run_for(Duration::from_millis(ms)),
                Op::Crash(i) if c.up().count() > 2 => c.crash(i),
                Op::Restart(i) if !c.nodes[i].up => {
                    let Some(seed_node) = c.up().next() else { continue };
                    let inc = c.nodes.iter().map(|x| x.swim.local().incarnation).max().unwrap_or(0);
                    c.restart(i, inc, seed_node);
                    left[i] = false;
                }
                Op::Partition(mask) => {
                    let a: Vec<usize> = (0..n).filter(|i| mask & (1 << i) != 0).collect();
                    let b: Vec<usize> = (0..n).filter(|i| mask & (1 << i) == 0).collect();
                    c.partition(&a, &b);
                }
                Op::OneWay(i) => c.blackhole_inbound(i),
                Op::Heal => c.heal(),
                Op::Leave(i) if c.nodes[i].up && !left[i] && c.up().count() > 2 => {
                    c.with(i, |s, now| s.leave(now)).unwrap();
                    left[i] = true;
                }
                Op::Meta(i) if c.nodes[i].up && !left[i] => {
                    c.with(i, |s, now| s.update_metadata(now, Bytes::from(format!("m{}", now.as_nanos())))).unwrap();
                }
                Op::Broadcast(i) if c.nodes[i].up && !left[i] => {
                    c.with(i, |s, now| s.broadcast(now, None, &b"b"[..])).unwrap();
                }
                Op::Loss(p) => c.loss = p as f64 / 100.0,
                _ => {}
            }
        }
        // Liveness: once the network heals, the live members agree on the live set.
        c.heal();
        c.loss = 0.0;
        c.run_for(Duration::from_secs(10));
        for (i, &gone) in left.iter().enumerate() {
            if gone {
                c.crash(i); // a member that left shuts down
            }
        }
        let ok = c.run_until(Duration::from_secs(300), |c| c.converged());
        prop_assert!(
            ok,
            "no agreement 300 s after healing; views: {:?}",
            (0..n)
                .filter(|&i| c.nodes[i].up)
                .map(|i| (i, c.node(i).members().map(|m| (m.name.to_string(), m.state)).collect::<Vec<_>>()))
                .collect::<Vec<_>>()
        );
        Ok(())
    });
}
