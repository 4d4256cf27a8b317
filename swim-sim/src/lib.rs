//! # swim-sim
//!
//! A deterministic discrete-event simulator for [`swim_core`] clusters.
//!
//! Work in progress: the engine ([`sim`]), network model ([`network`]), fault schedule
//! ([`faults`]), ground truth ([`truth`]) and invariants ([`invariants`]).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

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
pub mod truth;

pub use sim::{SimConfig, Simulation};
