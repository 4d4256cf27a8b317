//! The member table and the randomised round-robin probe order.
//!
//! Members live in one vector that *is* the probe order (as in memberlist): a
//! cursor walks it, skipping dead and left members; a newcomer is swapped into
//! a random position; when the cursor wraps, members past their retention are
//! removed and the vector is reshuffled. SWIM shows that this bounds the gap
//! between two probes of the same member to `2n - 1` periods. A hash table of
//! indices (keyed by name, seeded) finds members by name.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::hash::BuildHasher;

use hashbrown::HashTable;

use crate::coordinates::{Coordinate, LatencyFilter};
use crate::member::{Address, Member, State};
use crate::rng::{SeededState, SwimRng};
use crate::time::Instant;
use crate::versions::Peer;

/// One member as this member holds it. (Suspicion timers live beside the table, in the state
/// machine, since few members are suspect at a time: that keeps every record 8 bytes
/// smaller.)
#[derive(Debug)]
pub(crate) struct Record<A> {
    pub member: Member<A>,
    /// What its alive record said it speaks.
    pub peer: Peer,
    /// With [`crate::Config::coordinates`] on: the last coordinate it sent us and its latency
    /// filter, once a probe measured it (boxed: one pointer per record when off).
    pub coordinate: Option<Box<RemoteCoordinate>>,
}

/// A member's coordinate as last heard, and the RTT samples of our probes to it.
#[derive(Clone, Debug)]
pub(crate) struct RemoteCoordinate {
    pub coordinate: Coordinate,
    pub filter: LatencyFilter,
}

impl<A> From<Member<A>> for Record<A> {
    /// A member whose versions are the defaults, with no capabilities.
    fn from(member: Member<A>) -> Self {
        Record { member, peer: Peer::DEFAULT, coordinate: None }
    }
}

/// The member table (the local member is not in it).
#[derive(Debug)]
pub(crate) struct Membership<A> {
    records: Vec<Record<A>>,
    index: HashTable<u32>,
    hasher: SeededState,
    probe_pos: usize,
    live: usize,
    dead: usize,
}

impl<A: Address> Membership<A> {
    pub(crate) fn new(hasher: SeededState) -> Self {
        Membership { records: Vec::new(), index: HashTable::new(), hasher, probe_pos: 0, live: 0, dead: 0 }
    }

    /// Members held, dead and left included.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// Alive and suspect members (not counting the local member).
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Dead members (not counting those that left).
    pub(crate) fn dead(&self) -> usize {
        self.dead
    }

    /// Adjust the counts for a record entering (`+1`) or leaving (`-1`) `state`.
    fn count(&mut self, state: State, delta: isize) {
        match state {
            State::Alive | State::Suspect => self.live = self.live.wrapping_add_signed(delta),
            State::Dead => self.dead = self.dead.wrapping_add_signed(delta),
            State::Left => {}
        }
    }

    pub(crate) fn records(&self) -> &[Record<A>] {
        &self.records
    }

    pub(crate) fn get(&self, i: usize) -> &Record<A> {
        &self.records[i]
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> &mut Record<A> {
        &mut self.records[i]
    }

    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        let h = self.hasher.hash_one(name);
        let records = &self.records;
        self.index.find(h, |&i| records[i as usize].member.name.as_bytes() == name.as_bytes()).map(|&i| i as usize)
    }

    pub(crate) fn by_name(&self, name: &str) -> Option<&Record<A>> {
        self.find(name).map(|i| &self.records[i])
    }

    /// Change a member's state, keeping the live count right.
    pub(crate) fn set_state(&mut self, i: usize, state: State, now: Instant) {
        let old = self.records[i].member.state;
        if old == state {
            return;
        }
        let m = &mut self.records[i].member;
        m.state = state;
        m.state_changed = now;
        self.count(old, -1);
        self.count(state, 1);
    }

    /// Add a member not yet in the table at a random probe position. Returns its index.
    pub(crate) fn insert(&mut self, record: impl Into<Record<A>>, rng: &mut SwimRng) -> usize {
        let record = record.into();
        debug_assert!(self.find(&record.member.name).is_none());
        self.count(record.member.state, 1);
        let n = self.records.len();
        self.grow(1);
        self.records.push(record);
        self.index_insert(n);
        let j = rng.below(n + 1);
        if j != n {
            self.swap(j, n);
        }
        j
    }

    /// Append a member not yet in the table, without moving it to a random position; call
    /// [`reshuffle`](Self::reshuffle) after a batch. Returns its index.
    pub(crate) fn push(&mut self, record: impl Into<Record<A>>) -> usize {
        let record = record.into();
        debug_assert!(self.find(&record.member.name).is_none());
        self.count(record.member.state, 1);
        self.grow(1);
        self.records.push(record);
        let i = self.records.len() - 1;
        self.index_insert(i);
        i
    }

    /// Shuffle the whole probe order (after a batch of [`push`](Self::push)es).
    pub(crate) fn reshuffle(&mut self, rng: &mut SwimRng) {
        rng.shuffle(&mut self.records);
        self.rebuild_index();
        self.probe_pos = 0;
    }

    /// Add unknown members in bulk, each taken to speak `peer`, up to `max` held in all,
    /// skipping those `accept` refuses; then reshuffle the probe order once. Returns (added,
    /// refused for room).
    pub(crate) fn extend(
        &mut self,
        members: impl Iterator<Item = Member<A>>,
        peer: Peer,
        max: usize,
        mut accept: impl FnMut(&Member<A>) -> bool,
        rng: &mut SwimRng,
    ) -> (usize, usize) {
        let (mut added, mut full) = (0, 0);
        for m in members {
            if !accept(&m) || self.find(&m.name).is_some() {
                continue;
            }
            if self.records.len() >= max {
                full += 1;
                continue;
            }
            self.count(m.state, 1);
            self.grow(1);
            self.records.push(Record { member: m, peer, coordinate: None });
            self.index_insert(self.records.len() - 1);
            added += 1;
        }
        if added > 0 {
            self.reshuffle(rng);
        }
        (added, full)
    }

    fn index_insert(&mut self, i: usize) {
        let h = self.hasher.hash_one(&self.records[i].member.name);
        let records = &self.records;
        let hasher = &self.hasher;
        self.index.insert_unique(h, i as u32, |&k| hasher.hash_one(&records[k as usize].member.name));
    }

    fn swap(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        // Each index slot holds a distinct position, so "the slot holding `a` under the hash
        // of the name at `a`" identifies it exactly. Find both before changing either.
        let ha = self.hasher.hash_one(&self.records[a].member.name);
        let hb = self.hasher.hash_one(&self.records[b].member.name);
        let slot_a = self.index.find_bucket_index(ha, |&k| k as usize == a);
        let slot_b = self.index.find_bucket_index(hb, |&k| k as usize == b);
        if let Some(s) = slot_a.and_then(|i| self.index.get_bucket_mut(i)) {
            *s = b as u32;
        }
        if let Some(s) = slot_b.and_then(|i| self.index.get_bucket_mut(i)) {
            *s = a as u32;
        }
        self.records.swap(a, b);
    }

    fn rebuild_index(&mut self) {
        self.index.clear();
        for i in 0..self.records.len() {
            self.index_insert(i);
        }
    }

    /// Advance the probe cursor to the next alive or suspect member. On wrap-around, drop
    /// members `expired` says are past retention (returned through `removed`) and reshuffle.
    pub(crate) fn next_probe_target(
        &mut self,
        rng: &mut SwimRng,
        mut expired: impl FnMut(&Member<A>) -> bool,
        removed: &mut Vec<Member<A>>,
    ) -> Option<usize> {
        let mut wrapped = false;
        loop {
            if self.probe_pos >= self.records.len() {
                if wrapped {
                    return None;
                }
                wrapped = true;
                self.reap(&mut expired, removed);
                rng.shuffle(&mut self.records);
                self.rebuild_index();
                self.probe_pos = 0;
                if self.records.is_empty() {
                    return None;
                }
            }
            let i = self.probe_pos;
            self.probe_pos += 1;
            if !self.records[i].member.state.is_gone() {
                return Some(i);
            }
        }
    }

    fn reap(&mut self, expired: &mut impl FnMut(&Member<A>) -> bool, removed: &mut Vec<Member<A>>) {
        let mut i = 0;
        while i < self.records.len() {
            let m = &self.records[i].member;
            if m.state.is_gone() && expired(m) {
                let r = self.records.swap_remove(i);
                self.count(r.member.state, -1);
                removed.push(r.member);
            } else {
                i += 1;
            }
        }
    }

    /// Remove the member at `i` (its index entry too) and return it.
    pub(crate) fn remove(&mut self, i: usize) -> Member<A> {
        let last = self.records.len() - 1;
        if i != last {
            self.swap(i, last);
        }
        let h = self.hasher.hash_one(&self.records[last].member.name);
        if let Ok(entry) = self.index.find_entry(h, |&k| k as usize == last) {
            entry.remove();
        }
        let r = self.records.pop().expect("non-empty: `i` indexed it"); // i < len, so len >= 1
        self.count(r.member.state, -1);
        self.probe_pos = self.probe_pos.min(self.records.len());
        r.member
    }

    /// Remove the dead or left member that changed state longest ago, to make room.
    pub(crate) fn evict_oldest_gone(&mut self) -> Option<Member<A>> {
        let (i, _) = self
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.member.state.is_gone())
            .min_by_key(|(_, r)| r.member.state_changed)?;
        Some(self.remove(i))
    }

    /// Up to `k` distinct random members accepted by `pred`, into `out` (cleared first).
    /// Tries `3 * len` random picks, as memberlist's `kRandomNodes` does.
    pub(crate) fn sample(
        &self,
        rng: &mut SwimRng,
        k: usize,
        out: &mut Vec<usize>,
        mut pred: impl FnMut(&Member<A>) -> bool,
    ) {
        self.sample_records(rng, k, out, |r| pred(&r.member));
    }

    /// [`sample`](Self::sample) with a predicate on the whole record.
    pub(crate) fn sample_records(
        &self,
        rng: &mut SwimRng,
        k: usize,
        out: &mut Vec<usize>,
        mut pred: impl FnMut(&Record<A>) -> bool,
    ) {
        out.clear();
        let n = self.records.len();
        if n == 0 || k == 0 {
            return;
        }
        for _ in 0..3 * n {
            if out.len() >= k {
                break;
            }
            let i = rng.below(n);
            if out.contains(&i) || !pred(&self.records[i]) {
                continue;
            }
            out.push(i);
        }
    }

    /// Make room for `additional` more records. The vector grows by at least an eighth of its
    /// length, not by doubling: a table that grew one join at a time then holds at most
    /// 12.5 % spare records (under 10 bytes per member) instead of up to 100 % (about 70).
    /// Copying stays amortised constant: at most 9 record moves per insert.
    fn grow(&mut self, additional: usize) {
        if self.records.capacity() - self.records.len() < additional {
            self.records.reserve_exact(additional.max(self.records.len() / 8).max(4));
        }
    }

    /// Make room for `additional` more members without reallocating.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.grow(additional);
        let records = &self.records;
        let hasher = &self.hasher;
        self.index.reserve(additional, |&k| hasher.hash_one(&records[k as usize].member.name));
    }

    /// Approximate heap bytes: the record vector, the index, and what each record owns
    /// (long names, metadata).
    pub(crate) fn heap_bytes(&self) -> usize {
        let coordinate = |r: &Record<A>| r.coordinate.as_ref().map_or(0, |_| core::mem::size_of::<RemoteCoordinate>());
        let owned: usize =
            self.records.iter().map(|r| r.member.name.heap_bytes() + r.member.meta.len() + coordinate(r)).sum();
        self.records.capacity() * core::mem::size_of::<Record<A>>() + self.index.allocation_size() + owned
    }

    /// Consistency check for tests: the index points at every record by name.
    #[cfg(test)]
    pub(crate) fn check(&self) {
        assert_eq!(self.index.len(), self.records.len());
        for (i, r) in self.records.iter().enumerate() {
            assert_eq!(self.find(&r.member.name), Some(i), "index of {}", r.member.name);
        }
        let live = self.records.iter().filter(|r| !r.member.state.is_gone()).count();
        assert_eq!(live, self.live);
        let dead = self.records.iter().filter(|r| r.member.state == State::Dead).count();
        assert_eq!(dead, self.dead);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::Name;
    use alloc::format;
    use bytes::Bytes;

    fn member(i: u32, state: State) -> Member<u32> {
        Member {
            name: Name::from(format!("m{i}")),
            addr: i,
            meta: Bytes::new(),
            incarnation: 0,
            state,
            state_changed: Instant::from_secs(i as u64),
        }
    }

    #[test]
    fn insert_find_and_index_stay_consistent() {
        let mut rng = SwimRng::from_seed_u64(1);
        let mut t = Membership::new(rng.hash_state());
        for i in 0..200 {
            t.insert(member(i, State::Alive), &mut rng);
            t.check();
        }
        assert_eq!(t.live(), 200);
        assert!(t.find("m77").is_some());
        assert!(t.find("nope").is_none());
        // Positions are shuffled, not insertion order.
        let first: Vec<u32> = t.records().iter().take(10).map(|r| r.member.addr).collect();
        assert_ne!(first, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn a_table_grown_one_member_at_a_time_keeps_at_most_an_eighth_spare() {
        let mut rng = SwimRng::from_seed_u64(3);
        let mut t = Membership::new(rng.hash_state());
        for i in 0..5_000 {
            if i % 2 == 0 {
                t.insert(member(i, State::Alive), &mut rng);
            } else {
                t.push(member(i, State::Alive));
            }
            let (len, cap) = (t.records.len(), t.records.capacity());
            assert!(cap <= len + len / 8 + 4, "{len} records in room for {cap}");
        }
        // A bulk reservation is exact when it is the larger.
        t.reserve(2_000);
        assert_eq!(t.records.capacity(), 7_000);
    }

    #[test]
    fn round_robin_visits_every_live_member_once_per_pass() {
        let mut rng = SwimRng::from_seed_u64(2);
        let mut t = Membership::new(rng.hash_state());
        for i in 0..50 {
            t.insert(member(i, if i % 10 == 0 { State::Dead } else { State::Alive }), &mut rng);
        }
        let i = t.find("m10").unwrap();
        t.set_state(i, State::Dead, Instant::ZERO);
        let mut removed = Vec::new();
        let mut seen = Vec::new();
        for _ in 0..45 {
            let i = t.next_probe_target(&mut rng, |_| false, &mut removed).unwrap();
            seen.push(t.get(i).member.addr);
        }
        seen.sort();
        let want: Vec<u32> = (0..50).filter(|i| i % 10 != 0).collect();
        assert_eq!(seen, want);
        t.check();
    }

    #[test]
    fn wrap_reaps_expired_and_shuffles() {
        let mut rng = SwimRng::from_seed_u64(3);
        let mut t = Membership::new(rng.hash_state());
        for i in 0..10 {
            t.insert(member(i, if i < 3 { State::Left } else { State::Alive }), &mut rng);
        }
        let mut removed = Vec::new();
        // Seven live members: the eighth call wraps the cursor, which reaps.
        for _ in 0..7 {
            let _ = t.next_probe_target(&mut rng, |m| m.addr < 2, &mut removed);
        }
        assert!(removed.is_empty(), "nothing is reaped before the pass ends");
        let _ = t.next_probe_target(&mut rng, |m| m.addr < 2, &mut removed);
        assert_eq!(removed.len(), 2);
        assert_eq!(t.len(), 8);
        assert!(t.find("m0").is_none() && t.find("m2").is_some());
        t.check();
    }

    #[test]
    fn nothing_to_probe_returns_none() {
        let mut rng = SwimRng::from_seed_u64(4);
        let mut t: Membership<u32> = Membership::new(rng.hash_state());
        let mut removed = Vec::new();
        assert!(t.next_probe_target(&mut rng, |_| false, &mut removed).is_none());
        t.insert(member(1, State::Dead), &mut rng);
        assert!(t.next_probe_target(&mut rng, |_| false, &mut removed).is_none());
    }

    #[test]
    fn remove_keeps_the_index_right() {
        let mut rng = SwimRng::from_seed_u64(9);
        let mut t = Membership::new(rng.hash_state());
        for i in 0..30 {
            t.insert(member(i, if i % 3 == 0 { State::Dead } else { State::Alive }), &mut rng);
        }
        for name in ["m7", "m0", "m29", "m15"] {
            let i = t.find(name).unwrap();
            assert_eq!(t.remove(i).name, name);
            assert!(t.find(name).is_none());
            t.check();
        }
        assert_eq!(t.len(), 26);
        while t.len() > 0 {
            t.remove(t.len() / 2);
            t.check();
        }
    }

    #[test]
    fn evicts_the_oldest_gone() {
        let mut rng = SwimRng::from_seed_u64(5);
        let mut t = Membership::new(rng.hash_state());
        for i in 0..10 {
            t.insert(member(i, if i == 4 || i == 6 { State::Dead } else { State::Alive }), &mut rng);
        }
        assert_eq!(t.evict_oldest_gone().unwrap().addr, 4);
        assert_eq!(t.evict_oldest_gone().unwrap().addr, 6);
        assert!(t.evict_oldest_gone().is_none());
        t.check();
    }

    #[test]
    fn sample_is_distinct_and_filtered() {
        let mut rng = SwimRng::from_seed_u64(6);
        let mut t = Membership::new(rng.hash_state());
        for i in 0..20 {
            t.insert(member(i, State::Alive), &mut rng);
        }
        let mut out = Vec::new();
        t.sample(&mut rng, 5, &mut out, |m| m.addr % 2 == 0);
        assert_eq!(out.len(), 5);
        for (a, i) in out.iter().enumerate() {
            assert_eq!(t.get(*i).member.addr % 2, 0);
            assert!(!out[a + 1..].contains(i));
        }
        t.sample(&mut rng, 5, &mut out, |_| false);
        assert!(out.is_empty());
    }
}
