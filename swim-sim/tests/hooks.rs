//! Application hooks in the simulator: every member gets its hooks from
//! `SimConfig::hooks` at every start, and an application built on them runs deterministically.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{App, Merged};
use swim_core::Event;
use swim_sim::faults::{Action, RestartIncarnation};
use swim_sim::sim::{HooksFactory, StartMode};
use swim_sim::{SimConfig, Simulation};

const S: fn(u64) -> Duration = Duration::from_secs;

fn config(seed: u64, refused: Option<&'static str>) -> (SimConfig, Merged, Arc<AtomicUsize>) {
    let mut cfg = SimConfig::new(6, seed);
    cfg.start.mode = StartMode::Join;
    cfg.duration = S(120);
    let merged: Merged = Arc::default();
    let made = Arc::new(AtomicUsize::new(0));
    let (m, count) = (merged.clone(), made.clone());
    cfg.hooks = Some(HooksFactory::new(move |me| {
        count.fetch_add(1, Ordering::Relaxed);
        // node-5 itself does not refuse itself; everyone else keeps it out.
        let refused = refused.filter(|_| me != 5);
        Box::new(App { me, merged: m.clone(), refused })
    }));
    (cfg, merged, made)
}

#[test]
fn every_start_gets_hooks_and_states_travel_in_joins_and_periodic_exchanges() {
    let (cfg, merged, made) = config(1, None);
    let mut sim = Simulation::new(cfg).unwrap();
    assert!(sim.run_until(S(10), |s| s.converged()).unwrap(), "the cluster forms");
    sim.run_for(S(60)).unwrap();
    assert_eq!(made.load(Ordering::Relaxed), 6, "one set of hooks per member");
    let merged = merged.lock().unwrap().clone();
    for i in 0..6u32 {
        let got = merged.get(&i).cloned().unwrap_or_default();
        assert!(got.iter().all(|(from, state, _)| *state == from.to_uppercase()), "node {i}: {got:?}");
        assert!(got.iter().any(|(_, _, join)| !join), "node {i} merged a periodic state: {got:?}");
    }
    // The seed merged every joiner's state from its join request.
    let seed_joins: BTreeSet<String> =
        merged[&0].iter().filter(|(_, _, join)| *join).map(|(from, _, _)| from.clone()).collect();
    assert_eq!(seed_joins, (1..6).map(|i| format!("node-{i}")).collect());
    // A restarted member is a new process: new hooks.
    sim.apply(&Action::Start { nodes: vec![3], restart: true, incarnation: RestartIncarnation::Next, versions: None })
        .unwrap();
    assert_eq!(made.load(Ordering::Relaxed), 7);
}

#[test]
fn a_member_everyone_refuses_stays_out_and_the_run_is_deterministic() {
    let run = |seed| {
        let (mut cfg, _, _) = config(seed, Some("node-5"));
        cfg.record_events = true;
        let mut sim = Simulation::new(cfg).unwrap();
        sim.run_for(S(60)).unwrap();
        for i in 0..5u32 {
            let node = sim.node(i).unwrap();
            assert!(node.member("node-5").is_none(), "node {i} holds the refused member");
            assert!(node.stats().members_refused > 0 || i != 0, "the seed refused it");
            assert_eq!(node.num_members(), 5, "node {i} holds every other member");
        }
        let refusals = sim.take_events(0).into_iter().filter(|(_, e)| matches!(e, Event::MemberRefused { .. })).count();
        assert!(refusals > 0);
        sim.digest()
    };
    assert_eq!(run(7), run(7), "same seed, same hooks: same run");
}
