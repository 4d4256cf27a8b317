//! Cluster scenarios for plain SWIM behaviour, driven through the public API in virtual time.

mod common;

use std::time::Duration;

use common::{Addr, Cluster, SeedGuard, name, seeds};
use swim_core::{Config, Event, Identity, Instant, State, Swim, TransmitKind};

const S: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn two_member_join() {
    let mut c = Cluster::new(2, Config::lan(), 1);
    c.with(1, |s, now| s.join(now, [0])).unwrap();
    let ok = c.run_until(S(2), |c| c.converged());
    assert!(ok, "two members see each other within 2 s");
    let joins = c.events_of(1, |e| matches!(e, Event::JoinCompleted { reached: 1, attempted: 1, .. }));
    assert_eq!(joins.len(), 1);
    assert_eq!(c.events_of(0, |e| matches!(e, Event::MemberJoined(m) if m.name == "node-1")).len(), 1);
    assert_eq!(c.events_of(1, |e| matches!(e, Event::MemberJoined(m) if m.name == "node-0")).len(), 1);
}

#[test]
fn join_reports_unreachable_seeds() {
    let mut c = Cluster::new(3, Config::lan(), 2);
    c.crash(2);
    c.with(1, |s, now| s.join(now, [0, 2, 77])).unwrap();
    c.run_for(S(1));
    let done = c.events_of(1, |e| matches!(e, Event::JoinCompleted { .. }));
    assert_eq!(done.len(), 1);
    assert!(matches!(done[0].1, Event::JoinCompleted { reached: 1, attempted: 3, .. }), "{:?}", done[0].1);
}

#[test]
fn fifty_member_join_converges() {
    for seed in seeds(10, 3) {
        let _g = SeedGuard { seed, test: "fifty_member_join_converges", file: "scenarios" };
        let mut c = Cluster::new(50, Config::lan(), seed);
        c.join_all(0);
        // 40 seeds measured 0.3 s to 1.7 s (a push-pull period is 60 s at this size).
        let ok = c.run_until(S(10), |c| c.converged());
        assert!(ok, "50 members converge within 10 s");
        // Nobody was ever suspected in a healthy network.
        assert_eq!(c.count_events(|_, e| matches!(e, Event::MemberSuspected { .. })), 0);
    }
}

#[test]
fn crash_is_detected_by_every_member() {
    for seed in seeds(20, 3) {
        let _g = SeedGuard { seed, test: "crash_is_detected_by_every_member", file: "scenarios" };
        let config = Config::lan();
        let n = 20;
        let mut c = Cluster::new(n, config.clone(), seed);
        c.converge(S(20));
        let crashed_at = c.now;
        c.crash(7);
        // Bound implied by the config: the crashed member is probed within 2n - 1 periods
        // (round-robin), then the suspicion runs at most its maximum timeout (the detection
        // bound), then gossip spreads the death in a few gossip rounds.
        let bound = config.timings(n).detection_bound() + S(5);
        let ok = c.run_until(bound, |c| c.all_see(7, State::Dead));
        assert!(ok, "crash not seen by all within {bound:?}");
        let took = c.now - crashed_at;
        // With K = 2 confirmations the timeout falls toward the minimum; detection is well under the bound.
        assert!(took < S(30), "detection took {took:?}");
        for o in c.up() {
            assert_eq!(
                c.events_of(o, |e| matches!(e, Event::MemberFailed(m) if m.name == "node-7")).len(),
                1,
                "node {o}"
            );
        }
        // No healthy member was declared failed.
        assert_eq!(c.count_events(|_, e| matches!(e, Event::MemberFailed(m) if m.name != "node-7")), 0);
    }
}

#[test]
fn false_suspicion_is_refuted() {
    for seed in seeds(30, 3) {
        let _g = SeedGuard { seed, test: "false_suspicion_is_refuted", file: "scenarios" };
        let mut c = Cluster::new(8, Config::lan(), seed);
        c.converge(S(10));
        let inc_before = c.node(3).local().incarnation;
        // Node 3 hears nothing until someone suspects it; then the network heals.
        c.blackhole_inbound(3);
        let suspected = c.run_until(S(20), |c| c.up().any(|o| c.view(o, 3) == Some(State::Suspect)));
        assert!(suspected);
        c.heal();
        let ok = c.run_until(S(20), |c| c.all_see(3, State::Alive));
        assert!(ok, "refutation spreads");
        assert!(c.node(3).local().incarnation > inc_before, "node 3 raised its incarnation");
        assert!(c.node(3).stats().refutations >= 1);
        assert_eq!(c.count_events(|_, e| matches!(e, Event::MemberFailed(m) if m.name == "node-3")), 0);
        assert!(c.count_events(|_, e| matches!(e, Event::MemberAlive(m) if m.name == "node-3")) >= 1);
    }
}

#[test]
fn graceful_leave_is_recorded_as_left() {
    let mut c = Cluster::new(10, Config::lan(), 40);
    c.converge(S(10));
    c.with(4, |s, now| s.leave(now)).unwrap();
    let ok = c.run_until(S(5), |c| c.events_of(4, |e| matches!(e, Event::LeaveCompleted)).len() == 1);
    assert!(ok, "leave completes");
    c.crash(4);
    let ok = c.run_until(S(10), |c| c.all_see(4, State::Left));
    assert!(ok, "everyone records Left");
    c.run_for(S(20));
    assert_eq!(c.count_events(|_, e| matches!(e, Event::MemberFailed(m) if m.name == "node-4")), 0);
    assert_eq!(c.count_events(|_, e| matches!(e, Event::MemberSuspected { member, .. } if member.name == "node-4")), 0);
    // Left members are forgotten after gossip_to_the_dead_time (30 s) at the next probe-pass wrap.
    let ok = c.run_until(S(60), |c| c.up().all(|o| c.view(o, 4).is_none()));
    assert!(ok, "left member removed after retention");
}

/// The multiprocess test's shape: a 5-member local cluster with one member failed, another
/// leaves and exits as soon as its leave completes. Its notice's two gossip transmits could go
/// to the dead member or the same peer; the direct notices make every live member hear it
/// before anyone probes the leaver.
#[test]
fn a_leave_reaches_every_live_member_of_a_small_cluster() {
    for seed in seeds(700, 40) {
        let _g = SeedGuard { seed, test: "a_leave_reaches_every_live_member_of_a_small_cluster", file: "scenarios" };
        let mut c = Cluster::new(5, Config::local(), seed);
        c.converge(S(10));
        c.crash(4);
        assert!(c.run_until(S(30), |c| c.all_see(4, State::Dead)), "the crashed member is declared dead");
        c.with(3, |s, now| s.leave(now)).unwrap();
        let done = c.run_until(S(5), |c| c.events_of(3, |e| matches!(e, Event::LeaveCompleted)).len() == 1);
        assert!(done, "leave completes");
        c.crash(3);
        // Well before the next push-pull (15 s) could repair a missed notice.
        let ok = c.run_until(S(2), |c| c.all_see(3, State::Left));
        let views: Vec<_> = c.up().map(|o| (o, c.view(o, 3))).collect();
        assert!(ok, "every live member records Left: {views:?}");
    }
}

#[test]
fn partition_heals_and_both_halves_merge() {
    for seed in seeds(50, 2) {
        let _g = SeedGuard { seed, test: "partition_heals_and_both_halves_merge", file: "scenarios" };
        let mut c = Cluster::new(10, Config::lan(), seed);
        c.converge(S(10));
        let a: Vec<usize> = (0..5).collect();
        let b: Vec<usize> = (5..10).collect();
        c.partition(&a, &b);
        let split = c.run_until(S(120), |c| {
            a.iter().all(|&x| b.iter().all(|&y| c.view(x, y) == Some(State::Dead) && c.view(y, x) == Some(State::Dead)))
        });
        assert!(split, "each half declares the other dead");
        // Stay split past gossip_to_the_dead_time, so only the reconnect timer can heal it.
        c.run_for(S(60));
        c.heal();
        let healed = c.run_until(S(180), |c| c.converged());
        assert!(healed, "halves merge after the network heals");
        assert!(c.up().map(|i| c.node(i).stats().reconnects).sum::<u64>() > 0);
    }
}

#[test]
fn restart_with_higher_incarnation_rejoins() {
    let mut c = Cluster::new(8, Config::lan(), 60);
    c.converge(S(10));
    c.crash(2);
    assert!(c.run_until(S(60), |c| c.all_see(2, State::Dead)));
    let dead_inc = c.node(0).member("node-2").unwrap().incarnation;
    // Same name and address, a fresh process starting at incarnation 0.
    c.restart(2, 0, 0);
    let ok = c.run_until(S(10), |c| c.converged());
    assert!(ok, "restarted member is alive everywhere");
    for o in c.up() {
        let m = c.node(o).member("node-2").unwrap();
        assert!(m.incarnation > dead_inc, "node {o} holds incarnation {} <= {dead_inc}", m.incarnation);
    }
    assert!(c.count_events(|_, e| matches!(e, Event::MemberAlive(m) if m.name == "node-2")) >= 7);
}

#[test]
fn metadata_update_spreads() {
    let mut c = Cluster::new(12, Config::lan(), 70);
    c.converge(S(10));
    c.with(5, |s, now| s.update_metadata(now, &b"zone=b"[..])).unwrap();
    let ok = c.run_until(S(5), |c| c.up().all(|o| c.node(o).member("node-5").unwrap().meta.as_ref() == b"zone=b"));
    assert!(ok);
    assert_eq!(c.count_events(|_, e| matches!(e, Event::MemberUpdated(m) if m.name == "node-5")), 11);
    assert_eq!(
        c.with(5, |s, now| s.update_metadata(now, vec![0u8; 513])),
        Err(swim_core::CommandError::MetadataTooLarge)
    );
}

#[test]
fn user_broadcast_reaches_everyone_once() {
    let mut c = Cluster::new(30, Config::lan(), 80);
    c.converge(S(10));
    c.with(3, |s, now| s.broadcast(now, None, &b"deploy v2"[..])).unwrap();
    let got = |c: &Cluster, i: usize| {
        c.events_of(i, |e| matches!(e, Event::UserBroadcast { payload, .. } if payload.as_ref() == b"deploy v2")).len()
    };
    let ok = c.run_until(S(10), |c| (0..30).filter(|&i| i != 3).all(|i| got(c, i) >= 1));
    assert!(ok, "broadcast reaches all 29 others");
    c.run_for(S(10));
    for i in (0..30).filter(|&i| i != 3) {
        assert_eq!(got(&c, i), 1, "node {i} delivered it exactly once");
    }
    assert_eq!(got(&c, 3), 0, "the origin does not deliver its own broadcast");
}

#[test]
fn user_messages_best_effort_and_reliable() {
    let mut c = Cluster::new(3, Config::lan(), 90);
    c.converge(S(5));
    c.with(0, |s, now| s.send_user_message(now, 2, &b"ping!"[..], false)).unwrap();
    let big = vec![9u8; 100_000];
    c.with(1, |s, now| s.send_user_message(now, 2, big.clone(), true)).unwrap();
    c.run_for(S(1));
    let msgs = c.events_of(2, |e| matches!(e, Event::UserMessage { .. }));
    assert_eq!(msgs.len(), 2);
    assert!(msgs.iter().any(|(_, e)| matches!(e, Event::UserMessage { from: 0, sender, payload } if sender == "node-0" && payload.as_ref() == b"ping!")));
    assert!(
        msgs.iter().any(|(_, e)| matches!(e, Event::UserMessage { from: 1, payload, .. } if payload.len() == 100_000))
    );
    assert_eq!(
        c.with(0, |s, now| s.send_user_message(now, 2, vec![0u8; 2000], false)),
        Err(swim_core::CommandError::PayloadTooLarge),
        "a best-effort message must fit one datagram"
    );
}

#[test]
fn address_conflict_is_reported() {
    let mut c = Cluster::new(4, Config::lan(), 100);
    c.converge(S(5));
    // An alive claim for node-1 from another address, injected as a push-pull from node 3's address.
    use swim_core::wire::{MemberState, Message, PushPull, PushPullKind};
    let pp = Message::PushPull(PushPull {
        kind: PushPullKind::Reply,
        id: 0,
        from: "node-3",
        from_addr: 3u32,
        members: vec![MemberState {
            name: "node-1",
            addr: 99,
            meta: b"",
            incarnation: 50,
            state: State::Alive,
            versions: swim_core::Versions::DEFAULT,
            capabilities: swim_core::Capabilities::NONE,
        }],
        state: b"",
    });
    let buf = common::packet(&[pp]);
    let e = c.with(0, |s, now| {
        s.handle_stream(now, 3, &buf).unwrap();
        s.poll_event()
    });
    assert!(
        matches!(e, Some(Event::AddressConflict { ref name, existing: 1, claimed: 99 }) if name == "node-1"),
        "{e:?}"
    );
    assert_eq!(c.node(0).member("node-1").unwrap().addr, 1, "the claim was ignored");
}

#[test]
fn dead_member_name_is_reclaimed_by_new_address_after_reclaim_time() {
    let mut config = Config::lan();
    config.dead_node_reclaim_time = Some(S(10));
    let mut c = Cluster::new(6, config, 110);
    c.converge(S(5));
    c.crash(5);
    assert!(c.run_until(S(60), |c| c.all_see(5, State::Dead)));
    c.run_for(S(11));
    // A new process takes node-5's name from another address, starting at incarnation 0
    // (below the incarnation node 5 died at).
    use swim_core::wire::{Alive, Message};
    let buf = common::packet(&[Message::Alive(Alive {
        incarnation: 0,
        name: "node-5",
        addr: 55u32,
        meta: b"",
        versions: swim_core::Versions::DEFAULT,
        capabilities: swim_core::Capabilities::NONE,
    })]);
    let events = c.with(0, |s, now| {
        s.handle_datagram(now, 55, &buf).unwrap();
        std::iter::from_fn(|| s.poll_event()).collect::<Vec<_>>()
    });
    let m = c.node(0).member("node-5").unwrap();
    assert_eq!((m.addr, m.state, m.incarnation), (55, State::Alive, 0));
    assert!(
        matches!(&events[..], [Event::MemberRemoved(old), Event::MemberJoined(new)]
        if old.addr == 5 && new.addr == 55),
        "{events:?}"
    );

    // Without dead_node_reclaim_time (the default, as in memberlist) the same claim is a conflict.
    let mut c = Cluster::new(6, Config::lan(), 111);
    c.converge(S(5));
    c.crash(5);
    assert!(c.run_until(S(60), |c| c.all_see(5, State::Dead)));
    let e = c.with(0, |s, now| {
        s.handle_datagram(now, 55, &buf).unwrap();
        s.poll_event()
    });
    assert!(matches!(e, Some(Event::AddressConflict { .. })), "{e:?}");
}

#[test]
fn probing_visits_members_round_robin() {
    // In a healthy cluster each member is probed about once per n periods: over 10 passes of a
    // 10-member cluster every member should be probed by node 0 between 8 and 12 times each pass.
    let mut c = Cluster::new(10, Config::lan(), 120);
    c.converge(S(5));
    let before = c.node(0).stats().probes;
    c.run_for(S(90));
    let probes = c.node(0).stats().probes - before;
    assert!((85..=95).contains(&probes), "one probe per second: {probes}");
    assert_eq!(c.node(0).stats().probe_failures, 0);
}

#[test]
fn names_are_unique_per_address() {
    assert_eq!(name(3), "node-3");
}

#[test]
fn restore_warm_starts_a_converged_cluster() {
    let n = 200;
    let mut c = Cluster::new(n, Config::lan(), 130);
    let all: Vec<swim_core::Member<u32>> = (0..n).map(|i| c.node(i).local().clone()).collect();
    for i in 0..n {
        let added = c.with(i, |s, now| s.restore(now, all.iter().cloned()));
        assert_eq!(added, n - 1, "every member but itself");
    }
    assert!(c.converged(), "restored views are complete at once");
    c.run_for(S(30));
    assert!(c.converged());
    assert_eq!(c.count_events(|_, e| matches!(e, Event::MemberSuspected { .. })), 0);
    // No gossip storm: restored members are not re-broadcast.
    assert!(c.node(0).stats().packets_out < 200, "node 0 sent {} packets in 30 s", c.node(0).stats().packets_out);
    let mem = c.node(0).memory_usage();
    let per_member = mem.member_table / (n - 1);
    assert!(per_member <= 128, "member table uses {per_member} bytes per member");
    // Restoring again adds nothing.
    assert_eq!(c.with(0, |s, now| s.restore(now, all.iter().cloned())), 0);
}

#[test]
fn an_idle_member_wakes_about_once_per_probe_interval() {
    let mut c = Cluster::new(10, Config::lan(), 140);
    c.converge(S(10));
    c.run_for(S(20)); // let the join gossip run out
    let before: Vec<u64> = c.nodes.iter().map(|n| n.wakeups).collect();
    c.run_for(S(60));
    for (i, n) in c.nodes.iter().enumerate() {
        let woke = n.wakeups - before[i];
        // 60 probe ticks, a few push-pull and reconnect ticks; not the 300 gossip ticks.
        assert!(woke <= 75, "node {i} woke {woke} times in 60 idle seconds");
    }
    // And an update still goes out at once.
    c.with(3, |s, now| s.update_metadata(now, &b"x"[..])).unwrap();
    assert!(c.run_until(S(1), |c| c.up().all(|o| c.node(o).member("node-3").unwrap().meta.as_ref() == b"x")));
}

#[test]
fn reconnect_pings_dead_members_and_sends_state_only_when_they_answer() {
    let mut c = Cluster::new(4, Config::lan(), 150);
    c.converge(S(10));
    c.partition(&[0, 1], &[2, 3]);
    assert!(c.run_until(S(120), |c| c.view(0, 2) == Some(State::Dead) && c.view(0, 3) == Some(State::Dead)));
    // Past gossip_to_the_dead_time, only the reconnect timer contacts the other side.
    c.run_for(S(40));
    c.log = Some(Vec::new());
    c.run_for(S(120));
    let log = c.log.take().unwrap();
    let across: Vec<_> = log.iter().filter(|(_, from, to, _)| *from < 2 && *to >= 2).collect();
    assert!(!across.is_empty(), "reconnect pings were sent");
    for (_, _, _, b) in &across {
        let msgs = common::messages(b);
        assert!(matches!(msgs[0], swim_core::wire::Message::Ping(_)), "only pings cross to dead members: {msgs:?}");
    }
    // Once the network heals, an answered ping brings a push-pull and the halves merge.
    c.heal();
    assert!(c.run_until(S(120), |c| c.converged()));
}

#[test]
fn a_user_message_transmit_carries_the_id_its_send_returned() {
    let mut s: Swim<Addr> = Swim::new(Config::lan(), Identity::new("a", 1), 7, Instant::ZERO).unwrap();
    let now = Instant::ZERO;
    let best_effort = s.send_user_message(now, 2, &b"hi"[..], false).unwrap();
    let reliable = s.send_user_message(now, 3, &b"there"[..], true).unwrap();
    assert_ne!(best_effort, reliable, "every message has its own id");
    s.join(now, [4]).unwrap(); // a push-pull: protocol traffic carries no id
    let mut buf = Vec::new();
    let mut seen = Vec::new();
    while let Some(t) = s.poll_transmit(&mut buf) {
        seen.push((t.destination, t.kind, t.message));
    }
    assert_eq!(
        seen,
        vec![
            (2, TransmitKind::Datagram, Some(best_effort)),
            (3, TransmitKind::Stream, Some(reliable)),
            (4, TransmitKind::Stream, None),
        ]
    );
}

/// Point 5 of issue 14: a caller that polls far too rarely for `limits.max_pending_events`
/// during churn (joins, crashes, restarts, leaves, metadata changes) loses no membership
/// change silently. Applying what it polled, in order (events, and each lag notice's
/// snapshot in place of what it knew), gives exactly node 0's member table: every name,
/// address, metadata and state, and no incarnation above the table's (incarnation rises
/// without a change of state or metadata are not events; see `MemberView`).
#[test]
fn a_poller_far_behind_during_churn_still_ends_with_the_member_table() {
    for seed in seeds(700, 4) {
        let _g = SeedGuard {
            seed,
            test: "a_poller_far_behind_during_churn_still_ends_with_the_member_table",
            file: "scenarios",
        };
        let n = 20;
        let mut configs = vec![Config::lan(); n];
        configs[0].limits.max_pending_events = 6;
        let mut c = Cluster::with_configs(configs, seed);
        c.nodes[0].hold_events = true;
        // Twelve members form the cluster; the others join during the churn.
        for i in 1..12 {
            c.with(i, |s, now| s.join(now, [0])).unwrap();
        }
        let mut rng = swim_core::rng::SwimRng::from_seed_u64(seed);
        let mut down: Vec<usize> = Vec::new();
        let mut next_joiner = 12;
        let mut incarnation = 100;
        for round in 0..40 {
            let pick = 1 + rng.below(n - 1);
            match round % 5 {
                0 if next_joiner < n => {
                    c.with(next_joiner, |s, now| s.join(now, [0])).unwrap();
                    next_joiner += 1;
                }
                1 if !down.contains(&pick) && pick < next_joiner => {
                    c.crash(pick);
                    down.push(pick);
                }
                2 if !down.is_empty() => {
                    let back = down.remove(rng.below(down.len()));
                    incarnation += 1;
                    c.restart(back, incarnation, 0);
                }
                3 if !down.contains(&pick) && pick < next_joiner => {
                    let meta = format!("round-{round}");
                    c.with(pick, |s, now| s.update_metadata(now, meta.into_bytes())).unwrap();
                }
                4 if !down.contains(&pick) && pick < next_joiner => {
                    c.with(pick, |s, now| s.leave(now)).unwrap();
                    c.run_for(S(2));
                    c.crash(pick);
                    down.push(pick);
                }
                _ => {}
            }
            c.run_for(Duration::from_millis(1500));
            // Now and then the caller gets round to a few events, never all of them.
            if round % 3 == 0 {
                let k = rng.below(4);
                c.poll_events(0, k);
            }
        }
        c.run_for(S(30));
        c.poll_events(0, usize::MAX);

        let node = c.node(0);
        let polled = &c.nodes[0].events;
        let lags = polled.iter().filter(|(_, e)| matches!(e, Event::Lagged { .. })).count();
        let stats = node.stats();
        assert!(lags >= 2, "the caller fell behind more than once ({lags} lag notices; {stats:?})");
        assert_eq!(node.stats().event_lags, lags as u64);
        // Far behind: more events lost than the queue holds, twice over.
        let dropped = node.stats().events_dropped;
        assert!(dropped >= 12, "far behind: only {dropped} events dropped");
        let mut view = swim_core::MemberView::new();
        for (_, e) in polled {
            view.apply(e);
        }
        let table: Vec<_> = node.members().skip(1).collect();
        assert_eq!(view.len(), table.len(), "view {:?}", view.to_vec());
        for m in table {
            let v = view.get(&m.name).unwrap_or_else(|| panic!("{} missing from the view", m.name));
            assert_eq!((&v.addr, &v.meta, v.state), (&m.addr, &m.meta, m.state), "{}", m.name);
            assert!(v.incarnation <= m.incarnation, "{}: {} above {}", m.name, v.incarnation, m.incarnation);
        }
        // The churn did reach node 0's table: members failed or left.
        assert!(node.members().any(|m| m.state.is_gone()), "some members are gone");
    }
}
