//! Compression of stream messages (push-pull states, reliable user messages) with LZ4.
//!
//! A compressed packet has the envelope's `COMPRESSED` flag set and, in place of its messages,
//!
//! ```text
//! compressed := length:varint  block
//! length     := the size of the messages once decompressed, 1..=limits.max_stream_message_size
//! block      := one LZ4 block (the LZ4 block format, no frame) of exactly `length` bytes
//! ```
//!
//! compressed before encrypting and decompressed after decrypting. Only stream messages are
//! compressed; a compressed datagram is rejected (`DecodeError::WrongChannel`).
//!
//! Decompression is bounded before it starts: a declared `length` over the receiver's
//! `limits.max_stream_message_size` is rejected as `Oversized`, and one more than
//! [`MAX_RATIO`] times the block's size (more than LZ4 can expand anything) as `Malformed`, so
//! a small forged message cannot make a member allocate much; a block that does not decompress
//! to exactly `length` bytes is `Malformed`.
//!
//! LZ4 (the `lz4_flex` crate, safe Rust, without std) was measured against DEFLATE
//! (`miniz_oxide`) on a 10,000-member push-pull state: see `docs/performance.md`.

use alloc::vec::Vec;

use crate::error::DecodeError;
use crate::wire::codec::{read_varint, write_varint};

/// No LZ4 block decompresses to more than this many times its own size (a match of 255
/// length bytes copies at most about 255 bytes per byte of input), plus [`SLACK`].
pub const MAX_RATIO: usize = 255;

/// Bytes allowed on top of [`MAX_RATIO`] times the block, for a tiny block.
pub const SLACK: usize = 64;

/// Append `messages`, compressed, to `out`: the length, then the block. Returns the number of
/// bytes appended.
pub fn compress(messages: &[u8], out: &mut Vec<u8>) -> usize {
    let start = out.len();
    let mut len = [0u8; 5];
    // A stream message is at most `limits.max_stream_message_size` bytes, far below 4 GiB.
    let n = write_varint(u32::try_from(messages.len()).unwrap_or(u32::MAX), &mut len);
    out.extend_from_slice(&len[..n]);
    let at = out.len();
    out.resize(at + lz4_flex::block::get_maximum_output_size(messages.len()), 0);
    // The output was sized with the crate's own bound, the only way compressing can fail.
    let written = lz4_flex::block::compress_into(messages, &mut out[at..]).unwrap_or(0);
    out.truncate(at + written);
    out.len() - start
}

/// Decompress a compressed payload (see the module docs) into `out` (cleared first), refusing
/// to produce more than `max` bytes.
pub fn decompress(payload: &[u8], max: usize, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    out.clear();
    let (len, block) = read_varint(payload)?;
    if len > max {
        return Err(DecodeError::Oversized);
    }
    if len == 0 || len > block.len().saturating_mul(MAX_RATIO).saturating_add(SLACK) {
        return Err(DecodeError::Malformed);
    }
    out.resize(len, 0);
    match lz4_flex::block::decompress_into(block, out) {
        Ok(n) if n == len => Ok(()),
        _ => {
            out.clear();
            Err(DecodeError::Malformed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn roundtrip_and_bounds() {
        let messages: Vec<u8> = (0..10_000u32).flat_map(|i| [b'n', b'-', (i % 7) as u8, 0, 1, 1, 1]).collect();
        let mut c = Vec::new();
        let n = compress(&messages, &mut c);
        assert_eq!(n, c.len());
        assert!(c.len() < messages.len() / 4, "{} of {}", c.len(), messages.len());
        let mut out = Vec::new();
        decompress(&c, messages.len(), &mut out).unwrap();
        assert_eq!(out, messages);
        // One byte under the declared size: refused before anything is allocated.
        assert_eq!(decompress(&c, messages.len() - 1, &mut out), Err(DecodeError::Oversized));
        assert!(out.is_empty());
        // A bomb: a tiny block claiming a huge size within the limit.
        let mut bomb = vec![0xff, 0xff, 0xff, 0x07];
        bomb.extend_from_slice(&[0x1f, 0x00]);
        let mut fresh = Vec::new();
        assert_eq!(decompress(&bomb, 20 << 20, &mut fresh), Err(DecodeError::Malformed));
        assert_eq!(fresh.capacity(), 0, "nothing allocated for it");
        // A corrupt or short block, a wrong length, an empty payload.
        let mut bad = c.clone();
        bad.truncate(c.len() - 3);
        assert_eq!(decompress(&bad, usize::MAX, &mut out), Err(DecodeError::Malformed));
        let mut len = [0; 5];
        let skip = write_varint(messages.len() as u32, &mut len);
        let m = write_varint(messages.len() as u32 + 1, &mut len);
        let mut wrong = len[..m].to_vec();
        wrong.extend_from_slice(&c[skip..]);
        assert_eq!(decompress(&wrong, usize::MAX, &mut out), Err(DecodeError::Malformed));
        assert_eq!(decompress(&[], usize::MAX, &mut out), Err(DecodeError::Truncated));
        assert_eq!(decompress(&[0], usize::MAX, &mut out), Err(DecodeError::Malformed));
    }
}
