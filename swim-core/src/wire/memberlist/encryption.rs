//! memberlist's encryption (`security.go`, feature `encryption`): AES-GCM with a 16, 24 or
//! 32-byte key (AES-128, -192 or -256), every key of the keyring tried on receive.
//!
//! An encrypted payload is `[encryption version][12-byte nonce][ciphertext][16-byte tag]`.
//! Version 0 (memberlist protocol version 1) pads the plaintext PKCS#7-style to the AES block
//! size first; version 1 (protocol 2 and later) does not. A packet is encrypted whole with no
//! associated data; a stream is `encryptMsg`, the payload's length as a big-endian `u32`, then
//! the payload, with those five header bytes as associated data. The nonce is the caller's
//! (this crate never draws randomness by itself): it must never repeat under one key.

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm, Nonce, Tag};
use alloc::vec::Vec;

use super::MessageType;
use crate::DecodeError;

/// The encryption version byte, the nonce and the tag around a payload.
pub const NONCE_LEN: usize = 12;
/// The GCM tag's length.
pub const TAG_LEN: usize = 16;
const BLOCK: usize = 16;
/// Header of an encrypted stream: `encryptMsg` and a 4-byte length.
pub const STREAM_HEADER: usize = 5;

/// A key of a length AES-GCM does not take (memberlist's keys are 16, 24 or 32 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadKeyLength;

fn seal(key: &[u8], nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<Tag, BadKeyLength> {
    let nonce = Nonce::from_slice(nonce);
    // `encrypt_in_place_detached` fails only for plaintexts beyond GCM's 64 GiB limit.
    let tag = match key.len() {
        16 => Aes128Gcm::new_from_slice(key).map_err(|_| BadKeyLength)?.encrypt_in_place_detached(nonce, aad, buf),
        24 => AesGcm::<aes::Aes192, U12>::new_from_slice(key)
            .map_err(|_| BadKeyLength)?
            .encrypt_in_place_detached(nonce, aad, buf),
        32 => Aes256Gcm::new_from_slice(key).map_err(|_| BadKeyLength)?.encrypt_in_place_detached(nonce, aad, buf),
        _ => return Err(BadKeyLength),
    };
    tag.map_err(|_| BadKeyLength)
}

fn open(key: &[u8], nonce: &[u8], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> bool {
    let (nonce, tag) = (Nonce::from_slice(nonce), Tag::from_slice(tag));
    match key.len() {
        16 => Aes128Gcm::new_from_slice(key).is_ok_and(|c| c.decrypt_in_place_detached(nonce, aad, buf, tag).is_ok()),
        24 => AesGcm::<aes::Aes192, U12>::new_from_slice(key)
            .is_ok_and(|c| c.decrypt_in_place_detached(nonce, aad, buf, tag).is_ok()),
        32 => Aes256Gcm::new_from_slice(key).is_ok_and(|c| c.decrypt_in_place_detached(nonce, aad, buf, tag).is_ok()),
        _ => false,
    }
}

/// Append `msg` encrypted as memberlist's `encryptPayload` does, at encryption `version` (0
/// or 1; 0 pads), with `aad` as associated data (empty for packets).
pub fn encrypt(
    version: u8,
    key: &[u8],
    nonce: [u8; NONCE_LEN],
    msg: &[u8],
    aad: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), BadKeyLength> {
    out.push(version);
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(msg);
    if version == 0 {
        let pad = BLOCK - msg.len() % BLOCK;
        // `pad` is 1 to 16.
        out.extend(core::iter::repeat_n(pad as u8, pad));
    }
    match seal(key, &nonce, aad, &mut out[start..]) {
        Ok(tag) => {
            out.extend_from_slice(&tag);
            Ok(())
        }
        Err(e) => {
            out.truncate(start - NONCE_LEN - 1);
            Err(e)
        }
    }
}

/// The plaintext of an encrypted payload, opened with the first of `keys` that authenticates
/// it (memberlist's `decryptPayload`). [`DecodeError::Decrypt`] when none does, the version is
/// unknown, the payload is shorter than a nonce and a tag, or version 0's padding is invalid
/// (memberlist does not check it; a payload that forges it is refused here).
pub fn decrypt<'k>(
    keys: impl IntoIterator<Item = &'k [u8]>,
    payload: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, DecodeError> {
    let (&version, rest) = payload.split_first().ok_or(DecodeError::Empty)?;
    if version > 1 || rest.len() < NONCE_LEN + TAG_LEN + usize::from(version == 0) {
        return Err(DecodeError::Decrypt);
    }
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let (ciphertext, tag) = sealed.split_at(sealed.len() - TAG_LEN);
    let mut plain = Vec::with_capacity(ciphertext.len());
    for key in keys {
        plain.clear();
        plain.extend_from_slice(ciphertext);
        if open(key, nonce, aad, &mut plain, tag) {
            if version == 0 {
                let pad = usize::from(*plain.last().ok_or(DecodeError::Decrypt)?);
                if pad == 0 || pad > BLOCK || pad > plain.len() {
                    return Err(DecodeError::Decrypt);
                }
                plain.truncate(plain.len() - pad);
            }
            return Ok(plain);
        }
    }
    Err(DecodeError::Decrypt)
}

/// Append `msg` as an encrypted stream (`encryptLocalState`): `encryptMsg`, the payload's
/// length, the payload sealed with those five bytes and the stream's `label` (newer
/// memberlist versions; empty for none, as 0.2.2 has) as associated data.
pub fn encrypt_stream(
    version: u8,
    key: &[u8],
    nonce: [u8; NONCE_LEN],
    msg: &[u8],
    label: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), BadKeyLength> {
    let pad = if version == 0 { BLOCK - msg.len() % BLOCK } else { 0 };
    let len = 1 + NONCE_LEN + msg.len() + pad + TAG_LEN;
    let start = out.len();
    out.push(MessageType::Encrypt as u8);
    // A stream beyond 4 GiB cannot be sent by memberlist either; the reader refuses it.
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    let mut aad = Vec::with_capacity(STREAM_HEADER + label.len());
    aad.extend_from_slice(&out[start..]);
    aad.extend_from_slice(label);
    encrypt(version, key, nonce, msg, &aad, out).inspect_err(|_| out.truncate(start))
}

/// The plaintext of an encrypted stream at the start of `input` (starting with `encryptMsg`)
/// and how many bytes it took, authenticated with the stream's `label` (empty for none);
/// [`DecodeError::Truncated`] until all of it has arrived, [`DecodeError::Oversized`] if its
/// length is beyond `max`.
pub fn decrypt_stream<'k>(
    keys: impl IntoIterator<Item = &'k [u8]>,
    input: &[u8],
    label: &[u8],
    max: usize,
) -> Result<(Vec<u8>, usize), DecodeError> {
    let header = input.get(..STREAM_HEADER).ok_or(DecodeError::Truncated)?;
    if header[0] != MessageType::Encrypt as u8 {
        return Err(DecodeError::UnknownMessage);
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > max {
        return Err(DecodeError::Oversized);
    }
    let payload = input.get(STREAM_HEADER..STREAM_HEADER + len).ok_or(DecodeError::Truncated)?;
    let mut aad = Vec::with_capacity(STREAM_HEADER + label.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(label);
    Ok((decrypt(keys, payload, &aad)?, STREAM_HEADER + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_versions_and_every_key_length_round_trip_and_refuse_a_wrong_key() {
        for len in [16, 24, 32] {
            let key = alloc::vec![7u8; len];
            let other = alloc::vec![8u8; len];
            for version in [0, 1] {
                for msg_len in [0, 1, 15, 16, 17, 100] {
                    let msg = alloc::vec![0x5a; msg_len];
                    let mut sealed = Vec::new();
                    encrypt(version, &key, [1; NONCE_LEN], &msg, b"", &mut sealed).unwrap();
                    let pad = if version == 0 { BLOCK - msg_len % BLOCK } else { 0 };
                    assert_eq!(sealed.len(), 1 + NONCE_LEN + msg_len + pad + TAG_LEN);
                    assert_eq!(decrypt([&other[..], &key[..]], &sealed, b""), Ok(msg.clone()));
                    assert_eq!(decrypt([&other[..]], &sealed, b""), Err(DecodeError::Decrypt));
                    let mut stream = Vec::new();
                    encrypt_stream(version, &key, [2; NONCE_LEN], &msg, b"", &mut stream).unwrap();
                    assert_eq!(decrypt_stream([&key[..]], &stream, b"", 1 << 20), Ok((msg.clone(), stream.len())));
                    assert_eq!(
                        decrypt_stream([&key[..]], &stream[..stream.len() - 1], b"", 1 << 20),
                        Err(DecodeError::Truncated)
                    );
                    // The header is authenticated: a changed length byte is refused.
                    let mut forged = stream.clone();
                    forged.push(0);
                    forged[4] += 1;
                    assert_eq!(decrypt_stream([&key[..]], &forged, b"", 1 << 20), Err(DecodeError::Decrypt));
                }
            }
        }
        assert_eq!(encrypt(1, &[0; 15], [0; NONCE_LEN], b"x", b"", &mut Vec::new()), Err(BadKeyLength));
        assert_eq!(decrypt([&[0u8; 16][..]], &[2; 40], b""), Err(DecodeError::Decrypt));
        assert_eq!(decrypt([&[0u8; 16][..]], &[1; 20], b""), Err(DecodeError::Decrypt));
    }
}
