//! Swarm testing: each seed draws a cluster, a configuration, a network and a fault schedule,
//! runs it, and checks the invariants; after the faults heal the cluster must converge.
//!
//! The draw uses its own stream of the seed ([`Stream::Swarm`]), so the drawn case is a
//! pure function of the seed: `swim-sim swarm --seed S` replays it. Every drawn fault heals
//! (transient faults get a duration, background loss included; crashes and leaves spare at
//! least two members), so the liveness check always applies. A quarter of the cases run in Go
//! memberlist's wire profile ([`MEMBERLIST_SHARE`]).

use std::collections::BTreeMap;
use std::time::Duration;

use swim_core::Config;

use crate::dist::Dist;
use crate::duration::Dur;
use crate::faults::{FaultKind, FaultSpec, NodeSet, RestartIncarnation, Selector};
use crate::network::NetworkSpec;
use crate::rng::{SimRng, Stream};
use crate::runner::RunPlan;
use crate::scenario::convergence_bound;
use crate::sim::{SimConfig, StartMode, StartSpec};

/// Largest cluster the swarm draws.
pub const MAX_NODES: u64 = 32;

/// Share of the cases whose members speak Go memberlist's wire profile
/// ([`Config::memberlist_wire`]); the others speak swim's own.
pub const MEMBERLIST_SHARE: f64 = 0.25;

fn ms(rng: &mut SimRng, lo: u64, hi: u64) -> Duration {
    Duration::from_millis(rng.range_u64(lo, hi))
}

/// The case of `seed`.
pub fn draw(seed: u64) -> RunPlan {
    let mut r = SimRng::derive(seed, Stream::Swarm, 0);
    let nodes = r.range_u64(3, MAX_NODES) as usize;
    let mut config = if r.chance(0.3) { Config::local() } else { Config::lan() };
    let lg = &mut config.lifeguard;
    lg.awareness = r.chance(0.5);
    lg.scale_probe_timeout = r.chance(0.5);
    lg.nack = r.chance(0.5);
    lg.dynamic_suspicion = r.chance(0.5);
    lg.buddy = r.chance(0.5);
    lg.awareness_max_multiplier = r.range_u64(1, 8) as u32;
    config.indirect_checks = r.range_u64(0, 4) as usize;
    config.gossip_nodes = r.range_u64(1, 4) as usize;
    config.retransmit_mult = r.range_u64(1, 5) as u32;
    config.suspicion_mult = r.range_u64(2, 6) as u32;
    config.suspicion_max_timeout_mult = r.range_u64(1, 6) as u32;
    config.gossip_interval = ms(&mut r, 50, 400);
    if r.chance(0.3) {
        // Small datagrams: metadata and user broadcasts must still fit one.
        config.packet_budget = 512;
        config.max_metadata_size = 128;
        config.limits.max_user_broadcast_size = 128;
    }
    if r.chance(0.2) {
        config.limits.broadcast_queue_depth = r.range_u64(4, 64) as usize;
    }
    if r.chance(0.2) {
        config.limits.max_pending_transmits = r.range_u64(8, 64) as usize;
    }
    let network = NetworkSpec {
        latency: Dist::constant(Duration::from_micros(r.range_u64(50, 5000))),
        jitter: Dist::exponential(Duration::from_micros(r.range_u64(0, 2000))),
        duplicate: if r.chance(0.3) { r.unit() * 0.05 } else { 0.0 },
        reorder: if r.chance(0.3) { r.unit() * 0.05 } else { 0.0 },
        ..NetworkSpec::default()
    };
    let start = StartSpec {
        mode: if r.chance(0.5) { StartMode::Warm } else { StartMode::Join },
        window: Dur(ms(&mut r, 0, 10_000)),
        ..StartSpec::default()
    };
    let mut faults = BTreeMap::new();
    // Background loss is a fault too: liveness is judged once the network is clean again.
    if r.chance(0.5) {
        let mut noise = FaultSpec::new(FaultKind::Loss, Duration::ZERO, NodeSet::default());
        noise.loss = Some(r.unit() * 0.02);
        noise.duration = Some(Dur(Duration::from_secs(r.range_u64(10, 100))));
        faults.insert("noise".to_string(), noise);
    }
    let mut budget = nodes.saturating_sub(2) as u32; // members that may crash or leave for good
    let kinds = [
        FaultKind::Crash,
        FaultKind::Leave,
        FaultKind::Restart,
        FaultKind::Slow,
        FaultKind::Partition,
        FaultKind::Blackhole,
        FaultKind::FlipFlop,
        FaultKind::Clog,
        FaultKind::Loss,
        FaultKind::UpdateMetadata,
    ];
    for k in 0..r.range_u64(0, 6) {
        let kind = kinds[r.below(kinds.len())];
        let at = Duration::from_secs(r.range_u64(5, 60));
        let count = r.range_u64(1, (nodes as u64 / 3).max(1)) as u32;
        let mut f = FaultSpec::new(kind, at, NodeSet::Select(Selector::Random(count)));
        f.exclude = vec!["seeds".into()];
        let lasting = Dur(Duration::from_secs(r.range_u64(1, 40)));
        match kind {
            FaultKind::Crash | FaultKind::Leave => {
                let c = count.min(budget);
                if c == 0 {
                    continue;
                }
                budget -= c;
                f.nodes = NodeSet::Select(Selector::Random(c));
            }
            FaultKind::Restart => {
                f.down = Some(Dur(Duration::from_secs(r.range_u64(0, 20))));
                f.incarnation = Some(match r.below(3) {
                    0 => RestartIncarnation::Zero,
                    1 => RestartIncarnation::Next,
                    _ => RestartIncarnation::Clock,
                });
            }
            FaultKind::Slow => {
                f.delay = Some(Dist::uniform(Duration::ZERO, ms(&mut r, 10, 3000)));
                f.in_order = Some(r.chance(0.5));
                f.duration = Some(lasting);
            }
            FaultKind::Partition => {
                f.one_way = Some(r.chance(0.3));
                f.exclude.clear();
                f.duration = Some(lasting);
            }
            FaultKind::Blackhole => {
                f.inbound = Some(r.chance(0.7));
                f.outbound = Some(r.chance(0.7));
                f.duration = Some(lasting);
            }
            FaultKind::FlipFlop => {
                f.on = Some(Dur(ms(&mut r, 1000, 20_000)));
                f.off = Some(Dur(ms(&mut r, 1000, 20_000)));
                f.duration = Some(lasting);
            }
            FaultKind::Clog => f.duration = Some(Dur(ms(&mut r, 100, 20_000))),
            FaultKind::Loss => {
                f.loss = Some(r.unit() * 0.9);
                f.duration = Some(lasting);
            }
            _ => {}
        }
        faults.insert(format!("f{k}-{kind:?}").to_lowercase(), f);
    }
    // Drawn last, so that the draws above (and every earlier swarm case) are unchanged.
    if r.chance(0.5) {
        let hold_down = Duration::from_secs(r.range_u64(10, 120));
        config.damping = Some(swim_core::Damping { hold_down, ..swim_core::Damping::default() });
    }
    // Drawn after damping for the same reason: a quarter of the cases speak Go memberlist's
    // wire profile (push-pulls answered on their connection, see `crate::connections`).
    if r.chance(MEMBERLIST_SHARE) {
        config = config.memberlist_wire();
    }
    let mut sim = SimConfig::new(nodes, seed);
    sim.config = config;
    sim.network = network;
    sim.start = start;
    sim.faults = faults;
    sim.sample_interval = Duration::from_secs(5);
    let bound = convergence_bound(&sim);
    // Faults start by 60 s and last at most 40 s (plus a 20 s restart downtime); background
    // loss ends by 100 s.
    sim.duration = Duration::from_secs(130) + bound;
    RunPlan {
        scenario: "swarm".into(),
        variant: String::new(),
        repetition: 0,
        converge_within: Some(bound),
        stop_when_converged: true,
        replay: format!("swim-sim swarm --seed {seed}"),
        sim,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_pure_functions_of_the_seed() {
        let a = draw(11);
        let b = draw(11);
        assert_eq!(format!("{:?}", a.sim), format!("{:?}", b.sim));
        let c = draw(12);
        assert_ne!(format!("{:?}", a.sim), format!("{:?}", c.sim));
        for s in 0..200 {
            let p = draw(s);
            p.sim.config.validate().unwrap_or_else(|e| panic!("seed {s}: {e}"));
            assert!((3..=MAX_NODES as usize).contains(&p.sim.nodes));
        }
    }
}
