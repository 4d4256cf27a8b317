//! Simulator throughput: messages delivered per second of wall time in a steady, warm-started
//! LAN cluster (the figure a later issue sets at 2 million per second on one core).
//!
//! `cargo bench -p swim-sim --bench throughput`; criterion reports "elements" per second,
//! and one element is one delivered message.

use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use swim_core::Instant;
use swim_sim::{SimConfig, Simulation};

/// A warm cluster of `n`, run past the start-up push-pull burst, ready to be stepped.
fn cluster(n: usize) -> Simulation {
    let mut cfg = SimConfig::new(n, 7);
    cfg.duration = Duration::from_secs(3600);
    cfg.sample_interval = Duration::ZERO;
    let mut sim = Simulation::new(cfg).expect("valid config");
    // Every member's first push-pull falls in the first 30 s; measure the steady state after.
    sim.run_until_time(Instant::from_secs(31)).expect("no violation");
    sim
}

fn steady_state(c: &mut Criterion) {
    let mut g = c.benchmark_group("steady_state_10_virtual_seconds");
    g.sample_size(10);
    for n in [100usize, 1000] {
        // Runs are deterministic: count the messages of one to set the throughput.
        let mut probe = cluster(n);
        let before = probe.stats().delivered;
        probe.run_for(Duration::from_secs(10)).expect("no violation");
        g.throughput(Throughput::Elements(probe.stats().delivered - before));
        g.bench_function(format!("{n}_members"), |b| {
            b.iter_batched(
                || cluster(n),
                |mut sim| {
                    sim.run_for(Duration::from_secs(10)).expect("no violation");
                    sim
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, steady_state);
criterion_main!(benches);
