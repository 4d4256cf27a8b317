//! The replicated key-value store of the `kv` example, built on swim-core's application hooks
//! alone, in the spirit of the memberlist key-value store behind Grafana Loki and Mimir
//! (dskit's `memberlist.KV`).
//!
//! This one file is the whole replication logic. It depends only on swim-core and std, so
//! that the example (`examples/kv/main.rs`, also the `swim-kv` binary) and swim-sim's
//! deterministic tests (`swim-sim/tests/kv.rs`, through `#[path]`) run the very same code.
//! It never reads a clock: every call that needs the time takes `now_ms` (milliseconds on a
//! clock shared by the cluster: Unix time in the example, virtual time in swim-sim), and the
//! hooks read it through the [`Clock`] they are given.
//!
//! # Rules
//!
//! - **Last writer wins, per key.** Each key holds one [`Entry`]: a value or a tombstone, with
//!   the [`Version`] of the write that made it. Versions are ordered by `time`, then by
//!   `writer` (the member's name); two entries with equal versions (possible only when a
//!   member restarted empty within the same millisecond) are ordered by tombstone over value,
//!   then by value bytes. That order is total, so merging is commutative, associative and
//!   idempotent: replicas that have seen the same entries hold the same map, whatever the
//!   order they saw them in.
//! - **The clock** is a hybrid logical clock: a local write takes
//!   `max(now_ms, highest time seen + 1)`, so it is newer than every entry this replica has
//!   seen (a write after a read supersedes what was read) and follows wall time otherwise.
//!   Entries more than `max_clock_skew_ms` ahead of `now_ms` are refused (counted), so a
//!   forged or broken peer cannot push the clock to its end.
//! - **Updates travel as keyed broadcasts**: a local write is broadcast with the key as the
//!   broadcast key, so a newer update replaces an older queued one for the same key on every
//!   member whoever sent either ([`swim_core::hooks::Verdict`]). A received update is
//!   applied and relayed (`Verdict::New`) if it supersedes what this replica holds, and
//!   dropped (`Verdict::Stale`) otherwise.
//! - **Anti-entropy**: every push-pull carries the whole map ([`Hooks::local_state`]), and a
//!   received map is merged entry by entry with the same rule. Entries that a periodic
//!   exchange (or a reconnect after a partition) taught this replica are queued for a
//!   broadcast of their own ([`Store::take_rebroadcasts`]), as dskit does, so the rest of this
//!   replica's side learns them by gossip rather than waiting for its own push-pulls.
//! - **Deletes are tombstones**, kept `tombstone_ttl_ms` after their version's time and then
//!   collected ([`Store::gc`]); a tombstone that arrives already expired is not stored, but
//!   still removes an older value it supersedes. The lifetime must exceed the time
//!   anti-entropy needs to bring a delete to every member ([`Limits::check`] refuses less
//!   than ten push-pull intervals).
//!
//! # Resurrection
//!
//! A tombstone is the only memory of a delete. A member that holds a key's older value and is
//! cut off from every member holding the tombstone for longer than `tombstone_ttl_ms` (a
//! partition, or a process stopped with its state and restarted with it) brings the value
//! back when it reconnects: nobody can tell it from a value that was never deleted. This is
//! Cassandra's `gc_grace_seconds` rule, and the rule here is the same: **choose
//! `tombstone_ttl_ms` longer than any partition after which deleted keys must stay deleted;
//! a member cut off for longer must rejoin empty.** A member restarted empty is always safe
//! (the example keeps no state on disk). swim-sim's `tests/kv.rs` checks both sides of the
//! rule: a delete survives a partition shorter than the lifetime, and is undone, identically
//! on every replica, by one longer than it.
//!
//! # Bounds
//!
//! Every bound is a [`Limits`] field: key, writer name and value lengths, so that one update
//! fits one broadcast; entries (values and tombstones together), so that the whole map fits
//! the core's application-state limit; the tombstone lifetime; the clock skew; and the
//! re-broadcast queue. A local write past a bound is refused with a [`WriteError`]; a
//! received entry past one is dropped and counted in [`StoreStats`]; a malformed update or
//! state is refused whole ([`DecodeError`], counted), leaving the map as it was.
//!
//! # Wire format
//!
//! Integers are unsigned LEB128 varints (at most 10 bytes). An entry is
//! `key_len key time writer_len writer kind [value_len value]`, with `kind` 0 for a value and
//! 1 for a tombstone (no value). An update (a broadcast payload) is `FORMAT entry`; a state
//! (push-pull application state) is `FORMAT count entry*`, keys strictly ascending.
//! [`FORMAT`] is 1. Nothing may follow.

// The example uses the hooks and the HTTP-facing calls, swim-sim's test the hooks and the
// inspection calls; each would warn about the other's.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use swim_core::Bytes;
use swim_core::hooks::{BroadcastOutcome, Exchange, FinishedBroadcast, Hooks, Verdict};

/// The first byte of every encoded update and state.
pub const FORMAT: u8 = 1;

/// Entry kinds on the wire.
const KIND_VALUE: u8 = 0;
const KIND_TOMBSTONE: u8 = 1;

/// The longest varint: a u64 in 7-bit groups.
const MAX_VARINT: usize = 10;

/// The fewest bytes an entry takes: lengths, a one-byte key and writer, a time, the kind.
const MIN_ENTRY_LEN: usize = 1 + 1 + 1 + 1 + 1 + 1;

// ------------------------------------------------------------------ versions and entries

/// When and by whom a key was written. Ordered by `time`, then `writer`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// The writer's hybrid logical clock at the write, in milliseconds.
    pub time: u64,
    /// The writing member's name.
    pub writer: String,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.time, self.writer)
    }
}

/// What a replica holds for one key: a value, or a tombstone recording a delete.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The write that made it.
    pub version: Version,
    /// The value; `None` for a tombstone.
    pub value: Option<Bytes>,
}

impl Entry {
    /// Whether this entry wins over `other` for the same key: the total order of the rules
    /// (version, then tombstone over value, then value bytes).
    pub fn supersedes(&self, other: &Entry) -> bool {
        self.rank() > other.rank()
    }

    fn rank(&self) -> (&Version, bool, &[u8]) {
        (&self.version, self.value.is_none(), self.value.as_deref().unwrap_or_default())
    }

    /// Whether this is a tombstone.
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }

    /// The bytes this entry takes in an encoded state, under `key`.
    pub fn encoded_len(&self, key: &[u8]) -> usize {
        let value = self.value.as_ref().map_or(0, |v| varint_len(v.len() as u64) + v.len());
        varint_len(key.len() as u64)
            + key.len()
            + varint_len(self.version.time)
            + varint_len(self.version.writer.len() as u64)
            + self.version.writer.len()
            + 1
            + value
    }
}

/// A local write, ready to broadcast: the key and the entry it made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// The key (also the broadcast key).
    pub key: Vec<u8>,
    /// The entry written.
    pub entry: Entry,
}

impl Update {
    /// The broadcast payload: `FORMAT entry`.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(1 + self.entry.encoded_len(&self.key));
        out.push(FORMAT);
        encode_entry(&mut out, &self.key, &self.entry);
        out.into()
    }

    /// Decode a broadcast payload, checking it against `limits`.
    pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Update, DecodeError> {
        let mut r = Reader::new(bytes);
        r.format()?;
        let (key, entry) = decode_entry(&mut r, limits)?;
        r.finish()?;
        Ok(Update { key: key.to_vec(), entry })
    }
}

// ------------------------------------------------------------------ limits and errors

/// The store's bounds. [`Limits::for_core`] derives the ones that must agree with the core's
/// configuration; [`Limits::check`] verifies a set against it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest key, in bytes. Keys are the broadcast keys, which the core caps at
    /// `limits.max_name_len`. Default 128.
    pub max_key_len: usize,
    /// Longest writer (member) name, in bytes: the core's `limits.max_name_len`. Default 128.
    pub max_writer_len: usize,
    /// Longest value, in bytes: what is left of the core's `limits.max_user_broadcast_size`
    /// once the longest key and writer and the encoding's overhead are taken, so one update
    /// always fits one broadcast. Default 494 (768 bytes less 274 of overhead).
    pub max_value_len: usize,
    /// Entries held, values and tombstones together. A local write of a new key past it is
    /// refused ([`WriteError::Full`]); a received entry for a new key is dropped
    /// (`StoreStats::refused_full`). Writes to keys already held always fit. Default: as many
    /// entries of the longest size as fit the application-state limit given to
    /// [`Limits::for_core`], so the encoded map always fits one push-pull.
    pub max_entries: usize,
    /// How long a tombstone is kept after its version's time, in milliseconds. Must exceed
    /// the time anti-entropy needs to spread it (at least ten push-pull intervals, see
    /// [`Limits::check`]) and every partition after which a delete must hold (see the
    /// module docs on resurrection). Default one hour.
    pub tombstone_ttl_ms: u64,
    /// How far ahead of `now_ms` a received entry's time may be, in milliseconds; further
    /// ones are dropped (`StoreStats::refused_future`). Default one minute.
    pub max_clock_skew_ms: u64,
    /// Keys waiting to be re-broadcast after an anti-entropy merge taught them to this
    /// replica; more are dropped (`StoreStats::rebroadcasts_dropped`) and left to
    /// anti-entropy alone. Default 256.
    pub max_rebroadcasts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let (key, writer, broadcast) = (128, 128, 768);
        let max_value_len = broadcast - update_overhead(key, writer, broadcast);
        Limits {
            max_key_len: key,
            max_writer_len: writer,
            max_value_len,
            max_entries: 4_096,
            tombstone_ttl_ms: 3_600_000,
            max_clock_skew_ms: 60_000,
            max_rebroadcasts: 256,
        }
    }
}

/// Bytes an update takes besides its value: the format byte, the key, the writer, the time,
/// the kind and the value's length (for a value of up to `max_value` bytes).
fn update_overhead(max_key: usize, max_writer: usize, max_value: usize) -> usize {
    1 + varint_len(max_key as u64)
        + max_key
        + MAX_VARINT
        + varint_len(max_writer as u64)
        + max_writer
        + 1
        + varint_len(max_value as u64)
}

impl Limits {
    /// The limits for members running `config`, whose push-pulls carry at most `max_state`
    /// bytes of application state: keys and writers up to `limits.max_name_len`, values
    /// filling the rest of a broadcast, and as many longest entries as fit `max_state`.
    pub fn for_core(config: &swim_core::Config, max_state: usize) -> Limits {
        let name = config.limits.max_name_len;
        let broadcast = config.limits.max_user_broadcast_size;
        let max_value_len = broadcast.saturating_sub(update_overhead(name, name, broadcast));
        let mut l = Limits { max_key_len: name, max_writer_len: name, max_value_len, ..Limits::default() };
        l.max_entries = max_state.saturating_sub(1 + MAX_VARINT) / l.max_entry_len().max(1);
        l
    }

    /// The longest encoded entry these limits allow.
    pub fn max_entry_len(&self) -> usize {
        update_overhead(self.max_key_len, self.max_writer_len, self.max_value_len) - 1 + self.max_value_len
    }

    /// The longest encoded update (broadcast payload).
    pub fn max_update_len(&self) -> usize {
        1 + self.max_entry_len()
    }

    /// The longest encoded state (push-pull application state).
    pub fn max_state_len(&self) -> usize {
        1 + MAX_VARINT + self.max_entries * self.max_entry_len()
    }

    /// Whether these limits work with members running `config` whose push-pulls carry at
    /// most `max_state` bytes of application state: every update fits a broadcast and its
    /// key a broadcast key, every writer name the core accepts fits, the whole map fits
    /// `max_state`, and tombstones outlive ten push-pull intervals of an `n`-member cluster
    /// (time for anti-entropy to bring them everywhere).
    pub fn check(&self, config: &swim_core::Config, max_state: usize, n: usize) -> Result<(), String> {
        let l = &config.limits;
        if self.max_key_len == 0 || self.max_key_len > l.max_name_len {
            return Err(format!(
                "the longest key ({}) must be 1 to limits.max_name_len ({})",
                self.max_key_len, l.max_name_len
            ));
        }
        if self.max_writer_len < l.max_name_len {
            return Err(format!(
                "the longest writer name ({}) must be at least limits.max_name_len ({})",
                self.max_writer_len, l.max_name_len
            ));
        }
        if self.max_update_len() > l.max_user_broadcast_size {
            return Err(format!(
                "an update can take {} bytes, above limits.max_user_broadcast_size ({}): lower the longest value",
                self.max_update_len(),
                l.max_user_broadcast_size
            ));
        }
        if self.max_state_len() > max_state {
            return Err(format!(
                "the whole map can take {} bytes, above the application-state limit ({max_state}): lower the entries",
                self.max_state_len()
            ));
        }
        if let Some(interval) = config.push_pull_interval_for(n) {
            let min = interval.saturating_mul(10);
            if Duration::from_millis(self.tombstone_ttl_ms) < min {
                return Err(format!(
                    "the tombstone lifetime ({} ms) must be at least ten push-pull intervals ({} ms)",
                    self.tombstone_ttl_ms,
                    min.as_millis()
                ));
            }
        }
        Ok(())
    }
}

/// Why a local write was refused. The map is unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// Keys are 1 to `max_key_len` bytes.
    KeyLength {
        /// The key's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Values are at most `max_value_len` bytes.
    ValueTooLong {
        /// The value's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The store holds `max_entries` entries; only keys already held can be written.
    Full {
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::KeyLength { len, max } => write!(f, "the key is {len} bytes; keys are 1 to {max} bytes"),
            WriteError::ValueTooLong { len, max } => write!(f, "the value is {len} bytes, above the limit of {max}"),
            WriteError::Full { max } => write!(f, "the store holds its limit of {max} entries"),
        }
    }
}

impl std::error::Error for WriteError {}

/// Why a received update or state was refused whole. The map is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// It ended inside a field.
    Truncated,
    /// The first byte is not [`FORMAT`].
    Format(u8),
    /// A varint longer than 10 bytes or above `u64::MAX`.
    Varint,
    /// A key of length 0 or above `max_key_len`.
    KeyLength(u64),
    /// A writer name of length 0 or above `max_writer_len`.
    WriterLength(u64),
    /// A writer name that is not UTF-8.
    WriterNotUtf8,
    /// An entry kind other than value (0) or tombstone (1).
    Kind(u8),
    /// A value above `max_value_len`.
    ValueLength(u64),
    /// More entries announced than the bytes can hold.
    Count(u64),
    /// A state's keys are not strictly ascending (a key twice, say).
    KeyOrder,
    /// Bytes after the end.
    Trailing(usize),
    /// A broadcast whose key is not the key of the update it carries.
    KeyMismatch,
}

impl DecodeError {
    /// A short name, for counters.
    pub fn name(&self) -> &'static str {
        match self {
            DecodeError::Truncated => "truncated",
            DecodeError::Format(_) => "format",
            DecodeError::Varint => "varint",
            DecodeError::KeyLength(_) => "key_length",
            DecodeError::WriterLength(_) => "writer_length",
            DecodeError::WriterNotUtf8 => "writer_not_utf8",
            DecodeError::Kind(_) => "kind",
            DecodeError::ValueLength(_) => "value_length",
            DecodeError::Count(_) => "count",
            DecodeError::KeyOrder => "key_order",
            DecodeError::Trailing(_) => "trailing",
            DecodeError::KeyMismatch => "key_mismatch",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("truncated"),
            DecodeError::Format(b) => write!(f, "format {b}, expected {FORMAT}"),
            DecodeError::Varint => f.write_str("a varint over 10 bytes"),
            DecodeError::KeyLength(n) => write!(f, "a key of {n} bytes"),
            DecodeError::WriterLength(n) => write!(f, "a writer name of {n} bytes"),
            DecodeError::WriterNotUtf8 => f.write_str("a writer name that is not UTF-8"),
            DecodeError::Kind(k) => write!(f, "entry kind {k}"),
            DecodeError::ValueLength(n) => write!(f, "a value of {n} bytes"),
            DecodeError::Count(n) => write!(f, "{n} entries announced, more than the bytes hold"),
            DecodeError::KeyOrder => f.write_str("keys not strictly ascending"),
            DecodeError::Trailing(n) => write!(f, "{n} bytes after the end"),
            DecodeError::KeyMismatch => f.write_str("the broadcast key is not the update's key"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// What became of one received entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// It superseded what this replica held (or the key was absent): the map changed.
    New,
    /// This replica already held it or something newer (or it is an expired tombstone for a
    /// key not held): nothing changed.
    Stale,
    /// A new key while the store is full: dropped.
    Full,
    /// Its time is more than `max_clock_skew_ms` ahead: dropped.
    Future,
}

/// What a merged state did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Merged {
    /// Entries that changed the map.
    pub new: usize,
    /// Entries already held or superseded here.
    pub stale: usize,
    /// Entries dropped: store full, or too far in the future.
    pub refused: usize,
}

/// The store's counters, all totals since it was made. Exported by the example as
/// `swim_kv_<field>_total`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Local writes of a value.
    pub puts: u64,
    /// Local deletes.
    pub deletes: u64,
    /// Local writes refused ([`WriteError`]).
    pub writes_refused: u64,
    /// Received entries (from updates and states) that changed the map.
    pub applied: u64,
    /// Received entries that did not: already held, or superseded here.
    pub stale: u64,
    /// Received entries for a new key dropped because the store was full.
    pub refused_full: u64,
    /// Received entries dropped for a time too far ahead (`max_clock_skew_ms`).
    pub refused_future: u64,
    /// Updates and states refused whole as malformed ([`DecodeError`]).
    pub malformed: u64,
    /// States received through push-pull and merged.
    pub states_merged: u64,
    /// States handed to the core for a push-pull.
    pub states_sent: u64,
    /// Tombstones collected after their lifetime.
    pub tombstones_collected: u64,
    /// Keys queued for a re-broadcast after an anti-entropy merge taught them.
    pub rebroadcasts: u64,
    /// Keys not queued because `max_rebroadcasts` were waiting.
    pub rebroadcasts_dropped: u64,
    /// Local updates sent their full retransmit count.
    pub own_updates_sent: u64,
    /// Local updates replaced in the queue by a newer one for the same key before that.
    pub own_updates_replaced: u64,
    /// Local updates dropped from a full broadcast queue (anti-entropy carries them).
    pub own_updates_dropped: u64,
}

// ------------------------------------------------------------------ the store

/// One replica's map. See the module docs for the rules.
#[derive(Clone, Debug)]
pub struct Store {
    writer: String,
    limits: Limits,
    /// The highest time written or seen (the hybrid logical clock).
    clock: u64,
    entries: BTreeMap<Vec<u8>, Entry>,
    tombstones: usize,
    /// Bytes of all entries encoded (the state is this plus the format byte and count).
    entry_bytes: usize,
    rebroadcast: BTreeSet<Vec<u8>>,
    stats: StoreStats,
}

impl Store {
    /// An empty replica that writes as `writer` (the member's name).
    pub fn new(writer: impl Into<String>, limits: Limits) -> Store {
        Store {
            writer: writer.into(),
            limits,
            clock: 0,
            entries: BTreeMap::new(),
            tombstones: 0,
            entry_bytes: 0,
            rebroadcast: BTreeSet::new(),
            stats: StoreStats::default(),
        }
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The counters.
    pub fn stats(&self) -> &StoreStats {
        &self.stats
    }

    /// The hybrid logical clock: the highest time written or seen.
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// The live value of `key` and its version (`None` if absent or deleted).
    pub fn get(&self, key: &[u8]) -> Option<(&Version, &Bytes)> {
        let e = self.entries.get(key)?;
        Some((&e.version, e.value.as_ref()?))
    }

    /// The entry (value or tombstone) held for `key`.
    pub fn entry(&self, key: &[u8]) -> Option<&Entry> {
        self.entries.get(key)
    }

    /// Every live key with its version and value, in key order.
    pub fn live(&self) -> impl Iterator<Item = (&[u8], &Version, &Bytes)> + '_ {
        self.entries.iter().filter_map(|(k, e)| Some((k.as_slice(), &e.version, e.value.as_ref()?)))
    }

    /// Every entry, tombstones included, in key order.
    pub fn entries(&self) -> &BTreeMap<Vec<u8>, Entry> {
        &self.entries
    }

    /// Live keys.
    pub fn len(&self) -> usize {
        self.entries.len() - self.tombstones
    }

    /// Whether no key is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tombstones held.
    pub fn tombstones(&self) -> usize {
        self.tombstones
    }

    /// Bytes of the encoded state (what the next push-pull carries, before collection).
    pub fn state_len(&self) -> usize {
        1 + varint_len(self.entries.len() as u64) + self.entry_bytes
    }

    // -------------------------------------------------------------- local writes

    /// Write `value` under `key` now; returns the update to broadcast.
    pub fn put(&mut self, now_ms: u64, key: &[u8], value: &[u8]) -> Result<Update, WriteError> {
        if value.len() > self.limits.max_value_len {
            self.stats.writes_refused += 1;
            return Err(WriteError::ValueTooLong { len: value.len(), max: self.limits.max_value_len });
        }
        let u = self.write(now_ms, key, Some(Bytes::copy_from_slice(value)))?;
        self.stats.puts += 1;
        Ok(u)
    }

    /// Delete `key` now (a tombstone, written whether or not a value is held here, since
    /// another replica may hold one); returns the update to broadcast.
    pub fn delete(&mut self, now_ms: u64, key: &[u8]) -> Result<Update, WriteError> {
        let u = self.write(now_ms, key, None)?;
        self.stats.deletes += 1;
        Ok(u)
    }

    fn write(&mut self, now_ms: u64, key: &[u8], value: Option<Bytes>) -> Result<Update, WriteError> {
        let max = self.limits.max_key_len;
        if key.is_empty() || key.len() > max {
            self.stats.writes_refused += 1;
            return Err(WriteError::KeyLength { len: key.len(), max });
        }
        if !self.entries.contains_key(key) && self.entries.len() >= self.limits.max_entries {
            self.stats.writes_refused += 1;
            return Err(WriteError::Full { max: self.limits.max_entries });
        }
        let time = now_ms.max(self.clock.saturating_add(1));
        self.clock = time;
        let entry = Entry { version: Version { time, writer: self.writer.clone() }, value };
        self.insert(key, entry.clone());
        Ok(Update { key: key.to_vec(), entry })
    }

    // -------------------------------------------------------------- received entries

    /// Apply one received entry with the rules (see [`Applied`]).
    pub fn apply(&mut self, now_ms: u64, key: &[u8], entry: Entry) -> Applied {
        let applied = self.apply_entry(now_ms, key, entry);
        match applied {
            Applied::New => self.stats.applied += 1,
            Applied::Stale => self.stats.stale += 1,
            Applied::Full => self.stats.refused_full += 1,
            Applied::Future => self.stats.refused_future += 1,
        }
        applied
    }

    fn apply_entry(&mut self, now_ms: u64, key: &[u8], entry: Entry) -> Applied {
        if entry.version.time > now_ms.saturating_add(self.limits.max_clock_skew_ms) {
            return Applied::Future;
        }
        self.clock = self.clock.max(entry.version.time);
        let held = self.entries.get(key);
        if held.is_some_and(|h| !entry.supersedes(h)) {
            return Applied::Stale;
        }
        if self.expired(&entry, now_ms) {
            // The delete is older than a tombstone lives: it still removes what it
            // supersedes, but is not kept.
            return match held {
                Some(_) => {
                    self.remove(key);
                    Applied::New
                }
                None => Applied::Stale,
            };
        }
        if held.is_none() && self.entries.len() >= self.limits.max_entries {
            return Applied::Full;
        }
        self.insert(key, entry);
        Applied::New
    }

    /// A received broadcast (`key` is its broadcast key): applied if it decodes and carries
    /// that key. A malformed one is counted and changes nothing.
    pub fn on_update(&mut self, now_ms: u64, key: &[u8], payload: &[u8]) -> Result<Applied, DecodeError> {
        let update = Update::decode(payload, &self.limits)
            .and_then(|u| if u.key == key { Ok(u) } else { Err(DecodeError::KeyMismatch) });
        match update {
            Ok(u) => Ok(self.apply(now_ms, &u.key, u.entry)),
            Err(e) => {
                self.stats.malformed += 1;
                Err(e)
            }
        }
    }

    /// A received state, merged entry by entry; with `rebroadcast`, the keys it changed are
    /// queued for [`take_rebroadcasts`](Self::take_rebroadcasts). Decoded whole before any
    /// of it is applied: a malformed state is counted and changes nothing.
    pub fn merge_state(&mut self, now_ms: u64, state: &[u8], rebroadcast: bool) -> Result<Merged, DecodeError> {
        let entries = match decode_state(state, &self.limits) {
            Ok(e) => e,
            Err(e) => {
                self.stats.malformed += 1;
                return Err(e);
            }
        };
        self.stats.states_merged += 1;
        let mut merged = Merged::default();
        for (key, entry) in entries {
            match self.apply(now_ms, key, entry) {
                Applied::New => {
                    merged.new += 1;
                    if rebroadcast {
                        self.queue_rebroadcast(key);
                    }
                }
                Applied::Stale => merged.stale += 1,
                Applied::Full | Applied::Future => merged.refused += 1,
            }
        }
        Ok(merged)
    }

    fn queue_rebroadcast(&mut self, key: &[u8]) {
        if self.rebroadcast.contains(key) {
            return;
        }
        if self.rebroadcast.len() >= self.limits.max_rebroadcasts {
            self.stats.rebroadcasts_dropped += 1;
            return;
        }
        self.stats.rebroadcasts += 1;
        self.rebroadcast.insert(key.to_vec());
    }

    /// The updates queued by anti-entropy merges, as this replica now holds them (a key
    /// collected or since written is sent as it stands, or not at all), emptying the queue.
    /// The caller broadcasts each with its key.
    pub fn take_rebroadcasts(&mut self) -> Vec<Update> {
        let keys = std::mem::take(&mut self.rebroadcast);
        keys.into_iter()
            .filter_map(|key| {
                let entry = self.entries.get(&key)?.clone();
                Some(Update { key, entry })
            })
            .collect()
    }

    /// Whether re-broadcasts are waiting.
    pub fn has_rebroadcasts(&self) -> bool {
        !self.rebroadcast.is_empty()
    }

    // -------------------------------------------------------------- state and collection

    /// The whole map as a state for a push-pull, after collecting expired tombstones.
    pub fn encode_state(&mut self, now_ms: u64) -> Bytes {
        self.gc(now_ms);
        self.stats.states_sent += 1;
        let mut out = Vec::with_capacity(self.state_len());
        out.push(FORMAT);
        put_varint(&mut out, self.entries.len() as u64);
        for (key, entry) in &self.entries {
            encode_entry(&mut out, key, entry);
        }
        out.into()
    }

    /// Drop the tombstones whose lifetime has passed; returns how many.
    pub fn gc(&mut self, now_ms: u64) -> usize {
        if self.tombstones == 0 {
            return 0;
        }
        let expired: Vec<Vec<u8>> =
            self.entries.iter().filter(|(_, e)| self.expired(e, now_ms)).map(|(k, _)| k.clone()).collect();
        for k in &expired {
            self.remove(k);
        }
        self.stats.tombstones_collected += expired.len() as u64;
        expired.len()
    }

    fn expired(&self, entry: &Entry, now_ms: u64) -> bool {
        entry.is_tombstone() && now_ms >= entry.version.time.saturating_add(self.limits.tombstone_ttl_ms)
    }

    fn insert(&mut self, key: &[u8], entry: Entry) {
        self.remove(key);
        self.entry_bytes += entry.encoded_len(key);
        self.tombstones += usize::from(entry.is_tombstone());
        self.entries.insert(key.to_vec(), entry);
    }

    fn remove(&mut self, key: &[u8]) {
        if let Some(old) = self.entries.remove(key) {
            self.entry_bytes -= old.encoded_len(key);
            self.tombstones -= usize::from(old.is_tombstone());
        }
    }

    // -------------------------------------------------------------- hooks

    /// This store behind a lock, to share between [`KvHooks`] (the receiving half of a
    /// replica, inside the core) and the application (the writing half: [`Store::put`] and
    /// [`Store::delete`], whose updates it broadcasts).
    pub fn shared(self) -> Shared {
        Arc::new(Mutex::new(self))
    }

    fn finished(&mut self, b: &FinishedBroadcast<'_>) {
        if !b.local {
            return;
        }
        match b.outcome {
            BroadcastOutcome::Sent => self.stats.own_updates_sent += 1,
            BroadcastOutcome::Replaced => self.stats.own_updates_replaced += 1,
            BroadcastOutcome::Dropped => self.stats.own_updates_dropped += 1,
        }
    }
}

/// A store shared by the hooks (inside the core) and the application (its HTTP handlers, a
/// test).
pub type Shared = Arc<Mutex<Store>>;

/// Lock a shared store. The store never panics while locked (no operation of it can), so a
/// poisoned lock (a panic elsewhere while holding it) still guards a consistent map.
pub fn lock(store: &Shared) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

/// Milliseconds on the cluster's shared clock, read by the hooks.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The hooks that make a [`Store`] a replica: install them with `Swim::set_hooks` (or
/// swim-tokio's and swim-sim's equivalents).
///
/// - [`Hooks::local_state`]: the whole map, for every push-pull;
/// - [`Hooks::merge_remote_state`]: a peer's map, merged entry by entry (and re-broadcast
///   after a periodic exchange, see [`Store::take_rebroadcasts`]);
/// - [`Hooks::on_broadcast`]: an update, [`Verdict::New`] if it changed the map;
/// - [`Hooks::broadcast_finished`]: counted for local updates.
pub struct KvHooks {
    store: Shared,
    clock: Clock,
    /// Called after a merge queued re-broadcasts (the example wakes its broadcaster).
    on_rebroadcast: Option<Box<dyn Fn() + Send>>,
}

impl KvHooks {
    /// Hooks over `store`, reading the time from `clock`.
    pub fn new(store: Shared, clock: Clock) -> KvHooks {
        KvHooks { store, clock, on_rebroadcast: None }
    }

    /// Also call `notify` whenever a merge queues re-broadcasts.
    pub fn with_rebroadcast_notify(mut self, notify: impl Fn() + Send + 'static) -> KvHooks {
        self.on_rebroadcast = Some(Box::new(notify));
        self
    }
}

impl<A> Hooks<A> for KvHooks {
    fn local_state(&mut self, _exchange: Exchange) -> Bytes {
        let now = (self.clock)();
        lock(&self.store).encode_state(now)
    }

    fn merge_remote_state(&mut self, _from: &str, state: &[u8], exchange: Exchange) {
        let now = (self.clock)();
        // A join's state is news to the joiner only; a periodic one (or a reconnect) may be
        // news to this replica's whole side of a healed partition.
        let rebroadcast = exchange == Exchange::Periodic;
        let queued = {
            let mut store = lock(&self.store);
            // A malformed state is counted by the store and changes nothing.
            let _ = store.merge_state(now, state, rebroadcast);
            store.has_rebroadcasts()
        };
        if queued && let Some(notify) = &self.on_rebroadcast {
            notify();
        }
    }

    fn on_broadcast(&mut self, _origin: &str, key: &[u8], payload: &[u8]) -> Verdict {
        let now = (self.clock)();
        match lock(&self.store).on_update(now, key, payload) {
            Ok(Applied::New) => Verdict::New,
            // Not newer, refused, or malformed (counted): neither delivered nor relayed.
            _ => Verdict::Stale,
        }
    }

    fn broadcast_finished(&mut self, broadcast: &FinishedBroadcast<'_>) {
        lock(&self.store).finished(broadcast);
    }
}

// ------------------------------------------------------------------ encoding

/// Bytes `v` takes as a varint.
fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn encode_entry(out: &mut Vec<u8>, key: &[u8], entry: &Entry) {
    put_varint(out, key.len() as u64);
    out.extend_from_slice(key);
    put_varint(out, entry.version.time);
    put_varint(out, entry.version.writer.len() as u64);
    out.extend_from_slice(entry.version.writer.as_bytes());
    match &entry.value {
        Some(v) => {
            out.push(KIND_VALUE);
            put_varint(out, v.len() as u64);
            out.extend_from_slice(v);
        }
        None => out.push(KIND_TOMBSTONE),
    }
}

/// A cursor over received bytes; every read checks the length first.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&b, rest) = self.buf.split_first().ok_or(DecodeError::Truncated)?;
        self.buf = rest;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        for i in 0..MAX_VARINT {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            // The tenth byte may hold only the top bit of a u64.
            if i == MAX_VARINT - 1 && bits > 1 {
                return Err(DecodeError::Varint);
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Varint)
    }

    fn bytes(&mut self, n: u64) -> Result<&'a [u8], DecodeError> {
        let n = usize::try_from(n).map_err(|_| DecodeError::Truncated)?;
        if n > self.buf.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// A length in `1..=max`, or `err`.
    fn len(&mut self, max: usize, err: fn(u64) -> DecodeError) -> Result<u64, DecodeError> {
        let n = self.varint()?;
        if n == 0 || n > max as u64 { Err(err(n)) } else { Ok(n) }
    }

    fn format(&mut self) -> Result<(), DecodeError> {
        match self.u8()? {
            FORMAT => Ok(()),
            other => Err(DecodeError::Format(other)),
        }
    }

    fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() { Ok(()) } else { Err(DecodeError::Trailing(self.buf.len())) }
    }
}

fn decode_entry<'a>(r: &mut Reader<'a>, limits: &Limits) -> Result<(&'a [u8], Entry), DecodeError> {
    let n = r.len(limits.max_key_len, DecodeError::KeyLength)?;
    let key = r.bytes(n)?;
    let time = r.varint()?;
    let n = r.len(limits.max_writer_len, DecodeError::WriterLength)?;
    let writer = std::str::from_utf8(r.bytes(n)?).map_err(|_| DecodeError::WriterNotUtf8)?;
    let value = match r.u8()? {
        KIND_VALUE => {
            let n = r.varint()?;
            if n > limits.max_value_len as u64 {
                return Err(DecodeError::ValueLength(n));
            }
            Some(Bytes::copy_from_slice(r.bytes(n)?))
        }
        KIND_TOMBSTONE => None,
        other => return Err(DecodeError::Kind(other)),
    };
    Ok((key, Entry { version: Version { time, writer: writer.to_owned() }, value }))
}

/// Decode a whole state: every entry, keys strictly ascending, nothing after.
pub fn decode_state<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Vec<(&'a [u8], Entry)>, DecodeError> {
    let mut r = Reader::new(bytes);
    r.format()?;
    let count = r.varint()?;
    // Each entry takes at least MIN_ENTRY_LEN bytes: a count the bytes cannot hold is a lie,
    // refused before anything is allocated for it.
    if count > (r.buf.len() / MIN_ENTRY_LEN) as u64 {
        return Err(DecodeError::Count(count));
    }
    let mut entries: Vec<(&[u8], Entry)> = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (key, entry) = decode_entry(&mut r, limits)?;
        if entries.last().is_some_and(|(last, _)| *last >= key) {
            return Err(DecodeError::KeyOrder);
        }
        entries.push((key, entry));
    }
    r.finish()?;
    Ok(entries)
}
