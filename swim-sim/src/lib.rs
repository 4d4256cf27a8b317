//! # swim-sim (skeleton)
//!
//! Will drive many [`swim_core::Swim`] instances in virtual time over a modelled network with
//! faults, from one seed, checking invariants and reporting detection latency, false positives
//! and bandwidth. Not implemented yet; nothing in this crate works today.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
