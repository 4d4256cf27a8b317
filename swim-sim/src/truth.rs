//! Ground truth, and what every member believes.
//!
//! The simulator knows who is really running. Every member event updates a bit matrix of views
//! (`alive[o][t]`, `suspect[o][t]`: 2 bits per pair, 25 MB at 10,000 members), with per-row
//! and per-column counters kept incrementally, so these questions cost O(1) per event:
//!
//! - **converged**: every running member holds exactly the running members alive and nobody
//!   suspect;
//! - **detected by all**: no running member still holds a crashed member alive or suspect;
//! - **disseminated to all**: every running member holds a new member alive.
//!
//! A member is *up* while its process runs and it has not announced a leave (and it shares a
//! version with the run's configuration: an outsider, which every member must refuse, never
//! counts as up; see [`Truth::exclude`]). A **false
//! positive** is a `MemberFailed` event, at an up observer, about an up member that has not
//! restarted within the last `stale_window` (a death notice about a previous life of a
//! restarted member is counted as stale, not false). It is split by whether the observer was
//! CPU-starved, and `declared` counts those where the observer's own suspicion timer ran out
//! (it accused, rather than believed someone else's accusation), and by victim: healthy, slow,
//! or *impaired* (cut off by a partition, blackhole, extra loss or clog). A **flap** is a member
//! coming back alive at an observer that held it dead, without having restarted.

use std::time::Duration;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use swim_core::{Event, Instant};

/// The view bits of one (observer, target) pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Not held, or held dead or left.
    Gone,
    /// Held alive.
    Alive,
    /// Held suspect.
    Suspect,
}

/// False-positive counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FalsePositives {
    /// `MemberFailed` events about a live member, at live observers.
    pub events: u64,
    /// ... at observers that were not CPU-starved.
    pub at_healthy: u64,
    /// ... at CPU-starved observers.
    pub at_slow: u64,
    /// ... where the observer's own suspicion timer declared it (the accusing member).
    pub declared: u64,
    /// Declarations by healthy observers.
    pub declared_by_healthy: u64,
    /// Declarations by slow observers.
    pub declared_by_slow: u64,
    /// Events whose victim was healthy.
    pub healthy_victims: u64,
    /// Events whose victim was slow.
    pub slow_victims: u64,
    /// Events whose victim was cut off by a network fault (partition, blackhole, extra loss,
    /// clog): the detector was arguably right.
    pub impaired_victims: u64,
    /// Healthy victims at healthy observers.
    pub healthy_at_healthy: u64,
    /// Healthy victims at observers that are neither slow nor cut off by a network fault
    /// (the lossy or flip-flopping members' own accusations excluded).
    pub healthy_at_unimpaired: u64,
    /// Healthy victims at slow observers.
    pub healthy_at_slow: u64,
    /// Slow victims at healthy observers.
    pub slow_at_healthy: u64,
    /// Slow victims at slow observers.
    pub slow_at_slow: u64,
    /// Distinct (observer, victim) pairs.
    pub pairs: u64,
    /// Distinct pairs with a healthy observer.
    pub pairs_healthy: u64,
    /// Distinct pairs with a slow observer.
    pub pairs_slow: u64,
    /// Distinct victims.
    pub victims: u64,
    /// Death notices about a previous life of a member that restarted (not false positives).
    pub stale: u64,
    /// `MemberSuspected` events about a live member (suspicions that had to be refuted).
    pub false_suspicions: u64,
}

/// What happened after one real crash.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Detection {
    /// The crashed member.
    pub node: u32,
    /// When it crashed (seconds).
    pub crashed_at: f64,
    /// Running members that held it alive or suspect when it crashed.
    pub known_by: u32,
    /// Crash to the first suspicion anywhere (seconds).
    pub first_suspect: Option<f64>,
    /// Crash to the first `MemberFailed` anywhere.
    pub first_failed: Option<f64>,
    /// Crash to the moment no running member held it alive or suspect.
    pub all_failed: Option<f64>,
    /// It restarted before everyone detected it (the measurement stopped).
    pub censored: bool,
}

/// How long one member took to become known (a join) or one change to spread (an update).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spread {
    /// The member.
    pub node: u32,
    /// `"join"`, `"restart"` or `"update"`.
    pub kind: &'static str,
    /// When it started (seconds).
    pub started_at: f64,
    /// To the first other running member (seconds).
    pub first: Option<f64>,
    /// To every running member.
    pub all: Option<f64>,
    /// The member stopped before it finished.
    pub censored: bool,
}

struct UpdateTrack {
    record: usize,
    node: u32,
    incarnation: u32,
    seen: Vec<u64>,
    seen_count: usize,
}

/// One periodic sample of the cluster.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sample {
    /// Virtual time (seconds).
    pub t: f64,
    /// Up members.
    pub up: usize,
    /// Smallest view (alive + suspect, self included) among up members.
    pub view_min: usize,
    /// Mean view size.
    pub view_mean: f64,
    /// Largest view size.
    pub view_max: usize,
    /// Up members whose view equals the truth.
    pub correct: usize,
    /// Suspect entries across all views.
    pub suspects: usize,
    /// False positives so far.
    pub false_positives: u64,
    /// Whether the cluster was converged.
    pub converged: bool,
}

/// Ground truth and the views. See the module docs.
pub struct Truth {
    n: usize,
    words: usize,
    alive: Vec<u64>,
    suspect: Vec<u64>,
    up: Vec<bool>,
    slow: Vec<bool>,
    life_started: Vec<Instant>,
    /// Whether the current life is a restart (a previous life's death notices may linger).
    restarted: Vec<bool>,
    n_up: usize,
    n_alive: Vec<u32>,
    n_suspect: Vec<u32>,
    n_alive_up: Vec<u32>,
    col_alive_up: Vec<u32>,
    col_live_up: Vec<u32>,
    n_good: usize,
    converged: bool,
    stale_window: Duration,
    /// `(time, converged)` at every change of the converged predicate.
    pub convergence: Vec<(Instant, bool)>,
    sizes_seen: Vec<bool>,
    /// Distinct view sizes (alive + suspect, self included) held by up members at any time.
    pub distinct_sizes: usize,
    /// False positives.
    pub fp: FalsePositives,
    fp_pairs_healthy: FxHashSet<(u32, u32)>,
    fp_pairs_slow: FxHashSet<(u32, u32)>,
    fp_victims: FxHashSet<u32>,
    /// Time of each false positive and whether its observer was slow.
    pub fp_times: Vec<(Instant, bool)>,
    crash_track: Vec<Option<usize>>,
    /// One record per real crash.
    pub detections: Vec<Detection>,
    join_track: Vec<Option<usize>>,
    active_joins: Vec<u32>,
    /// Joins, restarts and metadata updates.
    pub spreads: Vec<Spread>,
    updates: Vec<UpdateTrack>,
    /// Per member: times it came back alive at an observer that held it dead (not a restart).
    pub flaps: Vec<u32>,
    /// Per member: times an observer saw it refute a suspicion.
    pub refutations_seen: Vec<u32>,
    /// Pairs (observer, target) whose observer holds the target down (flap damping), with
    /// the view its protocol events would give (applied when it is readmitted).
    held: FxHashMap<(u32, u32), View>,
    /// Per member: whether a network fault (blackhole, flip-flop, per-member loss) targets
    /// it; its flapping is followed in `watched`.
    is_watched: Vec<bool>,
    /// The members network faults target, and how the healthy members agree about them.
    pub watched: Vec<Watched>,
    /// Dead-to-alive transitions per (healthy observer, watched target) pair.
    pair_flaps: FxHashMap<(u32, u32), u32>,
}

impl Watched {
    /// Close the disagreement intervals still open at `now` (the end of a run).
    pub fn close(watched: &mut [Watched], now: Instant) {
        for w in watched {
            if let Some(s) = w.disagree_since.take() {
                w.disagreement += secs(now - s);
            }
            if let Some(s) = w.held_disagree_since.take() {
                w.held_disagreement += secs(now - s);
            }
        }
    }
}

/// How healthy observers (up, not themselves targeted by a network fault) see one member a
/// network fault targets: flap damping's figures (issue 17).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Watched {
    /// The member.
    pub node: u32,
    /// When a fault first targeted it (seconds).
    pub since: f64,
    /// Whether a fault targets it now.
    #[serde(skip)]
    active: bool,
    /// When the last fault on it ended (seconds), if one did.
    pub fault_ended: Option<f64>,
    /// Healthy observers holding it down now.
    #[serde(skip)]
    held_by: u32,
    /// First time every healthy observer held it down (seconds from `since`).
    pub all_held_after: Option<f64>,
    /// Readmissions at healthy observers while a fault still targeted it, after every
    /// healthy observer had held it down.
    pub readmitted_during_fault: u32,
    /// Since when healthy observers disagree (some hold it live, some not).
    #[serde(skip)]
    disagree_since: Option<Instant>,
    /// Total time healthy observers disagreed about it (seconds): some holding it live
    /// (alive or suspect), some not.
    pub disagreement: f64,
    /// Since when healthy observers disagree about holding it down.
    #[serde(skip)]
    held_disagree_since: Option<Instant>,
    /// Total time some healthy observers held it down and others not (seconds).
    pub held_disagreement: f64,
    /// Last time every healthy observer came to hold it live (seconds).
    pub all_live_at: Option<f64>,
    /// Whether every healthy observer holds it live now.
    pub all_live: bool,
    /// Most dead-to-alive transitions of it at one healthy observer.
    pub max_flaps_per_observer: u32,
}

impl std::fmt::Debug for Truth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Truth").field("n", &self.n).field("up", &self.n_up).field("converged", &self.converged).finish()
    }
}

#[inline]
fn bit(v: &[u64], words: usize, o: usize, t: usize) -> bool {
    v[o * words + t / 64] >> (t % 64) & 1 == 1
}

#[inline]
fn set_bit(v: &mut [u64], words: usize, o: usize, t: usize, on: bool) {
    let w = &mut v[o * words + t / 64];
    if on {
        *w |= 1 << (t % 64);
    } else {
        *w &= !(1 << (t % 64));
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl Truth {
    /// `n` members, none running. Death notices about a member that restarted less than
    /// `stale_window` ago are stale, not false positives.
    pub fn new(n: usize, stale_window: Duration) -> Self {
        let words = n.div_ceil(64);
        Truth {
            n,
            words,
            alive: vec![0; n * words],
            suspect: vec![0; n * words],
            up: vec![false; n],
            slow: vec![false; n],
            life_started: vec![Instant::ZERO; n],
            restarted: vec![false; n],
            n_up: 0,
            n_alive: vec![0; n],
            n_suspect: vec![0; n],
            n_alive_up: vec![0; n],
            col_alive_up: vec![0; n],
            col_live_up: vec![0; n],
            n_good: 0,
            converged: false,
            stale_window,
            convergence: Vec::new(),
            sizes_seen: vec![false; n + 2],
            distinct_sizes: 0,
            fp: FalsePositives::default(),
            fp_pairs_healthy: FxHashSet::default(),
            fp_pairs_slow: FxHashSet::default(),
            fp_victims: FxHashSet::default(),
            fp_times: Vec::new(),
            crash_track: vec![None; n],
            detections: Vec::new(),
            join_track: vec![None; n],
            active_joins: Vec::new(),
            spreads: Vec::new(),
            updates: Vec::new(),
            flaps: vec![0; n],
            refutations_seen: vec![0; n],
            held: FxHashMap::default(),
            is_watched: vec![false; n],
            watched: Vec::new(),
            pair_flaps: FxHashMap::default(),
        }
    }

    /// A network fault starts (`on`) or ends on `nodes` at `now`: follow them in `watched`.
    pub fn network_fault(&mut self, now: Instant, nodes: &[u32], on: bool) {
        for &t in nodes {
            if (t as usize) >= self.n {
                continue;
            }
            if !self.is_watched[t as usize] {
                if !on {
                    continue;
                }
                self.is_watched[t as usize] = true;
                self.watched.push(Watched { node: t, since: secs(now - Instant::ZERO), ..Watched::default() });
            }
            let k = self.watch_index(t);
            let w = &mut self.watched[k];
            w.active = on;
            if !on {
                w.fault_ended = Some(secs(now - Instant::ZERO));
            }
            self.watch_update(now, t);
        }
    }

    fn watch_index(&self, t: u32) -> usize {
        self.watched.iter().position(|w| w.node == t).unwrap_or(usize::MAX)
    }

    /// Up observers not targeted by a network fault.
    fn healthy_observers(&self) -> u32 {
        let faulty_up = self.watched.iter().filter(|w| self.up[w.node as usize]).count();
        (self.n_up - faulty_up) as u32
    }

    /// Re-evaluate agreement about watched member `t` after a change of views.
    fn watch_update(&mut self, now: Instant, t: u32) {
        let Some(k) = self.watched.iter().position(|w| w.node == t) else { return };
        let faulty_live = self
            .watched
            .iter()
            .filter(|w| w.node != t && self.up[w.node as usize])
            .filter(|w| matches!(self.view(w.node, t), View::Alive | View::Suspect))
            .count() as u32;
        let own = u32::from(self.up[t as usize]);
        let live = self.col_live_up[t as usize].saturating_sub(faulty_live + own);
        let healthy = self.healthy_observers();
        let disagree = live > 0 && live < healthy;
        let all_live = healthy > 0 && live == healthy;
        let w = &mut self.watched[k];
        match (disagree, w.disagree_since) {
            (true, None) => w.disagree_since = Some(now),
            (false, Some(s)) => {
                w.disagreement += secs(now - s);
                w.disagree_since = None;
            }
            _ => {}
        }
        if all_live && !w.all_live {
            w.all_live_at = Some(secs(now - Instant::ZERO));
        }
        w.all_live = all_live;
    }

    /// Whether observer `o` holds `t` down (flap damping).
    pub fn holds_down(&self, o: u32, t: u32) -> bool {
        self.held.contains_key(&(o, t))
    }

    fn held_change(&mut self, now: Instant, o: u32, t: u32, held: bool) {
        if !self.is_watched[t as usize] || self.is_watched[o as usize] {
            return;
        }
        let healthy = self.healthy_observers();
        let k = self.watch_index(t);
        let w = &mut self.watched[k];
        if held {
            w.held_by += 1;
            if w.held_by >= healthy && w.all_held_after.is_none() {
                w.all_held_after = Some(secs(now - Instant::ZERO) - w.since);
            }
        } else {
            w.held_by = w.held_by.saturating_sub(1);
            if w.active && w.all_held_after.is_some() {
                w.readmitted_during_fault += 1;
            }
        }
        let disagree = w.held_by > 0 && w.held_by < healthy;
        match (disagree, w.held_disagree_since) {
            (true, None) => w.held_disagree_since = Some(now),
            (false, Some(s)) => {
                w.held_disagreement += secs(now - s);
                w.held_disagree_since = None;
            }
            _ => {}
        }
    }

    /// Members.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Whether `i` is up (running and not leaving).
    pub fn is_up(&self, i: u32) -> bool {
        self.up[i as usize]
    }

    /// Up members.
    pub fn up_count(&self) -> usize {
        self.n_up
    }

    /// Whether `i` is CPU-starved now.
    pub fn is_slow(&self, i: u32) -> bool {
        self.slow[i as usize]
    }

    /// Whether every up member holds exactly the up members alive and nobody suspect.
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// Observer `o`'s view of `t`, as its events reported it.
    pub fn view(&self, o: u32, t: u32) -> View {
        let (o, t) = (o as usize, t as usize);
        if bit(&self.alive, self.words, o, t) {
            View::Alive
        } else if bit(&self.suspect, self.words, o, t) {
            View::Suspect
        } else {
            View::Gone
        }
    }

    /// Up members holding `t` alive (`t` itself included).
    pub fn seen_alive_by(&self, t: u32) -> u32 {
        self.col_alive_up[t as usize]
    }

    /// Up members holding `t` alive or suspect.
    pub fn seen_live_by(&self, t: u32) -> u32 {
        self.col_live_up[t as usize]
    }

    /// Alive plus suspect entries of `o`'s view (self included).
    pub fn view_size(&self, o: u32) -> usize {
        (self.n_alive[o as usize] + self.n_suspect[o as usize]) as usize
    }

    fn good(&self, o: usize) -> bool {
        let up = self.n_up as u32;
        self.up[o] && self.n_alive[o] == up && self.n_alive_up[o] == up && self.n_suspect[o] == 0
    }

    fn recount_good(&mut self, now: Instant) {
        self.n_good = (0..self.n).filter(|&o| self.good(o)).count();
        self.update_converged(now);
    }

    fn update_converged(&mut self, now: Instant) {
        let c = self.n_up > 0 && self.n_good == self.n_up;
        if c != self.converged {
            self.converged = c;
            self.convergence.push((now, c));
        }
    }

    fn note_size(&mut self, o: usize) {
        let s = (self.n_alive[o] + self.n_suspect[o]) as usize;
        if s < self.sizes_seen.len() && !self.sizes_seen[s] {
            self.sizes_seen[s] = true;
            self.distinct_sizes += 1;
        }
    }

    /// Set `o`'s view of `t`. Returns the previous view.
    pub fn set(&mut self, now: Instant, o: u32, t: u32, view: View) -> View {
        let (oi, ti) = (o as usize, t as usize);
        let old = self.view(o, t);
        if old == view || !self.up[oi] {
            return old;
        }
        let was_good = self.good(oi);
        let (old_a, old_s) = (old == View::Alive, old == View::Suspect);
        let (new_a, new_s) = (view == View::Alive, view == View::Suspect);
        set_bit(&mut self.alive, self.words, oi, ti, new_a);
        set_bit(&mut self.suspect, self.words, oi, ti, new_s);
        let d = |a: bool, b: bool| i64::from(b) - i64::from(a);
        let da = d(old_a, new_a);
        let ds = d(old_s, new_s);
        let dl = d(old_a || old_s, new_a || new_s);
        let add = |x: &mut u32, delta: i64| *x = (i64::from(*x) + delta) as u32;
        add(&mut self.n_alive[oi], da);
        add(&mut self.n_suspect[oi], ds);
        if self.up[ti] {
            add(&mut self.n_alive_up[oi], da);
        }
        add(&mut self.col_alive_up[ti], da);
        add(&mut self.col_live_up[ti], dl);
        if self.is_watched[ti] {
            self.watch_update(now, t);
        }
        let is_good = self.good(oi);
        if was_good != is_good {
            if is_good {
                self.n_good += 1;
            } else {
                self.n_good -= 1;
            }
            self.update_converged(now);
        }
        self.note_size(oi);
        if dl < 0 && self.col_live_up[ti] == 0 {
            self.detected_by_all(now, t);
        }
        if da > 0 {
            self.check_join(now, t);
        }
        old
    }

    fn row_targets(&self, o: usize) -> Vec<usize> {
        let mut v = Vec::new();
        for w in 0..self.words {
            let mut bits = self.alive[o * self.words + w] | self.suspect[o * self.words + w];
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                v.push(w * 64 + b);
            }
        }
        v
    }

    /// `o` starts a new life (a fresh core), holding `known` alive besides itself. `kind`
    /// names the start for dissemination tracking (`"join"` or `"restart"`); `None` for a
    /// warm start, which is not tracked.
    pub fn start(&mut self, now: Instant, o: u32, known: &[u32], kind: Option<&'static str>) {
        let oi = o as usize;
        if self.up[oi] {
            self.stop(now, o, false);
        }
        // The row is empty (cleared at stop); fill it before the member counts as up.
        for w in 0..self.words {
            self.alive[oi * self.words + w] = 0;
            self.suspect[oi * self.words + w] = 0;
        }
        self.n_alive[oi] = 0;
        self.n_suspect[oi] = 0;
        self.n_alive_up[oi] = 0;
        self.up[oi] = true;
        self.n_up += 1;
        self.life_started[oi] = now;
        self.restarted[oi] = kind == Some("restart");
        if let Some(r) = self.crash_track[oi].take() {
            let d = &mut self.detections[r];
            if d.all_failed.is_none() {
                d.censored = true;
            }
        }
        // As a target: observers holding it alive now hold an up member alive.
        for p in 0..self.n {
            if p != oi && self.up[p] && bit(&self.alive, self.words, p, oi) {
                self.n_alive_up[p] += 1;
            }
        }
        for &t in known.iter().chain(std::iter::once(&o)) {
            let ti = t as usize;
            if bit(&self.alive, self.words, oi, ti) {
                continue;
            }
            set_bit(&mut self.alive, self.words, oi, ti, true);
            self.n_alive[oi] += 1;
            if self.up[ti] {
                self.n_alive_up[oi] += 1;
            }
            self.col_alive_up[ti] += 1;
            self.col_live_up[ti] += 1;
        }
        self.note_size(oi);
        if let Some(kind) = kind {
            let record = self.spreads.len();
            self.spreads.push(Spread {
                node: o,
                kind,
                started_at: secs(now - Instant::ZERO),
                first: None,
                all: None,
                censored: false,
            });
            self.join_track[oi] = Some(record);
            self.active_joins.push(o);
        }
        self.recount_good(now);
        self.check_joins(now);
    }

    /// `o` stops being up: it crashed (`crash`, a real failure whose detection is measured),
    /// or it announced a leave, or it is being restarted.
    pub fn stop(&mut self, now: Instant, o: u32, crash: bool) {
        let oi = o as usize;
        if !self.up[oi] {
            return;
        }
        // Its core, and the members it held down, are gone.
        let rows: Vec<(u32, u32)> = self.held.keys().filter(|k| k.0 == o).copied().collect();
        for k in rows {
            self.held.remove(&k);
            if self.is_watched[k.1 as usize] && !self.is_watched[oi] {
                let w = self.watch_index(k.1);
                self.watched[w].held_by = self.watched[w].held_by.saturating_sub(1);
            }
        }
        // As an observer: its view no longer counts.
        for t in self.row_targets(oi) {
            if bit(&self.alive, self.words, oi, t) {
                self.col_alive_up[t] -= 1;
            }
            self.col_live_up[t] -= 1;
        }
        for w in 0..self.words {
            self.alive[oi * self.words + w] = 0;
            self.suspect[oi * self.words + w] = 0;
        }
        self.n_alive[oi] = 0;
        self.n_suspect[oi] = 0;
        self.n_alive_up[oi] = 0;
        self.up[oi] = false;
        self.n_up -= 1;
        // As a target.
        for p in 0..self.n {
            if self.up[p] && bit(&self.alive, self.words, p, oi) {
                self.n_alive_up[p] -= 1;
            }
        }
        if let Some(r) = self.join_track[oi].take() {
            let s = &mut self.spreads[r];
            if s.all.is_none() {
                s.censored = true;
            }
            self.active_joins.retain(|&j| j != o);
        }
        for u in self.updates.iter().filter(|u| u.node == o) {
            let s = &mut self.spreads[u.record];
            if s.all.is_none() {
                s.censored = true;
            }
        }
        self.updates.retain(|u| u.node != o);
        if crash {
            let record = self.detections.len();
            self.detections.push(Detection {
                node: o,
                crashed_at: secs(now - Instant::ZERO),
                known_by: self.col_live_up[oi],
                first_suspect: None,
                first_failed: None,
                all_failed: None,
                censored: false,
            });
            self.crash_track[oi] = Some(record);
            if self.col_live_up[oi] == 0 {
                self.detected_by_all(now, o);
            }
        }
        // Crashed observers may have been the last to hold someone alive.
        for t in 0..self.n {
            if self.crash_track[t].is_some() && self.col_live_up[t] == 0 {
                self.detected_by_all(now, t as u32);
            }
        }
        self.recount_good(now);
        self.check_joins(now);
    }

    /// `o`, just started, is not part of the cluster (it shares no version with the run's
    /// configuration, so every member must refuse it): it does not count as up, its own view
    /// is not tracked, and a member holding it alive keeps the cluster from converging.
    pub fn exclude(&mut self, now: Instant, o: u32) {
        self.stop(now, o, false);
    }

    fn detected_by_all(&mut self, now: Instant, t: u32) {
        if let Some(r) = self.crash_track[t as usize].take() {
            let d = &mut self.detections[r];
            d.all_failed = Some(now.as_nanos() as f64 / 1e9 - d.crashed_at);
            if d.first_failed.is_none() && d.known_by > 0 {
                // Everyone forgot it without an event (e.g. the last holder crashed).
                d.first_failed = d.all_failed;
            }
        }
    }

    fn check_join(&mut self, now: Instant, t: u32) {
        let Some(r) = self.join_track[t as usize] else { return };
        let seen = self.col_alive_up[t as usize];
        let s = &mut self.spreads[r];
        let since = now.as_nanos() as f64 / 1e9 - s.started_at;
        if s.first.is_none() && seen >= 2 {
            s.first = Some(since);
        }
        if seen as usize >= self.n_up {
            s.all = Some(since);
            if s.first.is_none() {
                s.first = Some(since);
            }
            self.join_track[t as usize] = None;
            self.active_joins.retain(|&j| j != t);
        }
    }

    fn check_joins(&mut self, now: Instant) {
        let active = std::mem::take(&mut self.active_joins);
        self.active_joins = active.clone();
        for t in active {
            self.check_join(now, t);
        }
    }

    /// Mark `o` CPU-starved or not.
    pub fn set_slow(&mut self, o: u32, slow: bool) {
        self.slow[o as usize] = slow;
    }

    /// `o` announced new metadata at `incarnation`.
    pub fn update_started(&mut self, now: Instant, o: u32, incarnation: u32) {
        let record = self.spreads.len();
        self.spreads.push(Spread {
            node: o,
            kind: "update",
            started_at: secs(now - Instant::ZERO),
            first: None,
            all: None,
            censored: false,
        });
        let mut seen = vec![0u64; self.words];
        seen[o as usize / 64] |= 1 << (o % 64);
        self.updates.push(UpdateTrack { record, node: o, incarnation, seen, seen_count: 1 });
    }

    /// `o` saw `t` alive at `incarnation` (for update tracking).
    pub fn saw_incarnation(&mut self, now: Instant, o: u32, t: u32, incarnation: u32) {
        if self.updates.is_empty() || !self.up[o as usize] {
            return;
        }
        let n_up = self.n_up;
        let mut done = Vec::new();
        for (k, u) in self.updates.iter_mut().enumerate() {
            if u.node != t || incarnation < u.incarnation {
                continue;
            }
            let (w, b) = (o as usize / 64, o % 64);
            if u.seen[w] >> b & 1 == 1 {
                continue;
            }
            u.seen[w] |= 1 << b;
            u.seen_count += 1;
            let s = &mut self.spreads[u.record];
            let since = now.as_nanos() as f64 / 1e9 - s.started_at;
            if s.first.is_none() {
                s.first = Some(since);
            }
            if u.seen_count >= n_up {
                let all = (0..self.n).all(|p| !self.up[p] || u.seen[p / 64] >> (p % 64) & 1 == 1);
                if all {
                    s.all = Some(since);
                    done.push(k);
                }
            }
        }
        for k in done.into_iter().rev() {
            self.updates.remove(k);
        }
    }

    /// Observer `o` emitted `MemberSuspected` about `t`.
    pub fn suspected(&mut self, now: Instant, o: u32, t: u32) {
        if !self.up[o as usize] {
            return;
        }
        if self.up[t as usize] {
            self.fp.false_suspicions += 1;
        } else if let Some(r) = self.crash_track[t as usize] {
            let d = &mut self.detections[r];
            if d.first_suspect.is_none() {
                d.first_suspect = Some(now.as_nanos() as f64 / 1e9 - d.crashed_at);
            }
        }
        self.set(now, o, t, View::Suspect);
    }

    /// Observer `o` emitted `MemberFailed` about `t`; `declared`: its own timer ran out;
    /// `impaired`: a network fault cuts `t` off.
    pub fn failed(&mut self, now: Instant, o: u32, t: u32, declared: bool, impaired: bool) {
        let (oi, ti) = (o as usize, t as usize);
        if !self.up[oi] {
            return;
        }
        if self.up[ti] {
            if self.recently_restarted(now, ti) {
                self.fp.stale += 1;
            } else {
                let slow_obs = self.slow[oi];
                let fp = &mut self.fp;
                fp.events += 1;
                if slow_obs {
                    fp.at_slow += 1;
                } else {
                    fp.at_healthy += 1;
                }
                if declared {
                    fp.declared += 1;
                    if slow_obs {
                        fp.declared_by_slow += 1;
                    } else {
                        fp.declared_by_healthy += 1;
                    }
                }
                if self.slow[ti] {
                    fp.slow_victims += 1;
                    if slow_obs {
                        fp.slow_at_slow += 1;
                    } else {
                        fp.slow_at_healthy += 1;
                    }
                } else if impaired {
                    fp.impaired_victims += 1;
                } else {
                    fp.healthy_victims += 1;
                    if slow_obs {
                        fp.healthy_at_slow += 1;
                    } else {
                        fp.healthy_at_healthy += 1;
                        if !self.is_watched[oi] {
                            fp.healthy_at_unimpaired += 1;
                        }
                    }
                }
                let set = if slow_obs { &mut self.fp_pairs_slow } else { &mut self.fp_pairs_healthy };
                if set.insert((o, t)) {
                    if slow_obs {
                        fp.pairs_slow += 1;
                    } else {
                        fp.pairs_healthy += 1;
                    }
                    if !(if slow_obs { &self.fp_pairs_healthy } else { &self.fp_pairs_slow }).contains(&(o, t)) {
                        fp.pairs += 1;
                    }
                }
                if self.fp_victims.insert(t) {
                    fp.victims += 1;
                }
                self.fp_times.push((now, slow_obs));
            }
        } else if let Some(r) = self.crash_track[ti] {
            let d = &mut self.detections[r];
            if d.first_failed.is_none() {
                d.first_failed = Some(now.as_nanos() as f64 / 1e9 - d.crashed_at);
            }
        }
        self.set(now, o, t, View::Gone);
    }

    /// Observer `o` emitted `MemberAlive` (refuted, or back from dead) about `t`.
    pub fn came_alive(&mut self, now: Instant, o: u32, t: u32) {
        if !self.up[o as usize] {
            return;
        }
        let before = self.set(now, o, t, View::Alive);
        match before {
            View::Suspect => self.refutations_seen[t as usize] += 1,
            View::Gone => {
                if self.up[t as usize]
                    && now.saturating_duration_since(self.life_started[t as usize]) >= self.stale_window
                {
                    self.flaps[t as usize] += 1;
                    if self.is_watched[t as usize] && !self.is_watched[o as usize] {
                        let f = self.pair_flaps.entry((o, t)).or_insert(0);
                        *f += 1;
                        let f = *f;
                        let k = self.watch_index(t);
                        let w = &mut self.watched[k];
                        w.max_flaps_per_observer = w.max_flaps_per_observer.max(f);
                    }
                }
            }
            View::Alive => {}
        }
    }

    fn recently_restarted(&self, now: Instant, t: usize) -> bool {
        self.restarted[t] && now.saturating_duration_since(self.life_started[t]) < self.stale_window
    }

    /// A periodic sample.
    pub fn sample(&self, now: Instant) -> Sample {
        let mut min = usize::MAX;
        let mut max = 0;
        let mut sum = 0usize;
        let mut suspects = 0usize;
        for o in 0..self.n {
            if !self.up[o] {
                continue;
            }
            let s = (self.n_alive[o] + self.n_suspect[o]) as usize;
            min = min.min(s);
            max = max.max(s);
            sum += s;
            suspects += self.n_suspect[o] as usize;
        }
        Sample {
            t: now.as_nanos() as f64 / 1e9,
            up: self.n_up,
            view_min: if self.n_up == 0 { 0 } else { min },
            view_mean: if self.n_up == 0 { 0.0 } else { sum as f64 / self.n_up as f64 },
            view_max: max,
            correct: self.n_good,
            suspects,
            false_positives: self.fp.events,
            converged: self.converged,
        }
    }

    /// First time at or after `from` when the cluster was converged.
    pub fn converged_after(&self, from: Instant) -> Option<Instant> {
        let mut state_at_from = false;
        for &(t, c) in &self.convergence {
            if t <= from {
                state_at_from = c;
            } else if state_at_from {
                return Some(from);
            } else if c {
                return Some(t);
            }
        }
        state_at_from.then_some(from)
    }

    /// Approximate heap bytes of the matrices and counters.
    pub fn heap_bytes(&self) -> usize {
        (self.alive.len() + self.suspect.len()) * 8 + self.n * 40
    }
}

impl Truth {
    /// Apply member event `e` of observer `o` about member `t`: the one mapping from what a
    /// core reports to the views and measures above. `failure` is asked only for a
    /// `MemberFailed`: whether `o`'s own suspicion timer ran out (rather than it believing
    /// someone else), and whether a network fault cuts `t` off.
    pub fn record_event(
        &mut self,
        now: Instant,
        o: u32,
        t: u32,
        e: &Event<u32>,
        failure: impl FnOnce() -> (bool, bool),
    ) {
        // Flap damping: a held-down member counts as gone at its observer; the protocol's
        // events about it only change what it will count as once readmitted.
        match e {
            Event::MemberHeldDown(_) => {
                if self.up[o as usize] && !self.held.contains_key(&(o, t)) {
                    let protocol = self.view(o, t);
                    self.held.insert((o, t), protocol);
                    self.set(now, o, t, View::Gone);
                    self.held_change(now, o, t, true);
                }
                return;
            }
            Event::MemberReadmitted(_) => {
                if let Some(protocol) = self.held.remove(&(o, t)) {
                    self.held_change(now, o, t, false);
                    match protocol {
                        View::Alive => self.came_alive(now, o, t),
                        View::Suspect => {
                            self.set(now, o, t, View::Suspect);
                        }
                        View::Gone => {}
                    }
                }
                return;
            }
            _ => {}
        }
        if let Some(protocol) = self.held.get_mut(&(o, t)) {
            *protocol = match e {
                Event::MemberJoined(_) | Event::MemberUpdated(_) | Event::MemberAlive(_) => View::Alive,
                Event::MemberSuspected { .. } => View::Suspect,
                Event::MemberFailed(_) | Event::MemberLeft(_) => View::Gone,
                _ => *protocol,
            };
            if let Event::MemberRemoved(_) = e {
                // The core forgot it, and its penalty with it: no readmission will come.
                self.held.remove(&(o, t));
                self.held_change(now, o, t, false);
            }
            return;
        }
        match e {
            Event::MemberJoined(m) | Event::MemberUpdated(m) => {
                self.set(now, o, t, View::Alive);
                self.saw_incarnation(now, o, t, m.incarnation);
            }
            Event::MemberAlive(m) => {
                self.came_alive(now, o, t);
                self.saw_incarnation(now, o, t, m.incarnation);
            }
            Event::MemberSuspected { .. } => self.suspected(now, o, t),
            Event::MemberFailed(_) => {
                let (declared, impaired) = failure();
                self.failed(now, o, t, declared, impaired);
            }
            Event::MemberLeft(_) | Event::MemberRemoved(_) => {
                self.set(now, o, t, View::Gone);
            }
            _ => {}
        }
    }

    /// Observer `o` fell behind its event queue and reported a lag notice with the member
    /// table `members`: its views become the snapshot's (members absent from it are gone).
    /// The changes it lost are not measured (no false positive or detection is counted).
    pub fn resync(&mut self, now: Instant, o: u32, members: &[swim_core::Member<u32>]) {
        let mut views = vec![View::Gone; self.n];
        for m in members {
            if let Some(t) = node_index(&m.name).filter(|&t| (t as usize) < self.n) {
                views[t as usize] = match m.state {
                    swim_core::State::Alive => View::Alive,
                    swim_core::State::Suspect => View::Suspect,
                    swim_core::State::Dead | swim_core::State::Left => View::Gone,
                };
            }
        }
        for (t, view) in views.into_iter().enumerate() {
            if t != o as usize {
                // A member held down stays down; the snapshot is its protocol state.
                let view = match self.held.get_mut(&(o, t as u32)) {
                    Some(protocol) => {
                        *protocol = view;
                        View::Gone
                    }
                    None => view,
                };
                self.set(now, o, t as u32, view);
            }
        }
    }
}

/// The member index of a simulated member's name (`node-<i>`).
#[inline]
pub fn node_index(name: &str) -> Option<u32> {
    name.strip_prefix("node-")?.parse().ok()
}

/// The name of simulated member `i`.
pub fn node_name(i: u32) -> String {
    format!("node-{i}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: fn(u64) -> Instant = Instant::from_secs;

    #[test]
    fn convergence_tracks_views_and_truth() {
        let mut t = Truth::new(3, Duration::from_secs(10));
        t.start(T(0), 0, &[], Some("join"));
        assert!(t.converged(), "one member alone is converged");
        t.start(T(0), 1, &[0], Some("join"));
        assert!(!t.converged(), "0 does not know 1 yet");
        t.set(T(1), 0, 1, View::Alive);
        assert!(t.converged());
        assert_eq!(t.spreads[1].all, Some(1.0), "node 1's join reached everyone after 1 s");
        t.suspected(T(2), 0, 1);
        assert!(!t.converged());
        assert_eq!(t.fp.false_suspicions, 1);
        t.came_alive(T(3), 0, 1);
        assert!(t.converged());
        assert_eq!(t.refutations_seen[1], 1);
    }

    #[test]
    fn crash_detection_and_false_positives() {
        let mut t = Truth::new(3, Duration::from_secs(10));
        for i in 0..3 {
            t.start(T(0), i, &[0, 1, 2], None);
        }
        assert!(t.converged());
        t.stop(T(100), 2, true);
        assert!(!t.converged());
        t.suspected(T(101), 0, 2);
        t.failed(T(105), 0, 2, true, false);
        assert_eq!(t.detections[0].first_failed, Some(5.0));
        assert_eq!(t.detections[0].all_failed, None);
        t.failed(T(106), 1, 2, false, false);
        assert_eq!(t.detections[0].all_failed, Some(6.0));
        assert_eq!(t.detections[0].first_suspect, Some(1.0));
        assert!(t.converged());
        // A live member declared dead by a slow observer.
        t.set_slow(0, true);
        t.failed(T(120), 0, 1, true, false);
        assert_eq!((t.fp.events, t.fp.at_slow, t.fp.declared_by_slow, t.fp.pairs), (1, 1, 1, 1));
        t.came_alive(T(125), 0, 1);
        assert_eq!(t.flaps[1], 1);
        // A restarted member's stale death notice is not a false positive.
        t.start(T(130), 2, &[0, 1], Some("restart"));
        t.failed(T(131), 1, 2, false, false);
        assert_eq!((t.fp.events, t.fp.stale), (1, 1));
    }

    #[test]
    fn converged_after_reads_the_state_at_the_start() {
        let mut t = Truth::new(2, Duration::from_secs(10));
        t.convergence = vec![(T(0), true), (T(40), false), (T(58), true), (T(70), false)];
        assert_eq!(t.converged_after(T(0)), Some(T(0)));
        assert_eq!(t.converged_after(T(10)), Some(T(10)));
        assert_eq!(t.converged_after(T(45)), Some(T(58)));
        assert_eq!(t.converged_after(T(80)), None);
        assert_eq!(t.converged_after(T(60)), Some(T(60)));
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(node_index(&node_name(1234)), Some(1234));
        assert_eq!(node_index("other"), None);
    }
}
