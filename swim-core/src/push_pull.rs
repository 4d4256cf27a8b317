//! Push-pull: periodic full-state exchange over the reliable stream, and joins.
//!
//! Gossip spreads each change a bounded number of times; push-pull repairs
//! whatever it missed. Every `push_pull_interval` (stretched as the cluster
//! grows) a member sends its whole table to one random member, which merges it
//! with the usual precedence rules and answers with its own table. A join is
//! the same exchange with one or more seeds. The merge turns a remote "dead"
//! into a local suspicion, never a death: the accused gets its chance to refute.
//!
//! The first periodic exchange happens at a random time within one interval of start, and a
//! successful join brings the next one forward (see [`JOIN_FOLLOW_UP_DIVISOR`]).
//!
//! Everything a merge teaches a member is gossiped on, as memberlist does, including the
//! reply to a join. Skipping that for joins saves a joiner of an n-member cluster about
//! `n * retransmit limit / 45` datagrams of piggyback, but measured over 30 seeds it slowed a
//! 50-member join burst's convergence from 0.3-0.75 s to a median of 3.5 s (worst 62 s): the
//! re-gossip is what spreads concurrent newcomers.
//!
//! This module owns the push-pull state of a member (`Exchanges`: joins in flight, request
//! ids, the batching of large merges), builds the state snapshot a push-pull carries
//! (`snapshot`), turns a received member state into the update the hub merges
//! (`as_update`), schedules the join follow-up (`follow_up`), chooses the dead members a
//! reconnect tick pings (`choose_reconnect`) and retries joins that reached no seed
//! (`Joins::after_attempt`, `Config::join_retry`).

use alloc::vec::Vec;
use core::time::Duration;

use crate::config::{JoinRetry, Limits, MESSAGE_OVERHEAD};
use crate::event::JoinId;
use crate::member::{Address, Member, Name, State};
use crate::membership::Membership;
use crate::rng::SwimRng;
use crate::time::Instant;
use crate::timers::stagger;
pub use crate::timing::{PUSH_PULL_SCALE_THRESHOLD, push_pull_interval};
use crate::versions::Peer;
use crate::wire::{self, Message, PushPullKind};

/// A push-pull bringing more new members than this is merged by appending them and shuffling
/// the probe order once, instead of placing each at a random position.
pub const BATCH_INSERT_THRESHOLD: usize = 64;

/// After a successful join the next push-pull is brought forward to a random time in the second
/// half of `push_pull_interval / JOIN_FOLLOW_UP_DIVISOR` (1.9 s to 3.75 s on LAN), so members
/// that joined concurrently learn of each other, and whatever gossip missed reaches them,
/// without waiting a whole period. memberlist waits for the regular period.
pub const JOIN_FOLLOW_UP_DIVISOR: u32 = 8;

/// A member's push-pull state: joins in flight, the ids of its push-pull requests, and whether
/// a large merge is under way. Joins are bounded by `limits.max_pending_joins`.
#[derive(Debug)]
pub(crate) struct Exchanges<A> {
    /// Joins in flight.
    pub joins: Joins<A>,
    /// The last member the previous reconnect tick pinged: the round robin goes on after it.
    pub reconnect_after: Option<Name>,
    next_id: u32,
    batch_insert: bool,
}

impl<A: PartialEq + Clone> Exchanges<A> {
    /// No join in flight.
    pub fn new() -> Self {
        Exchanges { joins: Joins::new(), reconnect_after: None, next_id: 0, batch_insert: false }
    }

    /// The id of a new push-pull request.
    pub fn next_id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    /// A merge that may add `additional` members begins: returns whether newcomers are
    /// appended and shuffled once at the end ([`BATCH_INSERT_THRESHOLD`]) rather than each
    /// placed at a random position.
    pub fn begin_merge(&mut self, additional: usize) -> bool {
        self.batch_insert = additional > BATCH_INSERT_THRESHOLD;
        self.batch_insert
    }

    /// Whether the merge under way appends newcomers.
    pub fn batch_insert(&self) -> bool {
        self.batch_insert
    }

    /// The merge ended: returns whether the probe order must be reshuffled once.
    pub fn end_merge(&mut self) -> bool {
        core::mem::take(&mut self.batch_insert)
    }
}

/// One member state of a received push-pull, as the update the hub merges.
pub(crate) enum Update<'a, A> {
    /// Alive at an incarnation.
    Alive(wire::Alive<'a, A>),
    /// Suspect; also a remote death, which the accused may still refute.
    Suspect(wire::Suspect<'a>),
    /// Left (a death notice from the member itself).
    Left(wire::Dead<'a>),
}

/// The update member state `m` from a push-pull makes, accused by `local` if it is a suspicion.
/// A remote death becomes a local suspicion, never a death: the accused gets its chance to refute.
pub(crate) fn as_update<'a, A: Clone>(m: &wire::MemberState<'a, A>, local: &'a str) -> Update<'a, A> {
    match m.state {
        State::Alive => Update::Alive(wire::Alive {
            incarnation: m.incarnation,
            name: m.name,
            addr: m.addr.clone(),
            meta: m.meta,
            versions: m.versions,
            capabilities: m.capabilities,
        }),
        State::Left => Update::Left(wire::Dead { incarnation: m.incarnation, name: m.name, from: m.name }),
        State::Suspect | State::Dead => {
            Update::Suspect(wire::Suspect { incarnation: m.incarnation, name: m.name, from: local })
        }
    }
}

/// The local view as a push-pull message with the application `state`: the local member
/// (speaking `local_peer`), then live members, then dead and left ones, stopping before
/// `limits.max_stream_message_size` would be exceeded (the state's size counted first).
pub(crate) fn snapshot<'a, A: Address>(
    local: &'a Member<A>,
    local_peer: Peer,
    members: &'a Membership<A>,
    limits: &Limits,
    kind: PushPullKind,
    id: u32,
    state: &'a [u8],
) -> Message<'a, A> {
    // The state goes with its length (a varint of at most 5 bytes).
    let fixed = MESSAGE_OVERHEAD + local.name.len() + state.len() + 5;
    let budget = limits.max_stream_message_size.saturating_sub(fixed);
    let mut used = 0usize;
    fn entry<A: Clone>(m: &Member<A>, peer: Peer) -> wire::MemberState<'_, A> {
        wire::MemberState {
            name: m.name.as_str(),
            addr: m.addr.clone(),
            meta: &m.meta[..],
            incarnation: m.incarnation,
            state: m.state,
            versions: peer.versions,
            capabilities: peer.capabilities,
        }
    }
    let mut out = Vec::with_capacity(members.len() + 1);
    let live = members.records().iter().filter(|r| !r.member.state.is_gone());
    let gone = members.records().iter().filter(|r| r.member.state.is_gone());
    let others = live.chain(gone).map(|r| (&r.member, r.peer));
    for (m, peer) in core::iter::once((local, local_peer)).chain(others) {
        // Conservative size estimate: name, metadata, address, numbers and versions.
        used += m.name.len() + m.meta.len() + 48;
        if used > budget {
            break;
        }
        out.push(entry(m, peer));
    }
    Message::PushPull(wire::PushPull {
        kind,
        id,
        from: &local.name,
        from_addr: local.addr.clone(),
        members: out,
        state,
    })
}

/// The join follow-up: after a join that reached a seed, the next push-pull (due at `next`)
/// is brought forward to a random time in the second half of
/// `base / JOIN_FOLLOW_UP_DIVISOR`, if that is sooner.
pub(crate) fn follow_up(now: Instant, base: Duration, next: Instant, rng: &mut SwimRng) -> Instant {
    let half = base / JOIN_FOLLOW_UP_DIVISOR / 2;
    let at = now + half + stagger(rng, half);
    next.min(at)
}

/// Dead members a reconnect tick pings at most. Each tick takes the next ones in name order
/// after the last one the previous tick took (round robin, wrapping), so every member dead
/// within the window is pinged within `ceil(dead / RECONNECT_FANOUT)` ticks: a member that
/// holds a few really dead members and one that is merely on the other side of a healed
/// partition finds the live one in a bounded time, where a random pick of one could miss it
/// for many ticks. Three pings of a few dozen bytes per `reconnect_interval` is the cost.
pub const RECONNECT_FANOUT: usize = 3;

/// The reconnect choice: up to [`RECONNECT_FANOUT`] members dead for less than `window` (not
/// ones that left), the first ones in name order after `after` (the last one the previous tick
/// took), wrapping round; `after` is moved to the last one taken. Name order, not table order:
/// the table is reshuffled as probing goes round. `out` receives their table positions.
pub(crate) fn choose_reconnect<A: Address>(
    members: &Membership<A>,
    after: &mut Option<Name>,
    now: Instant,
    window: Duration,
    out: &mut Vec<usize>,
) {
    out.clear();
    out.extend((0..members.len()).filter(|&i| {
        let m = &members.get(i).member;
        m.state == State::Dead && now - m.state_changed < window
    }));
    let name = |i: usize| members.get(i).member.name.as_str();
    out.sort_unstable_by(|&a, &b| name(a).cmp(name(b)));
    let start = after.as_deref().map_or(0, |last| out.partition_point(|&i| name(i) <= last));
    out.rotate_left(start);
    out.truncate(RECONNECT_FANOUT);
    if let Some(&last) = out.last() {
        *after = Some(members.get(last).member.name.clone());
    }
}

#[derive(Clone, Debug)]
struct Pending<A> {
    join: JoinId,
    seed: A,
    request: u32,
    deadline: Instant,
}

#[derive(Clone, Debug)]
struct Op<A> {
    id: JoinId,
    attempted: usize,
    reached: usize,
    refused: usize,
    outstanding: usize,
    seeds: Vec<A>,
    attempt: u32,
}

/// A finished join attempt: every seed answered, failed or timed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finished<A> {
    pub id: JoinId,
    pub reached: usize,
    pub attempted: usize,
    /// Seeds that answered with a refusal (or whose reply this member refused).
    pub refused: usize,
    /// The seeds it was sent to (kept for a retry).
    pub seeds: Vec<A>,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
}

/// A join that reached none of its seeds, waiting to be tried again (`Config::join_retry`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Retry<A> {
    pub join: JoinId,
    pub seeds: Vec<A>,
    /// The attempt it will be (2 for the first retry).
    pub attempt: u32,
    pub at: Instant,
}

/// How one seed of a join attempt settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Settled {
    /// Its reply arrived.
    Reached,
    /// Its stream failed or its deadline passed.
    Unreached,
    /// It answered with a refusal, or this member refused its reply.
    Refused,
}

/// What a finished join attempt leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AfterAttempt {
    /// A seed answered, a seed refused, the join had no seeds, or retrying is off: nothing
    /// more to do.
    Done,
    /// Another attempt is scheduled.
    Retrying { attempt: u32, delay: Duration },
    /// `max_attempts` attempts reached no seed.
    GaveUp { attempts: u32 },
}

/// Joins in flight: which push-pull request went to which seed for which join, and the one
/// join (the latest that failed) waiting to be retried.
#[derive(Debug)]
pub(crate) struct Joins<A> {
    pending: Vec<Pending<A>>,
    ops: Vec<Op<A>>,
    next_id: u64,
    retry: Option<Retry<A>>,
}

impl<A: PartialEq + Clone> Joins<A> {
    pub fn new() -> Self {
        Joins { pending: Vec::new(), ops: Vec::new(), next_id: 0, retry: None }
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Start a join through `seeds` (already filtered); returns its id.
    pub fn start(&mut self, seeds: Vec<A>) -> JoinId {
        let id = JoinId(self.next_id);
        self.next_id += 1;
        self.ops.push(Op { id, attempted: 0, reached: 0, refused: 0, outstanding: 0, seeds, attempt: 1 });
        id
    }

    /// Start attempt `retry.attempt` of an earlier join.
    pub fn restart(&mut self, retry: Retry<A>) {
        let Retry { join, seeds, attempt, .. } = retry;
        self.ops.push(Op { id: join, attempted: 0, reached: 0, refused: 0, outstanding: 0, seeds, attempt });
    }

    /// What follows a finished attempt `f`: with `policy` on, a join that reached no seed is
    /// scheduled again after a jittered backoff drawn with `draw(bound)` (a number below
    /// `bound`), replacing any retry already waiting. An attempt that a seed refused is not
    /// retried: the cluster answered, and the same member asking again would get the same
    /// answer (the application may call `join` again once something changed).
    pub fn after_attempt(
        &mut self,
        f: Finished<A>,
        policy: Option<&JoinRetry>,
        now: Instant,
        draw: impl FnOnce(u64) -> u64,
    ) -> AfterAttempt {
        if f.reached > 0 || f.attempted == 0 || f.refused > 0 {
            if self.retry.as_ref().is_some_and(|r| r.join == f.id) || f.reached > 0 {
                self.retry = None;
            }
            return AfterAttempt::Done;
        }
        let Some(policy) = policy else { return AfterAttempt::Done };
        if policy.max_attempts.is_some_and(|max| f.attempt >= max) {
            if self.retry.as_ref().is_some_and(|r| r.join == f.id) {
                self.retry = None;
            }
            return AfterAttempt::GaveUp { attempts: f.attempt };
        }
        let attempt = f.attempt.saturating_add(1);
        let cap = policy.backoff(attempt);
        let half = u64::try_from(cap.as_nanos() / 2).unwrap_or(u64::MAX).max(1);
        let delay = Duration::from_nanos(half + draw(half));
        self.retry = Some(Retry { join: f.id, seeds: f.seeds, attempt, at: now + delay });
        AfterAttempt::Retrying { attempt, delay }
    }

    /// The waiting retry, if its time has come.
    pub fn take_due_retry(&mut self, now: Instant) -> Option<Retry<A>> {
        self.retry.take_if(|r| r.at <= now)
    }

    /// Forget the waiting retry (the member is leaving).
    pub fn cancel_retry(&mut self) {
        self.retry = None;
    }

    /// When the waiting retry is due.
    pub fn retry_deadline(&self) -> Option<Instant> {
        self.retry.as_ref().map(|r| r.at)
    }

    /// Record that `request` went to `seed` for `join`.
    pub fn add(&mut self, join: JoinId, seed: A, request: u32, deadline: Instant) {
        if let Some(op) = self.ops.iter_mut().find(|o| o.id == join) {
            op.attempted += 1;
            op.outstanding += 1;
            self.pending.push(Pending { join, seed, request, deadline });
        }
    }

    /// A join with no seeds finishes at once.
    pub fn finish_if_empty(&mut self, join: JoinId) -> Option<Finished<A>> {
        self.settle(join, None)
    }

    /// Settle one seed of `join` (`None`: only finish a join that has no seed outstanding).
    fn settle(&mut self, join: JoinId, how: Option<Settled>) -> Option<Finished<A>> {
        let i = self.ops.iter().position(|o| o.id == join)?;
        let op = &mut self.ops[i];
        if let Some(how) = how {
            op.outstanding -= 1;
            match how {
                Settled::Reached => op.reached += 1,
                Settled::Refused => op.refused += 1,
                Settled::Unreached => {}
            }
        }
        if op.outstanding > 0 {
            return None;
        }
        let op = self.ops.swap_remove(i);
        Some(Finished {
            id: op.id,
            reached: op.reached,
            attempted: op.attempted,
            refused: op.refused,
            seeds: op.seeds,
            attempt: op.attempt,
        })
    }

    /// The reply to `request` arrived.
    pub fn replied(&mut self, request: u32) -> Option<Finished<A>> {
        let i = self.pending.iter().position(|p| p.request == request)?;
        let p = self.pending.remove(i);
        self.settle(p.join, Some(Settled::Reached))
    }

    /// `request` was refused (by its seed, or this member refused the seed's reply): returns
    /// its join and seed, and the finished attempt if that was its last seed outstanding.
    /// `None` if no join waits for `request` (a late or unknown refusal).
    pub fn refused(&mut self, request: u32) -> Option<(JoinId, A, Option<Finished<A>>)> {
        let i = self.pending.iter().position(|p| p.request == request)?;
        let p = self.pending.remove(i);
        let finished = self.settle(p.join, Some(Settled::Refused));
        Some((p.join, p.seed, finished))
    }

    /// Streams to `seed` failed: every request to it is unreached.
    pub fn failed(&mut self, seed: &A, out: &mut Vec<Finished<A>>) {
        while let Some(i) = self.pending.iter().position(|p| &p.seed == seed) {
            let p = self.pending.remove(i);
            out.extend(self.settle(p.join, Some(Settled::Unreached)));
        }
    }

    /// Requests past their deadline are unreached.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<Finished<A>>) {
        while let Some(i) = self.pending.iter().position(|p| p.deadline <= now) {
            let p = self.pending.remove(i);
            out.extend(self.settle(p.join, Some(Settled::Unreached)));
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.pending.iter().map(|p| p.deadline).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn reconnect_pings_every_recently_dead_member_round_robin() {
        let mut rng = SwimRng::from_seed_u64(3);
        let mut members: Membership<u32> = Membership::new(rng.hash_state());
        let t = Instant::from_secs;
        // Seven members: 0, 2, 3, 5, 6 dead (6 long ago), 1 alive, 4 left.
        for i in 0..7u32 {
            let state = match i {
                1 => State::Alive,
                4 => State::Left,
                _ => State::Dead,
            };
            let changed = if i == 6 { t(0) } else { t(100) };
            let m = Member {
                name: alloc::format!("m{i}").into(),
                addr: i,
                meta: Default::default(),
                incarnation: 0,
                state,
                state_changed: changed,
            };
            members.push(m);
        }
        let window = Duration::from_secs(1000);
        let (now, mut after, mut out) = (t(1050), None, Vec::new());
        let mut ticks = Vec::new();
        for _ in 0..3 {
            // The table is reshuffled between ticks, as probing does: the order must not matter.
            members.reshuffle(&mut rng);
            choose_reconnect(&members, &mut after, now, window, &mut out);
            ticks.push(out.iter().map(|&i| members.get(i).member.addr).collect::<Vec<_>>());
        }
        // Three per tick, in name order, wrapping: never the live, the left, or the one dead
        // past the window; every recently dead member within ceil(4 / 3) = 2 ticks.
        assert_eq!(ticks, vec![vec![0, 2, 3], vec![5, 0, 2], vec![3, 5, 0]]);
        // With nobody dead there is nothing to ping, and the round robin's place is kept.
        let empty: Membership<u32> = Membership::new(rng.hash_state());
        choose_reconnect(&empty, &mut after, now, window, &mut out);
        assert!(out.is_empty());
        assert_eq!(after.as_deref(), Some("m0"));
    }

    #[test]
    fn join_settles_on_replies_failures_and_deadlines() {
        let mut j: Joins<u32> = Joins::new();
        let t = Instant::from_secs;
        let id = j.start(vec![1, 2, 3]);
        j.add(id, 1, 10, t(10));
        j.add(id, 2, 11, t(10));
        j.add(id, 3, 12, t(10));
        assert_eq!(j.replied(10), None);
        assert_eq!(j.replied(10), None, "a duplicate reply is ignored");
        let mut done = Vec::new();
        j.failed(&2, &mut done);
        assert!(done.is_empty());
        j.expire(t(10), &mut done);
        assert_eq!(done, [Finished { id, reached: 1, attempted: 3, refused: 0, seeds: vec![1, 2, 3], attempt: 1 }]);
        assert_eq!(j.pending(), 0);
        let empty = j.start(vec![]);
        assert_eq!(
            j.finish_if_empty(empty),
            Some(Finished { id: empty, reached: 0, attempted: 0, refused: 0, seeds: vec![], attempt: 1 })
        );
        // A refusal settles its seed and says which join and seed it was.
        let id = j.start(vec![4, 5]);
        j.add(id, 4, 20, t(10));
        j.add(id, 5, 21, t(10));
        assert_eq!(j.refused(20), Some((id, 4, None)));
        assert_eq!(j.refused(20), None, "a duplicate refusal is ignored");
        let (_, _, f) = j.refused(21).expect("in flight");
        assert_eq!(f, Some(Finished { id, reached: 0, attempted: 2, refused: 2, seeds: vec![4, 5], attempt: 1 }));
    }

    #[test]
    fn a_join_that_reached_no_seed_is_retried_with_a_capped_jittered_backoff() {
        let policy = JoinRetry { initial: Duration::from_secs(1), max: Duration::from_secs(8), max_attempts: Some(6) };
        let mut j: Joins<u32> = Joins::new();
        let t0 = Instant::from_secs(100);
        let id = j.start(vec![7]);
        let attempt_done = |j: &mut Joins<u32>, attempt: u32, reached: usize, draw: u64| {
            let f = Finished { id, reached, attempted: 1, refused: 0, seeds: vec![7], attempt };
            j.after_attempt(f, Some(&policy), t0, |bound| draw.min(bound - 1))
        };
        // Backoff caps 1, 2, 4, 8, 8 s; the delay is in [cap/2, cap).
        for (attempt, cap) in [(1u32, 1u64), (2, 2), (3, 4), (4, 8), (5, 8)] {
            let low = attempt_done(&mut j, attempt, 0, 0);
            assert_eq!(
                low,
                AfterAttempt::Retrying { attempt: attempt + 1, delay: Duration::from_millis(cap * 500) },
                "attempt {attempt}"
            );
            let high = attempt_done(&mut j, attempt, 0, u64::MAX);
            let AfterAttempt::Retrying { delay, .. } = high else { panic!("{high:?}") };
            assert!(delay < Duration::from_secs(cap) && delay >= Duration::from_millis(cap * 500));
            assert_eq!(j.retry_deadline(), Some(t0 + delay));
        }
        assert_eq!(j.take_due_retry(t0), None, "not due yet");
        let r = j.take_due_retry(t0 + Duration::from_secs(8)).expect("due");
        assert_eq!((r.join, r.seeds.clone(), r.attempt), (id, vec![7], 6));
        j.restart(r);
        assert_eq!(attempt_done(&mut j, 6, 0, 0), AfterAttempt::GaveUp { attempts: 6 });
        assert_eq!(j.retry_deadline(), None, "no retry after giving up");
        // A seed that answers ends the retries.
        attempt_done(&mut j, 2, 0, 0);
        assert!(j.retry_deadline().is_some());
        assert_eq!(attempt_done(&mut j, 3, 1, 0), AfterAttempt::Done);
        assert_eq!(j.retry_deadline(), None);
        // Retrying off: a failed join is reported once.
        let f = Finished { id, reached: 0, attempted: 1, refused: 0, seeds: vec![7], attempt: 1 };
        assert_eq!(j.after_attempt(f, None, t0, |_| 0), AfterAttempt::Done);
        // A refused attempt is not retried, and ends a retry waiting for its join.
        attempt_done(&mut j, 2, 0, 0);
        assert!(j.retry_deadline().is_some());
        let f = Finished { id, reached: 0, attempted: 1, refused: 1, seeds: vec![7], attempt: 3 };
        assert_eq!(j.after_attempt(f, Some(&policy), t0, |_| 0), AfterAttempt::Done);
        assert_eq!(j.retry_deadline(), None);
    }
}
