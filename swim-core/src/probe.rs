//! The probe cycle: ping, ack, indirect probe, nack bookkeeping.
//!
//! One probe is in flight at a time. It starts with a direct ping; if no ack
//! arrives within the probe timeout, `indirect_checks` helpers are asked to
//! ping the target and relay its ack, and (with Lifeguard's nack) to say so if
//! the target stays silent. If nothing acks by the end of the probe interval,
//! the probe failed: the target becomes suspect and the local health score
//! rises by the nacks that did not come.
//!
//! A helper keeps a [`Relay`] per request until the target acks (the ack is
//! relayed) or the relay expires; its nack goes out when the nack timeout
//! passes first.

use alloc::vec::Vec;

use crate::member::Name;
use crate::time::Instant;

/// The probe in flight.
#[derive(Clone, Debug)]
pub(crate) struct InFlight<A> {
    pub seq: u32,
    pub target: Name,
    pub addr: A,
    /// The target's incarnation when the probe started; a failure suspects this incarnation.
    pub incarnation: u32,
    /// When the direct phase ends and indirect probes go out; `None` once they have.
    pub ack_deadline: Option<Instant>,
    /// When the probe fails if nothing acked.
    pub end: Instant,
    /// Nacks the helpers asked will send if the target is silent (0 without nack).
    pub expected_nacks: u32,
    /// Nacks received.
    pub nacks: u32,
}

impl<A> InFlight<A> {
    /// The local-health change for a failed probe: the missing nacks when nack-capable helpers
    /// were asked, otherwise 1.
    pub fn failure_penalty(&self) -> i64 {
        if self.expected_nacks > 0 { i64::from(self.expected_nacks - self.nacks.min(self.expected_nacks)) } else { 1 }
    }

    /// Count a nack; returns false if none more were expected.
    pub fn record_nack(&mut self) -> bool {
        if self.nacks < self.expected_nacks {
            self.nacks += 1;
            true
        } else {
            false
        }
    }

    /// The earliest pending deadline of this probe.
    pub fn deadline(&self) -> Instant {
        match self.ack_deadline {
            Some(d) if d < self.end => d,
            _ => self.end,
        }
    }
}

/// An indirect probe served for another member.
#[derive(Clone, Debug)]
pub(crate) struct Relay<A> {
    /// The sequence number of our ping to the target.
    pub local_seq: u32,
    /// Who asked.
    pub requester: A,
    /// Their sequence number, echoed in the relayed ack or the nack.
    pub requester_seq: u32,
    /// When to nack if the target has not acked; `None` if no nack was asked or it was sent.
    pub nack_at: Option<Instant>,
    /// When to forget the relay.
    pub expires: Instant,
}

/// The relays in progress, at most `max`.
#[derive(Debug)]
pub(crate) struct Relays<A> {
    list: Vec<Relay<A>>,
    max: usize,
}

impl<A> Relays<A> {
    pub fn new(max: usize) -> Self {
        Relays { list: Vec::new(), max }
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Add a relay; false if `max` are in progress.
    pub fn add(&mut self, relay: Relay<A>) -> bool {
        if self.list.len() >= self.max {
            return false;
        }
        self.list.push(relay);
        true
    }

    /// Remove and return the relay our ping `seq` belongs to.
    pub fn take(&mut self, seq: u32) -> Option<Relay<A>> {
        let i = self.list.iter().position(|r| r.local_seq == seq)?;
        Some(self.list.swap_remove(i))
    }

    /// Hand every nack due by `now` to `nack` (requester, requester's seq), and drop expired
    /// relays. Keeps relays in insertion order for determinism.
    pub fn expire(&mut self, now: Instant, mut nack: impl FnMut(&A, u32)) {
        for r in &mut self.list {
            if r.nack_at.is_some_and(|t| t <= now) {
                r.nack_at = None;
                nack(&r.requester, r.requester_seq);
            }
        }
        self.list.retain(|r| r.expires > now);
    }

    /// The earliest nack or expiry.
    pub fn deadline(&self) -> Option<Instant> {
        self.list.iter().map(|r| r.nack_at.map_or(r.expires, |n| n.min(r.expires))).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn flight(expected: u32) -> InFlight<u32> {
        InFlight {
            seq: 1,
            target: Name::from("t"),
            addr: 0,
            incarnation: 0,
            ack_deadline: None,
            end: Instant::ZERO,
            expected_nacks: expected,
            nacks: 0,
        }
    }

    #[test]
    fn failure_penalty_counts_missing_nacks() {
        assert_eq!(flight(0).failure_penalty(), 1, "no nack-capable helper: +1");
        let mut f = flight(3);
        assert_eq!(f.failure_penalty(), 3);
        assert!(f.record_nack());
        assert!(f.record_nack());
        assert_eq!(f.failure_penalty(), 1);
        assert!(f.record_nack());
        assert_eq!(f.failure_penalty(), 0, "every helper nacked: the target is down, not us");
        assert!(!f.record_nack(), "extra nacks are not counted");
        assert_eq!(f.failure_penalty(), 0);
    }

    #[test]
    fn relays_nack_then_expire() {
        let mut r: Relays<u32> = Relays::new(2);
        let t = Instant::from_millis;
        assert!(r.add(Relay {
            local_seq: 10,
            requester: 1,
            requester_seq: 100,
            nack_at: Some(t(250)),
            expires: t(1000)
        }));
        assert!(r.add(Relay { local_seq: 11, requester: 2, requester_seq: 200, nack_at: None, expires: t(1000) }));
        assert!(!r.add(Relay { local_seq: 12, requester: 3, requester_seq: 300, nack_at: None, expires: t(1000) }));
        assert_eq!(r.deadline(), Some(t(250)));
        let mut nacks = vec![];
        r.expire(t(300), |a, s| nacks.push((*a, s)));
        assert_eq!(nacks, vec![(1, 100)]);
        assert_eq!(r.deadline(), Some(t(1000)));
        assert_eq!(r.take(11).map(|x| x.requester_seq), Some(200));
        assert!(r.take(11).is_none());
        r.expire(t(1000), |_, _| panic!("no second nack"));
        assert_eq!(r.len(), 0);
    }
}
