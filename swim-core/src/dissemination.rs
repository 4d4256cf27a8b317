//! Infection-style dissemination: the piggyback queue.
//!
//! Updates wait here, already encoded, until they have been sent
//! `retransmit_mult * ceil(log10(n + 1))` times. Each outgoing datagram takes
//! as many as fit in its remaining budget, in this order: fewest transmits
//! first, then the largest that fits, then the newest. A newer update with the
//! same key (the member's name) replaces the queued one. The queue is bounded;
//! past the bound the update sent most often is dropped.
//!
//! User broadcasts use a second queue of the same kind and fill only the space
//! the protocol's own updates leave. Their keys are global: a broadcast with a
//! non-empty key replaces a queued one with an equal key whatever its origin.
//! Each broadcast that leaves that queue (sent its full count, replaced, or
//! dropped at the bound) is listed for the hub, which tells the application
//! (`Hooks::broadcast_finished`) once the queue is no longer borrowed.
//!
//! `Dissemination` owns both queues, the memory of user broadcasts already
//! delivered and their keys; with it live the rule that fills a datagram with
//! piggybacked updates, the gossip-target rule of the gossip tick
//! (`gossip_targets`) and the encoding of one member's current state as an
//! update (`update_of`).

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::cmp::Reverse;
use core::hash::{BuildHasher, Hash};
use core::time::Duration;

use bytes::Bytes;
use hashbrown::{HashMap, HashSet};

use crate::config::Limits;
use crate::hooks::BroadcastOutcome;
use crate::member::{Address, Member, Name, State};
use crate::membership::Membership;
use crate::rng::{SeededState, SwimRng};
use crate::time::Instant;
pub use crate::timing::retransmit_limit;
use crate::transmit::BroadcastId;
use crate::versions::Peer;
use crate::wire::{self, Message};

/// Sort key: fewest transmits, then largest, then newest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Order {
    transmits: u32,
    len: Reverse<u32>,
    id: Reverse<u64>,
}

#[derive(Debug)]
struct Item<K, M> {
    key: K,
    bytes: Bytes,
    meta: M,
}

/// A bounded, transmit-limited queue of encoded updates keyed by `K`, each carrying `M`
/// (what its owner needs to know when it leaves the queue; `()` for nothing).
#[derive(Debug)]
pub struct PiggybackQueue<K, M = ()> {
    items: BTreeMap<Order, Item<K, M>>,
    by_key: HashMap<K, Order, SeededState>,
    next_id: u64,
    depth: usize,
    scratch: Vec<(Order, Item<K, M>)>,
}

/// What [`PiggybackQueue::push`] did besides queueing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Queued; nothing else changed.
    Queued,
    /// Queued in place of an older update with the same key.
    Replaced,
    /// Queued, and the update sent most often was dropped to stay within the bound.
    Evicted,
}

impl<K: Eq + Hash + Clone, M> PiggybackQueue<K, M> {
    /// An empty queue holding at most `depth` updates.
    pub(crate) fn new(depth: usize, hasher: SeededState) -> Self {
        PiggybackQueue {
            items: BTreeMap::new(),
            by_key: HashMap::with_hasher(hasher),
            next_id: 0,
            depth: depth.max(1),
            scratch: Vec::new(),
        }
    }

    /// An empty queue holding at most `depth` updates, its key index hashed with a key drawn
    /// from `seed` (for use outside a core, e.g. benchmarks).
    pub fn with_depth(depth: usize, seed: u64) -> Self {
        Self::new(depth, crate::rng::SwimRng::from_seed_u64(seed).hash_state())
    }

    /// Updates waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// No updates waiting.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether an update with `key` is still waiting.
    pub fn contains(&self, key: &K) -> bool {
        self.by_key.contains_key(key)
    }

    /// Queue `bytes` (one encoded message) under `key` with `meta`, replacing any older one.
    /// Returns what happened and the `meta` of the update that left the queue because of it:
    /// the one replaced, or the one evicted to stay within the bound (which may be this very
    /// update, if it is the one that would be sent least usefully).
    pub fn push_with(&mut self, key: K, bytes: Bytes, meta: M) -> (Pushed, Option<M>) {
        let mut result = (Pushed::Queued, None);
        if let Some(old) = self.by_key.remove(&key) {
            result = (Pushed::Replaced, self.items.remove(&old).map(|i| i.meta));
        }
        let order =
            Order { transmits: 0, len: Reverse(bytes.len().min(u32::MAX as usize) as u32), id: Reverse(self.next_id) };
        self.next_id += 1;
        self.by_key.insert(key.clone(), order);
        self.items.insert(order, Item { key, bytes, meta });
        if self.items.len() > self.depth {
            // A replacement does not grow the queue, so this is the only update to leave it.
            if let Some((_, evicted)) = self.items.pop_last() {
                self.by_key.remove(&evicted.key);
                result = (Pushed::Evicted, Some(evicted.meta));
            }
        }
        result
    }

    /// Make room in the key index for `additional` more updates (capped at the depth bound).
    pub fn reserve(&mut self, additional: usize) {
        let room = self.depth.saturating_sub(self.items.len());
        self.by_key.reserve(additional.min(room));
    }

    /// Remove the update queued under `key`, if any.
    pub fn remove(&mut self, key: &K) {
        if let Some(old) = self.by_key.remove(key) {
            self.items.remove(&old);
        }
    }

    /// Append as many queued updates as fit in `budget` bytes to `out`, counting one
    /// transmit for each; updates that reach `limit` transmits leave the queue, and their
    /// `meta` is handed to `retired`. Returns the number of updates appended. Does not
    /// allocate once warmed up.
    pub fn fill_with(&mut self, budget: usize, limit: u32, out: &mut Vec<u8>, mut retired: impl FnMut(M)) -> usize {
        let mut free = budget;
        let mut tier = 0u32;
        while free > 0 {
            let start =
                Order { transmits: tier, len: Reverse(free.min(u32::MAX as usize) as u32), id: Reverse(u64::MAX) };
            let Some(&order) = self.items.range(start..).next().map(|(o, _)| o) else { break };
            if order.len.0 as usize > free {
                // Nothing in `tier` fits; the first entry is in a later tier. Look there.
                if order.transmits == tier {
                    break; // cannot happen: range() skips larger items of this tier
                }
                tier = order.transmits;
                continue;
            }
            tier = order.transmits;
            // The key came from iterating the map, so the entry exists.
            let Some(item) = self.items.remove(&order) else { break };
            out.extend_from_slice(&item.bytes);
            free -= item.bytes.len();
            self.scratch.push((order, item));
        }
        let n = self.scratch.len();
        for (order, item) in self.scratch.drain(..) {
            let transmits = order.transmits + 1;
            if transmits >= limit {
                self.by_key.remove(&item.key);
                retired(item.meta);
            } else {
                let next = Order { transmits, ..order };
                if let Some(o) = self.by_key.get_mut(&item.key) {
                    *o = next;
                }
                self.items.insert(next, item);
            }
        }
        n
    }

    /// Sum of the queued updates' sizes (for metrics and memory accounting).
    pub fn bytes(&self) -> usize {
        self.items.values().map(|i| i.bytes.len()).sum()
    }

    /// Approximate heap bytes: encoded updates plus per-entry bookkeeping in the ordered map
    /// and the key index.
    pub fn heap_bytes(&self) -> usize {
        let per_entry =
            2 * (core::mem::size_of::<Order>() + core::mem::size_of::<K>()) + core::mem::size_of::<Item<K, M>>();
        self.bytes() + self.items.len() * per_entry + self.by_key.allocation_size()
    }
}

impl<K: Eq + Hash + Clone> PiggybackQueue<K> {
    /// Queue `bytes` (one encoded message) under `key`, replacing any older one.
    pub fn push(&mut self, key: K, bytes: Bytes) -> Pushed {
        self.push_with(key, bytes, ()).0
    }

    /// Append as many queued updates as fit in `budget` bytes to `out`, counting one
    /// transmit for each; updates that reach `limit` transmits leave the queue.
    /// Returns the number of updates appended. Does not allocate once warmed up.
    pub fn fill(&mut self, budget: usize, limit: u32, out: &mut Vec<u8>) -> usize {
        self.fill_with(budget, limit, out, |()| {})
    }
}

/// A bounded memory of user broadcasts already delivered, oldest forgotten first.
#[derive(Debug)]
pub(crate) struct Seen<K> {
    set: HashSet<K, SeededState>,
    order: VecDeque<K>,
    cap: usize,
}

impl<K: Eq + Hash + Clone> Seen<K> {
    pub(crate) fn new(cap: usize, hasher: SeededState) -> Self {
        Seen { set: HashSet::with_hasher(hasher), order: VecDeque::new(), cap: cap.max(1) }
    }

    /// Record `key`; returns false if it was already known.
    pub(crate) fn insert(&mut self, key: K) -> bool {
        if self.set.contains(&key) {
            return false;
        }
        if self.order.len() >= self.cap
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.set.insert(key.clone());
        self.order.push_back(key);
        true
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }
}

/// Invalidation key of a user broadcast: its key, global to the cluster (a newer broadcast with
/// an equal key replaces a queued one whatever its origin), or for a broadcast without a key
/// its origin and id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum BroadcastKey {
    Keyed(Bytes),
    Unique(Name, u64),
}

/// What the user piggyback queue keeps about a broadcast, to tell
/// [`Hooks::broadcast_finished`](crate::hooks::Hooks::broadcast_finished) when it leaves.
#[derive(Clone, Debug)]
pub(crate) struct QueuedBroadcast {
    pub origin: Name,
    pub id: BroadcastId,
    pub key: Bytes,
    pub local: bool,
}

/// Broadcasts that left the user queue since the hub last reported them, with how.
pub(crate) type Finished = Vec<(QueuedBroadcast, BroadcastOutcome)>;

/// Both piggyback queues and the memory of user broadcasts already delivered. Bounded by
/// `limits.broadcast_queue_depth`, `limits.user_broadcast_queue_depth` and
/// `limits.seen_broadcasts`.
#[derive(Debug)]
pub(crate) struct Dissemination {
    membership: PiggybackQueue<Name>,
    user: PiggybackQueue<BroadcastKey, QueuedBroadcast>,
    /// User broadcasts that left the queue, waiting for the hub to tell the application:
    /// at most the queue's depth plus what one push or one datagram retires (reused, so the
    /// fill path allocates nothing once warmed up).
    finished: Finished,
    seen: Seen<u64>,
    /// Hashes (origin, id) of user broadcasts for `seen`.
    hasher: SeededState,
    next_broadcast_id: u64,
}

impl Dissemination {
    /// Empty queues; each hashed with its own key (drawn by the caller in a fixed order).
    pub fn new(
        limits: &Limits,
        hasher: SeededState,
        membership: SeededState,
        user: SeededState,
        seen: SeededState,
    ) -> Self {
        Dissemination {
            membership: PiggybackQueue::new(limits.broadcast_queue_depth, membership),
            user: PiggybackQueue::new(limits.user_broadcast_queue_depth, user),
            finished: Vec::new(),
            seen: Seen::new(limits.seen_broadcasts, seen),
            hasher,
            next_broadcast_id: 0,
        }
    }

    /// Queue a membership update about member `name`, replacing an older one about it.
    pub fn push_update(&mut self, name: Name, bytes: Bytes) -> Pushed {
        self.membership.push(name, bytes)
    }

    /// An id for a new local user broadcast.
    pub fn next_broadcast_id(&mut self) -> u64 {
        let id = self.next_broadcast_id;
        self.next_broadcast_id += 1;
        id
    }

    /// User broadcasts originated here so far.
    pub fn broadcasts_originated(&self) -> u64 {
        self.next_broadcast_id
    }

    /// Remember user broadcast `id` from `origin`; false if it was already delivered.
    pub fn first_sight(&mut self, origin: &str, id: u64) -> bool {
        self.seen.insert(self.hasher.hash_one((origin, id)))
    }

    /// Queue user broadcast `id` from `origin` (encoded as `bytes`; `local` if it originated
    /// here); a non-empty `key` replaces any queued broadcast with the same key, whatever its
    /// origin. A broadcast replaced or evicted goes to the finished list.
    pub fn push_user(&mut self, origin: Name, id: u64, key: &[u8], bytes: Bytes, local: bool) -> Pushed {
        let key = Bytes::copy_from_slice(key);
        let queue_key =
            if key.is_empty() { BroadcastKey::Unique(origin.clone(), id) } else { BroadcastKey::Keyed(key.clone()) };
        let meta = QueuedBroadcast { origin, id: BroadcastId(id), key, local };
        let (pushed, left) = self.user.push_with(queue_key, bytes, meta);
        if let Some(b) = left {
            let outcome =
                if pushed == Pushed::Replaced { BroadcastOutcome::Replaced } else { BroadcastOutcome::Dropped };
            self.finished.push((b, outcome));
        }
        pushed
    }

    /// Append piggybacked updates to `buf` until it is `budget` bytes long: membership
    /// updates first, then user broadcasts in the space left. Each update goes out at most
    /// `limit` times (the retransmit limit); user broadcasts that reach it go to the finished
    /// list.
    pub fn fill(&mut self, budget: usize, limit: u32, buf: &mut Vec<u8>) {
        self.membership.fill(budget.saturating_sub(buf.len()), limit, buf);
        let finished = &mut self.finished;
        self.user.fill_with(budget.saturating_sub(buf.len()), limit, buf, |b| {
            finished.push((b, BroadcastOutcome::Sent));
        });
    }

    /// The user broadcasts that left the queue since the last call, with how; give the list
    /// back with [`restore_finished`](Self::restore_finished) once read, to keep its capacity.
    pub fn take_finished(&mut self) -> Finished {
        core::mem::take(&mut self.finished)
    }

    /// Hand back the (read and emptied) list from [`take_finished`](Self::take_finished).
    pub fn restore_finished(&mut self, mut list: Finished) {
        list.clear();
        if self.finished.is_empty() {
            self.finished = list;
        }
    }

    /// Nothing waits in either queue.
    pub fn is_empty(&self) -> bool {
        self.membership.is_empty() && self.user.is_empty()
    }

    /// Updates waiting: (membership, user).
    pub fn depths(&self) -> (usize, usize) {
        (self.membership.len(), self.user.len())
    }

    /// Whether an update about `name` still waits (a leave is done once its notice has gone
    /// out as often as any update).
    pub fn pending_update(&self, name: &Name) -> bool {
        self.membership.contains(name)
    }

    /// Make room for `additional` more membership updates.
    pub fn reserve(&mut self, additional: usize) {
        self.membership.reserve(additional);
    }

    /// Approximate heap bytes, with `seen` entries in the delivered-broadcast memory.
    pub fn heap_bytes(&self, seen: usize) -> usize {
        self.membership.heap_bytes() + self.user.heap_bytes() + seen * 24
    }
}

/// The gossip tick's targets: up to `fanout` random members that are alive, suspect, or dead
/// for less than `dead_window` (so they can learn it and refute), into `out`.
pub(crate) fn gossip_targets<A: Address>(
    members: &Membership<A>,
    rng: &mut SwimRng,
    now: Instant,
    fanout: usize,
    dead_window: Duration,
    out: &mut Vec<usize>,
) {
    members.sample(rng, fanout, out, |m| match m.state {
        State::Alive | State::Suspect => true,
        State::Dead => now - m.state_changed < dead_window,
        State::Left => false,
    });
}

/// The members a leaving member tells directly: every alive or suspect member if there are at
/// most `fanout`, else `fanout` of them chosen at random (a partial shuffle: each is certain to
/// be drawn at most once, and none is missed by chance when all fit), into `out`.
pub(crate) fn leave_targets<A: Address>(
    members: &Membership<A>,
    rng: &mut SwimRng,
    fanout: usize,
    out: &mut Vec<usize>,
) {
    out.clear();
    out.extend((0..members.len()).filter(|&i| !members.get(i).member.state.is_gone()));
    if out.len() > fanout {
        for k in 0..fanout {
            let j = k + rng.below(out.len() - k);
            out.swap(k, j);
        }
        out.truncate(fanout);
    }
}

/// The update announcing member `m`'s current state (an alive says it speaks `peer`). `from`
/// is the accuser of a suspicion or death (defaults: the member itself for a suspicion, `local`
/// for a death).
pub(crate) fn update_of<'a, A: Address>(
    m: &'a Member<A>,
    peer: Peer,
    from: Option<&'a str>,
    local: &'a str,
) -> Message<'a, A> {
    let name = m.name.as_str();
    match m.state {
        State::Alive => Message::Alive(wire::Alive {
            incarnation: m.incarnation,
            name,
            addr: m.addr.clone(),
            meta: &m.meta,
            versions: peer.versions,
            capabilities: peer.capabilities,
        }),
        State::Suspect => {
            Message::Suspect(wire::Suspect { incarnation: m.incarnation, name, from: from.unwrap_or(name) })
        }
        State::Dead => Message::Dead(wire::Dead { incarnation: m.incarnation, name, from: from.unwrap_or(local) }),
        State::Left => Message::Dead(wire::Dead { incarnation: m.incarnation, name, from: name }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SwimRng;
    use alloc::vec;

    fn q(depth: usize) -> PiggybackQueue<u32> {
        PiggybackQueue::new(depth, SwimRng::from_seed_u64(0).hash_state())
    }

    fn msg(tag: u8, len: usize) -> Bytes {
        Bytes::from(vec![tag; len])
    }

    #[test]
    fn fewest_transmits_then_largest_then_newest() {
        let mut q = q(100);
        q.push(1, msg(1, 10));
        q.push(2, msg(2, 30));
        q.push(3, msg(3, 10));
        let mut out = Vec::new();
        // Budget for exactly one: the largest wins.
        assert_eq!(q.fill(30, 10, &mut out), 1);
        assert_eq!(out, vec![2; 30]);
        out.clear();
        // Now 1 and 3 have 0 transmits, 2 has 1. Same size: newest (3) first.
        assert_eq!(q.fill(10, 10, &mut out), 1);
        assert_eq!(out, vec![3; 10]);
        out.clear();
        assert_eq!(q.fill(10, 10, &mut out), 1);
        assert_eq!(out, vec![1; 10]);
        out.clear();
        // All have 1 transmit; budget for all three, largest first.
        assert_eq!(q.fill(100, 10, &mut out), 3);
        assert_eq!(&out[..30], &[2; 30][..]);
    }

    #[test]
    fn skips_what_does_not_fit() {
        let mut q = q(100);
        q.push(1, msg(1, 50));
        q.push(2, msg(2, 5));
        let mut out = Vec::new();
        assert_eq!(q.fill(20, 10, &mut out), 1);
        assert_eq!(out, vec![2; 5]);
        out.clear();
        // Item 2 moved to tier 1, item 1 (tier 0) is too large: tier 1 is searched.
        assert_eq!(q.fill(20, 10, &mut out), 1);
        assert_eq!(out, vec![2; 5]);
    }

    #[test]
    fn limit_retires_updates() {
        let mut q = q(100);
        q.push(1, msg(1, 4));
        let mut out = Vec::new();
        for _ in 0..3 {
            assert_eq!(q.fill(100, 3, &mut out), 1);
        }
        assert!(q.is_empty());
        assert!(!q.contains(&1));
        assert_eq!(q.fill(100, 3, &mut out), 0);
    }

    #[test]
    fn newer_update_replaces_older() {
        let mut q = q(100);
        assert_eq!(q.push(7, msg(1, 4)), Pushed::Queued);
        assert_eq!(q.push(7, msg(2, 4)), Pushed::Replaced);
        assert_eq!(q.len(), 1);
        let mut out = Vec::new();
        q.fill(100, 5, &mut out);
        assert_eq!(out, vec![2; 4]);
    }

    #[test]
    fn bounded_drops_most_sent() {
        let mut q = q(2);
        q.push(1, msg(1, 4));
        let mut out = Vec::new();
        q.fill(100, 10, &mut out); // 1 has one transmit
        q.push(2, msg(2, 4));
        assert_eq!(q.push(3, msg(3, 4)), Pushed::Evicted);
        assert_eq!(q.len(), 2);
        assert!(!q.contains(&1));
        assert!(q.contains(&2) && q.contains(&3));
    }

    #[test]
    fn one_packet_never_carries_an_update_twice() {
        let mut q = q(100);
        q.push(1, msg(1, 4));
        let mut out = Vec::new();
        assert_eq!(q.fill(1000, 10, &mut out), 1);
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn leave_targets_are_every_live_member_or_a_distinct_sample() {
        let mut rng = SwimRng::from_seed_u64(3);
        let mut t = Membership::new(rng.hash_state());
        for i in 0..30u32 {
            let state = if i % 3 == 0 { State::Dead } else { State::Alive };
            let m = Member {
                name: Name::from(alloc::format!("m{i}").as_str()),
                addr: i,
                meta: Bytes::new(),
                incarnation: 0,
                state,
                state_changed: Instant::ZERO,
            };
            t.insert(m, &mut rng);
        }
        let mut out = Vec::new();
        leave_targets(&t, &mut rng, 100, &mut out);
        assert_eq!(out.len(), 20, "all 20 live members when they fit");
        leave_targets(&t, &mut rng, 16, &mut out);
        assert_eq!(out.len(), 16);
        let mut sorted = out.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 16, "distinct");
        assert!(out.iter().all(|&i| t.get(i).member.state == State::Alive));
    }

    #[test]
    fn leaving_updates_are_reported_with_their_meta() {
        let mut q: PiggybackQueue<u32, &str> = PiggybackQueue::new(2, SwimRng::from_seed_u64(0).hash_state());
        assert_eq!(q.push_with(1, msg(1, 4), "first"), (Pushed::Queued, None));
        assert_eq!(q.push_with(1, msg(1, 4), "second"), (Pushed::Replaced, Some("first")));
        let mut out = Vec::new();
        let mut retired = Vec::new();
        q.fill_with(100, 2, &mut out, |m| retired.push(m)); // "second" sent once
        assert_eq!(q.push_with(2, msg(2, 4), "third"), (Pushed::Queued, None));
        // Full: the update sent most often leaves.
        assert_eq!(q.push_with(3, msg(3, 4), "fourth"), (Pushed::Evicted, Some("second")));
        assert!(retired.is_empty());
        q.fill_with(100, 2, &mut out, |m| retired.push(m));
        q.fill_with(100, 2, &mut out, |m| retired.push(m));
        retired.sort_unstable();
        assert_eq!(retired, ["fourth", "third"], "each leaves once, at its retransmit limit");
        assert!(q.is_empty());
    }

    #[test]
    fn broadcast_keys_are_global_and_leaving_broadcasts_are_listed() {
        let limits = Limits { user_broadcast_queue_depth: 2, ..Limits::default() };
        let h = || SwimRng::from_seed_u64(1).hash_state();
        let mut d = Dissemination::new(&limits, h(), h(), h(), h());
        d.push_user("a".into(), 0, b"k", msg(1, 8), true);
        // Same key from another origin: replaces a's.
        assert_eq!(d.push_user("b".into(), 7, b"k", msg(2, 8), false), Pushed::Replaced);
        // No key: never replaces.
        d.push_user("b".into(), 8, b"", msg(3, 8), false);
        assert_eq!(d.depths().1, 2);
        let got: Vec<_> = d.take_finished().into_iter().map(|(b, o)| (b.origin, b.id, b.local, o)).collect();
        assert_eq!(got, [(Name::from("a"), BroadcastId(0), true, BroadcastOutcome::Replaced)]);
        let mut buf = Vec::new();
        d.fill(1000, 1, &mut buf);
        assert_eq!(buf.len(), 16, "both sent");
        let mut sent: Vec<_> = d.take_finished().into_iter().map(|(b, o)| (b.id, b.key, o)).collect();
        sent.sort_by_key(|s| s.0);
        let (k, none) = (Bytes::from_static(b"k"), Bytes::new());
        assert_eq!(sent, [(BroadcastId(7), k, BroadcastOutcome::Sent), (BroadcastId(8), none, BroadcastOutcome::Sent)]);
    }

    #[test]
    fn seen_is_bounded_fifo() {
        let mut s = Seen::new(2, SwimRng::from_seed_u64(0).hash_state());
        assert!(s.insert(1));
        assert!(!s.insert(1));
        assert!(s.insert(2));
        assert!(s.insert(3));
        assert_eq!(s.len(), 2);
        assert!(s.insert(1), "1 was forgotten");
    }
}
