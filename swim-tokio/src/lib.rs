//! # swim-tokio
//!
//! Runs a [`swim_core::Swim`] member over real UDP and TCP sockets with tokio: start a
//! member, join a cluster, read its events. This crate holds no protocol rule: probing,
//! suspicion, Lifeguard, gossip and push-pull all live in [swim-core](swim_core); this crate
//! moves its bytes, keeps its time and answers its callers. To test the protocol without
//! sockets or wall-clock time, use the deterministic simulator,
//! [swim-sim](../swim_sim/index.html), which drives the same core.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use swim_tokio::{Config, Node};
//!
//! let a = Node::start(Config::local("a").with_bind_addr("127.0.0.1:0".parse()?)).await?;
//! let b = Node::start(Config::local("b").with_bind_addr("127.0.0.1:0".parse()?)).await?;
//! let mut events = a.events();
//! assert_eq!(b.join([a.local_addr()]).await?, 1);
//! assert_eq!(b.num_members().await?, 2);
//! // `a` learns of `b` from the join itself.
//! let joined = events.recv().await.unwrap();
//! assert!(matches!(joined, swim_tokio::Event::MemberJoined(m) if m.name == "b"));
//! b.leave(std::time::Duration::from_secs(1)).await?;
//! b.shutdown().await;
//! a.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ## Shape
//!
//! Like quinn's endpoint driver: [`Node::start`] binds a UDP socket and a TCP listener on one
//! port and spawns **one driver task** that owns the core. The driver waits on the socket,
//! the listener, one tokio timer set to the core's next deadline, and a bounded command
//! channel from the [`Node`] handles; after each input it drains the core's transmits and
//! events, as swim-core's run-loop contract requires. Stream messages (push-pull, reliable
//! user messages) travel one per TCP connection, framed with [`swim_core::wire::frame`]; each
//! connection is a short task the driver owns and aborts at shutdown. Events go to any number
//! of [`Events`] subscribers without ever blocking the driver.
//!
//! The sockets are the default [`Transport`], [`NetTransport`]; [`TlsTransport`] runs
//! everything over TCP with TLS instead ([`Node::start_with_transport`]). See
//! [`transport`] for the trait and its bounds.
//!
//! | memberlist | swim-tokio |
//! |---|---|
//! | `Create(config)` | [`Node::start`] |
//! | `Join(existing)` | [`Node::join`] |
//! | `Members()`, `NumMembers()`, `LocalNode()` | [`Node::members`], [`Node::num_members`], [`Node::local_member`] |
//! | `EventDelegate` | [`Node::start_with_events`] (every event from the start), [`Node::events`] (from now on) |
//! | `UpdateNode(timeout)` | [`Node::update_metadata`] |
//! | `SendBestEffort`, `SendReliable` | [`Node::send_best_effort`], [`Node::send_reliable`] |
//! | `Delegate.GetBroadcasts` / `QueueBroadcast` | [`Node::broadcast`] |
//! | `Leave(timeout)`, `Shutdown()` | [`Node::leave`], [`Node::shutdown`] |
//! | `GetHealthScore()` | [`Node::health_score`] |
//!
//! ## Bounds
//!
//! Every resource has a limit, documented on the knob that sets it in [`TransportConfig`]
//! (streams in each direction, channel capacities, DNS timeouts) or in
//! [`swim_core::config::Limits`] (stream frame size, queues, the member table). Every await
//! on the network has a timeout. The driver task sends datagrams without waiting and never
//! waits on a subscriber or a caller.
//!
//! ## Time, randomness, incarnations
//!
//! The core's clock is nanoseconds since the member started, read from tokio's clock (so
//! `tokio::time::pause` works). Its seed comes from the OS unless [`Config::seed`] fixes it.
//! The first incarnation is the Unix time in seconds (see [`Config::incarnation`]), so a
//! member restarted at the same address outranks the record its previous life left.
//!
//! ## Observability
//!
//! The driver runs in a `tracing` span `swim{member=...}`: membership changes are logged at
//! `info` (suspected, failed, left, alive again) or `debug` (joined, updated), transport
//! errors at `debug` (they are counted), and conditions needing an operator at `warn`.
//! Counters and gauges go to the `metrics` facade; [`metrics`] lists their names.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod allowlist;
pub mod config;
mod driver;
pub mod error;
pub mod metrics;
mod node;
mod resolve;
mod stream;
pub mod transport;

pub use config::{Config, DEFAULT_PORT, Encryption, TransportConfig};
pub use error::{
    Closed, CommandError, JoinError, KeyringError, LabelError, LeaveError, PingError, ResolveFailure, SendError,
    StartError,
};
pub use metrics::TransportStats;
pub use node::{Events, Node, NodeStats};
pub use resolve::Seed;
pub use swim_core::security::{Cipher, Fingerprint, Key};
pub use transport::{NetTransport, TlsConfig, TlsTransport, Transport};

/// Re-exported for [`Config::cidrs_allowed`], so users need not depend on `ipnet` directly.
pub use ipnet::{self, IpNet};

/// Re-exported so users need not depend on swim-core directly.
pub use swim_core::{self, BroadcastId, Bytes, Name, State};

/// The membership as a reader of the events knows it, at socket addresses: apply every
/// [`Event`] of an [`Events`] stream to it ([`swim_core::MemberView::apply`]).
pub type MemberView = swim_core::MemberView<std::net::SocketAddr>;

/// A member as this crate reports it: [`swim_core::Member`] at a socket address.
pub type Member = swim_core::Member<std::net::SocketAddr>;

/// An event as this crate reports it: [`swim_core::Event`] at a socket address.
pub type Event = swim_core::Event<std::net::SocketAddr>;

/// The README's Rust snippets (swim-core, swim-tokio, swim-sim), run as doc tests here, the
/// one crate that can use all three, so that each works as pasted.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeSnippets;

/// The Rust snippets of this crate's guide, docs/tokio.md, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/tokio.md")]
pub struct GuideSnippets;

/// The Rust snippets of docs/memberlist.md (the memberlist wire profile), run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/memberlist.md")]
pub struct MemberlistSnippets;
