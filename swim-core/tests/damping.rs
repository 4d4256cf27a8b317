//! Flap damping (`Config::damping`, `damping.rs`) through the public API: a member that keeps
//! losing its inbound traffic and coming back is held down at every other member at about
//! the same time and readmitted everywhere once it has been stable for the hold-down; a member
//! that fails once and comes back is never held down; without damping nothing is.

mod common;

use std::time::Duration;

use common::{Cluster, SeedGuard, alive, name, packet, seeds};
use swim_core::wire::{Alive, Dead, Message, Suspect};
use swim_core::{Config, Damping, Event, Identity, Instant, State, Swim, Versions};

const S: fn(u64) -> Duration = Duration::from_secs;

fn config(damping: Option<Damping>) -> Config {
    Config { damping, ..Config::lan() }
}

/// Members other than `t` that hold `t` down.
fn holding(c: &Cluster, t: usize) -> usize {
    c.up().filter(|&o| o != t && c.node(o).is_held_down(&name(t))).count()
}

/// Blackhole node 3's inbound traffic for 20 s, then 20 s of recovery, `cycles` times.
fn flip_flop(c: &mut Cluster, cycles: u32, mut each: impl FnMut(&Cluster)) {
    for _ in 0..cycles {
        c.blackhole_inbound(3);
        c.run_for(S(20));
        each(c);
        c.heal();
        c.run_for(S(20));
        each(c);
    }
}

#[test]
fn a_flip_flopping_member_is_held_down_everywhere_then_readmitted_after_the_hold_down() {
    for seed in seeds(1, 3) {
        let _g = SeedGuard { seed, test: "a_flip_flopping_member_is_held_down", file: "damping" };
        let d = Damping::default();
        let n = 8;
        let mut c = Cluster::new(n, config(Some(d)), seed);
        c.converge(S(30));
        let mut max_holding = 0;
        flip_flop(&mut c, 4, |c| max_holding = max_holding.max(holding(c, 3)));
        assert_eq!(max_holding, n - 1, "every other member held node-3 down at some point");
        // Held down everywhere at the end of the flapping, whatever its protocol state.
        assert_eq!(holding(&c, 3), n - 1, "still held down right after the last flip");
        // Stable from now: readmitted everywhere within the hold-down (plus dissemination).
        let stable_from = c.now;
        let bound = d.hold_down + S(5);
        let ok = c.run_until(bound, |c| holding(c, 3) == 0);
        assert!(ok, "readmitted everywhere within {bound:?}");
        assert!(c.now - stable_from >= S(30), "not readmitted at once: {:?}", c.now - stable_from);
        let ok = c.run_until(S(30), |c| c.converged());
        assert!(ok, "the cluster agrees again after the readmission");
        // Every hold-down was matched by a readmission and reported as events.
        for o in (0..n).filter(|&o| o != 3) {
            let held = c.count_events(|i, e| i == o && matches!(e, Event::MemberHeldDown(m) if m.name == name(3)));
            let back = c.count_events(|i, e| i == o && matches!(e, Event::MemberReadmitted(m) if m.name == name(3)));
            assert!(held >= 1 && held == back, "node-{o}: held down {held} times, readmitted {back}");
            assert_eq!(c.node(o).stats().members_held_down as usize, held);
        }
        // Healthy members are never held down.
        for t in (0..n).filter(|&t| t != 3) {
            assert_eq!(holding(&c, t), 0);
        }
    }
}

#[test]
fn one_failure_and_return_is_not_held_down_and_without_damping_nothing_is() {
    for seed in seeds(10, 3) {
        let _g = SeedGuard { seed, test: "one_failure_and_return_is_not_held_down", file: "damping" };
        for damping in [Some(Damping::default()), None] {
            let n = 8;
            let mut c = Cluster::new(n, config(damping), seed);
            c.converge(S(30));
            let mut max_holding = 0;
            let cycles = if damping.is_some() { 1 } else { 4 };
            flip_flop(&mut c, cycles, |c| max_holding = max_holding.max(holding(c, 3)));
            assert_eq!(max_holding, 0, "damping {damping:?}: nobody holds node-3 down");
            let failed = c.count_events(|_, e| matches!(e, Event::MemberFailed(m) if m.name == name(3)));
            assert!(failed > 0, "node-3 was declared dead (the blackhole is long enough)");
            assert!(c.run_until(S(30), |c| c.converged()));
        }
    }
}

/// A held-down member's accusations are discounted: its death notice about a member alive or
/// suspect here counts only as a suspicion, and its confirmations are not counted. In
/// packet-loss's 80 % case the lossy member declared healthy members dead whose refutations it
/// never heard, and every healthy member believed it (issue 17).
#[test]
fn a_held_down_members_accusations_are_discounted() {
    for damping in [Some(Damping::default()), None] {
        let t0 = Instant::from_secs(1);
        let mut s = Swim::new(config(damping), Identity::new("node-0", 0), 7, t0).unwrap();
        assert_eq!(s.restore(t0, (1..=9).map(|i| alive(i, t0))), 9);
        let send =
            |s: &mut Swim<u32>, at: Instant, m: Message<'_, u32>| s.handle_datagram(at, 1, &packet(&[m])).unwrap();
        // node-9 dies twice and comes back in between: held down (with damping).
        let alive9 = |incarnation| {
            Message::Alive(Alive {
                incarnation,
                name: "node-9",
                addr: 9,
                meta: &[],
                versions: Versions::DEFAULT,
                capabilities: swim_core::Capabilities::NONE,
            })
        };
        send(&mut s, t0, Message::Dead(Dead { incarnation: 0, name: "node-9", from: "node-1" }));
        send(&mut s, t0 + S(1), alive9(1));
        send(&mut s, t0 + S(2), Message::Dead(Dead { incarnation: 1, name: "node-9", from: "node-1" }));
        send(&mut s, t0 + S(3), alive9(2));
        assert_eq!(s.is_held_down("node-9"), damping.is_some());
        // node-9 declares node-5 dead.
        let t = t0 + S(4);
        send(&mut s, t, Message::Dead(Dead { incarnation: 0, name: "node-5", from: "node-9" }));
        let state = s.member("node-5").unwrap().state;
        // And confirms a suspicion of node-6 that node-1 started.
        send(&mut s, t, Message::Suspect(Suspect { incarnation: 0, name: "node-6", from: "node-1" }));
        send(&mut s, t, Message::Suspect(Suspect { incarnation: 0, name: "node-6", from: "node-9" }));
        let confirmations = s.suspicion("node-6").unwrap().confirmations();
        if damping.is_some() {
            assert_eq!(state, State::Suspect, "only a suspicion: node-5 can refute");
            assert_eq!(confirmations, 0, "node-9's confirmation is not counted");
            assert_eq!(s.stats().accusations_discounted, 2);
        } else {
            assert_eq!(state, State::Dead);
            assert_eq!(confirmations, 1);
            assert_eq!(s.stats().accusations_discounted, 0);
        }
    }
}
