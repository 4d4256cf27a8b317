//! The event queue: what happens next, in virtual time.
//!
//! A binary min-heap of small fixed-size entries ordered by `(time, sequence)`. The sequence
//! number is the insertion order, so two things due at the same instant happen in the order
//! they were scheduled: ties never depend on anything but the run itself. Packet bytes live in
//! the [`crate::network`] slab; an entry only names them.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use swim_core::Instant;

/// Something that happens at a virtual instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ev {
    /// A packet reaches its destination's network interface.
    Arrive(u32),
    /// A CPU-starved node gets round to handling a packet.
    Process(u32),
    /// A node's timer (valid only if `generation` is still the node's timer generation).
    Timer {
        /// The node.
        node: u32,
        /// The node's timer generation when this was scheduled.
        generation: u32,
    },
    /// The fault schedule's entry with this index.
    Fault(u32),
    /// A stream from `node` (in life `life`) to `to` could not be delivered.
    StreamFailed {
        /// The sender.
        node: u32,
        /// The sender's life when it sent.
        life: u32,
        /// The destination.
        to: u32,
    },
    /// Memberlist profile: the request on exchange `conn` has had no reply within its
    /// requester's `stream_timeout` (see [`crate::connections`]).
    RequestTimeout {
        /// The exchange's connection number.
        conn: u64,
    },
    /// Periodic metrics sample.
    Sample,
    /// The warm-up ends: traffic counters start.
    Warmup,
    /// A node that left (or whose leave timed out) stops, in life `life`.
    Stop {
        /// The node.
        node: u32,
        /// Its life when the stop was scheduled.
        life: u32,
    },
    /// Retry a join that reached no seed (life `life`).
    RetryJoin {
        /// The node.
        node: u32,
        /// Its life when the retry was scheduled.
        life: u32,
    },
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    at: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    // Reversed: BinaryHeap is a max-heap and we want the earliest first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// The pending events of a run.
#[derive(Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl EventQueue {
    /// Schedule `ev` at `at`.
    #[inline]
    pub fn push(&mut self, at: Instant, ev: Ev) {
        self.seq += 1;
        self.heap.push(Entry { at: at.as_nanos(), seq: self.seq, ev });
    }

    /// The time of the next event.
    #[inline]
    pub fn peek_time(&self) -> Option<Instant> {
        self.heap.peek().map(|e| Instant::from_nanos(e.at))
    }

    /// Take the next event.
    #[inline]
    pub fn pop(&mut self) -> Option<(Instant, Ev)> {
        self.heap.pop().map(|e| (Instant::from_nanos(e.at), e.ev))
    }

    /// Events pending.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Events scheduled since the start.
    pub fn scheduled(&self) -> u64 {
        self.seq
    }

    /// Approximate heap bytes.
    pub fn heap_bytes(&self) -> usize {
        self.heap.capacity() * std::mem::size_of::<Entry>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_ties_in_insertion_order() {
        let mut q = EventQueue::default();
        q.push(Instant::from_millis(5), Ev::Sample);
        q.push(Instant::from_millis(1), Ev::Fault(1));
        q.push(Instant::from_millis(1), Ev::Fault(2));
        q.push(Instant::from_millis(3), Ev::Arrive(9));
        let order: Vec<Ev> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec![Ev::Fault(1), Ev::Fault(2), Ev::Arrive(9), Ev::Sample]);
    }
}
