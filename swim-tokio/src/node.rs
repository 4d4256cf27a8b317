//! [`Node`], the handle to a running member, and [`Events`], its event stream.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use swim_core::hooks::Hooks;
use swim_core::security::{Fingerprint, Key, KeyError, Keyring};
use swim_core::{BroadcastId, Bytes, Coordinate, Identity, MemoryUsage, Swim};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_stream::Stream;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tracing::{Instrument, info, warn};

use crate::allowlist::Allowlist;
use crate::config::Config;
use crate::driver::{Command, Driver, EventHub, JoinOutcome, Numbered};
use crate::error::{
    Closed, CommandError, JoinError, KeyringError, LabelError, LeaveError, PingError, SendError, StartError,
};
use crate::metrics::{Metrics, TransportStats};
use crate::resolve::{self, Seed};
use crate::transport::{self, NetTransport, Transport};
use crate::{Event, Member};

/// A running member: the handle to its driver task.
///
/// [`start`](Node::start) binds the sockets and spawns the task that owns the protocol
/// core; every method sends it a request through a bounded channel. Clones are cheap and
/// share the member. The member stops on [`shutdown`](Node::shutdown), or when the last
/// handle is dropped (like a crash: no leave notice is sent, the sockets close).
///
/// The methods mirror memberlist's: `Create` is [`start`](Node::start), `Join`
/// [`join`](Node::join), `Members` [`members`](Node::members), `LocalNode`
/// [`local_member`](Node::local_member), `NumMembers` [`num_members`](Node::num_members),
/// `UpdateNode` [`update_metadata`](Node::update_metadata), `SendBestEffort` and
/// `SendReliable` [`send_best_effort`](Node::send_best_effort) and
/// [`send_reliable`](Node::send_reliable), `Leave` [`leave`](Node::leave), `Shutdown`
/// [`shutdown`](Node::shutdown), `GetHealthScore` [`health_score`](Node::health_score),
/// `Ping` [`ping`](Node::ping) (and [`ping_addr`](Node::ping_addr));
/// the event delegate is the [`events`](Node::events) stream.
#[derive(Clone, Debug)]
pub struct Node {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    commands: mpsc::Sender<Command>,
    events: Arc<EventHub>,
    name: String,
    local_addr: SocketAddr,
    advertise_addr: SocketAddr,
    resolve_timeout: Duration,
    max_addrs_per_seed: usize,
    driver: Mutex<Option<JoinHandle<()>>>,
}

/// Counters and sizes of one member, from [`Node::stats`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStats {
    /// The protocol's counters.
    pub core: swim_core::Stats,
    /// The transport's counters.
    pub transport: TransportStats,
    /// Alive and suspect members, self included.
    pub members: usize,
    /// Members known in any state, self included.
    pub members_known: usize,
    /// Lifeguard local health score.
    pub health_score: u32,
    /// Membership updates and user broadcasts waiting to be gossiped.
    pub queue_depth: (usize, usize),
    /// The core's estimate of its heap use.
    pub memory: MemoryUsage,
}

impl Node {
    /// Bind UDP and TCP on `config.bind_addr` and start the member's driver task.
    ///
    /// The member is alone until [`join`](Node::join) is called (or another member joins
    /// it). Must be called from within a tokio runtime (any flavour). Nothing is left running
    /// when it fails.
    pub async fn start(config: Config) -> Result<Node, StartError> {
        Ok(Node::launch(config, None, false, None)?.0)
    }

    /// [`start`](Node::start), and subscribe to the member's events before its driver runs,
    /// so that no event is missed (a member that joins this one at once, say). memberlist's
    /// equivalent is setting `Config.Events` before `Create`. [`events`](Node::events) only
    /// sees events from the moment it is called.
    pub async fn start_with_events(config: Config) -> Result<(Node, Events), StartError> {
        let (node, events) = Node::launch(config, None, true, None)?;
        // `launch` returns a subscription whenever it is asked for one.
        let events = events.unwrap_or_else(|| node.events());
        Ok((node, events))
    }

    /// [`start_with_events`](Node::start_with_events) with the application's `hooks`
    /// installed in the core (see [`swim_core::hooks`]): its push-pull state, broadcast
    /// verdicts and finished notices, admission of members and merges, and address allowlist.
    /// The hooks run in the member's driver task, synchronously, from the input that needs
    /// their answer: keep them quick and never block in them (a slow hook delays acks, as a
    /// starved process does). To reach the application's own state from elsewhere, share it
    /// (`Arc<Mutex<..>>`) between the hooks and the rest of the program. With
    /// `config.cidrs_allowed` set, the allowlist is checked before `hooks.allow_address`.
    pub async fn start_with_hooks(
        config: Config,
        hooks: impl Hooks<SocketAddr> + 'static,
    ) -> Result<(Node, Events), StartError> {
        let (node, events) = Node::launch(config, None, true, Some(Box::new(hooks)))?;
        // `launch` returns a subscription whenever it is asked for one.
        let events = events.unwrap_or_else(|| node.events());
        Ok((node, events))
    }

    /// [`start_with_events`](Node::start_with_events) over `transport` in place of the default
    /// [`NetTransport`](crate::transport::NetTransport) (UDP and TCP on `config.bind_addr`),
    /// for example a [`TlsTransport`](crate::transport::TlsTransport). The transport is
    /// already bound: `config.bind_addr` is not used, and the member advertises
    /// `config.advertise_addr` or else the transport's
    /// [`local_addr`](crate::transport::Transport::local_addr).
    /// `config.transport.udp_recv_buffer` is the default transport's and is not used either;
    /// every other knob of [`TransportConfig`](crate::TransportConfig) applies as with
    /// [`start`](Node::start).
    pub async fn start_with_transport(config: Config, transport: impl Transport) -> Result<(Node, Events), StartError> {
        let (node, events) = Node::launch(config, Some(Box::new(transport)), true, None)?;
        // `launch` returns a subscription whenever it is asked for one.
        let events = events.unwrap_or_else(|| node.events());
        Ok((node, events))
    }

    /// [`start_with_transport`](Node::start_with_transport) with the application's `hooks`
    /// installed, as [`start_with_hooks`](Node::start_with_hooks) installs them.
    pub async fn start_with_transport_and_hooks(
        config: Config,
        transport: impl Transport,
        hooks: impl Hooks<SocketAddr> + 'static,
    ) -> Result<(Node, Events), StartError> {
        let (node, events) = Node::launch(config, Some(Box::new(transport)), true, Some(Box::new(hooks)))?;
        // `launch` returns a subscription whenever it is asked for one.
        let events = events.unwrap_or_else(|| node.events());
        Ok((node, events))
    }

    fn launch(
        config: Config,
        transport: Option<Box<dyn Transport>>,
        subscribe: bool,
        hooks: Option<Box<dyn Hooks<SocketAddr>>>,
    ) -> Result<(Node, Option<Events>), StartError> {
        if let Some(field) = config.transport.zero_field() {
            return Err(StartError::Transport(field));
        }
        config.swim.validate().map_err(swim_core::NewError::from)?;
        let (mut transport, recv_buffer): (Box<dyn Transport>, _) = match transport {
            Some(t) => (t, None),
            None => {
                let net = NetTransport::bind(config.bind_addr, config.transport.udp_recv_buffer)?;
                let granted = net.udp_recv_buffer();
                (Box::new(net), Some(granted))
            }
        };
        let local_addr = transport.local_addr();
        let advertise = advertise_addr(&config, local_addr)?;
        let incarnation = config.incarnation.unwrap_or_else(unix_seconds);
        let identity =
            Identity::new(config.name.as_str(), advertise).with_meta(config.meta.clone()).with_incarnation(incarnation);
        let seed = config.seed.unwrap_or_else(random_seed);
        let epoch = tokio::time::Instant::now();
        let mut core = Swim::with_wire(config.swim.clone(), identity, seed, swim_core::Instant::ZERO)?;
        if let Some(enc) = &config.encryption {
            let mut keys = enc.keys.iter().cloned();
            let primary = keys.next().ok_or(StartError::Keys("no key given"))?;
            // Nonces must never repeat under a key: their prefix comes from the OS, not the seed.
            let mut ring = Keyring::new(enc.cipher, primary, random_seed().to_le_bytes());
            for k in keys {
                ring.add(k).map_err(|_| StartError::Keys("more keys than a keyring holds (16)"))?;
            }
            core.set_keyring(Some(ring));
            core.set_plaintext(enc.accept_plaintext, enc.send_plaintext);
        }
        if let Some((primary, rest)) = config.memberlist_keys.split_first() {
            use swim_core::wire::memberlist::profile::MemberlistKeyring;
            const BAD: &str = "memberlist keys are 16, 24 or 32 bytes";
            // Nonces must never repeat under a key: their prefix comes from the OS, not the seed.
            let mut ring =
                MemberlistKeyring::new(primary, random_seed().to_le_bytes()).map_err(|_| StartError::Keys(BAD))?;
            for k in rest {
                if !ring.add(k).map_err(|_| StartError::Keys(BAD))? {
                    return Err(StartError::Keys("a memberlist key twice, or more than 16"));
                }
            }
            if !core.set_memberlist_keyring(Some(ring)) {
                return Err(StartError::Keys("memberlist keys need the memberlist wire profile"));
            }
        }
        let hooks = match (&config.cidrs_allowed, hooks) {
            (Some(nets), inner) => Some(Allowlist::wrap(nets.clone(), inner)),
            (None, inner) => inner,
        };
        if let Some(hooks) = hooks {
            core.set_boxed_hooks(hooks);
        }

        let (commands_tx, commands) = mpsc::channel(config.transport.command_queue);
        let events = Arc::new(EventHub::new(config.transport.event_queue));
        let span = tracing::info_span!("swim", member = %config.name);
        transport.start(advertise).map_err(|source| StartError::Bind {
            protocol: "transport",
            addr: local_addr,
            source,
        })?;
        span.in_scope(
            || info!(bind = %local_addr, advertise = %advertise, incarnation, udp_recv_buffer = recv_buffer, "started"),
        );
        if let Some(granted) = recv_buffer.filter(|g| *g < config.transport.udp_recv_buffer) {
            span.in_scope(|| {
                tracing::debug!(
                    asked = config.transport.udp_recv_buffer,
                    granted,
                    "UDP receive buffer capped by the OS (net.core.rmem_max)"
                )
            });
        }
        let driver = Driver::new(core, epoch, transport, &config, commands, events.clone());
        let first = subscribe.then(|| Events::from_subscription(&events, &config.name));
        let handle = tokio::spawn(driver.run().instrument(span));
        let node = Node {
            inner: Arc::new(Inner {
                commands: commands_tx,
                events,
                name: config.name,
                local_addr,
                advertise_addr: advertise,
                resolve_timeout: config.transport.resolve_timeout,
                max_addrs_per_seed: config.transport.max_addrs_per_seed,
                driver: Mutex::new(Some(handle)),
            }),
        };
        Ok((node, first))
    }

    /// This member's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The address the sockets are bound to (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The address other members reach this one at.
    pub fn advertise_addr(&self) -> SocketAddr {
        self.inner.advertise_addr
    }

    /// Join a cluster through `seeds`: resolve them (names through DNS; a seed without a port
    /// uses this member's port), exchange full state with each over TCP, and return how many
    /// answered. Seeds that do not answer count as unreached once the connection fails or
    /// `stream_timeout` passes.
    ///
    /// Fails with [`JoinError::NoneReached`] when no seed answered, listing what was tried,
    /// with [`JoinError::Refused`] when every seed that answered refused this member (the
    /// cluster's admission hook said no; not retried in the background), and with
    /// [`JoinError::Handshake`] when every seed refused it at the transport's handshake (the
    /// TLS transport: an untrusted certificate).
    /// Seeds that did not resolve are skipped (and listed in that error) as long as one did.
    /// With `config.swim.join_retry` on (the presets), the member then keeps retrying the
    /// resolved addresses in the background (events `JoinRetrying`, `JoinCompleted`,
    /// `JoinGaveUp`): do not retry `NoneReached` yourself as well. Names are resolved once per
    /// call; call `join` again to look them up anew.
    ///
    /// ```no_run
    /// # async fn f(node: swim_tokio::Node) -> Result<(), swim_tokio::JoinError> {
    /// let reached = node.join(["10.0.0.1:7946", "node-2.example:7946"]).await?;
    /// println!("joined through {reached} seeds");
    /// # Ok(()) }
    /// ```
    pub async fn join<I, S>(&self, seeds: I) -> Result<usize, JoinError>
    where
        I: IntoIterator<Item = S>,
        S: Into<Seed>,
    {
        let seeds: Vec<Seed> = seeds.into_iter().map(Into::into).collect();
        if seeds.is_empty() {
            return Err(JoinError::NoSeeds);
        }
        let inner = &self.inner;
        let (addrs, unresolved) = resolve::resolve(
            seeds,
            inner.local_addr,
            inner.advertise_addr.port(),
            inner.resolve_timeout,
            inner.max_addrs_per_seed,
        )
        .await;
        if addrs.is_empty() {
            return Err(JoinError::Resolve(unresolved));
        }
        for f in &unresolved {
            warn!(member = %inner.name, seed = %f.seed, reason = %f.reason, "seed not resolved");
        }
        let contacted: Vec<SocketAddr> = addrs.iter().copied().filter(|a| *a != inner.advertise_addr).collect();
        let outcome =
            self.request(|reply| Command::Join { seeds: addrs, reply }).await?.map_err(JoinError::Rejected)?;
        match outcome {
            JoinOutcome { attempted: 0, .. } => Err(JoinError::OnlySelf),
            JoinOutcome { reached: 0, refused, .. } if !refused.is_empty() => {
                Err(JoinError::Refused { reason: refused[0].1.clone(), refusals: refused })
            }
            JoinOutcome { reached: 0, handshake_failures, .. }
                if !contacted.is_empty()
                    && contacted.iter().all(|c| handshake_failures.iter().any(|(a, _)| a == c)) =>
            {
                let failures = handshake_failures.into_iter().filter(|(a, _)| contacted.contains(a)).collect();
                Err(JoinError::Handshake { failures })
            }
            JoinOutcome { reached: 0, .. } => Err(JoinError::NoneReached { contacted, unresolved }),
            JoinOutcome { reached, .. } => Ok(reached),
        }
    }

    /// The live (alive or suspect) members, this one first, as memberlist's `Members`.
    pub async fn members(&self) -> Result<Vec<Member>, Closed> {
        self.query(|core, _| core.members().filter(|m| !m.state.is_gone()).cloned().collect()).await
    }

    /// Every member this one knows, in any state (failed and left members stay until their
    /// retention time ends), this one first.
    pub async fn all_members(&self) -> Result<Vec<Member>, Closed> {
        self.query(|core, _| core.members().cloned().collect()).await
    }

    /// One member by name, in any state.
    pub async fn member(&self, name: &str) -> Result<Option<Member>, Closed> {
        let name = name.to_owned();
        self.query(move |core, _| core.member(&name).cloned()).await
    }

    /// This member as the cluster sees it (name, address, metadata, incarnation, state).
    pub async fn local_member(&self) -> Result<Member, Closed> {
        self.query(|core, _| core.local().clone()).await
    }

    /// Alive and suspect members, this one included.
    pub async fn num_members(&self) -> Result<usize, Closed> {
        self.query(|core, _| core.num_members()).await
    }

    /// Lifeguard's local health score: 0 is healthy; higher means this member has recently
    /// missed acks or had to refute suspicions, and its probe timers are stretched by
    /// `score + 1`.
    pub async fn health_score(&self) -> Result<u32, Closed> {
        self.query(|core, _| core.health_score()).await
    }

    /// Counters, queue depths and memory.
    pub async fn stats(&self) -> Result<NodeStats, Closed> {
        self.query(|core, transport| NodeStats {
            core: core.stats().clone(),
            transport: transport.clone(),
            members: core.num_members(),
            members_known: core.table_len() + 1,
            health_score: core.health_score(),
            queue_depth: core.queue_depth(),
            memory: core.memory_usage(),
        })
        .await
    }

    /// Subscribe to this member's events from now on (events from the very start:
    /// [`start_with_events`](Node::start_with_events)). Each subscriber gets every event; one
    /// that falls `transport.event_queue` events behind gets an [`Event::Lagged`] with a
    /// snapshot of the membership instead of the events it missed (see [`Events`]). The
    /// stream ends when the member shuts down.
    pub fn events(&self) -> Events {
        Events::from_subscription(&self.inner.events, &self.inner.name)
    }

    /// Replace this member's metadata (at most `max_metadata_size` bytes) and gossip it with
    /// a new incarnation. Returns once the core has queued it.
    pub async fn update_metadata(&self, meta: impl Into<Bytes>) -> Result<(), CommandError> {
        let meta = meta.into();
        Ok(self.request(|reply| Command::UpdateMetadata { meta, reply }).await??)
    }

    /// Gossip `payload` to every member (delivered once each as [`Event::UserBroadcast`]).
    /// A later broadcast with the same `key`, from this member or any other, replaces this one
    /// where it still waits in a queue. At most `limits.max_user_broadcast_size` bytes. Returns
    /// its id, which `Hooks::broadcast_finished` is told when it leaves this member's queue.
    pub async fn broadcast(&self, key: Option<&[u8]>, payload: impl Into<Bytes>) -> Result<BroadcastId, CommandError> {
        let key = key.map(Bytes::copy_from_slice);
        let payload = payload.into();
        Ok(self.request(|reply| Command::Broadcast { key, payload, reply }).await??)
    }

    /// Send `payload` to the member at `to` in one datagram (with gossip piggybacked), best
    /// effort: it may be lost. It must fit in one datagram with the sender's name.
    pub async fn send_best_effort(&self, to: SocketAddr, payload: impl Into<Bytes>) -> Result<(), CommandError> {
        let payload = payload.into();
        self.request(|reply| Command::Send { to, payload, reliable: false, reply }).await?.map_err(|e| match e {
            SendError::Rejected(e) => CommandError::Rejected(e),
            _ => CommandError::Closed(Closed),
        })
    }

    /// Send `payload` to the member at `to` over TCP and wait until it was written and the
    /// connection closed cleanly. Messages travel on a connection each, so two messages may
    /// arrive in either order. At most `limits.max_user_message_size` bytes.
    pub async fn send_reliable(&self, to: SocketAddr, payload: impl Into<Bytes>) -> Result<(), SendError> {
        let payload = payload.into();
        self.request(|reply| Command::Send { to, payload, reliable: true, reply }).await?
    }

    /// Ping member `name` once, outside the probe cycle (memberlist's `Ping`), and return
    /// the round-trip time: from the driver handling the request to the ack. Fails with
    /// [`PingError::Timeout`] when no ack came within the probe timeout in force
    /// (`config.swim.probe_timeout`, scaled by the health score), and with
    /// [`PingError::Rejected`] for a name that is not a live member. With
    /// `config.swim.coordinates` on, the RTT also updates this member's coordinate.
    pub async fn ping(&self, name: &str) -> Result<Duration, PingError> {
        self.ping_target(Ok(name.to_string())).await
    }

    /// Ping whatever member listens at `addr`, known or not (a member of this version or later
    /// answers; an older one does not, and the ping times out). As [`ping`](Node::ping)
    /// otherwise.
    pub async fn ping_addr(&self, addr: SocketAddr) -> Result<Duration, PingError> {
        self.ping_target(Err(addr)).await
    }

    async fn ping_target(&self, target: Result<String, SocketAddr>) -> Result<Duration, PingError> {
        let timeout = self.query(|core, _| core.probe_timeout()).await?;
        // The core answers every ping by its timeout; this outer bound only covers an answer
        // lost on the way (an event dropped at `limits.max_pending_events`).
        let request = self.request(|reply| Command::Ping { target, reply });
        match tokio::time::timeout(timeout * 2 + Duration::from_secs(1), request).await {
            Ok(answer) => answer??.ok_or(PingError::Timeout(timeout)),
            Err(_) => Err(PingError::Timeout(timeout)),
        }
    }

    /// This member's network coordinate, with `config.swim.coordinates` on (else `None`);
    /// see swim-core's `coordinates` module and docs/coordinates.md.
    pub async fn coordinate(&self) -> Result<Option<Coordinate>, Closed> {
        self.query(|core, _| core.coordinate().copied()).await
    }

    /// The last coordinate member `name` sent this one (its own for this member's name).
    pub async fn coordinate_of(&self, name: &str) -> Result<Option<Coordinate>, Closed> {
        let name = name.to_string();
        self.query(move |core, _| core.coordinate_of(&name).copied()).await
    }

    /// The round-trip time between members `a` and `b` (either may be this member) as their
    /// coordinates estimate it; `None` unless both are known here.
    pub async fn estimate_rtt(&self, a: &str, b: &str) -> Result<Option<Duration>, Closed> {
        let (a, b) = (a.to_string(), b.to_string());
        self.query(move |core, _| core.estimate_rtt(&a, &b)).await
    }

    /// Leave the cluster gracefully: gossip a leave notice and stop probing, then wait until
    /// the notice has been sent as often as any update is (or `timeout` passes). Other
    /// members then report [`Event::MemberLeft`] rather than a failure. The member keeps
    /// answering until [`shutdown`](Node::shutdown); after a leave it cannot join again.
    pub async fn leave(&self, timeout: Duration) -> Result<(), LeaveError> {
        let wait = async {
            let (tx, rx) = oneshot::channel();
            self.inner.commands.send(Command::Leave { reply: tx }).await.map_err(|_| Closed)?;
            rx.await.map_err(|_| Closed)
        };
        match tokio::time::timeout(timeout, wait).await {
            Err(_) => Err(LeaveError::Timeout(timeout)),
            Ok(r) => Ok(r?),
        }
    }

    /// Stop the member: end the driver task and every stream task, and close every socket,
    /// then return. No leave notice is sent (call [`leave`](Node::leave) first for that):
    /// to the others this looks like a crash. Calling it again, or on a clone, is harmless.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.inner.commands.send(Command::Shutdown { reply: tx }).await.is_ok() {
            let _ = rx.await;
        }
        let handle = self.inner.driver.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle
            && let Err(e) = handle.await
            && e.is_panic()
        {
            tracing::error!(member = %self.inner.name, error = %e, "driver task panicked");
        }
    }

    /// Whether the driver task is still running.
    pub fn is_running(&self) -> bool {
        !self.inner.commands.is_closed()
    }

    async fn request<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, Closed> {
        let (tx, rx) = oneshot::channel();
        self.inner.commands.send(make(tx)).await.map_err(|_| Closed)?;
        rx.await.map_err(|_| Closed)
    }

    /// Add a key for decryption (step 1 of a rotation: do it on every member first).
    pub async fn add_key(&self, key: Key) -> Result<(), KeyringError> {
        self.keyring(move |ring| ring.add(key)).await
    }

    /// Make a key already added the one that encrypts (step 2 of a rotation).
    pub async fn use_key(&self, key: Key) -> Result<(), KeyringError> {
        self.keyring(move |ring| ring.make_primary(&key)).await
    }

    /// Remove a key that is not the primary (step 3 of a rotation).
    pub async fn remove_key(&self, key: Key) -> Result<(), KeyringError> {
        self.keyring(move |ring| ring.remove(&key)).await
    }

    /// Fingerprints of the keys held, primary first: compare them across members before
    /// promoting a new key.
    pub async fn key_fingerprints(&self) -> Result<Vec<Fingerprint>, KeyringError> {
        self.keyring(|ring| Ok(ring.fingerprints())).await
    }

    /// In the memberlist wire profile, install another key in memberlist's keyring (it opens
    /// from now on; step 1 of a rotation, as memberlist's `Keyring.AddKey`).
    pub async fn add_memberlist_key(&self, key: impl Into<Vec<u8>>) -> Result<(), KeyringError> {
        let key = key.into();
        self.memberlist_keyring(move |ring| match ring.add(&key) {
            Ok(true) => Ok(()),
            Ok(false) => Err("installed already, or 16 keys held"),
            Err(_) => Err("a key is 16, 24 or 32 bytes"),
        })
        .await
    }

    /// Make an installed key memberlist's primary: it seals from now on (step 2, `UseKey`).
    pub async fn use_memberlist_key(&self, key: impl Into<Vec<u8>>) -> Result<(), KeyringError> {
        let key = key.into();
        self.memberlist_keyring(move |ring| ring.make_primary(&key).then_some(()).ok_or("not installed")).await
    }

    /// Remove a key that is not memberlist's primary (step 3, `RemoveKey`).
    pub async fn remove_memberlist_key(&self, key: impl Into<Vec<u8>>) -> Result<(), KeyringError> {
        let key = key.into();
        self.memberlist_keyring(move |ring| ring.remove(&key).then_some(()).ok_or("the primary, or not installed"))
            .await
    }

    async fn memberlist_keyring(
        &self,
        f: impl FnOnce(&mut swim_core::wire::memberlist::profile::MemberlistKeyring) -> Result<(), &'static str>
        + Send
        + 'static,
    ) -> Result<(), KeyringError> {
        let r = self.mutate(move |core| core.memberlist_keyring_mut().map(f)).await?;
        r.ok_or(KeyringError::NotEncrypted)?.map_err(KeyringError::MemberlistKey)
    }

    /// The migration switches: also accept plaintext, and send plaintext instead of
    /// encrypting (see docs/security.md for the procedure).
    pub async fn set_plaintext(&self, accept: bool, send: bool) -> Result<(), Closed> {
        self.mutate(move |core| core.set_plaintext(accept, send)).await
    }

    /// Change the cluster label while the member runs, with the roll-out switches: also
    /// accept packets without a label, and send none (see
    /// [`swim_core::Config::accept_unlabelled`] and docs/security.md for the three steps that
    /// move a running cluster to a label without a false suspicion). The configuration's
    /// `swim.label`, `swim.accept_unlabelled` and `swim.send_unlabelled` set them at start.
    pub async fn set_label(
        &self,
        label: impl Into<Bytes>,
        accept_unlabelled: bool,
        send_unlabelled: bool,
    ) -> Result<(), LabelError> {
        let label = label.into();
        Ok(self.mutate(move |core| core.set_label(label, accept_unlabelled, send_unlabelled)).await??)
    }

    async fn keyring<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Keyring) -> Result<T, KeyError> + Send + 'static,
    ) -> Result<T, KeyringError> {
        let r = self.mutate(move |core| core.keyring_mut().map(f)).await?;
        Ok(r.ok_or(KeyringError::NotEncrypted)??)
    }

    async fn mutate<T, F>(&self, f: F) -> Result<T, Closed>
    where
        T: Send + 'static,
        F: FnOnce(&mut Swim<SocketAddr>) -> T + Send + 'static,
    {
        self.request(|reply| {
            Command::Mutate(Box::new(move |core| {
                let _ = reply.send(f(core));
            }))
        })
        .await
    }

    async fn query<T, F>(&self, f: F) -> Result<T, Closed>
    where
        T: Send + 'static,
        F: FnOnce(&Swim<SocketAddr>, &TransportStats) -> T + Send + 'static,
    {
        self.request(|reply| {
            Command::Query(Box::new(move |core, transport| {
                let _ = reply.send(f(core, transport));
            }))
        })
        .await
    }
}

/// A member's events, from [`Node::events`]: a [`Stream`] of [`Event`]s, also readable with
/// [`recv`](Events::recv). Ends when the member shuts down.
///
/// Events are [`swim_core::Event`]s: members joining, being suspected, failing, leaving,
/// coming back, changing metadata; user messages and broadcasts; health changes.
///
/// # Falling behind
///
/// Each subscriber has a buffer of `transport.event_queue` events; the driver never waits
/// for it. A subscriber that falls further behind loses no membership change silently: in
/// place of the events it missed it receives one [`Event::Lagged`] carrying the membership
/// as every event published until then describes it (every member but the local one, in
/// every state, in name order), and afterwards only membership events newer than that
/// snapshot. User messages, broadcasts and other notices it missed are lost (counted in
/// `dropped` and in [`missed`](Events::missed)); those still buffered are delivered. Apply
/// every event in order, replacing your view by each snapshot, and you hold the member's
/// table ([`crate::MemberView`] does this; see [`swim_core::MemberView`] for incarnations).
#[derive(Debug)]
pub struct Events {
    stream: Option<BroadcastStream<Numbered>>,
    hub: Arc<EventHub>,
    /// Membership events numbered up to this one are covered by a snapshot already handed
    /// out: skipped.
    covered: u64,
    missed: u64,
    lagged: metrics::Counter,
}

impl Events {
    fn from_subscription(hub: &Arc<EventHub>, member: &str) -> Events {
        Events {
            stream: hub.subscribe().map(BroadcastStream::new),
            hub: hub.clone(),
            covered: 0,
            missed: 0,
            lagged: Metrics::lagged(member),
        }
    }

    /// The next event, or `None` once the member has shut down.
    pub async fn recv(&mut self) -> Option<Event> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Events this subscriber missed because it fell `transport.event_queue` events behind
    /// (each time, an [`Event::Lagged`] took their place).
    pub fn missed(&self) -> u64 {
        self.missed
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let this = &mut *self;
        let Some(stream) = this.stream.as_mut() else { return Poll::Ready(None) };
        loop {
            match Pin::new(&mut *stream).poll_next(cx) {
                Poll::Ready(Some(Ok((number, event)))) => {
                    if number <= this.covered && event.changes_membership() {
                        continue; // the snapshot handed out already holds it
                    }
                    return Poll::Ready(Some(event));
                }
                Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(n)))) => {
                    this.missed += n;
                    this.lagged.increment(n);
                    warn!(missed = n, "event subscriber fell behind; it gets a snapshot of the membership");
                    let (covered, members) = this.hub.snapshot();
                    this.covered = covered;
                    return Poll::Ready(Some(Event::Lagged { dropped: n, members }));
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

fn advertise_addr(config: &Config, bound: SocketAddr) -> Result<SocketAddr, StartError> {
    let mut addr = config.advertise_addr.unwrap_or(bound);
    if addr.port() == 0 {
        addr.set_port(bound.port());
    }
    if addr.ip().is_unspecified() {
        return Err(StartError::NoAdvertiseAddr(bound));
    }
    if addr.is_ipv6() && bound.is_ipv4() {
        return Err(StartError::AddressFamily { advertise: addr, bound });
    }
    Ok(transport::canonical(addr))
}

fn unix_seconds() -> u32 {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    u32::try_from(secs).unwrap_or(u32::MAX)
}

fn random_seed() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        // The OS refused randomness; a hash seeded by std (itself from the OS, or a
        // per-process fallback) over the clock is still different per member.
        use std::hash::BuildHasher;
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        std::collections::hash_map::RandomState::new().hash_one(nanos)
    })
}
