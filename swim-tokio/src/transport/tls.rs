//! The TLS transport: TCP only, every byte over TLS (rustls, with the `ring` provider).
//!
//! Wire: every connection starts with a TLS handshake, then the connecting side sends one
//! byte saying what the connection carries, and the accepting side answers one byte
//! ([`ACCEPTED`]) once it has verified the connecting side's certificate, so a refused
//! member learns it at once from the handshake's alert rather than from a silent close.
//!
//! - [`STREAMS`]: one stream message, one length-prefixed frame as on the default transport's
//!   TCP connections, then close (the driver reads and writes it).
//! - [`PACKETS`]: the connecting member's advertised address (one byte 4 or 6, the IP
//!   address's bytes, the port big-endian), then packets both ways, each one frame. These
//!   connections are pooled: one per pair of members, used by both (the accepting side sends
//!   its packets to the connecting member on it too, so an ack needs no second handshake),
//!   kept while packets arrive and closed after [`TlsConfig::idle_timeout`] without one. The
//!   accepting side reports each packet as coming from the advertised address, as the core
//!   answers a ping there (a TCP connection's source port is not the member's port). Only a
//!   peer whose certificate the cluster trusts gets that far.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::timeout;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tracing::{debug, trace};

use super::{BoxStream, Connecting, Transport, canonical, listen};
use crate::error::StartError;
use crate::stream::{self, FrameError};

/// First byte of a connection carrying one stream message.
pub const STREAMS: u8 = 1;
/// First byte of a connection carrying packets.
pub const PACKETS: u8 = 2;
/// The accepting side's answer once it has accepted the connection.
pub const ACCEPTED: u8 = 0xAC;

/// The TLS transport's settings: the rustls configurations (certificates, trust roots,
/// client authentication) and the bound on every resource it holds.
#[derive(Clone, Debug)]
pub struct TlsConfig {
    /// How this member presents itself to members that connect to it, and which client
    /// certificates it accepts. For mutual TLS, build it with a client certificate verifier
    /// ([`rustls::server::WebPkiClientVerifier`]) over the cluster's trust roots, as
    /// [`TlsConfig::mutual`] does: a member whose certificate the verifier refuses fails the
    /// handshake and is never heard by the core.
    pub server: Arc<ServerConfig>,
    /// How this member verifies members it connects to (trust roots) and, for mutual TLS,
    /// the client certificate it presents.
    pub client: Arc<ClientConfig>,
    /// The name every member's certificate is checked against when connecting. `None` (the
    /// default) checks the peer's IP address, so each member's certificate must name its
    /// advertised IP address (an IP subject alternative name); set a DNS name shared by the
    /// cluster's certificates instead to avoid that (dskit's `tls_server_name`).
    pub server_name: Option<ServerName<'static>>,
    /// Inbound connections open at once, of both kinds, handshakes included. At the limit
    /// the transport stops accepting and newcomers wait in the kernel's accept queue (1,024
    /// deep). Memory: each connection holds rustls's buffers and, for packet connections, one
    /// packet of up to `max_message_size` being read. Default 256.
    pub max_inbound_connections: usize,
    /// Packet connections this member sends on, at once (one per peer, whichever side opened
    /// it). A packet to a new peer at the limit closes the connection least recently sent on
    /// (counted in [`TlsStats::evicted`]) to open its own, so in a cluster of more members
    /// than this, connections churn (a handshake each) and only the packets still queued on
    /// a closed connection are lost; a
    /// peer connecting at the limit is read from, and answered on a connection of this
    /// member's own. Memory: each holds rustls's buffers and up to `write_queue` packets.
    /// Stream messages are bounded separately, by `transport.max_outbound_streams`.
    /// Default 256.
    pub max_outbound_connections: usize,
    /// How long a connection may take from the TCP connect (outbound) or accept (inbound) to
    /// the end of the TLS handshake and the one-byte exchange that follows it. An inbound
    /// peer that connects and says nothing is dropped after this time. Default 5 s.
    pub handshake_timeout: Duration,
    /// A packet connection on which no packet has arrived for this long is closed (by either
    /// side; the next packet opens a new one), and writing one batch of packets may take at
    /// most this long. Members probe each other, so between live members a connection idles
    /// only in clusters of more members than this timeout has probe intervals. Default 30 s.
    pub idle_timeout: Duration,
    /// The largest packet accepted, in bytes: a peer that announces a larger frame on a
    /// packet connection is disconnected (counted in [`TlsStats::too_large`]). Stream
    /// messages are bounded by `swim.limits.max_stream_message_size`, as on every transport.
    /// Default 65,536 (UDP's limit, which the core's packets respect).
    pub max_message_size: usize,
    /// Packets waiting to be written on one outbound connection (while it connects, or when
    /// the peer reads slowly). A packet that finds the queue full is dropped and counted
    /// (`udp_send_errors`). Worst case memory: `max_outbound_connections` times this many
    /// packets of the core's `packet_budget`. Default 64.
    pub write_queue: usize,
    /// Inbound packets waiting for the driver, from every connection. A packet that finds it
    /// full is dropped and counted ([`TlsStats::packets_dropped`]), as a full UDP receive
    /// buffer drops datagrams. Default 1,024.
    pub packet_queue: usize,
}

impl TlsConfig {
    /// Settings with the given rustls configurations and the default bounds.
    pub fn new(server: Arc<ServerConfig>, client: Arc<ClientConfig>) -> TlsConfig {
        TlsConfig {
            server,
            client,
            server_name: None,
            max_inbound_connections: 256,
            max_outbound_connections: 256,
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            max_message_size: 65_536,
            write_queue: 64,
            packet_queue: 1024,
        }
    }

    /// Mutual TLS, the usual cluster setup: every member presents `cert_chain` (its own
    /// certificate first) with `key`, both as server and as client, and trusts exactly the
    /// certificates issued by `roots` (the cluster's CA), in both directions. Uses rustls's
    /// `ring` provider and its safe default protocol versions (TLS 1.2 and 1.3).
    pub fn mutual(
        roots: impl IntoIterator<Item = CertificateDer<'static>>,
        cert_chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<TlsConfig, rustls::Error> {
        // rustls 0.23.48 deprecates ring's provider for lacking post-quantum key exchange;
        // it is still supported, and aws-lc-rs (which has it) needs a C toolchain with cmake
        // to build. Classical X25519/P-256 key exchange is what dskit and Alertmanager use.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut store = RootCertStore::empty();
        for root in roots {
            store.add(root)?;
        }
        let store = Arc::new(store);
        let verifier = WebPkiClientVerifier::builder_with_provider(store.clone(), provider.clone())
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(cert_chain.clone(), key.clone_key())?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(store)
            .with_client_auth_cert(cert_chain, key)?;
        Ok(TlsConfig::new(Arc::new(server), Arc::new(client)))
    }

    /// The first bound that is zero and must not be, if any.
    fn zero_field(&self) -> Option<&'static str> {
        [
            (self.max_inbound_connections == 0, "tls.max_inbound_connections"),
            (self.max_outbound_connections == 0, "tls.max_outbound_connections"),
            (self.handshake_timeout.is_zero(), "tls.handshake_timeout"),
            (self.idle_timeout.is_zero(), "tls.idle_timeout"),
            (self.max_message_size == 0, "tls.max_message_size"),
            (self.write_queue == 0, "tls.write_queue"),
            (self.packet_queue == 0, "tls.packet_queue"),
        ]
        .into_iter()
        .find_map(|(zero, name)| zero.then_some(name))
    }
}

/// Counters of a [`TlsTransport`], shared with the handle [`TlsTransport::stats`] returns
/// (the driver's [`TransportStats`](crate::TransportStats) count what it sees through the
/// [`Transport`] trait as for every transport).
#[derive(Debug, Default)]
pub struct TlsStats {
    /// Connections accepted (before the handshake).
    pub accepted: AtomicU64,
    /// Inbound handshakes that failed: an untrusted certificate, not TLS, a bad first byte.
    pub handshake_failures: AtomicU64,
    /// Inbound connections dropped because the handshake did not finish within
    /// [`TlsConfig::handshake_timeout`].
    pub handshake_timeouts: AtomicU64,
    /// Outbound connections (packets or streams) whose connect or handshake failed.
    pub connect_failures: AtomicU64,
    /// Packet connections dropped for announcing a packet over [`TlsConfig::max_message_size`].
    pub too_large: AtomicU64,
    /// Inbound packets dropped because [`TlsConfig::packet_queue`] was full.
    pub packets_dropped: AtomicU64,
    /// Packets received and handed on.
    pub packets_received: AtomicU64,
    /// Packet connections closed to make room for one to a new peer, at
    /// [`TlsConfig::max_outbound_connections`].
    pub evicted: AtomicU64,
}

impl TlsStats {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A counter's current value.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// TCP only, with TLS: for networks that block UDP or require TLS (dskit's memberlist TCP
/// transport and Alertmanager's TLS transport are the prior art).
///
/// Packets travel over pooled TLS connections, one per destination, and stream messages over
/// a TLS connection each, so the protocol runs unchanged (see the module's wire notes). Every
/// connection is authenticated by the certificates of [`TlsConfig`]: with
/// [`TlsConfig::mutual`], a member whose certificate is not issued by the cluster's CA is
/// refused at the handshake, in both directions, and none of its bytes reach the core.
pub struct TlsTransport {
    local: SocketAddr,
    settings: Arc<TlsConfig>,
    listener: Option<TcpListener>,
    advertise: Option<SocketAddr>,
    connector: TlsConnector,
    /// The acceptor and the outbound packet connections; dropping the set aborts them all.
    tasks: JoinSet<()>,
    /// The write queue of each open packet connection, by peer (shared with the connections
    /// the acceptor serves, which register themselves).
    peers: Peers,
    packets_tx: mpsc::Sender<(SocketAddr, Vec<u8>)>,
    packets_rx: mpsc::Receiver<(SocketAddr, Vec<u8>)>,
    streams_tx: mpsc::Sender<(BoxStream, SocketAddr)>,
    streams_rx: mpsc::Receiver<(BoxStream, SocketAddr)>,
    stats: Arc<TlsStats>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTransport").field("local", &self.local).finish()
    }
}

impl TlsTransport {
    /// Listen for TCP connections on `addr` (port 0 picks a free one). Must be called from
    /// within a tokio runtime; nothing runs until
    /// [`Node::start_with_transport`](crate::Node::start_with_transport) starts the member.
    pub fn bind(addr: SocketAddr, config: TlsConfig) -> Result<TlsTransport, StartError> {
        if let Some(field) = config.zero_field() {
            return Err(StartError::Transport(field));
        }
        let listener = listen(addr).map_err(|source| StartError::Bind { protocol: "TCP", addr, source })?;
        let local = listener.local_addr().map_err(|source| StartError::Bind { protocol: "TCP", addr, source })?;
        let (packets_tx, packets_rx) = mpsc::channel(config.packet_queue);
        // Handed-over inbound streams wait here for the driver, which takes them while it
        // has room (transport.max_inbound_streams); the connections count against
        // max_inbound_connections meanwhile.
        let (streams_tx, streams_rx) = mpsc::channel(16);
        Ok(TlsTransport {
            local,
            connector: TlsConnector::from(config.client.clone()),
            settings: Arc::new(config),
            listener: Some(listener),
            advertise: None,
            tasks: JoinSet::new(),
            peers: Peers::default(),
            packets_tx,
            packets_rx,
            streams_tx,
            streams_rx,
            stats: Arc::default(),
        })
    }

    /// The transport's counters, live: keep this handle to read them after the transport has
    /// moved into a [`Node`](crate::Node).
    pub fn stats(&self) -> Arc<TlsStats> {
        self.stats.clone()
    }

    fn server_name(&self, to: SocketAddr) -> ServerName<'static> {
        self.settings.server_name.clone().unwrap_or(ServerName::IpAddress(to.ip().into()))
    }
}

impl Transport for TlsTransport {
    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn start(&mut self, advertise: SocketAddr) -> io::Result<()> {
        let listener = self.listener.take().ok_or_else(|| io::Error::other("transport started twice"))?;
        self.advertise = Some(advertise);
        let acceptor = Acceptor {
            acceptor: TlsAcceptor::from(self.settings.server.clone()),
            settings: self.settings.clone(),
            packets: self.packets_tx.clone(),
            streams: self.streams_tx.clone(),
            stats: self.stats.clone(),
            peers: self.peers.clone(),
        };
        self.tasks.spawn(acceptor.run(listener));
        Ok(())
    }

    fn send_packet(&mut self, to: SocketAddr, packet: &[u8]) -> io::Result<()> {
        let framed = stream::framed(packet);
        let framed = match self.peers.try_send(to, framed) {
            Ok(()) => return Ok(()),
            Err(Some(framed)) => framed,
            Err(None) => return Err(io::Error::new(io::ErrorKind::WouldBlock, "write queue full")),
        };
        while self.tasks.try_join_next().is_some() {}
        let advertise = self.advertise.ok_or_else(|| io::Error::other("transport not started"))?;
        let max = self.settings.max_outbound_connections;
        let Some((id, queue, rx)) = self.peers.register(to, self.settings.write_queue, max, Some(&self.stats.evicted))
        else {
            // Only when another task registered `to` between the two calls.
            return Err(io::Error::new(io::ErrorKind::WouldBlock, "connection to the peer just opened"));
        };
        // A new channel has room for one (write_queue is above zero). The map keeps the
        // only sender, so evicting it ends the connection.
        let _ = queue.try_send(framed);
        drop(queue);
        let open = Open {
            connector: self.connector.clone(),
            name: self.server_name(to),
            to,
            handshake_timeout: self.settings.handshake_timeout,
        };
        let link = Link {
            peer: to,
            id,
            settings: self.settings.clone(),
            packets: self.packets_tx.clone(),
            stats: self.stats.clone(),
            peers: self.peers.clone(),
        };
        let span = tracing::debug_span!("tls_packets", peer = %to);
        self.tasks.spawn(tracing::Instrument::instrument(send_packets(open, advertise, rx, link), span));
        Ok(())
    }

    fn poll_recv_packet(&mut self, cx: &mut Context<'_>, buf: &mut Vec<u8>) -> Poll<io::Result<SocketAddr>> {
        match ready!(self.packets_rx.poll_recv(cx)) {
            Some((from, packet)) => {
                buf.extend_from_slice(&packet);
                Poll::Ready(Ok(from))
            }
            // The transport holds a sender itself, so the channel never closes while it lives.
            None => Poll::Pending,
        }
    }

    fn connect(&mut self, to: SocketAddr) -> Connecting {
        let open = Open {
            connector: self.connector.clone(),
            name: self.server_name(to),
            to,
            handshake_timeout: self.settings.handshake_timeout,
        };
        let stats = self.stats.clone();
        Box::pin(async move {
            let stream = open.open(&[STREAMS]).await.inspect_err(|_| TlsStats::bump(&stats.connect_failures))?;
            Ok(Box::new(stream) as BoxStream)
        })
    }

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(BoxStream, SocketAddr)>> {
        match ready!(self.streams_rx.poll_recv(cx)) {
            Some(accepted) => Poll::Ready(Ok(accepted)),
            // As for packets: the transport holds a sender.
            None => Poll::Pending,
        }
    }
}

/// What an outbound connection needs to open.
struct Open {
    connector: TlsConnector,
    name: ServerName<'static>,
    to: SocketAddr,
    handshake_timeout: Duration,
}

type ClientStream = tokio_rustls::client::TlsStream<TcpStream>;

impl Open {
    /// Connect, handshake, send `hello` and wait for [`ACCEPTED`], all within the handshake
    /// timeout.
    async fn open(self, hello: &[u8]) -> io::Result<ClientStream> {
        let Open { connector, name, to, handshake_timeout } = self;
        let opening = async move {
            let tcp = TcpStream::connect(to).await?;
            let _ = tcp.set_nodelay(true);
            let mut tls = connector.connect(name, tcp).await?;
            tls.write_all(hello).await?;
            tls.flush().await?;
            // A server that refuses this member's certificate answers with an alert here.
            match tls.read_u8().await? {
                ACCEPTED => Ok(tls),
                other => Err(io::Error::new(io::ErrorKind::InvalidData, format!("unexpected answer {other:#x}"))),
            }
        };
        match timeout(handshake_timeout, opening).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")),
        }
    }
}

/// An outbound packet connection: open it, then carry packets both ways.
async fn send_packets(open: Open, advertise: SocketAddr, queue: mpsc::Receiver<Vec<u8>>, link: Link) {
    let mut hello = vec![PACKETS];
    encode_addr(advertise, &mut hello);
    match open.open(&hello).await {
        Ok(tls) => link.run(tls, Some(queue)).await,
        Err(e) => {
            TlsStats::bump(&link.stats.connect_failures);
            debug!(error = %e, "packet connection failed; its queued packets are lost");
            link.peers.unregister(link.peer, link.id);
        }
    }
}

/// The receiving end of a connection's write queue.
type Outgoing = mpsc::Receiver<Vec<u8>>;

/// An open packet connection's write queue.
struct Entry {
    /// Which registration this is (from 1; 0 is never registered).
    id: u64,
    queue: mpsc::Sender<Vec<u8>>,
    /// When a packet was last queued on it.
    used: tokio::time::Instant,
}

#[derive(Default)]
struct Queues {
    by_peer: std::collections::HashMap<SocketAddr, Entry>,
    last_id: u64,
}

/// The write queues of the open packet connections, by peer.
#[derive(Clone, Default)]
struct Peers(Arc<std::sync::Mutex<Queues>>);

impl Peers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queues> {
        // Every update under the lock is one insert, remove or timestamp: a panic cannot
        // leave it torn.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue `framed` on `to`'s connection. `Err(Some(framed))`: no open connection;
    /// `Err(None)`: its queue is full (the packet is dropped).
    fn try_send(&self, to: SocketAddr, framed: Vec<u8>) -> Result<(), Option<Vec<u8>>> {
        let mut peers = self.lock();
        let Some(entry) = peers.by_peer.get_mut(&to) else { return Err(Some(framed)) };
        match entry.queue.try_send(framed) {
            Ok(()) => {
                entry.used = tokio::time::Instant::now();
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => Err(None),
            Err(mpsc::error::TrySendError::Closed(framed)) => {
                peers.by_peer.remove(&to);
                Err(Some(framed))
            }
        }
    }

    /// A new write queue for `peer` and its registration id, unless one is open. With `max`
    /// open, closed ones are forgotten first; then, if `evict`, the least recently used one
    /// is closed (its connection ends, counted in `evicted`), else nothing is registered.
    fn register(
        &self,
        peer: SocketAddr,
        capacity: usize,
        max: usize,
        evict: Option<&AtomicU64>,
    ) -> Option<(u64, mpsc::Sender<Vec<u8>>, Outgoing)> {
        let mut peers = self.lock();
        if peers.by_peer.get(&peer).is_some_and(|e| !e.queue.is_closed()) {
            return None;
        }
        if peers.by_peer.len() >= max {
            peers.by_peer.retain(|_, e| !e.queue.is_closed());
        }
        if peers.by_peer.len() >= max {
            let evicted = evict?;
            let oldest = peers.by_peer.iter().min_by_key(|(_, e)| e.used).map(|(a, _)| *a);
            // Dropping the only sender ends that connection's writer, and so the connection.
            if let Some(oldest) = oldest {
                peers.by_peer.remove(&oldest);
                TlsStats::bump(evicted);
            }
        }
        let (tx, rx) = mpsc::channel(capacity);
        peers.last_id += 1;
        let id = peers.last_id;
        peers.by_peer.insert(peer, Entry { id, queue: tx.clone(), used: tokio::time::Instant::now() });
        Some((id, tx, rx))
    }

    /// Forget `peer`'s queue if it is still registration `id`.
    fn unregister(&self, peer: SocketAddr, id: u64) {
        let mut peers = self.lock();
        if peers.by_peer.get(&peer).is_some_and(|e| e.id == id) {
            peers.by_peer.remove(&peer);
        }
    }
}
/// One packet connection as the transport sees it.
struct Link {
    /// The member at the other end (its advertised address).
    peer: SocketAddr,
    /// This connection's registration in `peers` (0 when the connection only reads).
    id: u64,
    settings: Arc<TlsConfig>,
    packets: mpsc::Sender<(SocketAddr, Vec<u8>)>,
    stats: Arc<TlsStats>,
    peers: Peers,
}

impl Link {
    /// Read packets from `tls`, and write those of `queue` on it, until either direction
    /// fails, a packet is over the size bound, or none arrives for the idle timeout.
    async fn run<S: AsyncRead + AsyncWrite>(&self, tls: S, queue: Option<mpsc::Receiver<Vec<u8>>>) {
        let (mut reader, mut writer) = tokio::io::split(tls);
        let start = tokio::time::Instant::now();
        // Milliseconds from `start` to the last packet received.
        let last = AtomicU64::new(0);
        let touch = || last.store(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
        let idle_for = || start.elapsed().saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
        let idle = self.settings.idle_timeout;
        let read = async {
            loop {
                let body = match stream::read_frame(&mut reader, self.settings.max_message_size).await {
                    Ok(Some(body)) => body,
                    Ok(None) => return,
                    Err(FrameError::TooLarge(e)) => {
                        TlsStats::bump(&self.stats.too_large);
                        debug!(error = %e, "packet over max_message_size; connection dropped");
                        return;
                    }
                    Err(FrameError::Io(e)) => {
                        debug!(error = %e, "packet connection failed");
                        return;
                    }
                };
                touch();
                TlsStats::bump(&self.stats.packets_received);
                if let Err(mpsc::error::TrySendError::Full(_)) = self.packets.try_send((self.peer, body)) {
                    TlsStats::bump(&self.stats.packets_dropped);
                }
            }
        };
        // Closes the connection once no whole packet has arrived for the idle timeout (a
        // peer that trickles a frame byte by byte counts as idle). Writes do not count: they
        // succeed into the kernel's buffer even when the peer is cut off, and a connection
        // stuck behind TCP's retransmission backoff must not outlive a partition.
        let watchdog = async {
            loop {
                let quiet = idle_for();
                if quiet >= idle {
                    return;
                }
                tokio::time::sleep(idle - quiet).await;
            }
        };
        let write = async {
            let Some(mut queue) = queue else { return std::future::pending().await };
            let mut batch = Vec::new();
            loop {
                let Some(first) = queue.recv().await else { return };
                batch.clear();
                batch.extend_from_slice(&first);
                while let Ok(p) = queue.try_recv() {
                    batch.extend_from_slice(&p);
                }
                let written = async {
                    writer.write_all(&batch).await?;
                    writer.flush().await
                };
                match timeout(idle, written).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        debug!(error = %e, "packet connection write failed");
                        return;
                    }
                    Err(_) => {
                        debug!("packet connection write timed out");
                        return;
                    }
                }
            }
        };
        tokio::select! {
            () = read => {}
            () = write => {}
            () = watchdog => trace!("packet connection idle"),
        }
        self.peers.unregister(self.peer, self.id);
        trace!("packet connection closed");
        let _ = timeout(idle, writer.shutdown()).await;
    }
}

/// The accepting half: one task accepting, one task per connection.
struct Acceptor {
    acceptor: TlsAcceptor,
    settings: Arc<TlsConfig>,
    packets: mpsc::Sender<(SocketAddr, Vec<u8>)>,
    streams: mpsc::Sender<(BoxStream, SocketAddr)>,
    stats: Arc<TlsStats>,
    peers: Peers,
}

impl Acceptor {
    async fn run(self, listener: TcpListener) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(this.settings.max_inbound_connections));
        // Dropping this set (when the transport aborts this task) aborts every connection.
        let mut connections = JoinSet::new();
        loop {
            while connections.try_join_next().is_some() {}
            // The semaphore is never closed, so acquiring fails only if it were.
            let Ok(permit) = slots.clone().acquire_owned().await else { return };
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Usually out of file descriptors; accepting again at once would spin.
                        debug!(error = %e, "accepting a TCP connection failed; pausing");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            };
            TlsStats::bump(&this.stats.accepted);
            let span = tracing::debug_span!("tls_inbound", peer = %canonical(peer));
            connections.spawn(tracing::Instrument::instrument(this.clone().serve(tcp, canonical(peer), permit), span));
        }
    }

    async fn serve(self: Arc<Self>, tcp: TcpStream, peer: SocketAddr, permit: OwnedSemaphorePermit) {
        let _ = tcp.set_nodelay(true);
        let handshake = async {
            let mut tls = self.acceptor.accept(tcp).await?;
            let kind = tls.read_u8().await?;
            let from = match kind {
                STREAMS => None,
                PACKETS => Some(decode_addr(&mut tls).await?),
                other => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("unknown kind {other:#x}"))),
            };
            tls.write_all(&[ACCEPTED]).await?;
            tls.flush().await?;
            Ok::<_, io::Error>((tls, from))
        };
        let (tls, from) = match timeout(self.settings.handshake_timeout, handshake).await {
            Err(_) => {
                TlsStats::bump(&self.stats.handshake_timeouts);
                debug!("handshake timed out; connection dropped");
                return;
            }
            Ok(Err(e)) => {
                TlsStats::bump(&self.stats.handshake_failures);
                debug!(error = %e, "handshake failed; connection refused");
                return;
            }
            Ok(Ok(accepted)) => accepted,
        };
        let Some(from) = from else {
            // A stream: the driver reads it, under its own timeouts and frame bound.
            let stream = Held { inner: tls, _permit: permit };
            if timeout(self.settings.idle_timeout, self.streams.send((Box::new(stream), peer))).await.is_err() {
                debug!("driver took no stream within the idle timeout; dropped");
            }
            return;
        };
        // A packet connection: this member answers on it too, unless it already has a
        // connection to the peer (both opened one at once) or is at its limit.
        let (id, rx) =
            match self.peers.register(from, self.settings.write_queue, self.settings.max_outbound_connections, None) {
                Some((id, _, rx)) => (id, Some(rx)),
                None => (0, None),
            };
        let link = Link {
            peer: from,
            id,
            settings: self.settings.clone(),
            packets: self.packets.clone(),
            stats: self.stats.clone(),
            peers: self.peers.clone(),
        };
        link.run(tls, rx).await;
        drop(permit);
    }
}

/// A stream that holds its connection slot until dropped.
struct Held<S> {
    inner: S,
    _permit: OwnedSemaphorePermit,
}

impl<S: AsyncRead + Unpin> AsyncRead for Held<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Held<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// `addr` as a packet connection announces it: 4 or 6, the IP address, the port (big-endian).
pub fn encode_addr(addr: SocketAddr, out: &mut Vec<u8>) {
    match addr.ip() {
        IpAddr::V4(ip) => {
            out.push(4);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(6);
            out.extend_from_slice(&ip.octets());
        }
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

async fn decode_addr<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<SocketAddr> {
    let ip = match r.read_u8().await? {
        4 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b).await?;
            IpAddr::V4(Ipv4Addr::from(b))
        }
        6 => {
            let mut b = [0u8; 16];
            r.read_exact(&mut b).await?;
            IpAddr::V6(Ipv6Addr::from(b))
        }
        other => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("unknown address family {other}"))),
    };
    let port = r.read_u16().await?;
    Ok(canonical(SocketAddr::new(ip, port)))
}
