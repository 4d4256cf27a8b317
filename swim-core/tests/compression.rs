//! Compression of stream messages (docs/protocol.md section 8, "Compression"): a large
//! push-pull goes out smaller, mixed clusters work, and hostile compressed input is a counted,
//! typed rejection that changes nothing.

mod common;

use std::time::Duration;

use common::{Cluster, SeedGuard, name, seeds};
use swim_core::wire::{compression, envelope};
use swim_core::{Bytes, Compression, Config, DecodeError, Identity, Instant, Member, State, Swim, TransmitKind};

fn config(compression: bool) -> Config {
    let compression = compression.then_some(Compression { min_size: 256 });
    Config { compression, ..Config::local() }
}

/// A member holding `n` others, restored: a push-pull from it carries them all.
fn big(config: Config, n: u32) -> Swim<u32> {
    let now = Instant::ZERO;
    let mut s = Swim::new(config, Identity::new("node-0", 0), 1, now).expect("valid");
    let members = (1..=n).map(|i| Member {
        name: format!("member-{i:05}.dc1.example.internal").into(),
        addr: i,
        meta: Bytes::from_static(b"role=db,zone=a"),
        incarnation: 0,
        state: State::Alive,
        state_changed: now,
    });
    assert_eq!(s.restore(now, members) as u32, n);
    s
}

/// The push-pull `a` sends to member 1 once it asks for its periodic exchange, and its size.
fn push_pull_to_member_1(mut s: Swim<u32>) -> (Swim<u32>, Vec<u8>) {
    let mut buf = Vec::new();
    let mut now = Instant::ZERO;
    for _ in 0..10_000 {
        now = s.poll_timeout();
        s.handle_timeout(now);
        while let Some(t) = s.poll_transmit(&mut buf) {
            if t.kind == TransmitKind::Stream {
                return (s, buf);
            }
        }
    }
    panic!("no push-pull by {now:?}");
}

/// A 2,000-member push-pull is sent compressed, much smaller than without compression
/// (`Stats::stream_bytes_out`), and the receiver merges every member of it.
#[test]
fn a_compressed_push_pull_is_smaller_on_the_wire_and_merges_whole() {
    let (on, packet) = push_pull_to_member_1(big(config(true), 2000));
    let (off, plain) = push_pull_to_member_1(big(config(false), 2000));
    assert_eq!((on.stats().streams_compressed, off.stats().streams_compressed), (1, 0));
    let (on_bytes, off_bytes) = (on.stats().stream_bytes_out, off.stats().stream_bytes_out);
    assert_eq!((on_bytes, off_bytes), (packet.len() as u64, plain.len() as u64));
    assert!(on_bytes * 3 < off_bytes, "compressed {on_bytes} bytes against {off_bytes}");
    assert!(envelope::parse(&packet).expect("envelope").0.compressed);
    assert!(!envelope::parse(&plain).expect("envelope").0.compressed);
    // A receiver merges what the plain push-pull carries (the members the sender still holds
    // alive), and one that receives the compressed one (with compression off too: it reads
    // compressed streams all the same) merges exactly as much.
    let to = |config| Swim::new(config, Identity::new("elsewhere", 5000), 2, Instant::ZERO);
    let mut r = to(config(true)).expect("valid");
    assert_eq!(r.handle_stream(Instant::from_secs(1), 0, &plain), Ok(()));
    let merged = r.num_members();
    assert!(merged > 1900, "{merged}");
    for config in [config(true), config(false)] {
        let mut r = to(config).expect("valid");
        assert_eq!(r.handle_stream(Instant::from_secs(1), 0, &packet), Ok(()));
        assert_eq!(r.num_members(), merged);
    }
}

/// Members with compression on and off in one cluster (big enough for compressed push-pulls):
/// it converges, no member rejects anything (the harness is strict), members with compression
/// on send each other compressed push-pulls, and a member with it off is never sent one.
#[test]
fn a_mixed_cluster_converges_and_compresses_only_for_members_that_want_it() {
    for seed in seeds(1, 3) {
        let _g = SeedGuard {
            seed,
            test: "a_mixed_cluster_converges_and_compresses_only_for_members_that_want_it",
            file: "compression",
        };
        let n = 40;
        let on = |i: usize| !i.is_multiple_of(3);
        let mut c = Cluster::with_configs((0..n).map(|i| config(on(i))).collect(), seed);
        c.log = Some(Vec::new());
        c.converge(Duration::from_secs(60));
        c.run_for(Duration::from_secs(60));
        assert!(c.converged());
        let log = c.log.take().expect("recording");
        let mut compressed = 0;
        for (at, from, to, packet) in &log {
            let h = envelope::parse(packet).expect("envelope").0;
            if h.compressed {
                compressed += 1;
                assert!(on(*to as usize), "{from} sent {to}, which does not want it, a compressed stream at {at:?}");
                assert!(on(*from as usize), "{from} has compression off but compressed");
            }
        }
        assert!(compressed > 0, "members with compression on compressed their push-pulls");
        for i in 0..n {
            assert_eq!(c.node(i).stats().decode_errors.total(), 0, "{}", name(i));
            let wants = c.node((i + 1) % n).capabilities_of(&name(i)).expect("held").compression();
            assert_eq!(wants, on(i), "what {} wants is known", name(i));
        }
    }
}

fn stream_packet(payload: &[u8], compressed: bool) -> Vec<u8> {
    let mut p = Vec::new();
    envelope::begin(&mut p, b"", false);
    if compressed {
        envelope::set_compressed(&mut p);
    }
    p.extend_from_slice(payload);
    p
}

/// Decompression bombs and corrupt compressed input: each a typed rejection, counted, with
/// nothing changed; a compressed datagram is refused as on the wrong channel.
#[test]
fn compressed_bombs_and_garbage_are_rejected_without_effect() {
    let mut s = big(config(true), 50);
    let (members, queues) = (s.num_members(), s.queue_depth());
    let max = s.config().limits.max_stream_message_size;
    let now = Instant::from_secs(1);
    // A well-formed compressed payload of messages: a push-pull from an unknown member.
    let (_, good) = push_pull_to_member_1(big(config(true), 50));
    assert!(envelope::parse(&good).unwrap().0.compressed);
    let body = envelope::parse(&good).unwrap().1.to_vec();
    let mut cases: Vec<(Vec<u8>, bool, DecodeError)> = Vec::new();
    // Declares more than the limit: refused before anything is allocated.
    let mut over = vec![0x80, 0x80, 0x80, 0x80, 0x01]; // 2^28 bytes
    over.extend_from_slice(&[0u8; 8]);
    assert!(1 << 28 > max);
    cases.push((stream_packet(&over, true), true, DecodeError::Oversized));
    // Declares 16 MiB (within the limit) from 2 bytes: more than LZ4 can expand anything.
    cases.push((stream_packet(&[0xff, 0xff, 0xff, 0x07, 0x1f, 0x00], true), true, DecodeError::Malformed));
    // A corrupt block: the real one cut short.
    cases.push((stream_packet(&body[..body.len() - 10], true), true, DecodeError::Malformed));
    // The real block declaring one byte less than it holds.
    let mut plain = Vec::new();
    compression::decompress(&body, max, &mut plain).expect("decompresses");
    let (prefix, mut wrong) = (varint(plain.len()).len(), varint(plain.len() - 1));
    wrong.extend_from_slice(&body[prefix..]);
    cases.push((stream_packet(&wrong, true), true, DecodeError::Malformed));
    // Compressed datagrams do not exist.
    cases.push((good.clone(), false, DecodeError::WrongChannel));
    for (i, (packet, stream, error)) in cases.iter().enumerate() {
        let before = s.stats().decode_errors.get(*error);
        let r = if *stream { s.handle_stream(now, 99, packet) } else { s.handle_datagram(now, 99, packet) };
        assert_eq!(r, Err(*error), "case {i}");
        assert_eq!(s.stats().decode_errors.get(*error), before + 1, "case {i} counted");
        assert_eq!((s.num_members(), s.queue_depth(), s.pending_outputs()), (members, queues, (0, 0)), "case {i}");
    }
    // And the genuine one is accepted and merged.
    assert_eq!(s.handle_stream(now, 99, &good), Ok(()));
}

/// `v` as a LEB128 varint.
fn varint(mut v: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Compressed before encrypting, decompressed after decrypting: an encrypted cluster compresses
/// its push-pulls (the flag is in the authenticated header) and converges.
#[cfg(feature = "encryption")]
#[test]
fn compression_under_encryption() {
    use swim_core::security::{Cipher, Key, Keyring};
    let n = 30;
    let mut c = Cluster::new(n, config(true), 7);
    for i in 0..n {
        let ring = Keyring::new(Cipher::Aes256Gcm, Key::from_bytes([3; 32]), [i as u8; 8]);
        c.with(i, |s, _| s.set_keyring(Some(ring)));
    }
    c.converge(Duration::from_secs(60));
    c.run_for(Duration::from_secs(60));
    assert!(c.converged());
    let compressed: u64 = (0..n).map(|i| c.node(i).stats().streams_compressed).sum();
    assert!(compressed > 0, "encrypted push-pulls were compressed");
    assert!((0..n).all(|i| c.node(i).stats().decode_errors.total() == 0));
}
