//! Lifeguard: awareness, nack, local-health-aware suspicion and the buddy system, each
//! tested on its own, switched off, and in the CPU-starvation scenario it was designed for.

mod common;

use std::time::Duration;

use common::{Addr, Cluster, SeedGuard, Slowness, messages, packet, seeds};
use swim_core::suspicion::{timeout, timeout_bounds};
use swim_core::wire::{Ack, Message, PingReq, Suspect};
use swim_core::{Bytes, Config, Event, Identity, Instant, Lifeguard, Member, Name, State, Swim, TransmitKind};

const S: fn(u64) -> Duration = Duration::from_secs;
const MS: fn(u64) -> Duration = Duration::from_millis;

/// A core named node-0 at address 0 that already knows node-1..=node-`others` (address i).
fn solo(config: Config, others: usize, now: Instant) -> Swim<Addr> {
    let mut s = Swim::new(config, Identity::new("node-0", 0), 7, now).unwrap();
    let members = (1..=others).map(|i| Member {
        name: Name::from(format!("node-{i}")),
        addr: i as Addr,
        meta: Bytes::new(),
        incarnation: 0,
        state: State::Alive,
        state_changed: now,
    });
    assert_eq!(s.restore(now, members), others);
    s
}

fn suspect(name: &str, from: &str) -> Vec<u8> {
    packet(&[Message::Suspect(Suspect { incarnation: 0, name, from })])
}

/// Every datagram the core wants to send, decoded: (destination, messages as owned debug text).
fn drain(s: &mut Swim<Addr>) -> Vec<(Addr, TransmitKind, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while let Some(t) = s.poll_transmit(&mut buf) {
        out.push((t.destination, t.kind, buf.clone()));
    }
    out
}

/// Let the gossip queue spend what it holds on other traffic (best-effort messages to an
/// outside address), so that only a message's own first part can carry an update.
fn spend_gossip(s: &mut Swim<Addr>, now: Instant) {
    for _ in 0..20 {
        s.send_user_message(now, 99, &b"x"[..], false).unwrap();
    }
    drain(s);
    assert_eq!(s.queue_depth().0, 0);
}

fn events(s: &mut Swim<Addr>) -> Vec<Event<Addr>> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

// ---------------------------------------------------------------- dynamic suspicion

#[test]
fn distinct_confirmations_shorten_the_timeout_and_duplicates_do_not() {
    let t0 = Instant::from_secs(100);
    let mut s = solo(Config::lan(), 10, t0);
    let n = 11;
    let (min, max) = timeout_bounds(4, 6, n, S(1));
    let k = 2; // suspicion_mult - 2, and n >= K + 2

    s.handle_datagram(t0, 1, &suspect("node-5", "node-1")).unwrap();
    let sus = s.suspicion("node-5").expect("suspected");
    assert_eq!((sus.needed(), sus.confirmations()), (k, 0));
    assert_eq!(sus.deadline(), t0 + max, "the timer starts at the maximum");

    // The first accuser again: no change.
    s.handle_datagram(t0 + S(1), 1, &suspect("node-5", "node-1")).unwrap();
    assert_eq!(s.suspicion("node-5").unwrap().deadline(), t0 + max);

    // A second member: one confirmation.
    s.handle_datagram(t0 + S(2), 2, &suspect("node-5", "node-2")).unwrap();
    let sus = s.suspicion("node-5").unwrap();
    assert_eq!(sus.confirmations(), 1);
    assert_eq!(sus.deadline(), t0 + timeout(min, max, k, 1));
    assert!(sus.deadline() < t0 + max);

    // The same member again: still one.
    s.handle_datagram(t0 + S(3), 2, &suspect("node-5", "node-2")).unwrap();
    assert_eq!(s.suspicion("node-5").unwrap().confirmations(), 1);

    // A third member: K reached, the timeout is the minimum.
    s.handle_datagram(t0 + S(3), 3, &suspect("node-5", "node-3")).unwrap();
    assert_eq!(s.suspicion("node-5").unwrap().deadline(), t0 + min);

    // Past K: ignored.
    s.handle_datagram(t0 + S(3), 4, &suspect("node-5", "node-4")).unwrap();
    assert_eq!(s.suspicion("node-5").unwrap().confirmations(), 2);
    assert_eq!(s.stats().suspicion_confirmations, 2);

    // Each counted confirmation was re-gossiped: the queued suspicion is now node-3's.
    s.handle_timeout(t0 + S(3) + MS(200));
    let sent = drain(&mut s);
    let gossiped: Vec<String> = sent
        .iter()
        .flat_map(|(_, _, b)| messages(b).into_iter())
        .filter_map(|m| match m {
            Message::Suspect(x) if x.name == "node-5" => Some(x.from.to_string()),
            _ => None,
        })
        .collect();
    assert!(!gossiped.is_empty() && gossiped.iter().all(|f| f == "node-3"), "{gossiped:?}");

    // The timer fires at t0 + min, not before.
    s.handle_timeout(t0 + min - MS(1));
    assert_eq!(s.member("node-5").unwrap().state, State::Suspect);
    s.handle_timeout(t0 + min);
    assert_eq!(s.member("node-5").unwrap().state, State::Dead);
    assert_eq!(s.stats().deaths_declared, 1);
}

#[test]
fn a_confirmation_after_the_new_timeout_declares_death_at_once() {
    let t0 = Instant::from_secs(100);
    let mut s = solo(Config::lan(), 10, t0);
    let (min, max) = timeout_bounds(4, 6, 11, S(1));
    s.handle_datagram(t0, 1, &suspect("node-5", "node-1")).unwrap();
    let later = t0 + S(10);
    assert!(later - t0 > min && later - t0 < max);
    s.handle_timeout(later);
    assert_eq!(s.member("node-5").unwrap().state, State::Suspect);
    s.handle_datagram(later, 2, &suspect("node-5", "node-2")).unwrap();
    // After one confirmation the timeout is still above 10 s.
    assert!(timeout(min, max, 2, 1) > S(10));
    assert_eq!(s.member("node-5").unwrap().state, State::Suspect);
    events(&mut s);
    // The second brings it to min (4.2 s), already elapsed: dead within this very call.
    s.handle_datagram(later, 3, &suspect("node-5", "node-3")).unwrap();
    assert_eq!(s.member("node-5").unwrap().state, State::Dead);
    assert!(events(&mut s).iter().any(|e| matches!(e, Event::MemberFailed(m) if m.name == "node-5")));
    assert!(s.poll_timeout() > later, "no stale timer left behind");
}

#[test]
fn small_clusters_need_no_confirmations_and_start_at_min() {
    let t0 = Instant::from_secs(1);
    // n = 3: K would be 2 but n < K + 2, so K = 0 and the timer is the minimum.
    let mut s = solo(Config::lan(), 2, t0);
    s.handle_datagram(t0, 1, &suspect("node-2", "node-1")).unwrap();
    let sus = s.suspicion("node-2").unwrap();
    assert_eq!(sus.needed(), 0);
    assert_eq!(sus.deadline(), t0 + S(4));
}

#[test]
fn configured_confirmations_override_memberlist_default() {
    let t0 = Instant::from_secs(1);
    let mut config = Config::lan();
    config.lifeguard.suspicion_confirmations = Some(3); // the paper's K
    let mut s = solo(config, 10, t0);
    s.handle_datagram(t0, 1, &suspect("node-5", "node-1")).unwrap();
    assert_eq!(s.suspicion("node-5").unwrap().needed(), 3);
}

#[test]
fn without_dynamic_suspicion_the_timeout_is_fixed() {
    let t0 = Instant::from_secs(100);
    let mut config = Config::lan();
    config.lifeguard.dynamic_suspicion = false;
    let mut s = solo(config, 10, t0);
    let (min, _) = timeout_bounds(4, 6, 11, S(1));
    s.handle_datagram(t0, 1, &suspect("node-5", "node-1")).unwrap();
    assert_eq!(s.suspicion("node-5").unwrap().deadline(), t0 + min);
    s.handle_datagram(t0, 2, &suspect("node-5", "node-2")).unwrap();
    s.handle_datagram(t0, 3, &suspect("node-5", "node-3")).unwrap();
    let sus = s.suspicion("node-5").unwrap();
    assert_eq!((sus.confirmations(), sus.deadline()), (0, t0 + min));
    assert_eq!(s.stats().suspicion_confirmations, 0);
}

#[test]
fn a_refutation_cancels_the_suspicion() {
    let t0 = Instant::from_secs(100);
    let mut s = solo(Config::lan(), 10, t0);
    s.handle_datagram(t0, 1, &suspect("node-5", "node-1")).unwrap();
    let alive = packet(&[Message::Alive(swim_core::wire::Alive {
        incarnation: 1,
        name: "node-5",
        addr: 5,
        meta: b"",
        versions: swim_core::Versions::DEFAULT,
        capabilities: swim_core::Capabilities::NONE,
    })]);
    s.handle_datagram(t0 + S(1), 5, &alive).unwrap();
    assert!(s.suspicion("node-5").is_none());
    assert_eq!(s.member("node-5").unwrap().state, State::Alive);
    s.handle_timeout(t0 + S(100));
    assert_eq!(s.member("node-5").unwrap().state, State::Alive, "no timer fires after the refutation");
}

// ---------------------------------------------------------------- awareness

#[test]
fn refuting_raises_the_health_score_and_stretches_the_probe_timers() {
    let t0 = Instant::from_secs(1);
    let mut s = solo(Config::lan(), 4, t0);
    assert_eq!((s.health_score(), s.probe_interval(), s.probe_timeout()), (0, S(1), MS(500)));
    s.handle_datagram(t0, 1, &suspect("node-0", "node-1")).unwrap();
    assert_eq!(s.health_score(), 1);
    assert_eq!(s.local().incarnation, 1);
    assert_eq!(s.stats().refutations, 1);
    assert!(events(&mut s).contains(&Event::HealthChanged { score: 1 }));
    assert_eq!((s.probe_interval(), s.probe_timeout()), (S(2), MS(1000)));

    // memberlist's choice: the probe timeout unscaled.
    let mut config = Config::lan();
    config.lifeguard.scale_probe_timeout = false;
    let mut s = solo(config, 4, t0);
    s.handle_datagram(t0, 1, &suspect("node-0", "node-1")).unwrap();
    assert_eq!((s.probe_interval(), s.probe_timeout()), (S(2), MS(500)));
}

#[test]
fn the_score_saturates_at_max_minus_one_and_returns_to_zero() {
    let mut t = Instant::from_secs(1);
    let mut s = solo(Config::lan(), 4, t);
    for i in 0..20u32 {
        let p =
            packet(&[Message::Suspect(Suspect { incarnation: s.local().incarnation, name: "node-0", from: "node-1" })]);
        s.handle_datagram(t, 1, &p).unwrap();
        assert_eq!(s.health_score(), (i + 1).min(7));
        t += MS(1);
    }
    assert_eq!(s.probe_interval(), S(8));
    // Successful probes bring it back down, one per ack.
    let mut acks = 0;
    while s.health_score() > 0 {
        t = t.max(s.poll_timeout());
        s.handle_timeout(t);
        for (to, _, bytes) in drain(&mut s) {
            for m in messages(&bytes) {
                if let Message::Ping(p) = m {
                    let ack = packet(&[Message::Ack(Ack { seq: p.seq })]);
                    s.handle_datagram(t + MS(1), to, &ack).unwrap();
                    acks += 1;
                }
            }
        }
        assert!(acks < 50, "score did not come down");
    }
    assert_eq!(acks, 7);
}

#[test]
fn awareness_off_keeps_the_score_at_zero() {
    let t0 = Instant::from_secs(1);
    let mut config = Config::lan();
    config.lifeguard.awareness = false;
    let mut s = solo(config, 4, t0);
    s.handle_datagram(t0, 1, &suspect("node-0", "node-1")).unwrap();
    assert_eq!(s.stats().refutations, 1);
    assert_eq!((s.health_score(), s.probe_interval()), (0, S(1)));
}

// ---------------------------------------------------------------- nack

#[test]
fn a_helper_nacks_when_the_target_is_silent_and_relays_when_it_answers() {
    let t0 = Instant::from_secs(1);
    let mut h = solo(Config::lan(), 0, t0);
    let req = |seq, nack| packet(&[Message::PingReq(PingReq { seq, target: "node-5", target_addr: 5, nack })]);
    h.handle_datagram(t0, 9, &req(77, true)).unwrap();
    let sent = drain(&mut h);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, 5, "the helper pings the target");
    let ping_seq = match messages(&sent[0].2)[0] {
        Message::Ping(p) => p.seq,
        ref m => panic!("{m:?}"),
    };
    // Nothing from the target; the nack goes out after nack_timeout_share * probe_timeout.
    let nack_at = t0 + MS(250);
    assert!(h.poll_timeout() <= nack_at);
    h.handle_timeout(nack_at - MS(1));
    assert!(drain(&mut h).iter().all(|(to, _, _)| *to != 9));
    h.handle_timeout(nack_at);
    let sent = drain(&mut h);
    let nacks: Vec<_> = sent
        .iter()
        .filter(|(to, _, b)| *to == 9 && matches!(messages(b)[0], Message::Nack(n) if n.seq == 77))
        .collect();
    assert_eq!(nacks.len(), 1);
    assert_eq!(h.stats().nacks_sent, 1);

    // A late ack from the target, still within the relay's life, is relayed too.
    h.handle_datagram(nack_at + MS(10), 5, &packet(&[Message::Ack(Ack { seq: ping_seq })])).unwrap();
    let sent = drain(&mut h);
    assert!(sent.iter().any(|(to, _, b)| *to == 9 && matches!(messages(b)[0], Message::Ack(a) if a.seq == 77)));

    // Without a nack request, silence gets no nack.
    h.handle_datagram(t0 + S(5), 9, &req(78, false)).unwrap();
    drain(&mut h);
    h.handle_timeout(t0 + S(7));
    assert!(drain(&mut h).iter().all(|(to, _, _)| *to != 9));
    assert_eq!(h.stats().nacks_sent, 1);
}

#[test]
fn nacks_tell_a_dead_target_from_a_slow_prober() {
    // A real crash: helpers nack, so the prober's score does not move.
    let mut c = Cluster::new(5, Config::lan(), 300);
    c.converge(S(5));
    c.crash(4);
    assert!(c.run_until(S(60), |c| c.all_see(4, State::Dead)));
    for i in 0..4 {
        assert_eq!(c.node(i).health_score(), 0, "node {i} blamed itself for a dead target");
        assert!(c.node(i).stats().nacks_received > 0 || c.node(i).stats().probe_failures == 0);
    }

    // The prober's own inbound path is broken: no acks, no nacks, the score climbs.
    let mut c = Cluster::new(5, Config::lan(), 301);
    c.converge(S(5));
    c.blackhole_inbound(0);
    c.run_for(S(6));
    assert!(c.node(0).stats().probe_failures >= 1);
    assert!(c.node(0).health_score() >= 3, "score {}", c.node(0).health_score());
    assert_eq!(c.node(0).stats().nacks_received, 0);
    c.heal();
    assert!(c.run_until(S(120), |c| c.node(0).health_score() == 0), "score comes back down once healthy");
}

#[test]
fn without_nack_indirect_probes_do_not_ask_for_one() {
    let mut config = Config::lan();
    config.lifeguard.nack = false;
    let mut c = Cluster::new(4, config, 310);
    c.converge(S(5));
    c.log = Some(Vec::new());
    c.crash(3);
    assert!(c.run_until(S(60), |c| c.all_see(3, State::Dead)));
    let log = c.log.take().unwrap();
    let indirect: Vec<bool> = log
        .iter()
        .flat_map(|(_, _, _, b)| messages(b).into_iter())
        .filter_map(|m| match m {
            Message::PingReq(p) => Some(p.nack),
            _ => None,
        })
        .collect();
    assert!(!indirect.is_empty());
    assert!(indirect.iter().all(|n| !n));
    assert_eq!(c.up().map(|i| c.node(i).stats().nacks_sent).sum::<u64>(), 0);
}

// ---------------------------------------------------------------- buddy system

#[test]
fn a_ping_to_a_suspect_carries_the_suspicion_first() {
    for buddy in [true, false] {
        let t0 = Instant::from_secs(1);
        let mut config = Config::lan();
        config.lifeguard.buddy = buddy;
        config.gossip_nodes = 0;
        let mut s = solo(config, 1, t0);
        s.handle_datagram(t0, 1, &suspect("node-1", "node-9")).unwrap();
        // Only the buddy mechanism can carry the suspicion on the probe.
        spend_gossip(&mut s, t0);
        // Run until node-0 probes node-1.
        let ping = loop {
            let t = s.poll_timeout();
            s.handle_timeout(t);
            if let Some(p) = drain(&mut s)
                .into_iter()
                .find(|(to, _, b)| *to == 1 && messages(b).iter().any(|m| matches!(m, Message::Ping(_))))
            {
                break p;
            }
            assert!(t < t0 + S(10));
        };
        let msgs = messages(&ping.2);
        if buddy {
            assert!(matches!(msgs[0], Message::Suspect(x) if x.name == "node-1" && x.from == "node-0"), "{msgs:?}");
            assert!(matches!(msgs[1], Message::Ping(_)));
        } else {
            assert!(msgs.iter().all(|m| !matches!(m, Message::Suspect(_))), "{msgs:?}");
        }
    }
}

/// A helper asked to ping a member it suspects carries its suspicion on that ping too. A
/// member that loses most of its inbound packets hears few of them, and a helper's ping may be
/// the only one that reaches it before the suspicion times out: without the suspicion on it,
/// the member answers the ping but never learns that it must refute (issue 17's diagnosis).
#[test]
fn a_helpers_ping_to_a_suspect_carries_the_suspicion() {
    for buddy in [true, false] {
        let t0 = Instant::from_secs(1);
        let mut config = Config::lan();
        config.lifeguard.buddy = buddy;
        config.gossip_nodes = 0;
        let mut h = solo(config, 5, t0);
        h.handle_datagram(t0, 1, &suspect("node-5", "node-9")).unwrap();
        // Only the relayed ping can carry the suspicion.
        spend_gossip(&mut h, t0);
        let req = packet(&[Message::PingReq(PingReq { seq: 77, target: "node-5", target_addr: 5, nack: true })]);
        h.handle_datagram(t0, 2, &req).unwrap();
        let sent = drain(&mut h);
        let to_target: Vec<_> = sent.iter().filter(|(to, _, _)| *to == 5).collect();
        assert_eq!(to_target.len(), 1, "one relayed ping: {sent:?}");
        let msgs = messages(&to_target[0].2);
        assert!(msgs.iter().any(|m| matches!(m, Message::Ping(p) if p.target == "node-5")), "{msgs:?}");
        let carried = msgs.iter().any(|m| matches!(m, Message::Suspect(x) if x.name == "node-5"));
        assert_eq!(carried, buddy, "buddy {buddy}: {msgs:?}");
    }
}

/// Two members. Node 0 comes to suspect node 1 (an accusation from outside), and its gossip
/// spends the suspicion on a message elsewhere, so node 1 can learn of it only from the
/// buddy system. Periodic push-pull is off so that nothing else repairs the view.
fn buddy_scenario(buddy: bool, seed: u64) -> (Option<Duration>, usize) {
    let mut config = Config::lan();
    config.lifeguard.buddy = buddy;
    config.gossip_nodes = 0;
    config.push_pull_interval = None;
    config.reconnect_interval = None;
    let mut c = Cluster::new(2, config, seed);
    c.converge(S(5));
    c.log = Some(Vec::new());
    let inc = c.node(1).local().incarnation;
    c.with(0, |s, now| {
        s.handle_datagram(now, 9, &suspect("node-1", "node-9")).unwrap();
        for _ in 0..10 {
            s.send_user_message(now, 99, &b"x"[..], false).unwrap(); // 99 is not a member
        }
    });
    assert_eq!(c.node(0).queue_depth().0, 0, "the suspicion is no longer queued for gossip");
    let injected = c.now;
    let refuted = c.run_until(S(30), |c| c.view(0, 1) == Some(State::Alive) && c.node(1).local().incarnation > inc);
    let log = c.log.take().unwrap();
    let buddy_ping = log.iter().find(|(at, from, to, b)| {
        *at >= injected
            && *from == 0
            && *to == 1
            && messages(b).iter().any(|m| matches!(m, Message::Suspect(x) if x.name == "node-1"))
    });
    let took = match (refuted, buddy_ping) {
        (true, Some((sent, ..))) => Some(c.now - *sent),
        _ => None,
    };
    let failed = c.count_events(|_, e| matches!(e, Event::MemberFailed(m) if m.name == "node-1"));
    (took, failed)
}

#[test]
fn a_buddy_carried_suspicion_is_refuted_within_one_probe_round_trip() {
    for seed in seeds(320, 4) {
        let _g = SeedGuard {
            seed,
            test: "a_buddy_carried_suspicion_is_refuted_within_one_probe_round_trip",
            file: "lifeguard",
        };
        let (took, failed) = buddy_scenario(true, seed);
        let took = took.expect("node 0's ping carried the suspicion and node 1 refuted");
        // One round trip: 2 x (1 ms latency + up to 0.5 ms jitter).
        assert!(took <= MS(3), "refuted {took:?} after the buddy ping");
        assert_eq!(failed, 0);
        // Without the buddy system node 1 never hears of it and is declared dead.
        let (took, failed) = buddy_scenario(false, seed);
        assert!(took.is_none());
        assert!(failed > 0, "without buddy the healthy member is declared failed");
    }
}

#[test]
fn a_stale_accusation_gets_the_current_alive_in_reply() {
    let t0 = Instant::from_secs(1);
    let mut s = solo(Config::lan(), 2, t0);
    s.handle_datagram(t0, 1, &suspect("node-0", "node-1")).unwrap();
    assert_eq!(s.local().incarnation, 1);
    drain(&mut s);
    while s.queue_depth().0 > 0 {
        s.send_user_message(t0, 99, &b"x"[..], false).unwrap();
        drain(&mut s);
    }
    // node-2 missed the refutation and pings us with the old suspicion (buddy system).
    let p = packet(&[
        Message::Suspect(Suspect { incarnation: 0, name: "node-0", from: "node-2" }),
        Message::Ping(swim_core::wire::Ping { seq: 5, target: "node-0" }),
    ]);
    s.handle_datagram(t0 + S(1), 2, &p).unwrap();
    assert_eq!(s.local().incarnation, 1, "no new incarnation for a stale accusation");
    assert_eq!(s.stats().refutations, 1);
    let sent = drain(&mut s);
    let ack = sent.iter().find(|(to, _, _)| *to == 2).expect("ack");
    let msgs = messages(&ack.2);
    assert!(matches!(msgs[0], Message::Ack(a) if a.seq == 5));
    assert!(
        msgs.iter().any(|m| matches!(m, Message::Alive(a) if a.name == "node-0" && a.incarnation == 1)),
        "{msgs:?}"
    );
}

// ---------------------------------------------------------------- all off: plain SWIM

#[test]
fn all_components_off_is_plain_swim() {
    let mut config = Config::lan();
    config.lifeguard = Lifeguard::disabled();
    let mut c = Cluster::new(6, config, 330);
    c.converge(S(5));
    c.log = Some(Vec::new());
    c.blackhole_inbound(0);
    c.run_for(S(8));
    assert_eq!(c.node(0).health_score(), 0, "no awareness");
    assert_eq!(c.node(0).probe_interval(), S(1));
    let log = c.log.take().unwrap();
    for (_, from, _, b) in &log {
        for m in messages(b) {
            if let Message::PingReq(p) = m {
                assert!(!p.nack, "no nack requested");
            }
            let _ = from;
        }
    }
    // Node 0 suspects everyone (it hears nothing); its suspicions run the fixed minimum.
    let (min, _) = timeout_bounds(4, 6, 6, S(1));
    for m in c.node(0).members().skip(1) {
        if let Some(s) = c.node(0).suspicion(&m.name) {
            assert_eq!(s.needed(), 0);
            assert_eq!(s.deadline() - s.started(), min);
        }
    }
}

// ---------------------------------------------------------------- CPU starvation

const STARVED: Slowness = Slowness { inbound: Duration::from_secs(5), timers: Duration::from_millis(100) };

struct Starved {
    /// Healthy members declared failed (by anyone).
    false_failures: usize,
    /// Suspicions of healthy members raised by the slow member.
    suspicions_by_slow: usize,
    /// Highest health score the slow member reached.
    max_score: u32,
}

fn starvation(lifeguard: Lifeguard, seed: u64, slowness: Slowness) -> Starved {
    let mut config = Config::lan();
    config.lifeguard = lifeguard;
    let n = 16;
    let slow = 3;
    let mut c = Cluster::new(n, config, seed);
    c.converge(S(10));
    c.set_slow(slow, Some(slowness));
    let mut max_score = 0;
    let end = c.now + S(240);
    while c.now < end {
        c.run_for(S(1));
        max_score = max_score.max(c.node(slow).health_score());
    }
    let healthy = |name: &str| name != format!("node-{slow}");
    Starved {
        false_failures: c.count_events(|_, e| matches!(e, Event::MemberFailed(m) if healthy(&m.name))),
        suspicions_by_slow: c
            .events_of(slow, |e| matches!(e, Event::MemberSuspected { member, accuser } if healthy(&member.name) && accuser == "node-3"))
            .len(),
        max_score,
    }
}

#[test]
fn a_starved_member_raises_its_score_and_stops_causing_false_failures() {
    let mut off_total = 0;
    let mut on_total = 0;
    for seed in seeds(340, 3) {
        let _g = SeedGuard {
            seed,
            test: "a_starved_member_raises_its_score_and_stops_causing_false_failures",
            file: "lifeguard",
        };
        let off = starvation(Lifeguard::disabled(), seed, STARVED);
        let on = starvation(Lifeguard::default(), seed, STARVED);
        eprintln!(
            "seed {seed}: plain SWIM {} false failures, {} suspicions by the slow member; Lifeguard {} and {}, max score {}",
            off.false_failures, off.suspicions_by_slow, on.false_failures, on.suspicions_by_slow, on.max_score
        );
        assert!(on.max_score >= 2, "the starved member noticed: score {}", on.max_score);
        assert_eq!(off.max_score, 0);
        assert!(on.suspicions_by_slow < off.suspicions_by_slow, "Lifeguard makes the slow member accuse less");
        off_total += off.false_failures;
        on_total += on.false_failures;
    }
    assert!(off_total > 0, "plain SWIM produces false failures under starvation");
    assert!(on_total * 10 <= off_total, "Lifeguard: {on_total} false failures vs {off_total} without");
}
