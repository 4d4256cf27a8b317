//! Configuration: every knob, its unit, its bound, and the presets.
//!
//! Start from a preset ([`Config::lan`], [`Config::wan`], [`Config::local`]) and
//! change fields; [`Config::validate`] (called by the constructor) rejects
//! impossible combinations with a [`ConfigError`]. Preset values are
//! hashicorp/memberlist's; knobs memberlist lacks say where their default comes from.

use core::time::Duration;

use bytes::Bytes;

use crate::coordinates::CoordinateConfig;
use crate::error::ConfigError;
use crate::versions::Versions;

/// Protocol configuration. See the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Time between two probes of this member (one target per probe). Scaled by the local
    /// health score (`score + 1`) when [`Lifeguard::awareness`] is on. LAN: 1 s.
    pub probe_interval: Duration,
    /// How long a direct ping waits for its ack before ping-reqs are sent (the indirect probe).
    /// Must be below `probe_interval`. Scaled by the health score when
    /// [`Lifeguard::scale_probe_timeout`] is on. LAN: 500 ms.
    pub probe_timeout: Duration,
    /// Number of members asked to ping an unresponsive target on our behalf (SWIM's `k`).
    /// 0 disables indirect probes. LAN: 3.
    pub indirect_checks: usize,
    /// Each piggybacked update is sent at most `retransmit_mult * ceil(log10(n + 1))` times.
    /// LAN: 4.
    pub retransmit_mult: u32,
    /// Suspicion timeout multiplier (alpha): the minimum suspicion timeout is
    /// `suspicion_mult * max(1, log10(n)) * probe_interval`. LAN: 4.
    pub suspicion_mult: u32,
    /// The maximum suspicion timeout is `suspicion_max_timeout_mult` times the minimum (beta).
    /// Only used with [`Lifeguard::dynamic_suspicion`]. LAN: 6.
    pub suspicion_max_timeout_mult: u32,
    /// Period of full-state push-pull with one random member, scaled up with the cluster size
    /// beyond 32 members (see [`crate::push_pull::push_pull_interval`]). `None` disables periodic
    /// push-pull (joins still use it). LAN: 30 s.
    pub push_pull_interval: Option<Duration>,
    /// Period of the gossip tick that sends queued updates to `gossip_nodes` random members.
    /// LAN: 200 ms.
    pub gossip_interval: Duration,
    /// Fanout of the gossip tick. 0 disables the tick (updates still ride on probes). LAN: 3.
    pub gossip_nodes: usize,
    /// Members that died less than this long ago are still gossip targets, so they can learn
    /// they were declared dead and refute. Left members are removed after this time. LAN: 30 s.
    pub gossip_to_the_dead_time: Duration,
    /// How long a reliable-stream exchange may take; a join whose seed has not answered within
    /// this time counts that seed as unreached. LAN: 10 s.
    pub stream_timeout: Duration,
    /// Largest datagram this member builds, in bytes (the piggyback budget). LAN: 1400.
    pub packet_budget: usize,
    /// A member dead for at least this long may come back under the same name with a new
    /// address. `None` (memberlist's 0) never reclaims a dead member's name; a member that
    /// left gracefully can always be reclaimed.
    pub dead_node_reclaim_time: Option<Duration>,
    /// Partition healing: every `reconnect_interval` the next
    /// [`RECONNECT_FANOUT`](crate::push_pull::RECONNECT_FANOUT) dead members (not ones that
    /// left), round robin, are pinged, and each that answers is sent a push-pull, so two halves
    /// of a split cluster find each other again once the network heals. `None` disables it
    /// (memberlist's behaviour). Default: the push-pull interval.
    pub reconnect_interval: Option<Duration>,
    /// Dead members are kept (and contacted by the reconnect timer) this long, then removed.
    /// Default 24 h, Serf's reconnect timeout. Bounded in count by [`Limits::max_members`].
    pub reconnect_timeout: Duration,
    /// Cluster label, sent in every packet's header; packets with another label (or without
    /// one) are dropped and counted (`DecodeError::LabelMismatch`). With a keyring the label is
    /// authenticated. Empty for none. At most 255 bytes. To roll a label into a running
    /// cluster, see `accept_unlabelled` and `send_unlabelled` (and `Swim::set_label`).
    pub label: Bytes,
    /// Label roll-out switch (memberlist's `SkipInboundLabelCheck`, narrowed): also accept
    /// packets that carry no label at all. Packets with a different non-empty label are still
    /// refused. Meaningless without a `label`. Off by default. While it is on, any unlabelled
    /// sender on the network is accepted (with a keyring, only key holders); each such packet
    /// is counted in `Stats::unlabelled_accepted`.
    ///
    /// A running unlabelled cluster moves to a label in three steps, each finished on every
    /// member before the next starts: (1) set the label with both switches on (still sending
    /// unlabelled, now accepting the label too); (2) turn `send_unlabelled` off (sending the
    /// label, still accepting members not yet switched); (3) turn `accept_unlabelled` off. A
    /// member that is not yet at step 1 refuses labelled packets, hence step 1 before any
    /// member sends the label. Removing a label is the same steps in reverse.
    pub accept_unlabelled: bool,
    /// Label roll-out switch: send packets without the label while accepting it (step 1 of
    /// the roll-out under `accept_unlabelled`). Meaningless without a `label`. Off by default.
    pub send_unlabelled: bool,
    /// Largest local or remote metadata, in bytes. Bound: must fit in one datagram with the
    /// member's name, so at most `packet_budget - 64 - max_name_len`. LAN: 512.
    pub max_metadata_size: usize,
    /// Join until joined: a join that reached none of its seeds is tried again with a
    /// jittered, doubling backoff (see [`JoinRetry`]), until an attempt reaches a seed or a
    /// member at a seed's address is alive here. `None` turns it off: a failed join is then
    /// reported once and the application retries (memberlist's behaviour; Consul's and Serf's
    /// agents grew `retry_join` for it). LAN: from 1 s, doubling up to 30 s, no attempt limit.
    pub join_retry: Option<JoinRetry>,
    /// The protocol and application version ranges this member speaks (see
    /// [`crate::versions`]): it reads envelopes of any version in `protocol.min..=protocol.max`
    /// (others are rejected as `DecodeError::UnsupportedVersion`), sends each known member the
    /// version negotiated from both ranges and everyone else `protocol.min`, and refuses members
    /// whose protocol or application range does not overlap its own (`Stats::versions_refused`).
    /// Each range needs `min <= current <= max`. Default: protocol `1..=1`, application `0..=0`.
    pub versions: Versions,
    /// Compression of stream messages (push-pull states, reliable user messages) with LZ4
    /// ([`crate::wire::compression`]). `Some`: this member advertises that it wants compressed
    /// stream messages (a capability bit of its alive record) and compresses those it sends to
    /// members that advertise it, when they are at least [`Compression::min_size`] bytes and
    /// compressing makes them smaller. `None`: it neither advertises nor compresses. Either way
    /// it reads compressed stream messages (a peer may not have heard yet that it turned
    /// compression off), decompressing at most `limits.max_stream_message_size` bytes. Mixed
    /// clusters work. Default: on, from 1 KiB (see docs/performance.md for the figures).
    pub compression: Option<Compression>,
    /// Vivaldi network coordinates ([`crate::coordinates`]): `Some` keeps a coordinate for
    /// this member, updated from the RTT of every direct probe and the coordinate the target
    /// put in its ack, and the last coordinate heard from each member, in its record (so
    /// [`crate::Swim::estimate_rtt`] works between any two). Costs one coordinate per ack to
    /// and from members that also have them on (see docs/coordinates.md), and one update per
    /// probe. `None` (every preset): off, acks unchanged.
    pub coordinates: Option<CoordinateConfig>,
    /// Receive other members' ack payloads ([`crate::hooks::Hooks::ack_payload`], reported
    /// with each probe's RTT by [`crate::hooks::Hooks::probe_completed`]): this member
    /// advertises [`crate::Capabilities::EXTENDED_ACK`], and members of this version or later
    /// answer its pings with extended acks when they have a payload (or a coordinate) to
    /// send. `coordinates` on implies it. Off in every preset, so that the alive record stays
    /// byte for byte what earlier versions send.
    pub ack_payloads: bool,
    /// Memberlist profile: when a probe's direct ping goes unanswered, also ping the target
    /// over a stream (memberlist's TCP fallback ping; `DisableTcpPings` is its negation), if
    /// the target speaks memberlist protocol 3 or later. An answer counts as the probe's ack.
    /// On in every preset, as in memberlist; swim's own profile never sends it.
    pub tcp_fallback_ping: bool,
    /// Lifeguard's switches.
    pub lifeguard: Lifeguard,
    /// Bounds on every table, queue and buffer.
    pub limits: Limits,
    /// Flap damping ([`crate::damping`]): a member that keeps being declared dead and coming
    /// back, or keeps refuting, is held down (`Event::MemberHeldDown`) until its penalty has
    /// decayed, at most `hold_down` after its last death or refutation. `None` (every preset):
    /// off, plain SWIM's immediate readmission. Bounds: see [`crate::damping::Damping`].
    pub damping: Option<crate::damping::Damping>,
    /// The wire format: swim's own ([`WireProfile::Swim`], every preset) or Go memberlist's
    /// ([`WireProfile::Memberlist`], to share a cluster with Go memberlist members; see
    /// [`Config::memberlist_wire`] and docs/memberlist.md).
    pub wire: WireProfile,
}

/// [`Config::compression`]'s settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compression {
    /// Stream messages smaller than this many bytes (their messages, before compression) are
    /// sent as they are: LZ4 saves little on them. Default 1,024 (a push-pull of about a dozen
    /// members).
    pub min_size: usize,
}

impl Default for Compression {
    fn default() -> Self {
        Compression { min_size: 1024 }
    }
}

/// The backoff of [`Config::join_retry`]. Attempt `k` (the first retry is attempt 2) waits a
/// random time in `[d/2, d)` where `d = min(initial * 2^(k-2), max)`, so members started
/// together do not retry together.
#[derive(Clone, Debug, PartialEq)]
pub struct JoinRetry {
    /// The backoff cap before the first retry (then doubled each time); the wait is drawn from
    /// `[initial/2, initial)`. Must not be zero. LAN: 1 s.
    pub initial: Duration,
    /// The backoff's cap: at least `initial`, at most one hour ([`JoinRetry::MAX_BACKOFF`]).
    /// LAN: 30 s (Consul's `retry_interval`).
    pub max: Duration,
    /// Attempts in all, the first included, before the member gives up and reports
    /// [`crate::Event::JoinGaveUp`] (a retry that found no room in the transmit queue counts
    /// as an attempt). `None`: never give up (LAN). `Some(0)` is refused.
    pub max_attempts: Option<u32>,
}

impl JoinRetry {
    /// The largest allowed [`JoinRetry::max`].
    pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

    /// The backoff cap before attempt `attempt` (2 for the first retry), before jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(2).min(32);
        self.initial.saturating_mul(1u32 << doublings.min(31)).min(self.max)
    }
}

/// Lifeguard (Dadgar, Phillips, Currey 2018). Each component switches on its own; all are on
/// in the presets; all off gives plain SWIM with a fixed suspicion timeout.
#[derive(Clone, Debug, PartialEq)]
pub struct Lifeguard {
    /// Awareness (the paper's Local Health Multiplier): failed probes, missed nacks and
    /// refutations raise the health score in
    /// `0..awareness_max_multiplier`; successful probes lower it. The probe interval is
    /// multiplied by `score + 1`.
    pub awareness: bool,
    /// The score saturates at `awareness_max_multiplier - 1`. Default 8. At least 1.
    pub awareness_max_multiplier: u32,
    /// Also multiply the probe timeout by `score + 1` (the paper does; memberlist does not).
    /// Default on.
    pub scale_probe_timeout: bool,
    /// Ask indirect-probe helpers to send a nack when the target does not answer them, so a
    /// prober can tell "the target is down" from "my own network is slow".
    pub nack: bool,
    /// A helper sends its nack after this share of its (unscaled) probe timeout without an ack
    /// from the target. Must be in `(0, 1]`, and the nack must be able to reach the requester
    /// before its probe round ends: `share * probe_timeout < probe_interval - probe_timeout`.
    /// Default 0.5 (memberlist waits the whole probe timeout, which on its LAN preset lands
    /// the nack after the requester has stopped counting).
    pub nack_timeout_share: f64,
    /// Local-health-aware suspicion: a suspicion timeout that starts at the maximum and falls
    /// toward the minimum as independent members confirm it. Off: a fixed timeout at the minimum.
    pub dynamic_suspicion: bool,
    /// Confirmations (K) that bring the suspicion timeout down to its minimum. `None` uses
    /// memberlist's `suspicion_mult - 2`. Either way K is 0 when the cluster has fewer than
    /// `K + 2` members.
    pub suspicion_confirmations: Option<u32>,
    /// Buddy system: a ping to a member we suspect carries that suspicion, so the member can
    /// refute at once.
    pub buddy: bool,
}

/// Bounds. Going past one drops the excess and counts it in [`crate::Stats`]; nothing grows
/// without limit.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Members held in the table, dead ones included. When full, the oldest dead or left
    /// member is evicted for a newcomer; if none is, the newcomer is dropped
    /// (`Stats::members_rejected`). Default 100,000.
    pub max_members: usize,
    /// Longest member name, in bytes. Default 128.
    pub max_name_len: usize,
    /// Updates waiting in the membership piggyback queue (at most one per member). When
    /// full, the update sent most often is dropped (`Stats::membership_updates_dropped`). Default 32,768.
    pub broadcast_queue_depth: usize,
    /// User broadcasts waiting in their queue. Same drop rule (`Stats::user_broadcasts_dropped`).
    /// Default 1,024.
    pub user_broadcast_queue_depth: usize,
    /// Largest user broadcast payload, in bytes; it must fit in one datagram with the label
    /// and encryption overhead. Default 768 (room for any label up to 255 bytes).
    pub max_user_broadcast_size: usize,
    /// Largest user message payload sent over the reliable stream, in bytes. Best-effort
    /// user messages must also fit in one datagram. Default 1 MiB.
    pub max_user_message_size: usize,
    /// Largest reliable-stream message (push-pull state, user messages), in bytes. Larger
    /// inbound messages are rejected; a larger outbound push-pull is truncated to fit.
    /// Default 20 MiB (memberlist's push-pull limit).
    pub max_stream_message_size: usize,
    /// Transmits waiting to be polled. Default 4,096.
    pub max_pending_transmits: usize,
    /// Events waiting to be polled. No membership change is dropped silently: when the
    /// queue is full and holds membership events, they are all dropped and the next
    /// `poll_event` returns one [`crate::Event::Lagged`] with a snapshot of the member table
    /// taken then (until it is polled, membership events are not queued: the snapshot covers
    /// them); when it is full of other events (user messages and broadcasts, health, joins),
    /// the oldest is dropped. Every drop is counted (`Stats::events_dropped`; lag notices in
    /// `Stats::event_lags`). So the queue holds at most this many events plus one lag notice,
    /// whose snapshot (built when polled, not held) has one entry per member in the table.
    /// Default 16,384.
    pub max_pending_events: usize,
    /// Indirect probes this member serves for others at once. Default 256.
    pub max_relays: usize,
    /// Seeds contacted by joins in flight at once. Default 256.
    pub max_pending_joins: usize,
    /// User broadcast ids remembered to suppress duplicates. Default 8,192.
    pub seen_broadcasts: usize,
    /// Largest application state ([`crate::hooks::Hooks::local_state`]) one push-pull
    /// carries, in bytes. A larger local state is not sent (the push-pull goes without it,
    /// counted in `Stats::app_state_refused`); a push-pull carrying a larger one is rejected
    /// whole (`DecodeError::AppStateTooLarge`). The state's size comes out of the push-pull's
    /// budget (`max_stream_message_size`), so a large state leaves less room for member
    /// states. At most `max_stream_message_size - 2 * 64 - 2 * max_name_len -
    /// max_metadata_size` (room for the header and the local member). 0 sends none.
    /// Default 4 MiB.
    pub max_app_state: usize,
    /// Largest ack payload ([`crate::hooks::Hooks::ack_payload`]), in bytes: a larger one is
    /// not sent (`Stats::ack_payloads_refused`); an extended ack carrying a larger one is
    /// rejected (`DecodeError::PayloadTooLarge`). With a coordinate (89 bytes), the envelope
    /// and the message overhead it must fit in one datagram: at most
    /// `packet_budget - 64 - 89 - 32 - label length`. Default 64, which fits the smallest
    /// packet budget (256 bytes) without a label.
    pub max_ack_payload: usize,
    /// Pings of [`crate::Swim::ping`] and [`crate::Swim::ping_addr`] in flight at once; one
    /// more is refused (`CommandError::TooManyPings`). Default 64.
    pub max_pings_in_flight: usize,
}

impl Default for Lifeguard {
    fn default() -> Self {
        Lifeguard {
            awareness: true,
            awareness_max_multiplier: 8,
            scale_probe_timeout: true,
            nack: true,
            nack_timeout_share: 0.5,
            dynamic_suspicion: true,
            suspicion_confirmations: None,
            buddy: true,
        }
    }
}

impl Lifeguard {
    /// Every Lifeguard component off: plain SWIM with suspicion.
    pub fn disabled() -> Self {
        Lifeguard {
            awareness: false,
            scale_probe_timeout: false,
            nack: false,
            dynamic_suspicion: false,
            buddy: false,
            ..Lifeguard::default()
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_members: 100_000,
            max_name_len: 128,
            broadcast_queue_depth: 32_768,
            user_broadcast_queue_depth: 1_024,
            max_user_broadcast_size: 768,
            max_user_message_size: 1 << 20,
            max_stream_message_size: 20 << 20,
            max_pending_transmits: 4_096,
            max_pending_events: 16_384,
            max_relays: 256,
            max_pending_joins: 256,
            seen_broadcasts: 8_192,
            max_ack_payload: 64,
            max_pings_in_flight: 64,
            max_app_state: 4 << 20,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::lan()
    }
}

impl Config {
    /// memberlist's `DefaultLANConfig`: a datacenter network.
    pub fn lan() -> Self {
        Config {
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            indirect_checks: 3,
            retransmit_mult: 4,
            suspicion_mult: 4,
            suspicion_max_timeout_mult: 6,
            push_pull_interval: Some(Duration::from_secs(30)),
            gossip_interval: Duration::from_millis(200),
            gossip_nodes: 3,
            gossip_to_the_dead_time: Duration::from_secs(30),
            stream_timeout: Duration::from_secs(10),
            packet_budget: 1400,
            dead_node_reclaim_time: None,
            reconnect_interval: Some(Duration::from_secs(30)),
            reconnect_timeout: Duration::from_secs(24 * 3600),
            label: Bytes::new(),
            accept_unlabelled: false,
            send_unlabelled: false,
            max_metadata_size: 512,
            join_retry: Some(JoinRetry {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(30),
                max_attempts: None,
            }),
            versions: Versions::DEFAULT,
            compression: Some(Compression::default()),
            coordinates: None,
            ack_payloads: false,
            tcp_fallback_ping: true,
            lifeguard: Lifeguard::default(),
            limits: Limits::default(),
            damping: None,
            wire: WireProfile::Swim,
        }
    }

    /// This configuration in Go memberlist's wire profile ([`WireProfile::Memberlist`]), with
    /// the versions memberlist 0.2.2 advertises by default: protocol 1 to 5, speaking 2, and
    /// delegate (application) version 0. Memberlist refuses a member whose versions are not
    /// compatible with every member's, so keep these unless the Go members changed theirs.
    pub fn memberlist_wire(mut self) -> Self {
        self.wire = WireProfile::Memberlist;
        self.versions.protocol = crate::versions::VersionRange::new(1, 5, 2);
        self.versions.application = crate::versions::VersionRange::only(0);
        self
    }

    /// memberlist's `DefaultWANConfig`: members across the internet.
    pub fn wan() -> Self {
        Config {
            probe_interval: Duration::from_secs(5),
            probe_timeout: Duration::from_secs(3),
            suspicion_mult: 6,
            push_pull_interval: Some(Duration::from_secs(60)),
            gossip_interval: Duration::from_millis(500),
            gossip_nodes: 4,
            gossip_to_the_dead_time: Duration::from_secs(60),
            stream_timeout: Duration::from_secs(30),
            reconnect_interval: Some(Duration::from_secs(60)),
            join_retry: Some(JoinRetry {
                initial: Duration::from_secs(2),
                max: Duration::from_secs(60),
                max_attempts: None,
            }),
            ..Config::lan()
        }
    }

    /// memberlist's `DefaultLocalConfig`: loopback or one host.
    pub fn local() -> Self {
        Config {
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(200),
            indirect_checks: 1,
            retransmit_mult: 2,
            suspicion_mult: 3,
            push_pull_interval: Some(Duration::from_secs(15)),
            gossip_interval: Duration::from_millis(100),
            gossip_to_the_dead_time: Duration::from_secs(15),
            stream_timeout: Duration::from_secs(1),
            reconnect_interval: Some(Duration::from_secs(15)),
            join_retry: Some(JoinRetry {
                initial: Duration::from_millis(500),
                max: Duration::from_secs(15),
                max_attempts: None,
            }),
            ..Config::lan()
        }
    }

    /// Check that the settings can work together. The constructor calls this.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use ConfigError as E;
        let zero = |d: Duration, name: &'static str| if d.is_zero() { Err(E::Zero(name)) } else { Ok(()) };
        zero(self.probe_interval, "probe_interval")?;
        zero(self.probe_timeout, "probe_timeout")?;
        zero(self.gossip_interval, "gossip_interval")?;
        zero(self.gossip_to_the_dead_time, "gossip_to_the_dead_time")?;
        zero(self.stream_timeout, "stream_timeout")?;
        zero(self.reconnect_timeout, "reconnect_timeout")?;
        if let Some(d) = self.push_pull_interval {
            zero(d, "push_pull_interval")?;
        }
        if let Some(d) = self.reconnect_interval {
            zero(d, "reconnect_interval")?;
        }
        if self.probe_timeout >= self.probe_interval {
            return Err(E::ProbeTimeoutNotBelowInterval {
                probe_timeout: self.probe_timeout,
                probe_interval: self.probe_interval,
            });
        }
        if let Some(r) = &self.join_retry {
            zero(r.initial, "join_retry.initial")?;
            if r.initial > r.max || r.max > JoinRetry::MAX_BACKOFF {
                return Err(E::JoinRetryBackoff { initial: r.initial, max: r.max });
            }
            if r.max_attempts == Some(0) {
                return Err(E::Zero("join_retry.max_attempts"));
            }
        }
        for (range, field) in
            [(&self.versions.protocol, "versions.protocol"), (&self.versions.application, "versions.application")]
        {
            if !range.is_valid() {
                return Err(E::VersionRange { field, range: *range });
            }
        }
        let p = self.versions.protocol;
        if self.wire == WireProfile::Memberlist && (p.min < 1 || p.max > 5 || p.current < 2) {
            return Err(E::MemberlistVersions(p));
        }
        if self.retransmit_mult == 0 {
            return Err(E::Zero("retransmit_mult"));
        }
        if self.suspicion_mult == 0 {
            return Err(E::Zero("suspicion_mult"));
        }
        if self.suspicion_max_timeout_mult == 0 {
            return Err(E::Zero("suspicion_max_timeout_mult"));
        }
        let lg = &self.lifeguard;
        if lg.awareness_max_multiplier == 0 {
            return Err(E::Zero("lifeguard.awareness_max_multiplier"));
        }
        if lg.awareness_max_multiplier > 1000 {
            return Err(too_large(
                "lifeguard.awareness_max_multiplier",
                lg.awareness_max_multiplier as usize,
                1000,
                None,
            ));
        }
        if lg.nack && self.indirect_checks > 0 {
            let share = lg.nack_timeout_share;
            if !(share > 0.0 && share <= 1.0) {
                return Err(E::NackShareOutOfRange);
            }
            let window = self.probe_interval - self.probe_timeout;
            let nack_after = self.probe_timeout.mul_f64(share);
            if nack_after >= window {
                return Err(E::NackTooLate { nack_after, window });
            }
        }
        if let Some(field) = self.coordinates.as_ref().and_then(CoordinateConfig::invalid_field) {
            return Err(E::Coordinates { field });
        }
        if let Some(d) = &self.damping {
            d.validate()?;
        }
        let l = &self.limits;
        for (v, name) in [
            (l.max_members, "limits.max_members"),
            (l.max_name_len, "limits.max_name_len"),
            (l.broadcast_queue_depth, "limits.broadcast_queue_depth"),
            (l.user_broadcast_queue_depth, "limits.user_broadcast_queue_depth"),
            (l.max_stream_message_size, "limits.max_stream_message_size"),
            (l.max_pending_transmits, "limits.max_pending_transmits"),
            (l.max_pending_events, "limits.max_pending_events"),
            (l.max_relays, "limits.max_relays"),
            (l.max_pending_joins, "limits.max_pending_joins"),
            (l.seen_broadcasts, "limits.seen_broadcasts"),
            (l.max_pings_in_flight, "limits.max_pings_in_flight"),
        ] {
            if v == 0 {
                return Err(E::Zero(name));
            }
        }
        let max_label = crate::wire::envelope::MAX_LABEL;
        if self.label.len() > max_label {
            return Err(too_large("label", self.label.len(), max_label, None));
        }
        if l.max_name_len > 255 {
            return Err(too_large("limits.max_name_len", l.max_name_len, 255, None));
        }
        if self.packet_budget < 256 || self.packet_budget > 65_000 {
            return Err(E::PacketBudget(self.packet_budget));
        }
        // One alive message (name, address, metadata, header, label, encryption) must fit.
        let envelope = 3 + self.label.len() + ENCRYPTION_OVERHEAD;
        let room = self.packet_budget.saturating_sub(MESSAGE_OVERHEAD + envelope);
        let max_meta = room.saturating_sub(l.max_name_len);
        if self.max_metadata_size > max_meta {
            return Err(too_large("max_metadata_size", self.max_metadata_size, max_meta, Some("packet_budget")));
        }
        let max_broadcast = room.saturating_sub(2 * l.max_name_len);
        if l.max_user_broadcast_size > max_broadcast {
            let field = "limits.max_user_broadcast_size";
            return Err(too_large(field, l.max_user_broadcast_size, max_broadcast, Some("packet_budget")));
        }
        let max_ack = room.saturating_sub(crate::coordinates::WIRE_SIZE);
        if l.max_ack_payload > max_ack {
            return Err(too_large("limits.max_ack_payload", l.max_ack_payload, max_ack, Some("packet_budget")));
        }
        if l.max_user_message_size > l.max_stream_message_size {
            let (field, limit) = ("limits.max_user_message_size", "limits.max_stream_message_size");
            return Err(too_large(field, l.max_user_message_size, l.max_stream_message_size, Some(limit)));
        }
        let max_state = l.max_stream_message_size.saturating_sub(self.app_state_room());
        if l.max_app_state > max_state {
            let (field, limit) = ("limits.max_app_state", "limits.max_stream_message_size");
            return Err(too_large(field, l.max_app_state, max_state, Some(limit)));
        }
        Ok(())
    }

    /// Bytes of a push-pull that the application state cannot take: room for the header and
    /// the local member's own entry.
    fn app_state_room(&self) -> usize {
        2 * MESSAGE_OVERHEAD + 2 * self.limits.max_name_len + self.max_metadata_size
    }

    /// The probe timeout a helper waits before sending its nack.
    pub(crate) fn nack_timeout(&self) -> Duration {
        self.probe_timeout.mul_f64(self.lifeguard.nack_timeout_share)
    }
}

/// A [`ConfigError::TooLarge`] for `field` holding `value` where `max` is allowed.
fn too_large(field: &'static str, value: usize, max: usize, limited_by: Option<&'static str>) -> ConfigError {
    // usize is at most 64 bits on every target Rust supports.
    let wide = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    ConfigError::TooLarge { field, value: wide(value), max: wide(max), limited_by }
}

/// Bytes reserved for a message's header, numbers and address, on top of its names and
/// payloads, when checking that it fits in one datagram.
pub(crate) const MESSAGE_OVERHEAD: usize = 64;

/// Bytes encryption adds to a packet (cipher id, nonce, tag), reserved whether or not a
/// keyring is set so that a cluster can switch encryption on without changing limits.
pub(crate) const ENCRYPTION_OVERHEAD: usize = 1 + 12 + 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate() {
        Config::lan().validate().unwrap();
        Config::wan().validate().unwrap();
        Config::local().validate().unwrap();
        let mut c = Config::lan();
        c.lifeguard = Lifeguard::disabled();
        c.validate().unwrap();
    }

    #[test]
    fn presets_match_memberlist() {
        let l = Config::lan();
        assert_eq!(l.probe_interval, Duration::from_secs(1));
        assert_eq!(l.probe_timeout, Duration::from_millis(500));
        assert_eq!((l.indirect_checks, l.retransmit_mult, l.suspicion_mult), (3, 4, 4));
        assert_eq!(l.suspicion_max_timeout_mult, 6);
        assert_eq!(l.push_pull_interval, Some(Duration::from_secs(30)));
        assert_eq!((l.gossip_interval, l.gossip_nodes), (Duration::from_millis(200), 3));
        assert_eq!(l.packet_budget, 1400);
        assert_eq!(l.max_metadata_size, 512);
        let w = Config::wan();
        assert_eq!((w.probe_interval, w.probe_timeout), (Duration::from_secs(5), Duration::from_secs(3)));
        assert_eq!((w.suspicion_mult, w.gossip_nodes), (6, 4));
        assert_eq!(w.gossip_to_the_dead_time, Duration::from_secs(60));
        let o = Config::local();
        assert_eq!((o.probe_timeout, o.indirect_checks, o.retransmit_mult), (Duration::from_millis(200), 1, 2));
        assert_eq!((o.suspicion_mult, o.gossip_interval), (3, Duration::from_millis(100)));
    }

    #[test]
    fn impossible_settings_are_rejected() {
        let base = Config::lan();
        let mut c = base.clone();
        c.probe_interval = Duration::ZERO;
        assert_eq!(c.validate(), Err(ConfigError::Zero("probe_interval")));
        let mut c = base.clone();
        c.probe_timeout = c.probe_interval;
        let (probe_timeout, probe_interval) = (c.probe_timeout, c.probe_interval);
        assert_eq!(c.validate(), Err(ConfigError::ProbeTimeoutNotBelowInterval { probe_timeout, probe_interval }));
        let mut c = base.clone();
        c.gossip_interval = Duration::ZERO;
        assert_eq!(c.validate(), Err(ConfigError::Zero("gossip_interval")));
        let mut c = base.clone();
        c.push_pull_interval = Some(Duration::ZERO);
        assert_eq!(c.validate(), Err(ConfigError::Zero("push_pull_interval")));
        let mut c = base.clone();
        c.retransmit_mult = 0;
        assert_eq!(c.validate(), Err(ConfigError::Zero("retransmit_mult")));
        let mut c = base.clone();
        c.lifeguard.nack_timeout_share = 0.0;
        assert_eq!(c.validate(), Err(ConfigError::NackShareOutOfRange));
        let mut c = base.clone();
        c.lifeguard.nack_timeout_share = 1.0; // 500 ms nack in a 500 ms window
        let window = Duration::from_millis(500);
        assert_eq!(c.validate(), Err(ConfigError::NackTooLate { nack_after: window, window }));
        let mut c = base.clone();
        c.max_metadata_size = 1400;
        // 1,400 bytes less the name (128), the message overhead (64) and the envelope (3 + 29).
        let max = 1400 - 128 - 64 - 3 - 29;
        let e =
            ConfigError::TooLarge { field: "max_metadata_size", value: 1400, max, limited_by: Some("packet_budget") };
        assert_eq!(c.validate(), Err(e));
        c.max_metadata_size = max as usize;
        c.validate().unwrap();
        let mut c = base.clone();
        c.packet_budget = 100;
        assert_eq!(c.validate(), Err(ConfigError::PacketBudget(100)));
        let mut c = base.clone();
        c.limits.max_app_state = c.limits.max_stream_message_size;
        // The state must leave room for the header and the local member: 2 x 64 + 2 x 128 + 512.
        let max = (20 << 20) - 896;
        let field = "limits.max_app_state";
        let e =
            ConfigError::TooLarge { field, value: 20 << 20, max, limited_by: Some("limits.max_stream_message_size") };
        assert_eq!(c.validate(), Err(e));
        assert!(alloc::format!("{e}").contains("`limits.max_app_state`"), "{e}");
        c.limits.max_app_state = max as usize;
        c.validate().unwrap();
        c.limits.max_app_state = 0;
        c.validate().unwrap();
        let mut c = base.clone();
        c.limits.max_members = 0;
        assert_eq!(c.validate(), Err(ConfigError::Zero("limits.max_members")));
        let mut c = base.clone();
        c.versions.protocol = crate::versions::VersionRange::new(1, 2, 3);
        let range = c.versions.protocol;
        assert_eq!(c.validate(), Err(ConfigError::VersionRange { field: "versions.protocol", range }));
        let mut c = base.clone();
        c.versions.application = crate::versions::VersionRange::new(4, 3, 3);
        let range = c.versions.application;
        assert_eq!(c.validate(), Err(ConfigError::VersionRange { field: "versions.application", range }));
        let mut c = base.clone();
        c.limits.max_ack_payload = 1400;
        // 1,400 bytes less the message overhead (64), the envelope (3 + 29) and a coordinate (89).
        let max = 1400 - 64 - 3 - 29 - 89;
        let field = "limits.max_ack_payload";
        assert_eq!(
            c.validate(),
            Err(ConfigError::TooLarge { field, value: 1400, max, limited_by: Some("packet_budget") })
        );
        c.limits.max_ack_payload = max as usize;
        c.validate().unwrap();
        let mut c = base.clone();
        c.limits.max_pings_in_flight = 0;
        assert_eq!(c.validate(), Err(ConfigError::Zero("limits.max_pings_in_flight")));
        let mut c = base.clone();
        c.coordinates = Some(CoordinateConfig { latency_filter_size: 0, ..CoordinateConfig::default() });
        assert_eq!(c.validate(), Err(ConfigError::Coordinates { field: "coordinates.latency_filter_size" }));
        c.coordinates = Some(CoordinateConfig::default());
        c.validate().unwrap();
        let mut c = base;
        c.lifeguard.awareness_max_multiplier = 0;
        assert_eq!(c.validate(), Err(ConfigError::Zero("lifeguard.awareness_max_multiplier")));
    }
}

/// The wire format a member speaks ([`Config::wire`]). Every member of a cluster must speak
/// the same one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WireProfile {
    /// swim's own format (docs/protocol.md): versioned envelope, postcard bodies, swim's
    /// encryption and compression.
    #[default]
    Swim,
    /// Go memberlist's format, protocol versions 2 to 5 (`crate::wire::memberlist`): a member
    /// that Go memberlist members take for one of their own. `versions.protocol` is then
    /// memberlist's protocol range (`min >= 1`, `max <= 5`, `current >= 2`), the cluster label
    /// is memberlist's label header, encryption is memberlist's keyring
    /// (`Swim::set_memberlist_keyring`), and swim's own extensions (capabilities, extended
    /// pings, coordinates, broadcast ids, stream compression) are not sent. Needs IP addresses:
    /// build the member with `Swim::with_wire`.
    Memberlist,
}
