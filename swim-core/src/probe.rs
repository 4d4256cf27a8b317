//! The probe cycle: ping, ack, indirect probe, nack bookkeeping, relaying ping-reqs.
//!
//! One probe is in flight at a time. It starts with a direct ping; if no ack
//! arrives within the probe timeout, `indirect_checks` helpers are sent a
//! ping-req asking them to ping the target and relay its ack (the indirect
//! probe), and (with Lifeguard's nack) to say so if the target stays silent. If
//! nothing acks by the end of the probe interval, the probe failed: the target
//! becomes suspect and the local health score rises by the nacks that did not
//! come.
//!
//! A helper keeps a [`Relay`] per ping-req until the target acks (the ack is
//! relayed) or the relay expires; its nack goes out when the nack timeout
//! passes first.
//!
//! [`Prober`] owns all of that state (the probe in flight, the relays, the
//! sequence numbers, the reconnect ping in flight) and answers the hub with
//! decisions ([`ProbeDue`], [`AckFor`]); the hub (`swim.rs`) turns them into
//! transmits, claims and events.

use alloc::vec::Vec;

use core::time::Duration;

use crate::config::Config;
use crate::event::PingId;
use crate::hooks::ProbePath;
use crate::member::{Address, Member, Name, State};
use crate::membership::Membership;
use crate::rng::SwimRng;
use crate::time::Instant;

/// What a probe timer asks of the hub.
#[derive(Debug)]
pub(crate) enum ProbeDue<A> {
    /// The direct phase ended without an ack: send ping-reqs (see [`Prober::choose_helpers`]).
    AskHelpers,
    /// The probe ended without an ack: suspect its target, raise the health score.
    Failed(InFlight<A>),
}

/// Whom an ack is for.
#[derive(Debug)]
pub(crate) enum AckFor<A> {
    /// The probe in flight (now over): its target, the round-trip time and the path.
    Probe { target: Name, addr: A, rtt: Duration, path: ProbePath },
    /// A ping of `Swim::ping` (now over).
    Ping { ping: UserPing<A>, rtt: Duration },
    /// A relay: send `requester` an ack with its own sequence number.
    Relay {
        /// Who sent the ping-req.
        requester: A,
        /// Their sequence number.
        requester_seq: u32,
        /// The protocol version their ping-req came at (the answer goes at it too).
        version: u8,
    },
    /// The reconnect ping to a dead member at this address: it answered.
    Reconnect(A),
    /// Nothing waits for it any more.
    Stale,
}

/// The prober: the probe in flight, the relays served for others, the reconnect ping in
/// flight and the sequence numbers they all draw from. Bounded by `limits.max_relays`.
#[derive(Debug)]
pub(crate) struct Prober<A> {
    next_seq: u32,
    probe: Option<InFlight<A>>,
    relays: Relays<(A, u8)>,
    /// The reconnect pings of the last reconnect tick: (sequence number, address), at most
    /// `push_pull::RECONNECT_FANOUT`; a new tick replaces them.
    reconnect: Vec<(u32, A)>,
    /// The application's pings in flight, at most `max_pings`, in the order sent.
    pings: Vec<UserPing<A>>,
    max_pings: usize,
}

/// A ping of `Swim::ping` or `Swim::ping_addr` in flight.
#[derive(Clone, Debug)]
pub(crate) struct UserPing<A> {
    pub id: PingId,
    pub seq: u32,
    /// The member pinged, `None` for a bare address.
    pub name: Option<Name>,
    pub addr: A,
    pub sent: Instant,
    /// When it times out.
    pub deadline: Instant,
}

impl<A: Address> Prober<A> {
    /// A prober with nothing in flight, serving at most `max_relays` ping-reqs and sending
    /// at most `max_pings` application pings at a time.
    pub fn new(max_relays: usize, max_pings: usize) -> Self {
        let relays = Relays::new(max_relays);
        Prober { next_seq: 0, probe: None, relays, reconnect: Vec::new(), pings: Vec::new(), max_pings }
    }

    /// The next sequence number (pings and ping-reqs share them).
    pub fn next_seq(&mut self) -> u32 {
        self.next_seq = self.next_seq.wrapping_add(1);
        self.next_seq
    }

    /// Start a probe of `target` (at `addr`, `incarnation`) at `now`: the direct phase ends
    /// at `ack_deadline`, the probe at `end`. Returns the ping's sequence number.
    pub fn start(
        &mut self,
        now: Instant,
        target: Name,
        addr: A,
        incarnation: u32,
        ack_deadline: Instant,
        end: Instant,
    ) -> u32 {
        let seq = self.next_seq();
        self.probe = Some(InFlight {
            seq,
            target,
            addr,
            incarnation,
            sent: now,
            indirect_at: None,
            ack_deadline: Some(ack_deadline),
            end,
            expected_nacks: 0,
            nacks: 0,
        });
        seq
    }

    /// Forget the probe in flight (the member is leaving).
    pub fn stop(&mut self) {
        self.probe = None;
    }

    /// The probe timers at `now`: at most one decision per call.
    pub fn poll_due(&mut self, now: Instant) -> Option<ProbeDue<A>> {
        let p = self.probe.as_mut()?;
        if p.ack_deadline.is_some_and(|d| d <= now) {
            p.ack_deadline = None;
            p.indirect_at = Some(now);
            if p.end > now {
                return Some(ProbeDue::AskHelpers);
            }
        }
        if self.probe.as_ref().is_some_and(|p| p.end <= now)
            && let Some(p) = self.probe.take()
        {
            return Some(ProbeDue::Failed(p));
        }
        None
    }

    /// Choose up to `k` alive helpers other than the target into `helpers` and expect a nack
    /// from each if `nack`. Returns the probe's (sequence number, target, target address) for
    /// the ping-reqs, or `None` if no probe is in flight.
    pub fn choose_helpers(
        &mut self,
        members: &Membership<A>,
        rng: &mut SwimRng,
        k: usize,
        nack: bool,
        helpers: &mut Vec<usize>,
    ) -> Option<(u32, Name, A)> {
        let target = self.probe.as_ref()?.target.clone();
        // A helper must share a protocol version with the target, or its ping cannot be read.
        let reads = members.by_name(&target).map(|r| r.peer.versions.protocol);
        members.sample_records(rng, k, helpers, |r| {
            let m = &r.member;
            m.state == State::Alive && m.name != target && reads.is_none_or(|t| t.overlaps(&r.peer.versions.protocol))
        });
        let p = self.probe.as_mut()?;
        p.expected_nacks = if nack { helpers.len() as u32 } else { 0 };
        Some((p.seq, target, p.addr.clone()))
    }

    /// An ack with `seq` arrived from `from` at `now`: whom it is for.
    pub fn on_ack(&mut self, now: Instant, from: &A, seq: u32) -> AckFor<A> {
        if self.probe.as_ref().is_some_and(|p| p.seq == seq)
            && let Some(p) = self.probe.take()
        {
            // An ack from anywhere but the target's address was relayed by a helper.
            let (path, since) = if *from == p.addr {
                (ProbePath::Direct, p.sent)
            } else {
                (ProbePath::Indirect, p.indirect_at.unwrap_or(p.sent))
            };
            return AckFor::Probe { target: p.target, addr: p.addr, rtt: now - since, path };
        }
        if let Some(k) = self.pings.iter().position(|p| p.seq == seq) {
            let ping = self.pings.remove(k);
            let rtt = now - ping.sent;
            return AckFor::Ping { ping, rtt };
        }
        if let Some(r) = self.relays.take(seq) {
            let (requester, version) = r.requester;
            return AckFor::Relay { requester, requester_seq: r.requester_seq, version };
        }
        if let Some(k) = self.reconnect.iter().position(|(s, _)| *s == seq) {
            return AckFor::Reconnect(self.reconnect.swap_remove(k).1);
        }
        AckFor::Stale
    }

    /// A nack with `seq` arrived; true if it counted (it is for the probe in flight, whose
    /// indirect phase has begun, and fewer than the expected nacks came so far).
    pub fn on_nack(&mut self, seq: u32) -> bool {
        match &mut self.probe {
            Some(p) if p.seq == seq && p.ack_deadline.is_none() => p.record_nack(),
            _ => false,
        }
    }

    /// Serve a ping-req from `requester` (its sequence number `requester_seq`, arrived at
    /// protocol `version`): returns the sequence number of our ping to the target, or `None` if
    /// `max_relays` are in progress. A nack is due at `nack_at` if asked for; the relay is
    /// forgotten at `expires`.
    pub fn relay(
        &mut self,
        requester: A,
        version: u8,
        requester_seq: u32,
        nack_at: Option<Instant>,
        expires: Instant,
    ) -> Option<u32> {
        let seq = self.next_seq();
        let relay = Relay { local_seq: seq, requester: (requester, version), requester_seq, nack_at, expires };
        self.relays.add(relay).then_some(seq)
    }

    /// Hand every nack due by `now` to `nack` (requester, the version its ping-req came at,
    /// requester's seq), drop expired relays.
    pub fn relay_timers(&mut self, now: Instant, mut nack: impl FnMut(&A, u8, u32)) {
        self.relays.expire(now, |(a, v), seq| nack(a, *v, seq));
    }

    /// A reconnect tick begins: pings of the previous one that were not answered are forgotten.
    pub fn begin_reconnect(&mut self) {
        self.reconnect.clear();
    }

    /// Ping dead member at `to` to heal a partition: returns the ping's sequence number.
    pub fn start_reconnect(&mut self, to: A) -> u32 {
        let seq = self.next_seq();
        self.reconnect.push((seq, to));
        seq
    }

    /// Send an application ping (`id`) to `addr` (member `name`, if any) at `now`, timing
    /// out at `deadline`: its sequence number, or `None` if `max_pings` are in flight.
    pub fn start_ping(
        &mut self,
        id: PingId,
        name: Option<Name>,
        addr: A,
        now: Instant,
        deadline: Instant,
    ) -> Option<u32> {
        if self.pings.len() >= self.max_pings {
            return None;
        }
        let seq = self.next_seq();
        self.pings.push(UserPing { id, seq, name, addr, sent: now, deadline });
        Some(seq)
    }

    /// Hand every application ping timed out by `now` to `timed_out`, in the order sent.
    pub fn expire_pings(&mut self, now: Instant, mut timed_out: impl FnMut(UserPing<A>)) {
        if !self.pings.iter().any(|p| p.deadline <= now) {
            return;
        }
        let (expired, live): (Vec<_>, Vec<_>) = self.pings.drain(..).partition(|p| p.deadline <= now);
        self.pings = live;
        expired.into_iter().for_each(&mut timed_out);
    }

    /// Relays in progress.
    pub fn relays(&self) -> usize {
        self.relays.len()
    }

    /// Heap bytes held for relays and pings.
    pub fn heap_bytes(&self) -> usize {
        self.relays.len() * core::mem::size_of::<Relay<(A, u8)>>()
            + self.pings.capacity() * core::mem::size_of::<UserPing<A>>()
    }

    /// The earliest probe or relay deadline.
    pub fn deadline(&self) -> Option<Instant> {
        let probe = self.probe.as_ref().map(InFlight::deadline);
        let pings = self.pings.iter().map(|p| p.deadline).min();
        [probe, self.relays.deadline(), pings].into_iter().flatten().min()
    }
}

/// The next probe target in the round-robin order, or `None` if no member is alive or
/// suspect. When the order wraps, members gone past their retention are reaped into `removed`
/// (left members after `gossip_to_the_dead_time`; dead ones after `reconnect_timeout` when
/// reconnect is on, else the same) and the order is reshuffled.
pub(crate) fn next_target<A: Address>(
    members: &mut Membership<A>,
    rng: &mut SwimRng,
    config: &Config,
    now: Instant,
    removed: &mut Vec<Member<A>>,
) -> Option<usize> {
    let left_after = config.gossip_to_the_dead_time;
    let dead_after = if config.reconnect_interval.is_some() { config.reconnect_timeout } else { left_after };
    let expired = |m: &Member<A>| {
        let age = now - m.state_changed;
        match m.state {
            State::Left => age >= left_after,
            State::Dead => age >= dead_after,
            _ => false,
        }
    };
    members.next_probe_target(rng, expired, removed)
}

/// The probe in flight.
#[derive(Clone, Debug)]
pub(crate) struct InFlight<A> {
    pub seq: u32,
    pub target: Name,
    pub addr: A,
    /// The target's incarnation when the probe started; a failure suspects this incarnation.
    pub incarnation: u32,
    /// When the probe started (its ping was queued).
    pub sent: Instant,
    /// When the indirect phase started (ping-reqs queued), if it has.
    pub indirect_at: Option<Instant>,
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

/// A ping-req served for another member.
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
            sent: Instant::ZERO,
            indirect_at: None,
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
