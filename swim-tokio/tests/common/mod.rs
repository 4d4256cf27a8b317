//! Shared by the integration tests: waiting on conditions with deadlines, recording events,
//! and the time bounds each test derives from its configuration.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use swim_tokio::{Event, Node};

/// Extra time on every bound for a loaded 2-core CI machine running other tests.
pub const SLACK: Duration = Duration::from_secs(10);

/// How often conditions are re-checked.
pub const POLL: Duration = Duration::from_millis(50);

/// Wait until `check` returns `Ok`, re-checking every [`POLL`]; panic with `what` and the
/// last `Err` if `within` passes first. Returns how long it took.
pub async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let start = tokio::time::Instant::now();
    let deadline = start + within;
    loop {
        let last = match check().await {
            Ok(()) => {
                println!("{what}: {:?} (bound {within:?})", start.elapsed());
                return start.elapsed();
            }
            Err(e) => e,
        };
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {within:?} waiting for {what}: {last}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Every event a member emitted since it started, recorded by a background task.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Event>>>);

impl Recorder {
    /// Record `node`'s events from now on.
    pub fn attach(node: &Node) -> Self {
        let recorder = Recorder::default();
        let mut events = node.events();
        let log = recorder.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                log.0.lock().unwrap().push(event);
            }
        });
        recorder
    }

    /// Whether any recorded event matches.
    pub fn any(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.0.lock().unwrap().iter().any(f)
    }

    /// How many recorded events match.
    pub fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.0.lock().unwrap().iter().filter(|e| f(e)).count()
    }

    /// Position of the first matching event.
    pub fn position(&self, f: impl Fn(&Event) -> bool) -> Option<usize> {
        self.0.lock().unwrap().iter().position(f)
    }
}

pub fn failed(name: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::MemberFailed(m) if m.name == name)
}

pub fn suspected(name: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::MemberSuspected { member, .. } if member.name == name)
}

pub fn left(name: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::MemberLeft(m) if m.name == name)
}

/// Upper bound on the time from a crash until every live member of an `n`-member cluster
/// has declared the crashed member failed, from its configuration:
///
/// - each live member probes every other within one pass of its round-robin probe list, so
///   some member's probe reaches the crashed one within `n - 1` probe intervals, and it fails
///   one probe interval later (`n` intervals in all; unscaled, since healthy members have a
///   health score of 0);
/// - that member's suspicion runs at most the maximum suspicion timeout (Lifeguard's
///   `beta * alpha * max(1, log10 n) * probe interval`, before any confirmation);
/// - the death notice then spreads by gossip, each update being sent at most the retransmit
///   limit times, one gossip interval apart;
/// - plus [`SLACK`].
pub fn crash_detection_bound(c: &swim_core::Config, n: usize) -> Duration {
    let (_, max) =
        swim_core::suspicion::timeout_bounds(c.suspicion_mult, c.suspicion_max_timeout_mult, n, c.probe_interval);
    c.probe_interval * n as u32 + max + dissemination_bound(c, n) + SLACK
}

/// Upper bound on the time for an update to reach every member by gossip alone: the
/// retransmit limit's worth of gossip intervals, then one periodic push-pull (which repairs
/// whatever gossip missed) and its stream timeout. Excludes [`SLACK`].
pub fn dissemination_bound(c: &swim_core::Config, n: usize) -> Duration {
    let rounds = swim_core::dissemination::retransmit_limit(c.retransmit_mult, n);
    let push_pull = swim_core::sync::push_pull_interval(c.push_pull_interval.unwrap_or(Duration::ZERO), n);
    c.gossip_interval * rounds + push_pull + c.stream_timeout
}

/// Upper bound for `n` members joining through one seed to all see each other: each join
/// is one push-pull with the seed (at most the stream timeout), then gossip and the early
/// follow-up push-pull spread the rest ([`dissemination_bound`]), plus [`SLACK`].
pub fn convergence_bound(c: &swim_core::Config, n: usize) -> Duration {
    c.stream_timeout + dissemination_bound(c, n) + SLACK
}
