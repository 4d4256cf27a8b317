//! The engine end to end: a cluster forms, a crash is detected, the same seed replays.

use std::time::Duration;

use swim_sim::faults::{FaultKind, FaultSpec, NodeSet};
use swim_sim::sim::{StartMode, StartSpec};
use swim_sim::{SimConfig, Simulation};

const S: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn warm_cluster_detects_a_crash() {
    let mut cfg = SimConfig::new(20, 1);
    cfg.faults.insert("crash".into(), FaultSpec::new(FaultKind::Crash, S(10), NodeSet::List(vec![7])));
    let mut sim = Simulation::new(cfg).unwrap();
    assert!(sim.converged());
    sim.run_for(S(60)).unwrap();
    let d = &sim.truth().detections;
    assert_eq!(d.len(), 1);
    println!("{:?}", d[0]);
    assert!(d[0].all_failed.is_some());
    assert!(sim.converged());
    assert_eq!(sim.truth().fp.events, 0);
    println!("{:?}", sim.stats());
}

#[test]
fn join_mode_converges() {
    let mut cfg = SimConfig::new(50, 2);
    cfg.start = StartSpec { mode: StartMode::Join, window: S(5).into(), ..StartSpec::default() };
    let mut sim = Simulation::new(cfg).unwrap();
    let ok = sim.run_until(S(60), |s| s.now() > swim_core::Instant::from_secs(5) && s.converged()).unwrap();
    println!("converged at {:?}, distinct sizes {}", sim.now(), sim.truth().distinct_sizes);
    assert!(ok);
}
