//! The `kv` example's replicated store (the very file the example runs,
//! `swim-tokio/examples/kv/store.rs`) on simulated members, in virtual time from one seed:
//! writes at random members through loss, a crash and restart with an empty store, and a
//! partition; once the faults heal, every running replica holds the same map, and no
//! acknowledged write is lost unless a later write to its key superseded it. Then the same
//! over many seeds (swarm testing), and both sides of the documented resurrection rule.
//!
//! A write is *acknowledged* once `c + 1` running replicas hold it (or something newer),
//! where `c` is the number of members the run ever crashes: at least one of them is a member
//! that never crashes, so the write cannot be lost honestly. The model checks that, and that
//! a replica's entry for a key only ever moves forward.
//!
//! Replay a failing seed with the command it prints. `SWIM_KV_SWARM_SEEDS=n` runs `n` swarm
//! seeds instead of the default.

#[path = "../../swim-tokio/examples/kv/store.rs"]
mod store;

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{SeedGuard, seeds};
use store::{Entry, KvHooks, Limits, Shared, Store, lock};
use swim_core::{Config, Instant};
use swim_sim::faults::{FaultKind, FaultSpec, NodeSet, RestartIncarnation};
use swim_sim::invariants::Violation;
use swim_sim::sim::HooksFactory;
use swim_sim::{SimConfig, Simulation};

/// A replica's entries, by key.
type Map = BTreeMap<Vec<u8>, Entry>;

/// The replicas' clock: virtual milliseconds.
fn ms(t: Instant) -> u64 {
    t.as_nanos() / 1_000_000
}

/// splitmix64: the workload's own random stream, apart from the simulator's.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// One write the workload made, and when (if) it was acknowledged.
#[derive(Debug)]
struct Write {
    key: Vec<u8>,
    entry: Entry,
    at: Instant,
    acked: Option<Instant>,
}

/// Whether `held` is `w` or newer.
fn covers(held: &Entry, w: &Entry) -> bool {
    held == w || held.supersedes(w)
}

/// A simulation whose members each run a replica: the stores of their current lives, the
/// writes made, and the checks.
struct Kv {
    sim: Simulation,
    clock: Arc<AtomicU64>,
    stores: Arc<Mutex<Vec<Option<Shared>>>>,
    /// Members whose hooks queued re-broadcasts.
    dirty: Arc<Mutex<BTreeSet<u32>>>,
    writes: Vec<Write>,
    /// Members the run ever crashes (`c`).
    crashable: usize,
    next_check: Instant,
    /// Each member's map at the last check, with the store it came from.
    last_seen: Vec<Option<(Shared, Map)>>,
    ttl_ms: u64,
}

const CHECK_EVERY: Duration = Duration::from_millis(100);

impl Kv {
    fn new(mut cfg: SimConfig, limits: Limits, crashable: usize) -> Kv {
        let n = cfg.nodes;
        let clock = Arc::new(AtomicU64::new(0));
        let stores: Arc<Mutex<Vec<Option<Shared>>>> = Arc::new(Mutex::new(vec![None; n]));
        let dirty = Arc::new(Mutex::new(BTreeSet::new()));
        let ttl_ms = limits.tombstone_ttl_ms;
        let (c, s, d) = (clock.clone(), stores.clone(), dirty.clone());
        // A fresh, empty store at every start and restart of a member's process.
        cfg.hooks = Some(HooksFactory::new(move |i| {
            let store = Store::new(format!("node-{i}"), limits.clone()).shared();
            s.lock().unwrap()[i as usize] = Some(store.clone());
            let c = c.clone();
            let d = d.clone();
            Box::new(KvHooks::new(store, Arc::new(move || c.load(Ordering::Relaxed))).with_rebroadcast_notify(
                move || {
                    d.lock().unwrap().insert(i);
                },
            ))
        }));
        let sim = Simulation::new(cfg).expect("a valid simulation");
        Kv {
            sim,
            clock,
            stores,
            dirty,
            writes: Vec::new(),
            crashable,
            next_check: Instant::ZERO,
            last_seen: vec![None; n],
            ttl_ms,
        }
    }

    /// Member `i`'s store, while its process runs.
    fn store(&self, i: u32) -> Option<Shared> {
        self.sim.node(i)?;
        self.stores.lock().unwrap()[i as usize].clone()
    }

    fn running(&self) -> Vec<u32> {
        (0..self.sim.len() as u32).filter(|&i| self.sim.node(i).is_some()).collect()
    }

    /// Handle the next event; then broadcast what merges taught, and check every
    /// `CHECK_EVERY`.
    fn step(&mut self) -> Result<bool, Violation> {
        let Some(t) = self.sim.next_time() else { return Ok(false) };
        self.clock.store(ms(t), Ordering::Relaxed);
        self.sim.step()?;
        let dirty = std::mem::take(&mut *self.dirty.lock().unwrap());
        for i in dirty {
            let Some(store) = self.store(i) else { continue };
            let updates = lock(&store).take_rebroadcasts();
            for u in updates {
                // A member that is leaving refuses: anti-entropy still carries the entry.
                self.sim.command(i, |s, now| s.broadcast(now, Some(&u.key), u.encode()))?;
            }
        }
        if self.sim.now() >= self.next_check {
            self.next_check = self.sim.now() + CHECK_EVERY;
            self.check();
        }
        Ok(true)
    }

    /// Run until virtual time `end`, or until `cond` holds at a check; whether it held.
    fn run_until(&mut self, end: Instant, mut cond: impl FnMut(&Kv) -> bool) -> Result<bool, Violation> {
        let mut checked = self.next_check;
        while self.sim.next_time().is_some_and(|t| t <= end) {
            self.step()?;
            if self.next_check != checked {
                checked = self.next_check;
                if cond(self) {
                    return Ok(true);
                }
            }
        }
        Ok(cond(self))
    }

    /// Write at member `i` (a delete for `None`) and broadcast it, as the example does.
    fn write(&mut self, i: u32, key: &[u8], value: Option<&[u8]>) -> Result<(), Violation> {
        let Some(store) = self.store(i) else { return Ok(()) };
        let now = ms(self.sim.now());
        let written = match value {
            Some(v) => lock(&store).put(now, key, v),
            None => lock(&store).delete(now, key),
        };
        let Ok(update) = written else { return Ok(()) }; // a full store refuses (counted)
        self.sim.command(i, |s, now| s.broadcast(now, Some(&update.key), update.encode()))?;
        self.writes.push(Write { key: update.key, entry: update.entry, at: self.sim.now(), acked: None });
        Ok(())
    }

    /// Acknowledge writes held by `c + 1` running replicas, and check that no replica's entry
    /// went backwards since the last check.
    fn check(&mut self) {
        let now = self.sim.now();
        let maps: Vec<(u32, Shared, Map)> = self
            .running()
            .into_iter()
            .filter_map(|i| {
                let s = self.store(i)?;
                let m = lock(&s).entries().clone();
                Some((i, s, m))
            })
            .collect();
        for w in self.writes.iter_mut().filter(|w| w.acked.is_none()) {
            let holders = maps.iter().filter(|(_, _, m)| m.get(&w.key).is_some_and(|e| covers(e, &w.entry))).count();
            if holders > self.crashable {
                w.acked = Some(now);
            }
        }
        for (i, store, map) in maps {
            if let Some((prev_store, prev)) = &self.last_seen[i as usize]
                && Arc::ptr_eq(prev_store, &store)
            {
                for (key, before) in prev {
                    let ok = match map.get(key) {
                        Some(after) => covers(after, before),
                        // Only a tombstone past its lifetime may go.
                        None => before.is_tombstone() && ms(now) >= before.version.time + self.ttl_ms,
                    };
                    assert!(
                        ok,
                        "seed {}: node-{i}'s entry for {key:?} went back from {before:?} to {:?} at {now:?}",
                        self.sim.seed(),
                        map.get(key)
                    );
                }
            }
            self.last_seen[i as usize] = Some((store, map));
        }
    }

    /// Whether every running replica holds the same entries (tombstones included).
    fn agreed(&self) -> bool {
        let mut maps = self.running().into_iter().filter_map(|i| Some(lock(&self.store(i)?).entries().clone()));
        let Some(first) = maps.next() else { return true };
        maps.all(|m| m == first)
    }

    /// The first running replica's entries (all of them, once [`agreed`](Self::agreed)).
    fn common_map(&self) -> Map {
        let i = self.running()[0];
        lock(&self.store(i).expect("running")).entries().clone()
    }

    /// Check that every acknowledged write survived (or was superseded) in the common map
    /// and that every entry in it is one some member wrote; print the figures.
    fn verify(&self, label: &str) -> Map {
        let seed = self.sim.seed();
        let map = self.common_map();
        let mut superseded = 0;
        for w in self.writes.iter().filter(|w| w.acked.is_some()) {
            let held = map.get(&w.key);
            assert!(
                held.is_some_and(|e| covers(e, &w.entry)),
                "seed {seed}: an acknowledged write was lost: {w:?}, the replicas hold {held:?}"
            );
            superseded += usize::from(held != Some(&w.entry));
        }
        for (key, entry) in &map {
            assert!(
                self.writes.iter().any(|w| &w.key == key && &w.entry == entry),
                "seed {seed}: {key:?} holds {entry:?}, which nobody wrote"
            );
        }
        // The replicas share the virtual clock, so a write made after another was
        // acknowledged has a newer version (the hybrid clock never runs behind it).
        for (k, w1) in self.writes.iter().enumerate() {
            let Some(acked) = w1.acked else { continue };
            for w2 in self.writes[k + 1..].iter().filter(|w2| w2.key == w1.key && w2.at > acked) {
                assert!(
                    w2.entry.supersedes(&w1.entry),
                    "seed {seed}: {w2:?}, made after {w1:?} was acknowledged, does not supersede it"
                );
            }
        }
        let acked = self.writes.iter().filter(|w| w.acked.is_some()).count();
        let lag: Vec<u64> = self
            .writes
            .iter()
            .filter_map(|w| Some(w.acked?.saturating_duration_since(w.at).as_millis() as u64))
            .collect();
        println!(
            "{label}: seed {seed}: {} writes, {acked} acknowledged (median {} ms after the write), {superseded} of \
             those superseded, {} unacknowledged; {} keys live, {} tombstones",
            self.writes.len(),
            median(lag),
            self.writes.len() - acked,
            map.values().filter(|e| !e.is_tombstone()).count(),
            map.values().filter(|e| e.is_tombstone()).count(),
        );
        map
    }
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// Limits for the simulated replicas: the core's, with a tombstone lifetime of `ttl`.
fn limits(config: &Config, ttl: Duration) -> Limits {
    Limits { tombstone_ttl_ms: ttl.as_millis() as u64, ..Limits::for_core(config, config.limits.max_app_state) }
}

/// How long after the faults heal every replica must agree: the membership's own
/// convergence bound (swim-sim's `scenario::convergence_bound`: suspicion, two reconnect
/// intervals, a push-pull interval, 30 s) plus one more push-pull interval and the gossip
/// bound, for the maps.
fn kv_bound(cfg: &SimConfig) -> Duration {
    let t = cfg.config.timings(cfg.nodes);
    swim_sim::scenario::convergence_bound(cfg) + t.push_pull_interval.unwrap_or_default() + t.gossip_bound()
}

fn at(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

/// Writes every `every` at random running members until `until`, over `keys` keys, a
/// delete with probability `deletes`.
fn workload(
    kv: &mut Kv,
    rng: &mut Rng,
    every: Duration,
    until: Instant,
    keys: u64,
    deletes: f64,
) -> Result<(), Violation> {
    let mut next = kv.sim.now() + every;
    let mut counter = 0u64;
    while next <= until {
        kv.run_until(next, |_| false)?;
        let running = kv.running();
        if !running.is_empty() {
            let i = running[rng.range(0, running.len() as u64) as usize];
            let key = format!("key-{}", rng.range(0, keys));
            counter += 1;
            let value = format!("v{counter}");
            let delete = rng.chance(deletes);
            kv.write(i, key.as_bytes(), (!delete).then_some(value.as_bytes()))?;
        }
        next += every;
    }
    Ok(())
}

/// After `healed`, run until every replica agrees (within `bound`), and on the same map
/// still after two more push-pull intervals with nothing written. Returns the time to agree
/// and the map.
fn agree(kv: &mut Kv, healed: Instant, bound: Duration) -> Result<(Duration, Map), Violation> {
    kv.run_until(healed, |_| false)?;
    let agreed = kv.run_until(healed + bound, Kv::agreed)?;
    let seed = kv.sim.seed();
    assert!(agreed, "seed {seed}: the replicas do not agree {bound:?} after the faults healed");
    let took = kv.sim.now().saturating_duration_since(healed);
    let map = kv.common_map();
    let quiet = kv.sim.config().config.push_pull_interval.unwrap_or(at(30)) * 2;
    let end = kv.sim.now() + quiet;
    kv.run_until(end, |_| false)?;
    assert!(kv.agreed(), "seed {seed}: the replicas drifted apart again");
    assert_eq!(kv.common_map(), map, "seed {seed}: the agreed map changed with nothing written");
    Ok((took, map))
}

/// [`agree`], then [`Kv::verify`] the model.
fn converge(kv: &mut Kv, healed: Instant, bound: Duration, label: &str) -> Result<Duration, Violation> {
    let (took, _) = agree(kv, healed, bound)?;
    kv.verify(label);
    Ok(took)
}

/// The deterministic run: 8 members, writes every 250 ms for 100 s over 40 keys (one in
/// seven a delete), 10% loss from 20 s to 70 s, node-3 crashed at 30 s and restarted empty
/// at 40 s, and the cluster split {0..3} | {4..7} from 50 s to 80 s.
fn scripted(seed: u64) -> Result<(Kv, Duration), Violation> {
    let mut cfg = SimConfig::new(8, seed);
    cfg.config = Config::local();
    cfg.duration = at(600);
    let mut loss = FaultSpec::new(FaultKind::Loss, at(20), NodeSet::default()).lasting(at(50));
    loss.loss = Some(0.1);
    cfg.faults.insert("loss".into(), loss);
    let mut restart = FaultSpec::new(FaultKind::Restart, at(30), NodeSet::List(vec![3]));
    restart.down = Some(swim_sim::duration::Dur(at(10)));
    restart.incarnation = Some(RestartIncarnation::Zero);
    cfg.faults.insert("restart".into(), restart);
    let partition = FaultSpec::new(FaultKind::Partition, at(50), NodeSet::List(vec![0, 1, 2, 3])).lasting(at(30));
    cfg.faults.insert("partition".into(), partition);
    let bound = kv_bound(&cfg);
    let mut kv = Kv::new(cfg.clone(), limits(&cfg.config, Duration::from_secs(3600)), 1);
    let mut rng = Rng(seed);
    workload(&mut kv, &mut rng, Duration::from_millis(250), Instant::from_secs(100), 40, 1.0 / 7.0)?;
    let took = converge(&mut kv, Instant::from_secs(100), bound, "scripted")?;
    Ok((kv, took))
}

#[test]
fn replicas_converge_after_loss_a_restart_and_a_partition() {
    let seed = seeds(7, 1)[0];
    let _g = SeedGuard { seed, test: "replicas_converge_after_loss_a_restart_and_a_partition", file: "kv" };
    let (kv, took) = scripted(seed).unwrap_or_else(|v| panic!("{v}"));
    let bound = kv_bound(kv.sim.config());
    println!(
        "kv figure: scripted seed {seed}: every replica agreed {took:?} after the last write at 100 s, the faults healed by 80 s (bound {bound:?})"
    );
    let acked = kv.writes.iter().filter(|w| w.acked.is_some()).count();
    assert!(
        kv.writes.len() > 350 && acked > kv.writes.len() * 9 / 10,
        "{} writes, {acked} acknowledged",
        kv.writes.len()
    );
    // The restarted member rebuilt its map from nothing, and holds everything.
    let restarted = lock(&kv.store(3).expect("node-3 runs again")).stats().clone();
    assert!(restarted.applied > 0 && restarted.states_merged > 0, "{restarted:?}");
    // Anti-entropy after the partition re-broadcast what it taught.
    let rebroadcasts: u64 = kv.running().iter().map(|&i| lock(&kv.store(i).unwrap()).stats().rebroadcasts).sum();
    assert!(rebroadcasts > 0, "the healed partition's merges taught something");
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let (a, _) = scripted(11).unwrap_or_else(|v| panic!("{v}"));
    let (b, _) = scripted(11).unwrap_or_else(|v| panic!("{v}"));
    assert_eq!(a.sim.digest(), b.sim.digest());
    assert_eq!(a.verify("a"), b.verify("b"));
}

/// A case of the swarm: cluster, timing, network, faults and workload drawn from the seed.
fn swarm_case(seed: u64) -> Result<Duration, Violation> {
    let mut r = Rng(seed ^ 0x6b76_7377_6172_6d00);
    let n = r.range(3, 11) as usize;
    let mut cfg = SimConfig::new(n, seed);
    cfg.config = if r.chance(0.5) { Config::local() } else { Config::lan() };
    let c = &mut cfg.config;
    c.gossip_nodes = r.range(1, 5) as usize;
    c.retransmit_mult = r.range(1, 5) as u32;
    c.push_pull_interval = Some(Duration::from_secs(r.range(2, 20)));
    c.reconnect_interval = Some(Duration::from_secs(r.range(2, 20)));
    cfg.network.loss = if r.chance(0.3) { r.range(0, 30) as f64 / 1000.0 } else { 0.0 };
    cfg.network.duplicate = if r.chance(0.3) { 0.02 } else { 0.0 };
    cfg.network.reorder = if r.chance(0.3) { 0.02 } else { 0.0 };
    // Background loss is a fault too: it ends when the others do.
    let mut faults = Vec::new();
    let crashable = r.range(0, (n as u64 / 3).min(2) + 1) as usize;
    for (k, node) in (0..n as u32).rev().take(crashable).enumerate() {
        let mut f = FaultSpec::new(FaultKind::Restart, at(r.range(5, 60)), NodeSet::List(vec![node]));
        f.down = Some(swim_sim::duration::Dur(at(r.range(0, 15))));
        f.incarnation = Some([RestartIncarnation::Zero, RestartIncarnation::Next, RestartIncarnation::Clock][k % 3]);
        faults.push(f);
    }
    if r.chance(0.6) {
        let size = r.range(1, n as u64) as u32;
        let mut side: Vec<u32> = (0..n as u32).collect();
        // A random side of `size` members.
        for j in 0..side.len() {
            let k = r.range(j as u64, side.len() as u64) as usize;
            side.swap(j, k);
        }
        side.truncate(size as usize);
        let mut f = FaultSpec::new(FaultKind::Partition, at(r.range(10, 60)), NodeSet::List(side));
        f.one_way = Some(r.chance(0.2));
        faults.push(f.lasting(at(r.range(5, 40))));
    }
    if r.chance(0.5) {
        let mut f = FaultSpec::new(FaultKind::Loss, at(r.range(5, 60)), NodeSet::default());
        f.loss = Some(r.range(10, 60) as f64 / 100.0);
        faults.push(f.lasting(at(r.range(5, 30))));
    }
    for (k, f) in faults.into_iter().enumerate() {
        cfg.faults.insert(format!("f{k}"), f);
    }
    cfg.duration = at(1_000);
    let bound = kv_bound(&cfg);
    let mut kv = Kv::new(cfg.clone(), limits(&cfg.config, Duration::from_secs(3600)), crashable);
    let every = Duration::from_millis(r.range(100, 1000));
    let keys = r.range(3, 60);
    let deletes = r.range(0, 30) as f64 / 100.0;
    // Faults start by 60 s and last at most 40 s (a restart's downtime at most 15 s).
    workload(&mut kv, &mut r, every, Instant::from_secs(100), keys, deletes)?;
    if std::env::var_os("SWIM_KV_VERBOSE").is_some() {
        println!("seed {seed}: {n} members, {crashable} restarted, faults {:?}", kv.sim.config().faults);
    }
    converge(&mut kv, Instant::from_secs(100), bound, "swarm")
}

/// Swarm testing: `SWIM_KV_SWARM_SEEDS` seeds (default 200), each a drawn cluster, timing,
/// network, fault schedule and workload.
#[test]
fn replicas_converge_over_many_seeds() {
    let count = std::env::var("SWIM_KV_SWARM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let mut took = Vec::new();
    for seed in seeds(1_000, count) {
        let _g = SeedGuard { seed, test: "replicas_converge_over_many_seeds", file: "kv" };
        let t = swarm_case(seed).unwrap_or_else(|v| panic!("{v}"));
        took.push(t.as_millis() as u64);
    }
    let max = took.iter().copied().max().unwrap_or(0);
    println!(
        "kv figure: swarm: {} seeds converged; every replica agreed, after the last write and fault (100 s): median {} ms, max {max} ms",
        took.len(),
        median(took.clone())
    );
}

/// The documented resurrection rule, on a cluster: a key deleted while one member is cut
/// off stays deleted when the member comes back within the tombstone lifetime, and comes
/// back (on every replica alike) when the member was away longer.
#[test]
fn a_delete_holds_through_a_partition_shorter_than_the_tombstone_lifetime_only() {
    let ttl = Duration::from_secs(100);
    for (away, stays_deleted) in [(at(60), true), (at(200), false)] {
        let mut cfg = SimConfig::new(5, 3);
        cfg.config = Config::local();
        cfg.config.push_pull_interval = Some(at(5));
        cfg.duration = at(1_000);
        let partition = FaultSpec::new(FaultKind::Partition, at(10), NodeSet::List(vec![4])).lasting(away);
        cfg.faults.insert("away".into(), partition);
        let limits = limits(&cfg.config, ttl);
        limits.check(&cfg.config, cfg.config.limits.max_app_state, 5).expect("ten push-pull intervals");
        let mut kv = Kv::new(cfg.clone(), limits, 0);
        kv.run_until(Instant::from_secs(2), |_| false).unwrap();
        kv.write(0, b"k", Some(b"v")).unwrap();
        kv.run_until(Instant::from_secs(20), |_| false).unwrap();
        assert!(lock(&kv.store(4).unwrap()).get(b"k").is_some(), "node-4 has the key before it is cut off");
        kv.write(0, b"k", None).unwrap();
        let healed = Instant::from_secs(10) + away;
        // No model check: past the lifetime, losing the delete is the documented rule.
        let (took, map) = agree(&mut kv, healed, kv_bound(&cfg)).unwrap_or_else(|v| panic!("{v}"));
        let held = map.get(&b"k"[..]);
        if stays_deleted {
            assert!(held.is_some_and(Entry::is_tombstone), "away {away:?}: the delete holds: {held:?}");
        } else {
            assert_eq!(held.and_then(|e| e.value.as_deref()), Some(&b"v"[..]), "away {away:?}: the old value is back");
        }
        println!(
            "resurrection rule: away {away:?}, tombstone lifetime {ttl:?}: agreed {took:?} after the heal on {held:?}"
        );
    }
}
