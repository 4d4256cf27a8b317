//! The subset of msgpack memberlist uses, written exactly as go-msgpack's default
//! `MsgpackHandle` writes it, and read as liberally as go-msgpack reads it.
//!
//! Writing (`codec/msgpack.go` in hashicorp/go-msgpack, the version memberlist 0.2.2 vendors):
//! - an unsigned integer in the fewest bytes: positive fixint up to 127, then `uint8`,
//!   `uint16`, `uint32`, `uint64` (`encodeUint`); Go's `int` fields are non-negative here and
//!   go the same way (`encodeInt`);
//! - both `string` and `[]byte` in the **str** family: fixstr below 32 bytes, then `str16`,
//!   then `str32`; never `str8` and never `bin`, because `WriteExt` is off
//!   (`writeContainerLen`); a nil `[]byte` is `nil`;
//! - a struct as a map keyed by its field names, **sorted by name** (go-msgpack sorts a
//!   struct's fields by their encoded names), leaving out `omitempty` fields that are zero.
//!
//! Reading accepts what any msgpack writer may produce for these types: every integer format
//! whose value fits (negative values are refused), `str8` and the `bin` family for bytes,
//! `nil` for empty bytes, and skips values of unknown keys of any type, nested at most
//! [`MAX_DEPTH`] deep. Lengths are checked against the input before anything is allocated.

use alloc::vec::Vec;

use crate::DecodeError;

/// Deepest nesting of arrays and maps skipped in an unknown field; deeper input is
/// [`DecodeError::Malformed`] (bounds the skipper's recursion).
pub const MAX_DEPTH: usize = 8;

/// Append a map header for `len` entries (fixmap below 16, then `map16`, then `map32`).
pub fn write_map_len(out: &mut Vec<u8>, len: usize) {
    write_container(out, 0x80, 16, 0xde, len);
}

/// Append bytes or a string as go-msgpack writes both: the str family without `str8`.
pub fn write_str(out: &mut Vec<u8>, bytes: &[u8]) {
    write_container(out, 0xa0, 32, 0xda, bytes.len());
    out.extend_from_slice(bytes);
}

/// Append a `[]byte` field: `nil` when empty (Go's nil slice), else as [`write_str`].
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.is_empty() {
        out.push(0xc0);
    } else {
        write_str(out, bytes);
    }
}

/// The header go-msgpack's `writeContainerLen` writes without `WriteExt`: the fix form
/// below `fix_cutoff`, else the 16-bit form `b16`, else the 32-bit form (`b16 + 1`).
fn write_container(out: &mut Vec<u8>, fix_min: u8, fix_cutoff: usize, b16: u8, len: usize) {
    if len < fix_cutoff {
        // `len < fix_cutoff <= 32` fits in the low bits of the fix marker.
        out.push(fix_min | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(b16);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(b16 + 1);
        // Longer than 4 GiB cannot be sent by memberlist either; saturate rather than wrap.
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    }
}

/// Append an unsigned integer in the fewest bytes, as go-msgpack's `encodeUint`.
pub fn write_uint(out: &mut Vec<u8>, v: u64) {
    if v <= 0x7f {
        out.push(v as u8);
    } else if let Ok(v) = u8::try_from(v) {
        out.extend_from_slice(&[0xcc, v]);
    } else if let Ok(v) = u16::try_from(v) {
        out.push(0xcd);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = u32::try_from(v) {
        out.push(0xce);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// Append a boolean.
pub fn write_bool(out: &mut Vec<u8>, v: bool) {
    out.push(if v { 0xc3 } else { 0xc2 });
}

/// A cursor over msgpack input. Every read either advances past a whole value or fails
/// without a partial result; [`DecodeError::Truncated`] means the input ended inside a value
/// (a stream reader may wait for more bytes and retry from the start of the message).
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Read `buf` from its start.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The input after the cursor.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Take the next `n` raw bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::BadLength)?;
        let bytes = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn be(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
    }

    fn peek(&self) -> Result<u8, DecodeError> {
        self.buf.get(self.pos).copied().ok_or(DecodeError::Truncated)
    }

    /// A map header: the number of entries.
    pub fn map_len(&mut self) -> Result<usize, DecodeError> {
        let len = match self.byte()? {
            m @ 0x80..=0x8f => usize::from(m & 0x0f),
            0xde => self.be(2)? as usize,
            0xdf => usize::try_from(self.be(4)?).map_err(|_| DecodeError::BadLength)?,
            _ => return Err(DecodeError::Malformed),
        };
        // Nothing is allocated from the count: each entry read consumes input or fails, so a
        // count beyond the input ends in `Truncated` after at most the input's length.
        Ok(len)
    }

    /// Bytes or a string in any str or bin form; `nil` is empty.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = match self.byte()? {
            0xc0 => return Ok(&[]),
            m @ 0xa0..=0xbf => u64::from(m & 0x1f),
            0xd9 | 0xc4 => self.be(1)?,
            0xda | 0xc5 => self.be(2)?,
            0xdb | 0xc6 => self.be(4)?,
            _ => return Err(DecodeError::Malformed),
        };
        self.take(usize::try_from(len).map_err(|_| DecodeError::BadLength)?)
    }

    /// A UTF-8 string (Go strings are bytes; names that are not UTF-8 are refused).
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        core::str::from_utf8(self.bytes()?).map_err(|_| DecodeError::Malformed)
    }

    /// An integer of any msgpack format, which must be non-negative.
    pub fn uint(&mut self) -> Result<u64, DecodeError> {
        let signed = |v: u64, bits: u32| -> Result<u64, DecodeError> {
            // The sign bit of a `bits`-wide two's complement value.
            if v >> (bits - 1) & 1 == 1 { Err(DecodeError::Malformed) } else { Ok(v) }
        };
        match self.byte()? {
            m @ 0x00..=0x7f => Ok(u64::from(m)),
            0xcc => self.be(1),
            0xcd => self.be(2),
            0xce => self.be(4),
            0xcf => self.be(8),
            0xd0 => signed(self.be(1)?, 8),
            0xd1 => signed(self.be(2)?, 16),
            0xd2 => signed(self.be(4)?, 32),
            0xd3 => signed(self.be(8)?, 64),
            _ => Err(DecodeError::Malformed),
        }
    }

    /// An integer that must fit in `T`.
    pub fn uint_as<T: TryFrom<u64>>(&mut self) -> Result<T, DecodeError> {
        T::try_from(self.uint()?).map_err(|_| DecodeError::Malformed)
    }

    /// A boolean.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.byte()? {
            0xc2 => Ok(false),
            0xc3 => Ok(true),
            _ => Err(DecodeError::Malformed),
        }
    }

    /// Skip one value of any type (an unknown field's).
    pub fn skip(&mut self) -> Result<(), DecodeError> {
        self.skip_nested(0)
    }

    fn skip_nested(&mut self, depth: usize) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::Malformed);
        }
        let marker = self.peek()?;
        let (items, skip) = match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 1),
            0xa0..=0xbf | 0xd9..=0xdb | 0xc4..=0xc6 => return self.bytes().map(drop),
            0xcc | 0xd0 => (0, 2),
            0xcd | 0xd1 | 0xd4 => (0, 3),
            0xd5 => (0, 4),
            0xce | 0xd2 | 0xca => (0, 5),
            0xd6 => (0, 6),
            0xcf | 0xd3 | 0xcb => (0, 9),
            0xd7 => (0, 10),
            0xd8 => (0, 18),
            0xc7..=0xc9 => {
                self.pos += 1;
                let len = self.be(usize::from(1u8 << (marker - 0xc7)))?;
                let len = usize::try_from(len).map_err(|_| DecodeError::BadLength)?;
                // The ext type byte, then the data.
                return self.take(1).and_then(|_| self.take(len)).map(drop);
            }
            0x90..=0x9f => (u64::from(marker & 0x0f), 1),
            0x80..=0x8f => (2 * u64::from(marker & 0x0f), 1),
            0xdc | 0xde => {
                self.pos += 1;
                (self.be(2)? * if marker == 0xde { 2 } else { 1 }, 0)
            }
            0xdd | 0xdf => {
                self.pos += 1;
                (self.be(4)? * if marker == 0xdf { 2 } else { 1 }, 0)
            }
            // 0xc1 is never used.
            0xc1 => return Err(DecodeError::Malformed),
        };
        self.take(skip)?;
        // Every item is at least one byte: a count beyond the input is refused before looping.
        if items > self.rest().len() as u64 {
            return Err(DecodeError::Truncated);
        }
        for _ in 0..items {
            self.skip_nested(depth + 1)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_take_the_fewest_bytes_as_go_msgpack_writes_them() {
        let enc = |v| {
            let mut out = Vec::new();
            write_uint(&mut out, v);
            out
        };
        assert_eq!(enc(0), [0x00]);
        assert_eq!(enc(127), [0x7f]);
        assert_eq!(enc(128), [0xcc, 0x80]);
        assert_eq!(enc(256), [0xcd, 0x01, 0x00]);
        assert_eq!(enc(65536), [0xce, 0, 1, 0, 0]);
        assert_eq!(enc(1 << 32), [0xcf, 0, 0, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn strings_never_use_str8_and_switch_to_str32_past_65535() {
        let head = |len: usize| {
            let mut out = Vec::new();
            write_str(&mut out, &alloc::vec![b'x'; len]);
            out.truncate(out.len() - len);
            out
        };
        assert_eq!(head(31), [0xbf]);
        assert_eq!(head(32), [0xda, 0x00, 0x20]);
        assert_eq!(head(255), [0xda, 0x00, 0xff]);
        assert_eq!(head(65535), [0xda, 0xff, 0xff]);
        assert_eq!(head(65536), [0xdb, 0x00, 0x01, 0x00, 0x00]);
    }

    #[test]
    fn the_reader_accepts_every_form_of_the_types_it_reads() {
        assert_eq!(Reader::new(&[0xd9, 2, b'h', b'i']).str(), Ok("hi"));
        assert_eq!(Reader::new(&[0xc4, 1, 7]).bytes(), Ok(&[7u8][..]));
        assert_eq!(Reader::new(&[0xc0]).bytes(), Ok(&[][..]));
        assert_eq!(Reader::new(&[0xd0, 5]).uint(), Ok(5));
        assert_eq!(Reader::new(&[0xd0, 0xff]).uint(), Err(DecodeError::Malformed));
        assert_eq!(Reader::new(&[0xcd, 1]).uint(), Err(DecodeError::Truncated));
        assert_eq!(Reader::new(&[0xce, 0, 1, 0, 0]).uint_as::<u16>(), Err(DecodeError::Malformed));
    }

    #[test]
    fn skipping_stops_at_the_depth_bound_and_at_lying_counts() {
        let mut deep = alloc::vec![0x91u8; MAX_DEPTH + 2];
        deep.push(0x00);
        assert_eq!(Reader::new(&deep).skip(), Err(DecodeError::Malformed));
        let mut shallow = alloc::vec![0x91u8; MAX_DEPTH];
        shallow.push(0x00);
        let mut r = Reader::new(&shallow);
        assert_eq!(r.skip(), Ok(()));
        assert_eq!(r.position(), shallow.len());
        assert_eq!(Reader::new(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0x00]).skip(), Err(DecodeError::Truncated));
        assert_eq!(Reader::new(&[0xc1]).skip(), Err(DecodeError::Malformed));
        // An ext8 of length 2 (type byte 5), then a float64.
        let mut r = Reader::new(&[0xc7, 2, 5, 1, 2, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(r.skip().and_then(|()| r.skip()), Ok(()));
        assert!(r.rest().is_empty());
    }
}
