//! Clusters in Go memberlist's wire profile (`Config::memberlist_wire`, built with
//! `Swim::with_wire`): every member speaks memberlist's bytes, push-pulls are answered on the
//! connection they came on (the engine's `connections`), and the protocol behaves as in
//! swim's own profile: the cluster forms, a crash is detected within the preset's bound, a
//! leave is a leave, metadata spreads, application state travels in push-pulls, user
//! messages arrive, a request with no reply fails at its requester, and a seed replays bit
//! for bit. Virtual time, seeded; a failure prints the seed and a replay command.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::{App, Merged, SeedGuard, seeds};
use swim_core::wire::frame::StreamFraming;
use swim_core::{Bytes, Config, Event, Instant, State, WireProfile};
use swim_sim::faults::{Action, FaultKind, FaultSpec, NodeSet, RestartIncarnation};
use swim_sim::sim::{HooksFactory, StartMode};
use swim_sim::{SimConfig, Simulation};

const S: fn(u64) -> Duration = Duration::from_secs;
const FILE: &str = "memberlist";

/// `n` members in the memberlist profile of the LAN preset, joining through node 0 within
/// the first two seconds.
fn config(n: usize, seed: u64) -> SimConfig {
    let mut cfg = SimConfig::new(n, seed);
    cfg.config = Config::lan().memberlist_wire();
    cfg.start.mode = StartMode::Join;
    cfg.start.window = swim_sim::duration::Dur(S(2));
    cfg.duration = S(600);
    cfg
}

/// Every running member lists every running member alive, and nothing else.
fn everyone_lists_everyone(sim: &Simulation, running: &[u32]) -> bool {
    running.iter().all(|&o| {
        let node = sim.node(o).expect("running");
        node.num_members() == running.len() && running.iter().all(|&t| t == o || sim.sees(o, t) == Some(State::Alive))
    })
}

#[test]
fn twenty_members_form_a_cluster_speaking_memberlist_bytes() {
    for seed in seeds(1, 3) {
        let _g = SeedGuard { seed, test: "twenty_members_form_a_cluster_speaking_memberlist_bytes", file: FILE };
        let cfg = config(20, seed);
        let mut sim = Simulation::new(cfg).unwrap();
        let all: Vec<u32> = (0..20).collect();
        for i in &all {
            if let Some(node) = sim.node(*i) {
                assert_eq!(node.config().wire, WireProfile::Memberlist);
                assert!(matches!(node.stream_framing(), StreamFraming::Memberlist { .. }));
            }
        }
        let formed = sim.run_until(S(30), |s| everyone_lists_everyone(s, &all)).unwrap();
        assert!(formed, "seed {seed}: everyone lists everyone within 30 s");
        // Joins and periodic push-pulls went as requests and came back as replies.
        sim.run_for(S(60)).unwrap();
        let st = sim.stats().clone();
        assert!(st.requests >= 19, "seed {seed}: at least one join request per joiner: {st:?}");
        assert!(st.replies_delivered >= 19, "seed {seed}: {st:?}");
        assert_eq!(sim.truth().fp.events, 0, "seed {seed}: no false failure");
        assert!(sim.converged(), "seed {seed}");
    }
}

/// A 20-member cluster in the memberlist profile, formed: the simulation at the moment every
/// member lists every other.
fn formed(seed: u64, record_events: bool, hooks: Option<HooksFactory>) -> Simulation {
    let mut cfg = config(20, seed);
    cfg.record_events = record_events;
    cfg.hooks = hooks;
    let mut sim = Simulation::new(cfg).unwrap();
    let all: Vec<u32> = (0..20).collect();
    assert!(sim.run_until(S(30), |s| everyone_lists_everyone(s, &all)).unwrap(), "seed {seed}: the cluster forms");
    sim
}

#[test]
fn a_crash_is_detected_by_everyone_within_the_presets_bound() {
    for seed in seeds(10, 3) {
        let _g = SeedGuard { seed, test: "a_crash_is_detected_by_everyone_within_the_presets_bound", file: FILE };
        let mut sim = formed(seed, false, None);
        sim.run_for(S(10)).unwrap();
        let t = sim.config().config.timings(20);
        // Some member declares it dead within the detection bound; the death then spreads
        // by gossip (and push-pull repairs what gossip missed).
        let bound = t.detection_bound() + t.gossip_bound();
        let crashed_at = sim.now();
        sim.crash_node(7);
        let detected = sim.run_until(bound, |s| s.all_see(7, State::Dead)).unwrap();
        let took = sim.now() - crashed_at;
        assert!(detected, "seed {seed}: not every member declared node-7 dead within {bound:?}");
        eprintln!(
            "memberlist figure: seed {seed}: every member declared the crash dead {took:?} after it (bound {bound:?})"
        );
        sim.run_for(S(60)).unwrap();
        assert_eq!(sim.truth().fp.events, 0, "seed {seed}: no live member declared dead");
        assert!(sim.converged(), "seed {seed}: the 19 others agree");
    }
}

#[test]
fn a_leave_is_seen_as_a_leave() {
    for seed in seeds(20, 3) {
        let _g = SeedGuard { seed, test: "a_leave_is_seen_as_a_leave", file: FILE };
        let mut sim = formed(seed, true, None);
        for i in 0..20 {
            sim.take_events(i);
        }
        sim.apply(&Action::Leave(vec![5])).unwrap();
        let t = sim.config().config.timings(20);
        let bound = t.gossip_bound() + t.push_pull_interval.unwrap_or_default();
        assert!(sim.run_until(bound, |s| s.all_see(5, State::Left)).unwrap(), "seed {seed}: the leave spreads");
        sim.run_for(S(30)).unwrap();
        for i in (0..20).filter(|&i| i != 5) {
            let about_5: Vec<Event<u32>> = sim
                .take_events(i)
                .into_iter()
                .map(|(_, e)| e)
                .filter(|e| e.member().is_some_and(|m| m.name.as_str() == "node-5"))
                .collect();
            assert!(
                about_5.iter().any(|e| matches!(e, Event::MemberLeft(_))),
                "seed {seed}: node-{i} saw no leave: {about_5:?}"
            );
            assert!(
                !about_5.iter().any(|e| matches!(e, Event::MemberFailed(_) | Event::MemberSuspected { .. })),
                "seed {seed}: node-{i} took the leave for a failure: {about_5:?}"
            );
        }
        assert_eq!(sim.truth().fp.events, 0, "seed {seed}");
    }
}

#[test]
fn a_metadata_update_spreads_to_everyone() {
    for seed in seeds(30, 3) {
        let _g = SeedGuard { seed, test: "a_metadata_update_spreads_to_everyone", file: FILE };
        let mut sim = formed(seed, false, None);
        let meta = Bytes::from_static(b"zone=b;version=2");
        sim.command(3, |s, now| s.update_metadata(now, meta.clone())).unwrap().unwrap().unwrap();
        let t = sim.config().config.timings(20);
        let bound = t.gossip_bound() + t.push_pull_interval.unwrap_or_default();
        let seen = |s: &Simulation| {
            (0..20u32)
                .filter(|&i| i != 3)
                .all(|i| s.node(i).and_then(|n| n.member("node-3")).is_some_and(|m| m.meta == meta))
        };
        assert!(sim.run_until(bound, seen).unwrap(), "seed {seed}: every member holds node-3's new metadata");
    }
}

#[test]
fn push_pull_carries_application_state_both_ways_with_the_senders_name() {
    for seed in seeds(40, 2) {
        let _g =
            SeedGuard { seed, test: "push_pull_carries_application_state_both_ways_with_the_senders_name", file: FILE };
        let merged: Merged = Arc::default();
        let m = merged.clone();
        let hooks = HooksFactory::new(move |me| Box::new(App { me, merged: m.clone(), refused: None }));
        let mut sim = formed(seed, false, Some(hooks));
        // Two periodic push-pull rounds (LAN: 30 s, scaled up by cluster size).
        let t = sim.config().config.timings(20);
        sim.run_for(t.push_pull_interval.unwrap() * 2 + S(5)).unwrap();
        let merged = merged.lock().unwrap().clone();
        for i in 0..20u32 {
            let got = merged.get(&i).cloned().unwrap_or_default();
            assert!(
                got.iter().all(|(from, state, _)| *state == from.to_uppercase()),
                "seed {seed}: node {i} merged a state under the wrong name: {got:?}"
            );
            assert!(got.iter().any(|(_, _, join)| !join), "seed {seed}: node {i} merged no periodic state: {got:?}");
        }
        // The seed merged every joiner's state from its join request, and every joiner the
        // seed's (or another member's) from the reply.
        let seed_joins: BTreeSet<String> =
            merged[&0].iter().filter(|(_, _, join)| *join).map(|(from, _, _)| from.clone()).collect();
        assert_eq!(seed_joins, (1..20).map(|i| format!("node-{i}")).collect(), "seed {seed}");
        for i in 1..20u32 {
            assert!(
                merged[&i].iter().any(|(from, _, join)| *join && from == "node-0"),
                "seed {seed}: node {i} merged no state from its seed's join reply: {:?}",
                merged[&i]
            );
        }
        assert_eq!(sim.stats().replies_unroutable, 0, "seed {seed}: {:?}", sim.stats());
    }
}

/// Two members: node 0 runs, node 1 joins through it once `setup` has been applied.
fn joiner(seed: u64, setup: &[Action]) -> Simulation {
    let mut cfg = SimConfig::new(2, seed);
    cfg.config = Config::lan().memberlist_wire();
    cfg.start.mode = StartMode::Join;
    cfg.start.initial = Some(1);
    cfg.record_events = true;
    let mut sim = Simulation::new(cfg).unwrap();
    sim.run_for(S(1)).unwrap();
    for a in setup {
        sim.apply(a).unwrap();
    }
    let start = Action::Start { nodes: vec![1], restart: false, incarnation: RestartIncarnation::Zero, versions: None };
    sim.apply(&start).unwrap();
    sim
}

/// Node 1's first join attempt reached no seed and is retried.
fn join_failed_and_retries(sim: &mut Simulation) -> bool {
    let events = sim.take_events(1);
    let reached_none = events.iter().any(|(_, e)| matches!(e, Event::JoinCompleted { reached: 0, .. }));
    let retrying = events.iter().any(|(_, e)| matches!(e, Event::JoinRetrying { attempt: 2, .. }));
    reached_none && retrying
}

/// The engine's part of the driver: a request whose seed is down, whose reply is cut off, or
/// whose reply does not come within `stream_timeout` ends in one failed stream at the
/// requester (and a retried join); a reply to a process that has since restarted is dropped.
#[test]
fn a_request_that_gets_no_reply_fails_at_the_requester_once() {
    let seed = 50;
    let _g = SeedGuard { seed, test: "a_request_that_gets_no_reply_fails_at_the_requester_once", file: FILE };
    let both_see_each_other = |s: &Simulation| s.sees(0, 1) == Some(State::Alive) && s.sees(1, 0) == Some(State::Alive);

    // The seed is down: the connection is refused.
    let mut sim = joiner(seed, &[Action::Crash(vec![0])]);
    sim.run_for(S(3)).unwrap();
    assert!(join_failed_and_retries(&mut sim), "the join to a crashed seed fails");
    assert_eq!(sim.open_exchanges(), 0);

    // The request arrives, the reply cannot come back (0 -> 1 is cut): the requester learns
    // its request failed, and joins once the cut heals.
    let cut = Action::Partition { key: 0, a: vec![0], b: vec![1], one_way: true };
    let mut sim = joiner(seed, &[cut]);
    sim.run_for(S(3)).unwrap();
    assert!(join_failed_and_retries(&mut sim), "a join whose reply is lost fails");
    // (and suspects it by now: its pings cannot reach it either)
    assert!(sim.sees(0, 1).is_some(), "the seed merged the joiner's request");
    assert_eq!(sim.sees(1, 0), None, "the joiner got nothing back");
    assert_eq!(sim.stats().requests_timed_out, 0, "the lost reply is reported, not waited for");
    sim.apply(&Action::HealPartition(0)).unwrap();
    assert!(sim.run_until(S(60), both_see_each_other).unwrap(), "the retried join succeeds");
    // The seed may learn first (it asks a suspect that acks it for its state); the replies
    // of both exchanges arrive within a round trip or two.
    sim.run_for(S(2)).unwrap();
    assert!(sim.stats().replies_delivered >= 1);

    // The seed is clogged for longer than the stream timeout: no reply in time.
    let timeout = Config::lan().stream_timeout;
    let clog = Action::Clog { nodes: vec![0], until: Instant::from_secs(1) + timeout * 2 };
    let mut sim = joiner(seed, &[clog]);
    sim.run_for(timeout + S(1)).unwrap();
    assert!(sim.stats().requests_timed_out >= 1, "{:?}", sim.stats());
    assert!(join_failed_and_retries(&mut sim), "a join with no reply within the stream timeout fails");
    assert!(sim.run_until(S(60), both_see_each_other).unwrap(), "and succeeds once the clog ends");

    // The joiner restarts while the seed sits on its request: the reply to the old process
    // is dropped, the new process's own join succeeds.
    let clog = Action::Clog { nodes: vec![0], until: Instant::from_secs(4) };
    let mut sim = joiner(seed, &[clog]);
    sim.run_for(S(1)).unwrap();
    let restart =
        Action::Start { nodes: vec![1], restart: true, incarnation: RestartIncarnation::Next, versions: None };
    sim.apply(&restart).unwrap();
    assert!(sim.run_until(S(10), both_see_each_other).unwrap(), "the restarted joiner joins");
    assert_eq!(sim.stats().replies_unroutable, 1, "the old process's reply: {:?}", sim.stats());
    assert_eq!(sim.stats().replies_delivered, 1, "{:?}", sim.stats());
    assert_eq!(sim.stats().requests_timed_out, 0);
}

#[test]
fn a_seed_replays_bit_for_bit_and_faults_keep_every_invariant() {
    let run = |seed: u64| {
        let mut cfg = config(20, seed);
        cfg.duration = S(200);
        for (k, (kind, at)) in
            [(FaultKind::Crash, 40), (FaultKind::Leave, 60), (FaultKind::Restart, 80)].into_iter().enumerate()
        {
            let spec = FaultSpec::new(kind, S(at), NodeSet::List(vec![4 + k as u32]));
            cfg.faults.insert(format!("{kind:?}"), spec);
        }
        let mut sim = Simulation::new(cfg).unwrap();
        sim.run_until_time(Instant::from_secs(200)).unwrap_or_else(|v| panic!("{v}"));
        assert!(sim.converged(), "seed {seed}: the survivors agree at the end");
        (sim.digest(), sim.stats().clone())
    };
    for seed in seeds(60, 2) {
        let _g = SeedGuard { seed, test: "a_seed_replays_bit_for_bit_and_faults_keep_every_invariant", file: FILE };
        let (a, stats) = run(seed);
        let (b, _) = run(seed);
        assert_eq!(a, b, "seed {seed}: the same seed gives the same trace");
        assert!(stats.replies_delivered > 0);
        assert_ne!(run(seed + 1000).0, a, "another seed, another trace");
    }
}

#[test]
fn a_scenario_selects_the_profile_with_config_wire() {
    use swim_sim::runner::{self, PlanOptions};
    use swim_sim::scenario::{Scenario, parse_set};
    let set = "config.wire=\"memberlist\"";
    let scenario = Scenario::builtin("smoke", &[parse_set(set).unwrap()]).unwrap().unwrap();
    let opts = PlanOptions { source: "smoke".into(), sets: vec![set.into()], ..PlanOptions::default() };
    let plans = runner::plan(&scenario, &opts).unwrap();
    let c = &plans[0].sim.config;
    assert_eq!(c.wire, WireProfile::Memberlist);
    assert_eq!(c.versions, Config::lan().memberlist_wire().versions, "memberlist's advertised versions");
    assert!(plans[0].replay.contains("--set 'config.wire=\"memberlist\"'"), "{}", plans[0].replay);
    let r = runner::run(&plans[0], &std::sync::atomic::AtomicU64::new(0));
    assert_eq!(r.violation, None, "replay: {}", r.replay);
    assert!(r.convergence.at_end && r.convergence.after_heal.is_some(), "{:?}", r.convergence);
    assert!(r.sim.replies_delivered > 0, "{:?}", r.sim);
    // A later versions override wins over the profile's; the default stays swim's own.
    let both = [parse_set(set).unwrap(), parse_set("config.versions.protocol=[2, 5, 3]").unwrap()];
    let s = Scenario::builtin("smoke", &both).unwrap().unwrap();
    assert_eq!(s.variants[0].spec.sim_config(1).config.versions.protocol, swim_core::VersionRange::new(2, 5, 3));
    let plain = Scenario::builtin("smoke", &[]).unwrap().unwrap();
    assert_eq!(plain.variants[0].spec.sim_config(1).config.wire, WireProfile::Swim);
    let bad = Scenario::builtin("smoke", &[parse_set("config.wire=\"go\"").unwrap()]).unwrap().unwrap_err();
    assert!(bad.contains("config.wire"), "{bad}");
}

#[test]
fn user_messages_arrive_best_effort_and_over_a_one_way_stream() {
    for seed in seeds(70, 2) {
        let _g = SeedGuard { seed, test: "user_messages_arrive_best_effort_and_over_a_one_way_stream", file: FILE };
        let mut sim = formed(seed, true, None);
        for i in 0..20 {
            sim.take_events(i);
        }
        for (to, reliable) in [(9u32, true), (11, false)] {
            let payload = Bytes::from(format!("to node-{to}, reliable {reliable}"));
            sim.command(2, |s, now| s.send_user_message(now, to, payload, reliable)).unwrap().unwrap().unwrap();
        }
        sim.run_for(S(1)).unwrap();
        for (to, reliable) in [(9u32, true), (11, false)] {
            let wanted = format!("to node-{to}, reliable {reliable}");
            let got: Vec<Bytes> = sim
                .take_events(to)
                .into_iter()
                .filter_map(|(_, e)| match e {
                    Event::UserMessage { from: 2, payload, .. } => Some(payload),
                    _ => None,
                })
                .collect();
            assert_eq!(got, vec![Bytes::from(wanted)], "seed {seed}: node-{to}");
        }
        assert_eq!(sim.stats().replies_unroutable, 0, "seed {seed}: nothing answers a one-way stream");
    }
}
