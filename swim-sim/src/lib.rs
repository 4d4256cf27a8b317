//! # swim-sim
//!
//! A deterministic discrete-event simulator for [`swim_core`] clusters, in the style of
//! TigerBeetle's VOPR and FoundationDB's simulator: **one seed decides everything**. It drives
//! many real [`swim_core::Swim`] cores in virtual time on one thread, over a modelled network
//! (latency and jitter, loss, duplication, reordering, a size limit, reliable streams,
//! partitions, blackholes, clogs) with scheduled faults (crashes, graceful leaves, restarts,
//! CPU-starved members, flip-flops), checks safety invariants after every input and liveness
//! after the faults heal, and measures what users judge a failure detector by: how fast it
//! finds real failures, how rarely it accuses live members, and what it costs.
//!
//! The `swim-sim` binary runs built-in and user scenarios (`swim-sim run lifeguard`) and
//! swarm tests (`swim-sim swarm --seeds 0..10000`); `docs/simulation.md` is the user guide.
//!
//! The protocol itself is [swim-core](swim_core); to run members over real sockets, use
//! [swim-tokio](../swim_tokio/index.html), which drives the same core.
//!
//! ## As a library, in your own tests
//!
//! ```
//! use std::time::Duration;
//! use swim_core::State;
//! use swim_sim::faults::{FaultKind, FaultSpec, NodeSet};
//! use swim_sim::{SimConfig, Simulation};
//!
//! // 20 members, LAN configuration, already converged; member 7 crashes at t = 10 s.
//! let mut cfg = SimConfig::new(20, 42);
//! cfg.faults.insert(
//!     "crash".into(),
//!     FaultSpec::new(FaultKind::Crash, Duration::from_secs(10), NodeSet::List(vec![7])),
//! );
//! let mut sim = Simulation::new(cfg).unwrap();
//! let detected = sim.run_until(Duration::from_secs(60), |s| s.all_see(7, State::Dead)).unwrap();
//! assert!(detected, "every member declares the crashed one dead within a minute");
//! assert_eq!(sim.truth().fp.events, 0, "and nobody else");
//! // The same seed replays the same trace, bit for bit.
//! println!("seed 42 -> trace digest {:016x}", sim.digest());
//! ```
//!
//! ## Where things live
//!
//! | concern | module |
//! |---|---|
//! | the event loop, delivery, timers, the public API | [`sim`] ([`Simulation`]) |
//! | what a run depends on | [`config`] ([`SimConfig`]) |
//! | one simulated member | [`node`] |
//! | the event queue | [`queue`] |
//! | the network model | [`network`] |
//! | request and reply on one connection (memberlist profile) | [`connections`] |
//! | the fault schedule, and applying it | [`faults`] |
//! | delay distributions, durations | [`dist`], [`duration`] |
//! | seeds and sub-seeds | [`rng`] |
//! | ground truth, views, false positives, detection; events to truth | [`truth`] |
//! | the engine's checks (swim-core's invariants and its own), violations | [`invariants`] |
//! | the figures of a run | [`metrics`] |
//! | coordinate error against true RTT | [`coordinates`] |
//! | scenario files and built-ins | [`scenario`] |
//! | running scenarios, liveness, replay commands | [`runner`] |
//! | swarm testing | [`swarm`] |
//! | tables, JSON, CSV; SVG plots | [`report`], [`plot`] |
//! | the trace digest, and the typed records it is fed | [`digest`], [`trace`] |
//!
//! ## Determinism
//!
//! A run is a pure function of its [`SimConfig`] (and the build): the master seed is split
//! into independent streams ([`rng::Stream`]) for each core (and each restart), each member's
//! CPU starvation, the network, the fault schedule and the start; ties in the event queue
//! break by insertion order; no hash map is iterated where order matters. The trace digest
//! ([`Simulation::digest`]) covers every transmit, delivery, timer, event and fault; a test
//! runs a seed twice and compares.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod config;
pub mod connections;
pub mod coordinates;
pub mod digest;
pub mod dist;
pub mod duration;
pub mod faults;
pub mod invariants;
pub mod metrics;
pub mod network;
pub mod node;
pub mod plot;
pub mod queue;
pub mod report;
pub mod rng;
pub mod runner;
pub mod scenario;
pub mod sim;
pub mod swarm;
pub mod trace;
pub mod truth;

pub use config::SimConfig;
pub use sim::Simulation;

/// The user guide (`docs/simulation.md`): its Rust examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/simulation.md")]
pub struct SimulationGuide;
