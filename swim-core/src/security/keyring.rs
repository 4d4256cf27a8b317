//! The keyring: keys, ciphers, nonces, sealing and opening one packet body.

use alloc::vec::Vec;
use core::fmt;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use chacha20poly1305::ChaCha20Poly1305;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Most keys a keyring holds.
pub const MAX_KEYS: usize = 16;
/// Bytes of a key.
pub const KEY_LEN: usize = 32;
/// Bytes of a nonce.
pub const NONCE_LEN: usize = 12;
/// Bytes of an authentication tag.
pub const TAG_LEN: usize = 16;
/// Bytes encryption adds to a packet: cipher id, nonce, tag.
pub const OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// A 256-bit key. Zeroized on drop; `Debug` shows only its fingerprint.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Key([u8; KEY_LEN]);

impl Key {
    /// A key from 32 bytes (use a CSPRNG, e.g. `openssl rand -base64 32`).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Key(bytes)
    }

    /// A key from a slice, which must be exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: [u8; KEY_LEN] = bytes.try_into().map_err(|_| KeyError::WrongLength)?;
        Ok(Key(arr))
    }

    /// The key's bytes, for storing it. Handle with care.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// A non-secret identifier for the key: the first 8 bytes of its AES-256-GCM tag over an
    /// empty message with an all-zero nonce (a key check value). Safe to log and compare.
    pub fn fingerprint(&self) -> Fingerprint {
        let cipher = Aes256Gcm::new(aes_gcm::Key::<Aes256Gcm>::from_slice(&self.0));
        let mut empty = [0u8; 0];
        // Encrypting an empty buffer cannot fail (the only error is a buffer over 2^36 bytes).
        let tag = cipher.encrypt_in_place_detached(Nonce::from_slice(&[0u8; NONCE_LEN]), b"swim key", &mut empty);
        let mut fp = [0u8; 8];
        if let Ok(tag) = tag {
            fp.copy_from_slice(&tag[..8]);
        }
        Fingerprint(fp)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        // Compare without an early exit.
        self.0.iter().zip(other.0.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl Eq for Key {}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?})", self.fingerprint())
    }
}

/// A key's public identifier; see [`Key::fingerprint`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 8]);

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The AEAD a keyring uses. Every member of a cluster must use the same one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// AES-256-GCM (memberlist's choice; fast with AES-NI).
    Aes256Gcm,
    /// ChaCha20-Poly1305 (fast without AES hardware).
    ChaCha20Poly1305,
}

impl Cipher {
    /// The id written in each encrypted packet.
    pub const fn id(self) -> u8 {
        match self {
            Cipher::Aes256Gcm => 1,
            Cipher::ChaCha20Poly1305 => 2,
        }
    }
}

/// A keyring operation that was refused. The keyring is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// A key must be exactly 32 bytes.
    WrongLength,
    /// The keyring already holds [`MAX_KEYS`] keys.
    Full,
    /// The key is not in the keyring.
    Unknown,
    /// The primary key cannot be removed; make another key primary first.
    Primary,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyError::WrongLength => "a key must be 32 bytes",
            KeyError::Full => "the keyring is full",
            KeyError::Unknown => "no such key in the keyring",
            KeyError::Primary => "the primary key cannot be removed",
        })
    }
}

impl core::error::Error for KeyError {}

enum Aead {
    // Boxed: the AES key schedule is about 1 KB, ChaCha's state 32 bytes.
    Aes(alloc::boxed::Box<Aes256Gcm>),
    ChaCha(ChaCha20Poly1305),
}

struct Entry {
    key: Key,
    aead: Aead,
}

impl Entry {
    fn new(cipher: Cipher, key: Key) -> Self {
        let aead = match cipher {
            Cipher::Aes256Gcm => {
                Aead::Aes(alloc::boxed::Box::new(Aes256Gcm::new(aes_gcm::Key::<Aes256Gcm>::from_slice(key.expose()))))
            }
            Cipher::ChaCha20Poly1305 => {
                Aead::ChaCha(ChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key.expose())))
            }
        };
        Entry { key, aead }
    }
}

/// Keys for one cipher; the first is the primary. See the module docs for rotation.
pub struct Keyring {
    cipher: Cipher,
    entries: Vec<Entry>,
    nonce_prefix: u64,
    nonce_counter: u32,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").field("cipher", &self.cipher).field("keys", &self.fingerprints()).finish()
    }
}

impl Keyring {
    /// A keyring with one (primary) key. `entropy` must be fresh random bytes for this process
    /// (from the operating system's CSPRNG): it seeds the nonces.
    pub fn new(cipher: Cipher, primary: Key, entropy: [u8; 8]) -> Self {
        Keyring {
            cipher,
            entries: alloc::vec![Entry::new(cipher, primary)],
            nonce_prefix: u64::from_le_bytes(entropy),
            nonce_counter: 0,
        }
    }

    /// The cipher.
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// Fingerprints of the keys, primary first.
    pub fn fingerprints(&self) -> Vec<Fingerprint> {
        self.entries.iter().map(|e| e.key.fingerprint()).collect()
    }

    /// The primary key's fingerprint.
    pub fn primary(&self) -> Fingerprint {
        self.entries[0].key.fingerprint()
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Never true: a keyring always holds its primary key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Add a key for decryption. Adding a key already held does nothing.
    pub fn add(&mut self, key: Key) -> Result<(), KeyError> {
        if self.entries.iter().any(|e| e.key == key) {
            return Ok(());
        }
        if self.entries.len() >= MAX_KEYS {
            return Err(KeyError::Full);
        }
        self.entries.push(Entry::new(self.cipher, key));
        Ok(())
    }

    /// Make a held key the primary (the one that encrypts).
    pub fn make_primary(&mut self, key: &Key) -> Result<(), KeyError> {
        let i = self.entries.iter().position(|e| e.key == *key).ok_or(KeyError::Unknown)?;
        self.entries.swap(0, i);
        Ok(())
    }

    /// Remove a key that is not the primary.
    pub fn remove(&mut self, key: &Key) -> Result<(), KeyError> {
        let i = self.entries.iter().position(|e| e.key == *key).ok_or(KeyError::Unknown)?;
        if i == 0 {
            return Err(KeyError::Primary);
        }
        self.entries.remove(i);
        Ok(())
    }

    /// Whether `key` is held.
    pub fn contains(&self, key: &Key) -> bool {
        self.entries.iter().any(|e| e.key == *key)
    }

    /// A complete encrypted packet with `label` around `messages` (an encoded message
    /// sequence, see [`crate::wire::codec`]). For tools and tests that speak the wire
    /// directly; members seal their own packets.
    pub fn seal_packet(&mut self, label: &[u8], messages: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(messages.len() + 3 + label.len() + OVERHEAD);
        crate::wire::envelope::begin(&mut out, label, true);
        let body = self.begin(&mut out);
        out.extend_from_slice(messages);
        self.seal(&mut out, body);
        out
    }

    /// The messages inside an encrypted `packet`, into `out`; false if it is not an encrypted
    /// packet or no key opens it.
    pub fn open_packet(&self, packet: &[u8], out: &mut Vec<u8>) -> bool {
        match crate::wire::envelope::parse(packet) {
            Ok((h, body)) if h.encrypted => self.open(&packet[..h.len], body, out),
            _ => false,
        }
    }

    fn next_nonce(&mut self) -> [u8; NONCE_LEN] {
        let mut n = [0u8; NONCE_LEN];
        n[..8].copy_from_slice(&self.nonce_prefix.to_le_bytes());
        n[8..].copy_from_slice(&self.nonce_counter.to_le_bytes());
        self.nonce_counter = self.nonce_counter.wrapping_add(1);
        if self.nonce_counter == 0 {
            self.nonce_prefix = self.nonce_prefix.wrapping_add(1);
        }
        n
    }

    /// Append `cipher, nonce` to the header in `out[..]` and reserve nothing else: the caller
    /// then appends the plaintext and calls [`Keyring::seal`] with the returned offset.
    pub(crate) fn begin(&mut self, out: &mut Vec<u8>) -> usize {
        out.push(self.cipher.id());
        let nonce = self.next_nonce();
        out.extend_from_slice(&nonce);
        out.len()
    }

    /// Encrypt `out[body..]` in place with the primary key and append the tag. Everything
    /// before `body` (the header, cipher id and nonce) is authenticated as associated data.
    pub(crate) fn seal(&self, out: &mut Vec<u8>, body: usize) {
        let (head, plain) = out.split_at_mut(body);
        let nonce = Nonce::from_slice(&head[body - NONCE_LEN..]);
        // Both AEADs fail only for messages over 2^36 bytes; packets are at most 64 KiB and
        // stream messages at most `limits.max_stream_message_size` (validated far below).
        let tag = match &self.entries[0].aead {
            Aead::Aes(c) => c.encrypt_in_place_detached(nonce, head, plain),
            Aead::ChaCha(c) => c.encrypt_in_place_detached(nonce, head, plain),
        };
        match tag {
            Ok(tag) => out.extend_from_slice(&tag),
            Err(_) => out.truncate(body), // unreachable; the receiver rejects the short packet
        }
    }

    /// Decrypt a packet body `cipher nonce ciphertext tag` whose header is `aad`, into `out`
    /// (cleared first). Tries every key. Returns false if the cipher differs or no key opens it.
    pub(crate) fn open(&self, aad: &[u8], body: &[u8], out: &mut Vec<u8>) -> bool {
        if body.len() < OVERHEAD || body[0] != self.cipher.id() {
            return false;
        }
        let sealed_head = &body[..1 + NONCE_LEN];
        let nonce = Nonce::from_slice(&body[1..1 + NONCE_LEN]);
        let (ciphertext, tag) = body[1 + NONCE_LEN..].split_at(body.len() - 1 - NONCE_LEN - TAG_LEN);
        let tag = Tag::from_slice(tag);
        // Associated data: the envelope header followed by cipher id and nonce.
        let mut ad = [0u8; 3 + 255 + 1 + NONCE_LEN];
        let ad_len = aad.len() + sealed_head.len();
        if ad_len > ad.len() {
            return false;
        }
        ad[..aad.len()].copy_from_slice(aad);
        ad[aad.len()..ad_len].copy_from_slice(sealed_head);
        for e in &self.entries {
            out.clear();
            out.extend_from_slice(ciphertext);
            let ok = match &e.aead {
                Aead::Aes(c) => c.decrypt_in_place_detached(nonce, &ad[..ad_len], out, tag).is_ok(),
                Aead::ChaCha(c) => c.decrypt_in_place_detached(nonce, &ad[..ad_len], out, tag).is_ok(),
            };
            if ok {
                return true;
            }
        }
        out.clear();
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn key(b: u8) -> Key {
        Key::from_bytes([b; KEY_LEN])
    }

    fn roundtrip(ring: &mut Keyring, reader: &Keyring, header: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
        let mut out = header.to_vec();
        let body = ring.begin(&mut out);
        out.extend_from_slice(msg);
        ring.seal(&mut out, body);
        let mut plain = Vec::new();
        reader.open(header, &out[header.len()..], &mut plain).then_some(plain)
    }

    #[test]
    fn seal_and_open_with_both_ciphers() {
        for cipher in [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305] {
            let mut a = Keyring::new(cipher, key(1), [7; 8]);
            let b = Keyring::new(cipher, key(1), [9; 8]);
            assert_eq!(roundtrip(&mut a, &b, b"\x01\x01", b"hello").as_deref(), Some(&b"hello"[..]));
            // Another header (the label) fails authentication.
            let mut out = b"\x01\x01".to_vec();
            let body = a.begin(&mut out);
            out.extend_from_slice(b"hello");
            a.seal(&mut out, body);
            let mut plain = Vec::new();
            assert!(!b.open(b"\x01\x03", &out[2..], &mut plain));
            // A flipped ciphertext bit fails.
            out[body] ^= 1;
            assert!(!b.open(b"\x01\x01", &out[2..], &mut plain));
        }
    }

    #[test]
    fn whole_packets_seal_and_open() {
        let mut a = Keyring::new(Cipher::ChaCha20Poly1305, key(4), [1; 8]);
        let p = a.seal_packet(b"lbl", b"messages");
        let mut out = Vec::new();
        assert!(a.open_packet(&p, &mut out));
        assert_eq!(out, b"messages");
        let mut bad = p.clone();
        bad[3] ^= 1; // the label
        assert!(!a.open_packet(&bad, &mut out));
        assert!(!a.open_packet(b"\x01\x00plain", &mut out));
    }

    #[test]
    fn the_other_cipher_and_other_keys_cannot_open() {
        let mut a = Keyring::new(Cipher::Aes256Gcm, key(1), [0; 8]);
        let c = Keyring::new(Cipher::ChaCha20Poly1305, key(1), [0; 8]);
        let other = Keyring::new(Cipher::Aes256Gcm, key(2), [0; 8]);
        assert!(roundtrip(&mut a, &c, b"", b"x").is_none());
        assert!(roundtrip(&mut a, &other, b"", b"x").is_none());
    }

    #[test]
    fn rotation_without_downtime() {
        let mut a = Keyring::new(Cipher::Aes256Gcm, key(1), [1; 8]);
        let mut b = Keyring::new(Cipher::Aes256Gcm, key(1), [2; 8]);
        // 1. add the new key everywhere
        a.add(key(2)).unwrap();
        b.add(key(2)).unwrap();
        // 2. a switches first; b still writes the old key; both read both
        a.make_primary(&key(2)).unwrap();
        assert!(roundtrip(&mut a, &b, b"", b"m1").is_some());
        assert!(roundtrip(&mut b, &a, b"", b"m2").is_some());
        b.make_primary(&key(2)).unwrap();
        // 3. remove the old key
        assert_eq!(a.remove(&key(2)), Err(KeyError::Primary));
        a.remove(&key(1)).unwrap();
        b.remove(&key(1)).unwrap();
        assert!(roundtrip(&mut a, &b, b"", b"m3").is_some());
        assert_eq!(a.len(), 1);
        assert_eq!(a.remove(&key(1)), Err(KeyError::Unknown));
        // A member that still only has the old key is now locked out.
        let old = Keyring::new(Cipher::Aes256Gcm, key(1), [3; 8]);
        assert!(roundtrip(&mut a, &old, b"", b"m4").is_none());
    }

    #[test]
    fn bounded_and_idempotent() {
        let mut a = Keyring::new(Cipher::Aes256Gcm, key(0), [0; 8]);
        for i in 1..MAX_KEYS as u8 {
            a.add(key(i)).unwrap();
        }
        a.add(key(3)).unwrap();
        assert_eq!(a.len(), MAX_KEYS);
        assert_eq!(a.add(key(200)), Err(KeyError::Full));
        assert_eq!(Key::from_slice(&[0; 31]), Err(KeyError::WrongLength));
    }

    #[test]
    fn nonces_never_repeat_and_keys_do_not_print() {
        let mut a = Keyring::new(Cipher::Aes256Gcm, key(5), [0xff; 8]);
        a.nonce_counter = u32::MAX - 1;
        let n1 = a.next_nonce();
        let n2 = a.next_nonce();
        let n3 = a.next_nonce();
        assert!(n1 != n2 && n2 != n3 && n1 != n3);
        let shown = format!("{:?} {:?}", key(5), a);
        assert!(!shown.contains("5, 5"), "{shown}");
        assert!(shown.contains(&format!("{}", key(5).fingerprint())));
        assert_ne!(key(5).fingerprint(), key(6).fingerprint());
    }
}
