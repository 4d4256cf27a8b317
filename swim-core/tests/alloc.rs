//! The inbound ping to ack path allocates nothing in steady state when the caller supplies the
//! output buffer, with and without encryption. Counted with dhat's allocator.
//!
//! This test has no libtest harness (`harness = false`): dhat counts allocations of every
//! thread, and the harness's own threads may allocate while the test runs.

use swim_core::security::{Cipher, Key, Keyring};
use swim_core::wire::{Codec, Message, Ping, PostcardCodec, envelope};
use swim_core::{Bytes, Config, Identity, Instant, Member, Name, State, Swim};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn member(i: u32, now: Instant) -> Member<u32> {
    Member {
        name: Name::from(format!("node-{i}")),
        addr: i,
        meta: Bytes::new(),
        incarnation: 0,
        state: State::Alive,
        state_changed: now,
    }
}

fn core(now: Instant, encrypted: bool) -> Swim<u32> {
    let mut s = Swim::new(Config::lan(), Identity::new("node-0", 0), 1, now).unwrap();
    s.restore(now, (1..10).map(|i| member(i, now)));
    if encrypted {
        s.set_keyring(Some(Keyring::new(Cipher::Aes256Gcm, Key::from_bytes([3; 32]), [1; 8])));
    }
    s
}

fn ping_packet(encrypted: bool) -> Vec<u8> {
    let mut messages = Vec::new();
    let ping: Message<'_, u32> = Message::Ping(Ping { seq: 9, target: "node-0" });
    PostcardCodec.encode(&ping, &mut messages);
    if encrypted {
        Keyring::new(Cipher::Aes256Gcm, Key::from_bytes([3; 32]), [2; 8]).seal_packet(b"", &messages)
    } else {
        let mut p = Vec::new();
        envelope::begin(&mut p, b"", false);
        p.extend_from_slice(&messages);
        p
    }
}

fn main() {
    ping_to_ack_allocates_nothing_in_steady_state();
    println!("ping_to_ack_allocates_nothing_in_steady_state ... ok");
}

fn ping_to_ack_allocates_nothing_in_steady_state() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let now = Instant::from_secs(100);
    for encrypted in [false, true] {
        let mut s = core(now, encrypted);
        let ping = ping_packet(encrypted);
        let mut buf = Vec::with_capacity(2048);
        let mut round = |s: &mut Swim<u32>| {
            s.handle_datagram(now, 3, &ping).unwrap();
            let t = s.poll_transmit(&mut buf).expect("an ack");
            assert_eq!(t.destination, 3);
            assert!(s.poll_transmit(&mut buf).is_none());
        };
        // Warm up: the transmit queue and scratch buffers reach their working size.
        for _ in 0..10 {
            round(&mut s);
        }
        let before = dhat::HeapStats::get();
        for _ in 0..10_000 {
            round(&mut s);
        }
        let after = dhat::HeapStats::get();
        assert_eq!(
            after.total_blocks - before.total_blocks,
            0,
            "{} allocations in 10,000 ping-to-ack rounds (encrypted: {encrypted})",
            after.total_blocks - before.total_blocks
        );
    }
}
