//! The worked examples of docs/protocol.md, byte for byte.
//!
//! Every block between `<!-- wire-example: NAME -->` and `<!-- /wire-example -->` in
//! docs/protocol.md is read out of the document (one field per line: hex bytes, then two
//! spaces and an annotation), decoded with the public envelope, codec and frame API with every
//! field checked, and compared with the bytes the same messages encode to. The examples are
//! also fed to a real member, which must accept them and answer as the document says. A change
//! to the wire format without the document, or to the document without the code, fails here.
//!
//! The two behaviours the document once described differently from the code, the reconnect
//! and the join follow-up (section 5), are pinned here too, with the timings the document gives.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use swim_core::wire::{
    Ack, Alive, Codec, DecodeLimits, ExtendedAck, MemberState, Message, Ping, PostcardCodec, PushPull, PushPullKind,
    Suspect, envelope, frame,
};
use swim_core::{
    Address, Bytes, Capabilities, Config, DecodeError, Event, Identity, Instant, RefusalReason, State, Swim,
    TransmitKind, VersionRange, Versions,
};

const DOC: &str = include_str!("../../docs/protocol.md");
const OPEN: &str = "<!-- wire-example: ";
const CLOSE: &str = "<!-- /wire-example -->";

/// Every example the document holds; each is checked by a test below.
const EXAMPLES: [&str; 10] = [
    "ping-datagram",
    "ping-datagram-labelled",
    "ack-datagram-labelled",
    "buddy-ping-datagram",
    "ping-datagram-encrypted",
    "push-pull-frame",
    "push-pull-frame-labelled",
    "alive-datagram-v2",
    "extended-ping-datagram",
    "extended-ack-datagram",
];

/// The label of the labelled examples.
const LABEL: &[u8] = b"prod";

/// The bytes of the example called `name`.
fn example(name: &str) -> Vec<u8> {
    let marker = format!("{OPEN}{name} -->");
    let start = DOC.find(&marker).unwrap_or_else(|| panic!("docs/protocol.md has no example {name}")) + marker.len();
    let len = DOC[start..].find(CLOSE).unwrap_or_else(|| panic!("example {name} is not closed"));
    let mut lines = DOC[start..start + len].lines().map(str::trim_end).filter(|l| !l.is_empty());
    assert_eq!(lines.next(), Some("```text"), "example {name} must be one ```text block");
    let mut bytes = Vec::new();
    let mut closed = false;
    for line in lines.by_ref() {
        if line == "```" {
            closed = true;
            break;
        }
        // Hex bytes separated by single spaces, then (after two spaces) the annotation.
        let hex = line.split("  ").next().unwrap_or_default();
        for token in hex.split(' ') {
            let is_hex = token.len() == 2 && token.bytes().all(|c| c.is_ascii_hexdigit());
            let byte = is_hex.then(|| u8::from_str_radix(token, 16).ok()).flatten();
            bytes.push(byte.unwrap_or_else(|| panic!("example {name}: {token:?} is not a hex byte in {line:?}")));
        }
    }
    assert!(closed, "example {name}: its block is not closed");
    assert_eq!(lines.next(), None, "example {name}: text after its block");
    bytes
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn a() -> SocketAddr {
    addr("10.0.0.1:7946")
}

fn b() -> SocketAddr {
    addr("10.0.0.2:7946")
}

fn limits() -> DecodeLimits {
    DecodeLimits::from_config(&Config::lan())
}

/// Every message of a packet body, in order.
fn decode<A: Address>(messages: &[u8]) -> Vec<Message<'_, A>> {
    let mut out = Vec::new();
    let n = Codec::<A>::decode(&PostcardCodec, messages, &limits(), &mut |m| out.push(m))
        .unwrap_or_else(|e| panic!("{e:?} decoding {messages:02x?}"));
    assert_eq!(n, out.len());
    out
}

/// A plaintext packet with `label` holding `messages`.
fn encode<A: Address>(label: &[u8], messages: &[Message<'_, A>]) -> Vec<u8> {
    let mut out = Vec::new();
    envelope::begin(&mut out, label, false);
    for m in messages {
        Codec::<A>::encode(&PostcardCodec, m, &mut out);
    }
    out
}

/// Split a plaintext packet, checking its header.
fn open<'p>(packet: &'p [u8], label: &[u8]) -> &'p [u8] {
    let (header, body) = envelope::parse(packet).unwrap_or_else(|e| panic!("{e:?} parsing {packet:02x?}"));
    assert_eq!(header.label, label);
    assert!(!header.encrypted);
    let header_len = if label.is_empty() { 2 } else { 3 + label.len() };
    assert_eq!(header.len, header_len);
    assert_eq!(&packet[header.len..], body);
    body
}

/// Member `name` at 10.0.0.2:7946 with `label`, LAN settings.
fn member(name: &str, label: &'static [u8]) -> Swim<SocketAddr> {
    let config = Config { label: Bytes::from_static(label), ..Config::lan() };
    Swim::new(config, Identity::new(name, b()), 1, Instant::ZERO).unwrap_or_else(|e| panic!("{e:?}"))
}

fn ping() -> Message<'static, SocketAddr> {
    Message::Ping(Ping { seq: 300, target: "b" })
}

/// Protocol `1..=2` preferring 2, application `0..=0`: an upgraded member.
fn v2() -> Versions {
    Versions { protocol: VersionRange::new(1, 2, 2), ..Versions::DEFAULT }
}

fn push_pull() -> Message<'static, SocketAddr> {
    Message::PushPull(PushPull {
        kind: PushPullKind::Periodic,
        id: 7,
        from: "a",
        from_addr: a(),
        members: vec![
            MemberState {
                name: "a",
                addr: a(),
                meta: b"dc1",
                incarnation: 2,
                state: State::Alive,
                versions: Versions::DEFAULT,
                capabilities: Capabilities::NONE,
            },
            MemberState {
                name: "c",
                addr: addr("[fd00::3]:7946"),
                meta: b"",
                incarnation: 5,
                state: State::Suspect,
                versions: v2(),
                capabilities: Capabilities::NONE.with_compression(true),
            },
        ],
        state: b"",
    })
}

#[test]
fn every_example_in_the_document_is_checked() {
    let found: BTreeSet<&str> =
        DOC.match_indices(OPEN).filter_map(|(i, _)| DOC[i + OPEN.len()..].split(" -->").next()).collect();
    assert_eq!(found, EXAMPLES.into_iter().collect::<BTreeSet<_>>());
    assert_eq!(DOC.matches(OPEN).count(), EXAMPLES.len(), "an example name is used twice");
    assert_eq!(DOC.matches(CLOSE).count(), EXAMPLES.len());
}

#[test]
fn ping_datagrams_decode_and_encode_as_documented() {
    let plain = example("ping-datagram");
    let labelled = example("ping-datagram-labelled");
    assert_eq!((plain.len(), labelled.len()), (8, 13));
    for (bytes, label) in [(&plain, &b""[..]), (&labelled, LABEL)] {
        let body = open(bytes, label);
        assert_eq!(decode(body), [ping()]);
        assert_eq!(&encode(label, &[ping()]), bytes);
    }
    // The label changes the header only.
    assert_eq!(open(&plain, b""), open(&labelled, LABEL));
}

#[test]
fn the_documented_ack_decodes_and_encodes() {
    let bytes = example("ack-datagram-labelled");
    let ack = || Message::<SocketAddr>::Ack(Ack { seq: 300 });
    assert_eq!(decode(open(&bytes, LABEL)), [ack()]);
    assert_eq!(encode(LABEL, &[ack()]), bytes);
}

#[test]
fn a_member_answers_the_documented_ping_with_the_documented_ack() {
    let now = Instant::from_secs(1);
    let mut buf = Vec::new();
    let mut m = member("b", LABEL);
    assert_eq!(m.handle_datagram(now, a(), &example("ping-datagram-labelled")), Ok(()));
    let t = m.poll_transmit(&mut buf).expect("the ack");
    assert_eq!((t.destination, t.kind, t.len), (a(), TransmitKind::Datagram, buf.len()));
    assert_eq!(buf, example("ack-datagram-labelled"));
    assert!(m.poll_transmit(&mut buf).is_none());

    // Without a label, the same exchange without the label's bytes.
    let mut m = member("b", b"");
    assert_eq!(m.handle_datagram(now, a(), &example("ping-datagram")), Ok(()));
    assert!(m.poll_transmit(&mut buf).is_some());
    assert_eq!(decode::<SocketAddr>(open(&buf, b"")), [Message::Ack(Ack { seq: 300 })]);

    // A label on one side only, or a ping for another name, is rejected.
    let mut m = member("b", b"");
    assert_eq!(m.handle_datagram(now, a(), &example("ping-datagram-labelled")), Err(DecodeError::LabelMismatch));
    let mut m = member("b", LABEL);
    assert_eq!(m.handle_datagram(now, a(), &example("ping-datagram")), Err(DecodeError::LabelMismatch));
    let mut m = member("z", b"");
    assert_eq!(m.handle_datagram(now, a(), &example("ping-datagram")), Err(DecodeError::Misdirected));
    assert!(m.poll_transmit(&mut buf).is_none());
}

fn extended_ack() -> Message<'static, SocketAddr> {
    let c = swim_core::Coordinate::from_parts(&[0.0078125, -0.001953125], 0.25, 0.0, 0.0001220703125).unwrap();
    Message::ExtendedAck(ExtendedAck { seq: 300, payload: b"r1", coordinate: Some(c) })
}

#[test]
fn the_documented_extended_ping_and_ack_decode_and_encode() {
    let ping_bytes = example("extended-ping-datagram");
    let ext = || Message::<SocketAddr>::ExtendedPing(Ping { seq: 300, target: "b" });
    assert_eq!(ping_bytes.len(), 8);
    assert_eq!(decode(open(&ping_bytes, b"")), [ext()]);
    assert_eq!(encode(b"", &[ext()]), ping_bytes);
    // The body is the plain ping's; only the tag differs.
    assert_eq!(open(&ping_bytes, b"")[1..], open(&example("ping-datagram"), b"")[1..]);
    let ack_bytes = example("extended-ack-datagram");
    assert_eq!(ack_bytes.len(), 50);
    assert_eq!(decode(open(&ack_bytes, b"")), [extended_ack()]);
    assert_eq!(encode(b"", &[extended_ack()]), ack_bytes);
}

/// Hooks whose ack payload is `r1`.
struct R1;

impl swim_core::Hooks<SocketAddr> for R1 {
    fn ack_payload(&mut self) -> Bytes {
        Bytes::from_static(b"r1")
    }
}

#[test]
fn a_member_answers_the_documented_extended_ping_as_documented() {
    let now = Instant::from_secs(1);
    let mut buf = Vec::new();
    // Without a payload or coordinates: the plain ack of the document.
    let mut m = member("b", b"");
    assert_eq!(m.handle_datagram(now, a(), &example("extended-ping-datagram")), Ok(()));
    assert!(m.poll_transmit(&mut buf).is_some());
    assert_eq!(decode::<SocketAddr>(open(&buf, b"")), [Message::Ack(Ack { seq: 300 })]);
    // With a payload: an extended ack carrying it (no coordinate: they are off).
    let config = Config { ack_payloads: true, ..Config::lan() };
    let mut m = Swim::new(config, Identity::new("b", b()), 1, Instant::ZERO).unwrap();
    m.set_hooks(R1);
    assert_eq!(m.handle_datagram(now, a(), &example("extended-ping-datagram")), Ok(()));
    assert!(m.poll_transmit(&mut buf).is_some());
    let ack = Message::ExtendedAck(ExtendedAck { seq: 300, payload: b"r1", coordinate: None });
    assert_eq!(decode::<SocketAddr>(open(&buf, b"")), [ack]);
    // A ping naming nobody is answered by whoever listens.
    let mut m = member("b", b"");
    let anyone = encode(b"", &[Message::<SocketAddr>::Ping(Ping { seq: 7, target: "" })]);
    assert_eq!(m.handle_datagram(now, a(), &anyone), Ok(()));
    assert!(m.poll_transmit(&mut buf).is_some());
    assert_eq!(decode::<SocketAddr>(open(&buf, b"")), [Message::Ack(Ack { seq: 7 })]);
}

#[test]
fn push_pull_frames_decode_and_encode_as_documented() {
    let max = Config::lan().limits.max_stream_message_size;
    let plain = example("push-pull-frame");
    let labelled = example("push-pull-frame-labelled");
    assert_eq!((plain.len(), labelled.len()), (4 + 69 + 1, 4 + 74 + 1));
    let mut bodies = Vec::new();
    for (bytes, label) in [(&plain, &b""[..]), (&labelled, LABEL)] {
        let header: [u8; frame::HEADER_LEN] = bytes[..frame::HEADER_LEN].try_into().expect("4 bytes");
        assert_eq!(frame::parse_header(header, max), Ok(bytes.len() - frame::HEADER_LEN));
        let mut frames = frame::FrameDecoder::new(max);
        frames.push(bytes);
        let packet = frames.next_frame().expect("within the limit").expect("one whole frame");
        assert_eq!(frames.buffered(), 0);
        let body = open(&packet, label).to_vec();
        assert_eq!(decode(&body), [push_pull()]);
        let mut framed = Vec::new();
        frame::encode(&encode(label, &[push_pull()]), &mut framed);
        assert_eq!(&framed, bytes);
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1], "the label changes the header only");
}

#[test]
fn a_member_merges_the_documented_push_pull_and_replies_to_from_addr() {
    let now = Instant::from_secs(1);
    let max = Config::lan().limits.max_stream_message_size;
    let ephemeral = addr("10.0.0.1:51234");
    for (name, label) in [("push-pull-frame", &b""[..]), ("push-pull-frame-labelled", LABEL)] {
        let mut frames = frame::FrameDecoder::new(max);
        frames.push(&example(name));
        let packet = frames.next_frame().expect("within the limit").expect("one whole frame");
        let mut m = member("b", if label.is_empty() { b"" } else { LABEL });
        assert_eq!(m.handle_stream(now, ephemeral, &packet), Ok(()));

        let got = m.member("a").expect("a merged");
        assert_eq!((got.addr, got.incarnation, got.state, &got.meta[..]), (a(), 2, State::Alive, &b"dc1"[..]));
        assert!(m.member("c").is_none(), "a suspicion of an unknown member is ignored");

        let mut buf = Vec::new();
        let t = m.poll_transmit(&mut buf).expect("the reply");
        assert_eq!((t.destination, t.kind), (a(), TransmitKind::Stream));
        let messages = decode(open(&buf, label));
        let [Message::PushPull(reply)] = &messages[..] else { panic!("not one push-pull: {messages:?}") };
        assert_eq!((reply.kind, reply.id, reply.from, reply.from_addr), (PushPullKind::Reply, 7, "b", b()));
        let members: Vec<_> = reply.members.iter().map(|s| (s.name, s.addr, s.meta, s.incarnation, s.state)).collect();
        assert_eq!(members, [("b", b(), &b""[..], 0, State::Alive), ("a", a(), &b"dc1"[..], 2, State::Alive)]);
        assert!(m.poll_transmit(&mut buf).is_none());
    }
}

fn alive_v2() -> Message<'static, SocketAddr> {
    Message::Alive(Alive {
        incarnation: 2,
        name: "a",
        addr: a(),
        meta: b"dc1",
        versions: v2(),
        capabilities: Capabilities::NONE.with_compression(true),
    })
}

/// Section 2, "Versions", and the alive example of section 8: the envelope carries the
/// negotiated version, the alive record both ranges and the capabilities.
#[test]
fn the_documented_v2_alive_decodes_encodes_and_is_read_only_by_members_that_speak_it() {
    let bytes = example("alive-datagram-v2");
    assert_eq!(bytes.len(), 25);
    let (header, body) = envelope::parse(&bytes).expect("an envelope");
    assert_eq!((header.version, header.label, header.encrypted), (2, &b""[..], false));
    assert_eq!(decode(body), [alive_v2()]);
    let mut out = Vec::new();
    envelope::begin_versioned(&mut out, 2, b"", false);
    Codec::<SocketAddr>::encode_versioned(&PostcardCodec, 2, &alive_v2(), &mut out);
    assert_eq!(out, bytes);

    let now = Instant::from_secs(1);
    let with = |versions: Versions| {
        let config = Config { versions, ..Config::lan() };
        Swim::new(config, Identity::new("b", b()), 1, Instant::ZERO).expect("valid")
    };
    // A member that reads 1..=2 takes it, and holds what `a` speaks.
    let mut m = with(v2());
    assert_eq!(m.handle_datagram(now, a(), &bytes), Ok(()));
    assert_eq!(m.versions_of("a"), Some(v2()));
    assert!(m.capabilities_of("a").is_some_and(|c| c.compression()));
    assert!(matches!(m.poll_event(), Some(Event::MemberJoined(j)) if j.name == "a"));
    // One that reads only 1 rejects the whole datagram.
    let mut m = with(Versions::DEFAULT);
    assert_eq!(m.handle_datagram(now, a(), &bytes), Err(DecodeError::UnsupportedVersion));
    assert_eq!(m.stats().decode_errors.get(DecodeError::UnsupportedVersion), 1);
    assert!(m.member("a").is_none());
    // One that reads 2 but whose application range shares nothing with 0..=0 refuses `a`.
    let other_app = Versions { application: VersionRange::new(1, 2, 2), ..v2() };
    let mut m = with(other_app);
    assert_eq!(m.handle_datagram(now, a(), &bytes), Ok(()));
    assert!(m.member("a").is_none(), "a refused member is not stored");
    assert_eq!(m.stats().versions_refused, 1);
    let refused = RefusalReason::Version { theirs: v2(), ours: other_app };
    assert_eq!(m.poll_event(), Some(Event::MemberRefused { name: "a".into(), addr: a(), reason: refused }));
    let mut buf = Vec::new();
    assert!(m.poll_transmit(&mut buf).is_none(), "and not gossiped");
}

/// The encrypted example's layout, which holds with or without the `encryption` feature.
#[test]
fn the_documented_encrypted_ping_has_the_documented_layout() {
    let bytes = example("ping-datagram-encrypted");
    let plain = example("ping-datagram-labelled");
    let messages = open(&plain, LABEL);
    let (header, payload) = envelope::parse(&bytes).expect("an envelope");
    assert_eq!((header.label, header.encrypted, header.len), (LABEL, true, 3 + LABEL.len()));
    assert_eq!(bytes[1], envelope::FLAG_ENCRYPTED | envelope::FLAG_LABELLED);
    assert_eq!(payload.len(), 1 + 12 + messages.len() + 16);
    assert_eq!(payload[0], 1, "cipher 1: AES-256-GCM");
    assert_eq!(&payload[1..13], &NONCE, "the nonce: prefix, then counter 0");
}

/// The nonce of the encrypted example: the keyring's prefix, then its counter (0).
const NONCE: [u8; 12] = [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0, 0, 0, 0];

#[cfg(feature = "encryption")]
mod encrypted {
    use super::*;
    use swim_core::security::{Cipher, Key, Keyring};

    /// The example's key: the bytes 0 to 31.
    fn key() -> Key {
        Key::from_bytes(core::array::from_fn(|i| i as u8))
    }

    fn ring(entropy: [u8; 8]) -> Keyring {
        Keyring::new(Cipher::Aes256Gcm, key(), entropy)
    }

    #[test]
    fn the_documented_encrypted_ping_seals_and_opens() {
        let bytes = example("ping-datagram-encrypted");
        let plain = example("ping-datagram-labelled");
        let messages = open(&plain, LABEL);
        assert_eq!(Cipher::Aes256Gcm.id(), 1);
        let prefix: [u8; 8] = NONCE[..8].try_into().expect("8 bytes");
        let mut sealer = ring(prefix);
        assert_eq!(sealer.seal_packet(LABEL, messages), bytes);
        let mut out = Vec::new();
        assert!(ring([0; 8]).open_packet(&bytes, &mut out));
        assert_eq!(out, messages);
        // The label is associated data and the nonce an input: neither can change.
        for i in [3, 6, 8, 19] {
            let mut bad = bytes.clone();
            bad[i] ^= 0x20;
            assert!(!ring([0; 8]).open_packet(&bad, &mut out), "byte {i} is not authenticated");
        }
    }

    #[test]
    fn a_member_with_the_key_answers_the_documented_encrypted_ping() {
        let now = Instant::from_secs(1);
        let mut m = member("b", LABEL);
        m.set_keyring(Some(ring([9; 8])));
        assert_eq!(m.handle_datagram(now, a(), &example("ping-datagram-encrypted")), Ok(()));
        let mut buf = Vec::new();
        let t = m.poll_transmit(&mut buf).expect("the ack");
        assert_eq!((t.destination, t.kind), (a(), TransmitKind::Datagram));
        let mut out = Vec::new();
        assert!(ring([0; 8]).open_packet(&buf, &mut out));
        assert_eq!(out, open(&example("ack-datagram-labelled"), LABEL));

        // Another key, or no keyring, cannot open it.
        let mut m = member("b", LABEL);
        m.set_keyring(Some(Keyring::new(Cipher::Aes256Gcm, Key::from_bytes([7; 32]), [9; 8])));
        assert_eq!(m.handle_datagram(now, a(), &example("ping-datagram-encrypted")), Err(DecodeError::Decrypt));
        let mut m = member("b", LABEL);
        assert_eq!(m.handle_datagram(now, a(), &example("ping-datagram-encrypted")), Err(DecodeError::Decrypt));
    }
}

/// One member driven alone, with `u32` addresses; the test plays every other member by hand.
struct Solo {
    m: Swim<u32>,
    now: Instant,
    buf: Vec<u8>,
}

/// A transmit: when, where to, datagram or stream, the packet.
type Sent = (Instant, u32, TransmitKind, Vec<u8>);

impl Solo {
    fn new(seed: u64) -> Self {
        let m = Swim::new(Config::lan(), Identity::new("a", 1u32), seed, Instant::ZERO).expect("valid");
        Solo { m, now: Instant::ZERO, buf: Vec::new() }
    }

    fn drain(&mut self) -> Vec<Sent> {
        let mut out = Vec::new();
        while let Some(t) = self.m.poll_transmit(&mut self.buf) {
            out.push((self.now, t.destination, t.kind, self.buf.clone()));
        }
        out
    }

    /// Jump to the next deadline if it is before `end`, handle it, and return what was sent.
    fn step(&mut self, end: Instant) -> Option<Vec<Sent>> {
        let t = self.m.poll_timeout();
        if t >= end {
            return None;
        }
        self.now = self.now.max(t);
        self.m.handle_timeout(self.now);
        Some(self.drain())
    }

    /// Deliver `messages` from `from`, as a datagram or a stream message.
    fn deliver(&mut self, from: u32, kind: TransmitKind, messages: &[Message<'_, u32>]) -> Vec<Sent> {
        let packet = encode(b"", messages);
        let r = match kind {
            TransmitKind::Datagram => self.m.handle_datagram(self.now, from, &packet),
            TransmitKind::Stream => self.m.handle_stream(self.now, from, &packet),
        };
        assert_eq!(r, Ok(()));
        self.drain()
    }

    /// A push-pull reply from member `name` at `addr`, holding only itself.
    fn reply(&mut self, id: u32, name: &str, addr: u32) -> Vec<Sent> {
        self.push_pull_from(PushPullKind::JoinReply, id, name, addr)
    }

    /// A push-pull of `kind` from member `name` at `addr`, holding only itself.
    fn push_pull_from(&mut self, kind: PushPullKind, id: u32, name: &str, addr: u32) -> Vec<Sent> {
        let (versions, capabilities) = (Versions::DEFAULT, Capabilities::NONE);
        let me = MemberState { name, addr, meta: b"", incarnation: 0, state: State::Alive, versions, capabilities };
        let pp = PushPull { kind, id, from: name, from_addr: addr, members: vec![me], state: b"" };
        self.deliver(addr, TransmitKind::Stream, &[Message::PushPull(pp)])
    }
}

/// The sequence number of the ping in `packet`, and whether a message came before it.
fn ping_in(packet: &[u8]) -> Option<(u32, bool)> {
    let messages = decode::<u32>(open(packet, b""));
    let i = messages.iter().position(|m| matches!(m, Message::Ping(_)))?;
    let Message::Ping(p) = &messages[i] else { unreachable!("found above") };
    Some((p.seq, i > 0))
}

/// The kind and id of the push-pull in `packet`.
fn push_pull_in(packet: &[u8]) -> Option<(PushPullKind, u32)> {
    match &decode::<u32>(open(packet, b""))[..] {
        [Message::PushPull(p)] => Some((p.kind, p.id)),
        _ => None,
    }
}

const SECOND: Duration = Duration::from_secs(1);

fn at(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).expect("no overflow")
}

/// Section 5, "Reconnect": a dead member gets a ping, first in `[interval, 2 × interval)` and
/// then every interval, never a push-pull; a periodic push-pull follows only the ack of the
/// reconnect ping in flight.
#[test]
fn reconnect_pings_a_dead_member_and_push_pulls_only_after_its_ack() {
    let interval = Config::lan().reconnect_interval.expect("on in the LAN preset");
    for seed in 1..=8 {
        let mut s = Solo::new(seed);
        // Member d (address 4) introduces itself, then never answers.
        let sent = s.push_pull_from(PushPullKind::Periodic, 1, "d", 4);
        assert_eq!(sent.len(), 1, "the reply");
        // Reconnect pings: pings to d while a holds it dead.
        let mut pings = Vec::new();
        // The first reconnect ping comes in [interval, 2 × interval), the second one interval
        // later: exactly two before 3 × interval.
        let end = Instant::ZERO + 3 * interval;
        while let Some(sent) = s.step(end) {
            for (now, to, kind, packet) in sent {
                assert!(to == 4, "only d is known");
                assert_eq!(kind, TransmitKind::Datagram, "no stream to d before an ack (seed {seed})");
                let dead = s.m.member("d").is_some_and(|m| m.state == State::Dead);
                if let (true, Some((seq, buddy))) = (dead, ping_in(&packet)) {
                    assert!(!buddy, "a reconnect ping carries no suspicion first");
                    pings.push((now, seq));
                }
            }
        }
        assert_eq!(pings.len(), 2, "seed {seed}: {pings:?}");
        let (first, second) = (pings[0], pings[1]);
        assert!(first.0 >= Instant::ZERO + interval && first.0 < Instant::ZERO + 2 * interval, "seed {seed}");
        assert_eq!(second.0, at(first.0, interval), "then every interval");
        // The ack of the first ping is stale: the second replaced it.
        assert!(s.deliver(4, TransmitKind::Datagram, &[Message::Ack(Ack { seq: first.1 })]).is_empty());
        // The ack of the ping in flight brings a periodic push-pull to d, at once.
        let sent = s.deliver(4, TransmitKind::Datagram, &[Message::Ack(Ack { seq: second.1 })]);
        let [(_, 4, TransmitKind::Stream, packet)] = &sent[..] else { panic!("seed {seed}: {sent:?}") };
        assert!(matches!(push_pull_in(packet), Some((PushPullKind::Periodic, _))));
        // Once answered, the reconnect is over: another ack brings nothing.
        assert!(s.deliver(4, TransmitKind::Datagram, &[Message::Ack(Ack { seq: second.1 })]).is_empty());
    }
}

/// Section 5, "Follow-up": a join that reached a seed brings the next periodic push-pull
/// forward into `[h, 2h)` with `h = push_pull_interval / 16`; one that reached none does not.
#[test]
fn a_successful_join_brings_the_next_push_pull_forward() {
    let interval = Config::lan().push_pull_interval.expect("on in the LAN preset");
    let h = interval / 16;
    for seed in 1..=8 {
        let mut s = Solo::new(seed);
        // Run until the next periodic push-pull, acking every ping to a live member (b at 2,
        // c at 3) and answering joins; returns its time.
        let periodic = |s: &mut Solo, until: Instant| -> Instant {
            while let Some(sent) = s.step(until) {
                let mut found = None;
                for (now, to, kind, packet) in sent {
                    if let Some((seq, _)) = ping_in(&packet) {
                        assert!(s.deliver(to, TransmitKind::Datagram, &[Message::Ack(Ack { seq })]).is_empty());
                    }
                    if kind == TransmitKind::Stream && matches!(push_pull_in(&packet), Some((PushPullKind::Join, _))) {
                        // A retry of the join whose seed is unreachable (`Config::join_retry`):
                        // it fails again and brings nothing forward either.
                        assert_eq!(to, 5, "only the failed join is retried");
                        s.m.handle_stream_failed(s.now, &to);
                        continue;
                    }
                    if kind == TransmitKind::Stream {
                        assert!(to == 2 || to == 3, "to a live member");
                        assert!(matches!(push_pull_in(&packet), Some((PushPullKind::Periodic, _))));
                        found = Some(now);
                    }
                }
                if let Some(t) = found {
                    return t;
                }
            }
            panic!("seed {seed}: no periodic push-pull before {until:?}")
        };
        let join = |s: &mut Solo, seed_addr: u32| -> u32 {
            s.m.join(s.now, [seed_addr]).expect("accepted");
            let sent = s.drain();
            let [(_, to, TransmitKind::Stream, packet)] = &sent[..] else { panic!("{sent:?}") };
            assert_eq!(*to, seed_addr);
            let Some((PushPullKind::Join, id)) = push_pull_in(packet) else { panic!("not a join request") };
            id
        };
        // Join through b; then the first periodic push-pull, after which the period restarts.
        let id = join(&mut s, 2);
        assert!(s.reply(id, "b", 2).is_empty());
        let t1 = periodic(&mut s, Instant::ZERO + interval);
        // A join through c that c answers: the next one comes h to 2h later, not a period later.
        let id = join(&mut s, 3);
        assert!(s.reply(id, "c", 3).is_empty());
        let t2 = periodic(&mut s, at(t1, interval));
        assert!(t2 >= at(t1, h) && t2 < at(t1, 2 * h), "seed {seed}: {t1:?} then {t2:?}");
        // A join whose only seed fails brings nothing forward: the period resumes from t2.
        let _ = join(&mut s, 5);
        s.m.handle_stream_failed(s.now, &5);
        let t3 = periodic(&mut s, at(t2, interval + SECOND));
        assert_eq!(t3, at(t2, interval), "seed {seed}");
    }
}

/// Section 8, "Several messages in one datagram": a member that holds `b` as suspect probes it
/// with the suspicion first, then the ping, then its piggybacked updates.
#[test]
fn a_member_that_suspects_b_sends_the_documented_buddy_ping() {
    let bytes = example("buddy-ping-datagram");
    let suspect = || Message::<u32>::Suspect(Suspect { incarnation: 0, name: "b", from: "a" });
    let expected = [suspect(), Message::Ping(Ping { seq: 2, target: "b" }), suspect()];
    assert_eq!(decode::<u32>(open(&bytes, b"")), expected);
    assert_eq!(encode(b"", &expected), bytes);
    // The datagram carries no address, so a member with `u32` addresses sends the same bytes.
    for seed in 1..=4 {
        let mut s = Solo::new(seed);
        // b (address 2) introduces itself, then never answers.
        assert_eq!(s.push_pull_from(PushPullKind::Periodic, 1, "b", 2).len(), 1, "the reply");
        let buddy = loop {
            let sent = s.step(Instant::from_secs(5)).expect("a buddy ping within 5 s");
            let found = sent.into_iter().find(|(_, _, _, p)| matches!(ping_in(p), Some((_, true))));
            if let Some((_, to, kind, packet)) = found {
                assert_eq!((to, kind), (2, TransmitKind::Datagram));
                break packet;
            }
        };
        assert_eq!(s.m.member("b").map(|m| m.state), Some(State::Suspect));
        assert_eq!(buddy, bytes, "seed {seed}");
    }
}
