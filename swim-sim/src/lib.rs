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
pub mod network;
pub mod node;
pub mod queue;
pub mod rng;
pub mod sim;
pub mod truth;

pub use sim::{SimConfig, Simulation};
