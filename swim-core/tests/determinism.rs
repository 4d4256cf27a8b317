//! Same seed, same inputs: the same transmits, events and deadlines, bit for bit.

mod common;

use std::time::Duration;

use common::{Cluster, Slowness};
use swim_core::Config;

/// A run with joins, a crash, a partition, loss and a starved member, reduced to a digest of
/// every transmit (time, destination, bytes) and every event.
fn digest(seed: u64) -> (u64, u64) {
    let mut c = Cluster::new(12, Config::lan(), seed);
    c.loss = 0.05;
    c.join_all(0);
    c.run_for(Duration::from_secs(10));
    c.set_slow(4, Some(Slowness { inbound: Duration::from_secs(2), timers: Duration::from_millis(100) }));
    c.crash(7);
    c.partition(&[0, 1, 2], &[3, 5, 6]);
    c.run_for(Duration::from_secs(40));
    c.heal();
    c.with(2, |s, now| s.broadcast(now, Some(b"k"), &b"v"[..])).unwrap();
    c.run_for(Duration::from_secs(30));
    (c.digest, c.delivered)
}

#[test]
fn same_seed_same_trace() {
    let a = digest(42);
    let b = digest(42);
    assert_eq!(a, b, "two runs of seed 42 diverged");
    assert!(a.1 > 1000, "the run did real work: {} deliveries", a.1);
    let c = digest(43);
    assert_ne!(a.0, c.0, "a different seed gives a different trace");
}
