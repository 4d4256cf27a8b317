//! Join until joined (`Config::join_retry`): a join that reached no seed is retried with a
//! capped, jittered backoff, each attempt reported, until a seed answers.

mod common;

use std::time::Duration;

use common::Cluster;
use swim_core::{Config, Event, JoinRetry, State};

const S: fn(u64) -> Duration = Duration::from_secs;

/// Nodes 0..3 form a cluster; node 3 starts cut off from all of them and joins through 0.
fn cut_off_joiner(config: Config, seed: u64) -> Cluster {
    let mut c = Cluster::new(4, config, seed);
    c.with(1, |s, now| s.join(now, [0])).unwrap();
    c.with(2, |s, now| s.join(now, [0])).unwrap();
    c.run_for(S(2));
    c.partition(&[3], &[0, 1, 2]);
    c.with(3, |s, now| s.join(now, [0])).unwrap();
    c
}

#[test]
fn a_member_started_during_a_partition_joins_once_it_heals() {
    let mut c = cut_off_joiner(Config::lan(), 11);
    c.run_for(S(60));
    let failed = c.events_of(3, |e| matches!(e, Event::JoinCompleted { reached: 0, .. }));
    let retries = c.events_of(3, |e| matches!(e, Event::JoinRetrying { .. }));
    assert!(failed.len() >= 3, "attempts keep being made while cut off: {failed:?}");
    assert_eq!(retries.len(), failed.len(), "every failed attempt schedules the next one, and says so");
    // The backoff doubles from 1 s and is capped at 30 s, jittered into [d/2, d).
    for (k, (_, e)) in retries.iter().enumerate() {
        let Event::JoinRetrying { attempt, delay, .. } = e else { unreachable!() };
        assert_eq!(*attempt as usize, k + 2);
        let cap = Config::lan().join_retry.unwrap().backoff(*attempt);
        assert!(*delay >= cap / 2 && *delay < cap, "attempt {attempt}: {delay:?} not in [{:?}, {cap:?})", cap / 2);
    }
    assert_eq!(c.node(3).num_members(), 1, "still alone while the partition lasts");
    c.heal();
    let joined = c.run_until(S(40), |c| c.converged());
    assert!(joined, "the cut-off member joins within one backoff cap of the heal");
    assert!(c.node(3).stats().join_retries >= 3);
    let done = c.events_of(3, |e| matches!(e, Event::JoinCompleted { reached: 1, .. }));
    assert_eq!(done.len(), 1, "the attempt that reached the seed is the last");
    let after = c.events_of(3, |e| matches!(e, Event::JoinRetrying { .. })).len();
    c.run_for(S(120));
    assert_eq!(c.events_of(3, |e| matches!(e, Event::JoinRetrying { .. })).len(), after, "no retry once joined");
    assert_eq!(c.view(0, 3), Some(State::Alive));
}

#[test]
fn a_join_gives_up_after_max_attempts_and_says_so() {
    let mut config = Config::lan();
    config.join_retry = Some(JoinRetry { initial: S(1), max: S(4), max_attempts: Some(3) });
    let mut c = cut_off_joiner(config, 12);
    c.run_for(S(120));
    let failed = c.events_of(3, |e| matches!(e, Event::JoinCompleted { reached: 0, .. }));
    assert_eq!(failed.len(), 3, "three attempts in all");
    let gave_up = c.events_of(3, |e| matches!(e, Event::JoinGaveUp { attempts: 3, .. }));
    assert_eq!(gave_up.len(), 1);
    assert!(gave_up[0].0 >= failed[2].0);
    c.heal();
    c.run_for(S(60));
    assert_eq!(c.node(3).num_members(), 1, "after giving up the member stays alone until told to join");
}

#[test]
fn with_join_retry_off_a_failed_join_is_reported_once() {
    let mut config = Config::lan();
    config.join_retry = None;
    let mut c = cut_off_joiner(config, 13);
    c.run_for(S(60));
    assert_eq!(c.events_of(3, |e| matches!(e, Event::JoinCompleted { reached: 0, .. })).len(), 1);
    assert!(c.events_of(3, |e| matches!(e, Event::JoinRetrying { .. } | Event::JoinGaveUp { .. })).is_empty());
    assert_eq!(c.node(3).stats().join_retries, 0);
}

#[test]
fn a_retry_is_dropped_once_a_seed_is_known_alive_another_way() {
    // Node 3 cannot reach seed 0, but node 1 can reach node 3 and joins through it: node 3
    // then learns seed 0 is alive from node 1's state and stops retrying.
    let mut c = Cluster::new(4, Config::lan(), 14);
    c.with(1, |s, now| s.join(now, [0])).unwrap();
    c.with(2, |s, now| s.join(now, [0])).unwrap();
    c.run_for(S(2));
    c.partition(&[3], &[0]);
    c.with(3, |s, now| s.join(now, [0])).unwrap();
    c.run_for(S(5));
    assert!(!c.events_of(3, |e| matches!(e, Event::JoinRetrying { .. })).is_empty());
    c.with(1, |s, now| s.join(now, [3])).unwrap();
    c.run_for(S(5));
    assert_eq!(c.view(3, 0), Some(State::Alive), "node 3 knows the seed from node 1");
    let retries = c.node(3).stats().join_retries;
    c.run_for(S(120));
    assert!(c.node(3).stats().join_retries <= retries + 1, "at most the retry already due, then none");
}

#[test]
fn leaving_cancels_a_waiting_retry() {
    let mut c = cut_off_joiner(Config::lan(), 15);
    c.run_for(S(15));
    let retries = c.node(3).stats().join_retries;
    c.with(3, |s, now| s.leave(now)).unwrap();
    c.run_for(S(120));
    assert_eq!(c.node(3).stats().join_retries, retries);
}

#[test]
fn join_retry_knobs_are_validated() {
    let mut c = Config::lan();
    c.join_retry = Some(JoinRetry { initial: Duration::ZERO, max: S(1), max_attempts: None });
    assert!(c.validate().is_err(), "zero initial backoff");
    c.join_retry = Some(JoinRetry { initial: S(10), max: S(1), max_attempts: None });
    assert!(c.validate().is_err(), "initial above the cap");
    c.join_retry = Some(JoinRetry { initial: S(1), max: JoinRetry::MAX_BACKOFF + S(1), max_attempts: None });
    assert!(c.validate().is_err(), "cap above one hour");
    c.join_retry = Some(JoinRetry { initial: S(1), max: S(1), max_attempts: Some(0) });
    assert!(c.validate().is_err(), "zero attempts");
    c.join_retry = Some(JoinRetry { initial: S(1), max: S(1), max_attempts: Some(1) });
    assert!(c.validate().is_ok());
    c.join_retry = None;
    assert!(c.validate().is_ok());
}
