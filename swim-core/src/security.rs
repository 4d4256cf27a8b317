//! Authenticated encryption of every datagram and stream message (feature `encryption`),
//! and the sealer that applies it to every packet.
//!
//! A [`Keyring`] holds up to [`MAX_KEYS`] 256-bit keys for one cipher (AES-256-GCM by
//! default, or ChaCha20-Poly1305). The primary key encrypts; every key is tried to decrypt,
//! so keys can be rotated without downtime:
//!
//! 1. [`Keyring::add`] the new key on every member (all can now read it);
//! 2. [`Keyring::make_primary`] the new key on every member (all now write it);
//! 3. [`Keyring::remove`] the old key on every member.
//!
//! The packet header (version, flags, cluster label, cipher, nonce) is authenticated as
//! associated data, so the label cannot be stripped or changed either.
//!
//! Nonces are 96 bits: an 8-byte prefix drawn from the entropy given to [`Keyring::new`]
//! followed by a 32-bit counter (the prefix advances when the counter wraps). They never
//! come from the core's protocol RNG: a process restarted with the same seed would repeat
//! them. Give every process fresh random entropy.
//!
//! Keys are zeroized when dropped (the cipher states too) and never printed by `Debug`.

//!
//! Whatever the features, the core seals and opens every packet through one `Sealer`
//! (crate-private): it holds the keyring, the two plaintext switches and the protocol versions
//! this member reads, writes the envelope
//! (and, when encrypting, the cipher id and nonce) before the messages, seals them after, and
//! checks and opens inbound packets. Without the `encryption` feature it holds no keyring:
//! packets go out in plaintext and an encrypted one is rejected.

use alloc::vec::Vec;

use crate::error::DecodeError;
use crate::versions::VersionRange;
use crate::wire::envelope;

#[cfg(feature = "encryption")]
mod keyring;
#[cfg(feature = "encryption")]
pub use keyring::*;

/// Seals outbound packets and opens inbound ones: the keyring (with the `encryption` feature),
/// the plaintext switches and the buffer packets are decrypted into.
#[derive(Debug)]
pub(crate) struct Sealer {
    #[cfg(feature = "encryption")]
    keyring: Option<Keyring>,
    /// Decrypted packets are opened here; it keeps its capacity between packets.
    #[cfg(feature = "encryption")]
    open_buf: Vec<u8>,
    accept_plaintext: bool,
    send_plaintext: bool,
    /// Unlabelled packets accepted under the label roll-out switch (`Stats::unlabelled_accepted`).
    unlabelled_accepted: u64,
    /// The envelope versions accepted (`Config::versions.protocol`).
    versions: VersionRange,
}

/// A packet being built: where its messages start and whether they will be encrypted.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sealing {
    /// Offset of the first message, after the envelope header (and cipher id and nonce).
    pub body: usize,
    /// Whether [`Sealer::seal`] encrypts the messages.
    pub encrypt: bool,
}

impl Sealing {
    /// Bytes sealing adds after the messages (the authentication tag), which a datagram's
    /// budget must leave room for.
    pub fn trailer_room(&self) -> usize {
        if self.encrypt { crate::config::ENCRYPTION_OVERHEAD } else { 0 }
    }
}

/// Where an opened packet's plaintext messages are.
#[derive(Debug)]
pub(crate) enum Opened {
    /// In the packet itself, from this offset on (a plaintext packet).
    Plain(usize),
    /// In this buffer (a decrypted packet); hand it back with [`Sealer::recycle`].
    #[cfg_attr(not(feature = "encryption"), allow(dead_code))]
    Decrypted(Vec<u8>),
}

impl Sealer {
    /// No keyring; plaintext sent and accepted; envelopes of a version in `versions` opened.
    pub fn new(versions: VersionRange) -> Self {
        Sealer {
            #[cfg(feature = "encryption")]
            keyring: None,
            #[cfg(feature = "encryption")]
            open_buf: Vec::new(),
            accept_plaintext: true,
            send_plaintext: true,
            unlabelled_accepted: 0,
            versions,
        }
    }

    /// Install (or with `None`, remove) the keyring; both plaintext switches follow: off with
    /// a keyring, on without.
    #[cfg(feature = "encryption")]
    pub fn set_keyring(&mut self, keyring: Option<Keyring>) {
        let on = keyring.is_some();
        self.keyring = keyring;
        self.accept_plaintext = !on;
        self.send_plaintext = !on;
    }

    /// The keyring, if any.
    #[cfg(feature = "encryption")]
    pub fn keyring(&self) -> Option<&Keyring> {
        self.keyring.as_ref()
    }

    /// The keyring, to change, if any.
    #[cfg(feature = "encryption")]
    pub fn keyring_mut(&mut self) -> Option<&mut Keyring> {
        self.keyring.as_mut()
    }

    /// Set the migration switches: `accept` plaintext packets, `send` plaintext.
    pub fn set_plaintext(&mut self, accept: bool, send: bool) {
        self.accept_plaintext = accept;
        self.send_plaintext = send;
    }

    /// `(accept, send)` plaintext.
    pub fn plaintext(&self) -> (bool, bool) {
        (self.accept_plaintext, self.send_plaintext)
    }

    fn encrypting(&self) -> bool {
        #[cfg(feature = "encryption")]
        {
            self.keyring.is_some() && !self.send_plaintext
        }
        #[cfg(not(feature = "encryption"))]
        {
            false
        }
    }

    fn has_keyring(&self) -> bool {
        #[cfg(feature = "encryption")]
        {
            self.keyring.is_some()
        }
        #[cfg(not(feature = "encryption"))]
        {
            false
        }
    }

    /// Start a packet of protocol `version` in `buf` (cleared first): the envelope header with
    /// `label`, then, when encrypting, the cipher id and a fresh nonce. The messages follow.
    pub fn begin(&mut self, buf: &mut Vec<u8>, version: u8, label: &[u8]) -> Sealing {
        let encrypt = self.encrypting();
        envelope::begin_versioned(buf, version, label, encrypt);
        #[cfg(feature = "encryption")]
        let body = match &mut self.keyring {
            Some(k) if encrypt => k.begin(buf),
            _ => buf.len(),
        };
        #[cfg(not(feature = "encryption"))]
        let body = buf.len();
        Sealing { body, encrypt }
    }

    /// Finish a packet begun with [`begin`](Self::begin): encrypt the messages in place and
    /// append the tag, when encrypting.
    pub fn seal(&self, buf: &mut Vec<u8>, sealing: Sealing) {
        #[cfg(feature = "encryption")]
        if let Some(k) = &self.keyring
            && sealing.encrypt
        {
            k.seal(buf, sealing.body);
        }
        #[cfg(not(feature = "encryption"))]
        let _ = (buf, sealing);
    }

    /// Check an inbound packet's envelope against the versions read, `label` (with
    /// `accept_unlabelled`, a packet without any label passes too, counted) and the plaintext
    /// switches, and find (decrypting if needed) its messages. An encrypted packet is
    /// authenticated with the header it came with, so a label cannot be stripped to pass as
    /// unlabelled.
    pub fn open(&mut self, label: &[u8], accept_unlabelled: bool, data: &[u8]) -> Result<Opened, DecodeError> {
        let (header, _body) = envelope::parse(data)?;
        if !self.versions.contains(header.version) {
            return Err(DecodeError::UnsupportedVersion);
        }
        if header.label != label {
            if !(accept_unlabelled && header.label.is_empty()) {
                return Err(DecodeError::LabelMismatch);
            }
            self.unlabelled_accepted += 1;
        }
        if !header.encrypted {
            if self.has_keyring() && !self.accept_plaintext {
                return Err(DecodeError::Unencrypted);
            }
            return Ok(Opened::Plain(header.len));
        }
        #[cfg(feature = "encryption")]
        {
            let mut plain = core::mem::take(&mut self.open_buf);
            if self.keyring.as_ref().is_some_and(|k| k.open(&data[..header.len], _body, &mut plain)) {
                return Ok(Opened::Decrypted(plain));
            }
            self.recycle(plain);
        }
        Err(DecodeError::Decrypt)
    }

    /// Unlabelled packets [`open`](Self::open) let through the label check under
    /// `accept_unlabelled`.
    pub fn unlabelled_accepted(&self) -> u64 {
        self.unlabelled_accepted
    }

    /// Take back the buffer of an [`Opened::Decrypted`] packet, to reuse its capacity.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        #[cfg(feature = "encryption")]
        {
            self.open_buf = buf;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plaintext packet with `label` and one byte of messages.
    fn packet(label: &[u8]) -> Vec<u8> {
        let mut buf = Vec::new();
        envelope::begin(&mut buf, label, false);
        buf.push(0);
        buf
    }

    #[test]
    fn the_label_check_with_and_without_accepting_unlabelled_packets() {
        // (the receiver's label, accept_unlabelled, the packet's label, accepted)
        let cases: [(&[u8], bool, &[u8], bool); 10] = [
            (b"", false, b"", true),
            (b"", false, b"prod", false),
            (b"", true, b"prod", false), // the switch is about packets without a label only
            (b"prod", false, b"prod", true),
            (b"prod", false, b"", false),
            (b"prod", false, b"test", false),
            (b"prod", true, b"prod", true),
            (b"prod", true, b"", true),
            (b"prod", true, b"test", false),
            (b"prod", true, b"pro", false),
        ];
        for (label, accept, sent, ok) in cases {
            let mut sealer = Sealer::new(crate::versions::Versions::DEFAULT.protocol);
            let r = sealer.open(label, accept, &packet(sent));
            assert_eq!(r.is_ok(), ok, "{label:?} accept={accept} got {sent:?}: {r:?}");
            if !ok {
                assert_eq!(r.unwrap_err(), DecodeError::LabelMismatch);
            }
            let unlabelled = ok && sent.is_empty() && !label.is_empty();
            assert_eq!(sealer.unlabelled_accepted(), u64::from(unlabelled));
        }
    }

    #[cfg(feature = "encryption")]
    #[test]
    fn with_a_keyring_the_header_is_authenticated_whatever_the_label_rule() {
        let ring = || Keyring::new(Cipher::Aes256Gcm, Key::from_bytes([3; 32]), [1; 8]);
        let seal = |label: &[u8]| {
            let mut s = Sealer::new(crate::versions::Versions::DEFAULT.protocol);
            s.set_keyring(Some(ring()));
            let mut buf = Vec::new();
            let sealing = s.begin(&mut buf, crate::wire::envelope::VERSION, label);
            buf.extend_from_slice(b"messages");
            s.seal(&mut buf, sealing);
            buf
        };
        let mut receiver = Sealer::new(crate::versions::Versions::DEFAULT.protocol);
        receiver.set_keyring(Some(ring()));
        let (labelled, unlabelled) = (seal(b"prod"), seal(b""));
        // Genuine packets of both kinds open while unlabelled ones are accepted.
        for p in [&labelled, &unlabelled] {
            assert!(matches!(receiver.open(b"prod", true, p), Ok(Opened::Decrypted(m)) if m == b"messages"));
        }
        // The label stripped (to pass as unlabelled), or added: the tag no longer matches.
        let (h, body) = envelope::parse(&labelled).unwrap();
        assert!(h.encrypted);
        let mut stripped = Vec::new();
        envelope::begin(&mut stripped, b"", true);
        stripped.extend_from_slice(body);
        assert_eq!(receiver.open(b"prod", true, &stripped).unwrap_err(), DecodeError::Decrypt);
        let (_, body) = envelope::parse(&unlabelled).unwrap();
        let mut added = Vec::new();
        envelope::begin(&mut added, b"prod", true);
        added.extend_from_slice(body);
        assert_eq!(receiver.open(b"prod", true, &added).unwrap_err(), DecodeError::Decrypt);
        // Without the switch, an unlabelled packet is refused before it is opened.
        assert_eq!(receiver.open(b"prod", false, &unlabelled).unwrap_err(), DecodeError::LabelMismatch);
    }
}
