//! The application hooks (`swim_core::hooks`), each driven through real cores in virtual time:
//! application state in push-pull, broadcast verdicts, global keys and finished notices,
//! admission of members and merges (and a refused join), and the address allowlist.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Addr, Cluster, alive, messages, packet};
use swim_core::hooks::{BroadcastOutcome, Candidate, Exchange, FinishedBroadcast, Hooks, Refusal, Verdict};
use swim_core::wire::{Alive, MemberState, Message, PushPull, PushPullKind, UserBroadcast};
use swim_core::{BroadcastId, Bytes, Config, DecodeError, Event, Identity, Instant, Member, State, Swim, TransmitKind};

const S: fn(u64) -> Duration = Duration::from_secs;

/// What a member's hooks saw.
#[derive(Debug, Default)]
struct Log {
    /// Every `local_state` call.
    asked: Vec<Exchange>,
    /// Every `merge_remote_state` call: (from, state, exchange).
    merged: Vec<(String, Vec<u8>, Exchange)>,
    /// Every `on_broadcast` call: (origin, key, payload).
    judged: Vec<(String, Vec<u8>, Vec<u8>)>,
    /// Every `broadcast_finished` call: (origin, id, key, local, outcome).
    finished: Vec<(String, BroadcastId, Vec<u8>, bool, BroadcastOutcome)>,
    /// Every `admit_merge` call: (from, names, exchange).
    merges: Vec<(String, Vec<String>, Exchange)>,
}

/// Hooks whose answers a test sets, and which log every call.
#[derive(Default)]
struct TestHooks {
    log: Arc<Mutex<Log>>,
    /// What `local_state` returns.
    state: Bytes,
    /// Broadcasts with this key are stale.
    stale_key: Option<Vec<u8>>,
    /// `admit_member` refuses this name.
    refuse_member: Option<String>,
    /// `admit_merge` refuses states from this sender.
    refuse_merge_from: Option<String>,
    /// `allow_address` refuses this address.
    deny: Option<Addr>,
}

impl TestHooks {
    fn new() -> (Self, Arc<Mutex<Log>>) {
        let h = TestHooks::default();
        let log = h.log.clone();
        (h, log)
    }
}

impl Hooks<Addr> for TestHooks {
    fn local_state(&mut self, exchange: Exchange) -> Bytes {
        self.log.lock().unwrap().asked.push(exchange);
        self.state.clone()
    }

    fn merge_remote_state(&mut self, from: &str, state: &[u8], exchange: Exchange) {
        self.log.lock().unwrap().merged.push((from.to_owned(), state.to_vec(), exchange));
    }

    fn on_broadcast(&mut self, origin: &str, key: &[u8], payload: &[u8]) -> Verdict {
        self.log.lock().unwrap().judged.push((origin.to_owned(), key.to_vec(), payload.to_vec()));
        if self.stale_key.as_deref() == Some(key) { Verdict::Stale } else { Verdict::New }
    }

    fn broadcast_finished(&mut self, b: &FinishedBroadcast<'_>) {
        let entry = (b.origin.to_owned(), b.id, b.key.to_vec(), b.local, b.outcome);
        self.log.lock().unwrap().finished.push(entry);
    }

    fn admit_member(&mut self, candidate: &Candidate<'_, Addr>) -> Result<(), Refusal> {
        match &self.refuse_member {
            Some(name) if name == candidate.name => Err(Refusal::new("not in this datacenter")),
            _ => Ok(()),
        }
    }

    fn admit_merge(&mut self, from: &str, members: &[Candidate<'_, Addr>], exchange: Exchange) -> Result<(), Refusal> {
        let names = members.iter().map(|c| c.name.to_owned()).collect();
        self.log.lock().unwrap().merges.push((from.to_owned(), names, exchange));
        match &self.refuse_merge_from {
            Some(name) if name == from => Err(Refusal::new("merges from this member are refused")),
            _ => Ok(()),
        }
    }

    fn allow_address(&mut self, addr: &Addr) -> bool {
        self.deny != Some(*addr)
    }
}

fn install(c: &mut Cluster, i: usize, hooks: TestHooks) {
    c.with(i, |s, _| s.set_hooks(hooks));
}

/// `(from, state, exchange)` entries of a log's merges.
fn merged(log: &Arc<Mutex<Log>>) -> Vec<(String, Vec<u8>, Exchange)> {
    log.lock().unwrap().merged.clone()
}

// ------------------------------------------------------------------ application state

#[test]
fn app_state_travels_both_ways_in_joins_and_periodic_exchanges_with_the_right_exchange() {
    let mut c = Cluster::new(3, Config::lan(), 1);
    let mut logs = Vec::new();
    for i in 0..2 {
        let (mut h, log) = TestHooks::new();
        h.state = Bytes::from(format!("state of {i}"));
        install(&mut c, i, h);
        logs.push(log);
    }
    let (h, quiet) = TestHooks::new(); // node-2 has no state
    install(&mut c, 2, h);
    c.with(1, |s, now| s.join(now, [0])).unwrap();
    let joined = |c: &Cluster| c.node(0).member("node-1").is_some() && c.node(1).member("node-0").is_some();
    assert!(c.run_until(S(2), joined), "the join completes");
    // The join: node-1's request carried its state to node-0, node-0's reply carried its own.
    let join = |i: usize| (format!("node-{i}"), format!("state of {i}").into_bytes(), Exchange::Join);
    assert_eq!(merged(&logs[0]), [join(1)]);
    assert_eq!(merged(&logs[1]), [join(0)]);
    assert_eq!(logs[0].lock().unwrap().asked, [Exchange::Join], "asked for the reply");
    assert_eq!(logs[1].lock().unwrap().asked, [Exchange::Join], "asked for the request");

    // node-2 joins too, without a state: nothing is merged from it.
    c.with(2, |s, now| s.join(now, [0])).unwrap();
    assert!(c.run_until(S(5), |c| c.converged()));
    assert!(merged(&logs[0]).iter().all(|(from, ..)| from != "node-2"), "an empty state is not handed over");
    assert!(merged(&quiet).iter().any(|(from, _, e)| from == "node-0" && *e == Exchange::Join));

    // Periodic exchanges (every 30 s on LAN, plus the join follow-up): both directions, told
    // Periodic, on both the request and the reply side.
    let periodic = |log: &Arc<Mutex<Log>>, from: usize| {
        merged(log)
            .iter()
            .any(|(f, s, e)| *f == format!("node-{from}") && *e == Exchange::Periodic && *s == join(from).1)
    };
    let ok = c.run_until(S(120), |_| periodic(&logs[0], 1) && periodic(&logs[1], 0));
    assert!(ok, "periodic states in both directions: {:?} / {:?}", merged(&logs[0]), merged(&logs[1]));
    assert!(logs[0].lock().unwrap().asked.contains(&Exchange::Periodic));
    assert!(logs[1].lock().unwrap().asked.contains(&Exchange::Periodic));
    // Replies to periodic requests are told Periodic too: the only Join-tagged merges and
    // states are those of the joins (node-0 answered two).
    let joins = |log: &Arc<Mutex<Log>>| merged(log).iter().filter(|m| m.2 == Exchange::Join).count();
    assert_eq!((joins(&logs[0]), joins(&logs[1])), (1, 1));
    let asked = |log: &Arc<Mutex<Log>>| log.lock().unwrap().asked.iter().filter(|e| **e == Exchange::Join).count();
    assert_eq!((asked(&logs[0]), asked(&logs[1])), (2, 1));
    assert!(c.node(0).stats().app_state_refused == 0 && c.node(1).stats().app_state_refused == 0);
}

#[test]
fn an_oversized_local_state_is_not_sent_and_is_counted() {
    let mut config = Config::lan();
    config.limits.max_app_state = 100;
    let mut c = Cluster::new(2, config, 2);
    let (h0, log0) = TestHooks::new();
    install(&mut c, 0, h0);
    let (mut h1, _) = TestHooks::new();
    h1.state = Bytes::from(vec![1u8; 101]);
    install(&mut c, 1, h1);
    c.with(1, |s, now| s.join(now, [0])).unwrap();
    assert!(c.run_until(S(2), |c| c.converged()), "the push-pull went, without the state");
    assert_eq!(c.node(1).stats().app_state_refused, 1);
    assert!(merged(&log0).is_empty(), "nothing merged: {:?}", merged(&log0));
}

/// A push-pull from `from` (at `addr`) holding itself and `members`, with `state`.
fn push_pull<'a>(
    kind: PushPullKind,
    from: &'a str,
    addr: Addr,
    members: Vec<MemberState<'a, Addr>>,
    state: &'a [u8],
) -> Vec<u8> {
    let mut all = vec![MemberState {
        name: from,
        addr,
        meta: b"",
        incarnation: 0,
        state: State::Alive,
        versions: swim_core::Versions::DEFAULT,
        capabilities: swim_core::Capabilities::NONE,
    }];
    all.extend(members);
    packet(&[Message::PushPull(PushPull { kind, id: 9, from, from_addr: addr, members: all, state })])
}

/// Member node-0 alone with node-1 to node-3 restored, and `hooks` installed.
fn solo(config: Config, hooks: TestHooks) -> Swim<Addr> {
    let now = Instant::from_secs(1);
    let mut s = Swim::new(config, Identity::new("node-0", 0), 7, now).unwrap();
    s.restore(now, (1..4).map(|i| alive(i, now)));
    s.set_hooks(hooks);
    s
}

fn drain(s: &mut Swim<Addr>) -> Vec<(Addr, TransmitKind, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    while let Some(t) = s.poll_transmit(&mut buf) {
        out.push((t.destination, t.kind, buf.clone()));
    }
    out
}

/// A member state at incarnation 0, with no metadata and the default versions.
fn entry(name: &'static str, addr: Addr, state: State) -> MemberState<'static, Addr> {
    let (versions, capabilities) = (swim_core::Versions::DEFAULT, swim_core::Capabilities::NONE);
    MemberState { name, addr, meta: b"", incarnation: 0, state, versions, capabilities }
}

fn table(s: &Swim<Addr>) -> Vec<Member<Addr>> {
    s.members().cloned().collect()
}

#[test]
fn an_oversized_remote_state_rejects_the_push_pull_whole() {
    let mut config = Config::lan();
    config.limits.max_app_state = 100;
    let (h, log) = TestHooks::new();
    let mut s = solo(config, h);
    let now = Instant::from_secs(2);
    let before = table(&s);
    let newcomer = entry("node-9", 9, State::Alive);
    let accused = entry("node-2", 2, State::Dead);
    let big = vec![0u8; 101];
    let p = push_pull(PushPullKind::Periodic, "node-5", 5, vec![newcomer, accused], &big);
    assert_eq!(s.handle_stream(now, 5, &p), Err(DecodeError::AppStateTooLarge));
    assert_eq!(table(&s), before, "membership untouched");
    assert_eq!(s.stats().decode_errors.get(DecodeError::AppStateTooLarge), 1);
    assert!(drain(&mut s).is_empty(), "no reply");
    assert!(s.poll_event().is_none());
    assert!(merged(&log).is_empty() && log.lock().unwrap().merges.is_empty(), "no hook was asked");
    // At the limit it is accepted, merged after the member states, and replied to.
    let fits = vec![0u8; 100];
    let p = push_pull(PushPullKind::Periodic, "node-5", 5, vec![newcomer], &fits);
    assert_eq!(s.handle_stream(now, 5, &p), Ok(()));
    assert!(s.member("node-9").is_some() && s.member("node-5").is_some());
    assert_eq!(merged(&log), [("node-5".to_owned(), fits.clone(), Exchange::Periodic)]);
    let sent = drain(&mut s);
    let [(5, TransmitKind::Stream, reply)] = &sent[..] else { panic!("{sent:?}") };
    let m = messages(reply);
    let [Message::PushPull(r)] = &m[..] else { panic!("{m:?}") };
    assert_eq!((r.kind, r.id), (PushPullKind::Reply, 9));
}

// ------------------------------------------------------------------ broadcasts

fn broadcasts_received(c: &Cluster, i: usize) -> Vec<Bytes> {
    c.events_of(i, |e| matches!(e, Event::UserBroadcast { .. }))
        .into_iter()
        .map(|(_, e)| match e {
            Event::UserBroadcast { payload, .. } => payload,
            _ => unreachable!("filtered"),
        })
        .collect()
}

#[test]
fn a_stale_verdict_stops_delivery_and_relay() {
    let mut c = Cluster::new(3, Config::lan(), 3);
    c.converge(S(5));
    let (mut h, log) = TestHooks::new();
    h.stale_key = Some(b"old".to_vec());
    install(&mut c, 1, h);
    // node-0 and node-2 cannot talk directly: whatever node-2 hears from node-0 came through
    // node-1 (indirect probes through node-1 keep them from suspecting each other).
    c.partition(&[0], &[2]);
    c.with(0, |s, now| s.broadcast(now, Some(b"old"), &b"stale news"[..])).unwrap();
    c.with(0, |s, now| s.broadcast(now, Some(b"new"), &b"fresh news"[..])).unwrap();
    c.run_for(S(10));
    let mut judged: Vec<Vec<u8>> = log.lock().unwrap().judged.iter().map(|(_, k, _)| k.clone()).collect();
    judged.sort();
    assert_eq!(judged, [b"new".to_vec(), b"old".to_vec()], "each broadcast judged once, whatever the copies");
    assert_eq!(broadcasts_received(&c, 1), [Bytes::from_static(b"fresh news")], "the stale one is not delivered");
    assert_eq!(c.node(1).stats().user_broadcasts_stale, 1);
    assert_eq!(c.node(1).stats().user_broadcasts, 1);
    assert_eq!(broadcasts_received(&c, 2), [Bytes::from_static(b"fresh news")], "nor relayed");
}

/// A datagram from `from` carrying user broadcasts.
fn broadcasts(list: &[(&str, u64, &[u8], &[u8])]) -> Vec<u8> {
    let msgs: Vec<Message<'_, Addr>> = list
        .iter()
        .map(|&(origin, id, key, payload)| Message::Broadcast(UserBroadcast { origin, id, key, payload }))
        .collect();
    packet(&msgs)
}

/// The user broadcasts in what `s` sends until its queues are empty, and how many datagrams.
fn gossiped(s: &mut Swim<Addr>, mut now: Instant) -> Vec<(String, u64, Vec<u8>)> {
    let mut seen = Vec::new();
    for _ in 0..200 {
        now = s.poll_timeout().max(now);
        s.handle_timeout(now);
        for (_, _, bytes) in drain(s) {
            for m in messages(&bytes) {
                if let Message::Broadcast(b) = m {
                    seen.push((b.origin.to_owned(), b.id, b.payload.to_vec()));
                }
            }
        }
        if s.queue_depth().1 == 0 {
            break;
        }
    }
    seen
}

#[test]
fn keys_are_global_and_every_broadcast_is_reported_when_it_leaves_the_queue() {
    let (h, log) = TestHooks::new();
    let mut s = solo(Config::lan(), h);
    let now = Instant::from_secs(2);
    // x's broadcast is replaced by y's with the same key, which a local one replaces in turn.
    s.handle_datagram(now, 1, &broadcasts(&[("x", 1, b"k", b"x says")])).unwrap();
    s.handle_datagram(now, 1, &broadcasts(&[("y", 5, b"k", b"y says"), ("y", 6, b"", b"unkeyed")])).unwrap();
    assert_eq!(s.queue_depth().1, 2);
    let id = s.broadcast(now, Some(b"k"), &b"local says"[..]).unwrap();
    assert_eq!(id, BroadcastId(0));
    assert_eq!(s.queue_depth().1, 2, "the key replaced across origins; the unkeyed one stays");
    let finished = |log: &Arc<Mutex<Log>>| log.lock().unwrap().finished.clone();
    assert_eq!(
        finished(&log),
        [
            ("x".to_owned(), BroadcastId(1), b"k".to_vec(), false, BroadcastOutcome::Replaced),
            ("y".to_owned(), BroadcastId(5), b"k".to_vec(), false, BroadcastOutcome::Replaced),
        ]
    );
    // Only the newest with key k and the unkeyed one are gossiped; then both finish, Sent.
    let mut sent = gossiped(&mut s, now);
    sent.sort();
    sent.dedup();
    assert_eq!(sent, [("node-0".to_owned(), 0, b"local says".to_vec()), ("y".to_owned(), 6, b"unkeyed".to_vec())]);
    let mut done = finished(&log).split_off(2);
    done.sort_by_key(|f| f.1);
    assert_eq!(
        done,
        [
            ("node-0".to_owned(), id, b"k".to_vec(), true, BroadcastOutcome::Sent),
            ("y".to_owned(), BroadcastId(6), Vec::new(), false, BroadcastOutcome::Sent),
        ]
    );
    // Every delivered broadcast was judged, and delivered once.
    assert_eq!(log.lock().unwrap().judged.len(), 3);
    assert_eq!(s.stats().user_broadcasts, 3);
}

#[test]
fn a_full_queue_reports_the_dropped_broadcast() {
    let mut config = Config::lan();
    config.limits.user_broadcast_queue_depth = 2;
    let (h, log) = TestHooks::new();
    let mut s = solo(config, h);
    let now = Instant::from_secs(2);
    let ids: Vec<BroadcastId> = (0..3).map(|i| s.broadcast(now, None, vec![i as u8; 8]).unwrap()).collect();
    assert_eq!(ids, [BroadcastId(0), BroadcastId(1), BroadcastId(2)]);
    assert_eq!(s.stats().user_broadcasts_dropped, 1);
    // All equal: the oldest goes.
    let f = log.lock().unwrap().finished.clone();
    assert_eq!(f, [("node-0".to_owned(), BroadcastId(0), Vec::new(), true, BroadcastOutcome::Dropped)]);
}

// ------------------------------------------------------------------ admission

#[test]
fn a_refused_member_is_not_stored_not_gossiped_and_reported() {
    let mut c = Cluster::new(3, Config::lan(), 4);
    c.strict = false;
    let (mut h, _) = TestHooks::new();
    h.refuse_member = Some("node-2".into());
    install(&mut c, 0, h);
    c.with(1, |s, now| s.join(now, [0])).unwrap();
    assert!(c.run_until(S(2), |c| c.node(0).member("node-1").is_some() && c.node(1).member("node-0").is_some()));
    // node-2 can reach node-0 only: node-1 could hear of it through node-0 alone.
    c.partition(&[2], &[1]);
    c.with(2, |s, now| s.join(now, [0])).unwrap();
    c.run_for(S(40));
    assert!(c.node(0).member("node-2").is_none(), "not stored");
    assert!(c.node(1).member("node-2").is_none(), "not gossiped on by the refuser");
    assert!(c.node(2).member("node-0").is_some(), "the joiner got the seed's state");
    let refused = c.node(0).stats().members_refused;
    assert!(refused >= 1);
    let events = c.events_of(0, |e| matches!(e, Event::MemberRefused { .. }));
    assert_eq!(events.len() as u64, refused, "one event per refusal");
    let Event::MemberRefused { name, addr, reason } = &events[0].1 else { unreachable!("filtered") };
    assert_eq!((name.as_str(), *addr, reason.to_string().as_str()), ("node-2", 2, "not in this datacenter"));
    assert_eq!(events[0].1.to_string(), "node-2 at 2 refused: not in this datacenter");
}

#[test]
fn a_rejoin_after_leaving_asks_for_admission_again() {
    // node-1 left; its alive at a higher incarnation is a member not held alive: admission asks.
    let (mut h, _) = TestHooks::new();
    h.refuse_member = Some("node-1".into());
    let mut s = solo(Config::lan(), h);
    let now = Instant::from_secs(2);
    let leave = packet(&[Message::Dead(swim_core::wire::Dead { incarnation: 0, name: "node-1", from: "node-1" })]);
    s.handle_datagram(now, 1, &leave).unwrap();
    assert_eq!(s.member("node-1").map(|m| m.state), Some(State::Left));
    let back = packet(&[Message::Alive(Alive {
        incarnation: 1,
        name: "node-1",
        addr: 1,
        meta: b"",
        versions: swim_core::Versions::DEFAULT,
        capabilities: swim_core::Capabilities::NONE,
    })]);
    s.handle_datagram(now, 1, &back).unwrap();
    assert_eq!(s.member("node-1").map(|m| (m.state, m.incarnation)), Some((State::Left, 0)), "unchanged");
    assert_eq!(s.stats().members_refused, 1);
    // A member held alive is not asked again (a new incarnation of node-2 is an update).
    let update = packet(&[Message::Alive(Alive {
        incarnation: 1,
        name: "node-2",
        addr: 2,
        meta: b"v2",
        versions: swim_core::Versions::DEFAULT,
        capabilities: swim_core::Capabilities::NONE,
    })]);
    s.handle_datagram(now, 2, &update).unwrap();
    assert_eq!(s.member("node-2").map(|m| m.incarnation), Some(1));
    assert_eq!(s.stats().members_refused, 1);
}

#[test]
fn a_refused_merge_applies_nothing() {
    let (mut h, log) = TestHooks::new();
    h.refuse_merge_from = Some("node-5".into());
    let mut s = solo(Config::lan(), h);
    let now = Instant::from_secs(2);
    let before = table(&s);
    let newcomer = entry("node-9", 9, State::Alive);
    let accused = entry("node-2", 2, State::Dead);
    let p = push_pull(PushPullKind::Periodic, "node-5", 5, vec![newcomer, accused], b"app");
    assert_eq!(s.handle_stream(now, 5, &p), Ok(()), "well formed: refused, not rejected");
    assert_eq!(table(&s), before, "nothing applied");
    assert!(drain(&mut s).is_empty(), "a refused periodic request gets no reply");
    assert!(merged(&log).is_empty(), "the application state is not merged either");
    let names = ["node-5", "node-9", "node-2"].map(String::from).to_vec();
    assert_eq!(log.lock().unwrap().merges, [("node-5".to_owned(), names, Exchange::Periodic)]);
    assert_eq!(s.stats().merges_refused, 1);
    assert_eq!(s.stats().push_pull_merges, 0);
    let e = s.poll_event().expect("an event");
    assert_eq!(e.to_string(), "push-pull state from node-5 refused: merges from this member are refused");
    // From anyone else the same state merges.
    let p = push_pull(PushPullKind::Join, "node-6", 6, vec![newcomer], b"");
    assert_eq!(s.handle_stream(now, 6, &p), Ok(()));
    assert!(s.member("node-9").is_some());
    assert_eq!(log.lock().unwrap().merges.last().map(|m| m.2), Some(Exchange::Join));
}

#[test]
fn a_refused_join_is_reported_to_the_joiner_and_not_retried() {
    let mut c = Cluster::new(2, Config::lan(), 5);
    let (mut h, _) = TestHooks::new();
    h.refuse_merge_from = Some("node-1".into());
    install(&mut c, 0, h);
    let join = c.with(1, |s, now| s.join(now, [0])).unwrap();
    c.run_for(S(60));
    let refused = c.events_of(1, |e| matches!(e, Event::JoinRefused { .. }));
    let [(_, Event::JoinRefused { join: j, seed, reason })] = &refused[..] else { panic!("{refused:?}") };
    assert_eq!((*j, *seed, reason.reason.as_str()), (join, 0, "merges from this member are refused"));
    let done = c.events_of(1, |e| matches!(e, Event::JoinCompleted { .. } | Event::JoinRetrying { .. }));
    assert_eq!(done.len(), 1, "completed once, never retried: {done:?}");
    assert!(matches!(done[0].1, Event::JoinCompleted { reached: 0, attempted: 1, .. }));
    assert_eq!(c.node(1).stats().join_refusals, 1);
    assert_eq!((c.node(0).stats().merges_refused, c.node(0).stats().streams_in), (1, 1));
    assert!(c.node(0).member("node-1").is_none() && c.node(1).member("node-0").is_none());
    assert_eq!(c.events_of(0, |e| matches!(e, Event::MergeRefused { .. })).len(), 1);
}

#[test]
fn a_joiner_that_refuses_the_seeds_reply_reports_the_join_refused() {
    let mut c = Cluster::new(2, Config::lan(), 6);
    let (mut h, _) = TestHooks::new();
    h.refuse_merge_from = Some("node-0".into());
    install(&mut c, 1, h);
    let join = c.with(1, |s, now| s.join(now, [0])).unwrap();
    c.run_for(S(5));
    assert!(c.node(1).member("node-0").is_none(), "the reply was not applied");
    let refused = c.events_of(1, |e| matches!(e, Event::JoinRefused { .. } | Event::MergeRefused { .. }));
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(matches!(&refused[0].1, Event::JoinRefused { join: j, seed: 0, .. } if *j == join));
    assert_eq!(c.node(1).stats().merges_refused, 1);
    assert_eq!(c.events_of(1, |e| matches!(e, Event::JoinRetrying { .. })).len(), 0);
}

// ------------------------------------------------------------------ allowlist

#[test]
fn allow_address_drops_traffic_and_claimed_addresses() {
    let (mut h, _) = TestHooks::new();
    h.deny = Some(66);
    let mut s = solo(Config::lan(), h);
    let now = Instant::from_secs(2);
    let before = table(&s);
    let ping = packet(&[Message::Ping(swim_core::wire::Ping { seq: 1, target: "node-0" })]);
    // From a refused source: a counted drop, no ack, nothing changed.
    assert_eq!(s.handle_datagram(now, 66, &ping), Err(DecodeError::AddressNotAllowed));
    let p = push_pull(PushPullKind::Periodic, "node-6", 6, vec![], b"");
    assert_eq!(s.handle_stream(now, 66, &p), Err(DecodeError::AddressNotAllowed));
    assert_eq!(s.stats().decode_errors.get(DecodeError::AddressNotAllowed), 2);
    assert!(drain(&mut s).is_empty());
    // A push-pull whose reply address is refused is rejected whole.
    let p = push_pull(PushPullKind::Periodic, "node-6", 66, vec![], b"");
    assert_eq!(s.handle_stream(now, 6, &p), Err(DecodeError::AddressNotAllowed));
    assert_eq!(table(&s), before);
    // From an allowed source, a claim of a refused address is refused like admission.
    let claim = packet(&[Message::Alive(Alive {
        incarnation: 0,
        name: "evil",
        addr: 66,
        meta: b"",
        versions: swim_core::Versions::DEFAULT,
        capabilities: swim_core::Capabilities::NONE,
    })]);
    assert_eq!(s.handle_datagram(now, 1, &claim), Ok(()));
    let merged_claim = entry("evil2", 66, State::Alive);
    let dead_claim = MemberState {
        name: "node-3",
        addr: 66,
        meta: b"",
        incarnation: 3,
        state: State::Dead,
        versions: swim_core::Versions::DEFAULT,
        capabilities: swim_core::Capabilities::NONE,
    };
    let p = push_pull(PushPullKind::Periodic, "node-1", 1, vec![merged_claim, dead_claim], b"");
    assert_eq!(s.handle_stream(now, 1, &p), Ok(()));
    assert!(s.member("evil").is_none() && s.member("evil2").is_none());
    assert_eq!(s.member("node-3").map(|m| m.state), Some(State::Alive), "the refused entry was skipped");
    assert_eq!(drain(&mut s).len(), 1, "the accepted push-pull's reply");
    assert_eq!(s.stats().members_refused, 3);
    let reasons: Vec<String> = std::iter::from_fn(|| s.poll_event())
        .filter_map(|e| match e {
            Event::MemberRefused { name, addr: 66, reason } => Some(format!("{name}: {reason}")),
            _ => None,
        })
        .collect();
    let want = ["evil", "evil2", "node-3"].map(|n| format!("{n}: address not allowed"));
    assert_eq!(reasons, want);
    // Allowed traffic still flows.
    assert_eq!(s.handle_datagram(now, 1, &ping), Ok(()));
    assert_eq!(drain(&mut s).len(), 1, "the ack");
}

#[test]
fn with_default_hooks_nothing_is_refused() {
    let mut c = Cluster::new(5, Config::lan(), 7);
    c.converge(S(5));
    c.with(2, |s, now| s.broadcast(now, Some(b"k"), &b"v"[..])).unwrap();
    c.run_for(S(40));
    for i in 0..5 {
        let st = c.node(i).stats();
        assert_eq!((st.members_refused, st.merges_refused, st.join_refusals, st.user_broadcasts_stale), (0, 0, 0, 0));
        assert_eq!(st.app_state_refused, 0);
        if i != 2 {
            assert_eq!(broadcasts_received(&c, i), [Bytes::from_static(b"v")]);
        }
    }
}
