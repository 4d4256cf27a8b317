//! The `kv` example's store (examples/kv/store.rs), on its own: the merge rules as
//! properties (commutative, associative, idempotent, independent of delivery order, equal to
//! a reference model), its codec against hostile bytes, tombstones and their collection, the
//! clock, and every bound. The same file runs inside swim-sim's `tests/kv.rs`.

#[path = "../examples/kv/store.rs"]
mod store;

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use store::{Applied, DecodeError, Entry, KvHooks, Limits, Store, Update, Version, WriteError, decode_state, lock};
use swim_core::hooks::{BroadcastOutcome, Exchange, FinishedBroadcast, Hooks, Verdict};

fn limits() -> Limits {
    Limits { max_key_len: 8, max_writer_len: 8, max_value_len: 16, max_entries: 64, ..Limits::default() }
}

fn entry(time: u64, writer: &str, value: Option<&str>) -> Entry {
    Entry {
        version: Version { time, writer: writer.into() },
        value: value.map(|v| swim_core::Bytes::copy_from_slice(v.as_bytes())),
    }
}

/// A store holding `entries`, received (so no clock of its own is involved).
fn replica(name: &str, entries: &[(Vec<u8>, Entry)]) -> Store {
    let mut s = Store::new(name, limits());
    for (k, e) in entries {
        s.apply(0, k, e.clone());
    }
    s
}

/// `a` after merging `b`'s state through the codec, as a push-pull does.
fn merged(a: &Store, b: &Store) -> Store {
    let mut a = a.clone();
    let mut b = b.clone();
    let state = b.encode_state(0);
    a.merge_state(0, &state, false).expect("a state this store encoded decodes");
    a
}

fn arb_entry() -> impl Strategy<Value = (Vec<u8>, Entry)> {
    // Few keys, writers, times and values, so that collisions (equal versions with different
    // values included) are common.
    (
        prop::sample::select(vec![b"a".to_vec(), b"b".to_vec(), b"k3".to_vec()]),
        0u64..6,
        prop::sample::select(vec!["w1", "w2", "w3"]),
        prop::option::of(prop::sample::select(vec!["", "x", "yy"])),
    )
        .prop_map(|(k, t, w, v)| (k, entry(t, w, v)))
}

fn arb_entries() -> impl Strategy<Value = Vec<(Vec<u8>, Entry)>> {
    prop::collection::vec(arb_entry(), 0..12)
}

/// The reference model: for each key, the greatest entry under the documented total order,
/// written out independently of `Entry::supersedes`.
fn model(all: &[(Vec<u8>, Entry)]) -> BTreeMap<Vec<u8>, Entry> {
    let rank = |e: &Entry| {
        (e.version.time, e.version.writer.clone(), e.value.is_none(), e.value.clone().unwrap_or_default().to_vec())
    };
    let mut m: BTreeMap<Vec<u8>, Entry> = BTreeMap::new();
    for (k, e) in all {
        match m.get(k) {
            Some(held) if rank(held) >= rank(e) => {}
            _ => {
                m.insert(k.clone(), e.clone());
            }
        }
    }
    m
}

proptest! {
    #[test]
    fn merge_is_commutative(a in arb_entries(), b in arb_entries()) {
        let (a, b) = (replica("a", &a), replica("b", &b));
        let (ab, ba) = (merged(&a, &b), merged(&b, &a));
        prop_assert_eq!(ab.entries(), ba.entries());
    }

    #[test]
    fn merge_is_associative(a in arb_entries(), b in arb_entries(), c in arb_entries()) {
        let (a, b, c) = (replica("a", &a), replica("b", &b), replica("c", &c));
        let (left, right) = (merged(&merged(&a, &b), &c), merged(&a, &merged(&b, &c)));
        prop_assert_eq!(left.entries(), right.entries());
    }

    #[test]
    fn merge_is_idempotent(a in arb_entries(), b in arb_entries()) {
        let (a, b) = (replica("a", &a), replica("b", &b));
        let aa = merged(&a, &a);
        prop_assert_eq!(aa.entries(), a.entries());
        let ab = merged(&a, &b);
        let (abb, aba) = (merged(&ab, &b), merged(&ab, &a));
        prop_assert_eq!(abb.entries(), ab.entries());
        prop_assert_eq!(aba.entries(), ab.entries());
    }

    /// Updates delivered in any order, any number of times, leave the map of the reference
    /// model; each one is `New` exactly when it changed the map.
    #[test]
    fn delivery_order_does_not_matter(all in arb_entries(), order in any::<prop::sample::Index>()) {
        let mut shuffled = all.clone();
        let k = order.index(shuffled.len().max(1)).min(shuffled.len());
        shuffled.rotate_left(k);
        shuffled.reverse();
        shuffled.extend(all.iter().cloned()); // duplicates too
        let mut s = Store::new("r", limits());
        for (key, e) in &shuffled {
            let before = s.entries().clone();
            let applied = s.apply(0, key, e.clone());
            prop_assert_eq!(applied == Applied::New, &before != s.entries());
        }
        prop_assert_eq!(s.entries(), &model(&all));
    }

    /// Two replicas that exchange states end equal to the model of everything either held.
    #[test]
    fn a_push_pull_makes_two_replicas_equal(a in arb_entries(), b in arb_entries()) {
        let (ra, rb) = (replica("a", &a), replica("b", &b));
        let (ab, ba) = (merged(&ra, &rb), merged(&rb, &ra));
        let all: Vec<_> = a.iter().chain(&b).cloned().collect();
        prop_assert_eq!(ab.entries(), &model(&all));
        prop_assert_eq!(ba.entries(), &model(&all));
    }

    #[test]
    fn states_and_updates_round_trip(all in arb_entries()) {
        let mut s = replica("r", &all);
        let state = s.encode_state(0);
        prop_assert_eq!(state.len(), s.state_len());
        let decoded: BTreeMap<Vec<u8>, Entry> =
            decode_state(&state, &limits()).unwrap().into_iter().map(|(k, e)| (k.to_vec(), e)).collect();
        prop_assert_eq!(&decoded, s.entries());
        for (k, e) in &all {
            let u = Update { key: k.clone(), entry: e.clone() };
            let bytes = u.encode();
            prop_assert_eq!(bytes.len(), 1 + e.encoded_len(k));
            prop_assert_eq!(Update::decode(&bytes, &limits()).unwrap(), u);
        }
        // Every strict prefix is refused.
        for cut in 0..state.len() {
            prop_assert!(decode_state(&state[..cut], &limits()).is_err(), "prefix {} of {:?}", cut, state);
        }
    }

    /// Arbitrary bytes as a state or an update: refused whole (counted, map unchanged) or
    /// applied; never a panic.
    #[test]
    fn hostile_bytes_never_panic_and_change_nothing_when_refused(
        held in arb_entries(),
        bytes in prop::collection::vec(any::<u8>(), 0..64),
        flip in any::<prop::sample::Index>(),
    ) {
        let mut s = replica("r", &held);
        let before = s.entries().clone();
        if s.merge_state(0, &bytes, true).is_err() {
            prop_assert_eq!(s.entries(), &before);
            prop_assert!(!s.has_rebroadcasts());
        }
        let mut s = replica("r", &held);
        if s.on_update(0, b"a", &bytes).is_err() {
            prop_assert_eq!(s.entries(), &before);
        }
        // A valid state with one byte flipped.
        let mut state = replica("x", &held).encode_state(0).to_vec();
        let i = flip.index(state.len());
        state[i] ^= 0x5a;
        let mut s = replica("r", &held);
        let malformed = s.stats().malformed;
        match s.merge_state(0, &state, false) {
            Ok(_) => prop_assert_eq!(s.stats().malformed, malformed),
            Err(_) => {
                prop_assert_eq!(s.entries(), &before);
                prop_assert_eq!(s.stats().malformed, malformed + 1);
            }
        }
    }

    /// Collection drops exactly the tombstones past their lifetime and never a value.
    #[test]
    fn gc_drops_only_expired_tombstones(all in arb_entries(), now in 0u64..12) {
        let mut l = limits();
        l.tombstone_ttl_ms = 4;
        let mut s = Store::new("r", l);
        for (k, e) in &all {
            s.apply(0, k, e.clone());
        }
        let live: Vec<_> = s.live().map(|(k, v, b)| (k.to_vec(), v.clone(), b.clone())).collect();
        let before = s.entries().clone();
        let dropped = s.gc(now);
        let after_live: Vec<_> = s.live().map(|(k, v, b)| (k.to_vec(), v.clone(), b.clone())).collect();
        prop_assert_eq!(live, after_live);
        for (k, e) in &before {
            let expired = e.is_tombstone() && now >= e.version.time + 4;
            prop_assert_eq!(s.entry(k).is_none(), expired, "{:?} {:?}", k, e);
        }
        prop_assert_eq!(dropped, before.len() - s.entries().len());
        prop_assert_eq!(s.state_len(), s.clone().encode_state(now).len());
    }
}

#[test]
fn writes_get_versions_newer_than_anything_seen() {
    let mut s = Store::new("me", limits());
    let first = s.put(1_000, b"k", b"v1").unwrap();
    assert_eq!(first.entry.version, Version { time: 1_000, writer: "me".into() });
    // The same millisecond: the clock moves on anyway.
    let second = s.put(1_000, b"k", b"v2").unwrap();
    assert_eq!(second.entry.version.time, 1_001);
    // A peer's clock runs ahead (within the skew): a later local write still wins over it.
    assert_eq!(s.apply(1_002, b"k", entry(5_000, "peer", Some("p"))), Applied::New);
    let third = s.put(1_003, b"k", b"v3").unwrap();
    assert_eq!(third.entry.version.time, 5_001);
    assert_eq!(s.get(b"k").map(|(v, b)| (v.time, b.as_ref())), Some((5_001, &b"v3"[..])));
    // Older and equal updates are stale.
    assert_eq!(s.apply(1_004, b"k", entry(5_000, "peer", Some("p"))), Applied::Stale);
    assert_eq!(s.apply(1_004, b"k", third.entry.clone()), Applied::Stale);
    // Too far ahead: refused, and the clock does not jump.
    let far = 1_004 + s.limits().max_clock_skew_ms + 1;
    assert_eq!(s.apply(1_004, b"k", entry(far, "peer", Some("f"))), Applied::Future);
    assert_eq!(s.clock(), 5_001);
    assert_eq!(s.stats().refused_future, 1);
    assert_eq!((s.stats().puts, s.stats().applied, s.stats().stale), (3, 1, 2));
}

#[test]
fn equal_versions_are_ordered_tombstone_first_then_by_value() {
    let v = |value| entry(7, "w", value);
    assert!(v(None).supersedes(&v(Some("zz"))));
    assert!(v(Some("b")).supersedes(&v(Some("a"))));
    assert!(!v(Some("a")).supersedes(&v(Some("a"))));
    assert!(entry(8, "a", Some("a")).supersedes(&v(None)));
    assert!(entry(7, "x", Some("a")).supersedes(&v(None)));
}

#[test]
fn deletes_are_tombstones_that_win_over_older_values_and_lose_to_newer_ones() {
    let mut a = Store::new("a", limits());
    let mut b = Store::new("b", limits());
    let put = a.put(10, b"k", b"old").unwrap();
    assert_eq!(b.on_update(11, b"k", &put.encode()), Ok(Applied::New));
    let del = b.delete(20, b"k").unwrap();
    assert!(del.entry.is_tombstone());
    assert_eq!(b.get(b"k"), None);
    assert_eq!((b.len(), b.tombstones()), (0, 1));
    // The delete reaches a; a re-delivered old put is stale.
    assert_eq!(a.on_update(21, b"k", &del.encode()), Ok(Applied::New));
    assert_eq!(a.on_update(22, b"k", &put.encode()), Ok(Applied::Stale));
    assert_eq!(a.get(b"k"), None);
    // A newer put brings the key back everywhere.
    let again = a.put(30, b"k", b"new").unwrap();
    assert_eq!(b.on_update(31, b"k", &again.encode()), Ok(Applied::New));
    assert_eq!(b.get(b"k").map(|(_, v)| v.as_ref()), Some(&b"new"[..]));
    // Deleting a key never seen here still writes a tombstone (another replica may hold it).
    let ghost = a.delete(40, b"ghost").unwrap();
    assert!(ghost.entry.is_tombstone());
    assert_eq!(a.tombstones(), 1);
    assert_eq!(a.stats().deletes, 1);
}

/// The documented resurrection rule, at the store level: a delete holds against a replica
/// that was away for less than the tombstone lifetime, and not against one away for longer.
#[test]
fn a_tombstone_holds_for_its_lifetime_and_no_longer() {
    let mut l = limits();
    l.tombstone_ttl_ms = 1_000;
    let mut stale = Store::new("stale", l.clone());
    let mut rest = Store::new("rest", l);
    let put = stale.put(0, b"k", b"v").unwrap();
    rest.apply(0, b"k", put.entry);
    // `stale` is cut off; `rest` deletes the key.
    rest.delete(100, b"k").unwrap();
    // Within the lifetime, `stale` pushes its old value: refused, and `stale` learns the delete.
    let old = stale.encode_state(900);
    rest.merge_state(900, &old, false).unwrap();
    assert_eq!(rest.get(b"k"), None);
    let mut fresh = stale.clone();
    fresh.merge_state(900, &rest.encode_state(900), false).unwrap();
    assert_eq!(fresh.get(b"k"), None, "the delete reached the stale replica");
    // Past the lifetime the tombstone is collected, and the old value comes back.
    assert_eq!(rest.gc(1_100), 1);
    assert_eq!(rest.stats().tombstones_collected, 1);
    rest.merge_state(1_200, &stale.encode_state(1_200), false).unwrap();
    assert_eq!(rest.get(b"k").map(|(_, v)| v.as_ref()), Some(&b"v"[..]));
}

#[test]
fn an_expired_tombstone_removes_what_it_supersedes_but_is_not_kept() {
    let mut l = limits();
    l.tombstone_ttl_ms = 100;
    let mut s = Store::new("r", l);
    s.apply(0, b"k", entry(10, "w", Some("v")));
    assert_eq!(s.apply(500, b"k", entry(20, "w", None)), Applied::New);
    assert_eq!(s.entry(b"k"), None);
    assert_eq!(s.apply(500, b"j", entry(20, "w", None)), Applied::Stale, "nothing held: nothing to do");
    assert!(s.entries().is_empty());
    // A live tombstone is kept, and collected when its time comes.
    assert_eq!(s.apply(500, b"j", entry(450, "w", None)), Applied::New);
    assert_eq!(s.gc(549), 0);
    assert_eq!(s.gc(550), 1);
    // The state a push-pull carries is collected first.
    s.apply(600, b"j", entry(590, "w", None));
    let state = s.encode_state(700);
    assert_eq!(decode_state(&state, s.limits()).unwrap().len(), 0);
}

#[test]
fn local_writes_past_a_bound_are_refused_and_change_nothing() {
    let mut s = Store::new("r", Limits { max_entries: 2, ..limits() });
    assert_eq!(s.put(0, b"", b"v"), Err(WriteError::KeyLength { len: 0, max: 8 }));
    assert_eq!(s.put(0, b"123456789", b"v"), Err(WriteError::KeyLength { len: 9, max: 8 }));
    assert_eq!(s.put(0, b"k", &[0; 17]), Err(WriteError::ValueTooLong { len: 17, max: 16 }));
    s.put(0, b"k1", &[0; 16]).unwrap();
    s.delete(0, b"k2").unwrap();
    assert_eq!(s.put(0, b"k3", b"v"), Err(WriteError::Full { max: 2 }));
    assert_eq!(s.delete(0, b"k3"), Err(WriteError::Full { max: 2 }));
    // Keys already held can still be written, tombstones included.
    s.put(1, b"k2", b"back").unwrap();
    s.delete(2, b"k1").unwrap();
    assert_eq!(s.stats().writes_refused, 5);
    assert_eq!(s.entries().len(), 2);
    // A received entry for a new key is dropped when full; for a held key it is applied.
    assert_eq!(s.apply(10, b"k9", entry(10, "p", Some("v"))), Applied::Full);
    assert_eq!(s.apply(10, b"k1", entry(10, "p", Some("v"))), Applied::New);
    assert_eq!(s.stats().refused_full, 1);
    let mut full_merge = Store::new("x", limits());
    full_merge.put(0, b"k7", b"v").unwrap();
    full_merge.put(0, b"k8", b"v").unwrap();
    let merged = s.merge_state(4, &full_merge.encode_state(4), false).unwrap();
    assert_eq!((merged.new, merged.refused), (0, 2));
}

#[test]
fn malformed_input_is_a_typed_refusal() {
    let l = limits();
    let mut good = Store::new("w", l.clone());
    let u = good.put(5, b"key", b"value").unwrap().encode();
    let cases: Vec<(Vec<u8>, DecodeError)> = vec![
        (vec![], DecodeError::Truncated),
        (vec![2], DecodeError::Format(2)),
        ([&u[..], &[0]].concat(), DecodeError::Trailing(1)),
        (vec![1, 0], DecodeError::KeyLength(0)),
        (vec![1, 9], DecodeError::KeyLength(9)),
        (vec![1, 1, b'k', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], DecodeError::Varint),
        (vec![1, 1, b'k', 1, 0], DecodeError::WriterLength(0)),
        (vec![1, 1, b'k', 1, 1, 0xff, 0], DecodeError::WriterNotUtf8),
        (vec![1, 1, b'k', 1, 1, b'w', 7], DecodeError::Kind(7)),
        (vec![1, 1, b'k', 1, 1, b'w', 0, 17], DecodeError::ValueLength(17)),
        (vec![1, 1, b'k', 1, 1, b'w', 0, 3, b'a'], DecodeError::Truncated),
    ];
    for (bytes, want) in cases {
        assert_eq!(Update::decode(&bytes, &l), Err(want), "{bytes:?}");
    }
    let mut s = Store::new("r", l.clone());
    assert_eq!(s.on_update(0, b"other", &u), Err(DecodeError::KeyMismatch));
    assert_eq!(s.stats().malformed, 1);
    // States: a count the bytes cannot hold, and keys out of order or repeated.
    assert_eq!(decode_state(&[1, 100, 0], &l), Err(DecodeError::Count(100)));
    let one = |k: u8| vec![1, k, 1, 1, b'w', 1];
    for (a, b) in [(b'b', b'a'), (b'a', b'a')] {
        let state = [vec![1, 2], one(a), one(b)].concat();
        assert_eq!(decode_state(&state, &l), Err(DecodeError::KeyOrder));
    }
    assert_eq!(decode_state(&[vec![1, 2], one(b'a'), one(b'b')].concat(), &l).unwrap().len(), 2);
}

#[test]
fn the_wire_format_is_as_documented() {
    // put "k" = "v" at time 300 by "w": FORMAT, key, time (LEB128 300 = ac 02), writer,
    // kind 0, value.
    let u = Update { key: b"k".to_vec(), entry: entry(300, "w", Some("v")) };
    assert_eq!(u.encode().as_ref(), &[1, 1, b'k', 0xac, 0x02, 1, b'w', 0, 1, b'v']);
    let t = Update { key: b"k".to_vec(), entry: entry(1, "w", None) };
    assert_eq!(t.encode().as_ref(), &[1, 1, b'k', 1, 1, b'w', 1]);
    let mut s = Store::new("w", limits());
    s.apply(0, b"k", t.entry.clone());
    assert_eq!(s.encode_state(0).as_ref(), &[1, 1, 1, b'k', 1, 1, b'w', 1]);
}

#[test]
fn limits_fit_the_core_and_check_refuses_what_does_not() {
    let config = swim_core::Config::lan();
    let d = Limits::default();
    assert_eq!(d.max_update_len(), config.limits.max_user_broadcast_size);
    assert_eq!(d.max_value_len, 494);
    let max_state = 1 << 20;
    let l = Limits::for_core(&config, max_state);
    assert_eq!(l.max_update_len(), config.limits.max_user_broadcast_size);
    assert!(l.max_state_len() <= max_state && l.max_state_len() + l.max_entry_len() > max_state);
    l.check(&config, max_state, 5).unwrap();
    // A map of longest entries really encodes within max_state_len.
    let mut s = Store::new("w".repeat(l.max_writer_len), Limits { max_entries: 50, ..l.clone() });
    for i in 0..50u32 {
        let mut key = vec![b'k'; l.max_key_len];
        key[..4].copy_from_slice(&i.to_be_bytes());
        // Times of 64 bits: the longest varint.
        let u = s.put(u64::MAX - 100, &key, &vec![b'v'; l.max_value_len]).unwrap();
        assert_eq!(u.encode().len(), l.max_update_len());
    }
    assert!(s.encode_state(0).len() <= Limits { max_entries: 50, ..l.clone() }.max_state_len());
    assert_eq!(s.state_len(), 1 + 1 + 50 * l.max_entry_len());

    assert!(Limits { max_value_len: l.max_value_len + 1, ..l.clone() }.check(&config, max_state, 5).is_err());
    assert!(Limits { max_entries: l.max_entries + 1, ..l.clone() }.check(&config, max_state, 5).is_err());
    assert!(Limits { max_key_len: 0, ..l.clone() }.check(&config, max_state, 5).is_err());
    assert!(Limits { max_writer_len: 10, ..l.clone() }.check(&config, max_state, 5).is_err());
    // Ten LAN push-pull intervals are 300 s.
    assert!(Limits { tombstone_ttl_ms: 299_999, ..l.clone() }.check(&config, max_state, 5).is_err());
    Limits { tombstone_ttl_ms: 300_000, ..l.clone() }.check(&config, max_state, 5).unwrap();
}

#[test]
fn periodic_merges_queue_rebroadcasts_and_joins_do_not() {
    let mut peer = Store::new("p", limits());
    for k in [&b"a"[..], b"b", b"c"] {
        peer.put(10, k, b"v").unwrap();
    }
    let state = peer.encode_state(10);
    let mut joiner = Store::new("j", limits());
    joiner.merge_state(11, &state, false).unwrap();
    assert!(!joiner.has_rebroadcasts());
    let mut s = Store::new("s", Limits { max_rebroadcasts: 2, ..limits() });
    s.put(9, b"b", b"mine-but-older").unwrap();
    let m = s.merge_state(11, &state, true).unwrap();
    assert_eq!((m.new, m.stale, m.refused), (3, 0, 0));
    assert_eq!((s.stats().rebroadcasts, s.stats().rebroadcasts_dropped), (2, 1));
    // Since queued, "a" was rewritten here: the re-broadcast carries what is held now.
    let newer = s.put(12, b"a", b"newer").unwrap();
    let out = s.take_rebroadcasts();
    assert_eq!(out.iter().map(|u| u.key.as_slice()).collect::<Vec<_>>(), [&b"a"[..], b"b"]);
    assert_eq!(out[0].entry, newer.entry);
    assert!(!s.has_rebroadcasts());
    assert!(s.take_rebroadcasts().is_empty());
}

#[test]
fn the_hooks_make_a_store_a_replica() {
    let now = Arc::new(std::sync::atomic::AtomicU64::new(100));
    let clock_now = now.clone();
    let clock: store::Clock = Arc::new(move || clock_now.load(std::sync::atomic::Ordering::Relaxed));
    let store = Store::new("me", limits()).shared();
    let notified = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n = notified.clone();
    let mut hooks = KvHooks::new(store.clone(), clock).with_rebroadcast_notify(move || {
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    let hooks: &mut dyn Hooks<u32> = &mut hooks;

    let mut peer = Store::new("peer", limits());
    let u = peer.put(90, b"k", b"v").unwrap();
    assert_eq!(hooks.on_broadcast("peer", b"k", &u.encode()), Verdict::New);
    assert_eq!(hooks.on_broadcast("peer", b"k", &u.encode()), Verdict::Stale, "already held");
    assert_eq!(hooks.on_broadcast("peer", b"k", b"garbage"), Verdict::Stale);
    assert_eq!(hooks.on_broadcast("peer", b"j", &u.encode()), Verdict::Stale, "key mismatch");
    assert_eq!(lock(&store).get(b"k").map(|(v, _)| v.writer.as_str()), Some("peer"));

    // State out: the whole map; state in: merged, re-broadcast after a periodic exchange.
    let out = hooks.local_state(Exchange::Periodic);
    assert_eq!(decode_state(&out, &limits()).unwrap().len(), 1);
    peer.put(95, b"j", b"w").unwrap();
    hooks.merge_remote_state("peer", &peer.encode_state(95), Exchange::Join);
    assert_eq!(notified.load(std::sync::atomic::Ordering::Relaxed), 0);
    peer.put(96, b"i", b"x").unwrap();
    hooks.merge_remote_state("peer", &peer.encode_state(96), Exchange::Periodic);
    assert_eq!(notified.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(lock(&store).take_rebroadcasts().len(), 1, "only `i` was news");
    hooks.merge_remote_state("peer", b"\x01\x05", Exchange::Periodic);
    assert_eq!(lock(&store).stats().malformed, 3, "garbage, a key mismatch, a short state");
    assert_eq!(lock(&store).len(), 3);

    // Only local broadcasts are counted when they finish.
    for (local, outcome) in
        [(true, BroadcastOutcome::Sent), (true, BroadcastOutcome::Dropped), (false, BroadcastOutcome::Sent)]
    {
        hooks.broadcast_finished(&FinishedBroadcast {
            origin: "me",
            id: swim_core::BroadcastId(1),
            key: b"k",
            local,
            outcome,
        });
    }
    let stats = lock(&store).stats().clone();
    assert_eq!((stats.own_updates_sent, stats.own_updates_dropped, stats.own_updates_replaced), (1, 1, 0));
}
