//! Go memberlist's wire format (hashicorp/memberlist, protocol versions 2 to 5 as 0.2.2 speaks
//! them): its messages with their msgpack bodies, compound packets and the CRC wrapper.
//!
//! - [`message`]: the message types and structs, [`Message::encode`] and [`Message::decode`].
//! - [`msgpack`]: the msgpack subset, written exactly as go-msgpack writes it.
//! - [`model`]: the messages mapped onto swim-core's message model and back, with what each
//!   side drops.
//! - `encryption` (feature `encryption`): memberlist's AES-GCM payloads, packets and streams.
//! - [`lzw`]: memberlist's compression, both ways.
//! - [`profile`]: the byte layer of the memberlist wire profile a core runs
//!   (`crate::WireProfile::Memberlist`): label header, keyring, packing, stream framing.
//! - here: the framing around messages in a packet: [`encode_compound`] /
//!   [`decode_compound`] and [`add_crc`] / [`check_crc`].
//!
//! On send memberlist compresses, then adds the CRC (only for a recipient whose highest
//! protocol version is 5 or more), then encrypts, then (from 0.3.1) puts the label header in
//! front; on receive the reverse (docs/memberlist.md). Decoding never panics and returns a
//! [`DecodeError`]; a CRC mismatch is [`DecodeError::Malformed`].

#[cfg(feature = "encryption")]
pub mod encryption;
pub mod lzw;
pub mod message;
pub mod model;
pub mod msgpack;
pub mod profile;

use alloc::vec::Vec;

pub use lzw::decompress;
pub use message::{
    Ack, Alive, Dead, ErrResp, IndirectPing, Message, MessageType, Nack, NodeStateKind, Ping, PushNodeState, PushPull,
    Suspect, Transport,
};

use crate::DecodeError;

/// Most parts in a compound message: its count is one byte.
pub const MAX_COMPOUND_PARTS: usize = 255;

/// Longest part of a compound message: its length is a big-endian `u16`.
pub const MAX_COMPOUND_PART: usize = u16::MAX as usize;

/// Why a compound message cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompoundError {
    /// More than [`MAX_COMPOUND_PARTS`] parts.
    TooManyParts,
    /// A part longer than [`MAX_COMPOUND_PART`] bytes.
    PartTooLong,
}

/// Append a compound message (`makeCompoundMessage`): `compoundMsg`, the part count, each
/// part's length as a big-endian `u16`, then the parts (each its own type byte and body).
pub fn encode_compound(parts: &[&[u8]], out: &mut Vec<u8>) -> Result<(), CompoundError> {
    let count = u8::try_from(parts.len()).map_err(|_| CompoundError::TooManyParts)?;
    if parts.iter().any(|p| p.len() > MAX_COMPOUND_PART) {
        return Err(CompoundError::PartTooLong);
    }
    out.push(MessageType::Compound as u8);
    out.push(count);
    for part in parts {
        // Checked above: every part's length fits in a u16.
        out.extend_from_slice(&(part.len() as u16).to_be_bytes());
    }
    for part in parts {
        out.extend_from_slice(part);
    }
    Ok(())
}

/// The parts of a compound message (`input` starts with `compoundMsg`) and how many parts at
/// the end were cut off, as `decodeCompoundMessage` reads it: memberlist handles the parts
/// that arrived whole and counts the truncated ones, so a cut-off tail is not an error. Bytes
/// after the last part are ignored, as memberlist ignores them.
pub fn decode_compound(input: &[u8]) -> Result<(Vec<&[u8]>, usize), DecodeError> {
    let (&kind, body) = input.split_first().ok_or(DecodeError::Empty)?;
    if kind != MessageType::Compound as u8 {
        return Err(DecodeError::UnknownMessage);
    }
    let (&count, body) = body.split_first().ok_or(DecodeError::Truncated)?;
    let count = usize::from(count);
    let lengths = body.get(..2 * count).ok_or(DecodeError::Truncated)?;
    let mut rest = &body[2 * count..];
    let mut parts = Vec::with_capacity(count);
    for (i, len) in lengths.chunks_exact(2).enumerate() {
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if rest.len() < len {
            return Ok((parts, count - i));
        }
        let (part, tail) = rest.split_at(len);
        parts.push(part);
        rest = tail;
    }
    Ok((parts, 0))
}

/// Append `message` behind the CRC header memberlist adds for a recipient whose `Vsn` says
/// its highest protocol version is 5 or more (`PMax >= 5`, not its current one):
/// `hasCrcMsg`, then the big-endian CRC32 (IEEE) of the message. memberlist 0.2.2 knows the
/// recipient only where the sender hands over its node (gossip, the probe of a suspect);
/// elsewhere (a plain probe's ping, acks) it looks the node up by IP address among names, which
/// fails unless names are addresses, so those packets go without a CRC. Receivers accept both.
pub fn add_crc(message: &[u8], out: &mut Vec<u8>) {
    out.push(MessageType::HasCrc as u8);
    out.extend_from_slice(&crc32(message).to_be_bytes());
    out.extend_from_slice(message);
}

/// The message inside a packet: behind a CRC header whose checksum must match
/// ([`DecodeError::Malformed`] if not), or the packet itself when it has no CRC header (as
/// memberlist accepts both).
pub fn check_crc(packet: &[u8]) -> Result<&[u8], DecodeError> {
    match packet.split_first() {
        None => Err(DecodeError::Empty),
        Some((&kind, rest)) if kind == MessageType::HasCrc as u8 => {
            let (crc, message) = rest.split_at_checked(4).ok_or(DecodeError::Truncated)?;
            if crc32(message).to_be_bytes() != crc {
                return Err(DecodeError::Malformed);
            }
            Ok(message)
        }
        Some(_) => Ok(packet),
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as Go's `crc32.ChecksumIEEE`.
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |c, &b| TABLE[usize::from((c as u8) ^ b)] ^ (c >> 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_ieee() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn a_cut_off_compound_keeps_its_whole_parts_and_counts_the_rest() {
        let mut out = Vec::new();
        encode_compound(&[b"\x08ab", b"\x08cde"], &mut out).unwrap();
        assert_eq!(decode_compound(&out), Ok((alloc::vec![&b"\x08ab"[..], &b"\x08cde"[..]], 0)));
        assert_eq!(decode_compound(&out[..out.len() - 1]), Ok((alloc::vec![&b"\x08ab"[..]], 1)));
        assert_eq!(decode_compound(&out[..3]), Err(DecodeError::Truncated));
        let many: Vec<&[u8]> = alloc::vec![&b"\x08"[..]; 256];
        assert_eq!(encode_compound(&many, &mut out), Err(CompoundError::TooManyParts));
        assert_eq!(encode_compound(&[&alloc::vec![0u8; 65536]], &mut out), Err(CompoundError::PartTooLong));
    }

    #[test]
    fn a_crc_that_does_not_match_is_refused() {
        let mut out = Vec::new();
        add_crc(b"\x08hello", &mut out);
        assert_eq!(check_crc(&out), Ok(&b"\x08hello"[..]));
        out[6] ^= 1;
        assert_eq!(check_crc(&out), Err(DecodeError::Malformed));
        assert_eq!(check_crc(&out[..3]), Err(DecodeError::Truncated));
        assert_eq!(check_crc(b"\x08plain"), Ok(&b"\x08plain"[..]));
    }
}
