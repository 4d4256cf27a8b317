//! Encryption, labels and hostile input (feature `encryption`).

mod common;

use std::time::Duration;

use common::{Addr, Cluster, SeedGuard, messages, packet, seeds};
use swim_core::security::{Cipher, Key, Keyring};
use swim_core::wire::{Alive, Dead, MemberState, Message, Ping, PushPull, PushPullKind, Suspect, envelope};
use swim_core::{Bytes, Config, DecodeError, Event, State};

const S: fn(u64) -> Duration = Duration::from_secs;

fn key(b: u8) -> Key {
    Key::from_bytes([b; 32])
}

fn ring(k: u8, node: usize) -> Keyring {
    Keyring::new(Cipher::Aes256Gcm, key(k), (node as u64 + 1).to_le_bytes())
}

/// A converged cluster where every member encrypts with key 1.
fn encrypted(n: usize, seed: u64) -> Cluster {
    let mut c = Cluster::new(n, Config::lan(), seed);
    for i in 0..n {
        c.with(i, |s, _| s.set_keyring(Some(ring(1, i))));
    }
    c.converge(S(10));
    c
}

/// Forged messages an attacker without the key would like a member to accept.
fn forgeries() -> Vec<Vec<u8>> {
    vec![
        // Kill an honest member, at its current and at a huge incarnation.
        packet(&[Message::Dead(Dead { incarnation: 0, name: "node-2", from: "node-9" })]),
        packet(&[Message::Dead(Dead { incarnation: u32::MAX, name: "node-2", from: "node-9" })]),
        packet(&[Message::Suspect(Suspect { incarnation: 1000, name: "node-3", from: "node-9" })]),
        // Add a member.
        packet(&[Message::Alive(Alive {
            incarnation: 0,
            name: "mallory",
            addr: 66,
            meta: b"",
            versions: swim_core::Versions::DEFAULT,
            capabilities: swim_core::Capabilities::NONE,
        })]),
        // Rewrite an honest member's metadata and address.
        packet(&[Message::Alive(Alive {
            incarnation: 1000,
            name: "node-4",
            addr: 4,
            meta: b"owned",
            versions: swim_core::Versions::DEFAULT,
            capabilities: swim_core::Capabilities::NONE,
        })]),
        packet(&[Message::Alive(Alive {
            incarnation: 1000,
            name: "node-4",
            addr: 66,
            meta: b"",
            versions: swim_core::Versions::DEFAULT,
            capabilities: swim_core::Capabilities::NONE,
        })]),
    ]
}

fn forged_push_pull() -> Vec<u8> {
    packet(&[Message::PushPull(PushPull {
        kind: PushPullKind::Periodic,
        id: 1,
        from: "mallory",
        from_addr: 66,
        members: vec![
            MemberState {
                name: "mallory",
                addr: 66,
                meta: b"",
                incarnation: 0,
                state: State::Alive,
                versions: swim_core::Versions::DEFAULT,
                capabilities: swim_core::Capabilities::NONE,
            },
            MemberState {
                name: "node-2",
                addr: 2,
                meta: b"",
                incarnation: 500,
                state: State::Dead,
                versions: swim_core::Versions::DEFAULT,
                capabilities: swim_core::Capabilities::NONE,
            },
            MemberState {
                name: "node-4",
                addr: 4,
                meta: b"owned",
                incarnation: 500,
                state: State::Alive,
                versions: swim_core::Versions::DEFAULT,
                capabilities: swim_core::Capabilities::NONE,
            },
        ],
        state: b"",
    })])
}

/// `plain`'s messages in an encrypted envelope that no key of the cluster opens: what an
/// attacker without the key can produce (a guessed tag over arbitrary bytes).
fn sealed_with_wrong_key(plain: &[u8]) -> Vec<u8> {
    let (_, body) = envelope::parse(plain).unwrap();
    let mut out = Vec::new();
    envelope::begin(&mut out, b"", true);
    out.push(Cipher::Aes256Gcm.id());
    out.extend_from_slice(&[1u8; 12]);
    out.extend_from_slice(body);
    out.extend_from_slice(&[0u8; 16]);
    out
}

fn healthy(c: &Cluster) -> bool {
    c.converged()
        && c.up().all(|o| c.node(o).member("mallory").is_none())
        && c.up().all(|o| c.node(o).member("node-4").is_some_and(|m| m.meta.is_empty() && m.addr == 4))
}

#[test]
fn an_encrypted_cluster_works_like_a_plain_one() {
    let mut c = encrypted(12, 400);
    c.crash(5);
    assert!(c.run_until(S(60), |c| c.all_see(5, State::Dead)));
    assert_eq!(c.count_events(|_, e| matches!(e, Event::MemberFailed(m) if m.name != "node-5")), 0);
    // Everything on the wire was encrypted.
    c.log = Some(Vec::new());
    c.run_for(S(5));
    for (_, _, _, b) in c.log.as_ref().unwrap() {
        let (h, _) = envelope::parse(b).unwrap();
        assert!(h.encrypted);
    }
}

#[test]
fn without_the_key_an_attacker_cannot_kill_add_or_rewrite_members() {
    for seed in seeds(410, 3) {
        let _g = SeedGuard {
            seed,
            test: "without_the_key_an_attacker_cannot_kill_add_or_rewrite_members",
            file: "security",
        };
        let mut c = encrypted(8, seed);
        for target in 0..8 {
            for f in forgeries() {
                let wrong = sealed_with_wrong_key(&f);
                let r1 = c.with(target, |s, now| s.handle_datagram(now, 66, &f));
                let r2 = c.with(target, |s, now| s.handle_datagram(now, 66, &wrong));
                assert_eq!(r1, Err(DecodeError::Unencrypted));
                assert_eq!(r2, Err(DecodeError::Decrypt));
            }
            let pp = forged_push_pull();
            assert_eq!(c.with(target, |s, now| s.handle_stream(now, 66, &pp)), Err(DecodeError::Unencrypted));
            let wrong = sealed_with_wrong_key(&pp);
            assert_eq!(c.with(target, |s, now| s.handle_stream(now, 66, &wrong)), Err(DecodeError::Decrypt));
        }
        c.run_for(S(60));
        assert!(healthy(&c), "membership unharmed");
        assert_eq!(c.count_events(|_, e| matches!(e, Event::MemberFailed(_) | Event::MemberSuspected { .. })), 0);
        assert_eq!(c.up().map(|i| c.node(i).stats().refutations).sum::<u64>(), 0, "nothing reached anyone to refute");
    }
}

#[test]
fn the_same_forgeries_succeed_without_encryption() {
    // The control: this is what encryption prevents.
    let mut c = Cluster::new(8, Config::lan(), 420);
    c.converge(S(10));
    for f in forgeries() {
        c.with(0, |s, now| s.handle_datagram(now, 66, &f)).unwrap();
    }
    assert!(c.node(0).member("mallory").is_some());
    assert_eq!(c.node(0).member("node-4").unwrap().meta.as_ref(), b"owned");
}

#[test]
fn replayed_traffic_cannot_undo_a_refutation() {
    let mut c = encrypted(6, 430);
    c.log = Some(Vec::new());
    // A false suspicion of node 3, refuted.
    c.blackhole_inbound(3);
    assert!(c.run_until(S(20), |c| c.up().any(|o| c.view(o, 3) == Some(State::Suspect))));
    c.heal();
    assert!(c.run_until(S(20), |c| c.all_see(3, State::Alive)));
    let captured = c.log.take().unwrap();
    assert!(captured.iter().any(|(_, _, _, b)| !b.is_empty()));
    c.run_for(S(10));
    // Replay everything captured (valid, encrypted packets) into node 0.
    for (_, from, to, b) in &captured {
        if *to == 0 {
            let _ = c.with(0, |s, now| s.handle_datagram(now, *from, b));
        }
    }
    c.run_for(S(30));
    assert!(c.converged(), "stale claims in replayed packets are outranked by the refutation");
    assert_eq!(c.count_events(|_, e| matches!(e, Event::MemberFailed(_))), 0);
}

#[test]
fn labels_keep_clusters_apart_and_are_authenticated() {
    // Two clusters share a network: nodes 0-3 labelled "blue", 4-7 "green".
    let mut configs = Vec::new();
    for i in 0..8 {
        let mut cfg = Config::lan();
        cfg.label = Bytes::from_static(if i < 4 { b"blue" } else { b"green" });
        configs.push(cfg);
    }
    let mut c = Cluster::with_configs(configs, 440);
    c.strict = false;
    for i in 1..4 {
        c.with(i, |s, now| s.join(now, [0])).unwrap();
    }
    for i in 5..8 {
        c.with(i, |s, now| s.join(now, [4, 0])).unwrap(); // also tries the blue seed
    }
    c.run_for(S(10));
    for i in 0..8 {
        let own = if i < 4 { 0..4 } else { 4..8 };
        assert_eq!(c.node(i).num_members(), 4, "node {i}");
        for m in c.node(i).members() {
            let idx: usize = m.name.trim_start_matches("node-").parse().unwrap();
            assert!(own.contains(&idx), "node {i} learned {}", m.name);
        }
    }
    assert!(c.node(0).stats().decode_errors.get(DecodeError::LabelMismatch) > 0);

    // With encryption, changing the label of a captured packet breaks authentication.
    let mut cfg = Config::lan();
    cfg.label = Bytes::from_static(b"blue");
    let mut c = Cluster::new(3, cfg, 441);
    for i in 0..3 {
        c.with(i, |s, _| s.set_keyring(Some(ring(1, i))));
    }
    c.converge(S(10));
    c.log = Some(Vec::new());
    c.run_for(S(2));
    let (_, from, _, b) = c.log.take().unwrap().into_iter().find(|(_, _, to, _)| *to == 1).unwrap();
    let mut tampered = b.clone();
    let (h, _) = envelope::parse(&b).unwrap();
    assert_eq!(h.label, b"blue");
    tampered[3] = b'g'; // "blue" -> "glue", same length
    let mut cfg = Config::lan();
    cfg.label = Bytes::from_static(b"glue");
    // A member labelled "glue" holding the key still rejects it: the label is authenticated.
    let mut other = swim_core::Swim::new(cfg, swim_core::Identity::new("x", 9u32), 1, c.now).unwrap();
    other.set_keyring(Some(ring(1, 9)));
    assert_eq!(other.handle_datagram(c.now, from, &tampered), Err(DecodeError::Decrypt));
    assert!(other.handle_datagram(c.now, from, &b).is_err(), "and the original has the wrong label for it");
}

#[test]
fn a_running_cluster_migrates_to_encryption_without_a_false_suspicion() {
    let n = 8;
    let mut c = Cluster::new(n, Config::lan(), 450);
    c.converge(S(10));
    // Step 1: keyrings everywhere, still sending and accepting plaintext (rolling, one by one).
    for i in 0..n {
        c.with(i, |s, _| {
            s.set_keyring(Some(ring(1, i)));
            s.set_plaintext(true, true);
        });
        c.run_for(S(3));
    }
    // Step 2: send encrypted, still accept plaintext from members not yet switched.
    for i in 0..n {
        c.with(i, |s, _| s.set_plaintext(true, false));
        c.run_for(S(3));
    }
    // Step 3: refuse plaintext.
    for i in 0..n {
        c.with(i, |s, _| s.set_plaintext(false, false));
        c.run_for(S(3));
    }
    c.run_for(S(20));
    assert!(c.converged());
    assert_eq!(c.count_events(|_, e| matches!(e, Event::MemberSuspected { .. } | Event::MemberFailed(_))), 0);
    let forged = forgeries().remove(0);
    assert_eq!(c.with(0, |s, now| s.handle_datagram(now, 66, &forged)), Err(DecodeError::Unencrypted));
}

/// `packet` with its envelope's label replaced by `label` (empty: none), body untouched.
fn relabel(packet: &[u8], label: &[u8]) -> Vec<u8> {
    let (h, body) = envelope::parse(packet).unwrap();
    let mut out = Vec::new();
    envelope::begin(&mut out, label, h.encrypted);
    out.extend_from_slice(body);
    out
}

/// Roll the label `prod` into the running cluster `c` (every member of it, in turn, while
/// probing runs) in the three documented steps; `between` runs after each member's switch.
fn roll_out_label(c: &mut Cluster, mut between: impl FnMut(&mut Cluster, usize, usize)) {
    let steps = [(true, true), (true, false), (false, false)];
    for (step, (accept, send)) in steps.into_iter().enumerate() {
        for i in 0..c.len() {
            c.with(i, |s, _| s.set_label(Bytes::from_static(b"prod"), accept, send)).unwrap();
            c.run_for(S(3));
            between(c, step + 1, i);
        }
    }
}

/// Deliver a captured packet again to member `to`: as a datagram, or as a stream message if
/// it was one (the log does not say which channel a packet took).
fn replay(c: &mut Cluster, to: usize, from: Addr, bytes: &[u8]) -> Result<(), DecodeError> {
    match c.with(to, |s, now| s.handle_datagram(now, from, bytes)) {
        Err(DecodeError::WrongChannel) => c.with(to, |s, now| s.handle_stream(now, from, bytes)),
        r => r,
    }
}

/// A ping for `node-0` with the given label (a packet any member would answer).
fn ping(label: &[u8]) -> Vec<u8> {
    relabel(&packet(&[Message::Ping(Ping { seq: 1, target: "node-0" })]), label)
}

#[test]
fn a_running_cluster_rolls_out_a_label_without_a_false_suspicion() {
    for seed in seeds(470, 2) {
        let _g =
            SeedGuard { seed, test: "a_running_cluster_rolls_out_a_label_without_a_false_suspicion", file: "security" };
        let n = 8;
        let mut c = Cluster::new(n, Config::lan(), seed);
        c.converge(S(10));
        // `strict`: the harness fails the test if any member refuses another's packet.
        assert!(c.strict);
        roll_out_label(&mut c, |c, step, i| {
            if step == 2 {
                // Accepting unlabelled packets does not open the door to other labels.
                assert_eq!(
                    c.with(0, |s, now| s.handle_datagram(now, 66, &ping(b"test"))),
                    Err(DecodeError::LabelMismatch)
                );
                assert_eq!(c.with(0, |s, now| s.handle_datagram(now, 66, &ping(b""))), Ok(()));
            }
            if step == 2 && i == n - 1 {
                // Everyone sends the label now: no unlabelled packet arrives any more.
                let before: Vec<u64> = (0..n).map(|j| c.node(j).stats().unlabelled_accepted).collect();
                assert!(before.iter().all(|&b| b > 0), "members accepted unlabelled packets during the roll-out");
                c.run_for(S(10));
                let after: Vec<u64> = (0..n).map(|j| c.node(j).stats().unlabelled_accepted).collect();
                assert_eq!(before, after, "no unlabelled packet once every member sends the label");
            }
        });
        c.run_for(S(20));
        assert!(c.converged());
        let accused = c.count_events(|_, e| matches!(e, Event::MemberSuspected { .. } | Event::MemberFailed(_)));
        assert_eq!(accused, 0, "no suspicion, no failure during the whole migration");
        // Every packet on the wire carries the label.
        c.log = Some(Vec::new());
        c.run_for(S(3));
        assert!(c.log.as_ref().unwrap().iter().all(|(_, _, _, b)| envelope::parse(b).unwrap().0.label == b"prod"));
        // An unlabelled member is refused now, and so is another label.
        for label in [&b""[..], b"test"] {
            assert_eq!(c.with(3, |s, now| s.handle_datagram(now, 66, &ping(label))), Err(DecodeError::LabelMismatch));
        }
        let mut stranger =
            swim_core::Swim::new(Config::lan(), swim_core::Identity::new("stranger", 9u32), 1, c.now).unwrap();
        stranger.join(c.now, [0]).unwrap();
        let mut buf = Vec::new();
        let t = stranger.poll_transmit(&mut buf).unwrap();
        assert_eq!(c.with(0, |s, now| s.handle_stream(now, 9, &buf[..t.len])), Err(DecodeError::LabelMismatch));
        assert!(c.node(0).member("stranger").is_none());
    }
}

#[test]
fn an_encrypted_cluster_rolls_out_a_label_and_keeps_it_authenticated() {
    let n = 6;
    let mut c = encrypted(n, 480);
    let mut captured = None;
    roll_out_label(&mut c, |c, step, i| {
        if step == 2 && i == 0 {
            // Member 0 sends the label, the others do not yet: capture a packet of each kind
            // addressed to member 3 (a ping is answered only by the member it is meant for).
            c.log = Some(Vec::new());
            let to_3 = |c: &Cluster, from_0: bool| {
                let log = c.log.as_ref().unwrap();
                log.iter()
                    .find(|(_, from, to, _)| *to == 3 && (*from == 0) == from_0)
                    .map(|(_, from, _, b)| (*from, b.clone()))
            };
            assert!(c.run_until(S(30), |c| to_3(c, true).is_some() && to_3(c, false).is_some()));
            let (labelled, unlabelled) = (to_3(c, true).unwrap(), to_3(c, false).unwrap());
            c.log = None;
            assert_eq!(envelope::parse(&labelled.1).unwrap().0.label, b"prod");
            assert!(envelope::parse(&unlabelled.1).unwrap().0.label.is_empty());
            captured = Some((labelled, unlabelled));
        }
        if step == 2 && i == n - 1 {
            let ((from_l, labelled), (from_u, unlabelled)) = captured.clone().unwrap();
            // Stripping the label to pass as unlabelled breaks the tag; changing it is refused.
            let stripped = relabel(&labelled, b"");
            assert_eq!(c.with(3, |s, now| s.handle_datagram(now, from_l, &stripped)), Err(DecodeError::Decrypt));
            let changed = relabel(&labelled, b"prud");
            assert_eq!(c.with(3, |s, now| s.handle_datagram(now, from_l, &changed)), Err(DecodeError::LabelMismatch));
            // Adding the label to an unlabelled packet breaks the tag too.
            let added = relabel(&unlabelled, b"prod");
            assert_eq!(c.with(3, |s, now| s.handle_datagram(now, from_u, &added)), Err(DecodeError::Decrypt));
            // Genuine packets of both kinds open while unlabelled ones are accepted.
            assert_eq!(replay(c, 3, from_l, &labelled), Ok(()));
            assert_eq!(replay(c, 3, from_u, &unlabelled), Ok(()));
        }
    });
    c.run_for(S(20));
    assert!(c.converged());
    assert_eq!(c.count_events(|_, e| matches!(e, Event::MemberSuspected { .. } | Event::MemberFailed(_))), 0);
    // Step 3 done: a key holder's unlabelled packet is refused before it is even opened.
    let (_, (from_u, unlabelled)) = captured.unwrap();
    assert_eq!(replay(&mut c, 3, from_u, &unlabelled), Err(DecodeError::LabelMismatch));
}

#[test]
fn sending_a_label_before_every_member_accepts_it_is_refused() {
    // Why step 1 exists: a member that sends the label at once is refused by the others.
    let mut c = Cluster::new(4, Config::lan(), 490);
    c.converge(S(10));
    c.strict = false;
    c.with(0, |s, _| s.set_label(Bytes::from_static(b"prod"), true, false)).unwrap();
    c.run_for(S(3));
    assert!(c.node(1).stats().decode_errors.get(DecodeError::LabelMismatch) > 0);
    // And a label is validated like the configuration's.
    let long = Bytes::from(vec![b'x'; 256]);
    let r = c.with(1, |s, _| s.set_label(long, true, true));
    assert!(matches!(r, Err(swim_core::ConfigError::TooLarge { field: "label", .. })), "{r:?}");
    assert!(c.node(1).config().label.is_empty(), "a refused label changes nothing");
}

#[test]
fn keys_rotate_without_downtime() {
    let n = 8;
    let mut c = encrypted(n, 460);
    for i in 0..n {
        c.with(i, |s, _| s.keyring_mut().unwrap().add(key(2)).unwrap());
        c.run_for(S(2));
    }
    for i in 0..n {
        c.with(i, |s, _| s.keyring_mut().unwrap().make_primary(&key(2)).unwrap());
        c.run_for(S(2));
    }
    for i in 0..n {
        c.with(i, |s, _| s.keyring_mut().unwrap().remove(&key(1)).unwrap());
        c.run_for(S(2));
    }
    c.run_for(S(20));
    assert!(c.converged());
    assert_eq!(c.count_events(|_, e| matches!(e, Event::MemberSuspected { .. } | Event::MemberFailed(_))), 0);
    // A member still on the old key is now locked out.
    c.strict = false;
    c.with(3, |s, _| s.set_keyring(Some(ring(1, 3))));
    assert!(c.run_until(S(60), |c| c.view(0, 3) == Some(State::Dead)));
}

/// Junk, oversized, truncated and forged input, at volume. `claims` adds forged deaths,
/// suspicions and rewrites of honest members (which only encryption stops).
fn flood(c: &mut Cluster, target: usize, rounds: usize, claims: bool) {
    let mut rng = swim_core::rng::SwimRng::from_seed_u64(7);
    let big = vec![0x55u8; 70_000];
    let mut forged = if claims { forgeries() } else { vec![forgeries().remove(3)] };
    if claims {
        forged.push(forged_push_pull());
    }
    for r in 0..rounds {
        let junk: Vec<u8> = (0..(rng.next_u64() % 1500) as usize).map(|_| rng.next_u64() as u8).collect();
        let f = &forged[r % forged.len()];
        let wrong = sealed_with_wrong_key(f);
        let cut = &f[..(rng.next_u64() as usize) % f.len()];
        // Forged alives for ever-new names (what would fill a table without encryption).
        let name = format!("fake-{r}");
        let fake = packet(&[Message::Alive(Alive {
            incarnation: 0,
            name: &name,
            addr: 1000 + r as Addr,
            meta: b"",
            versions: swim_core::Versions::DEFAULT,
            capabilities: swim_core::Capabilities::NONE,
        })]);
        c.with(target, |s, now| {
            for b in [&junk[..], &big[..], f, &wrong[..], cut, &fake[..]] {
                let _ = s.handle_datagram(now, 66, b);
                let _ = s.handle_stream(now, 66, b);
            }
        });
        if r % 500 == 0 {
            c.run_for(Duration::from_millis(100));
        }
    }
}

#[test]
fn a_flood_leaves_memory_bounded_and_honest_membership_unharmed() {
    let mut c = encrypted(10, 470);
    c.run_for(S(5));
    let before = c.node(0).memory_usage().total();
    flood(&mut c, 0, 20_000, true);
    c.run_for(S(30));
    let after = c.node(0).memory_usage().total();
    assert!(after <= before + 64 * 1024, "memory grew from {before} to {after} bytes");
    assert!(healthy(&c));
    assert_eq!(c.count_events(|_, e| matches!(e, Event::MemberFailed(_) | Event::MemberSuspected { .. })), 0);
    let errors = c.node(0).stats().decode_errors.total();
    assert!(errors >= 20_000 * 10, "every hostile input was rejected and counted: {errors}");
}

#[test]
fn without_encryption_a_flood_of_forged_members_stays_within_the_table_bound() {
    let mut cfg = Config::lan();
    cfg.limits.max_members = 500;
    let mut c = Cluster::new(10, cfg, 480);
    c.converge(S(10));
    flood(&mut c, 0, 5_000, false);
    assert!(c.node(0).table_len() <= 500);
    assert!(c.node(0).stats().members_rejected > 0);
    let mem = c.node(0).memory_usage();
    assert!(mem.member_table < 500 * 200, "table {} bytes", mem.member_table);
    // The honest members are still there and alive.
    for i in 1..10 {
        assert_eq!(c.view(0, i), Some(State::Alive));
    }
    // Cross-check the captured-packet helper on honest traffic.
    c.log = Some(Vec::new());
    c.run_for(S(1));
    assert!(c.log.as_ref().unwrap().iter().all(|(_, _, _, b)| !messages(b).is_empty()));
}
