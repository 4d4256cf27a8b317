//! Version negotiation and refusal (docs/protocol.md section 2, "Versions"), in clusters driven
//! by the harness: mixed clusters talk the version each pair shares, members that share none
//! are refused and never held, and a member restarted into new versions makes everyone learn
//! them.

mod common;

use std::time::Duration;

use common::{Cluster, SeedGuard, name, seeds};
use swim_core::wire::envelope;
use swim_core::{Config, DecodeError, Event, RefusalReason, State, VersionRange, Versions};

const OLD: VersionRange = VersionRange::new(1, 1, 1);
const NEW: VersionRange = VersionRange::new(1, 2, 2);

fn config(protocol: VersionRange) -> Config {
    Config { versions: Versions { protocol, ..Versions::DEFAULT }, ..Config::local() }
}

/// The envelope version of a packet.
fn version(packet: &[u8]) -> u8 {
    envelope::parse(packet).expect("an envelope").0.version
}

/// Three members on 1..=1 and three on 1..=2 (preferring 2): the cluster converges with no
/// packet rejected (the harness is strict), each member learns what the others speak, and
/// once they have, the upgraded members talk version 2 to each other and 1 to the rest.
#[test]
fn upgraded_pairs_talk_the_new_version_and_everyone_else_the_old_one() {
    for seed in seeds(1, 4) {
        let _g = SeedGuard {
            seed,
            test: "upgraded_pairs_talk_the_new_version_and_everyone_else_the_old_one",
            file: "versions",
        };
        let upgraded = |i: usize| i >= 3;
        let configs = (0..6).map(|i| config(if upgraded(i) { NEW } else { OLD })).collect();
        let mut c = Cluster::with_configs(configs, seed);
        c.log = Some(Vec::new());
        c.converge(Duration::from_secs(30));
        for o in 0..6 {
            for t in 0..6 {
                let expected = if upgraded(t) { NEW } else { OLD };
                assert_eq!(c.node(o).versions_of(&name(t)).map(|v| v.protocol), Some(expected), "{o} about {t}");
            }
        }
        let settled = c.now;
        c.run_for(Duration::from_secs(30));
        let log = c.log.take().expect("recording");
        let mut v2 = 0;
        for (at, from, to, packet) in log.iter().filter(|(at, ..)| *at >= settled) {
            let both = upgraded(*from as usize) && upgraded(*to as usize);
            assert_eq!(version(packet), if both { 2 } else { 1 }, "{from} -> {to} at {at:?}");
            v2 += usize::from(both);
        }
        assert!(v2 > 0, "the upgraded members talked to each other");
        assert!(log.iter().any(|(_, from, to, p)| *from < 3 && *to >= 3 && version(p) == 1));
        for i in 0..6 {
            assert_eq!(c.node(i).stats().decode_errors.total(), 0, "node {i}");
            assert_eq!(c.node(i).stats().versions_refused, 0, "node {i}");
        }
    }
}

/// A member that speaks only protocol 3 joins a cluster on 1..=1: its packets are rejected as
/// `UnsupportedVersion` and counted, it is never held, and the cluster is undisturbed.
#[test]
fn a_member_with_no_protocol_version_in_common_is_rejected_and_never_held() {
    for seed in seeds(10, 3) {
        let _g = SeedGuard {
            seed,
            test: "a_member_with_no_protocol_version_in_common_is_rejected_and_never_held",
            file: "versions",
        };
        let mut configs: Vec<Config> = (0..5).map(|_| config(OLD)).collect();
        configs.push(config(VersionRange::only(3)));
        let mut c = Cluster::with_configs(configs, seed);
        c.strict = false; // the outsider's packets are rejected: that is the point
        c.join_all(0);
        c.run_for(Duration::from_secs(60));
        for o in 0..5 {
            assert!(c.node(o).member(&name(5)).is_none(), "node {o} holds the outsider");
            assert_eq!(c.node(o).num_members(), 5, "node {o}");
        }
        assert_eq!(c.node(5).num_members(), 1, "the outsider holds nobody");
        let rejected = c.node(0).stats().decode_errors.get(DecodeError::UnsupportedVersion);
        assert!(rejected >= 1, "its join reached the seed and was rejected ({rejected})");
        let other_errors: u64 = (0..5).map(|o| c.node(o).stats().decode_errors.total()).sum::<u64>()
            - (0..5).map(|o| c.node(o).stats().decode_errors.get(DecodeError::UnsupportedVersion)).sum::<u64>();
        assert_eq!(other_errors, 0);
        let joined = c.count_events(|o, e| o < 5 && matches!(e, Event::MemberJoined(m) if m.name == name(5)));
        assert_eq!(joined, 0);
    }
}

/// Members on 1..=1 and members on 2..=2 share no version, but both share one with a bridge on
/// 1..=2: the bridge holds everyone, each side refuses the other (`MemberRefused`, counted)
/// and never sends it a packet, and nothing is rejected anywhere (the harness is strict):
/// indirect probes only ask helpers that share a version with the target.
#[test]
fn members_with_no_version_in_common_refuse_each_other_through_a_bridge() {
    for seed in seeds(20, 4) {
        let _g = SeedGuard {
            seed,
            test: "members_with_no_version_in_common_refuse_each_other_through_a_bridge",
            file: "versions",
        };
        let far = VersionRange::only(2);
        // Node 0 is the bridge; 1 and 2 are old, 3 and 4 far.
        let side = |i: usize| match i {
            0 => None,
            1 | 2 => Some(false),
            _ => Some(true),
        };
        let configs = (0..5)
            .map(|i| {
                config(if i == 0 {
                    NEW
                } else if i <= 2 {
                    OLD
                } else {
                    far
                })
            })
            .collect();
        let mut c = Cluster::with_configs(configs, seed);
        c.log = Some(Vec::new());
        c.join_all(0);
        c.run_for(Duration::from_secs(90));
        assert_eq!(c.node(0).num_members(), 5, "the bridge holds everyone");
        for o in 1..5 {
            for t in 1..5 {
                let held = c.node(o).member(&name(t)).is_some_and(|m| m.state == State::Alive);
                assert_eq!(held, o == t || side(o) == side(t), "{o} about {t}");
            }
            assert!(c.node(o).stats().versions_refused > 0, "node {o} refused the other side");
            assert_eq!(c.node(o).stats().decode_errors.total(), 0, "node {o}");
        }
        let ours = c.node(1).config().versions;
        let refused = c.count_events(|o, e| {
            o == 1
                && matches!(e, Event::MemberRefused { name: n, reason: RefusalReason::Version { theirs, ours: mine }, .. }
                    if *n == name(3) && theirs.protocol == far && *mine == ours)
        });
        assert!(refused > 0, "node 1 reported refusing node 3");
        let log = c.log.take().expect("recording");
        assert!(
            log.iter().all(|(_, from, to, _)| side(*from as usize).zip(side(*to as usize)).is_none_or(|(a, b)| a == b)),
            "no packet crossed between the sides"
        );
    }
}

/// A member restarted into new versions at incarnation 0, which the others hold at the same
/// incarnation with the old versions: the first claim about itself with the old versions makes
/// it refute, and everyone learns what it speaks now (then talks the new version with it).
#[test]
fn a_member_restarted_into_new_versions_makes_everyone_learn_them() {
    for seed in seeds(30, 4) {
        let _g = SeedGuard {
            seed,
            test: "a_member_restarted_into_new_versions_makes_everyone_learn_them",
            file: "versions",
        };
        let mut configs: Vec<Config> = (0..5).map(|_| config(NEW)).collect();
        configs[2] = config(OLD);
        let mut c = Cluster::with_configs(configs, seed);
        c.converge(Duration::from_secs(30));
        assert!((0..5).all(|o| c.node(o).versions_of(&name(2)).is_some_and(|v| v.protocol == OLD)));
        c.set_config(2, config(NEW));
        c.restart(2, 0, 0);
        let learnt = c.run_until(Duration::from_secs(30), |c| {
            (0..5).all(|o| c.node(o).versions_of(&name(2)).is_some_and(|v| v.protocol == NEW))
        });
        assert!(learnt, "everyone learns node 2's new versions");
        assert!(c.node(2).local().incarnation > 0, "it refuted its old record");
        assert!(c.converged());
    }
}

/// Members restored from a snapshot are taken to speak only the restoring member's `min`, with
/// its application versions and capabilities, until they announce themselves.
#[test]
fn restored_members_are_taken_to_speak_only_min() {
    let mut c = Cluster::new(3, config(NEW), 1);
    let snapshot: Vec<_> = (1..3)
        .map(|i| swim_core::Member {
            name: name(i).into(),
            addr: i as u32,
            meta: swim_core::Bytes::new(),
            incarnation: 0,
            state: State::Alive,
            state_changed: c.now,
        })
        .collect();
    assert_eq!(c.with(0, |s, now| s.restore(now, snapshot)), 2);
    let v = c.node(0).versions_of(&name(1)).expect("restored");
    assert_eq!((v.protocol, v.application), (VersionRange::only(1), Versions::DEFAULT.application));
    let own = c.node(0).capabilities_of(&name(0));
    assert!(own.is_some_and(|c| c.compression()), "compression is on by default");
    assert_eq!(c.node(0).capabilities_of(&name(1)), own, "taken to prefer what this member prefers");
    assert_eq!(c.node(0).versions_of(&name(0)).map(|v| v.protocol), Some(NEW), "the local member");
    assert_eq!(c.node(0).versions_of("nobody"), None);
}
