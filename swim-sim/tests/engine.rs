//! The engine end to end: clusters form, crashes are detected, the network model bites, and
//! the same seed replays bit for bit.

mod common;

use std::time::Duration;

use common::{SeedGuard, seeds};
use swim_core::{Instant, State};
use swim_sim::faults::{Action, FaultKind, FaultSpec, NodeSet};
use swim_sim::node::Status;
use swim_sim::sim::{StartMode, StartSpec};
use swim_sim::truth::View;
use swim_sim::{SimConfig, Simulation};

const S: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn warm_cluster_detects_a_crash_everywhere() {
    for seed in seeds(1, 3) {
        let _g = SeedGuard { seed, test: "warm_cluster_detects_a_crash_everywhere", file: "engine" };
        let mut cfg = SimConfig::new(20, seed);
        cfg.faults.insert("crash".into(), FaultSpec::new(FaultKind::Crash, S(10), NodeSet::List(vec![7])));
        let mut sim = Simulation::new(cfg).unwrap();
        assert!(sim.converged(), "a warm start is converged at once");
        sim.run_for(S(60)).unwrap();
        let d = &sim.truth().detections;
        assert_eq!(d.len(), 1);
        let all = d[0].all_failed.expect("every member detects the crash");
        let first = d[0].first_failed.unwrap();
        assert!(first <= all && all < 40.0, "{:?}", d[0]);
        assert!(d[0].first_suspect.unwrap() <= first);
        assert!(sim.converged());
        assert!(sim.all_see(7, State::Dead));
        assert_eq!(sim.truth().fp.events, 0, "no false positive on a healthy network");
        assert_eq!(sim.status(7), Status::Down);
    }
}

#[test]
fn members_join_through_a_seed_and_converge() {
    for seed in seeds(10, 3) {
        let _g = SeedGuard { seed, test: "members_join_through_a_seed_and_converge", file: "engine" };
        let mut cfg = SimConfig::new(50, seed);
        cfg.start = StartSpec { mode: StartMode::Join, window: S(5).into(), ..StartSpec::default() };
        let mut sim = Simulation::new(cfg).unwrap();
        assert!(!sim.converged() || sim.truth().up_count() == 1);
        let ok = sim.run_until(S(60), |s| s.now() >= Instant::from_secs(5) && s.converged()).unwrap();
        assert!(ok, "50 members converge within 60 s");
        assert_eq!(sim.truth().up_count(), 50);
        let joins = sim.truth().spreads.iter().filter(|s| s.kind == "join").count();
        assert_eq!(joins, 50, "every member started, the seed included");
        assert!(sim.truth().spreads.iter().filter(|s| s.kind == "join").all(|s| s.all.is_some()));
    }
}

#[test]
fn same_seed_same_digest_and_different_seed_different_digest() {
    let run = |seed: u64| {
        let mut cfg = SimConfig::new(30, seed);
        cfg.start.mode = StartMode::Join;
        cfg.start.window = S(3).into();
        cfg.network.loss = 0.02;
        cfg.network.duplicate = 0.01;
        cfg.network.reorder = 0.05;
        cfg.faults.insert(
            "c".into(),
            FaultSpec::new(FaultKind::Crash, S(20), NodeSet::Select(swim_sim::faults::Selector::Random(2))),
        );
        let mut slow = FaultSpec::new(FaultKind::Slow, S(5), NodeSet::List(vec![3]));
        slow.delay = Some(swim_sim::dist::Dist::exponential(Duration::from_millis(300)));
        cfg.faults.insert("s".into(), slow);
        let mut sim = Simulation::new(cfg).unwrap();
        sim.run_for(S(60)).unwrap();
        (sim.digest(), sim.stats().delivered, sim.truth().fp.false_suspicions)
    };
    let a = run(5);
    let b = run(5);
    assert_eq!(a, b, "same seed, same build: identical trace");
    assert!(a.1 > 1000, "the run did something: {a:?}");
    let c = run(6);
    assert_ne!(a.0, c.0, "another seed, another trace");
}

#[test]
fn partition_splits_and_heals() {
    let mut cfg = SimConfig::new(10, 3);
    let mut p = FaultSpec::new(FaultKind::Partition, S(5), NodeSet::List(vec![0, 1, 2, 3, 4]));
    p.duration = Some(S(60).into());
    cfg.faults.insert("split".into(), p);
    let mut sim = Simulation::new(cfg).unwrap();
    let split = sim
        .run_until(S(65), |s| {
            (0..5).all(|a| (5..10).all(|b| s.truth().view(a, b) == View::Gone && s.truth().view(b, a) == View::Gone))
        })
        .unwrap();
    assert!(split, "each side declares the other dead");
    let fp = &sim.truth().fp;
    assert!(fp.impaired_victims > 0 && fp.healthy_victims == 0, "{fp:?}");
    // After the heal (t = 65 s) the reconnect timer brings the halves back together.
    let healed = sim.run_until(S(200), |s| s.now() > Instant::from_secs(65) && s.converged()).unwrap();
    assert!(healed, "halves merge after the partition heals");
    assert!(sim.network().stats.partitioned > 0);
}

#[test]
fn inbound_blackhole_only_drops_inbound() {
    let mut sim = Simulation::new(SimConfig::new(5, 4)).unwrap();
    sim.apply(&Action::Blackhole { nodes: vec![2], inbound: true, outbound: false, on: true }).unwrap();
    // Node 2's health score climbs to its maximum (7), so it probes each of the 4 others at
    // least once per 4 x 8 s pass, and each suspicion runs the full 24 s (6 x 4 s: no
    // confirmations reach it): node 0 is declared dead within 56 s of the blackhole.
    sim.run_for(S(80)).unwrap();
    // Node 2 hears nothing, so it suspects and then buries everyone; the others still hear
    // its pings but their acks never arrive, so it is suspected too.
    assert!(sim.network().stats.blackholed > 0);
    assert!(sim.truth().fp.false_suspicions > 0);
    assert_eq!(sim.truth().view(2, 0), View::Gone, "node 2 declared node 0 dead");
}

#[test]
fn a_restarted_member_comes_back_alive_everywhere() {
    let mut cfg = SimConfig::new(12, 8);
    let mut r = FaultSpec::new(FaultKind::Restart, S(10), NodeSet::List(vec![4]));
    r.down = Some(S(40).into());
    cfg.faults.insert("r".into(), r);
    let mut sim = Simulation::new(cfg).unwrap();
    sim.run_until_time(Instant::from_secs(49)).unwrap();
    assert!(sim.all_see(4, State::Dead), "declared dead while down");
    sim.run_for(S(20)).unwrap();
    assert!(sim.converged(), "back alive at every member");
    let inc = sim.node(0).unwrap().member("node-4").unwrap().incarnation;
    assert!(inc > 0, "it refuted its death with a higher incarnation");
    let d = &sim.truth().detections[0];
    assert!(d.all_failed.is_some() && !d.censored);
}

#[test]
fn graceful_leave_is_not_a_failure() {
    let mut cfg = SimConfig::new(10, 9);
    cfg.faults.insert("bye".into(), FaultSpec::new(FaultKind::Leave, S(5), NodeSet::List(vec![6])));
    let mut sim = Simulation::new(cfg).unwrap();
    sim.run_for(S(30)).unwrap();
    assert_eq!(sim.status(6), Status::Down, "the process stopped after its leave completed");
    assert!(sim.all_see(6, State::Left));
    assert!(sim.converged());
    assert_eq!(sim.truth().detections.len(), 0, "a leave is not a crash");
    assert_eq!(sim.truth().fp.events, 0);
}

#[test]
fn datagrams_over_the_mtu_are_dropped() {
    let mut cfg = SimConfig::new(4, 1);
    cfg.network.mtu = 1; // nothing fits
    let mut sim = Simulation::new(cfg).unwrap();
    sim.run_for(S(10)).unwrap();
    let n = &sim.network().stats;
    assert!(n.too_large > 0 && n.datagrams_delivered == 0, "{n:?}");
    assert!(sim.truth().fp.false_suspicions > 0, "probes fail when nothing fits");
}

#[test]
fn library_commands_and_event_log() {
    let mut cfg = SimConfig::new(6, 2);
    cfg.record_events = true;
    let mut sim = Simulation::new(cfg).unwrap();
    sim.run_for(S(2)).unwrap();
    sim.command(1, |s, now| s.broadcast(now, None, &b"hello"[..])).unwrap().unwrap().unwrap();
    sim.run_for(S(5)).unwrap();
    for i in (0..6).filter(|&i| i != 1) {
        let got = sim
            .take_events(i)
            .into_iter()
            .filter(
                |(_, e)| matches!(e, swim_core::Event::UserBroadcast { payload, .. } if payload.as_ref() == b"hello"),
            )
            .count();
        assert_eq!(got, 1, "node {i} got the broadcast once");
    }
}

#[test]
fn members_whose_event_queue_overflows_still_converge_in_the_ground_truth() {
    // A queue of 4 events: a join reply bringing the whole cluster overflows it inside one
    // input, so members report lag notices; the engine takes their snapshots as their views.
    let seed = 21;
    let _g = SeedGuard {
        seed,
        test: "members_whose_event_queue_overflows_still_converge_in_the_ground_truth",
        file: "engine",
    };
    let mut cfg = SimConfig::new(30, seed);
    cfg.config.limits.max_pending_events = 4;
    cfg.start = StartSpec { mode: StartMode::Join, window: S(5).into(), ..StartSpec::default() };
    let mut sim = Simulation::new(cfg).unwrap();
    let ok = sim.run_until(S(60), |s| s.now() >= Instant::from_secs(5) && s.converged()).unwrap();
    assert!(ok, "30 members converge, as the engine sees them through their events");
    let lags: u64 = (0..30).filter_map(|i| sim.node(i)).map(|s| s.stats().event_lags).sum();
    assert!(lags > 0, "some member fell behind within one input");
    for o in 0..30 {
        for t in (0..30).filter(|&t| t != o) {
            assert_eq!(sim.truth().view(o, t), View::Alive, "node {o} of node {t}");
        }
    }
}
