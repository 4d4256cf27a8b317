//! # swim-tokio (skeleton)
//!
//! Will run a [`swim_core::Swim`] over tokio UDP and TCP sockets: one task owns the core,
//! sets a tokio timer to its deadline, and exchanges commands and events with a handle
//! through channels. Not implemented yet; nothing in this crate works today.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
