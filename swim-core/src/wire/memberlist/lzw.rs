//! memberlist's compression: a `compress` struct (`Algo` 0 = LZW, `Buf`) holding Go's
//! `compress/lzw` stream with least-significant-bit-first codes and 8-bit literals
//! (`compressPayload` in memberlist's `util.go`). Decompression only: memberlist reads
//! uncompressed messages as well, so this codec sends none compressed.
//!
//! The decoder is Go's `compress/lzw` reader, step for step: codes start 9 bits wide, 256
//! clears the table, 257 ends the data, the width grows to at most 12 bits, and a full table
//! stops adding entries until the next clear. Output is bounded by the caller's `max`.

use alloc::vec::Vec;

use super::msgpack::Reader;
use crate::DecodeError;

const CLEAR: u16 = 256;
const EOF: u16 = 257;
const MAX_WIDTH: u32 = 12;
const TABLE: usize = 1 << MAX_WIDTH;
const INVALID: u16 = u16::MAX;

/// The message inside a compressed one: `input` starts with `compressMsg`; returns the
/// decompressed message (its own type byte first) and how many bytes of `input` the
/// compressed message took. Fails with [`DecodeError::Oversized`] past `max` bytes of output,
/// [`DecodeError::Malformed`] on an unknown algorithm or a bad LZW stream, and
/// [`DecodeError::Truncated`] when `input` ends inside the `compress` struct.
pub fn decompress(input: &[u8], max: usize) -> Result<(Vec<u8>, usize), DecodeError> {
    let (&kind, body) = input.split_first().ok_or(DecodeError::Empty)?;
    if kind != super::MessageType::Compress as u8 {
        return Err(DecodeError::UnknownMessage);
    }
    let mut r = Reader::new(body);
    let (mut algo, mut buf) = (0u64, &[][..]);
    for _ in 0..r.map_len()? {
        match r.bytes()? {
            b"Algo" => algo = r.uint()?,
            b"Buf" => buf = r.bytes()?,
            _ => r.skip()?,
        }
    }
    if algo != 0 {
        return Err(DecodeError::Malformed);
    }
    Ok((lzw_decode(buf, max)?, 1 + r.position()))
}

/// Go's `lzw.NewReader(r, lzw.LSB, 8)` over `data`, at most `max` bytes out.
pub fn lzw_decode(data: &[u8], max: usize) -> Result<Vec<u8>, DecodeError> {
    let mut prefix = alloc::vec![0u16; TABLE];
    let mut suffix = alloc::vec![0u8; TABLE];
    let mut chain: Vec<u8> = Vec::with_capacity(TABLE);
    let mut out = Vec::new();
    let (mut width, mut hi, mut overflow, mut last) = (9u32, EOF, 1u16 << 9, INVALID);
    let (mut bits, mut n_bits, mut pos) = (0u32, 0u32, 0usize);
    loop {
        while n_bits < width {
            // Go reports the end of input before an EOF code as an unexpected EOF.
            let &b = data.get(pos).ok_or(DecodeError::Malformed)?;
            pos += 1;
            bits |= u32::from(b) << n_bits;
            n_bits += 8;
        }
        // `width <= 12`, so the code fits in a u16.
        let code = (bits & ((1 << width) - 1)) as u16;
        bits >>= width;
        n_bits -= width;
        match code {
            CLEAR => {
                (width, hi, overflow, last) = (9, EOF, 1 << 9, INVALID);
                continue;
            }
            EOF => return Ok(out),
            c if c < CLEAR => {
                out.push(c as u8);
                if last != INVALID {
                    suffix[usize::from(hi)] = c as u8;
                    prefix[usize::from(hi)] = last;
                }
            }
            c if c <= hi => {
                // The expansion of `c`, built backwards into `chain`.
                chain.clear();
                let mut c = c;
                if code == hi && last != INVALID {
                    // The code being defined: the last expansion plus its own first byte.
                    let mut first = last;
                    while first >= CLEAR {
                        first = prefix[usize::from(first)];
                    }
                    chain.push(first as u8);
                    c = last;
                }
                while c >= CLEAR {
                    chain.push(suffix[usize::from(c)]);
                    c = prefix[usize::from(c)];
                    // A chain longer than the table loops: only a forged stream does that.
                    if chain.len() > TABLE {
                        return Err(DecodeError::Malformed);
                    }
                }
                chain.push(c as u8);
                out.extend(chain.iter().rev());
                if last != INVALID {
                    suffix[usize::from(hi)] = c as u8;
                    prefix[usize::from(hi)] = last;
                }
            }
            _ => return Err(DecodeError::Malformed),
        }
        if out.len() > max {
            return Err(DecodeError::Oversized);
        }
        (last, hi) = (code, hi + 1);
        if hi >= overflow {
            if width == MAX_WIDTH {
                last = INVALID;
                hi -= 1;
            } else {
                width += 1;
                overflow = 1 << width;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pack 9-bit codes LSB first, as Go's writer does before the width grows.
    fn pack(codes: &[u16]) -> Vec<u8> {
        let (mut out, mut bits, mut n) = (Vec::new(), 0u32, 0u32);
        for &c in codes {
            bits |= u32::from(c) << n;
            n += 9;
            while n >= 8 {
                out.push(bits as u8);
                bits >>= 8;
                n -= 8;
            }
        }
        if n > 0 {
            out.push(bits as u8);
        }
        out
    }

    #[test]
    fn literals_a_defined_code_and_the_code_being_defined() {
        // In Go's numbering 258 = "ab" (defined by the second literal), 259 = "ba" (defined by
        // reading 258), and 260 is the code being defined when it is read: 258's expansion
        // plus its own first byte, "aba".
        let data = pack(&[b'a'.into(), b'b'.into(), 258, 260, EOF]);
        assert_eq!(lzw_decode(&data, 100), Ok(b"abababa".to_vec()));
    }

    #[test]
    fn hostile_streams_are_refused() {
        // A code beyond the table, output past the bound, and no EOF code.
        assert_eq!(lzw_decode(&pack(&[b'a'.into(), 300, EOF]), 100), Err(DecodeError::Malformed));
        assert_eq!(lzw_decode(&pack(&[b'a'.into(), b'a'.into(), b'a'.into(), EOF]), 2), Err(DecodeError::Oversized));
        assert_eq!(lzw_decode(&pack(&[b'a'.into()]), 100), Err(DecodeError::Malformed));
    }
}
