//! Round-trip times, ack payloads, pings and network coordinates (issue 15, points 1 and 2),
//! driven through real cores in virtual time: every probe reports its RTT and path, a
//! target's ack payload reaches the prober, `Swim::ping` answers or times out, extended acks
//! stay between members that advertise them, and Vivaldi coordinates converge on a network
//! whose latencies come from points on a plane, refusing poisoned coordinates.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Addr, Cluster, SeedGuard, messages, packet, seeds};
use swim_core::coordinates::Coordinate;
use swim_core::hooks::{Hooks, ProbeCompleted, ProbePath};
use swim_core::wire::{ExtendedAck, Message};
use swim_core::{Bytes, CommandError, Config, CoordinateConfig, Event, PingId};

const MS: fn(u64) -> Duration = Duration::from_millis;
const S: fn(u64) -> Duration = Duration::from_secs;

/// One completed probe as the hook saw it: (target, address, rtt, path, payload).
type Completion = (String, Addr, Duration, ProbePath, Vec<u8>);

/// Hooks that put `payload` in every ack and log every completed probe.
struct RttHooks {
    payload: Bytes,
    log: Arc<Mutex<Vec<Completion>>>,
}

impl Hooks<Addr> for RttHooks {
    fn ack_payload(&mut self) -> Bytes {
        self.payload.clone()
    }

    fn probe_completed(&mut self, p: &ProbeCompleted<'_, Addr>) {
        self.log.lock().unwrap().push((p.name.to_string(), *p.addr, p.rtt, p.path, p.payload.to_vec()));
    }
}

/// `n` members with `config`, joined through node 0, with no jitter and a one-way latency of
/// `latency`; every member's ack payload is its name. Returns the cluster and each member's
/// probe log.
fn cluster(n: usize, config: Config, latency: Duration) -> (Cluster, Vec<Arc<Mutex<Vec<Completion>>>>) {
    let mut c = Cluster::new(n, config, 1);
    c.latency = latency;
    c.jitter = Duration::ZERO;
    let mut logs = Vec::new();
    for i in 0..n {
        let log = Arc::new(Mutex::new(Vec::new()));
        logs.push(log.clone());
        let payload = Bytes::from(common::name(i));
        c.nodes[i].swim.set_hooks(RttHooks { payload, log });
    }
    c.join_all(0);
    c.converge(S(10));
    (c, logs)
}

fn with_payloads() -> Config {
    Config { ack_payloads: true, ..Config::local() }
}

#[test]
fn direct_probes_report_rtt_and_the_targets_payload() {
    let (mut c, logs) = cluster(3, with_payloads(), MS(5));
    logs[0].lock().unwrap().clear();
    c.run_for(S(10));
    let log = logs[0].lock().unwrap();
    assert!(log.len() >= 8, "about one probe a second: {log:?}");
    for (name, addr, rtt, path, payload) in log.iter() {
        assert_eq!(*path, ProbePath::Direct);
        assert_eq!(*rtt, MS(10), "two hops of 5 ms, in virtual time");
        assert_eq!(name, &common::name(*addr as usize));
        assert_eq!(payload, name.as_bytes(), "the target's own ack payload");
    }
    let stats = c.node(0).stats();
    assert!(stats.probes_direct >= 8 && stats.probes_indirect == 0);
    // Every probe ended one way or the other, but for one perhaps still in flight.
    assert!(stats.probes_direct + stats.probe_failures + 1 >= stats.probes);
    assert!(c.node(1).stats().extended_acks_sent > 0);
}

#[test]
fn indirect_probes_are_told_apart_and_carry_no_payload() {
    let (mut c, logs) = cluster(3, with_payloads(), MS(5));
    // Node 0 and node 1 cannot reach each other: probes between them go through node 2.
    c.blocked.insert((0, 1));
    c.blocked.insert((1, 0));
    logs[0].lock().unwrap().clear();
    c.run_for(S(12));
    let log = logs[0].lock().unwrap();
    let indirect: Vec<_> = log.iter().filter(|e| e.0 == "node-1").collect();
    assert!(!indirect.is_empty(), "node 0 probed node 1 through node 2: {log:?}");
    for (_, addr, rtt, path, payload) in indirect {
        assert_eq!((*addr, *path), (1, ProbePath::Indirect));
        assert_eq!(*rtt, MS(20), "four hops of 5 ms from the ping-reqs: 0 -> 2 -> 1 -> 2 -> 0");
        assert!(payload.is_empty(), "helpers relay plain acks");
    }
    assert!(log.iter().any(|e| e.0 == "node-2" && e.3 == ProbePath::Direct));
    assert!(c.node(0).stats().probes_indirect > 0);
}

#[test]
fn without_the_capability_acks_stay_plain() {
    // Node 2 does not ask for payloads: it is pinged with plain pings and gets plain acks,
    // while nodes 0 and 1 exchange extended ones.
    let configs = vec![with_payloads(), with_payloads(), Config::local()];
    let mut c = Cluster::with_configs(configs, 2);
    c.jitter = Duration::ZERO;
    let mut logs = Vec::new();
    for i in 0..3 {
        let log = Arc::new(Mutex::new(Vec::new()));
        logs.push(log.clone());
        c.nodes[i].swim.set_hooks(RttHooks { payload: Bytes::from_static(b"p"), log });
    }
    c.log = Some(Vec::new());
    c.join_all(0);
    c.converge(S(10));
    c.run_for(S(10));
    let sent = c.log.take().unwrap();
    let mut extended = 0;
    for (_, from, to, bytes) in &sent {
        for m in messages(bytes) {
            if matches!(m, Message::ExtendedPing(_) | Message::ExtendedAck(_)) {
                extended += 1;
                assert!(*from != 2 && *to != 2, "an extended message between {from} and {to}");
            }
        }
    }
    assert!(extended > 0);
    for (i, log) in logs.iter().enumerate() {
        for (name, _, _, path, payload) in log.lock().unwrap().iter() {
            let expect_payload = i != 2 && name != "node-2" && *path == ProbePath::Direct;
            assert_eq!(payload.is_empty(), !expect_payload, "node {i} probing {name}");
        }
    }
}

/// Hooks whose ack payload is over the limit.
struct Oversized;

impl Hooks<Addr> for Oversized {
    fn ack_payload(&mut self) -> Bytes {
        Bytes::from(vec![7u8; 65])
    }
}

#[test]
fn an_oversized_payload_is_not_sent_and_the_ack_still_is() {
    let mut c = Cluster::new(2, with_payloads(), 3);
    c.nodes[1].swim.set_hooks(Oversized);
    c.join_all(0);
    c.converge(S(10));
    let before = c.node(0).stats().probe_failures;
    c.run_for(S(10));
    assert!(c.node(1).stats().ack_payloads_refused > 0);
    assert_eq!(c.node(1).stats().extended_acks_sent, 0, "nothing left to extend the ack with");
    assert_eq!(c.node(0).stats().probe_failures, before, "the plain ack answered every probe");
}

fn ping_results(c: &Cluster, i: usize) -> Vec<(PingId, Option<String>, Addr, Option<Duration>)> {
    let mut out = Vec::new();
    for (_, e) in &c.nodes[i].events {
        if let Event::PingCompleted { id, name, addr, rtt } = e {
            out.push((*id, name.as_ref().map(|n| n.to_string()), *addr, *rtt));
        }
    }
    out
}

#[test]
fn ping_a_member_an_address_and_nobody() {
    let (mut c, _) = cluster(3, Config::local(), MS(3));
    let a = c.with(0, |s, now| s.ping(now, "node-1")).unwrap();
    let b = c.with(0, |s, now| s.ping_addr(now, 2)).unwrap();
    let timeout = c.node(0).probe_timeout();
    let nobody = c.with(0, |s, now| s.ping_addr(now, 9)).unwrap();
    assert_eq!(c.with(0, |s, now| s.ping(now, "node-7")), Err(CommandError::UnknownMember));
    assert_eq!(c.with(0, |s, now| s.ping(now, "node-0")), Err(CommandError::UnknownMember), "not itself");
    let start = c.now;
    c.run_until(S(2), |c| ping_results(c, 0).len() == 3);
    let results = ping_results(&c, 0);
    assert_eq!(
        results,
        vec![(a, Some("node-1".to_string()), 1, Some(MS(6))), (b, None, 2, Some(MS(6))), (nobody, None, 9, None),]
    );
    let timed_out_at = c.nodes[0].events.iter().find(|(_, e)| matches!(e, Event::PingCompleted { rtt: None, .. }));
    assert_eq!(timed_out_at.unwrap().0, start + timeout, "a ping times out after the probe timeout");
    let stats = c.node(0).stats();
    assert_eq!((stats.pings_sent, stats.pings_timed_out), (3, 1));
}

#[test]
fn pings_in_flight_are_bounded() {
    let mut config = Config::local();
    config.limits.max_pings_in_flight = 2;
    let (mut c, _) = cluster(2, config, MS(3));
    c.with(0, |s, now| s.ping(now, "node-1")).unwrap();
    c.with(0, |s, now| s.ping_addr(now, 5)).unwrap();
    assert_eq!(c.with(0, |s, now| s.ping(now, "node-1")), Err(CommandError::TooManyPings));
    c.run_until(S(1), |c| ping_results(c, 0).len() == 2);
    assert_eq!(ping_results(&c, 0).len(), 2);
    c.with(0, |s, now| s.ping(now, "node-1")).expect("room again once they completed");
}

fn with_coordinates(dimensionality: usize) -> Config {
    Config { coordinates: Some(CoordinateConfig { dimensionality, ..CoordinateConfig::default() }), ..Config::local() }
}

/// Members at points of a 100 ms square with access delays of 1 to 3 ms; one-way latency is
/// half the RTT (distance plus both delays).
fn plane(n: usize, seed: u64) -> Vec<([f64; 2], f64)> {
    let mut rng = swim_core::rng::SwimRng::from_seed_u64(seed);
    let mut unit = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (0..n).map(|_| ([unit() * 0.1, unit() * 0.1], 0.001 + unit() * 0.002)).collect()
}

fn true_rtt(points: &[([f64; 2], f64)], a: usize, b: usize) -> f64 {
    let ((p, ha), (q, hb)) = (points[a], points[b]);
    ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt() + ha + hb
}

#[test]
fn coordinates_converge_on_a_plane() {
    for seed in seeds(40, 2) {
        let _g = SeedGuard { seed, test: "coordinates_converge_on_a_plane", file: "rtt" };
        let n = 16;
        let points = plane(n, seed);
        let mut c = Cluster::new(n, with_coordinates(8), seed);
        c.jitter = Duration::ZERO;
        let p = points.clone();
        c.link_latency =
            Some(Box::new(move |a, b| Duration::from_secs_f64(true_rtt(&p, a as usize, b as usize) / 2.0)));
        c.join_all(0);
        c.converge(S(20));
        c.run_for(S(180));
        let mut errors = Vec::new();
        for a in 0..n {
            let na = common::name(a);
            assert!(c.node(a).coordinate().is_some());
            for b in 0..n {
                if a == b {
                    continue;
                }
                let nb = common::name(b);
                let est = c.node(a).estimate_rtt(&na, &nb).expect("every member's coordinate is known");
                assert_eq!(Some(est), c.node(a).estimate_rtt(&nb, &na), "symmetric");
                let truth = true_rtt(&points, a, b);
                errors.push((est.as_secs_f64() - truth).abs() / truth);
            }
            assert_eq!(c.node(a).stats().coordinates_rejected, 0);
        }
        errors.sort_by(f64::total_cmp);
        let median = errors[errors.len() / 2];
        eprintln!("seed {seed}: median relative error {median:.3}, p90 {:.3}", errors[errors.len() * 9 / 10]);
        assert!(median < 0.08, "median relative error {median:.3} after 3 virtual minutes");
    }
}

#[test]
fn coordinates_are_deterministic_and_mixed_clusters_work() {
    let run = || {
        let configs = vec![with_coordinates(3), with_coordinates(3), Config::local(), with_coordinates(3)];
        let mut c = Cluster::with_configs(configs, 5);
        c.join_all(0);
        c.converge(S(10));
        c.run_for(S(30));
        c
    };
    let (a, b) = (run(), run());
    assert_eq!(a.digest, b.digest);
    assert_eq!(a.node(0).coordinate(), b.node(0).coordinate());
    // Node 2 has coordinates off: none of its own, and nobody learns one for it.
    assert!(a.node(2).coordinate().is_none());
    assert!(a.node(2).coordinate_of("node-0").is_none());
    assert!(a.node(0).coordinate_of("node-2").is_none());
    assert!(a.node(0).estimate_rtt("node-0", "node-2").is_none());
    assert!(a.node(0).coordinate_of("node-1").is_some());
    assert!(a.node(0).estimate_rtt("node-1", "node-3").is_some(), "between two remote members");
    assert!(a.node(0).stats().coordinate_updates > 0);
}

#[test]
fn poisoned_coordinates_are_refused_and_never_move_ours() {
    let mut c = Cluster::new(2, with_coordinates(2), 6);
    c.jitter = Duration::ZERO;
    c.join_all(0);
    c.converge(S(10));
    c.run_for(S(5));
    let ours = *c.node(0).coordinate().unwrap();
    let theirs = c.node(0).coordinate_of("node-1").copied();
    assert!(theirs.is_some());
    let (updates, rejected, probes) = {
        let s = c.node(0).stats();
        (s.coordinate_updates, s.coordinates_rejected, s.probes_direct)
    };
    let poison = [
        Coordinate::from_raw(&[f64::NAN, 0.0], 0.5, 0.0, 0.001),
        Coordinate::from_raw(&[0.0, f64::INFINITY], 0.5, 0.0, 0.001),
        Coordinate::from_raw(&[1e12, 0.0], 0.5, 0.0, 0.001),
        Coordinate::from_raw(&[0.0, 0.0], f64::NAN, 0.0, 0.001),
        Coordinate::from_raw(&[0.0, 0.0], 0.5, 0.0, -1.0),
        Coordinate::from_raw(&[0.01, 0.0, 0.0], 0.5, 0.0, 0.001),
    ];
    for (k, bad) in poison.iter().enumerate() {
        // Wait for node 0's next extended ping to node 1, and answer it first, with poison.
        c.log = Some(Vec::new());
        let mut seq = None;
        c.run_until(S(5), |c| {
            seq = c.log.as_ref().unwrap().iter().find_map(|(_, from, to, bytes)| {
                let ping = messages(bytes).into_iter().find_map(|m| match m {
                    Message::ExtendedPing(p) => Some(p.seq),
                    _ => None,
                });
                ping.filter(|_| (*from, *to) == (0, 1))
            });
            seq.is_some()
        });
        let seq = seq.expect("node 0 probed node 1");
        let forged = packet(&[Message::ExtendedAck(ExtendedAck { seq, payload: b"", coordinate: Some(*bad) })]);
        assert!(c.with(0, |s, now| s.handle_datagram(now, 1, &forged)).is_ok(), "poison {k} decodes");
    }
    let n = poison.len() as u64;
    let s = c.node(0).stats();
    assert_eq!(s.coordinate_updates, updates, "no update from poison (the real acks came too late)");
    assert_eq!(s.coordinates_rejected, rejected + n);
    assert_eq!(s.probes_direct, probes + n, "each forged ack still ended its probe");
    assert_eq!(*c.node(0).coordinate().unwrap(), ours);
    assert_eq!(c.node(0).coordinate_of("node-1").copied(), theirs);
    // Life goes on: the next probes update it again.
    c.log = None;
    c.run_for(S(5));
    assert!(c.node(0).stats().coordinate_updates > updates);
    c.node(0).coordinate().unwrap().check(2).unwrap();
}
