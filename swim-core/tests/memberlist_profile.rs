//! The memberlist wire profile in virtual time: members built with `Swim::with_wire` and
//! `Config::memberlist_wire`, connected by a small in-memory network that honours stream
//! roles (a request's reply comes back on its connection). Every datagram is checked to be
//! memberlist's bytes and to fit the packet budget.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use proptest::prelude::*;
use swim_core::wire::memberlist::message::{self as ml, Transport};
use swim_core::wire::memberlist::profile::{self, LABEL_MSG};
use swim_core::wire::{DecodeLimits, frame::StreamFraming};
use swim_core::{
    Config, ConnectionId, DecodeError, Event, Identity, Instant, NewError, State, StreamRole, Swim, TransmitKind,
};

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1 + i as u8], 7946))
}

fn config() -> Config {
    Config::local().memberlist_wire()
}

fn member(i: usize, config: Config) -> Swim<SocketAddr> {
    let id = Identity::new(format!("m{i}").as_str(), addr(i)).with_meta(format!("meta{i}"));
    Swim::with_wire(config, id, 7 + i as u64, Instant::ZERO).expect("a memberlist-profile member")
}

/// How a message in flight is handed over.
#[derive(Clone, Copy, Debug)]
enum Delivery {
    Datagram,
    /// A one-way stream message.
    Stream,
    /// A request: the receiver gets a new connection, remembered for the reply.
    Request(swim_core::RequestId),
    /// The reply to the requester's request.
    Reply(swim_core::RequestId),
}

/// Members on a network that delivers everything after 1 ms, except to and from `down`
/// members. A request's connection is remembered until its reply.
struct Net {
    nodes: Vec<Swim<SocketAddr>>,
    down: Vec<bool>,
    now: Instant,
    /// In flight: delivery time, from, to, how, bytes.
    wire: VecDeque<(Instant, usize, usize, Delivery, Vec<u8>)>,
    /// Inbound connection → (requester, its request).
    conns: HashMap<u64, (usize, swim_core::RequestId)>,
    next_conn: u64,
    events: Vec<Vec<Event<SocketAddr>>>,
    budget: usize,
    datagrams: u64,
    /// Whether datagrams are encrypted (then not decoded here).
    encrypted: bool,
    /// Whether datagrams carry memberlist's CRC (protocol 5).
    crc: bool,
    /// Datagrams sent LZW-compressed.
    compressed: u64,
    /// Members whose inbound datagrams are dropped (their streams still arrive).
    deaf_udp: Vec<bool>,
}

impl Net {
    fn new(nodes: Vec<Swim<SocketAddr>>) -> Self {
        let n = nodes.len();
        Net {
            nodes,
            down: vec![false; n],
            now: Instant::ZERO,
            wire: VecDeque::new(),
            conns: HashMap::new(),
            next_conn: 0,
            events: vec![Vec::new(); n],
            budget: config().packet_budget,
            datagrams: 0,
            encrypted: false,
            crc: false,
            compressed: 0,
            deaf_udp: vec![false; n],
        }
    }

    fn index(&self, a: SocketAddr) -> Option<usize> {
        (0..self.nodes.len()).find(|&i| addr(i) == a)
    }

    fn drain(&mut self, i: usize) {
        let mut buf = Vec::new();
        while let Some(t) = self.nodes[i].poll_transmit(&mut buf) {
            let bytes = buf[..t.len].to_vec();
            if t.kind == TransmitKind::Datagram {
                self.datagrams += 1;
                assert!(bytes.len() <= self.budget, "a datagram of {} bytes, budget {}", bytes.len(), self.budget);
                if !self.encrypted {
                    let mut msgs = Vec::new();
                    let l = DecodeLimits::from_config(&config());
                    let (_, plain) = profile::strip_label(&bytes).expect("a label header, or none");
                    assert_eq!(plain[0] == 12, self.crc, "a CRC exactly at protocol 5");
                    let plain = swim_core::wire::memberlist::check_crc(plain).expect("a CRC that matches");
                    self.compressed += u64::from(plain[0] == 9);
                    profile::packet_messages(plain, &l, &mut msgs).expect("every datagram is memberlist's bytes");
                }
            }
            let (to, how) = match (t.kind, t.stream) {
                (_, StreamRole::Reply(c)) => match self.conns.remove(&c.0) {
                    Some((req, rid)) => (req, Delivery::Reply(rid)),
                    None => continue,
                },
                (kind, role) => {
                    let Some(to) = self.index(t.destination) else { continue };
                    match (kind, role) {
                        (TransmitKind::Datagram, _) => (to, Delivery::Datagram),
                        (_, StreamRole::Request(rid)) => (to, Delivery::Request(rid)),
                        _ => (to, Delivery::Stream),
                    }
                }
            };
            self.wire.push_back((self.now + Duration::from_millis(1), i, to, how, bytes));
        }
        while let Some(e) = self.nodes[i].poll_event() {
            self.events[i].push(e);
        }
    }

    fn run_until(&mut self, end: Instant) {
        for i in 0..self.nodes.len() {
            self.drain(i);
        }
        loop {
            let timer =
                (0..self.nodes.len()).filter(|&i| !self.down[i]).map(|i| (self.nodes[i].poll_timeout(), i)).min();
            let packet = self.wire.front().map(|w| w.0);
            let next = match (timer, packet) {
                (Some((t, _)), Some(p)) => t.min(p),
                (Some((t, _)), None) => t,
                (None, Some(p)) => p,
                (None, None) => break,
            };
            if next > end {
                break;
            }
            self.now = next;
            if packet == Some(next) {
                let (_, from, to, how, bytes) = self.wire.pop_front().expect("a packet is due");
                if self.down[from] || self.down[to] {
                    if matches!(how, Delivery::Request(_)) && !self.down[from] {
                        self.nodes[from].handle_stream_failed(next, &addr(to));
                        self.drain(from);
                    }
                    continue;
                }
                if matches!(how, Delivery::Datagram) && self.deaf_udp[to] {
                    continue;
                }
                let src = addr(from);
                let c = ConnectionId(self.next_conn);
                self.next_conn += 1;
                let node = &mut self.nodes[to];
                let _ = match how {
                    Delivery::Datagram => node.handle_datagram(next, src, &bytes),
                    Delivery::Reply(rid) => node.handle_stream_reply(next, src, rid, &bytes),
                    Delivery::Request(rid) => {
                        self.conns.insert(c.0, (from, rid));
                        node.handle_stream_on(next, src, c, &bytes)
                    }
                    Delivery::Stream => node.handle_stream_on(next, src, c, &bytes),
                };
                self.drain(to);
            } else if let Some((_, i)) = timer {
                self.nodes[i].handle_timeout(next);
                self.drain(i);
            }
        }
        self.now = end;
    }
}

fn cluster(n: usize, config: impl Fn(usize) -> Config) -> Net {
    let mut net = Net::new((0..n).map(|i| member(i, config(i))).collect());
    for i in 1..n {
        net.nodes[i].join(Instant::ZERO, [addr(0)]).expect("join");
    }
    net
}

fn alive_names(s: &Swim<SocketAddr>) -> Vec<String> {
    let mut v: Vec<String> = s.members().filter(|m| m.state == State::Alive).map(|m| m.name.to_string()).collect();
    v.sort();
    v
}

#[test]
fn members_form_detect_a_crash_and_see_a_leave_in_the_memberlist_profile() {
    let n = 8;
    let mut net = cluster(n, |_| config());
    net.run_until(Instant::ZERO + Duration::from_secs(10));
    let all: Vec<String> = {
        let mut v: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
        v.sort();
        v
    };
    for i in 0..n {
        assert_eq!(alive_names(&net.nodes[i]), all, "m{i}'s view");
        assert_eq!(net.nodes[i].member("m3").map(|m| &m.meta[..]), Some(&b"meta3"[..]));
    }
    // A crash is detected by every other member within the preset's bound.
    net.down[7] = true;
    let crash = net.now;
    let bound = config().timings(n).detection_bound() + Duration::from_secs(5);
    net.run_until(crash + bound);
    for i in 0..7 {
        assert!(
            net.events[i].iter().any(|e| matches!(e, Event::MemberFailed(m) if m.name == "m7")),
            "m{i} did not declare m7 failed within {bound:?}"
        );
    }
    // A leave is a leave.
    net.nodes[6].leave(net.now).expect("leave");
    net.drain(6);
    let left = net.now;
    net.run_until(left + Duration::from_secs(5));
    for i in 0..6 {
        assert!(net.events[i].iter().any(|e| matches!(e, Event::MemberLeft(m) if m.name == "m6")), "m{i}");
        for healthy in 0..6 {
            let name = format!("m{healthy}");
            assert!(!net.events[i].iter().any(|e| matches!(e, Event::MemberFailed(m) if m.name == name)));
        }
    }
    assert!(net.datagrams > 100);
}

#[test]
fn a_large_cluster_packs_its_gossip_within_the_budget() {
    // 40 members joining at once gossip 40 alive records each: every datagram is checked
    // against the budget and decoded as memberlist's (in `Net::drain`).
    let mut net = cluster(40, |_| config());
    net.run_until(Instant::ZERO + Duration::from_secs(20));
    for i in 0..40 {
        assert_eq!(alive_names(&net.nodes[i]).len(), 40, "m{i}'s view");
    }
    // Compression is on in the presets, as memberlist's EnableCompression: gossip-heavy
    // packets shrink, and are sent compressed.
    assert!(net.compressed > 0);
    let mut plain = cluster(10, |_| Config { compression: None, ..config() });
    plain.run_until(Instant::ZERO + Duration::from_secs(10));
    assert_eq!(plain.compressed, 0);
    assert!(plain.datagrams > 100);
}

#[test]
fn at_protocol_5_every_packet_carries_memberlists_crc() {
    let five = || {
        let mut c = config();
        c.versions.protocol.current = 5;
        c
    };
    let mut net = cluster(6, |_| five());
    net.crc = true;
    net.run_until(Instant::ZERO + Duration::from_secs(10));
    for i in 0..6 {
        assert_eq!(alive_names(&net.nodes[i]).len(), 6, "m{i}'s view");
    }
    assert!(net.datagrams > 50);
}

#[test]
fn a_member_that_only_streams_reach_stays_alive_through_tcp_pings() {
    // m3's inbound UDP is dropped (a firewall that lets TCP through): every direct and
    // indirect ping to it is lost, and memberlist's TCP fallback ping keeps it alive.
    let run = |fallback: bool| {
        let mut net = cluster(5, |_| Config { tcp_fallback_ping: fallback, ..config() });
        net.run_until(Instant::ZERO + Duration::from_secs(5));
        net.deaf_udp[3] = true;
        net.run_until(Instant::ZERO + Duration::from_secs(40));
        let suspected = (0..5)
            .filter(|&i| i != 3)
            .filter(|&i| {
                net.events[i].iter().any(|e| matches!(e, Event::MemberSuspected { member, .. } if member.name == "m3"))
            })
            .count();
        let acks: u64 = (0..5).map(|i| net.nodes[i].stats().tcp_ping_acks).sum();
        (suspected, acks)
    };
    let (suspected, acks) = run(true);
    assert_eq!(suspected, 0, "with the TCP fallback ping nobody suspects m3");
    assert!(acks > 10, "{acks} TCP pings answered");
    let (suspected, acks) = run(false);
    assert!(suspected > 0, "without it m3 is suspected");
    assert_eq!(acks, 0);
}

#[test]
fn a_tcp_ping_is_answered_on_its_connection_and_a_stray_reply_is_refused() {
    let mut m = member(0, config());
    let mut ping = Vec::new();
    ml::Message::Ping(ml::Ping {
        seq_no: 77,
        node: "m0".into(),
        source_addr: None,
        source_port: 0,
        source_node: String::new(),
    })
    .encode(Transport::Stream, &mut ping);
    m.handle_stream_on(Instant::ZERO, addr(1), ConnectionId(5), &ping).expect("a TCP ping");
    let mut buf = Vec::new();
    let t = m.poll_transmit(&mut buf).expect("the ack");
    assert_eq!((t.kind, t.stream), (TransmitKind::Stream, StreamRole::Reply(ConnectionId(5))));
    let limits = DecodeLimits::from_config(&config());
    let (ack, _) = ml::Message::decode(&buf[..t.len], Transport::Stream, &limits).unwrap();
    assert_eq!(ack, ml::Message::Ack(ml::Ack { seq_no: 77, payload: Vec::new() }));
    assert_eq!(m.stats().tcp_pings_answered, 1);
    // A ping meant for another name is refused; a reply to no request too.
    let mut other = Vec::new();
    ml::Message::Ping(ml::Ping {
        seq_no: 1,
        node: "m9".into(),
        source_addr: None,
        source_port: 0,
        source_node: String::new(),
    })
    .encode(Transport::Stream, &mut other);
    assert_eq!(m.handle_stream_on(Instant::ZERO, addr(1), ConnectionId(6), &other), Err(DecodeError::Misdirected));
    assert_eq!(
        m.handle_stream_reply(Instant::ZERO, addr(1), swim_core::RequestId(3), &ping),
        Err(DecodeError::WrongChannel)
    );
    assert!(m.poll_transmit(&mut buf).is_none());
    // Answers that are not polled wait under the transmit bound; past it they are dropped.
    let bound = config().limits.max_pending_transmits;
    for c in 0..bound + 5 {
        m.handle_stream_on(Instant::ZERO, addr(1), ConnectionId(100 + c as u64), &ping).unwrap();
    }
    assert_eq!(m.stats().transmits_dropped, 5);
    let mut answers = 0;
    while m.poll_transmit(&mut buf).is_some() {
        answers += 1;
    }
    assert_eq!(answers, bound);
}

#[test]
fn the_profile_needs_with_wire_and_memberlists_versions() {
    let id = Identity::new("a", addr(0));
    assert!(matches!(Swim::new(config(), id.clone(), 1, Instant::ZERO), Err(NewError::WireNeedsIpAddresses)));
    let mut c = config();
    c.versions.protocol = swim_core::VersionRange::only(1);
    assert!(matches!(Swim::with_wire(c, id.clone(), 1, Instant::ZERO), Err(NewError::Config(_))));
    // swim's own profile through with_wire is swim's own bytes (an envelope, not memberlist's).
    let mut s = Swim::with_wire(Config::local(), id, 1, Instant::ZERO).unwrap();
    s.join(Instant::ZERO, [addr(1)]).unwrap();
    let mut buf = Vec::new();
    let t = s.poll_transmit(&mut buf).unwrap();
    assert_eq!(t.stream, StreamRole::OneWay);
    assert_eq!(buf[0], swim_core::wire::PROTOCOL_VERSION);
    assert_eq!(s.stream_framing(), StreamFraming::Frames);
}

#[test]
fn members_with_a_label_talk_and_refuse_another_label() {
    let labelled = |label: &'static [u8]| Config { label: swim_core::Bytes::from_static(label), ..config() };
    let mut net = cluster(4, |i| if i == 3 { labelled(b"other") } else { labelled(b"prod") });
    net.run_until(Instant::ZERO + Duration::from_secs(10));
    for i in 0..3 {
        assert_eq!(alive_names(&net.nodes[i]), ["m0", "m1", "m2"], "m{i}");
    }
    assert_eq!(alive_names(&net.nodes[3]), ["m3"]);
    assert!(net.nodes[0].stats().decode_errors.get(DecodeError::LabelMismatch) > 0);
    // The label header is memberlist's: type 244, length, label.
    let mut buf = Vec::new();
    net.nodes[1].update_metadata(net.now, "x").unwrap();
    net.nodes[1].handle_timeout(net.now + Duration::from_secs(1));
    let t = net.nodes[1].poll_transmit(&mut buf).unwrap();
    assert_eq!(&buf[..6], &[LABEL_MSG, 4, b'p', b'r', b'o', b'd'][..], "{t:?}");
}

#[cfg(feature = "encryption")]
#[test]
fn an_encrypted_cluster_forms_and_refuses_another_key() {
    use swim_core::wire::memberlist::profile::MemberlistKeyring;
    let mut net = cluster(4, |_| config());
    net.encrypted = true;
    for (i, key) in [[1u8; 16], [1; 16], [1; 16], [2; 16]].iter().enumerate() {
        assert!(net.nodes[i].set_memberlist_keyring(Some(MemberlistKeyring::new(key, [i as u8; 8]).unwrap())));
    }
    net.run_until(Instant::ZERO + Duration::from_secs(10));
    for i in 0..3 {
        assert_eq!(alive_names(&net.nodes[i]), ["m0", "m1", "m2"], "m{i}");
    }
    assert_eq!(alive_names(&net.nodes[3]), ["m3"]);
    assert!(net.nodes[0].stats().decode_errors.get(DecodeError::Decrypt) > 0);
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let run = || {
        let mut net = cluster(6, |_| config());
        net.run_until(Instant::ZERO + Duration::from_secs(5));
        net.nodes.iter().map(|n| format!("{:?}", n.stats())).collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Hostile bytes on every input of a memberlist-profile member: no panic, and a member
    /// that refused them holds the same members as before.
    #[test]
    fn hostile_bytes_leave_a_member_as_it_was(data in proptest::collection::vec(any::<u8>(), 0..300), kind in 0u8..3) {
        let mut net = cluster(3, |_| config());
        net.run_until(Instant::ZERO + Duration::from_secs(3));
        let before = alive_names(&net.nodes[0]);
        let now = net.now;
        let m = &mut net.nodes[0];
        let r = match kind {
            0 => m.handle_datagram(now, addr(9), &data),
            1 => m.handle_stream_on(now, addr(9), ConnectionId(99), &data),
            _ => m.handle_stream_reply(now, addr(9), swim_core::RequestId(0), &data),
        };
        if r.is_err() {
            prop_assert_eq!(alive_names(&net.nodes[0]), before);
        }
        let framing = net.nodes[0].stream_framing();
        let _ = framing.message_len(&data);
    }
}

/// A stream message from a Go member, encoded as memberlist does (no compression).
fn go_stream(msg: ml::Message) -> Vec<u8> {
    let mut out = Vec::new();
    msg.encode(Transport::Stream, &mut out);
    out
}

fn go_packet(msgs: Vec<ml::Message>) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = msgs
        .into_iter()
        .map(|m| {
            let mut p = Vec::new();
            m.encode(Transport::Packet, &mut p);
            p
        })
        .collect();
    if parts.len() == 1 {
        return parts.into_iter().next().unwrap();
    }
    let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
    let mut out = Vec::new();
    swim_core::wire::memberlist::encode_compound(&refs, &mut out).unwrap();
    out
}

fn go_state(incarnation: u32) -> ml::Message {
    ml::Message::PushPull(ml::PushPull {
        join: false,
        nodes: vec![ml::PushNodeState {
            name: "go".into(),
            addr: addr(1).ip(),
            port: addr(1).port(),
            meta: Vec::new(),
            incarnation,
            state: ml::NodeStateKind::Alive,
            vsn: vec![1, 5, 2, 0, 0, 0],
        }],
        user_state: Vec::new(),
    })
}

/// The next transmit that is a stream request to `to`, driving `m`'s timers.
fn next_request(m: &mut Swim<SocketAddr>, now: &mut Instant, to: SocketAddr) -> swim_core::RequestId {
    let mut buf = Vec::new();
    for _ in 0..200 {
        while let Some(t) = m.poll_transmit(&mut buf) {
            if let (StreamRole::Request(r), true) = (t.stream, t.destination == to) {
                return r;
            }
        }
        *now = m.poll_timeout();
        m.handle_timeout(*now);
    }
    panic!("no request to {to}");
}

#[test]
fn a_suspect_that_acks_our_ping_is_asked_for_its_state() {
    // memberlist ignores a suspicion older than its incarnation: a member that missed a Go
    // member's refutation would suspect it until the suspicion times out. When the suspect
    // acks our own probe, its state is asked for instead, and the newer incarnation clears
    // the suspicion.
    let mut now = Instant::ZERO;
    let mut m = member(0, config());
    m.join(now, [addr(1)]).unwrap();
    let join = next_request(&mut m, &mut now, addr(1));
    m.handle_stream_reply(now, addr(1), join, &go_stream(go_state(1))).expect("the Go member's state");
    assert_eq!(m.member("go").map(|g| (g.state, g.incarnation)), Some((State::Alive, 1)));
    let suspect = ml::Message::Suspect(ml::Suspect { incarnation: 1, node: "go".into(), from: "x".into() });
    m.handle_datagram(now, addr(2), &go_packet(vec![suspect])).unwrap();
    assert_eq!(m.member("go").map(|g| g.state), Some(State::Suspect));
    // The Go member has refuted (incarnation 2) but that never reached us. Our next probe of
    // it is acked by it directly.
    let mut buf = Vec::new();
    let seq = 'probe: loop {
        now = m.poll_timeout();
        m.handle_timeout(now);
        while let Some(t) = m.poll_transmit(&mut buf) {
            if t.kind != TransmitKind::Datagram || t.destination != addr(1) {
                continue;
            }
            let mut msgs = Vec::new();
            profile::packet_messages(&buf[..t.len], &DecodeLimits::from_config(&config()), &mut msgs).unwrap();
            if let Some(seq) = msgs.iter().find_map(|x| match x {
                ml::Message::Ping(p) => Some(p.seq_no),
                _ => None,
            }) {
                break 'probe seq;
            }
        }
    };
    let ack = ml::Message::Ack(ml::Ack { seq_no: seq, payload: Vec::new() });
    m.handle_datagram(now, addr(1), &go_packet(vec![ack])).unwrap();
    assert_eq!(m.stats().suspects_resynced, 1);
    let resync = next_request(&mut m, &mut now, addr(1));
    m.handle_stream_reply(now, addr(1), resync, &go_stream(go_state(2))).expect("its state");
    assert_eq!(m.member("go").map(|g| (g.state, g.incarnation)), Some((State::Alive, 2)));
}
