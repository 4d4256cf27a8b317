//! Go memberlist's wire format, proved against memberlist's own bytes.
//!
//! `tests/golden/memberlist.txt` holds messages as memberlist 0.2.2's code encodes them
//! (written by `interop/go-wire/fixtures.sh`, which compiles `swim_fixtures_test.go` inside a
//! copy of memberlist's sources; swim-tokio's `tests/go_interop.rs` re-runs it and compares
//! whenever Go is installed, so the file cannot drift from Go). Each fixture is built here
//! from the same field values: encoding must give the same bytes, and decoding them the same
//! message. Then properties: round trips, keys in any order, unknown keys skipped, and hostile
//! bytes never panic. proptest prints the failing case and its seed (replay with
//! `PROPTEST_RNG_SEED=<seed> cargo test -p swim-core --test memberlist_wire`).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use swim_core::wire::DecodeLimits;
use swim_core::wire::memberlist::{
    self, Ack, Alive, Dead, ErrResp, IndirectPing, Message, Nack, NodeStateKind, Ping, PushNodeState, PushPull,
    Suspect, Transport, msgpack,
};
use swim_core::{Config, DecodeError};

const FIXTURES: &str = include_str!("golden/memberlist.txt");

fn limits() -> DecodeLimits {
    DecodeLimits::from_config(&Config::lan())
}

fn fixtures() -> BTreeMap<&'static str, Vec<u8>> {
    FIXTURES
        .lines()
        .map(|line| {
            let (name, hex) = line.split_once(' ').expect("a fixture line is `name hex`");
            let bytes =
                (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect();
            (name, bytes)
        })
        .collect()
}

const V4: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
const VSN: [u8; 6] = [1, 5, 2, 0, 0, 0];

fn long_name() -> String {
    "n".repeat(40)
}

fn ping() -> Message {
    Message::Ping(Ping { seq_no: 1, node: "b".into(), source_addr: None, source_port: 0, source_node: String::new() })
}

fn alive() -> Message {
    Message::Alive(Alive { incarnation: 1, node: "a".into(), addr: V4, port: 7946, meta: vec![], vsn: VSN.to_vec() })
}

fn encoded(msg: &Message, transport: Transport) -> Vec<u8> {
    let mut out = Vec::new();
    msg.encode(transport, &mut out);
    out
}

fn node(name: &str, addr: IpAddr, port: u16, meta: &[u8], incarnation: u32, state: NodeStateKind) -> PushNodeState {
    PushNodeState { name: name.into(), addr, port, meta: meta.to_vec(), incarnation, state, vsn: VSN.to_vec() }
}

/// The messages of the fixture file, built from the field values `swim_fixtures_test.go` uses.
fn messages() -> Vec<(&'static str, Message, Transport)> {
    use Transport::*;
    let source = |seq_no, node: String, addr, port| {
        Message::Ping(Ping { seq_no, node, source_addr: Some(addr), source_port: port, source_node: "a".into() })
    };
    let suspect = Message::Suspect(Suspect { incarnation: 5, node: "b".into(), from: "a".into() });
    vec![
        ("ping", ping(), Packet),
        ("ping-source", source(200, "b".into(), V4, 7946), Packet),
        ("ping-v6-long-name", source(70000, long_name(), V6, 65535), Packet),
        (
            "indirect-ping",
            Message::IndirectPing(IndirectPing {
                seq_no: 2,
                target: V4,
                port: 7947,
                node: "c".into(),
                nack: true,
                source_addr: Some(V4),
                source_port: 7946,
                source_node: "a".into(),
            }),
            Packet,
        ),
        (
            "indirect-ping-v1",
            Message::IndirectPing(IndirectPing {
                seq_no: 3,
                target: V4,
                port: 7947,
                node: "c".into(),
                nack: false,
                source_addr: None,
                source_port: 0,
                source_node: String::new(),
            }),
            Packet,
        ),
        ("ack", Message::Ack(Ack { seq_no: 1, payload: vec![] }), Packet),
        ("ack-payload", Message::Ack(Ack { seq_no: u32::MAX, payload: b"rtt".to_vec() }), Packet),
        ("nack", Message::Nack(Nack { seq_no: 128 }), Packet),
        ("err", Message::Err(ErrResp { error: "no such member".into() }), Stream),
        ("suspect", suspect, Packet),
        ("alive", alive(), Packet),
        (
            "alive-meta",
            Message::Alive(Alive {
                incarnation: 65536,
                node: "a".into(),
                addr: V6,
                port: 7946,
                meta: b"role=db".to_vec(),
                vsn: VSN.to_vec(),
            }),
            Packet,
        ),
        (
            "alive-meta-300",
            Message::Alive(Alive {
                incarnation: 255,
                node: long_name(),
                addr: V4,
                port: 1,
                meta: vec![0xab; 300],
                vsn: vec![1, 5, 5, 2, 4, 3],
            }),
            Packet,
        ),
        ("dead", Message::Dead(Dead { incarnation: 7, node: "b".into(), from: "b".into() }), Packet),
        ("user", Message::User(b"hello".to_vec()), Packet),
        ("user-stream", Message::User(b"hello".to_vec()), Stream),
        ("push-pull-empty", Message::PushPull(PushPull { join: false, nodes: vec![], user_state: vec![] }), Stream),
        (
            "push-pull-join",
            Message::PushPull(PushPull {
                join: true,
                nodes: vec![
                    node("a", V4, 7946, b"", 1, NodeStateKind::Alive),
                    node("b", V6, 7947, b"m", 300, NodeStateKind::Suspect),
                    node("c", V4, 7948, b"", 2, NodeStateKind::Dead),
                    node("d", V4, 7949, b"", 3, NodeStateKind::Left),
                ],
                user_state: b"state".to_vec(),
            }),
            Stream,
        ),
    ]
}

#[test]
fn every_message_encodes_to_memberlists_bytes_and_decodes_back() {
    let fixtures = fixtures();
    let messages = messages();
    for (name, msg, transport) in &messages {
        let go = fixtures.get(name).unwrap_or_else(|| panic!("no fixture {name} in golden/memberlist.txt"));
        assert_eq!(hex(&encoded(msg, *transport)), hex(go), "{name}: our bytes, then memberlist's");
        assert_eq!(Message::decode(go, *transport, &limits()), Ok((msg.clone(), go.len())), "{name}");
    }
    // Every fixture is checked here or by the framing test below.
    let framing = [
        "compound",
        "crc-ping",
        "crc-compound",
        "compress-push-pull-join",
        "compress-alive-meta-300",
        "compress-push-pull-500",
    ];
    for name in fixtures.keys() {
        assert!(messages.iter().any(|(n, ..)| n == name) || framing.contains(name), "fixture {name} is not checked");
    }
}

#[test]
fn compound_and_crc_framing_match_memberlists_bytes() {
    let fixtures = fixtures();
    let (ping, alive) = (encoded(&ping(), Transport::Packet), encoded(&alive(), Transport::Packet));
    let mut compound = Vec::new();
    memberlist::encode_compound(&[&ping, &alive], &mut compound).unwrap();
    assert_eq!(hex(&compound), hex(&fixtures["compound"]));
    assert_eq!(memberlist::decode_compound(&fixtures["compound"]), Ok((vec![&ping[..], &alive[..]], 0)));

    for (name, inner) in [("crc-ping", &ping), ("crc-compound", &compound)] {
        let mut framed = Vec::new();
        memberlist::add_crc(inner, &mut framed);
        assert_eq!(hex(&framed), hex(&fixtures[name]), "{name}");
        assert_eq!(memberlist::check_crc(&fixtures[name]), Ok(&inner[..]), "{name}");
    }
}

#[test]
fn compressing_writes_memberlists_own_bytes() {
    // Go's compressPayload output for three messages, among them a push-pull of 500 members
    // whose LZW table fills and is reset: compress(plain) gives the same bytes.
    let fixtures = fixtures();
    for name in ["compress-push-pull-join", "compress-alive-meta-300", "compress-push-pull-500"] {
        let go = &fixtures[name];
        let (plain, _) = memberlist::decompress(go, 1 << 22).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let mut ours = Vec::new();
        memberlist::lzw::compress(&plain, &mut ours);
        assert_eq!(hex(&ours), hex(go), "{name}");
    }
}

proptest! {
    /// Whatever the bytes, LZW decoding undoes LZW encoding (long inputs fill the table).
    #[test]
    fn lzw_round_trips(data in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..20_000)) {
        let packed = memberlist::lzw::lzw_encode(&data);
        prop_assert_eq!(memberlist::lzw::lzw_decode(&packed, data.len()).unwrap(), data);
    }
}

#[test]
fn memberlists_compressed_messages_decompress_to_the_originals() {
    let fixtures = fixtures();
    for name in ["push-pull-join", "alive-meta-300"] {
        let compressed = &fixtures[format!("compress-{name}").as_str()];
        let (plain, used) = memberlist::decompress(compressed, 1 << 20).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(hex(&plain), hex(&fixtures[name]), "{name}");
        assert_eq!(used, compressed.len(), "{name}: the compress struct's length");
        // One byte short of the output is over the bound.
        assert_eq!(memberlist::decompress(compressed, plain.len() - 1), Err(DecodeError::Oversized), "{name}");
        // A bit flipped in the LZW data never panics (and almost always fails).
        for i in 20..compressed.len() {
            let mut bad = compressed.clone();
            bad[i] ^= 0x10;
            let _ = memberlist::decompress(&bad, 1 << 20);
        }
    }
}

/// 500 members: the LZW codes grow to 12 bits, and the table fills (Go's writer then clears it).
#[test]
fn a_large_compressed_push_pull_decompresses_to_our_own_encoding() {
    let nodes = (0..500u32)
        .map(|i| PushNodeState {
            name: format!("node-{i:03}"),
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, (i / 250) as u8, (i % 250) as u8)),
            port: 7000 + i as u16,
            meta: format!("zone={};rack={}", i % 7, i % 13).into_bytes(),
            incarnation: i * i,
            state: [NodeStateKind::Alive, NodeStateKind::Suspect, NodeStateKind::Dead, NodeStateKind::Left]
                [i as usize % 4],
            vsn: VSN.to_vec(),
        })
        .collect();
    let ours =
        encoded(&Message::PushPull(PushPull { join: false, nodes, user_state: b"app".repeat(100) }), Transport::Stream);
    let compressed = &fixtures()["compress-push-pull-500"];
    assert!(ours.len() > 3 * 4096, "large enough to fill the LZW table: {} bytes", ours.len());
    let (plain, used) = memberlist::decompress(compressed, 1 << 20).expect("memberlist's LZW decompresses");
    assert_eq!(used, compressed.len());
    assert_eq!(hex(&plain), hex(&ours));
}

#[test]
fn every_strict_prefix_of_a_stream_message_is_truncated() {
    for (name, msg, transport) in messages() {
        if transport != Transport::Stream {
            continue;
        }
        let bytes = encoded(&msg, transport);
        for cut in 1..bytes.len() {
            assert_eq!(
                Message::decode(&bytes[..cut], transport, &limits()),
                Err(DecodeError::Truncated),
                "{name} cut at {cut}"
            );
        }
    }
}

#[test]
fn fields_past_their_limits_are_refused() {
    let limits = DecodeLimits { max_name_len: 4, max_meta: 2, max_members: 1, max_app_state: 3, ..limits() };
    let check = |msg: Message, transport, want| {
        assert_eq!(Message::decode(&encoded(&msg, transport), transport, &limits).map(drop), Err(want), "{msg:?}");
    };
    check(
        Message::Suspect(Suspect { incarnation: 1, node: "toolong".into(), from: "a".into() }),
        Transport::Packet,
        DecodeError::NameTooLong,
    );
    let Message::Alive(mut a) = alive() else { unreachable!() };
    a.meta = b"abc".to_vec();
    check(Message::Alive(a), Transport::Packet, DecodeError::MetadataTooLarge);
    let two = vec![node("a", V4, 1, b"", 1, NodeStateKind::Alive), node("b", V4, 2, b"", 1, NodeStateKind::Alive)];
    check(
        Message::PushPull(PushPull { join: false, nodes: two, user_state: vec![] }),
        Transport::Stream,
        DecodeError::TooManyMembers,
    );
    check(
        Message::PushPull(PushPull { join: false, nodes: vec![], user_state: b"abcd".to_vec() }),
        Transport::Stream,
        DecodeError::AppStateTooLarge,
    );
    // An address of neither 4 nor 16 bytes, and an alive without an address.
    let mut bad = vec![4u8];
    msgpack::write_map_len(&mut bad, 1);
    msgpack::write_str(&mut bad, b"Addr");
    msgpack::write_str(&mut bad, &[1, 2, 3]);
    assert_eq!(Message::decode(&bad, Transport::Packet, &limits), Err(DecodeError::Malformed));
    assert_eq!(Message::decode(&[4, 0x80], Transport::Packet, &limits), Err(DecodeError::Malformed));
    for kind in [7u8, 9, 10, 12, 14, 255] {
        assert_eq!(Message::decode(&[kind, 0x80], Transport::Packet, &limits), Err(DecodeError::UnknownMessage));
    }
}

/// memberlist's bytes become swim's model and swim's model becomes memberlist's bytes, for
/// every message that maps without dropping a field.
#[test]
fn memberlists_messages_map_onto_swims_model_and_back_to_the_same_bytes() {
    use std::net::SocketAddr;
    use swim_core::State;
    use swim_core::wire::{self as model, MemberState, PushPullKind};
    use swim_core::{Capabilities, VersionRange, Versions};

    let fixtures = fixtures();
    let versions = Versions { protocol: VersionRange::new(1, 5, 2), application: VersionRange::new(0, 0, 0) };
    let at = |port| SocketAddr::new(V4, port);
    let expected: Vec<(&str, model::Message<'_, SocketAddr>)> = vec![
        ("ping", model::Message::Ping(model::Ping { seq: 1, target: "b" })),
        (
            "indirect-ping-v1",
            model::Message::PingReq(model::PingReq { seq: 3, target: "c", target_addr: at(7947), nack: false }),
        ),
        ("ack", model::Message::Ack(model::Ack { seq: 1 })),
        ("nack", model::Message::Nack(model::Nack { seq: 128 })),
        ("suspect", model::Message::Suspect(model::Suspect { incarnation: 5, name: "b", from: "a" })),
        ("dead", model::Message::Dead(model::Dead { incarnation: 7, name: "b", from: "b" })),
        (
            "alive",
            model::Message::Alive(model::Alive {
                incarnation: 1,
                name: "a",
                addr: at(7946),
                meta: b"",
                versions,
                capabilities: Capabilities::NONE,
            }),
        ),
        ("user", model::Message::User(model::UserMessage { from: "", payload: b"hello" })),
    ];
    for (name, want) in &expected {
        let go = &fixtures[name];
        let (msg, _) = Message::decode(go, Transport::Packet, &limits()).unwrap();
        assert_eq!(memberlist::model::to_model::<SocketAddr>(&msg), Ok(Some(want.clone())), "{name}");
        let back = memberlist::model::from_model(want);
        assert_eq!(hex(&encoded(&back, Transport::Packet)), hex(go), "{name}: swim's model to memberlist's bytes");
    }

    // A push-pull's node states map one by one; the push-pull itself needs its connection.
    let go = &fixtures["push-pull-join"];
    let (msg, _) = Message::decode(go, Transport::Stream, &limits()).unwrap();
    assert_eq!(memberlist::model::to_model::<SocketAddr>(&msg), Ok(None));
    let Message::PushPull(pp) = &msg else { panic!("push-pull-join is a push-pull") };
    let members: Vec<MemberState<'_, SocketAddr>> =
        pp.nodes.iter().map(memberlist::model::member_state).collect::<Result<_, _>>().unwrap();
    let states: Vec<State> = members.iter().map(|m| m.state).collect();
    assert_eq!(states, [State::Alive, State::Suspect, State::Dead, State::Left]);
    assert_eq!((members[1].name, members[1].addr, members[1].meta), ("b", SocketAddr::new(V6, 7947), &b"m"[..]));
    let as_model = model::Message::PushPull(model::PushPull {
        kind: PushPullKind::Join,
        id: 9,
        from: "a",
        from_addr: at(7946),
        members,
        state: b"state",
    });
    assert_eq!(hex(&encoded(&memberlist::model::from_model(&as_model), Transport::Stream)), hex(go));

    // What memberlist cannot carry is dropped, and a short Vsn does not map.
    let broadcast =
        model::Message::<SocketAddr>::Broadcast(model::UserBroadcast { origin: "a", id: 3, key: b"k", payload: b"p" });
    assert_eq!(memberlist::model::from_model(&broadcast), Message::User(b"p".to_vec()));
    let short =
        Message::Alive(Alive { incarnation: 1, node: "a".into(), addr: V4, port: 1, meta: vec![], vsn: vec![1, 2, 3] });
    assert_eq!(memberlist::model::to_model::<SocketAddr>(&short), Err(DecodeError::Malformed));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---- properties ----

fn name() -> impl Strategy<Value = String> {
    // Long enough to cross the fixstr cutoff (32) now and then.
    "[a-z0-9.-]{0,40}"
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![any::<[u8; 4]>().prop_map(IpAddr::from), any::<[u8; 16]>().prop_map(IpAddr::from)]
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn state() -> impl Strategy<Value = NodeStateKind> {
    prop_oneof![
        Just(NodeStateKind::Alive),
        Just(NodeStateKind::Suspect),
        Just(NodeStateKind::Dead),
        Just(NodeStateKind::Left)
    ]
}

fn message() -> impl Strategy<Value = (Message, Transport)> {
    let transport = prop_oneof![Just(Transport::Packet), Just(Transport::Stream)];
    let source = || (prop::option::of(ip()), any::<u16>(), name());
    let node_state = (name(), ip(), any::<u16>(), bytes(300), any::<u32>(), state(), bytes(7)).prop_map(
        |(name, addr, port, meta, incarnation, state, vsn)| PushNodeState {
            name,
            addr,
            port,
            meta,
            incarnation,
            state,
            vsn,
        },
    );
    let msg = prop_oneof![
        (any::<u32>(), name(), source()).prop_map(|(seq_no, node, (source_addr, source_port, source_node))| {
            Message::Ping(Ping { seq_no, node, source_addr, source_port, source_node })
        }),
        (any::<u32>(), ip(), any::<u16>(), name(), any::<bool>(), source()).prop_map(
            |(seq_no, target, port, node, nack, (source_addr, source_port, source_node))| {
                Message::IndirectPing(IndirectPing {
                    seq_no,
                    target,
                    port,
                    node,
                    nack,
                    source_addr,
                    source_port,
                    source_node,
                })
            }
        ),
        (any::<u32>(), bytes(100)).prop_map(|(seq_no, payload)| Message::Ack(Ack { seq_no, payload })),
        any::<u32>().prop_map(|seq_no| Message::Nack(Nack { seq_no })),
        name().prop_map(|error| Message::Err(ErrResp { error })),
        (any::<u32>(), name(), name()).prop_map(|(incarnation, node, from)| Message::Suspect(Suspect {
            incarnation,
            node,
            from
        })),
        (any::<u32>(), name(), name()).prop_map(|(incarnation, node, from)| Message::Dead(Dead {
            incarnation,
            node,
            from
        })),
        (any::<u32>(), name(), ip(), any::<u16>(), bytes(512), bytes(7)).prop_map(
            |(incarnation, node, addr, port, meta, vsn)| Message::Alive(Alive {
                incarnation,
                node,
                addr,
                port,
                meta,
                vsn
            })
        ),
        bytes(70_000).prop_map(Message::User),
        (any::<bool>(), prop::collection::vec(node_state, 0..6), bytes(100))
            .prop_map(|(join, nodes, user_state)| Message::PushPull(PushPull { join, nodes, user_state })),
    ];
    (msg, transport)
}

/// Re-encode the body of `bytes` (one struct message) with an unknown key added and its map
/// entries in the order a permutation drawn from `seed` gives.
fn shuffled(bytes: &[u8], seed: u64) -> Option<Vec<u8>> {
    let mut r = msgpack::Reader::new(&bytes[1..]);
    let n = r.map_len().ok()?;
    let mut entries = Vec::new();
    for _ in 0..n {
        let start = r.position();
        r.skip().ok()?;
        r.skip().ok()?;
        entries.push(bytes[1 + start..1 + r.position()].to_vec());
    }
    let mut unknown = Vec::new();
    msgpack::write_str(&mut unknown, b"Zz");
    // A map holding an array of a negative int and a float: a shape no field has.
    unknown.extend_from_slice(&[0x81, 0xa1, b'x', 0x92, 0xff, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0]);
    entries.push(unknown);
    // Fisher-Yates on a small LCG seeded by proptest.
    let mut s = seed;
    for i in (1..entries.len()).rev() {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        entries.swap(i, (s >> 33) as usize % (i + 1));
    }
    let mut out = vec![bytes[0]];
    msgpack::write_map_len(&mut out, entries.len());
    entries.iter().for_each(|e| out.extend_from_slice(e));
    // The rest (a push-pull's node states and user state) stays as it was.
    out.extend_from_slice(r.rest());
    Some(out)
}

proptest! {
    #[test]
    fn messages_round_trip((msg, transport) in message()) {
        let limits = DecodeLimits { max_user_message: 1 << 20, ..limits() };
        let bytes = encoded(&msg, transport);
        prop_assert_eq!(Message::decode(&bytes, transport, &limits), Ok((msg, bytes.len())));
    }

    #[test]
    fn keys_in_any_order_and_unknown_keys_decode_the_same((msg, transport) in message(), seed in any::<u64>()) {
        if matches!(msg, Message::User(_)) {
            return Ok(());
        }
        let bytes = encoded(&msg, transport);
        let reordered = shuffled(&bytes, seed).expect("our own encoding parses");
        prop_assert_eq!(Message::decode(&reordered, transport, &limits()), Ok((msg, reordered.len())));
    }

    #[test]
    fn hostile_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), stream in any::<bool>()) {
        let transport = if stream { Transport::Stream } else { Transport::Packet };
        if let Ok((msg, used)) = Message::decode(&bytes, transport, &limits()) {
            prop_assert!(used <= bytes.len());
            // Whatever decodes re-encodes to something that decodes to the same message.
            let again = encoded(&msg, transport);
            prop_assert_eq!(Message::decode(&again, transport, &limits()).map(|(m, _)| m), Ok(msg));
        }
        let _ = memberlist::decode_compound(&bytes);
        let _ = memberlist::check_crc(&bytes);
    }
}
