//! The wire: the message model, the codec that turns it into bytes, and stream framing.
//!
//! - [`message`]: what members say to each other, independent of any encoding.
//! - [`envelope`]: the versioned header around every packet: flags, cluster label, and the
//!   encrypted body when a keyring is set (see [`crate::security`] with feature `encryption`).
//! - [`codec`]: the [`Codec`] trait and [`PostcardCodec`], this crate's own format for the
//!   messages inside: tagged, length-prefixed postcard bodies, packed up to the datagram budget.
//!   (Go memberlist's format is not a `Codec`: it is a wire profile, see [`memberlist`].)
//! - [`frame`]: length-prefixed frames for carrying stream messages over a byte stream.
//! - [`compression`]: the LZ4 compression of stream messages, and its bounded decompression.
//! - [`memberlist`]: Go memberlist's wire format (its messages, compound packets, the CRC
//!   wrapper, compression, encryption, the label header), byte for byte as memberlist writes
//!   it, and the byte layer of the memberlist wire profile (`Config::wire`).
//!
//! Decoding never panics, never allocates more than the input justifies, and rejects
//! truncation, trailing bytes and impossible lengths with a typed [`crate::DecodeError`].

pub mod codec;
pub mod compression;
pub mod envelope;
pub mod frame;
pub mod memberlist;
pub mod message;

pub use codec::{Codec, DecodeLimits, PostcardCodec};
pub use envelope::VERSION as PROTOCOL_VERSION;
pub use message::*;
