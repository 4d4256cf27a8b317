//! Counters. Every drop the core makes is counted here; nothing is dropped silently.

use crate::error::DecodeError;

/// Rejected inputs, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeErrorCounts([u64; DecodeError::ALL.len()]);

impl DecodeErrorCounts {
    /// How many inputs were rejected with `kind`.
    pub fn get(&self, kind: DecodeError) -> u64 {
        self.0[kind.index()]
    }

    /// Every kind with its count, in [`DecodeError::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (DecodeError, u64)> + '_ {
        DecodeError::ALL.iter().map(|k| (*k, self.0[k.index()]))
    }

    /// All rejected inputs.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    pub(crate) fn record(&mut self, kind: DecodeError) {
        self.0[kind.index()] += 1;
    }
}

/// Counters since the core was built. All monotonic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams handed to `handle_datagram`.
    pub packets_in: u64,
    /// Datagrams returned by `poll_transmit`.
    pub packets_out: u64,
    /// Bytes of those inbound datagrams.
    pub bytes_in: u64,
    /// Bytes of those outbound datagrams.
    pub bytes_out: u64,
    /// Stream messages handed to `handle_stream`.
    pub streams_in: u64,
    /// Stream messages returned by `poll_transmit`.
    pub streams_out: u64,
    /// Bytes of inbound stream messages.
    pub stream_bytes_in: u64,
    /// Bytes of outbound stream messages (as sent: compressed ones at their compressed size).
    pub stream_bytes_out: u64,
    /// Outbound stream messages sent compressed (`Config::compression`; also counted in
    /// `streams_out`).
    pub streams_compressed: u64,
    /// Rejected inputs by kind.
    pub decode_errors: DecodeErrorCounts,
    /// Probes started (direct pings to a probe target).
    pub probes: u64,
    /// Probes that ended without an ack (each one suspects its target).
    pub probe_failures: u64,
    /// Ping-reqs this member sent to helpers (the indirect step of its probes).
    pub ping_reqs_sent: u64,
    /// Ping-reqs this member served for others (relays started).
    pub relays: u64,
    /// Acks this member relayed back to the member that sent the ping-req.
    pub acks_relayed: u64,
    /// Nacks sent as a helper.
    pub nacks_sent: u64,
    /// Nacks received as a prober.
    pub nacks_received: u64,
    /// Acks that matched no probe or relay (late or forged).
    pub stale_acks: u64,
    /// Suspicions started here (by a failed probe or by gossip).
    pub suspicions: u64,
    /// Confirmations that shortened a suspicion timeout.
    pub suspicion_confirmations: u64,
    /// Members this member declared dead because their suspicion timed out here.
    pub deaths_declared: u64,
    /// Times this member refuted a suspicion or death notice about itself.
    pub refutations: u64,
    /// Push-pull exchanges started (periodic, join and reconnect).
    pub push_pulls: u64,
    /// Push-pull states merged (requests and replies).
    pub push_pull_merges: u64,
    /// Push-pull states refused whole by `Hooks::admit_merge` (nothing of them applied; a
    /// refused join request is answered with a refusal).
    pub merges_refused: u64,
    /// Join refusals received from seeds (each one in time for its join is reported as
    /// `Event::JoinRefused`; a late one is otherwise ignored).
    pub join_refusals: u64,
    /// Local application states not sent because they were larger than
    /// `limits.max_app_state` (the push-pull went without one).
    pub app_state_refused: u64,
    /// Reconnect pings sent to dead members to heal partitions (each one answered is followed
    /// by a push-pull).
    pub reconnects: u64,
    /// Join attempts retried because an earlier attempt reached no seed (`Config::join_retry`).
    pub join_retries: u64,
    /// User messages received.
    pub user_messages: u64,
    /// User broadcasts delivered (first copy of each).
    pub user_broadcasts: u64,
    /// Duplicate user broadcasts ignored.
    pub duplicate_broadcasts: u64,
    /// User broadcasts seen for the first time that `Hooks::on_broadcast` judged stale:
    /// neither delivered nor relayed.
    pub user_broadcasts_stale: u64,
    /// Membership updates dropped because the membership piggyback queue was full
    /// (`limits.broadcast_queue_depth`).
    pub membership_updates_dropped: u64,
    /// User broadcasts dropped because the user piggyback queue was full
    /// (`limits.user_broadcast_queue_depth`).
    pub user_broadcasts_dropped: u64,
    /// Transmits dropped because the transmit queue was full.
    pub transmits_dropped: u64,
    /// Events dropped because the event queue was full (`limits.max_pending_events`):
    /// membership changes replaced by a lag notice, and other events, oldest first.
    pub events_dropped: u64,
    /// Lag notices ([`crate::Event::Lagged`]) handed out: times the caller fell
    /// `limits.max_pending_events` behind with membership changes queued.
    pub event_lags: u64,
    /// New members refused because the member table was full of live members.
    pub members_rejected: u64,
    /// Alive claims refused by `Hooks::admit_member` or `Hooks::allow_address` (and merged
    /// member states whose address `Hooks::allow_address` refused): not stored, not gossiped.
    pub members_refused: u64,
    /// Alive claims refused because the member's protocol or application version range shares
    /// no version with this member's (`Config::versions`); each is also an
    /// `Event::MemberRefused`. Packets of a protocol version this member does not read are
    /// counted in `decode_errors` (`UnsupportedVersion`) instead.
    pub versions_refused: u64,
    /// Indirect-probe requests refused because `limits.max_relays` were in progress.
    pub relays_dropped: u64,
    /// Gossip about names this member has never heard of or already forgot, ignored.
    pub unknown_member_updates: u64,
    /// Updates ignored because they were older than what this member holds.
    pub stale_updates: u64,
    /// Packets without a label let through the label check because
    /// `Config::accept_unlabelled` is on while a label is rolled out. Once it stops rising on
    /// every member, every member sends the label and `accept_unlabelled` can be turned off.
    pub unlabelled_accepted: u64,
    /// Memberlist profile: Go memberlist's TCP fallback pings answered with an ack on their
    /// connection.
    pub tcp_pings_answered: u64,
    /// Memberlist profile: TCP fallback pings sent to probe targets whose direct ping went
    /// unanswered (`Config::tcp_fallback_ping`).
    pub tcp_pings_sent: u64,
    /// Memberlist profile: TCP fallback pings answered with an ack.
    pub tcp_ping_acks: u64,
    /// Memberlist profile: push-pulls started with a member we held suspect because it acked
    /// our ping itself (memberlist ignores a suspicion older than its incarnation, so its
    /// state is asked for instead; also counted in `push_pulls`).
    pub suspects_resynced: u64,
    /// Memberlist profile: push-pull replies and join refusals dropped because the connection
    /// their request came on is no longer known (more than
    /// `wire::memberlist::profile::MAX_OPEN_EXCHANGES` open, or it came through
    /// `handle_stream`, which names no connection).
    pub replies_unroutable: u64,
    /// Probes that ended with an ack straight from their target ([`crate::ProbePath::Direct`]).
    pub probes_direct: u64,
    /// Probes that ended with an ack relayed by a helper ([`crate::ProbePath::Indirect`]).
    pub probes_indirect: u64,
    /// Extended acks sent (with this member's ack payload or coordinate).
    pub extended_acks_sent: u64,
    /// Ack payloads not sent because `Hooks::ack_payload` returned more than
    /// `limits.max_ack_payload` bytes (the ack went without it).
    pub ack_payloads_refused: u64,
    /// Pings sent by `Swim::ping` and `Swim::ping_addr`.
    pub pings_sent: u64,
    /// Of those, pings that timed out.
    pub pings_timed_out: u64,
    /// Coordinate updates applied (`Config::coordinates`).
    pub coordinate_updates: u64,
    /// Coordinates (or RTT samples) from the network refused: wrong dimensionality, not
    /// finite, out of range, or an RTT of zero or above `coordinates::MAX_RTT`. The ack itself
    /// still counted; the local coordinate was not touched.
    pub coordinates_rejected: u64,
    /// Times the local coordinate was reset to the origin because an update made it
    /// non-finite.
    pub coordinate_resets: u64,
    /// Members held down by flap damping (`Config::damping`); each is also an
    /// `Event::MemberHeldDown`.
    pub members_held_down: u64,
    /// Held-down members readmitted; each is also an `Event::MemberReadmitted`.
    pub members_readmitted: u64,
    /// Accusations by a member held down here, discounted: its confirmations of a suspicion
    /// are not counted, and its death notice about a member alive here counts only as a
    /// suspicion.
    pub accusations_discounted: u64,
}
