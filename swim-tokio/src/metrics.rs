//! Counters and gauges published through the [`metrics`] facade.
//!
//! Install any `metrics` recorder (Prometheus exporter, statsd, ...) to collect them; without
//! one they cost nothing. Every series carries the label `member` (the local member's name),
//! so several members in one process stay apart. They are published every
//! `transport.metrics_interval` (1 s by default) and once more at shutdown. Counters are
//! totals since the member started; the protocol's come from [`swim_core::Stats`], the
//! transport's from [`TransportStats`].
//!
//! | name | kind | what |
//! |---|---|---|
//! | `swim_packets_received_total` | counter | UDP datagrams handed to the core |
//! | `swim_packets_sent_total` | counter | UDP datagrams the core produced |
//! | `swim_bytes_received_total` | counter | bytes of those inbound datagrams |
//! | `swim_bytes_sent_total` | counter | bytes of those outbound datagrams |
//! | `swim_stream_messages_received_total` | counter | TCP frames handed to the core |
//! | `swim_stream_messages_sent_total` | counter | TCP messages the core produced |
//! | `swim_stream_bytes_received_total` | counter | bytes of inbound frames |
//! | `swim_stream_bytes_sent_total` | counter | bytes of outbound messages |
//! | `swim_stream_messages_compressed_total` | counter | outbound stream messages sent compressed (`Stats::streams_compressed`) |
//! | `swim_versions_refused_total` | counter | members refused for sharing no protocol or application version (`Stats::versions_refused`) |
//! | `swim_decode_errors_total{kind}` | counter | rejected input, by [`swim_core::DecodeError::name`] |
//! | `swim_probes_total` | counter | probes started |
//! | `swim_probe_failures_total` | counter | probes that got no ack (each suspects its target) |
//! | `swim_ping_reqs_sent_total` | counter | ping-reqs sent to helpers (a probe's indirect step) |
//! | `swim_relays_total` | counter | ping-reqs relayed for others |
//! | `swim_nacks_sent_total`, `swim_nacks_received_total` | counter | Lifeguard nacks |
//! | `swim_suspicions_total` | counter | suspicions started here |
//! | `swim_suspicion_confirmations_total` | counter | confirmations that shortened a suspicion |
//! | `swim_deaths_declared_total` | counter | suspicions that timed out here |
//! | `swim_refutations_total` | counter | times this member refuted a suspicion about itself |
//! | `swim_push_pulls_total` | counter | push-pull exchanges started (periodic, join, reconnect) |
//! | `swim_reconnects_total` | counter | push-pulls sent to dead members to heal partitions |
//! | `swim_user_messages_total` | counter | user messages received |
//! | `swim_user_broadcasts_total` | counter | user broadcasts delivered |
//! | `swim_unlabelled_accepted_total` | counter | packets without a label let in while a label is rolled out (`swim.accept_unlabelled`) |
//! | `swim_core_drops_total{what}` | counter | the core's bounded drops: `membership_updates`, `user_broadcasts`, `transmits`, `events`, `members`, `relays`, `app_state` (a local application state over `limits.max_app_state`, not sent) |
//! | `swim_refusals_total{what}` | counter | the application's refusals (its hooks): `members` (alive claims and claimed addresses), `merges` (push-pull states), `joins` (refusals of this member's joins received from seeds), `broadcasts` (broadcasts judged stale) |
//! | `swim_udp_send_errors_total` | counter | datagrams the socket refused or had no room for |
//! | `swim_udp_recv_errors_total` | counter | errors reading the UDP socket |
//! | `swim_streams_accepted_total` | counter | inbound TCP connections served |
//! | `swim_inbound_stream_limit_reached_total` | counter | times `max_inbound_streams` were open, so accepting paused |
//! | `swim_stream_errors_total{direction,reason}` | counter | inbound `timeout`/`too_large`/`io`, outbound `connect`/`write`/`overloaded` |
//! | `swim_events_lagged_total` | counter | events a slow [`crate::Events`] subscriber missed (it got a snapshot instead) |
//! | `swim_members` | gauge | alive and suspect members, self included |
//! | `swim_members_known` | gauge | members in the table in any state, self included |
//! | `swim_health_score` | gauge | Lifeguard local health score (0 is healthy) |
//! | `swim_gossip_queue_depth` | gauge | membership updates waiting to be piggybacked |
//! | `swim_user_broadcast_queue_depth` | gauge | user broadcasts waiting to be piggybacked |
//! | `swim_inbound_streams`, `swim_outbound_streams` | gauge | TCP streams in progress |
//! | `swim_core_memory_bytes` | gauge | the core's estimate of its heap use ([`swim_core::Swim::memory_usage`]) |

use metrics::{Counter, Gauge, Label, Unit};
use swim_core::{DecodeError, Stats};

/// Transport counters, kept by the driver task; all monotonic since start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Datagrams the UDP socket refused or had no buffer room for (dropped).
    pub udp_send_errors: u64,
    /// Errors reading the UDP socket.
    pub udp_recv_errors: u64,
    /// Inbound TCP connections accepted and served.
    pub streams_accepted: u64,
    /// Times `max_inbound_streams` connections were open, so accepting paused until one ended.
    pub inbound_limit_reached: u64,
    /// Inbound connections closed because a frame did not arrive within the I/O timeout.
    pub inbound_timeouts: u64,
    /// Inbound connections closed because a frame header announced more than the size cap.
    pub inbound_too_large: u64,
    /// Inbound connections that failed or closed inside a frame.
    pub inbound_io_errors: u64,
    /// Outbound stream messages delivered (written and closed).
    pub outbound_delivered: u64,
    /// Outbound stream messages whose connection failed or timed out.
    pub outbound_connect_errors: u64,
    /// Outbound stream messages whose write failed or timed out.
    pub outbound_write_errors: u64,
    /// Outbound stream messages not sent because `max_outbound_streams` were in flight and
    /// `outbound_queue` more were waiting.
    pub outbound_overloaded: u64,
    /// Commands or queries that arrived; a measure of how busy handles keep the driver.
    pub commands: u64,
}

/// Metric names, for recorders and dashboards.
pub mod names {
    /// See the [module table](super).
    pub const PACKETS_RECEIVED: &str = "swim_packets_received_total";
    /// See the [module table](super).
    pub const PACKETS_SENT: &str = "swim_packets_sent_total";
    /// See the [module table](super).
    pub const BYTES_RECEIVED: &str = "swim_bytes_received_total";
    /// See the [module table](super).
    pub const BYTES_SENT: &str = "swim_bytes_sent_total";
    /// See the [module table](super).
    pub const STREAM_MESSAGES_RECEIVED: &str = "swim_stream_messages_received_total";
    /// See the [module table](super).
    pub const STREAM_MESSAGES_SENT: &str = "swim_stream_messages_sent_total";
    /// See the [module table](super).
    pub const STREAM_BYTES_RECEIVED: &str = "swim_stream_bytes_received_total";
    /// See the [module table](super).
    pub const STREAM_BYTES_SENT: &str = "swim_stream_bytes_sent_total";
    /// See the [module table](super).
    pub const DECODE_ERRORS: &str = "swim_decode_errors_total";
    /// See the [module table](super).
    pub const STREAMS_COMPRESSED: &str = "swim_stream_messages_compressed_total";
    /// See the [module table](super).
    pub const VERSIONS_REFUSED: &str = "swim_versions_refused_total";
    /// See the [module table](super).
    pub const PROBES: &str = "swim_probes_total";
    /// See the [module table](super).
    pub const PROBE_FAILURES: &str = "swim_probe_failures_total";
    /// See the [module table](super).
    pub const PING_REQS_SENT: &str = "swim_ping_reqs_sent_total";
    /// See the [module table](super).
    pub const RELAYS: &str = "swim_relays_total";
    /// See the [module table](super).
    pub const NACKS_SENT: &str = "swim_nacks_sent_total";
    /// See the [module table](super).
    pub const NACKS_RECEIVED: &str = "swim_nacks_received_total";
    /// See the [module table](super).
    pub const SUSPICIONS: &str = "swim_suspicions_total";
    /// See the [module table](super).
    pub const SUSPICION_CONFIRMATIONS: &str = "swim_suspicion_confirmations_total";
    /// See the [module table](super).
    pub const DEATHS_DECLARED: &str = "swim_deaths_declared_total";
    /// See the [module table](super).
    pub const REFUTATIONS: &str = "swim_refutations_total";
    /// See the [module table](super).
    pub const PUSH_PULLS: &str = "swim_push_pulls_total";
    /// See the [module table](super).
    pub const RECONNECTS: &str = "swim_reconnects_total";
    /// See the [module table](super).
    pub const USER_MESSAGES: &str = "swim_user_messages_total";
    /// See the [module table](super).
    pub const USER_BROADCASTS: &str = "swim_user_broadcasts_total";
    /// See the [module table](super).
    pub const UNLABELLED_ACCEPTED: &str = "swim_unlabelled_accepted_total";
    /// See the [module table](super).
    pub const CORE_DROPS: &str = "swim_core_drops_total";
    /// See the [module table](super).
    pub const REFUSALS: &str = "swim_refusals_total";
    /// See the [module table](super).
    pub const UDP_SEND_ERRORS: &str = "swim_udp_send_errors_total";
    /// See the [module table](super).
    pub const UDP_RECV_ERRORS: &str = "swim_udp_recv_errors_total";
    /// See the [module table](super).
    pub const STREAMS_ACCEPTED: &str = "swim_streams_accepted_total";
    /// See the [module table](super).
    pub const INBOUND_LIMIT_REACHED: &str = "swim_inbound_stream_limit_reached_total";
    /// See the [module table](super).
    pub const STREAM_ERRORS: &str = "swim_stream_errors_total";
    /// See the [module table](super).
    pub const EVENTS_LAGGED: &str = "swim_events_lagged_total";
    /// See the [module table](super).
    pub const MEMBERS: &str = "swim_members";
    /// See the [module table](super).
    pub const MEMBERS_KNOWN: &str = "swim_members_known";
    /// See the [module table](super).
    pub const HEALTH_SCORE: &str = "swim_health_score";
    /// See the [module table](super).
    pub const GOSSIP_QUEUE_DEPTH: &str = "swim_gossip_queue_depth";
    /// See the [module table](super).
    pub const USER_BROADCAST_QUEUE_DEPTH: &str = "swim_user_broadcast_queue_depth";
    /// See the [module table](super).
    pub const INBOUND_STREAMS: &str = "swim_inbound_streams";
    /// See the [module table](super).
    pub const OUTBOUND_STREAMS: &str = "swim_outbound_streams";
    /// See the [module table](super).
    pub const CORE_MEMORY: &str = "swim_core_memory_bytes";

    /// Every name above.
    pub const ALL: &[&str] = &[
        PACKETS_RECEIVED,
        PACKETS_SENT,
        BYTES_RECEIVED,
        BYTES_SENT,
        STREAM_MESSAGES_RECEIVED,
        STREAM_MESSAGES_SENT,
        STREAM_BYTES_RECEIVED,
        STREAM_BYTES_SENT,
        STREAMS_COMPRESSED,
        VERSIONS_REFUSED,
        DECODE_ERRORS,
        PROBES,
        PROBE_FAILURES,
        PING_REQS_SENT,
        RELAYS,
        NACKS_SENT,
        NACKS_RECEIVED,
        SUSPICIONS,
        SUSPICION_CONFIRMATIONS,
        DEATHS_DECLARED,
        REFUTATIONS,
        PUSH_PULLS,
        RECONNECTS,
        USER_MESSAGES,
        USER_BROADCASTS,
        UNLABELLED_ACCEPTED,
        CORE_DROPS,
        REFUSALS,
        UDP_SEND_ERRORS,
        UDP_RECV_ERRORS,
        STREAMS_ACCEPTED,
        INBOUND_LIMIT_REACHED,
        STREAM_ERRORS,
        EVENTS_LAGGED,
        MEMBERS,
        MEMBERS_KNOWN,
        HEALTH_SCORE,
        GOSSIP_QUEUE_DEPTH,
        USER_BROADCAST_QUEUE_DEPTH,
        INBOUND_STREAMS,
        OUTBOUND_STREAMS,
        CORE_MEMORY,
    ];
}

/// The state the driver publishes on each tick.
pub(crate) struct Snapshot<'a> {
    pub core: &'a Stats,
    pub transport: &'a TransportStats,
    pub members: usize,
    pub members_known: usize,
    pub health: u32,
    pub queues: (usize, usize),
    pub streams: (usize, usize),
    pub memory: usize,
}

/// Handles for one member's series, registered once at start.
pub(crate) struct Metrics {
    counters: Vec<(Counter, ReadCounter)>,
    decode_errors: Vec<(Counter, DecodeError)>,
    gauges: Vec<(Gauge, ReadGauge)>,
}

type ReadCounter = fn(&Snapshot<'_>) -> u64;
type ReadGauge = fn(&Snapshot<'_>) -> f64;
type CounterSpec = (&'static str, &'static [(&'static str, &'static str)], ReadCounter);
type GaugeSpec = (&'static str, ReadGauge);

const COUNTERS: &[CounterSpec] = {
    use names::*;
    &[
        (PACKETS_RECEIVED, &[], |s| s.core.packets_in),
        (PACKETS_SENT, &[], |s| s.core.packets_out),
        (BYTES_RECEIVED, &[], |s| s.core.bytes_in),
        (BYTES_SENT, &[], |s| s.core.bytes_out),
        (STREAM_MESSAGES_RECEIVED, &[], |s| s.core.streams_in),
        (STREAM_MESSAGES_SENT, &[], |s| s.core.streams_out),
        (STREAM_BYTES_RECEIVED, &[], |s| s.core.stream_bytes_in),
        (STREAM_BYTES_SENT, &[], |s| s.core.stream_bytes_out),
        (STREAMS_COMPRESSED, &[], |s| s.core.streams_compressed),
        (VERSIONS_REFUSED, &[], |s| s.core.versions_refused),
        (PROBES, &[], |s| s.core.probes),
        (PROBE_FAILURES, &[], |s| s.core.probe_failures),
        (PING_REQS_SENT, &[], |s| s.core.ping_reqs_sent),
        (RELAYS, &[], |s| s.core.relays),
        (NACKS_SENT, &[], |s| s.core.nacks_sent),
        (NACKS_RECEIVED, &[], |s| s.core.nacks_received),
        (SUSPICIONS, &[], |s| s.core.suspicions),
        (SUSPICION_CONFIRMATIONS, &[], |s| s.core.suspicion_confirmations),
        (DEATHS_DECLARED, &[], |s| s.core.deaths_declared),
        (REFUTATIONS, &[], |s| s.core.refutations),
        (PUSH_PULLS, &[], |s| s.core.push_pulls),
        (RECONNECTS, &[], |s| s.core.reconnects),
        (USER_MESSAGES, &[], |s| s.core.user_messages),
        (USER_BROADCASTS, &[], |s| s.core.user_broadcasts),
        (UNLABELLED_ACCEPTED, &[], |s| s.core.unlabelled_accepted),
        (CORE_DROPS, &[("what", "membership_updates")], |s| s.core.membership_updates_dropped),
        (CORE_DROPS, &[("what", "user_broadcasts")], |s| s.core.user_broadcasts_dropped),
        (CORE_DROPS, &[("what", "transmits")], |s| s.core.transmits_dropped),
        (CORE_DROPS, &[("what", "events")], |s| s.core.events_dropped),
        (CORE_DROPS, &[("what", "members")], |s| s.core.members_rejected),
        (CORE_DROPS, &[("what", "relays")], |s| s.core.relays_dropped),
        (CORE_DROPS, &[("what", "app_state")], |s| s.core.app_state_refused),
        (REFUSALS, &[("what", "members")], |s| s.core.members_refused),
        (REFUSALS, &[("what", "merges")], |s| s.core.merges_refused),
        (REFUSALS, &[("what", "joins")], |s| s.core.join_refusals),
        (REFUSALS, &[("what", "broadcasts")], |s| s.core.user_broadcasts_stale),
        (UDP_SEND_ERRORS, &[], |s| s.transport.udp_send_errors),
        (UDP_RECV_ERRORS, &[], |s| s.transport.udp_recv_errors),
        (STREAMS_ACCEPTED, &[], |s| s.transport.streams_accepted),
        (INBOUND_LIMIT_REACHED, &[], |s| s.transport.inbound_limit_reached),
        (STREAM_ERRORS, &[("direction", "inbound"), ("reason", "timeout")], |s| s.transport.inbound_timeouts),
        (STREAM_ERRORS, &[("direction", "inbound"), ("reason", "too_large")], |s| s.transport.inbound_too_large),
        (STREAM_ERRORS, &[("direction", "inbound"), ("reason", "io")], |s| s.transport.inbound_io_errors),
        (STREAM_ERRORS, &[("direction", "outbound"), ("reason", "connect")], |s| s.transport.outbound_connect_errors),
        (STREAM_ERRORS, &[("direction", "outbound"), ("reason", "write")], |s| s.transport.outbound_write_errors),
        (STREAM_ERRORS, &[("direction", "outbound"), ("reason", "overloaded")], |s| s.transport.outbound_overloaded),
    ]
};

const GAUGES: &[GaugeSpec] = {
    use names::*;
    &[
        (MEMBERS, |s| s.members as f64),
        (MEMBERS_KNOWN, |s| s.members_known as f64),
        (HEALTH_SCORE, |s| f64::from(s.health)),
        (GOSSIP_QUEUE_DEPTH, |s| s.queues.0 as f64),
        (USER_BROADCAST_QUEUE_DEPTH, |s| s.queues.1 as f64),
        (INBOUND_STREAMS, |s| s.streams.0 as f64),
        (OUTBOUND_STREAMS, |s| s.streams.1 as f64),
        (CORE_MEMORY, |s| s.memory as f64),
    ]
};

fn labels(member: &str, extra: &[(&'static str, &'static str)]) -> Vec<Label> {
    let mut l = vec![Label::new("member", member.to_owned())];
    l.extend(extra.iter().map(|(k, v)| Label::new(*k, *v)));
    l
}

impl Metrics {
    /// Describe every series (idempotent) and register this member's handles.
    pub(crate) fn register(member: &str) -> Self {
        describe();
        let counters =
            COUNTERS.iter().map(|(name, extra, get)| (metrics::counter!(*name, labels(member, extra)), *get)).collect();
        let decode_errors = DecodeError::ALL
            .iter()
            .map(|k| (metrics::counter!(names::DECODE_ERRORS, labels(member, &[("kind", k.name())])), *k))
            .collect();
        let gauges = GAUGES.iter().map(|(name, get)| (metrics::gauge!(*name, labels(member, &[])), *get)).collect();
        Metrics { counters, decode_errors, gauges }
    }

    /// The counter for events a subscriber missed.
    pub(crate) fn lagged(member: &str) -> Counter {
        metrics::counter!(names::EVENTS_LAGGED, labels(member, &[]))
    }

    pub(crate) fn publish(&self, s: &Snapshot<'_>) {
        for (c, get) in &self.counters {
            c.absolute(get(s));
        }
        for (c, kind) in &self.decode_errors {
            c.absolute(s.core.decode_errors.get(*kind));
        }
        for (g, get) in &self.gauges {
            g.set(get(s));
        }
    }
}

fn describe() {
    use names::*;
    let counters: &[(&str, Unit, &str)] = &[
        (PACKETS_RECEIVED, Unit::Count, "UDP datagrams handed to the core"),
        (PACKETS_SENT, Unit::Count, "UDP datagrams the core produced"),
        (BYTES_RECEIVED, Unit::Bytes, "bytes of inbound datagrams"),
        (BYTES_SENT, Unit::Bytes, "bytes of outbound datagrams"),
        (STREAM_MESSAGES_RECEIVED, Unit::Count, "TCP frames handed to the core"),
        (STREAM_MESSAGES_SENT, Unit::Count, "TCP messages the core produced"),
        (STREAM_BYTES_RECEIVED, Unit::Bytes, "bytes of inbound stream frames"),
        (STREAM_BYTES_SENT, Unit::Bytes, "bytes of outbound stream messages"),
        (STREAMS_COMPRESSED, Unit::Count, "outbound stream messages sent compressed"),
        (VERSIONS_REFUSED, Unit::Count, "members refused for sharing no version"),
        (DECODE_ERRORS, Unit::Count, "rejected input by kind"),
        (PROBES, Unit::Count, "probes started"),
        (PROBE_FAILURES, Unit::Count, "probes that got no ack"),
        (PING_REQS_SENT, Unit::Count, "ping-reqs sent to helpers (a probe's indirect step)"),
        (RELAYS, Unit::Count, "ping-reqs relayed for others"),
        (NACKS_SENT, Unit::Count, "nacks sent as a helper"),
        (NACKS_RECEIVED, Unit::Count, "nacks received as a prober"),
        (SUSPICIONS, Unit::Count, "suspicions started"),
        (SUSPICION_CONFIRMATIONS, Unit::Count, "confirmations that shortened a suspicion"),
        (DEATHS_DECLARED, Unit::Count, "suspicions that timed out here"),
        (REFUTATIONS, Unit::Count, "refutations of suspicions about this member"),
        (PUSH_PULLS, Unit::Count, "push-pull exchanges started"),
        (RECONNECTS, Unit::Count, "push-pulls sent to dead members"),
        (USER_MESSAGES, Unit::Count, "user messages received"),
        (USER_BROADCASTS, Unit::Count, "user broadcasts delivered"),
        (UNLABELLED_ACCEPTED, Unit::Count, "packets without a label let in during a label roll-out"),
        (CORE_DROPS, Unit::Count, "items the core dropped at a bound"),
        (REFUSALS, Unit::Count, "members, merges, joins and broadcasts the application's hooks refused"),
        (UDP_SEND_ERRORS, Unit::Count, "datagrams the socket refused"),
        (UDP_RECV_ERRORS, Unit::Count, "errors reading the UDP socket"),
        (STREAMS_ACCEPTED, Unit::Count, "inbound TCP connections served"),
        (INBOUND_LIMIT_REACHED, Unit::Count, "times the inbound stream limit paused accepting"),
        (STREAM_ERRORS, Unit::Count, "failed TCP streams by direction and reason"),
        (EVENTS_LAGGED, Unit::Count, "events a slow subscriber missed"),
    ];
    for (name, unit, help) in counters {
        metrics::describe_counter!(*name, *unit, *help);
    }
    let gauges: &[(&str, Unit, &str)] = &[
        (MEMBERS, Unit::Count, "alive and suspect members, self included"),
        (MEMBERS_KNOWN, Unit::Count, "members known in any state, self included"),
        (HEALTH_SCORE, Unit::Count, "Lifeguard local health score, 0 is healthy"),
        (GOSSIP_QUEUE_DEPTH, Unit::Count, "membership updates waiting to be gossiped"),
        (USER_BROADCAST_QUEUE_DEPTH, Unit::Count, "user broadcasts waiting to be gossiped"),
        (INBOUND_STREAMS, Unit::Count, "inbound TCP streams in progress"),
        (OUTBOUND_STREAMS, Unit::Count, "outbound TCP streams in progress"),
        (CORE_MEMORY, Unit::Bytes, "the core's estimate of its heap use"),
    ];
    for (name, unit, help) in gauges {
        metrics::describe_gauge!(*name, *unit, *help);
    }
}
