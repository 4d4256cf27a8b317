//! # swim-core
//!
//! The SWIM membership and failure-detection protocol (Das, Gupta, Motivala,
//! 2002) with HashiCorp's Lifeguard extensions (Dadgar, Phillips, Currey,
//! 2018), as a deterministic, sans-IO state machine.
//!
//! Each member probes one other member per protocol period: a direct ping,
//! then, if no ack comes within the probe timeout, pings through `k` helpers.
//! A member that stays silent becomes *suspect*; unless it *refutes* the
//! suspicion by raising its *incarnation* before the suspicion timeout, it is
//! declared dead. Every change spreads by *piggybacking* on probe traffic
//! (infection-style dissemination) and by a gossip tick, and a periodic
//! *push-pull* full-state exchange repairs what gossip missed. Lifeguard makes
//! a slow member accuse less: its *awareness* score stretches its own probe
//! timers, suspicion timeouts start long and shrink only as independent
//! members confirm, helpers *nack* so a prober can tell its own slowness from
//! a dead target, and pings to a suspect carry the suspicion (the *buddy
//! system*) so it can refute at once.
//!
//! This crate has no sockets, no clock, no threads and no async. It is
//! `#![no_std]` (with `alloc`) and `#![forbid(unsafe_code)]`.
//!
//! ## The other crates
//!
//! - [swim-tokio](../swim_tokio/index.html) runs this core over tokio UDP and TCP with an API
//!   a memberlist user recognises (`Node::start`, `join`, `members`, `events`, `leave`).
//! - [swim-sim](../swim_sim/index.html) runs many cores in virtual time over a modelled
//!   network with faults, from one seed: for deterministic cluster tests of your own code and
//!   for the published experiments (`swim-sim run lifeguard`).
//! - Or drive it yourself: the loop below, or `examples/udp_loop.rs` for std's blocking
//!   sockets with no async runtime.
//!
//! The protocol specification, architecture, tuning, security and performance guides are in
//! the repository's `docs/` directory.
//!
//! ## Where things live
//!
//! Each protocol concern's module owns its state and its rules; [`swim`] is the hub where
//! they meet, turning the leaves' decisions into transmits, claims and events.
//!
//! | concern | module | owns |
//! |---|---|---|
//! | the hub: inputs, outputs, commands, queries, claim rules (alive, suspect, dead, refute) | [`swim`] | [`Swim`] |
//! | the probe cycle: ping, ping-req (the indirect probe), nacks, relays | `probe` | `Prober` |
//! | suspicion: start, confirmation, expiry (Lifeguard's dynamic timeout) | [`suspicion`] | `Suspicions` |
//! | awareness: the health score | [`awareness`] | [`awareness::Awareness`] |
//! | the piggyback queues, filling a packet, gossip targets | [`dissemination`] | `Dissemination` |
//! | push-pull and joins: snapshots, merges, follow-ups, reconnect choice | [`push_pull`] | `Exchanges` |
//! | sealing and opening packets; keyring (feature `encryption`) | [`security`] | `Sealer` |
//! | the periodic ticks and their stagger | `timers` | `TimerTable` |
//! | every timing derived from the config | [`timing`] | [`Timings`] |
//! | transmits handed to the driver | `transmit` (re-exported from [`swim`]) | |
//! | config, presets, validation | [`config`] | |
//! | identity, state, incarnation precedence | [`member`] | |
//! | protocol and application version ranges, negotiation, capabilities | [`versions`] | |
//! | member table and round-robin probe order | `membership` | |
//! | messages, envelope (label), codec, stream framing; Go memberlist's format | [`wire`], [`wire::memberlist`] | |
//! | the memberlist wire profile: the hub's side (`swim/memberlist.rs`) and the byte layer | `swim`, [`wire::memberlist::profile`] | |
//! | safety invariants checked from outside (tests, fuzzing, the simulator) | [`invariants`] | [`invariants::Checker`] |
//! | network coordinates (Vivaldi): the update rule, RTT estimates | [`coordinates`] | [`coordinates::Vivaldi`] |
//! | application hooks: push-pull state, broadcast verdicts, admission, address allowlist | [`hooks`] | [`Hooks`] |
//! | events, errors, counters, time, randomness | [`event`], [`error`], [`stats`], [`time`], [`rng`] | |
//!
//! `docs/architecture.md` follows a datagram and a timeout through these modules and answers
//! the questions a newcomer asks ("where is a suspicion timed out?") with a file and a function.
//!
//! ## The run-loop contract
//!
//! Every input (`handle_datagram`, `handle_stream`, `handle_stream_failed`,
//! `handle_timeout`, and the commands `join`, `leave`, `update_metadata`, `ping`,
//! `broadcast`, `send_user_message`) takes `now`. **After each input, drain
//! the outputs**: [`Swim::poll_transmit`] until `None` (send each over UDP or
//! the reliable stream as its [`TransmitKind`] says), [`Swim::poll_event`]
//! until `None`; **then wait** until a datagram or stream message arrives or
//! [`Swim::poll_timeout`] passes, and call [`Swim::handle_timeout`].
//!
//! In Go memberlist's wire profile ([`WireProfile::Memberlist`], built with
//! [`Swim::with_wire`]) a stream message can also be answered on its connection: hand
//! inbound stream messages to [`Swim::handle_stream_on`] with your name for the connection,
//! write a transmit whose [`Transmit::stream`] is [`StreamRole::Reply`] on that connection,
//! keep the connection of a [`StreamRole::Request`] open for one message back and hand it to
//! [`Swim::handle_stream_reply`], and delimit messages with [`Swim::stream_framing`]. In
//! swim's own profile every stream transmit is [`StreamRole::OneWay`].
//!
//! Outputs wait in bounded queues until polled. A caller that falls behind
//! loses no membership change silently: past `limits.max_pending_events`, the
//! queued membership events are traded for one [`Event::Lagged`], which
//! carries a snapshot of the member table taken when it is polled; no older
//! membership event follows it. Apply events in order, replacing your view by
//! each snapshot ([`event::MemberView`] does this), and you hold the table.
//! Other events (user messages and broadcasts, health, joins) drop the oldest;
//! every drop is counted in [`Stats`].
//!
//! The core never calls a clock: it only sees the `now` it is given, as an
//! [`Instant`] (nanoseconds since an epoch of the caller's choosing). All
//! randomness comes from the seed given to [`Swim::new`]. The same seed,
//! configuration and sequence of calls produce the same transmits, events and
//! deadlines, bit for bit.
//!
//! Here is that loop over an in-memory network, with a virtual clock that
//! jumps to the next deadline whenever nothing is in flight:
//!
//! ```
//! use std::collections::VecDeque;
//! use swim_core::{Config, Event, Identity, Instant, Swim};
//!
//! let mut now = Instant::ZERO;
//! let mut nodes: Vec<Swim<u32>> = (0..3)
//!     .map(|i| Swim::new(Config::local(), Identity::new(format!("node-{i}"), i), i as u64, now).unwrap())
//!     .collect();
//! // Nodes 1 and 2 join through node 0 (addresses are plain integers here).
//! nodes[1].join(now, [0]).unwrap();
//! nodes[2].join(now, [0]).unwrap();
//!
//! let mut in_flight = VecDeque::new(); // (to, from, kind, bytes)
//! let mut buf = Vec::new();
//! let mut joined = 0;
//! while now < Instant::from_secs(10) {
//!     // Drain every node's outputs.
//!     for node in nodes.iter_mut() {
//!         while let Some(t) = node.poll_transmit(&mut buf) {
//!             in_flight.push_back((t.destination, node.local().addr, t.kind, buf.clone()));
//!         }
//!         while let Some(event) = node.poll_event() {
//!             if let Event::MemberJoined(_) = event {
//!                 joined += 1;
//!             }
//!         }
//!     }
//!     // Deliver what is in flight (instantly, in this toy network)...
//!     if let Some((to, from, kind, bytes)) = in_flight.pop_front() {
//!         let node = &mut nodes[to as usize];
//!         let _ = match kind {
//!             swim_core::TransmitKind::Datagram => node.handle_datagram(now, from, &bytes),
//!             swim_core::TransmitKind::Stream => node.handle_stream(now, from, &bytes),
//!         };
//!         continue;
//!     }
//!     // ...or, when the network is idle, jump to the earliest deadline.
//!     now = nodes.iter().map(|n| n.poll_timeout()).min().unwrap();
//!     for node in nodes.iter_mut() {
//!         if node.poll_timeout() <= now {
//!             node.handle_timeout(now);
//!         }
//!     }
//! }
//! assert_eq!(joined, 6, "each node saw the two others join");
//! assert!(nodes.iter().all(|n| n.num_members() == 3));
//! ```
//!
//! ## Panics
//!
//! None on any input. Network input that is malformed, oversized or
//! misdirected is rejected with a [`DecodeError`] before any of it is applied
//! (state is unchanged; the kind is counted in [`Stats::decode_errors`]);
//! well-formed but stale or unknown claims are counted drops. Every table and
//! queue is bounded by a field of [`config::Limits`]. A panic is a bug.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

pub mod awareness;
pub mod config;
pub mod coordinates;
pub mod damping;
pub mod dissemination;
pub mod error;
pub mod event;
pub mod hooks;
pub mod invariants;
mod math;
pub mod member;
mod membership;
mod probe;
pub mod push_pull;
pub mod rng;
pub mod security;
pub mod stats;
pub mod suspicion;
pub mod swim;
pub mod time;
mod timers;
pub mod timing;
mod transmit;
pub mod versions;
pub mod wire;

/// The former name of [`push_pull`], kept so that existing paths still resolve.
pub use push_pull as sync;

pub use config::{Compression, Config, JoinRetry, Lifeguard, Limits, WireProfile};
pub use coordinates::{Coordinate, CoordinateConfig};
pub use damping::Damping;
pub use error::{CommandError, ConfigError, DecodeError, NewError};
pub use event::{Event, JoinId, MemberView, PingId, RefusalReason};
pub use hooks::{
    BroadcastOutcome, Candidate, Exchange, FinishedBroadcast, Hooks, NoHooks, ProbeCompleted, ProbePath, Refusal,
    Verdict,
};
pub use member::{Address, Member, Name, State};
pub use stats::Stats;
pub use swim::{
    BroadcastId, ConnectionId, Identity, MemoryUsage, MessageId, RequestId, StreamRole, Swim, Transmit, TransmitKind,
};
pub use time::Instant;
pub use timing::Timings;
pub use versions::{Capabilities, VersionRange, Versions};

/// Re-exported so callers can build payloads without naming the `bytes` crate.
pub use bytes::Bytes;
