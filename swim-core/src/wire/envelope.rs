//! The envelope around every packet: version, flags, cluster label, and (with a keyring)
//! encryption.
//!
//! ```text
//! packet := version:u8 flags:u8 [label_len:u8 label[label_len]] body
//! version := the protocol version of this packet; a receiver reads it only if it is within
//!            its `Config::versions.protocol` range (see crate::versions)
//! flags  := bit 0 ENCRYPTED, bit 1 LABELLED, bit 2 COMPRESSED; other bits are reserved and
//!           must be 0
//! body   := payload                                    (plaintext)
//!         | cipher:u8 nonce[12] ciphertext tag[16]     (ENCRYPTED; decrypts to payload)
//! payload := messages | compressed                     (COMPRESSED: see wire::compression)
//! ```
//!
//! With encryption, everything before the ciphertext (version, flags, label, cipher, nonce)
//! is the AEAD's associated data: a label cannot be removed or swapped without the key.
//! Without encryption the label only keeps clusters that share a network apart.

use alloc::vec::Vec;

use crate::error::DecodeError;

/// The protocol version swim has always written: the default `Config::versions.protocol`
/// (`1..=1`), and what [`begin`] writes.
pub const VERSION: u8 = 1;
/// Flag: the body is encrypted.
pub const FLAG_ENCRYPTED: u8 = 0b01;
/// Flag: a cluster label follows the flags.
pub const FLAG_LABELLED: u8 = 0b10;
/// Flag: the payload is compressed ([`super::compression`]); stream messages only.
pub const FLAG_COMPRESSED: u8 = 0b100;
/// Longest cluster label, in bytes.
pub const MAX_LABEL: usize = 255;

/// A parsed envelope header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// The protocol version the packet was sent at.
    pub version: u8,
    /// The cluster label (empty if none).
    pub label: &'a [u8],
    /// Whether the body is encrypted.
    pub encrypted: bool,
    /// Whether the payload (decrypted, if encrypted) is compressed.
    pub compressed: bool,
    /// Bytes of the header (the associated data of an encrypted body).
    pub len: usize,
}

/// Write a header of protocol version [`VERSION`] to `out` (cleared first); returns its
/// length. `label` must be at most [`MAX_LABEL`] bytes (checked by `Config::validate`).
pub fn begin(out: &mut Vec<u8>, label: &[u8], encrypted: bool) -> usize {
    begin_versioned(out, VERSION, label, encrypted)
}

/// [`begin`] for a packet sent at protocol `version`.
pub fn begin_versioned(out: &mut Vec<u8>, version: u8, label: &[u8], encrypted: bool) -> usize {
    out.clear();
    out.push(version);
    let mut flags = 0;
    if encrypted {
        flags |= FLAG_ENCRYPTED;
    }
    if !label.is_empty() {
        flags |= FLAG_LABELLED;
    }
    out.push(flags);
    if !label.is_empty() {
        let label = &label[..label.len().min(MAX_LABEL)];
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.len()
}

/// Mark the packet begun in `out` as compressed (before sealing: the flags are associated data).
pub fn set_compressed(out: &mut [u8]) {
    if let Some(flags) = out.get_mut(1) {
        *flags |= FLAG_COMPRESSED;
    }
}

/// Whether a packet that [`parse`]d has its payload compressed.
pub fn is_compressed(packet: &[u8]) -> bool {
    packet.get(1).is_some_and(|f| f & FLAG_COMPRESSED != 0)
}

/// Split a packet into its header and body. Any version byte parses: whether the receiver
/// reads that version is its own range's business (`Sealer::open` checks it).
pub fn parse(input: &[u8]) -> Result<(Header<'_>, &[u8]), DecodeError> {
    let (&version, rest) = input.split_first().ok_or(DecodeError::Empty)?;
    let (&flags, mut rest) = rest.split_first().ok_or(DecodeError::Truncated)?;
    if flags & !(FLAG_ENCRYPTED | FLAG_LABELLED | FLAG_COMPRESSED) != 0 {
        return Err(DecodeError::UnsupportedVersion);
    }
    let mut label: &[u8] = &[];
    if flags & FLAG_LABELLED != 0 {
        let (&len, r) = rest.split_first().ok_or(DecodeError::Truncated)?;
        if len == 0 {
            return Err(DecodeError::BadLength);
        }
        if r.len() < len as usize {
            return Err(DecodeError::Truncated);
        }
        let (l, r) = r.split_at(len as usize);
        label = l;
        rest = r;
    }
    let len = input.len() - rest.len();
    if rest.is_empty() {
        return Err(DecodeError::Empty);
    }
    let (encrypted, compressed) = (flags & FLAG_ENCRYPTED != 0, flags & FLAG_COMPRESSED != 0);
    Ok((Header { version, label, encrypted, compressed, len }, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn header_roundtrip() {
        let mut out = Vec::new();
        for (label, enc) in [(&b""[..], false), (b"prod", false), (b"prod", true), (b"", true)] {
            let n = begin(&mut out, label, enc);
            out.extend_from_slice(b"body");
            let (h, body) = parse(&out).unwrap();
            assert_eq!((h.version, h.label, h.encrypted, h.len), (VERSION, label, enc, n));
            assert_eq!(body, b"body");
        }
        begin_versioned(&mut out, 7, b"prod", false);
        out.push(0);
        assert_eq!(parse(&out).unwrap().0.version, 7, "any version parses; the receiver's range decides");
    }

    #[test]
    fn rejects_bad_headers() {
        assert_eq!(parse(&[]), Err(DecodeError::Empty));
        assert_eq!(parse(&[VERSION]), Err(DecodeError::Truncated));
        assert_eq!(parse(&[VERSION, 0x80, 1]), Err(DecodeError::UnsupportedVersion));
        assert_eq!(parse(&[VERSION, 0x08, 1]), Err(DecodeError::UnsupportedVersion));
        let mut p = vec![VERSION, FLAG_LABELLED, 1, b'a', 9];
        set_compressed(&mut p);
        let (h, body) = parse(&p).unwrap();
        assert!(h.compressed && !h.encrypted && is_compressed(&p));
        assert_eq!((h.label, body), (&b"a"[..], &[9][..]));
        assert_eq!(parse(&[VERSION, FLAG_LABELLED, 5, b'a']), Err(DecodeError::Truncated));
        assert_eq!(parse(&[VERSION, FLAG_LABELLED, 0, 1]), Err(DecodeError::BadLength));
        assert_eq!(parse(&[VERSION, 0]), Err(DecodeError::Empty));
        assert_eq!(parse(&[VERSION, FLAG_LABELLED, 1, b'a']), Err(DecodeError::Empty));
    }
}
