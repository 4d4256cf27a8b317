//! Same seed, same inputs: the same transmits, events and deadlines, bit for bit; and the
//! digests of two fixed runs (plaintext, and encrypted with a keyring) pinned in
//! `tests/golden/digests.txt`, so that a change of behaviour is deliberate. Regenerate with
//! `SWIM_UPDATE_GOLDEN=1 cargo test -p swim-core --all-features --test determinism` and say
//! why in the commit message.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use common::{Cluster, Slowness};
use swim_core::Config;

/// A run with joins, a crash, a partition, loss and a starved member, reduced to a digest of
/// every transmit (time, destination, bytes) and every event.
fn digest(seed: u64, encrypted: bool) -> (u64, u64) {
    let mut c = Cluster::new(12, Config::lan(), seed);
    if encrypted {
        encrypt(&mut c);
    }
    c.loss = 0.05;
    c.join_all(0);
    c.run_for(Duration::from_secs(10));
    c.set_slow(4, Some(Slowness { inbound: Duration::from_secs(2), timers: Duration::from_millis(100) }));
    c.crash(7);
    c.partition(&[0, 1, 2], &[3, 5, 6]);
    c.run_for(Duration::from_secs(40));
    c.heal();
    c.with(2, |s, now| s.broadcast(now, Some(b"k"), &b"v"[..])).unwrap();
    c.with(3, |s, now| s.send_user_message(now, 5, &b"reliable"[..], true)).unwrap();
    c.run_for(Duration::from_secs(30));
    (c.digest, c.delivered)
}

#[cfg(feature = "encryption")]
fn encrypt(c: &mut Cluster) {
    use swim_core::security::{Cipher, Key, Keyring};
    for i in 0..c.len() {
        let ring = Keyring::new(Cipher::Aes256Gcm, Key::from_bytes([7; 32]), (i as u64 + 1).to_le_bytes());
        c.with(i, |s, _| s.set_keyring(Some(ring)));
    }
}

#[cfg(not(feature = "encryption"))]
fn encrypt(_: &mut Cluster) {
    unreachable!("the encrypted case runs only with the `encryption` feature")
}

#[test]
fn same_seed_same_trace() {
    let a = digest(42, false);
    let b = digest(42, false);
    assert_eq!(a, b, "two runs of seed 42 diverged");
    assert!(a.1 > 1000, "the run did real work: {} deliveries", a.1);
    let c = digest(43, false);
    assert_ne!(a.0, c.0, "a different seed gives a different trace");
}

#[test]
fn trace_digests_match_the_committed_golden_file() {
    let mut now = BTreeMap::new();
    for seed in [42, 43] {
        now.insert(format!("plaintext seed {seed}"), format!("{:016x}", digest(seed, false).0));
        if cfg!(feature = "encryption") {
            now.insert(format!("encrypted seed {seed}"), format!("{:016x}", digest(seed, true).0));
        }
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/digests.txt");
    if std::env::var_os("SWIM_UPDATE_GOLDEN").is_some() {
        if !cfg!(feature = "encryption") {
            panic!("regenerate with --all-features so that every case is written");
        }
        let mut text = String::from(
            "# Trace digests of tests/determinism.rs's golden cases. A change here is a change of\n\
             # behaviour: regenerate with\n\
             # `SWIM_UPDATE_GOLDEN=1 cargo test -p swim-core --all-features --test determinism`\n\
             # and say why in the commit message.\n",
        );
        for (case, d) in &now {
            text.push_str(&format!("{case} = {d}\n"));
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let golden: BTreeMap<&str, &str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.rsplit_once(" = "))
        .collect();
    for (case, d) in &now {
        assert_eq!(
            golden.get(case.as_str()).copied(),
            Some(d.as_str()),
            "{case}: behaviour changed (digest now {d}); if deliberate, regenerate with\n    \
             SWIM_UPDATE_GOLDEN=1 cargo test -p swim-core --all-features --test determinism\n\
             and say why in the commit message"
        );
    }
}
