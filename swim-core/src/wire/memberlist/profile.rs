//! The memberlist wire profile's byte layer ([`crate::WireProfile::Memberlist`]): what turns
//! a core's messages into the packets and streams Go memberlist reads, and memberlist's
//! packets and streams back into messages.
//!
//! The core runs on swim's message model in both profiles (`swim.rs` and its `memberlist`
//! child module do the routing); this module owns what only memberlist has:
//!
//! - the **label header** of newer memberlist versions (`hasLabelMsg` = 244, a length byte,
//!   the label) in front of every packet and of every stream the sender opens; with
//!   encryption the label is also authenticated (a packet's associated data; a stream's, after
//!   the five header bytes);
//! - **encryption** with memberlist's keyring ([`MemberlistKeyring`], feature `encryption`):
//!   AES-GCM with 16, 24 or 32-byte keys, the primary key seals, every key opens; encryption
//!   version 1 (memberlist protocol 2 and later);
//! - the **CRC** wrapper, checked when present, and added to every packet when the member
//!   speaks protocol 5 (memberlist adds it for recipients whose highest version is 5 or more,
//!   and accepts packets without); **compression** read (LZW; nothing is compressed on send,
//!   which memberlist accepts); **compound** packets read and written;
//! - packing one transmit's messages into as few packets as `packet_budget` allows;
//! - the **stream framing**: memberlist's stream messages carry no length of their own, so
//!   [`stream_message_len`] tells a driver where one ends;
//! - the bookkeeping of **request and reply on one connection**: a push-pull or TCP ping
//!   read from a connection is answered on it ([`crate::StreamRole::Reply`]), and this
//!   member's push-pull requests read their reply from the connection they opened
//!   ([`crate::StreamRole::Request`]). Both tables are bounded by [`MAX_OPEN_EXCHANGES`].

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::message::{self as ml, MessageType, Transport};
use super::model::AddressMap;
use super::{check_crc, decode_compound, decompress, encode_compound};
use crate::DecodeError;
use crate::transmit::{ConnectionId, RequestId, StreamRole, TransmitKind};
use crate::wire::{DecodeLimits, PushPullKind};

/// memberlist's `hasLabelMsg`: the type byte of the label header.
pub const LABEL_MSG: u8 = 244;

/// Most exchanges open at once in each direction: push-pull requests read from a connection
/// that the core has not answered yet, and this member's requests waiting for their reply.
/// Past it the oldest is forgotten (its reply, if it comes, is refused and counted).
pub const MAX_OPEN_EXCHANGES: usize = 64;

/// Most layers of compression and compound a packet may nest (memberlist sends at most a
/// compressed compound).
const MAX_NESTING: usize = 3;

/// Largest decompressed message accepted from a packet (a UDP datagram's maximum).
const MAX_DECOMPRESSED_PACKET: usize = 65_535;

/// Bytes the memberlist framing may add to a packet's messages: the label header, the
/// encryption version, nonce and tag (and version 0's padding).
pub(crate) fn packet_overhead(label: &[u8], encrypted: bool) -> usize {
    let label = if label.is_empty() { 0 } else { 2 + label.len() };
    label + if encrypted { 1 + 12 + 16 + 16 } else { 0 }
}

/// The label header at the start of `input`, if any, and the rest.
pub fn strip_label(input: &[u8]) -> Result<(&[u8], &[u8]), DecodeError> {
    match input.split_first() {
        None => Err(DecodeError::Empty),
        Some((&LABEL_MSG, rest)) => {
            let (&len, rest) = rest.split_first().ok_or(DecodeError::Truncated)?;
            if len == 0 {
                return Err(DecodeError::BadLength);
            }
            let label = rest.get(..usize::from(len)).ok_or(DecodeError::Truncated)?;
            Ok((label, &rest[usize::from(len)..]))
        }
        Some(_) => Ok((&[], input)),
    }
}

/// Append the label header for `label` (nothing for an empty label). Labels are at most
/// 255 bytes (`Config::validate` checks `label`).
pub fn write_label(label: &[u8], out: &mut Vec<u8>) {
    if !label.is_empty() {
        let label = &label[..label.len().min(255)];
        out.push(LABEL_MSG);
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
}

/// Where the stream message at the start of `buf` ends (its label header, encryption and
/// compression included): `Ok(None)` until all of it has arrived. Fails when the bytes cannot
/// be a memberlist stream message, or announce more than `max` bytes.
pub fn stream_message_len(buf: &[u8], limits: &DecodeLimits, max: usize) -> Result<Option<usize>, DecodeError> {
    let (_, rest) = match strip_label(buf) {
        Err(DecodeError::Truncated | DecodeError::Empty) => return Ok(None),
        r => r?,
    };
    let header = buf.len() - rest.len();
    let Some(&kind) = rest.first() else { return Ok(None) };
    let len = if kind == MessageType::Encrypt as u8 {
        let Some(l) = rest.get(1..5) else { return Ok(None) };
        let len = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
        if len > max {
            return Err(DecodeError::Oversized);
        }
        5 + len
    } else if kind == MessageType::Compress as u8 {
        match decompress(rest, max) {
            Ok((_, len)) => len,
            Err(DecodeError::Truncated) => return Ok(None),
            Err(e) => return Err(e),
        }
    } else {
        match ml::Message::decode(rest, Transport::Stream, limits) {
            Ok((_, len)) => len,
            Err(DecodeError::Truncated) => return Ok(None),
            Err(e) => return Err(e),
        }
    };
    if header + len > max {
        return Err(DecodeError::Oversized);
    }
    Ok((buf.len() >= header + len).then_some(header + len))
}

/// Every message of a packet's plaintext (after label, decryption and CRC), flattening
/// compression and compound messages; a compound's cut-off tail is ignored, as memberlist
/// ignores it.
pub fn packet_messages(msg: &[u8], limits: &DecodeLimits, out: &mut Vec<ml::Message>) -> Result<(), DecodeError> {
    flatten(msg, limits, out, 0)
}

fn flatten(msg: &[u8], limits: &DecodeLimits, out: &mut Vec<ml::Message>, depth: usize) -> Result<(), DecodeError> {
    let &kind = msg.first().ok_or(DecodeError::Empty)?;
    if kind == MessageType::Compound as u8 || kind == MessageType::Compress as u8 {
        if depth >= MAX_NESTING {
            return Err(DecodeError::Malformed);
        }
        if kind == MessageType::Compress as u8 {
            let (inner, _) = decompress(msg, MAX_DECOMPRESSED_PACKET)?;
            return flatten(&inner, limits, out, depth + 1);
        }
        let (parts, _cut) = decode_compound(msg)?;
        for part in parts {
            flatten(part, limits, out, depth + 1)?;
        }
        return Ok(());
    }
    if out.len() >= super::MAX_COMPOUND_PARTS {
        return Err(DecodeError::Malformed);
    }
    let (m, _) = ml::Message::decode(msg, Transport::Packet, limits)?;
    out.push(m);
    Ok(())
}

/// Pack encoded messages (each with its type byte) into packets of at most `budget` bytes:
/// one message alone, several in compound messages. A message larger than the budget goes
/// alone (the receiver may cut it; nothing smaller can be done).
pub(crate) fn pack(parts: &[Vec<u8>], budget: usize, mut emit: impl FnMut(Vec<u8>)) {
    let mut start = 0;
    while start < parts.len() {
        // Grow the run while the compound of parts[start..end] fits.
        let mut end = start + 1;
        let mut size = 2 + 2 + parts[start].len();
        while end < parts.len() && end - start < super::MAX_COMPOUND_PARTS {
            let next = size + 2 + parts[end].len();
            if next > budget {
                break;
            }
            size = next;
            end += 1;
        }
        let run = &parts[start..end];
        if run.len() == 1 {
            emit(run[0].clone());
        } else {
            let refs: Vec<&[u8]> = run.iter().map(|p| &p[..]).collect();
            let mut out = Vec::with_capacity(size);
            // At most MAX_COMPOUND_PARTS parts, each from a message of at most a packet.
            if encode_compound(&refs, &mut out).is_ok() {
                emit(out);
            }
        }
        start = end;
    }
}

/// memberlist's keyring (feature `encryption`): up to [`MemberlistKeyring::MAX_KEYS`] AES
/// keys of 16, 24 or 32 bytes. The primary key seals; every key is tried to open, so keys
/// rotate as in memberlist (install the new key everywhere, make it primary everywhere,
/// remove the old one). Nonces are an 8-byte prefix from the entropy given to
/// [`new`](Self::new) and a 32-bit counter (never the core's seeded generator: a restarted
/// process would repeat them). Keys are zeroized when dropped and never printed.
#[cfg(feature = "encryption")]
pub struct MemberlistKeyring {
    keys: Vec<Key>,
    prefix: u64,
    counter: u32,
}

/// One AES key of 16, 24 or 32 bytes, zeroized when dropped.
#[cfg(feature = "encryption")]
struct Key {
    bytes: [u8; 32],
    len: usize,
}

#[cfg(feature = "encryption")]
impl Key {
    fn new(key: &[u8]) -> Self {
        let mut bytes = [0u8; 32];
        bytes[..key.len()].copy_from_slice(key);
        Key { bytes, len: key.len() }
    }

    fn get(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

#[cfg(feature = "encryption")]
impl Drop for Key {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.bytes);
    }
}

#[cfg(feature = "encryption")]
impl core::fmt::Debug for MemberlistKeyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemberlistKeyring").field("keys", &self.keys.len()).finish_non_exhaustive()
    }
}

#[cfg(feature = "encryption")]
impl MemberlistKeyring {
    /// Most keys a keyring holds.
    pub const MAX_KEYS: usize = 16;

    /// A keyring with one `primary` key; `entropy` must be fresh random bytes per process.
    pub fn new(primary: &[u8], entropy: [u8; 8]) -> Result<Self, super::encryption::BadKeyLength> {
        check_key(primary)?;
        Ok(MemberlistKeyring { keys: alloc::vec![Key::new(primary)], prefix: u64::from_le_bytes(entropy), counter: 0 })
    }

    /// Add a key that opens (not the primary); false if it was there already or the keyring
    /// is full.
    pub fn add(&mut self, key: &[u8]) -> Result<bool, super::encryption::BadKeyLength> {
        check_key(key)?;
        if self.keys.iter().any(|k| k.get() == key) || self.keys.len() >= Self::MAX_KEYS {
            return Ok(false);
        }
        self.keys.push(Key::new(key));
        Ok(true)
    }

    /// Make an installed key the primary; false if it is not installed.
    pub fn make_primary(&mut self, key: &[u8]) -> bool {
        match self.keys.iter().position(|k| k.get() == key) {
            Some(i) => {
                self.keys.swap(0, i);
                true
            }
            None => false,
        }
    }

    /// Remove a key that is not the primary; false if it is the primary or not installed.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        match self.keys.iter().position(|k| k.get() == key) {
            Some(i) if i > 0 => {
                self.keys.remove(i);
                true
            }
            _ => false,
        }
    }

    /// How many keys are installed.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Never true: a keyring holds its primary key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn primary(&self) -> &[u8] {
        // A keyring is built with its primary key and never removes it.
        self.keys[0].get()
    }

    fn all(&self) -> impl Iterator<Item = &[u8]> {
        self.keys.iter().map(Key::get)
    }

    fn next_nonce(&mut self) -> [u8; super::encryption::NONCE_LEN] {
        let mut n = [0u8; super::encryption::NONCE_LEN];
        n[..8].copy_from_slice(&self.prefix.to_le_bytes());
        n[8..].copy_from_slice(&self.counter.to_le_bytes());
        self.counter = self.counter.wrapping_add(1);
        if self.counter == 0 {
            self.prefix = self.prefix.wrapping_add(1);
        }
        n
    }
}

#[cfg(feature = "encryption")]
fn check_key(key: &[u8]) -> Result<(), super::encryption::BadKeyLength> {
    if matches!(key.len(), 16 | 24 | 32) { Ok(()) } else { Err(super::encryption::BadKeyLength) }
}

/// A packet or stream message ready to be polled, already in memberlist's bytes.
#[derive(Debug)]
pub(crate) struct Ready<A> {
    pub to: A,
    pub kind: TransmitKind,
    pub stream: StreamRole,
    pub message: Option<crate::transmit::MessageId>,
    pub bytes: Vec<u8>,
}

/// What one of this member's requests asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A push-pull of this id and kind.
    PushPull { id: u32, kind: PushPullKind },
    /// A TCP fallback ping (its ack carries its sequence number).
    Ping,
}

/// One of this member's requests waiting for its reply.
#[derive(Debug)]
pub(crate) struct Request<A> {
    pub request: RequestId,
    pub purpose: Purpose,
    pub to: A,
}

/// The memberlist profile's state in a core.
#[derive(Debug)]
pub(crate) struct Profile<A> {
    pub map: AddressMap<A>,
    #[cfg(feature = "encryption")]
    keyring: Option<MemberlistKeyring>,
    /// Push-pull requests read from a connection and not answered yet: the id the core was
    /// given, and the connection.
    inbound: VecDeque<(u32, ConnectionId)>,
    next_inbound: u32,
    requests: VecDeque<Request<A>>,
    next_request: u64,
    /// Packets encoded and waiting to be polled: the later packets of a transmit that needed
    /// several (emptied before the next transmit is encoded), and the answers to TCP pings
    /// (at most `limits.max_pending_transmits`, past which they are dropped and counted in
    /// `Stats::transmits_dropped`).
    pub ready: VecDeque<Ready<A>>,
}

impl<A: Clone + PartialEq> Profile<A> {
    pub fn new(map: AddressMap<A>) -> Self {
        Profile {
            map,
            #[cfg(feature = "encryption")]
            keyring: None,
            inbound: VecDeque::new(),
            next_inbound: 0,
            requests: VecDeque::new(),
            next_request: 0,
            ready: VecDeque::new(),
        }
    }

    #[cfg(feature = "encryption")]
    pub fn set_keyring(&mut self, keyring: Option<MemberlistKeyring>) {
        self.keyring = keyring;
    }

    #[cfg(feature = "encryption")]
    pub fn keyring_mut(&mut self) -> Option<&mut MemberlistKeyring> {
        self.keyring.as_mut()
    }

    /// Whether packets and streams are encrypted.
    pub fn encrypted(&self) -> bool {
        #[cfg(feature = "encryption")]
        return self.keyring.is_some();
        #[cfg(not(feature = "encryption"))]
        false
    }

    /// Approximate heap use: the tables and the encoded packets waiting to be polled.
    pub fn heap_bytes(&self) -> usize {
        self.inbound.capacity() * core::mem::size_of::<(u32, ConnectionId)>()
            + self.requests.capacity() * core::mem::size_of::<Request<A>>()
            + self.ready.iter().map(|r| r.bytes.capacity() + core::mem::size_of::<Ready<A>>()).sum::<usize>()
    }

    /// A push-pull request read from `conn`: the id under which the core will answer it.
    pub fn open_inbound(&mut self, conn: ConnectionId) -> u32 {
        let id = self.next_inbound;
        self.next_inbound = self.next_inbound.wrapping_add(1);
        if self.inbound.len() >= MAX_OPEN_EXCHANGES {
            self.inbound.pop_front();
        }
        self.inbound.push_back((id, conn));
        id
    }

    /// The connection the reply to inbound request `id` goes on, if it is still known.
    pub fn take_inbound(&mut self, id: u32) -> Option<ConnectionId> {
        let i = self.inbound.iter().position(|&(x, _)| x == id)?;
        self.inbound.remove(i).map(|(_, c)| c)
    }

    /// A request of this member to `to`: the id its reply will come back with.
    pub fn open_request(&mut self, purpose: Purpose, to: A) -> RequestId {
        let request = RequestId(self.next_request);
        self.next_request += 1;
        if self.requests.len() >= MAX_OPEN_EXCHANGES {
            self.requests.pop_front();
        }
        self.requests.push_back(Request { request, purpose, to });
        request
    }

    /// The request a reply answers, if it is still known.
    pub fn take_request(&mut self, request: RequestId) -> Option<Request<A>> {
        let i = self.requests.iter().position(|r| r.request == request)?;
        self.requests.remove(i)
    }

    /// Forget the requests to `to` (their connection failed).
    pub fn forget_requests_to(&mut self, to: &A) {
        self.requests.retain(|r| r.to != *to);
    }

    /// The plaintext message of an inbound packet: its label checked and removed, decrypted
    /// with the keyring, its CRC checked and removed.
    pub fn open_packet(&self, label: &[u8], accept_unlabelled: bool, data: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let (got, rest) = strip_label(data)?;
        check_label(label, accept_unlabelled, got)?;
        let mut plain = self.decrypt_packet(got, rest)?;
        // The CRC header, if any, is a prefix: drop it in place rather than copy the message.
        let header = plain.len() - check_crc(&plain)?.len();
        plain.drain(..header);
        Ok(plain)
    }

    #[cfg(feature = "encryption")]
    fn decrypt_packet(&self, label: &[u8], rest: &[u8]) -> Result<Vec<u8>, DecodeError> {
        match &self.keyring {
            Some(k) => super::encryption::decrypt(k.all(), rest, label),
            None => Ok(rest.to_vec()),
        }
    }

    #[cfg(not(feature = "encryption"))]
    fn decrypt_packet(&self, _label: &[u8], rest: &[u8]) -> Result<Vec<u8>, DecodeError> {
        Ok(rest.to_vec())
    }

    /// Append packet `msg` with its label header (if `label` is not empty) and encrypted
    /// with the primary key if there is a keyring.
    pub fn seal_packet(&mut self, label: &[u8], msg: &[u8], out: &mut Vec<u8>) {
        write_label(label, out);
        #[cfg(feature = "encryption")]
        if let Some(k) = &mut self.keyring {
            let nonce = k.next_nonce();
            // The keyring only holds keys of lengths AES-GCM takes (checked when added).
            let _ = super::encryption::encrypt(1, k.primary(), nonce, msg, label, out);
            return;
        }
        out.extend_from_slice(msg);
    }

    /// The message of an inbound stream: its label header (if it has one) checked, decrypted
    /// with the keyring (authenticated with the connection's label: the one in its header, or
    /// ours for a reply on a connection we opened), decompressed, decoded.
    pub fn open_stream(
        &self,
        label: &[u8],
        accept_unlabelled: bool,
        reply: bool,
        data: &[u8],
        limits: &DecodeLimits,
        max: usize,
    ) -> Result<ml::Message, DecodeError> {
        let (got, rest) = strip_label(data)?;
        // A reply comes on our own connection, without a header: it is authenticated with our
        // label.
        let got = if reply && got.is_empty() { label } else { got };
        check_label(label, accept_unlabelled, got)?;
        let plain = self.decrypt_stream(got, rest, max)?;
        let plain = match plain.first() {
            Some(&k) if k == MessageType::Compress as u8 => decompress(&plain, max)?.0,
            _ => plain,
        };
        let (msg, len) = ml::Message::decode(&plain, Transport::Stream, limits)?;
        if len != plain.len() {
            return Err(DecodeError::TrailingBytes);
        }
        Ok(msg)
    }

    #[cfg(feature = "encryption")]
    fn decrypt_stream(&self, label: &[u8], rest: &[u8], max: usize) -> Result<Vec<u8>, DecodeError> {
        match &self.keyring {
            Some(k) => {
                if rest.first() != Some(&(MessageType::Encrypt as u8)) {
                    return Err(DecodeError::Unencrypted);
                }
                let (plain, len) = super::encryption::decrypt_stream(k.all(), rest, label, max)?;
                if len != rest.len() {
                    return Err(DecodeError::TrailingBytes);
                }
                Ok(plain)
            }
            None => Ok(rest.to_vec()),
        }
    }

    #[cfg(not(feature = "encryption"))]
    fn decrypt_stream(&self, _label: &[u8], rest: &[u8], _max: usize) -> Result<Vec<u8>, DecodeError> {
        Ok(rest.to_vec())
    }

    /// Append stream message `msg`: the label header when this member opens the connection
    /// (`header`), encrypted with the primary key (authenticated with `label`) if there is a
    /// keyring.
    pub fn seal_stream(&mut self, label: &[u8], header: bool, msg: &[u8], out: &mut Vec<u8>) {
        if header {
            write_label(label, out);
        }
        #[cfg(feature = "encryption")]
        if let Some(k) = &mut self.keyring {
            let nonce = k.next_nonce();
            // The keyring only holds keys of lengths AES-GCM takes (checked when added).
            let _ = super::encryption::encrypt_stream(1, k.primary(), nonce, msg, label, out);
            return;
        }
        out.extend_from_slice(msg);
    }
}

/// The label a packet or stream came with against ours: equal, or none while
/// `accept_unlabelled` (the roll-out switch, memberlist's `SkipInboundLabelCheck` in spirit).
fn check_label(ours: &[u8], accept_unlabelled: bool, got: &[u8]) -> Result<(), DecodeError> {
    if got == ours || (got.is_empty() && accept_unlabelled) { Ok(()) } else { Err(DecodeError::LabelMismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::DecodeLimits;

    fn limits() -> DecodeLimits {
        DecodeLimits::from_config(&crate::Config::lan())
    }

    #[test]
    fn labels_round_trip_and_are_checked() {
        let mut out = Vec::new();
        write_label(b"prod", &mut out);
        out.extend_from_slice(b"\x08hi");
        assert_eq!(strip_label(&out), Ok((&b"prod"[..], &b"\x08hi"[..])));
        assert_eq!(strip_label(b"\x08hi"), Ok((&b""[..], &b"\x08hi"[..])));
        assert_eq!(strip_label(&[LABEL_MSG, 0, 1]), Err(DecodeError::BadLength));
        assert_eq!(strip_label(&[LABEL_MSG, 5, 1]), Err(DecodeError::Truncated));
        assert_eq!(check_label(b"a", false, b"b"), Err(DecodeError::LabelMismatch));
        assert_eq!(check_label(b"a", false, b""), Err(DecodeError::LabelMismatch));
        assert_eq!(check_label(b"a", true, b""), Ok(()));
        assert_eq!(check_label(b"", false, b"a"), Err(DecodeError::LabelMismatch));
    }

    #[test]
    fn packing_keeps_every_message_within_the_budget() {
        let parts: Vec<Vec<u8>> = (0..40u8).map(|i| alloc::vec![8; 10 + usize::from(i)]).collect();
        let mut packets = Vec::new();
        pack(&parts, 200, |p| packets.push(p));
        assert!(packets.len() > 1);
        let mut seen = Vec::new();
        for p in &packets {
            assert!(p.len() <= 200, "{} bytes", p.len());
            let mut msgs = Vec::new();
            if p[0] == MessageType::Compound as u8 {
                let (parts, cut) = decode_compound(p).unwrap();
                assert_eq!(cut, 0);
                msgs.extend(parts.into_iter().map(<[u8]>::to_vec));
            } else {
                msgs.push(p.clone());
            }
            seen.extend(msgs);
        }
        assert_eq!(seen, parts, "every message once, in order");
    }

    #[test]
    fn stream_length_is_known_only_once_the_message_is_whole() {
        let msg = ml::Message::User(b"hello".to_vec());
        let mut bytes = Vec::new();
        write_label(b"lab", &mut bytes);
        msg.encode(Transport::Stream, &mut bytes);
        let l = limits();
        for cut in 0..bytes.len() {
            assert_eq!(stream_message_len(&bytes[..cut], &l, 1 << 20), Ok(None), "cut at {cut}");
        }
        bytes.extend_from_slice(b"next");
        assert_eq!(stream_message_len(&bytes, &l, 1 << 20), Ok(Some(bytes.len() - 4)));
        assert_eq!(stream_message_len(&bytes, &l, 4), Err(DecodeError::Oversized));
        assert_eq!(stream_message_len(&[200, 1, 2], &l, 1 << 20), Err(DecodeError::UnknownMessage));
    }

    #[cfg(feature = "encryption")]
    #[test]
    fn sealed_packets_and_streams_open_with_the_label_and_any_key() {
        let mut p: Profile<u32> = Profile::new(AddressMap::of());
        let mut ring = MemberlistKeyring::new(&[1; 16], [9; 8]).unwrap();
        assert_eq!(ring.add(&[2; 32]), Ok(true));
        assert!(ring.make_primary(&[2; 32]));
        assert!(!ring.remove(&[2; 32]), "the primary stays");
        p.set_keyring(Some(ring));
        let mut out = Vec::new();
        p.seal_packet(b"lab", b"\x08x", &mut out);
        assert_eq!(p.open_packet(b"lab", false, &out), Ok(b"\x08x".to_vec()));
        assert_eq!(p.open_packet(b"other", false, &out), Err(DecodeError::LabelMismatch));
        // The label is authenticated: swapping it fails decryption even for a member that
        // has the other label.
        let mut swapped = out.clone();
        swapped[2..5].copy_from_slice(b"oth");
        assert_eq!(p.open_packet(b"oth", false, &swapped), Err(DecodeError::Decrypt));
        let mut stream = Vec::new();
        let mut msg = Vec::new();
        ml::Message::User(b"hey".to_vec()).encode(Transport::Stream, &mut msg);
        p.seal_stream(b"lab", true, &msg, &mut stream);
        let l = limits();
        assert_eq!(stream_message_len(&stream, &l, 1 << 20), Ok(Some(stream.len())));
        assert_eq!(p.open_stream(b"lab", false, false, &stream, &l, 1 << 20), Ok(ml::Message::User(b"hey".to_vec())));
        let mut reply = Vec::new();
        p.seal_stream(b"lab", false, &msg, &mut reply);
        assert_eq!(p.open_stream(b"lab", false, true, &reply, &l, 1 << 20), Ok(ml::Message::User(b"hey".to_vec())));
        let mut plain = Profile::<u32>::new(AddressMap::of());
        plain.set_keyring(Some(MemberlistKeyring::new(&[3; 24], [0; 8]).unwrap()));
        assert_eq!(plain.open_packet(b"lab", false, &out), Err(DecodeError::Decrypt));
        let mut unencrypted = Vec::new();
        write_label(b"lab", &mut unencrypted);
        unencrypted.extend_from_slice(&msg);
        assert_eq!(plain.open_stream(b"lab", false, false, &unencrypted, &l, 1 << 20), Err(DecodeError::Unencrypted));
    }
}
