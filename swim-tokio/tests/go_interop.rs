//! Go memberlist beside swim: the harness that runs hashicorp/memberlist members as processes
//! (`interop/go-peer`, built by `common::gopeer`). Without Go these tests skip with a printed
//! reason; with `CI` set they fail (`.ci/run` installs golang-go and
//! golang-github-hashicorp-memberlist-dev).

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::gopeer::{self, GoPeer, GoPeerConfig};
use swim_core::DecodeError;
use swim_core::wire::DecodeLimits;
use swim_core::wire::memberlist::{
    self, Ack, Message, MessageType, NodeStateKind, PushNodeState, PushPull, Transport, encryption,
};

/// Joins, gossip and leaves on loopback with the `local` preset take well under a second;
/// this is the bound with a loaded 2-core machine's slack.
const WITHIN: Duration = Duration::from_secs(15);

/// Two Go members driven from Rust form a cluster and each lists both, merging each other's
/// application state; a user message sent reliably, one sent best effort and a broadcast
/// arrive; a metadata update is seen; a graceful leave is seen as a leave. This proves
/// the harness (build, start, commands, waiting on events) before swim members join in.
#[test]
fn two_go_members_form_a_cluster_driven_from_rust() {
    let Some(bin) = gopeer::binary_or_skip("two_go_members_form_a_cluster_driven_from_rust") else { return };
    let mut a = GoPeer::start(&bin, &GoPeerConfig::new("go-a"));
    let mut b = GoPeer::start(&bin, &GoPeerConfig::new("go-b"));
    a.ask("state 61", "state ok", WITHIN);
    b.ask("state 62", "state ok", WITHIN);
    let answer = b.ask(&format!("join {}", a.addr), "joined", WITHIN);
    assert_eq!(answer, "joined 1", "go-b reached its one seed");
    // The join's push-pull carries each side's application state, merged with the join flag.
    a.wait_line("go-a to merge go-b's state", WITHIN, |l| l == "merge true 62");
    b.wait_line("go-b to merge go-a's state", WITHIN, |l| l == "merge true 61");

    let joined_b = a.wait_line("go-a to see go-b join", WITHIN, |l| l.starts_with("join go-b "));
    assert_eq!(joined_b, format!("join go-b {} ", b.addr), "go-b's address and empty metadata");
    b.wait_line("go-b to see go-a join", WITHIN, |l| l.starts_with("join go-a "));
    assert_eq!(a.members(), ["go-a", "go-b"]);
    assert_eq!(b.members(), ["go-a", "go-b"]);

    b.ask("send-reliable go-a 68656c6c6f", "sent", WITHIN);
    a.wait_line("go-a to receive the reliable message", WITHIN, |l| l == "user 68656c6c6f");
    b.ask("send go-a 776f726c64", "sent", WITHIN);
    a.wait_line("go-a to receive the best-effort message", WITHIN, |l| l == "user 776f726c64");

    b.ask("broadcast 6263", "queued", WITHIN);
    a.wait_line("go-a to receive the broadcast", WITHIN, |l| l == "user 6263");

    b.ask("meta 0102", "meta ok", WITHIN);
    a.wait_line("go-a to see go-b's metadata", WITHIN, |l| l == format!("update go-b {} 0102", b.addr));

    b.ask("leave", "left", WITHIN);
    a.wait_line("go-a to see go-b leave", WITHIN, |l| l.starts_with("leave go-b "));
    assert_eq!(a.members(), ["go-a"]);
}

/// The memberlist wire fixtures swim-core's `tests/memberlist_wire.rs` checks its codec
/// against are what memberlist's own code encodes today: `interop/go-wire/fixtures.sh`
/// re-encodes them with memberlist 0.2.2 and the output must equal the committed file.
#[test]
fn the_committed_memberlist_fixtures_are_memberlists_own_bytes() {
    if let Err(reason) = gopeer::toolchain() {
        println!("skipping the_committed_memberlist_fixtures_are_memberlists_own_bytes: {reason}");
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::process::Command::new("bash")
        .arg(root.join("interop/go-wire/fixtures.sh"))
        .output()
        .expect("run interop/go-wire/fixtures.sh");
    assert!(out.status.success(), "fixtures.sh failed: {}", String::from_utf8_lossy(&out.stderr));
    let committed =
        std::fs::read_to_string(root.join("swim-core/tests/golden/memberlist.txt")).expect("read the fixtures");
    let go = String::from_utf8(out.stdout).expect("hex is ASCII");
    assert!(committed.lines().count() >= 20, "the fixture file lost its lines");
    assert_eq!(
        go, committed,
        "memberlist encodes differently from the committed fixtures: regenerate with \
        interop/go-wire/fixtures.sh > swim-core/tests/golden/memberlist.txt and check swim-core's codec"
    );
}

/// A member that speaks memberlist's wire through swim-core's codec alone (no state machine):
/// it answers a join's push-pull on the same connection and acks pings, until told to fall
/// silent. It records every message Go sends it.
struct CodecMember {
    port: u16,
    silent: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
    pings_answered: Arc<AtomicUsize>,
    crc_packets: Arc<AtomicUsize>,
}

impl CodecMember {
    /// Bind UDP and TCP on one loopback port and serve both on threads. `protocol` is the
    /// memberlist protocol version it claims in its `Vsn` as both its current and its highest
    /// (a highest of 5 or more makes Go add a CRC to its gossip to it). With `key` it speaks
    /// memberlist's encryption (version 1) with that one key.
    fn start(name: &'static str, protocol: u8, key: Option<Vec<u8>>) -> CodecMember {
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").expect("bind UDP on loopback");
            if let Ok(tcp) = TcpListener::bind(udp.local_addr().expect("local address")) {
                break (udp, tcp);
            }
        };
        let port = udp.local_addr().expect("local address").port();
        let member = CodecMember {
            port,
            silent: Arc::default(),
            seen: Arc::default(),
            pings_answered: Arc::default(),
            crc_packets: Arc::default(),
        };
        let vsn = vec![1, protocol, protocol, 0, 0, 0];
        let me = move |incarnation| PushNodeState {
            name: name.into(),
            addr: LOOPBACK,
            port,
            meta: b"rust".to_vec(),
            incarnation,
            state: NodeStateKind::Alive,
            vsn: vsn.clone(),
        };
        let (seen, stream_key) = (member.seen.clone(), key.clone());
        std::thread::spawn(move || {
            for (i, conn) in tcp.incoming().enumerate() {
                let Ok(conn) = conn else { return };
                let reply = Message::PushPull(PushPull { join: true, nodes: vec![me(1)], user_state: vec![] });
                if let Err(e) = serve_stream(conn, reply, stream_key.as_deref(), nonce(1, i), &seen) {
                    seen.lock().unwrap().push(format!("stream refused: {e}"));
                }
            }
        });
        let (silent, seen, answered, crc) =
            (member.silent.clone(), member.seen.clone(), member.pings_answered.clone(), member.crc_packets.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            let mut sent = 0;
            while let Ok((n, from)) = udp.recv_from(&mut buf) {
                // On receive: decrypt, check the CRC, decompress (memberlist's order).
                let opened;
                let packet = match &key {
                    Some(key) => {
                        let Ok(plain) = encryption::decrypt([&key[..]], &buf[..n], b"") else {
                            seen.lock().unwrap().push("packet refused: Decrypt".into());
                            continue;
                        };
                        opened = plain;
                        &opened[..]
                    }
                    None => &buf[..n],
                };
                if packet.first() == Some(&(MessageType::HasCrc as u8)) {
                    crc.fetch_add(1, Ordering::SeqCst);
                }
                let message = memberlist::check_crc(packet).expect("Go's CRC checks");
                let inflated;
                let message = if message.first() == Some(&(MessageType::Compress as u8)) {
                    inflated = memberlist::decompress(message, 1 << 20).expect("Go's compressed packet inflates").0;
                    &inflated[..]
                } else {
                    message
                };
                let parts = if message.first() == Some(&(MessageType::Compound as u8)) {
                    let (parts, truncated) = memberlist::decode_compound(message).expect("Go's compound decodes");
                    assert_eq!(truncated, 0, "a compound from Go arrived cut off");
                    parts
                } else {
                    vec![message]
                };
                for part in parts {
                    let (msg, used) = Message::decode(part, Transport::Packet, &limits())
                        .unwrap_or_else(|e| panic!("Go's packet {part:02x?} does not decode: {e:?}"));
                    assert_eq!(used, part.len(), "a message from Go left bytes over");
                    seen.lock().unwrap().push(format!("{msg:?}"));
                    if let Message::Ping(ping) = msg {
                        assert_eq!(ping.node, name, "a ping meant for another member");
                        if !silent.load(Ordering::SeqCst) {
                            let mut ack = Vec::new();
                            Message::Ack(Ack { seq_no: ping.seq_no, payload: vec![] })
                                .encode(Transport::Packet, &mut ack);
                            if let Some(key) = &key {
                                let mut sealed = Vec::new();
                                encryption::encrypt(1, key, nonce(2, sent), &ack, b"", &mut sealed)
                                    .expect("a valid key");
                                ack = sealed;
                            }
                            sent += 1;
                            udp.send_to(&ack, from).expect("send the ack");
                            answered.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            }
        });
        member
    }

    fn saw(&self, prefix: &str) -> bool {
        self.seen.lock().unwrap().iter().any(|m| m.starts_with(prefix))
    }
}

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn limits() -> DecodeLimits {
    DecodeLimits::from_config(&swim_core::Config::lan())
}

/// A nonce never used twice by one codec member: a stream (1) or packet (2) tag and a count.
fn nonce(kind: u8, n: usize) -> [u8; encryption::NONCE_LEN] {
    let mut nonce = [0; encryption::NONCE_LEN];
    nonce[0] = kind;
    nonce[4..].copy_from_slice(&(n as u64).to_be_bytes());
    nonce
}

/// One stream message from Go at the start of `buf`: decrypted with `key` if there is one,
/// then decompressed if compressed (memberlist's order on receive).
fn read_stream(buf: &[u8], key: Option<&[u8]>) -> Result<Message, DecodeError> {
    let opened;
    let buf = match key {
        Some(key) => {
            opened = encryption::decrypt_stream([key], buf, b"", 1 << 20)?.0;
            &opened[..]
        }
        None => buf,
    };
    if buf.first() == Some(&(MessageType::Compress as u8)) {
        let (plain, _) = memberlist::decompress(buf, 1 << 20)?;
        return Message::decode(&plain, Transport::Stream, &limits()).map(|(m, _)| m);
    }
    Message::decode(buf, Transport::Stream, &limits()).map(|(m, _)| m)
}

/// Read one push-pull from Go on `conn` (bytes arrive in pieces: `Truncated` means read
/// more), record it, answer `reply` on the same connection (encrypted with `key` if any).
fn serve_stream(
    mut conn: TcpStream,
    reply: Message,
    key: Option<&[u8]>,
    nonce: [u8; encryption::NONCE_LEN],
    seen: &Mutex<Vec<String>>,
) -> Result<(), String> {
    conn.set_read_timeout(Some(WITHIN)).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let msg = loop {
        match read_stream(&buf, key) {
            Ok(msg) => break msg,
            Err(DecodeError::Truncated | DecodeError::Empty) => {}
            Err(e) => return Err(format!("{e:?}")),
        }
        let mut chunk = [0u8; 4096];
        let n = conn.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("Go closed the stream inside a message: {buf:02x?}"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    seen.lock().unwrap().push(format!("{msg:?}"));
    let mut out = Vec::new();
    reply.encode(Transport::Stream, &mut out);
    if let Some(key) = key {
        let mut sealed = Vec::new();
        encryption::encrypt_stream(1, key, nonce, &out, b"", &mut sealed).map_err(|e| format!("{e:?}"))?;
        out = sealed;
    }
    conn.write_all(&out).map_err(|e| e.to_string())
}

/// Real Go memberlist and swim-core's memberlist codec on real sockets, with no state machine
/// between them: a Go member joins a member that only runs the codec, merges its push-pull
/// answer (so it lists it, with its metadata), probes it and is acked, then, when the codec
/// member falls silent, suspects it and declares it dead. Rounds (the tests below): protocol version 2 with
/// Go's compression off; 5 (CRCs on gossip) with compression on, as every preset has it (the
/// join's push-pull arrives LZW-compressed); and encrypted (encryption version 1) with a 16,
/// 24 and 32-byte key (AES-128, -192 and -256-GCM), one test each so that they run side by
/// side. This proves the codec both ways against the real thing.
fn go_joins_probes_and_detects(test: &str, protocol: u8, compress: bool, key: Option<Vec<u8>>) {
    let Some(bin) = gopeer::binary_or_skip(test) else { return };
    let keyed = key.as_ref().map_or("no key".to_string(), |k| format!("a {}-byte key", k.len()));
    let round = format!("protocol {protocol}, compression {compress}, {keyed}");
    let rust = CodecMember::start("rust-codec", protocol, key.clone());
    let mut go = GoPeer::start(&bin, &GoPeerConfig { protocol, compress, key, ..GoPeerConfig::new("go-a") });
    go.ask(&format!("join 127.0.0.1:{}", rust.port), "joined", WITHIN);
    let join = go.wait_line("go-a to list the codec member", WITHIN, |l| l.starts_with("join rust-codec "));
    assert_eq!(join, format!("join rust-codec 127.0.0.1:{} {}", rust.port, gopeer::hex(b"rust")));
    assert_eq!(go.members(), ["go-a", "rust-codec"]);
    assert!(rust.saw("PushPull(PushPull { join: true"), "Go's join push-pull: {:?}", rust.seen.lock().unwrap());

    let start = Instant::now();
    while rust.pings_answered.load(Ordering::SeqCst) < 3 {
        assert!(start.elapsed() < WITHIN, "go-a probed the codec member fewer than 3 times in {WITHIN:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(go.members(), ["go-a", "rust-codec"], "acked probes keep the codec member alive");
    let crcs = rust.crc_packets.load(Ordering::SeqCst);
    if protocol == 5 {
        // memberlist 0.2.2 adds the CRC only where the sender hands the node over
        // (gossip, for one); its plain probe pings go without (see add_crc's docs).
        assert!(crcs >= 1, "protocol 5: Go's gossip carries a CRC, saw none");
    } else {
        assert_eq!(crcs, 0, "protocol 2: no CRC");
    }

    rust.silent.store(true, Ordering::SeqCst);
    let silent_at = Instant::now();
    go.wait_line("go-a to declare the silent codec member dead", WITHIN, |l| l.starts_with("leave rust-codec "));
    println!("{round}: go-a declared the silent codec member dead after {:?}", silent_at.elapsed());
    let refused: Vec<String> = rust.seen.lock().unwrap().iter().filter(|m| m.contains("refused")).cloned().collect();
    assert!(refused.is_empty(), "{round}: the codec member refused Go's input: {refused:?}");
    assert_eq!(go.members(), ["go-a"]);
}

#[test]
fn go_joins_probes_and_detects_a_codec_member_at_protocol_2() {
    go_joins_probes_and_detects("go_joins_probes_and_detects_a_codec_member_at_protocol_2", 2, false, None);
}

#[test]
fn go_joins_probes_and_detects_a_codec_member_at_protocol_5_compressed() {
    go_joins_probes_and_detects("go_joins_probes_and_detects_a_codec_member_at_protocol_5_compressed", 5, true, None);
}

#[test]
fn go_joins_probes_and_detects_a_codec_member_encrypted_aes_128() {
    go_joins_probes_and_detects(
        "go_joins_probes_and_detects_a_codec_member_encrypted_aes_128",
        5,
        true,
        Some(vec![0x11; 16]),
    );
}

#[test]
fn go_joins_probes_and_detects_a_codec_member_encrypted_aes_192() {
    go_joins_probes_and_detects(
        "go_joins_probes_and_detects_a_codec_member_encrypted_aes_192",
        2,
        false,
        Some(vec![0x22; 24]),
    );
}

#[test]
fn go_joins_probes_and_detects_a_codec_member_encrypted_aes_256() {
    go_joins_probes_and_detects(
        "go_joins_probes_and_detects_a_codec_member_encrypted_aes_256",
        2,
        true,
        Some(vec![0x33; 32]),
    );
}

/// A Go member with another key cannot join a member speaking memberlist's encryption: the
/// codec member cannot open Go's push-pull, so Go's join fails and neither lists the other.
#[test]
fn a_go_member_with_another_key_cannot_join_the_codec_member() {
    let Some(bin) = gopeer::binary_or_skip("a_go_member_with_another_key_cannot_join_the_codec_member") else {
        return;
    };
    let rust = CodecMember::start("rust-codec", 5, Some(vec![0x33; 32]));
    let mut go = GoPeer::start(&bin, &GoPeerConfig { key: Some(vec![0x44; 32]), ..GoPeerConfig::new("go-a") });
    go.command(&format!("join 127.0.0.1:{}", rust.port));
    let answer = go.wait_line("go-a's failed join", WITHIN, |l| l.starts_with("joined") || l.starts_with("error join"));
    assert!(answer.starts_with("error join"), "a wrong key joined: {answer}");
    // Go sees the connection close as the codec member's thread refuses the stream, so the
    // refusal may be recorded a moment after Go's answer.
    common::wait_until("the codec member to refuse Go's stream", WITHIN, || {
        if rust.saw("stream refused: Decrypt") {
            Ok(())
        } else {
            Err(format!("the codec member's view: {:?}", rust.seen.lock().unwrap()))
        }
    });
    assert_eq!(go.members(), ["go-a"]);
}
