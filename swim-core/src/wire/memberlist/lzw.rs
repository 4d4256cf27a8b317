//! memberlist's compression: a `compress` struct (`Algo` 0 = LZW, `Buf`) holding Go's
//! `compress/lzw` stream with least-significant-bit-first codes and 8-bit literals
//! (`compressPayload` in memberlist's `util.go`). [`compress`] writes what memberlist's
//! `compressPayload` writes, byte for byte; [`decompress`] reads it.
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

/// Append `msg` (a message, its type byte first) compressed as memberlist's
/// `compressPayload` does: `compressMsg`, then the msgpack `compress` struct (fields sorted by
/// name, as go-msgpack writes them) holding [`lzw_encode`]`(msg)`.
pub fn compress(msg: &[u8], out: &mut Vec<u8>) {
    use super::msgpack::{write_bytes, write_map_len, write_str, write_uint};
    out.push(super::MessageType::Compress as u8);
    write_map_len(out, 2);
    write_str(out, b"Algo");
    write_uint(out, 0);
    write_str(out, b"Buf");
    write_bytes(out, &lzw_encode(msg));
}

/// Go's `lzw.NewWriter(w, lzw.LSB, 8)` writing `data`, then closed: a clear code first, the
/// codes LSB first growing from 9 to 12 bits, a clear code (and a fresh table) when the
/// table fills, the end code, the last bits padded to a byte.
pub fn lzw_encode(data: &[u8]) -> Vec<u8> {
    let mut w = Encoder::new(data.len() / 2 + 8);
    w.write(u32::from(CLEAR));
    let Some((&first, rest)) = data.split_first() else {
        w.write(u32::from(EOF));
        return w.finish();
    };
    let mut code = u32::from(first);
    'bytes: for &x in rest {
        let key = code << 8 | u32::from(x);
        let mut hash = (key >> 12 ^ key) & Encoder::MASK;
        let mut h = hash;
        while w.table[h as usize] != 0 {
            let t = w.table[h as usize];
            if key == t >> 12 {
                code = t & Encoder::MAX_CODE;
                continue 'bytes;
            }
            h = (h + 1) & Encoder::MASK;
        }
        w.write(code);
        code = u32::from(x);
        if w.inc_hi() {
            continue; // the table was reset: the key is not added
        }
        while w.table[hash as usize] != 0 {
            hash = (hash + 1) & Encoder::MASK;
        }
        w.table[hash as usize] = key << 12 | w.hi;
    }
    w.write(code);
    w.inc_hi();
    w.write(u32::from(EOF));
    w.finish()
}

/// The state of Go's LZW writer.
struct Encoder {
    out: Vec<u8>,
    bits: u32,
    n_bits: u32,
    width: u32,
    hi: u32,
    overflow: u32,
    /// `key << 12 | code` for each (prefix code, byte) key; 0 is empty.
    table: Vec<u32>,
}

impl Encoder {
    /// Go's hash table: four entries per code, open addressing.
    const SIZE: usize = 4 * TABLE;
    const MASK: u32 = Self::SIZE as u32 - 1;
    const MAX_CODE: u32 = (1 << MAX_WIDTH) - 1;

    fn new(capacity: usize) -> Self {
        let table = alloc::vec![0u32; Self::SIZE];
        Encoder {
            out: Vec::with_capacity(capacity),
            bits: 0,
            n_bits: 0,
            width: 9,
            hi: u32::from(EOF),
            overflow: 1 << 9,
            table,
        }
    }

    fn write(&mut self, code: u32) {
        self.bits |= code << self.n_bits;
        self.n_bits += self.width;
        while self.n_bits >= 8 {
            self.out.push(self.bits as u8);
            self.bits >>= 8;
            self.n_bits -= 8;
        }
    }

    /// The next code is taken: widen at the overflow; at the last code, write a clear code and
    /// start a fresh table (returns true).
    fn inc_hi(&mut self) -> bool {
        self.hi += 1;
        if self.hi == self.overflow {
            self.width += 1;
            self.overflow <<= 1;
        }
        if self.hi == Self::MAX_CODE {
            self.write(u32::from(CLEAR));
            (self.width, self.hi, self.overflow) = (9, u32::from(EOF), 1 << 9);
            self.table.fill(0);
            return true;
        }
        false
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n_bits > 0 {
            self.out.push(self.bits as u8);
        }
        self.out
    }
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
