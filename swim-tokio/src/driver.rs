//! The driver task: the one place the core lives.
//!
//! It owns the [`Swim`] core, the [`Transport`] (the UDP socket and TCP listener by
//! default), the stream tasks (in two `JoinSet`s) and one tokio timer, and it waits on all of them at once. After every input
//! (a datagram, a stream frame, a timer expiry, a failed stream, a command) it drains the
//! core as swim-core's run-loop contract says: transmits until none are left (datagrams are
//! sent from here, stream messages by a task each), then events (published to subscribers
//! and used to answer pending joins and leaves), then re-arms the timer to
//! [`Swim::poll_timeout`].
//!
//! The driver never waits on anything but its inputs: packets are sent without waiting
//! (a full socket buffer drops the datagram, as the network would), events go to a
//! broadcast channel that drops for slow subscribers (who get a lag notice with a snapshot
//! instead, see [`EventHub`]), and replies are oneshots. So no consumer can stall failure
//! detection.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use swim_core::{BroadcastId, Bytes, Event, JoinId, Member, MemberView, PingId, Swim, TransmitKind};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::{Instrument, debug, info, trace, warn};

use crate::config::Config;
use crate::error::SendError;
use crate::metrics::{Metrics, Snapshot, TransportStats};
use crate::stream::{self, Frame, Inbound, Origin, Outbound};
use crate::transport::{BoxStream, Transport};
use swim_core::wire::frame::StreamFraming;
use swim_core::{ConnectionId, StreamRole};

/// Largest datagram read (the UDP maximum), as memberlist's `udpPacketBufSize`.
const RECV_BUF: usize = 65_536;

/// A read-only look at the core, answered by the driver.
pub(crate) type Query = Box<dyn FnOnce(&Swim<SocketAddr>, &TransportStats) + Send>;
/// A change to the core that is not a protocol command (keyring, plaintext switches).
pub(crate) type Mutation = Box<dyn FnOnce(&mut Swim<SocketAddr>) + Send>;

/// How a join ended, as the core reported it.
#[derive(Clone, Debug)]
pub(crate) struct JoinOutcome {
    pub reached: usize,
    pub attempted: usize,
    /// Seeds that refused the join, and why.
    pub refused: Vec<(SocketAddr, String)>,
    /// Addresses whose stream failed the transport's handshake while the join was in
    /// flight, and why.
    pub handshake_failures: Vec<(SocketAddr, String)>,
}

/// Handshake failures remembered for the joins in flight, at most this many addresses.
const MAX_JOIN_FAILURES: usize = 64;

/// Requests from handles.
pub(crate) enum Command {
    Join {
        seeds: Vec<SocketAddr>,
        reply: oneshot::Sender<Result<JoinOutcome, swim_core::CommandError>>,
    },
    Leave {
        reply: oneshot::Sender<()>,
    },
    UpdateMetadata {
        meta: Bytes,
        reply: oneshot::Sender<Result<(), swim_core::CommandError>>,
    },
    Broadcast {
        key: Option<Bytes>,
        payload: Bytes,
        reply: oneshot::Sender<Result<BroadcastId, swim_core::CommandError>>,
    },
    Send {
        to: SocketAddr,
        payload: Bytes,
        reliable: bool,
        reply: oneshot::Sender<Result<(), SendError>>,
    },
    /// `Swim::ping` (a name) or `Swim::ping_addr` (an address); answered at its
    /// `PingCompleted` with the RTT, or `None` on a timeout.
    Ping {
        target: Result<String, SocketAddr>,
        reply: PingReply,
    },
    Query(Query),
    Mutate(Mutation),
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// Settings the driver needs at run time.
struct Settings {
    connect_timeout: Duration,
    io_timeout: Duration,
    max_inbound: usize,
    max_outbound: usize,
    outbound_queue: usize,
    max_frame: usize,
    metrics_interval: Duration,
}

impl Settings {
    fn from_config(config: &Config) -> Settings {
        Settings {
            connect_timeout: config.connect_timeout(),
            io_timeout: config.io_timeout(),
            max_inbound: config.transport.max_inbound_streams,
            max_outbound: config.transport.max_outbound_streams,
            outbound_queue: config.transport.outbound_queue,
            max_frame: config.swim.limits.max_stream_message_size,
            metrics_interval: config.transport.metrics_interval,
        }
    }
}

/// An event as published: numbered from 1 in publication order.
pub(crate) type Numbered = (u64, Event<SocketAddr>);

/// The event channel, shared by the driver and the handles.
///
/// Every event is numbered and, under the same lock as it is sent, applied to a mirror of the
/// membership ([`MemberView`]), so that the mirror and its number always describe exactly the
/// events published so far. A subscriber that falls behind the channel builds its lag notice
/// from them ([`EventHub::snapshot`]) and then skips the membership events the snapshot
/// already covers. The mirror holds one member per member the core holds (at most
/// `limits.max_members`), kept whether or not anyone subscribes, since a subscriber may come
/// later and fall behind.
///
/// The channel itself is created on the first subscription: a broadcast channel allocates
/// its whole ring of `transport.event_queue` slots up front, and a member nobody listens to
/// should not pay for it.
#[derive(Debug)]
pub(crate) struct EventHub {
    capacity: usize,
    state: Mutex<HubState>,
}

#[derive(Debug, Default)]
struct HubState {
    sender: Option<broadcast::Sender<Numbered>>,
    closed: bool,
    /// The number of the last event published.
    published: u64,
    /// The membership as the events published so far describe it.
    mirror: MemberView<SocketAddr>,
}

impl EventHub {
    pub(crate) fn new(capacity: usize) -> Self {
        EventHub { capacity, state: Mutex::new(HubState::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        // A panic while holding the lock leaves the state consistent: every update is one
        // assignment or one event applied.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new subscription, or `None` once the driver has stopped.
    pub(crate) fn subscribe(&self) -> Option<broadcast::Receiver<Numbered>> {
        let mut state = self.lock();
        if state.closed {
            return None;
        }
        let capacity = self.capacity;
        Some(state.sender.get_or_insert_with(|| broadcast::channel(capacity).0).subscribe())
    }

    /// Number `event`, apply it to the mirror and send it to every subscriber.
    fn publish(&self, event: Event<SocketAddr>) {
        let mut state = self.lock();
        state.published += 1;
        state.mirror.apply(&event);
        if let Some(tx) = &state.sender {
            // Err only means nobody is subscribed right now.
            let _ = tx.send((state.published, event));
        }
    }

    /// The membership as every event published so far describes it, and the number of the
    /// last of those events.
    pub(crate) fn snapshot(&self) -> (u64, Vec<Member<SocketAddr>>) {
        let state = self.lock();
        (state.published, state.mirror.to_vec())
    }

    fn close(&self) {
        let mut state = self.lock();
        state.sender = None;
        state.closed = true;
    }
}

type ReliableReply = oneshot::Sender<Result<(), SendError>>;
type PingReply = oneshot::Sender<Result<Option<Duration>, swim_core::CommandError>>;
/// A stream message to send: its bytes (framed in swim's profile) and how it uses its
/// connection.
type OutboundBytes = (Vec<u8>, StreamRole);

/// An outbound stream task's end: its destination, its outcome (with the reply to a
/// memberlist request) and the reliable send waiting on it.
type OutboundDone = (SocketAddr, Result<Option<(swim_core::RequestId, Vec<u8>)>, Outbound>, Option<ReliableReply>);

pub(crate) struct Driver {
    core: Swim<SocketAddr>,
    /// The instant the core's clock counts from (its `Instant::ZERO`).
    epoch: tokio::time::Instant,
    transport: Box<dyn Transport>,
    /// Which of receiving and accepting the network poll tries first, alternated so neither
    /// can starve the other.
    accept_first: bool,
    commands: mpsc::Receiver<Command>,
    frames_tx: mpsc::Sender<Frame>,
    frames_rx: mpsc::Receiver<Frame>,
    events: Arc<EventHub>,
    settings: Settings,
    metrics: Metrics,
    inbound: JoinSet<Inbound>,
    outbound: JoinSet<OutboundDone>,
    /// Framed stream messages waiting for a connection slot, bounded by `outbound_queue`.
    outbound_waiting: VecDeque<(SocketAddr, OutboundBytes, Option<ReliableReply>)>,
    stats: TransportStats,
    joins: HashMap<JoinId, oneshot::Sender<Result<JoinOutcome, swim_core::CommandError>>>,
    /// Refusals of joins a caller waits for (in `joins`), until their `JoinCompleted`.
    join_refusals: HashMap<JoinId, Vec<(SocketAddr, String)>>,
    /// Why streams to an address failed the transport's handshake while joins were in flight
    /// (at most [`MAX_JOIN_FAILURES`] addresses; emptied when no join is), to tell the caller
    /// of a join that reached nobody why.
    join_failures: HashMap<SocketAddr, String>,
    leave_waiters: Vec<oneshot::Sender<()>>,
    leave_done: bool,
    /// Callers of `Node::ping` waiting for their ping's outcome (at most
    /// `limits.max_pings_in_flight`: the core refuses more).
    pings: HashMap<PingId, PingReply>,
    /// Replies of reliable sends, by the core's message id, waiting for the stream transmit
    /// that carries each in the next drain (at most the commands handled since the last one).
    pending_reliable: HashMap<swim_core::MessageId, ReliableReply>,
    /// Memberlist profile: how to answer the inbound messages being handled, by connection.
    answers: HashMap<ConnectionId, oneshot::Sender<Vec<u8>>>,
    /// The next inbound connection's id (memberlist profile).
    next_connection: u64,
    send_buf: Vec<u8>,
    /// Empty between reads; its capacity (65,536 bytes) is filled by the kernel without
    /// being zeroed first, so only the pages datagrams actually reach become resident.
    recv_buf: Vec<u8>,
    /// The deadline the timer is set to; `None` forces a re-arm.
    armed: Option<swim_core::Instant>,
    next_metrics: swim_core::Instant,
    /// Reading the socket or accepting failed; retried at the next timer expiry so a
    /// persistent error cannot spin the loop.
    udp_paused: bool,
    accept_paused: bool,
}

impl Driver {
    /// A driver for `core`, whose clock started at `epoch`, over `transport` (started), with
    /// `config`'s transport settings and bounds. It serves requests from `commands` and
    /// publishes events to `events`; nothing runs until [`run`](Driver::run).
    pub(crate) fn new(
        core: Swim<SocketAddr>,
        epoch: tokio::time::Instant,
        transport: Box<dyn Transport>,
        config: &Config,
        commands: mpsc::Receiver<Command>,
        events: Arc<EventHub>,
    ) -> Driver {
        let (frames_tx, frames_rx) = mpsc::channel(config.transport.stream_queue);
        Driver {
            core,
            epoch,
            transport,
            accept_first: false,
            commands,
            frames_tx,
            frames_rx,
            events,
            settings: Settings::from_config(config),
            metrics: Metrics::register(&config.name),
            inbound: JoinSet::new(),
            outbound: JoinSet::new(),
            outbound_waiting: VecDeque::new(),
            stats: TransportStats::default(),
            joins: HashMap::new(),
            join_refusals: HashMap::new(),
            join_failures: HashMap::new(),
            leave_waiters: Vec::new(),
            leave_done: false,
            pings: HashMap::new(),
            pending_reliable: HashMap::new(),
            answers: HashMap::new(),
            next_connection: 0,
            send_buf: Vec::with_capacity(config.swim.packet_budget),
            recv_buf: Vec::with_capacity(RECV_BUF),
            armed: None,
            next_metrics: swim_core::Instant::ZERO,
            udp_paused: false,
            accept_paused: false,
        }
    }

    fn now(&self) -> swim_core::Instant {
        swim_core::Instant::from_nanos(u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    fn to_tokio(&self, t: swim_core::Instant) -> tokio::time::Instant {
        let far = self.epoch + Duration::from_secs(86_400 * 365);
        self.epoch.checked_add(Duration::from_nanos(t.as_nanos())).map_or(far, |d| d.min(far))
    }

    /// Run until shut down or until every handle is dropped.
    pub(crate) async fn run(mut self) {
        let sleep = tokio::time::sleep_until(self.to_tokio(self.core.poll_timeout()));
        tokio::pin!(sleep);
        self.drain();
        let mut shutdown_reply = None;
        loop {
            if self.armed.is_none() {
                let deadline = self.core.poll_timeout();
                self.armed = Some(deadline);
                sleep.as_mut().reset(self.to_tokio(deadline));
            }
            let accept = !self.accept_paused && self.inbound.len() < self.settings.max_inbound;
            let recv = !self.udp_paused;
            // Unbiased: tokio polls the branches from a random start each time, so no busy
            // input (a datagram flood, a caller hammering queries) can starve the others.
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown { reply }) => {
                        shutdown_reply = Some(reply);
                        break;
                    }
                    Some(command) => self.on_command(command),
                    None => {
                        debug!("every handle dropped");
                        break;
                    }
                },
                () = &mut sleep => self.on_timer(),
                Some((peer, body, origin)) = self.frames_rx.recv() => self.on_frame(peer, &body, origin),
                Some(done) = self.outbound.join_next(), if !self.outbound.is_empty() => self.on_outbound(done),
                Some(done) = self.inbound.join_next(), if !self.inbound.is_empty() => self.on_inbound(done),
                input = std::future::poll_fn(|cx| {
                    poll_network(&mut *self.transport, cx, &mut self.recv_buf, recv, accept, &mut self.accept_first)
                }), if recv || accept => match input {
                    Network::Packet(received) => self.on_datagram(received),
                    Network::Accepted(accepted) => self.on_accept(accepted),
                },
            }
            self.drain();
        }
        self.teardown(shutdown_reply).await;
    }

    async fn teardown(mut self, reply: Option<oneshot::Sender<()>>) {
        // Abort every stream task and wait for them, so their sockets are closed.
        self.inbound.shutdown().await;
        self.outbound.shutdown().await;
        self.publish_metrics();
        // Subscribers' streams end once every sender is gone.
        self.events.close();
        let Driver { transport, .. } = self;
        drop(transport);
        info!("shut down");
        if let Some(reply) = reply {
            let _ = reply.send(());
        }
    }

    // ------------------------------------------------------------------ inputs

    fn on_command(&mut self, command: Command) {
        self.stats.commands += 1;
        let now = self.now();
        match command {
            Command::Join { seeds, reply } => match self.core.join(now, seeds) {
                Ok(id) => {
                    self.joins.insert(id, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            Command::Leave { reply } => {
                if self.leave_done {
                    let _ = reply.send(());
                    return;
                }
                if !self.core.is_leaving() {
                    info!("leaving");
                }
                // `leave` never fails; a second call does nothing.
                let _ = self.core.leave(now);
                self.leave_waiters.retain(|w| !w.is_closed());
                self.leave_waiters.push(reply);
            }
            Command::UpdateMetadata { meta, reply } => {
                let _ = reply.send(self.core.update_metadata(now, meta));
            }
            Command::Broadcast { key, payload, reply } => {
                let _ = reply.send(self.core.broadcast(now, key.as_deref(), payload));
            }
            Command::Send { to, payload, reliable, reply } => {
                match self.core.send_user_message(now, to, payload, reliable) {
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                    Ok(id) if reliable => {
                        self.pending_reliable.insert(id, reply);
                    }
                    Ok(_) => {
                        let _ = reply.send(Ok(()));
                    }
                }
            }
            Command::Ping { target, reply } => {
                let sent = match target {
                    Ok(name) => self.core.ping(now, &name),
                    Err(addr) => self.core.ping_addr(now, addr),
                };
                match sent {
                    Ok(id) => {
                        // Callers that gave up no longer wait: at most one entry per caller.
                        self.pings.retain(|_, r| !r.is_closed());
                        self.pings.insert(id, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Command::Query(f) => f(&self.core, &self.stats),
            Command::Mutate(f) => f(&mut self.core),
            // The loop intercepts shutdown before calling here.
            Command::Shutdown { .. } => {}
        }
    }

    fn on_timer(&mut self) {
        let now = self.now();
        self.core.handle_timeout(now);
        self.armed = None;
        self.udp_paused = false;
        self.accept_paused = false;
        if now >= self.next_metrics {
            self.next_metrics = now + self.settings.metrics_interval;
            self.publish_metrics();
        }
    }

    fn on_datagram(&mut self, received: io::Result<SocketAddr>) {
        match received {
            Ok(from) => {
                let now = self.now();
                let len = self.recv_buf.len();
                if let Err(e) = self.core.handle_datagram(now, from, &self.recv_buf) {
                    trace!(%from, len, error = %e, "datagram rejected");
                }
                self.recv_buf.clear();
            }
            Err(e) => {
                self.stats.udp_recv_errors += 1;
                debug!(error = %e, "receiving a packet failed; retrying at the next timer");
                self.udp_paused = true;
            }
        }
    }

    fn on_frame(&mut self, peer: SocketAddr, body: &[u8], origin: Origin) {
        let now = self.now();
        let handled = match origin {
            Origin::Frame => self.core.handle_stream(now, peer, body),
            Origin::Connection(conn, answer) => {
                // Answered (or dropped, letting the connection's task read on) in `drain`.
                self.answers.insert(conn, answer);
                self.core.handle_stream_on(now, peer, conn, body)
            }
        };
        if let Err(e) = handled {
            debug!(%peer, len = body.len(), error = %e, "stream message rejected");
        }
    }

    fn on_accept(&mut self, accepted: io::Result<(BoxStream, SocketAddr)>) {
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Usually out of file descriptors; accepting again at once would spin.
                warn!(error = %e, "accepting a stream failed; retrying at the next timer");
                self.accept_paused = true;
                return;
            }
        };
        self.stats.streams_accepted += 1;
        let span = tracing::debug_span!("inbound_stream", %peer);
        let (io, frames) = (self.settings.io_timeout, self.frames_tx.clone());
        match self.core.stream_framing() {
            StreamFraming::Frames => {
                let task = stream::read(stream, peer, self.settings.max_frame, io, frames);
                self.inbound.spawn(task.instrument(span));
            }
            framing => {
                let conn = ConnectionId(self.next_connection);
                self.next_connection += 1;
                let task = stream::read_messages(stream, peer, conn, framing, io, frames);
                self.inbound.spawn(task.instrument(span));
            }
        }
        if self.inbound.len() >= self.settings.max_inbound {
            // Accepting pauses until a stream ends; newcomers wait in the kernel's queue.
            self.stats.inbound_limit_reached += 1;
            debug!(limit = self.settings.max_inbound, "inbound stream limit reached; accepting paused");
        }
    }

    fn on_inbound(&mut self, done: Result<Inbound, tokio::task::JoinError>) {
        match done {
            Ok(Inbound::Closed { frames }) => trace!(frames, "inbound stream closed"),
            Ok(Inbound::TimedOut) => {
                self.stats.inbound_timeouts += 1;
                debug!("inbound stream timed out");
            }
            Ok(Inbound::TooLarge(e)) => {
                self.stats.inbound_too_large += 1;
                debug!(error = %e, "inbound stream frame refused");
            }
            Ok(Inbound::Io(e)) => {
                self.stats.inbound_io_errors += 1;
                debug!(error = %e, "inbound stream failed");
            }
            Ok(Inbound::DriverGone) => {}
            Err(e) if e.is_cancelled() => {}
            Err(e) => warn!(error = %e, "inbound stream task panicked"),
        }
    }

    fn on_outbound(&mut self, done: Result<OutboundDone, tokio::task::JoinError>) {
        let (dest, result, reply) = match done {
            Ok(d) => d,
            Err(e) => {
                if !e.is_cancelled() {
                    warn!(error = %e, "outbound stream task panicked");
                }
                self.start_queued_streams();
                return;
            }
        };
        self.start_queued_streams();
        let failure = match result {
            Ok(answer) => {
                self.stats.outbound_delivered += 1;
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(()));
                }
                // The run loop drains the core after this input.
                if let Some((request, body)) = answer {
                    let now = self.now();
                    if let Err(e) = self.core.handle_stream_reply(now, dest, request, &body) {
                        debug!(%dest, len = body.len(), error = %e, "stream reply rejected");
                    }
                }
                return;
            }
            Err(Outbound::Reply(source)) => {
                // Counted with write errors: the exchange the stream was for did not complete.
                self.stats.outbound_write_errors += 1;
                debug!(%dest, error = %source, "no reply to a stream request");
                SendError::Write { addr: dest, source }
            }
            Err(Outbound::Connect(source)) => {
                self.stats.outbound_connect_errors += 1;
                debug!(%dest, error = %source, "stream connect failed");
                SendError::Connect { addr: dest, source }
            }
            Err(Outbound::Write(source)) => {
                self.stats.outbound_write_errors += 1;
                debug!(%dest, error = %source, "stream write failed");
                SendError::Write { addr: dest, source }
            }
        };
        // A handshake refusal (the transport reports it as invalid data: a TLS alert or an
        // untrusted certificate) is worth telling a joiner; a refused or timed-out connect
        // is what NoneReached already says.
        if let SendError::Connect { source, .. } = &failure
            && source.kind() == io::ErrorKind::InvalidData
            && !self.joins.is_empty()
            && (self.join_failures.len() < MAX_JOIN_FAILURES || self.join_failures.contains_key(&dest))
        {
            self.join_failures.insert(dest, source.to_string());
        }
        let now = self.now();
        self.core.handle_stream_failed(now, &dest);
        if let Some(reply) = reply {
            let _ = reply.send(Err(failure));
        }
    }

    // ------------------------------------------------------------------ outputs

    /// Drain the core after an input: transmits, then events, then the timer.
    fn drain(&mut self) {
        while let Some(t) = self.core.poll_transmit(&mut self.send_buf) {
            match (t.kind, t.stream) {
                (TransmitKind::Datagram, _) => self.send_datagram(t.destination, t.len),
                (TransmitKind::Stream, StreamRole::Reply(conn)) => {
                    if let Some(answer) = self.answers.remove(&conn) {
                        let _ = answer.send(self.send_buf[..t.len].to_vec());
                    }
                }
                (TransmitKind::Stream, role) => self.send_stream(t.destination, t.len, t.message, role),
            }
        }
        // Messages the core did not answer: their connections read on.
        self.answers.clear();
        while let Some(event) = self.core.poll_event() {
            self.on_event(event);
        }
        for (_, reply) in self.pending_reliable.drain() {
            // The core accepted the message but produced no transmit for it: it was dropped
            // at the transmit-queue bound.
            let _ = reply.send(Err(SendError::Rejected(swim_core::CommandError::TransmitQueueFull)));
        }
        if self.armed != Some(self.core.poll_timeout()) {
            self.armed = None;
        }
    }

    fn send_datagram(&mut self, dest: SocketAddr, len: usize) {
        if let Err(e) = self.transport.send_packet(dest, &self.send_buf[..len]) {
            self.stats.udp_send_errors += 1;
            debug!(%dest, error = %e, "datagram not sent");
        }
    }

    fn send_stream(&mut self, dest: SocketAddr, len: usize, message: Option<swim_core::MessageId>, role: StreamRole) {
        let reply = message.and_then(|id| self.pending_reliable.remove(&id));
        // swim's own messages go in a frame; memberlist's are written as they are.
        let framed = match self.core.stream_framing() {
            StreamFraming::Frames => stream::framed(&self.send_buf[..len]),
            StreamFraming::Memberlist { .. } => self.send_buf[..len].to_vec(),
        };
        let framed = (framed, role);
        if self.outbound.len() < self.settings.max_outbound {
            self.spawn_stream(dest, framed, reply);
        } else if self.outbound_waiting.len() < self.settings.outbound_queue {
            self.outbound_waiting.push_back((dest, framed, reply));
        } else {
            self.stats.outbound_overloaded += 1;
            debug!(%dest, "outbound stream slots and queue full; message dropped");
            if let Some(reply) = reply {
                let _ = reply.send(Err(SendError::Overloaded));
            }
            let now = self.now();
            self.core.handle_stream_failed(now, &dest);
        }
    }

    /// Start waiting stream messages while connection slots are free.
    fn start_queued_streams(&mut self) {
        while self.outbound.len() < self.settings.max_outbound {
            let Some((dest, framed, reply)) = self.outbound_waiting.pop_front() else { break };
            self.spawn_stream(dest, framed, reply);
        }
    }

    fn spawn_stream(&mut self, dest: SocketAddr, (bytes, role): OutboundBytes, reply: Option<ReliableReply>) {
        let len = bytes.len();
        let (connect, io) = (self.settings.connect_timeout, self.settings.io_timeout);
        let span = tracing::debug_span!("outbound_stream", %dest, len);
        let connecting = self.transport.connect(dest);
        let framing = self.core.stream_framing();
        self.outbound.spawn(
            async move {
                let result = match role {
                    StreamRole::Request(request) => stream::request(connecting, bytes, framing, connect, io)
                        .await
                        .map(|answer| Some((request, answer))),
                    _ => stream::send(connecting, bytes, connect, io).await.map(|()| None),
                };
                (dest, result, reply)
            }
            .instrument(span),
        );
    }

    fn on_event(&mut self, event: Event<SocketAddr>) {
        log_event(&event);
        match &event {
            Event::JoinCompleted { join, reached, attempted } => {
                let refused = self.join_refusals.remove(join).unwrap_or_default();
                let handshake_failures = self.join_failures.iter().map(|(a, why)| (*a, why.clone())).collect();
                if let Some(reply) = self.joins.remove(join) {
                    let outcome = JoinOutcome { reached: *reached, attempted: *attempted, refused, handshake_failures };
                    let _ = reply.send(Ok(outcome));
                }
                if self.joins.is_empty() {
                    self.join_failures.clear();
                }
            }
            Event::JoinRefused { join, seed, reason } if self.joins.contains_key(join) => {
                self.join_refusals.entry(*join).or_default().push((*seed, reason.reason.clone()));
            }
            Event::PingCompleted { id, rtt, .. } => {
                if let Some(reply) = self.pings.remove(id) {
                    let _ = reply.send(Ok(*rtt));
                }
            }
            Event::LeaveCompleted => {
                self.leave_done = true;
                for w in self.leave_waiters.drain(..) {
                    let _ = w.send(());
                }
            }
            _ => {}
        }
        self.events.publish(event);
    }

    fn publish_metrics(&self) {
        let core = &self.core;
        self.metrics.publish(&Snapshot {
            core: core.stats(),
            transport: &self.stats,
            members: core.num_members(),
            members_known: core.table_len() + 1,
            health: core.health_score(),
            queues: core.queue_depth(),
            streams: (self.inbound.len(), self.outbound.len()),
            memory: core.memory_usage().total(),
        });
    }
}

/// An input from the transport.
enum Network {
    Packet(io::Result<SocketAddr>),
    Accepted(io::Result<(BoxStream, SocketAddr)>),
}

/// Poll the transport for a packet (when `recv`) and an inbound stream (when `accept`),
/// trying them in turns so a flood of one cannot starve the other.
fn poll_network(
    transport: &mut dyn Transport,
    cx: &mut std::task::Context<'_>,
    buf: &mut Vec<u8>,
    recv: bool,
    accept: bool,
    accept_first: &mut bool,
) -> std::task::Poll<Network> {
    use std::task::Poll;
    *accept_first = !*accept_first;
    for turn in [*accept_first, !*accept_first] {
        if turn && accept {
            if let Poll::Ready(a) = transport.poll_accept(cx) {
                return Poll::Ready(Network::Accepted(a));
            }
        } else if !turn
            && recv
            && let Poll::Ready(p) = transport.poll_recv_packet(cx, buf)
        {
            return Poll::Ready(Network::Packet(p));
        }
    }
    Poll::Pending
}

fn log_event(event: &Event<SocketAddr>) {
    match event {
        Event::MemberJoined(m) => debug!(member = %m.name, addr = %m.addr, "member joined"),
        Event::MemberUpdated(m) => debug!(member = %m.name, addr = %m.addr, "member updated"),
        Event::MemberSuspected { member, accuser } => {
            info!(member = %member.name, addr = %member.addr, %accuser, "member suspected")
        }
        Event::MemberFailed(m) => info!(member = %m.name, addr = %m.addr, "member failed"),
        Event::MemberLeft(m) => info!(member = %m.name, addr = %m.addr, "member left"),
        Event::MemberAlive(m) => info!(member = %m.name, addr = %m.addr, "member alive again"),
        Event::MemberRemoved(m) => debug!(member = %m.name, "member removed"),
        Event::MemberHeldDown(m) => warn!(member = %m.name, addr = %m.addr, "member held down: it keeps flapping"),
        Event::MemberReadmitted(m) => info!(member = %m.name, addr = %m.addr, "member readmitted after its hold-down"),
        Event::AddressConflict { name, existing, claimed } => {
            warn!(member = %name, %existing, %claimed, "two addresses claim one name; ignored the newer claim")
        }
        Event::UserMessage { sender, payload, .. } => trace!(%sender, len = payload.len(), "user message"),
        Event::UserBroadcast { origin, payload } => trace!(%origin, len = payload.len(), "user broadcast"),
        Event::HealthChanged { score } => debug!(score, "local health changed"),
        Event::JoinCompleted { reached, attempted, .. } => info!(reached, attempted, "join completed"),
        Event::JoinRetrying { attempt, delay, .. } => {
            warn!(attempt, delay_ms = delay.as_millis() as u64, "join reached no seed; retrying")
        }
        Event::JoinGaveUp { attempts, .. } => warn!(attempts, "join reached no seed; gave up"),
        Event::MemberRefused { name, addr, reason } => debug!(member = %name, %addr, %reason, "member refused"),
        Event::MergeRefused { from, reason } => info!(%from, %reason, "push-pull state refused"),
        Event::JoinRefused { seed, reason, .. } => warn!(%seed, %reason, "join refused by seed"),
        Event::PingCompleted { id, addr, rtt, .. } => {
            debug!(id = id.0, %addr, rtt_us = rtt.map(|d| d.as_micros() as u64), "ping completed")
        }
        Event::LeaveCompleted => info!("leave notice spread"),
        Event::Lagged { dropped, members } => warn!(
            dropped,
            members = members.len(),
            "events were drained late (limits.max_pending_events); subscribers get a snapshot"
        ),
    }
}
