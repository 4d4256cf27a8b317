//! Writes the seed corpus: real packets captured from a small in-process cluster, plaintext
//! and encrypted, plus structured plans for the cluster target. Deterministic: rerunning it
//! rewrites the same files.
//!
//!     cargo run -p swim-fuzz --example seed_corpus

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};
use swim_core::security::Cipher;
use swim_core::wire::frame;
use swim_core::{Config, Identity, Instant, Swim, TransmitKind};
use swim_fuzz::{Op, Plan, fuzz_keyring};

/// Run four members for a while (one crashes, one updates its metadata and broadcasts) and
/// return every packet sent, with its kind.
fn capture(encrypted: bool) -> Vec<(TransmitKind, Vec<u8>)> {
    let mut now = Instant::ZERO;
    let mut nodes: Vec<Swim<u32>> = (0..4u32)
        .map(|i| Swim::new(Config::lan(), Identity::new(format!("node-{i}"), i), i as u64, now).unwrap())
        .collect();
    if encrypted {
        for n in &mut nodes {
            n.set_keyring(Some(fuzz_keyring(Cipher::Aes256Gcm)));
        }
    }
    for n in nodes.iter_mut().skip(1) {
        n.join(now, [0]).unwrap();
    }
    let mut sent = Vec::new();
    let mut buf = Vec::new();
    let mut up = [true; 4];
    let end = Instant::from_secs(40);
    while now < end {
        if now >= Instant::from_secs(10) && up[3] {
            up[3] = false;
            nodes[2].update_metadata(now, &b"zone=b"[..]).unwrap();
            nodes[1].broadcast(now, Some(b"k"), &b"payload"[..]).unwrap();
            nodes[0].send_user_message(now, 1, &b"hello"[..], false).unwrap();
            nodes[0].send_user_message(now, 2, &b"reliable"[..], true).unwrap();
        }
        let mut inflight = Vec::new();
        for (i, n) in nodes.iter_mut().enumerate() {
            while let Some(t) = n.poll_transmit(&mut buf) {
                sent.push((t.kind, buf.clone()));
                inflight.push((i as u32, t.destination, t.kind, buf.clone()));
            }
            while n.poll_event().is_some() {}
        }
        if !inflight.is_empty() {
            for (from, to, kind, bytes) in inflight {
                if (to as usize) < 4 && up[to as usize] {
                    let n = &mut nodes[to as usize];
                    let _ = match kind {
                        TransmitKind::Datagram => n.handle_datagram(now, from, &bytes),
                        TransmitKind::Stream => n.handle_stream(now, from, &bytes),
                    };
                }
            }
            continue;
        }
        now = (0..4).filter(|&i| up[i]).map(|i| nodes[i].poll_timeout()).min().unwrap();
        for i in 0..4 {
            if up[i] && nodes[i].poll_timeout() <= now {
                nodes[i].handle_timeout(now);
            }
        }
    }
    sent
}

/// Keep up to `per_kind` packets per distinct first message tag and size class.
fn pick(packets: &[(TransmitKind, Vec<u8>)], kind: TransmitKind, per_class: usize) -> Vec<Vec<u8>> {
    let mut classes: BTreeMap<(usize, usize), Vec<Vec<u8>>> = BTreeMap::new();
    for (k, p) in packets {
        if *k != kind {
            continue;
        }
        let class = (p.get(2).copied().unwrap_or(0) as usize, p.len() / 64);
        let v = classes.entry(class).or_default();
        if v.len() < per_class && !v.contains(p) {
            v.push(p.clone());
        }
    }
    classes.into_values().flatten().collect()
}

/// Whether `bytes` make a plan of at least three members (Lifeguard or plain SWIM as
/// `plain` says) with at least six steps of at least four kinds, some of them letting a
/// second or more pass.
fn busy(bytes: &[u8], plain: bool) -> bool {
    let Ok(plan) = Plan::arbitrary(&mut Unstructured::new(bytes)) else { return false };
    let kinds: HashSet<_> = plan.ops.iter().map(std::mem::discriminant).collect();
    let runs = plan.ops.iter().filter(|op| matches!(op, Op::Run(ms) if *ms >= 1000)).count();
    plan.size % 7 >= 1 && plan.plain == plain && plan.ops.len() >= 6 && kinds.len() >= 4 && runs >= 1
}

fn write(dir: &Path, name: &str, data: &[u8]) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join(name), data).unwrap();
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let plain = capture(false);
    let sealed = capture(true);

    for (i, p) in pick(&plain, TransmitKind::Datagram, 3).iter().enumerate() {
        write(&root.join("datagram"), &format!("seed-{i:03}"), p);
    }
    for (i, p) in pick(&plain, TransmitKind::Stream, 6).iter().enumerate() {
        let mut framed = Vec::new();
        frame::encode(p, &mut framed);
        frame::encode(p, &mut framed); // two frames on one connection
        write(&root.join("stream"), &format!("seed-{i:03}"), &framed);
    }
    // decrypt: mode 0 = a sealed packet as sent; mode 2 = plaintext messages to seal.
    for (i, p) in pick(&sealed, TransmitKind::Datagram, 2).iter().enumerate() {
        let mut d = vec![0u8];
        d.extend_from_slice(p);
        write(&root.join("decrypt"), &format!("sealed-{i:03}"), &d);
    }
    for (i, p) in pick(&plain, TransmitKind::Datagram, 1).iter().enumerate() {
        let mut d = vec![2u8];
        d.extend_from_slice(&p[2..]); // messages without the envelope header
        write(&root.join("decrypt"), &format!("plain-{i:03}"), &d);
    }
    // cluster: byte strings that `arbitrary` shapes into busy plans. Uniform random bytes end
    // a plan's list of steps after about two (each step is preceded by a "one more?" byte
    // whose low bit must be set), so draw bytes with that bit mostly set and keep, for each
    // length, the first string whose plan has several kinds of step and lets time pass, with
    // Lifeguard on in every other one.
    let mut rng = swim_core::rng::SwimRng::from_seed_u64(1);
    for (i, len) in [64usize, 128, 192, 256, 384, 512, 768, 1024].iter().enumerate() {
        let bytes = loop {
            let bytes: Vec<u8> = (0..*len)
                .map(|_| {
                    let b = rng.next_u64();
                    (b as u8) | u8::from(b >> 32 & 0xf != 0)
                })
                .collect();
            if busy(&bytes, i % 2 == 1) {
                break bytes;
            }
        };
        write(&root.join("cluster"), &format!("seed-{i:03}"), &bytes);
    }
    // memberlist: the messages memberlist's own code encoded (swim-core's golden fixtures), as
    // packets (mode 0) and as streams (mode 1, each message twice, back to back).
    let fixtures = include_str!("../../swim-core/tests/golden/memberlist.txt");
    for (i, line) in fixtures.lines().enumerate() {
        let (name, hex) = line.split_once(' ').expect("a fixture line is `name hex`");
        let bytes: Vec<u8> =
            (0..hex.len()).step_by(2).map(|j| u8::from_str_radix(&hex[j..j + 2], 16).unwrap()).collect();
        let stream = name.starts_with("push-pull") || name.ends_with("-stream") || name == "err";
        let mut d = vec![u8::from(stream)];
        d.extend_from_slice(&bytes);
        if stream {
            d.extend_from_slice(&bytes);
        }
        write(&root.join("memberlist"), &format!("{name}-{i:03}"), &d);
    }
    for t in ["datagram", "stream", "decrypt", "memberlist", "cluster"] {
        println!("{t}: {} inputs", fs::read_dir(root.join(t)).unwrap().count());
    }
}
