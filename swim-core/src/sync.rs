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

use alloc::vec::Vec;
use core::time::Duration;

use crate::event::JoinId;
use crate::math;
use crate::time::Instant;

/// After a successful join the next push-pull is brought forward to a random time in the second
/// half of `push_pull_interval / JOIN_FOLLOW_UP_DIVISOR` (1.9 s to 3.75 s on LAN), so members
/// that joined concurrently learn of each other, and whatever gossip missed reaches them,
/// without waiting a whole period. memberlist waits for the regular period.
pub const JOIN_FOLLOW_UP_DIVISOR: u32 = 8;

/// Members up to which the push-pull interval is not stretched.
pub const PUSH_PULL_SCALE_THRESHOLD: usize = 32;

/// The push-pull period for `n` members: `base` up to 32 members, then
/// `(ceil(log2(n) - log2(32)) + 1) * base`, as memberlist scales it.
pub fn push_pull_interval(base: Duration, n: usize) -> Duration {
    if n <= PUSH_PULL_SCALE_THRESHOLD {
        return base;
    }
    // ceil(log2(n) - 5) == ceil(log2(n)) - 5 because 5 is an integer.
    let mult = math::ceil_log2(n) - 5 + 1;
    base.saturating_mul(mult)
}

#[derive(Clone, Debug)]
struct Pending<A> {
    join: JoinId,
    seed: A,
    request: u32,
    deadline: Instant,
}

#[derive(Clone, Debug)]
struct Op {
    id: JoinId,
    attempted: usize,
    reached: usize,
    outstanding: usize,
}

/// A finished join: every seed answered, failed or timed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Finished {
    pub id: JoinId,
    pub reached: usize,
    pub attempted: usize,
}

/// Joins in flight: which push-pull request went to which seed for which join.
#[derive(Debug)]
pub(crate) struct Joins<A> {
    pending: Vec<Pending<A>>,
    ops: Vec<Op>,
    next_id: u64,
}

impl<A: PartialEq> Joins<A> {
    pub fn new() -> Self {
        Joins { pending: Vec::new(), ops: Vec::new(), next_id: 0 }
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Start a join; returns its id.
    pub fn start(&mut self) -> JoinId {
        let id = JoinId(self.next_id);
        self.next_id += 1;
        self.ops.push(Op { id, attempted: 0, reached: 0, outstanding: 0 });
        id
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
    pub fn finish_if_empty(&mut self, join: JoinId) -> Option<Finished> {
        self.settle(join, false, true)
    }

    fn settle(&mut self, join: JoinId, reached: bool, only_if_empty: bool) -> Option<Finished> {
        let i = self.ops.iter().position(|o| o.id == join)?;
        let op = &mut self.ops[i];
        if !only_if_empty {
            op.outstanding -= 1;
            if reached {
                op.reached += 1;
            }
        }
        if op.outstanding > 0 {
            return None;
        }
        let op = self.ops.swap_remove(i);
        Some(Finished { id: op.id, reached: op.reached, attempted: op.attempted })
    }

    /// The reply to `request` arrived.
    pub fn replied(&mut self, request: u32) -> Option<Finished> {
        let i = self.pending.iter().position(|p| p.request == request)?;
        let p = self.pending.remove(i);
        self.settle(p.join, true, false)
    }

    /// Streams to `seed` failed: every request to it is unreached.
    pub fn failed(&mut self, seed: &A, out: &mut Vec<Finished>) {
        while let Some(i) = self.pending.iter().position(|p| &p.seed == seed) {
            let p = self.pending.remove(i);
            out.extend(self.settle(p.join, false, false));
        }
    }

    /// Requests past their deadline are unreached.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<Finished>) {
        while let Some(i) = self.pending.iter().position(|p| p.deadline <= now) {
            let p = self.pending.remove(i);
            out.extend(self.settle(p.join, false, false));
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.pending.iter().map(|p| p.deadline).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_scales_like_memberlist() {
        let b = Duration::from_secs(30);
        assert_eq!(push_pull_interval(b, 1), b);
        assert_eq!(push_pull_interval(b, 32), b);
        assert_eq!(push_pull_interval(b, 33), b * 2);
        assert_eq!(push_pull_interval(b, 64), b * 2);
        assert_eq!(push_pull_interval(b, 65), b * 3);
        assert_eq!(push_pull_interval(b, 1000), b * 6);
        assert_eq!(push_pull_interval(b, 10_000), b * 10);
    }

    #[test]
    fn join_settles_on_replies_failures_and_deadlines() {
        let mut j: Joins<u32> = Joins::new();
        let t = Instant::from_secs;
        let id = j.start();
        j.add(id, 1, 10, t(10));
        j.add(id, 2, 11, t(10));
        j.add(id, 3, 12, t(10));
        assert_eq!(j.replied(10), None);
        assert_eq!(j.replied(10), None, "a duplicate reply is ignored");
        let mut done = Vec::new();
        j.failed(&2, &mut done);
        assert!(done.is_empty());
        j.expire(t(10), &mut done);
        assert_eq!(done, [Finished { id, reached: 1, attempted: 3 }]);
        assert_eq!(j.pending(), 0);
        let empty = j.start();
        assert_eq!(j.finish_if_empty(empty), Some(Finished { id: empty, reached: 0, attempted: 0 }));
    }
}
