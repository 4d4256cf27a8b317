//! Scenario files and the runner: built-ins parse, the smoke scenario passes its checks, a
//! broken setup fails its liveness check with a replay command, and a small Lifeguard
//! experiment shows the effect the full one measures.

use std::sync::atomic::AtomicU64;

use swim_sim::report::ScenarioReport;
use swim_sim::runner::{self, PlanOptions};
use swim_sim::scenario::Scenario;

fn run(s: &Scenario, opts: &PlanOptions) -> ScenarioReport {
    let plans = runner::plan(s, opts).unwrap();
    let runs = runner::run_all(&plans, 2, u64::MAX, &AtomicU64::new(0), &|_| {});
    ScenarioReport::new(s, runs)
}

#[test]
fn smoke_scenario_passes_and_replays_identically() {
    let s = Scenario::builtin("smoke", &[]).unwrap().unwrap();
    let opts = PlanOptions { source: "smoke".into(), ..PlanOptions::default() };
    let a = run(&s, &opts);
    let b = run(&s, &opts);
    let r = &a.runs[0];
    assert_eq!(r.violation, None, "{}", swim_sim::report::render(&a));
    assert_eq!(r.digest, b.runs[0].digest, "same seed, same digest");
    assert_eq!(r.detection.crashes, 2, "the crash and the restart's crash");
    assert!(r.detection.all_failed.is_some());
    assert!(r.convergence.at_end && r.convergence.after_heal.is_some());
    assert_eq!(r.spread.joins, (16, 16), "every member (the seed too) reached every other");
    assert_eq!(r.spread.updates, (2, 2), "both metadata updates reached every member");
    assert!(r.replay.contains("swim-sim run smoke") && r.replay.contains("--seed 1"));
    let text = swim_sim::report::render(&a);
    assert!(text.contains("Failure detection") && text.contains("Membership"));
}

#[test]
fn runs_over_the_memory_budget_wait_their_turn_and_give_the_same_results() {
    // A 1-byte budget admits one run at a time: all of them still run, in plan order, with
    // the results they have when run side by side.
    let s = Scenario::builtin("smoke", &[]).unwrap().unwrap();
    let opts = PlanOptions { source: "smoke".into(), repeat: Some(4), ..PlanOptions::default() };
    let plans = runner::plan(&s, &opts).unwrap();
    assert_eq!(plans.len(), 4);
    assert!(runner::estimated_memory(&plans[0]) > 1);
    let side_by_side = runner::run_all(&plans, 2, u64::MAX, &AtomicU64::new(0), &|_| {});
    let done = std::sync::atomic::AtomicUsize::new(0);
    let one_by_one = runner::run_all(&plans, 3, 1, &AtomicU64::new(0), &|_| {
        done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(done.into_inner(), 4);
    let digests =
        |runs: &[swim_sim::metrics::RunReport]| runs.iter().map(|r| (r.seed, r.digest.clone())).collect::<Vec<_>>();
    assert_eq!(digests(&one_by_one), digests(&side_by_side));
}

#[test]
fn a_partition_that_never_heals_fails_liveness_with_a_replay_command() {
    // Without the reconnect timer, halves that buried each other never meet again
    // (memberlist's behaviour, its issue #222): the liveness check must catch it.
    let text = r#"
        name = "no-reconnect"
        nodes = 8
        duration = "400s"
        [config]
        reconnect_interval = "off"
        [faults.split]
        kind = "partition"
        at = "10s"
        duration = "100s"
        nodes = [0, 1, 2, 3]
    "#;
    let s = Scenario::parse(text, &[]).unwrap();
    let r = run(&s, &PlanOptions { source: "no-reconnect.toml".into(), ..PlanOptions::default() });
    let v = r.runs[0].violation.as_deref().expect("liveness violation");
    assert!(v.contains("liveness") && v.contains("seed 0"), "{v}");
    assert!(v.contains("replay: swim-sim run no-reconnect.toml --seed 0 --repeat 1"), "{v}");
}

#[test]
fn every_builtin_scenario_is_well_formed() {
    for (name, _) in swim_sim::scenario::BUILTINS {
        let s = Scenario::builtin(name, &[]).unwrap().unwrap();
        let plans = runner::plan(&s, &PlanOptions { source: name.to_string(), ..PlanOptions::default() }).unwrap();
        assert!(!plans.is_empty());
        for p in &plans {
            // The schedule expands (random node choices resolve) for every variant.
            runner::describe(p).unwrap_or_else(|e| panic!("{name} / {}: {e}", p.variant));
        }
    }
}

#[test]
fn lifeguard_protects_healthy_members_from_a_slow_accuser() {
    // The built-in `lifeguard` experiment, scaled down: 40 members, 2 slow, 300 s.
    let sets = ["nodes=40", "duration=\"300s\"", "faults.crashes.count=8", "faults.slow.nodes={ random = 2 }"]
        .map(|s| swim_sim::scenario::parse_set(s).unwrap());
    let s = Scenario::builtin("lifeguard", &sets).unwrap().unwrap();
    let mut fp = std::collections::BTreeMap::new();
    for v in ["swim / 2 slow", "lifeguard / 2 slow"] {
        let r = run(&s, &PlanOptions { source: "lifeguard".into(), variant: Some(v.into()), ..PlanOptions::default() });
        let run = &r.runs[0];
        assert_eq!(run.violation, None);
        assert!(run.detection.detected_by_all >= 7, "crashes are still detected: {:?}", run.detection);
        fp.insert(v, (run.false_positives.healthy_victims, run.false_positives.false_suspicions));
    }
    let (swim, lg) = (fp["swim / 2 slow"], fp["lifeguard / 2 slow"]);
    assert!(swim.1 > 0, "slow members make plain SWIM suspect healthy ones: {fp:?}");
    assert!(lg.1 < swim.1, "Lifeguard suspects less: {fp:?}");
    assert!(lg.0 <= swim.0, "and declares no more healthy members dead: {fp:?}");
}

/// The rolling upgrade (issue 14, point 4): 100 members restarted one by one from protocol
/// 1..=1 into 1..=2, half then all, while two members that share no version with the cluster
/// try to join. Every target the CLI prints is asserted here, at full size.
#[test]
fn rolling_upgrade_meets_its_targets() {
    let s = Scenario::builtin("rolling-upgrade", &[]).unwrap().unwrap();
    let r = run(&s, &PlanOptions { source: "rolling-upgrade".into(), ..PlanOptions::default() });
    let text = swim_sim::report::render(&r);
    println!("{text}");
    let run = &r.runs[0];
    assert_eq!(run.violation, None, "{text}");
    assert_eq!(run.false_positives.events, 0, "no live member declared failed");
    assert_eq!(run.versions.compatible_refused, 0, "no compatible member refused");
    assert!(run.convergence.at_end, "every member agrees on the 100 at the end");
    // Packets per envelope version, per phase: none at 2 before the upgrade, some once half
    // the members speak it, and nearly all once every member does.
    let share = |phase: usize| {
        let p = &run.versions.packets[phase];
        let total: u64 = p.values().sum();
        p.get(&2).copied().unwrap_or(0) as f64 / total.max(1) as f64
    };
    assert_eq!(run.phases.len(), 5);
    assert_eq!(share(0), 0.0, "all on 1..=1");
    assert!(share(2) > 0.15 && share(2) < 0.5, "half on 1..=2: v2 between upgraded pairs only ({})", share(2));
    assert!(share(4) > 0.99, "all on 1..=2: v2 nearly everywhere ({})", share(4));
    assert!(run.versions.packets.iter().all(|p| p.keys().all(|v| [1, 2].contains(v))), "members send 1 or 2 only");
    // Both outsiders: refused by every member they reached, never held alive.
    assert_eq!(run.versions.outsiders.len(), 2);
    for (node, o) in &run.versions.outsiders {
        assert!(o.sent > 0 && !o.reached.is_empty(), "node-{node} reached someone");
        let refusing: std::collections::BTreeSet<u32> = o.refused_by.union(&o.rejected_by).copied().collect();
        assert!(o.reached.is_subset(&refusing), "node-{node}: {o:?}");
        assert_eq!(o.held_alive, 0, "node-{node}");
    }
    assert!(!run.versions.outsiders[&100].rejected_by.is_empty(), "protocol 3: its packets are rejected");
    assert!(!run.versions.outsiders[&101].refused_by.is_empty(), "application 1: its alive record is refused");
    assert!(!text.contains("MISSED"), "{text}");
}
