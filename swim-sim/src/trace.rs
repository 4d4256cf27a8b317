//! What the engine records in the trace digest, one typed record per thing that happened.
//!
//! [`TraceRecord::feed`] is the only place that turns a record into the words the
//! [`Digest`] mixes in. The words (and their order) are part of the golden digests in
//! `tests/golden/digests.txt`: changing them changes every digest, so a change here is a
//! deliberate change of the trace format and regenerates that file.

use swim_core::{Event, Instant};

use crate::digest::Digest;

/// One thing that happened in a run, as the digest records it.
#[derive(Clone, Copy, Debug)]
pub enum TraceRecord<'a> {
    /// Member `from` sent `bytes` to `to` (as a stream if `stream`).
    Transmit {
        /// When.
        at: Instant,
        /// Over the reliable stream rather than as a datagram.
        stream: bool,
        /// The sender.
        from: u32,
        /// The destination address.
        to: u32,
        /// What was sent.
        bytes: &'a [u8],
    },
    /// A message from `from` was handed to member `to`.
    Deliver {
        /// When.
        at: Instant,
        /// The sender.
        from: u32,
        /// The receiver.
        to: u32,
    },
    /// The network dropped the packet in slot `packet` on arrival.
    Drop {
        /// The packet's slot.
        packet: u32,
    },
    /// Member `node` was told its stream to `to` failed.
    StreamFailed {
        /// The member.
        node: u32,
        /// The unreachable address.
        to: u32,
    },
    /// Member `node`'s timer fired.
    Timer {
        /// The member.
        node: u32,
    },
    /// Member `node` emitted `event`; `target` is the index of the member it is about, when it
    /// is about a member of the cluster.
    Event {
        /// The member that emitted it.
        node: u32,
        /// The event.
        event: &'a Event<u32>,
        /// The member it is about, as a node index.
        target: Option<u32>,
    },
    /// Scheduled fault action number `index` was applied.
    Fault {
        /// Its index in the expanded schedule.
        index: usize,
    },
    /// Member `node` started a process at `incarnation`.
    Start {
        /// The member.
        node: u32,
        /// Its first incarnation.
        incarnation: u32,
    },
    /// Member `node`'s process stopped.
    Stop {
        /// The member.
        node: u32,
    },
}

/// The tag of an event kind in the digest (with, for a few kinds, a field).
fn event_tag(e: &Event<u32>) -> u64 {
    match e {
        Event::MemberJoined(_) => 1,
        Event::MemberUpdated(_) => 2,
        Event::MemberSuspected { .. } => 3,
        Event::MemberFailed(_) => 4,
        Event::MemberLeft(_) => 5,
        Event::MemberAlive(_) => 6,
        Event::MemberRemoved(_) => 7,
        Event::AddressConflict { .. } => 8,
        Event::UserMessage { .. } => 9,
        Event::UserBroadcast { .. } => 10,
        Event::HealthChanged { score } => 11 | u64::from(*score) << 8,
        Event::JoinCompleted { reached, .. } => 12 | (*reached as u64) << 8,
        Event::LeaveCompleted => 13,
        Event::JoinRetrying { attempt, .. } => 14 | u64::from(*attempt) << 8,
        Event::JoinGaveUp { attempts, .. } => 15 | u64::from(*attempts) << 8,
        Event::Lagged { members, .. } => 16 | (members.len() as u64) << 8,
        Event::MemberRefused { .. } => 17,
        Event::MergeRefused { .. } => 18,
        Event::JoinRefused { .. } => 19,
        Event::MemberHeldDown(_) => 20,
        Event::MemberReadmitted(_) => 21,
        Event::PingCompleted { rtt, .. } => 22 | u64::from(rtt.is_some()) << 8,
    }
}

/// The member a membership event is about.
pub fn event_member(e: &Event<u32>) -> Option<&swim_core::Member<u32>> {
    e.member()
}

/// Kinds of records that carry no field of their own to tell them apart.
const FAULT: u64 = 0xfa;
const START: u64 = 0x57a7;
const STOP: u64 = 0xc4a5;
const TIMER: u64 = 0x7173;
const DROP: u64 = 0xd0;
const STREAM_FAILED: u64 = 0x5f;

fn pair(a: u32, b: u32) -> u64 {
    u64::from(a) << 32 | u64::from(b)
}

impl TraceRecord<'_> {
    /// Mix this record into `digest`.
    pub fn feed(&self, digest: &mut Digest) {
        match *self {
            TraceRecord::Transmit { at, stream, from, to, bytes } => {
                digest.u64(at.as_nanos() ^ u64::from(stream));
                digest.u64(pair(from, to));
                digest.bytes(bytes);
            }
            TraceRecord::Deliver { at, from, to } => {
                digest.u64(at.as_nanos());
                digest.u64(pair(from, to));
            }
            TraceRecord::Drop { packet } => {
                digest.u64(DROP);
                digest.u64(u64::from(packet));
            }
            TraceRecord::StreamFailed { node, to } => {
                digest.u64(STREAM_FAILED);
                digest.u64(pair(node, to));
            }
            TraceRecord::Timer { node } => {
                digest.u64(TIMER);
                digest.u64(u64::from(node));
            }
            TraceRecord::Event { node, event, target } => {
                digest.u64(event_tag(event) << 32 | u64::from(node));
                if let (Some(t), Some(m)) = (target, event_member(event)) {
                    digest.u64(pair(t, m.incarnation));
                }
            }
            TraceRecord::Fault { index } => {
                digest.u64(FAULT);
                digest.u64(index as u64);
            }
            TraceRecord::Start { node, incarnation } => {
                digest.u64(START);
                digest.u64(pair(node, incarnation));
            }
            TraceRecord::Stop { node } => {
                digest.u64(STOP);
                digest.u64(u64::from(node));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of(records: &[TraceRecord<'_>]) -> u64 {
        let mut d = Digest::default();
        for r in records {
            r.feed(&mut d);
        }
        d.value()
    }

    #[test]
    fn records_feed_the_words_the_golden_digests_were_taken_with() {
        // The words each record fed before it was typed, written out by hand.
        let mut d = Digest::default();
        d.u64(5_000 ^ 1);
        d.u64(3 << 32 | 4);
        d.bytes(b"abc");
        d.u64(0x7173);
        d.u64(9);
        d.u64(11 << 32 | 2 | 6 << 40);
        d.u64(0x57a7);
        d.u64(7 << 32 | 1);
        let transmit =
            TraceRecord::Transmit { at: Instant::from_nanos(5_000), stream: true, from: 3, to: 4, bytes: b"abc" };
        let event = Event::HealthChanged { score: 6 };
        let records =
            [transmit, TraceRecord::Timer { node: 9 }, TraceRecord::Event { node: 2, event: &event, target: None }];
        let start = TraceRecord::Start { node: 7, incarnation: 1 };
        assert_eq!(digest_of(&[records[0], records[1], records[2], start]), d.value());
    }

    #[test]
    fn a_member_event_feeds_its_target_only_when_known() {
        let m = swim_core::Member {
            name: "node-5".into(),
            addr: 5u32,
            meta: swim_core::Bytes::new(),
            incarnation: 3,
            state: swim_core::State::Alive,
            state_changed: Instant::ZERO,
        };
        let e = Event::MemberJoined(m);
        let mut d = Digest::default();
        d.u64(1 << 32 | 2);
        d.u64(5 << 32 | 3);
        assert_eq!(digest_of(&[TraceRecord::Event { node: 2, event: &e, target: Some(5) }]), d.value());
        let mut d = Digest::default();
        d.u64(1 << 32 | 2);
        assert_eq!(digest_of(&[TraceRecord::Event { node: 2, event: &e, target: None }]), d.value());
    }
}
