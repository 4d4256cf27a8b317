//! The wire: the message model, the codec that turns it into bytes, and stream framing.
//!
//! - [`message`]: what members say to each other, independent of any encoding.
//! - [`codec`]: the [`Codec`] trait and [`PostcardCodec`], this crate's own format: a versioned
//!   envelope holding tagged, length-prefixed postcard bodies, packed up to the datagram budget.
//!   A codec speaking Go memberlist's format can implement the same trait.
//! - [`frame`]: length-prefixed frames for carrying stream messages over a byte stream.
//!
//! Decoding never panics, never allocates more than the input justifies, and rejects
//! truncation, trailing bytes and impossible lengths with a typed [`crate::DecodeError`].

pub mod codec;
pub mod frame;
pub mod message;

pub use codec::{Codec, DecodeLimits, PROTOCOL_VERSION, PostcardCodec};
pub use message::*;
