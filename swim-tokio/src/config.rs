//! The adapter's configuration: who this member is, where it listens, and the bounds of
//! every socket, task and channel the adapter owns. The protocol's own knobs live in
//! [`swim_core::Config`], held here as [`Config::swim`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use swim_core::Bytes;
use swim_core::security::{Cipher, Key};

/// The port memberlist listens on by default, for UDP and TCP alike.
pub const DEFAULT_PORT: u16 = 7946;

/// Everything [`crate::Node::start`] needs.
///
/// Start from a preset ([`Config::lan`], [`Config::wan`], [`Config::local`]) and change
/// fields or use the `with_*` builders:
///
/// ```
/// let config = swim_tokio::Config::lan("node-a")
///     .with_bind_addr("127.0.0.1:0".parse().unwrap())
///     .with_meta("zone=a");
/// assert_eq!(config.swim.probe_interval, std::time::Duration::from_secs(1));
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    /// This member's name, unique in the cluster (at most `swim.limits.max_name_len` bytes).
    pub name: String,
    /// Address the UDP socket and the TCP listener bind to (the same port for both). Port 0
    /// lets the OS pick one port free for both protocols. IPv4 or IPv6; binding `[::]` accepts
    /// IPv4 peers too where the OS allows dual-stack sockets (Linux does by default).
    /// Default `0.0.0.0:7946`.
    pub bind_addr: SocketAddr,
    /// Address other members should use to reach this one, when it differs from the bound one
    /// (NAT, port forwarding, or binding a wildcard address). `None` advertises the bound
    /// address, which must then not be a wildcard (`0.0.0.0` or `[::]`). A port of 0 here means
    /// "the bound port".
    pub advertise_addr: Option<SocketAddr>,
    /// Initial metadata, at most `swim.max_metadata_size` bytes (512 in the presets).
    pub meta: Bytes,
    /// Initial incarnation. `None` (the default) starts from the Unix time in seconds, so a
    /// member restarted under the same name and address outranks the record its previous life
    /// left behind, even one the cluster has declared dead. Set it only to restore a known
    /// incarnation.
    pub incarnation: Option<u32>,
    /// Seed for the protocol's randomness (probe order, gossip targets). `None` (the default)
    /// draws one from the operating system; tests may fix it.
    pub seed: Option<u64>,
    /// The protocol configuration (its `label` is the cluster label).
    pub swim: swim_core::Config,
    /// Authenticated encryption of every datagram and stream message; `None` sends
    /// plaintext. See [`Config::with_keys`] and docs/security.md.
    pub encryption: Option<Encryption>,
    /// memberlist's keyring, for the memberlist wire profile (`swim.wire` =
    /// `WireProfile::Memberlist`; `encryption` does not apply there): AES keys of 16, 24 or 32
    /// bytes, the first the primary, at most 16. Empty (the default): plaintext. See
    /// [`Config::with_memberlist_keys`].
    pub memberlist_keys: Vec<Vec<u8>>,
    /// Sockets, streams, channels and their bounds.
    pub transport: TransportConfig,
    /// Networks members may be in (memberlist's `CIDRsAllowed`). `None` (the default) allows
    /// every address; `Some` allows only addresses in one of the networks (an empty list
    /// allows none). The core applies it through `Hooks::allow_address`: datagrams and stream
    /// messages from other sources are dropped and counted (`DecodeError::AddressNotAllowed`),
    /// and alive claims and merged member states at other addresses are refused
    /// (`Event::MemberRefused`, `Stats::members_refused`). IPv4-mapped IPv6 addresses are
    /// checked as IPv4. See [`Config::with_cidrs_allowed`].
    pub cidrs_allowed: Option<Vec<IpNet>>,
}

/// Encryption settings; see [`Config::with_keys`].
#[derive(Clone, Debug)]
pub struct Encryption {
    /// The AEAD; every member must use the same one.
    pub cipher: Cipher,
    /// The keys, primary first (at most 16). Their `Debug` shows only fingerprints.
    pub keys: Vec<Key>,
    /// Migration switch: also accept plaintext packets (see docs/security.md).
    pub accept_plaintext: bool,
    /// Migration switch: send plaintext instead of encrypting (see docs/security.md).
    pub send_plaintext: bool,
}

/// Socket settings and the bound on every resource the adapter holds.
#[derive(Clone, Debug, PartialEq)]
pub struct TransportConfig {
    /// UDP receive buffer to request, in bytes. Like memberlist, the adapter asks for this
    /// size and halves it until the OS accepts; Linux silently caps it at
    /// `net.core.rmem_max`. Default 2 MiB (memberlist's `udpRecvBufSize`).
    pub udp_recv_buffer: usize,
    /// How long an outbound stream may take to connect. `None` uses `swim.stream_timeout`
    /// (memberlist's `TCPTimeout`: 10 s LAN, 30 s WAN, 1 s local).
    pub connect_timeout: Option<Duration>,
    /// How long an outbound stream may take to write its message, and how long an inbound
    /// connection may take to deliver each frame (header and body, measured from when the
    /// adapter starts waiting for it). An idle inbound connection is closed after this time.
    /// `None` uses `swim.stream_timeout`.
    pub io_timeout: Option<Duration>,
    /// Inbound TCP connections served at once. At the limit the adapter stops accepting, so
    /// further connections wait in the kernel's accept queue (1,024 deep) until a stream
    /// ends; a join storm of many members on one seed is served in turn rather than refused.
    /// Worst-case memory for inbound streams is this many frames of
    /// `swim.limits.max_stream_message_size`, plus [`stream_queue`](Self::stream_queue)
    /// frames waiting for the driver. Default 64.
    pub max_inbound_streams: usize,
    /// Outbound TCP messages in flight at once (one connection each). Messages beyond this
    /// wait in a queue of [`outbound_queue`](Self::outbound_queue). Default 128.
    pub max_outbound_streams: usize,
    /// Outbound stream messages waiting for a free connection slot. A message that finds the
    /// queue full is not sent and the core is told it failed (counted as `overloaded`).
    /// Worst-case memory: this many push-pull states of the cluster. Default 1,024.
    pub outbound_queue: usize,
    /// Complete inbound frames waiting for the driver task. Readers wait when it is full.
    /// Default 16.
    pub stream_queue: usize,
    /// Requests from handles waiting for the driver task. Callers wait when it is full.
    /// Default 256.
    pub command_queue: usize,
    /// Events buffered for [`crate::Events`] subscribers. The driver never waits for a
    /// subscriber: one that falls further behind gets, in place of the events it missed, one
    /// [`crate::Event::Lagged`] with a snapshot of the membership, and is told how many it
    /// missed ([`crate::Events::missed`]); no membership change is lost silently. The buffer
    /// (about 150 bytes a slot) is allocated on the first subscription; the membership mirror
    /// the snapshots come from holds one record per member known. Default 1,024.
    pub event_queue: usize,
    /// How long resolving one seed name through DNS may take in [`crate::Node::join`].
    /// Default 5 s.
    pub resolve_timeout: Duration,
    /// Addresses used from one seed name (a name can resolve to many). Default 16.
    pub max_addrs_per_seed: usize,
    /// How often counters and gauges are published to the `metrics` facade. Publication
    /// piggybacks on the core's timers, so it adds no wake-ups. Default 1 s.
    pub metrics_interval: Duration,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            udp_recv_buffer: 2 * 1024 * 1024,
            connect_timeout: None,
            io_timeout: None,
            max_inbound_streams: 64,
            max_outbound_streams: 128,
            outbound_queue: 1024,
            stream_queue: 16,
            command_queue: 256,
            event_queue: 1024,
            resolve_timeout: Duration::from_secs(5),
            max_addrs_per_seed: 16,
            metrics_interval: Duration::from_secs(1),
        }
    }
}

impl TransportConfig {
    /// The first field that is zero and must not be, if any.
    pub(crate) fn zero_field(&self) -> Option<&'static str> {
        [
            (self.udp_recv_buffer == 0, "transport.udp_recv_buffer"),
            (self.connect_timeout.is_some_and(|d| d.is_zero()), "transport.connect_timeout"),
            (self.io_timeout.is_some_and(|d| d.is_zero()), "transport.io_timeout"),
            (self.max_inbound_streams == 0, "transport.max_inbound_streams"),
            (self.max_outbound_streams == 0, "transport.max_outbound_streams"),
            (self.outbound_queue == 0, "transport.outbound_queue"),
            (self.stream_queue == 0, "transport.stream_queue"),
            (self.command_queue == 0, "transport.command_queue"),
            (self.event_queue == 0, "transport.event_queue"),
            (self.resolve_timeout.is_zero(), "transport.resolve_timeout"),
            (self.max_addrs_per_seed == 0, "transport.max_addrs_per_seed"),
            (self.metrics_interval.is_zero(), "transport.metrics_interval"),
        ]
        .into_iter()
        .find_map(|(zero, name)| zero.then_some(name))
    }
}

impl Config {
    /// A member called `name` with the given protocol configuration, bound to
    /// `0.0.0.0:7946`, with default transport settings.
    pub fn new(name: impl Into<String>, swim: swim_core::Config) -> Self {
        Config {
            name: name.into(),
            bind_addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DEFAULT_PORT),
            advertise_addr: None,
            meta: Bytes::new(),
            incarnation: None,
            seed: None,
            swim,
            encryption: None,
            memberlist_keys: Vec::new(),
            transport: TransportConfig::default(),
            cidrs_allowed: None,
        }
    }

    /// Encrypt all traffic with `cipher`; the first key is the primary (it encrypts), every key
    /// decrypts. Plaintext is neither sent nor accepted. Keys can be rotated at run time with
    /// [`Node::add_key`](crate::Node::add_key), [`use_key`](crate::Node::use_key) and
    /// [`remove_key`](crate::Node::remove_key).
    pub fn with_keys(mut self, cipher: Cipher, keys: impl IntoIterator<Item = Key>) -> Self {
        self.encryption = Some(Encryption {
            cipher,
            keys: keys.into_iter().collect(),
            accept_plaintext: false,
            send_plaintext: false,
        });
        self
    }

    /// Speak Go memberlist's wire format ([`swim_core::Config::memberlist_wire`]), to share a
    /// cluster with Go memberlist members (docs/memberlist.md).
    pub fn memberlist_wire(mut self) -> Self {
        self.swim = self.swim.memberlist_wire();
        self
    }

    /// In the memberlist wire profile, encrypt with memberlist's keyring: the first key (16,
    /// 24 or 32 bytes, like memberlist's `SecretKey`) encrypts, every key decrypts.
    pub fn with_memberlist_keys(mut self, keys: impl IntoIterator<Item = Vec<u8>>) -> Self {
        self.memberlist_keys = keys.into_iter().collect();
        self
    }

    /// memberlist's `DefaultLANConfig` ([`swim_core::Config::lan`]).
    pub fn lan(name: impl Into<String>) -> Self {
        Config::new(name, swim_core::Config::lan())
    }

    /// memberlist's `DefaultWANConfig` ([`swim_core::Config::wan`]).
    pub fn wan(name: impl Into<String>) -> Self {
        Config::new(name, swim_core::Config::wan())
    }

    /// memberlist's `DefaultLocalConfig` ([`swim_core::Config::local`]), for loopback.
    pub fn local(name: impl Into<String>) -> Self {
        Config::new(name, swim_core::Config::local())
    }

    /// With [`bind_addr`](Self::bind_addr) set.
    pub fn with_bind_addr(mut self, addr: SocketAddr) -> Self {
        self.bind_addr = addr;
        self
    }

    /// With [`advertise_addr`](Self::advertise_addr) set.
    pub fn with_advertise_addr(mut self, addr: SocketAddr) -> Self {
        self.advertise_addr = Some(addr);
        self
    }

    /// With initial metadata.
    pub fn with_meta(mut self, meta: impl Into<Bytes>) -> Self {
        self.meta = meta.into();
        self
    }

    /// With a fixed initial incarnation.
    pub fn with_incarnation(mut self, incarnation: u32) -> Self {
        self.incarnation = Some(incarnation);
        self
    }

    /// With [`cidrs_allowed`](Self::cidrs_allowed) set to `nets`.
    ///
    /// ```
    /// let config = swim_tokio::Config::lan("node-a").with_cidrs_allowed(["10.0.0.0/8".parse().unwrap()]);
    /// assert_eq!(config.cidrs_allowed.unwrap().len(), 1);
    /// ```
    pub fn with_cidrs_allowed(mut self, nets: impl IntoIterator<Item = IpNet>) -> Self {
        self.cidrs_allowed = Some(nets.into_iter().collect());
        self
    }

    /// With a fixed seed for the protocol's randomness.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The connect timeout in force.
    pub fn connect_timeout(&self) -> Duration {
        self.transport.connect_timeout.unwrap_or(self.swim.stream_timeout)
    }

    /// The stream I/O timeout in force.
    pub fn io_timeout(&self) -> Duration {
        self.transport.io_timeout.unwrap_or(self.swim.stream_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_defaults() {
        let c = Config::lan("a");
        assert_eq!(c.bind_addr.port(), DEFAULT_PORT);
        assert_eq!(c.swim, swim_core::Config::lan());
        assert_eq!(c.connect_timeout(), Duration::from_secs(10));
        assert_eq!(Config::local("a").io_timeout(), Duration::from_secs(1));
        assert_eq!(c.transport.zero_field(), None);
        let mut t = TransportConfig { max_inbound_streams: 0, ..TransportConfig::default() };
        assert_eq!(t.zero_field(), Some("transport.max_inbound_streams"));
        t.max_inbound_streams = 1;
        t.io_timeout = Some(Duration::ZERO);
        assert_eq!(t.zero_field(), Some("transport.io_timeout"));
    }
}
