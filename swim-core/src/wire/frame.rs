//! Length-prefixed frames for stream messages.
//!
//! A stream message (one packet from [`super::Codec`]) travels over a byte stream as
//!
//! ```text
//! frame := length:u32 big-endian, message[length]
//! ```
//!
//! A reader must check the length against its limit before reading the body
//! ([`parse_header`] does); [`FrameDecoder`] does it for incremental input.

use alloc::vec::Vec;
use core::fmt;

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 4;

/// A frame announced more bytes than the reader accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameTooLarge {
    /// The announced length.
    pub len: usize,
    /// The reader's limit.
    pub max: usize,
}

impl fmt::Display for FrameTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stream frame of {} bytes exceeds the limit of {}", self.len, self.max)
    }
}

impl core::error::Error for FrameTooLarge {}

/// The header for a message of `len` bytes. `len` must fit in a `u32`.
pub fn header(len: usize) -> [u8; HEADER_LEN] {
    (len.min(u32::MAX as usize) as u32).to_be_bytes()
}

/// Append one framed message to `out`.
pub fn encode(message: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&header(message.len()));
    out.extend_from_slice(message);
}

/// The body length a header announces, if it is within `max` (and non-zero).
pub fn parse_header(h: [u8; HEADER_LEN], max: usize) -> Result<usize, FrameTooLarge> {
    let len = u32::from_be_bytes(h) as usize;
    if len > max || len == 0 { Err(FrameTooLarge { len, max }) } else { Ok(len) }
}

/// Reassembles frames from arbitrary chunks of a byte stream, holding at most one frame.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    max: usize,
}

impl FrameDecoder {
    /// A decoder that rejects frames longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        FrameDecoder { buf: Vec::new(), max }
    }

    /// Feed bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame's body, `Ok(None)` if more bytes are needed, or an error if the
    /// announced length is over the limit (the stream should then be closed).
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameTooLarge> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let mut h = [0u8; HEADER_LEN];
        h.copy_from_slice(&self.buf[..HEADER_LEN]);
        let len = parse_header(h, self.max)?;
        if self.buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let body = self.buf[HEADER_LEN..HEADER_LEN + len].to_vec();
        self.buf.drain(..HEADER_LEN + len);
        Ok(Some(body))
    }

    /// Bytes buffered but not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn swims_framing_knows_a_frame_once_it_is_whole() {
        let mut buf = Vec::new();
        encode(b"hello", &mut buf);
        buf.extend_from_slice(b"next");
        let f = StreamFraming::Frames;
        for cut in 0..HEADER_LEN + 5 {
            assert_eq!(f.message_len(&buf[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(f.message_len(&buf), Ok(Some(HEADER_LEN + 5)));
    }

    #[test]
    fn reassembles_split_frames() {
        let mut wire = Vec::new();
        encode(b"hello", &mut wire);
        encode(b"world!", &mut wire);
        let mut d = FrameDecoder::new(100);
        for b in &wire {
            d.push(core::slice::from_ref(b));
        }
        assert_eq!(d.next_frame().unwrap(), Some(b"hello".to_vec()));
        assert_eq!(d.next_frame().unwrap(), Some(b"world!".to_vec()));
        assert_eq!(d.next_frame().unwrap(), None);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn rejects_oversized_and_empty() {
        let mut d = FrameDecoder::new(4);
        d.push(&header(5));
        assert_eq!(d.next_frame(), Err(FrameTooLarge { len: 5, max: 4 }));
        assert!(parse_header([0, 0, 0, 0], 10).is_err());
        assert_eq!(parse_header(header(10), 10), Ok(10));
        let mut d = FrameDecoder::new(10);
        d.push(&[0, 0, 0, 3, 1]);
        assert_eq!(d.next_frame(), Ok(None));
        d.push(&[2, 3]);
        assert_eq!(d.next_frame(), Ok(Some(vec![1, 2, 3])));
    }
}

/// How stream messages are delimited on a connection ([`crate::Swim::stream_framing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamFraming {
    /// swim's own: every message is one frame (this module); hand the core the frame's body.
    Frames,
    /// Go memberlist's: messages carry no length of their own; read until
    /// [`message_len`](Self::message_len) knows where the message ends and hand the core the
    /// whole message (label header and all). Write transmits as they are, unframed.
    Memberlist {
        /// The field limits a message is checked against.
        limits: super::DecodeLimits,
        /// The largest message (`limits.max_stream_message_size`).
        max: usize,
    },
}

impl StreamFraming {
    /// How long the message at the start of `buf` is, header included: `Ok(None)` until it
    /// has all arrived. Fails on bytes that cannot start a message, or one announcing more
    /// than the largest message.
    pub fn message_len(&self, buf: &[u8]) -> Result<Option<usize>, crate::DecodeError> {
        match *self {
            StreamFraming::Frames => {
                let Some(header) = buf.get(..HEADER_LEN) else { return Ok(None) };
                let mut h = [0u8; HEADER_LEN];
                h.copy_from_slice(header);
                let len = parse_header(h, usize::MAX).map_err(|_| crate::DecodeError::BadLength)?;
                Ok((buf.len() >= HEADER_LEN + len).then_some(HEADER_LEN + len))
            }
            StreamFraming::Memberlist { limits, max } => {
                super::memberlist::profile::stream_message_len(buf, &limits, max)
            }
        }
    }
}
