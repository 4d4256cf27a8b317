//! The latency model and the `coordinates` scenario (issue 15, point 2): true RTTs follow the
//! model, measuring coordinates changes no trace, and swim-core's Vivaldi coordinates reach
//! the target (median relative error <= 15 % within 5 virtual minutes) at 100
//! members, clean and under 1 % loss with a CPU-starved member.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use swim_sim::network::{LatencyModel, RttMatrix, SpaceSpec};
use swim_sim::report::ScenarioReport;
use swim_sim::runner::{self, PlanOptions};
use swim_sim::scenario::{Scenario, parse_set};
use swim_sim::{SimConfig, Simulation};

fn run(s: &Scenario, variant: &str) -> ScenarioReport {
    let opts = PlanOptions { source: "coordinates".into(), variant: Some(variant.into()), ..PlanOptions::default() };
    let plans = runner::plan(s, &opts).unwrap();
    let runs = runner::run_all(&plans, 2, u64::MAX, &AtomicU64::new(0), &|_| {});
    ScenarioReport::new(s, runs)
}

/// The built-in scenario at 100 members for 5 virtual minutes, with `sets` on top.
fn coordinates(variant: &str, sets: &[&str]) -> ScenarioReport {
    let sets: Vec<_> = ["duration=\"300s\""].iter().chain(sets).map(|s| parse_set(s).unwrap()).collect();
    let s = Scenario::builtin("coordinates", &sets).unwrap().unwrap();
    run(&s, variant)
}

fn assert_target(r: &ScenarioReport) {
    let text = swim_sim::report::render(r);
    println!("{text}");
    let target = r.coordinate_target.as_ref().expect("the scenario states its target");
    assert_eq!((target.error, target.within), (0.15, Some(300.0)));
    let run = &r.runs[0];
    assert_eq!(run.violation, None, "{text}");
    assert_eq!(run.coordinates.len(), 10, "every 30 s for 300 s: {text}");
    let last = run.coordinates.last().unwrap();
    assert!(last.pairs > 4800, "nearly all 4950 pairs measured: {}", last.pairs);
    assert!(target.met(run), "median relative error <= 15 % at 5 min (replay: {}):\n{text}", run.replay);
    assert!(text.contains("median <= 15 % within 5 min, measured worst"), "{text}");
    assert!(text.contains(": reached"), "{text}");
}

#[test]
fn coordinates_reach_the_target_at_100_members() {
    assert_target(&coordinates("100 / clean", &[]));
}

#[test]
fn coordinates_reach_the_target_under_loss_with_a_starved_member() {
    assert_target(&coordinates("100 / loss+starved", &[]));
}

/// Stable, not only reached: with Serf's mean adjustment the starved member's late answers
/// dragged every member's adjustment term and the median error climbed back past 15 % after
/// about 17 virtual minutes (16.7 % at 1050 s, seed 1); the median adjustment holds it.
#[test]
fn coordinates_stay_within_the_target_for_20_minutes_with_a_starved_member() {
    let r = coordinates("100 / loss+starved", &["duration=\"1200s\""]);
    let text = swim_sim::report::render(&r);
    let run = &r.runs[0];
    assert_eq!(run.violation, None, "{text}");
    assert_eq!(run.coordinates.len(), 40, "every 30 s for 1200 s: {text}");
    let target = r.coordinate_target.as_ref().expect("the scenario states its target");
    assert!(target.met(run), "median relative error <= 15 % from 5 min to 20 min (replay: {}):\n{text}", run.replay);
}

#[test]
fn measuring_coordinates_changes_no_trace() {
    let on = coordinates("100 / clean", &["duration=\"60s\"", "report.target_coordinate_within=\"60s\""]);
    let off = coordinates(
        "100 / clean",
        &["duration=\"60s\"", "report.target_coordinate_within=\"60s\"", "metrics.coordinate_interval=\"0s\""],
    );
    assert_eq!(on.runs[0].coordinates.len(), 2);
    assert!(off.runs[0].coordinates.is_empty());
    assert_eq!(on.runs[0].digest, off.runs[0].digest, "measurements are not events");
}

#[test]
fn the_default_network_has_no_latency_model() {
    // latency 500 µs + jitter mean 100 µs, each way.
    let sim = Simulation::new(SimConfig::new(3, 1)).unwrap();
    assert_eq!(sim.true_rtt(0, 1), Duration::from_micros(1200));
    assert!(matches!(sim.network().model(), LatencyModel::Off));
}

#[test]
fn true_rtts_follow_the_space_and_are_seeded() {
    let mut cfg = SimConfig::new(50, 4);
    cfg.network.space = Some(SpaceSpec { clusters: 2, ..SpaceSpec::default() });
    let a = Simulation::new(cfg.clone()).unwrap();
    let b = Simulation::new(cfg.clone()).unwrap();
    cfg.seed = 5;
    let c = Simulation::new(cfg).unwrap();
    let rtts = |s: &Simulation| (1..50).map(|i| s.true_rtt(0, i)).collect::<Vec<_>>();
    assert_eq!(rtts(&a), rtts(&b), "the same seed places members at the same points");
    assert_ne!(rtts(&a), rtts(&c), "another seed elsewhere");
    // Two data centres: some pairs share one (a few ms apart), the others are far apart in a
    // 100 ms box.
    let near = rtts(&a).iter().filter(|d| **d < Duration::from_millis(12)).count();
    assert!((5..45).contains(&near), "{near} of 49 near member 0: {:?}", rtts(&a));
    for i in 0..50 {
        for j in 0..50 {
            assert_eq!(a.true_rtt(i, j), a.true_rtt(j, i), "symmetric");
        }
    }
}

#[test]
fn an_rtt_matrix_file_sets_the_true_rtts() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/data/rtt-example.txt");
    let m = RttMatrix::load(path).unwrap();
    assert_eq!(m.members(), 64);
    let text = format!(
        "name = \"matrix\"\nnodes = 64\nduration = \"60s\"\n[network]\nlatency = \"0s\"\njitter = \"0s\"\nrtt_matrix = \"{path}\"\n"
    );
    let s = Scenario::parse(&text, &[]).unwrap();
    let sim = Simulation::new(s.variants[0].spec.sim_config(1)).unwrap();
    // Row 0 starts `0 75.03`, row 1 `72.94 0` (see the file): the mean of the two directions.
    let first: Vec<f64> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .take(2)
        .map(|l| l.split_whitespace().nth(if l.starts_with("0 ") { 1 } else { 0 }).unwrap().parse().unwrap())
        .collect();
    let expected = (first[0] + first[1]) / 2.0;
    let got = sim.true_rtt(0, 1).as_secs_f64() * 1e3;
    assert!((got - expected).abs() < 1e-3, "true rtt {got} ms, matrix mean {expected} ms");
    // More members than the file describes: refused before anything runs.
    let e = Scenario::parse(&text.replace("nodes = 64", "nodes = 65"), &[]).unwrap_err();
    assert!(e.contains("field `network.rtt_matrix`") && e.contains("describes 64 members, the cluster has 65"), "{e}");
}
