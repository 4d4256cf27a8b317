//! The figures of one run, computed from a finished [`Simulation`], and their aggregation
//! over repetitions.
//!
//! | figure | definition |
//! |---|---|
//! | false positives | see [`crate::truth`]: events, distinct pairs, by healthy and slow observers |
//! | detection latency | from a real crash to the first suspicion, the first `MemberFailed`, and the moment no running member holds it alive or suspect |
//! | dissemination | from a member's start (or metadata update) to the first other member and to every running member holding it |
//! | convergence | first instant (after the start, and after the faults healed) when every running member holds exactly the running members alive |
//! | distinct view sizes | how many different view sizes (alive + suspect) running members held |
//! | flaps | a member coming back alive at an observer that held it dead, without restarting |
//! | load | per member, messages and bytes sent and received per second of its up time after the warm-up |
//! | memory | swim-core's estimate of each member table (`Swim::memory_usage`) |

use std::time::Duration;

use serde::Serialize;

use crate::network::NetStats;
use crate::sim::{SimStats, Simulation, VersionStats};
use crate::truth::{Detection, FalsePositives, Sample, Spread};

/// min / p50 / p99 / max / mean of a sample.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Sample size.
    pub count: usize,
    /// Smallest.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Summary {
    /// Summarise `values` (`None` when empty).
    pub fn of(values: &[f64]) -> Option<Summary> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Some(Summary {
            count: v.len(),
            min: v[0],
            p50: rank(0.5),
            p99: rank(0.99),
            max: v[v.len() - 1],
            mean: v.iter().sum::<f64>() / v.len() as f64,
        })
    }
}

/// Detection of real crashes.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DetectionReport {
    /// Real crashes.
    pub crashes: usize,
    /// Crashes every running member detected.
    pub detected_by_all: usize,
    /// Crashes some running member never detected by the end of the run.
    pub undetected: usize,
    /// Crashes whose member restarted first.
    pub censored: usize,
    /// Crash to first suspicion (seconds).
    pub first_suspect: Option<Summary>,
    /// Crash to first suspicion, in (unscaled) probe intervals.
    pub first_suspect_periods: Option<Summary>,
    /// Crash to the first `MemberFailed` (seconds).
    pub first_failed: Option<Summary>,
    /// Crash to every running member (seconds).
    pub all_failed: Option<Summary>,
}

/// Dissemination of joins, restarts and updates (seconds).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SpreadReport {
    /// Joins that reached everyone / all joins.
    pub joins: (usize, usize),
    /// Join to the first other member.
    pub join_first: Option<Summary>,
    /// Join to every running member.
    pub join_all: Option<Summary>,
    /// Restart to every running member.
    pub restart_all: Option<Summary>,
    /// Metadata updates that reached everyone / all updates.
    pub updates: (usize, usize),
    /// Update to every running member.
    pub update_all: Option<Summary>,
}

/// Convergence.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ConvergenceReport {
    /// Converged when the run ended.
    pub at_end: bool,
    /// First converged instant (seconds) once every initial member has started.
    pub first: Option<f64>,
    /// The same, counted from the last initial start (the end of the join window).
    pub first_after_start: Option<f64>,
    /// When the last transient fault ended (seconds), if it did.
    pub healed_at: Option<f64>,
    /// From `healed_at` to the next converged instant (seconds).
    pub after_heal: Option<f64>,
    /// Times the cluster went from converged to not.
    pub breaks: usize,
}

/// Flapping.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FlapReport {
    /// All flaps.
    pub total: u64,
    /// Members that flapped at least once.
    pub members: usize,
    /// Most flaps of one member.
    pub max_per_member: u32,
    /// Refutations observed (suspect back to alive, summed over observers).
    pub refutations_seen: u64,
}

/// Flap damping's figures (issue 17) about the members network faults target (blackhole,
/// flip-flop, per-member loss), as healthy observers (up, not targeted) see them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DampingReport {
    /// Members targeted.
    pub watched: usize,
    /// Most dead-to-alive transitions of one targeted member at one healthy observer.
    pub max_flaps_per_observer: u32,
    /// Time healthy observers disagreed about a targeted member (some holding it live, some
    /// not), summed over the targeted members (seconds).
    pub disagreement: f64,
    /// Time some healthy observers held a targeted member down and others did not, summed over
    /// the targeted members (seconds): disagreement about flap damping's decision.
    pub held_disagreement: f64,
    /// The run's length (seconds), for the share.
    pub run: f64,
    /// Longest time from a member's first fault to every healthy observer holding it down
    /// (seconds), over those that were.
    pub all_held_after: Option<f64>,
    /// Targeted members never held down by every healthy observer while their fault lasted.
    pub never_all_held: usize,
    /// Readmissions at healthy observers while the fault still lasted, after every healthy
    /// observer had held the member down.
    pub readmitted_during_fault: u32,
    /// Longest time from the end of a member's last fault to every healthy observer holding it
    /// live again (seconds).
    pub back_after_fault: Option<f64>,
    /// Members whose fault ended that not every healthy observer holds live at the end.
    pub not_back: usize,
}

impl DampingReport {
    fn of(watched: &[crate::truth::Watched], run: f64) -> DampingReport {
        let ended: Vec<_> = watched.iter().filter(|w| w.fault_ended.is_some_and(|e| e < run)).collect();
        let back: Vec<f64> = ended
            .iter()
            .filter(|w| w.all_live)
            .filter_map(|w| Some(w.all_live_at? - w.fault_ended?).map(|d| d.max(0.0)))
            .collect();
        DampingReport {
            watched: watched.len(),
            max_flaps_per_observer: watched.iter().map(|w| w.max_flaps_per_observer).max().unwrap_or(0),
            disagreement: watched.iter().map(|w| w.disagreement).sum(),
            held_disagreement: watched.iter().map(|w| w.held_disagreement).sum(),
            run,
            all_held_after: watched.iter().filter_map(|w| w.all_held_after).reduce(f64::max),
            never_all_held: watched.iter().filter(|w| w.all_held_after.is_none()).count(),
            readmitted_during_fault: watched.iter().map(|w| w.readmitted_during_fault).sum(),
            back_after_fault: back.iter().copied().reduce(f64::max),
            not_back: ended.iter().filter(|w| !w.all_live).count(),
        }
    }
}

/// Load per member per second of up time.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LoadReport {
    /// Messages sent.
    pub msgs_out: Option<Summary>,
    /// Messages received.
    pub msgs_in: Option<Summary>,
    /// Bytes sent.
    pub bytes_out: Option<Summary>,
    /// Bytes received.
    pub bytes_in: Option<Summary>,
    /// Messages sent per member per (unscaled) probe interval, mean.
    pub msgs_out_per_period: f64,
}

/// Memory.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MemoryReport {
    /// Member-table bytes per running member at the end (swim-core's estimate).
    pub member_table: Option<Summary>,
    /// Member-table bytes per entry held, mean.
    pub bytes_per_entry: f64,
    /// Largest member table seen at a sample.
    pub peak_member_table: usize,
    /// All cores' estimated heap bytes at the end.
    pub cores_total: usize,
    /// The simulator's own structures.
    pub simulator: usize,
}

/// Simulator performance.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SpeedReport {
    /// Wall-clock seconds of the run.
    pub wall_secs: f64,
    /// CPU seconds of the run's thread (Linux; 0 elsewhere): unlike wall time, not inflated
    /// when other work shares the machine.
    pub cpu_secs: f64,
    /// Messages delivered per CPU second.
    pub msgs_per_cpu_sec: f64,
    /// Messages delivered per wall second.
    pub msgs_per_wall_sec: f64,
    /// Queue events per wall second.
    pub events_per_wall_sec: f64,
    /// Virtual seconds per wall second.
    pub speedup: f64,
}

/// Everything measured in one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunReport {
    /// Scenario name.
    pub scenario: String,
    /// Variant name (`""` without axes).
    pub variant: String,
    /// Repetition index.
    pub repetition: u32,
    /// Master seed.
    pub seed: u64,
    /// Cluster size.
    pub nodes: usize,
    /// Virtual seconds run.
    pub duration: f64,
    /// Trace digest (hex).
    pub digest: String,
    /// The command that replays this run.
    pub replay: String,
    /// Safety or liveness violation, if the run failed.
    pub violation: Option<String>,
    /// False positives.
    pub false_positives: FalsePositives,
    /// Detection of real crashes.
    pub detection: DetectionReport,
    /// Dissemination.
    pub spread: SpreadReport,
    /// Convergence.
    pub convergence: ConvergenceReport,
    /// Distinct view sizes held.
    pub distinct_view_sizes: usize,
    /// Flapping.
    pub flaps: FlapReport,
    /// Flap damping's figures about the members network faults target.
    pub damping: DampingReport,
    /// Load.
    pub load: LoadReport,
    /// Memory.
    pub memory: MemoryReport,
    /// Network counters.
    pub network: NetStats,
    /// Simulator counters.
    pub sim: SimStats,
    /// What version negotiation did: packets per envelope version per phase, refusals.
    pub versions: VersionStats,
    /// The names of the run's phases (`metrics.phases`), for `versions.packets`.
    pub phases: Vec<String>,
    /// Simulator speed.
    pub speed: SpeedReport,
    /// Every crash.
    pub detections: Vec<Detection>,
    /// Every join, restart and update.
    pub spreads: Vec<Spread>,
    /// Coordinate error measurements (`metrics.coordinate_interval`), in time order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub coordinates: Vec<crate::coordinates::CoordinateErrors>,
    /// Periodic samples (CSV only).
    #[serde(skip)]
    pub samples: Vec<Sample>,
    /// False-positive times in seconds and whether the observer was slow (plots only).
    #[serde(skip)]
    pub fp_times: Vec<(f64, bool)>,
}

fn opt_vec(v: impl Iterator<Item = Option<f64>>) -> Vec<f64> {
    v.flatten().collect()
}

/// CPU time used by the calling thread so far (Linux `/proc/thread-self/stat`; zero where
/// unavailable).
pub fn thread_cpu_time() -> Duration {
    let Ok(s) = std::fs::read_to_string("/proc/thread-self/stat") else { return Duration::ZERO };
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let Some(rest) = s.rsplit_once(')').map(|(_, r)| r) else { return Duration::ZERO };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the ')'.
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    // Clock ticks are 100 per second on every Linux the toolchain supports.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Detection figures of a list of crashes; `period` converts to probe intervals.
pub fn detection_report(d: &[Detection], period: Duration) -> DetectionReport {
    let fs = opt_vec(d.iter().map(|x| x.first_suspect));
    let periods: Vec<f64> = fs.iter().map(|s| s / period.as_secs_f64()).collect();
    DetectionReport {
        crashes: d.len(),
        detected_by_all: d.iter().filter(|x| x.all_failed.is_some()).count(),
        undetected: d.iter().filter(|x| x.all_failed.is_none() && !x.censored).count(),
        censored: d.iter().filter(|x| x.censored).count(),
        first_suspect: Summary::of(&fs),
        first_suspect_periods: Summary::of(&periods),
        first_failed: Summary::of(&opt_vec(d.iter().map(|x| x.first_failed))),
        all_failed: Summary::of(&opt_vec(d.iter().map(|x| x.all_failed))),
    }
}

/// Dissemination figures of a list of spreads.
pub fn spread_report(s: &[Spread]) -> SpreadReport {
    let of = |kind: &'static str| s.iter().filter(move |x| x.kind == kind);
    SpreadReport {
        joins: (of("join").filter(|x| x.all.is_some()).count(), of("join").count()),
        join_first: Summary::of(&opt_vec(of("join").map(|x| x.first))),
        join_all: Summary::of(&opt_vec(of("join").map(|x| x.all))),
        restart_all: Summary::of(&opt_vec(of("restart").map(|x| x.all))),
        updates: (of("update").filter(|x| x.all.is_some()).count(), of("update").count()),
        update_all: Summary::of(&opt_vec(of("update").map(|x| x.all))),
    }
}

impl RunReport {
    /// The figures of a finished run. `wall` is the wall time it took, `cpu` its thread's CPU
    /// time.
    pub fn from_sim(sim: &Simulation, wall: Duration, cpu: Duration) -> RunReport {
        let t = sim.truth();
        let cfg = sim.config();
        let secs = |i: swim_core::Instant| i.as_nanos() as f64 / 1e9;
        let healed_at = sim.schedule().healed_at;
        let convergence = ConvergenceReport {
            at_end: t.converged(),
            first: t.converged_after(sim.started_by()).map(secs),
            first_after_start: t.converged_after(sim.started_by()).map(|c| secs(c) - secs(sim.started_by())),
            healed_at: healed_at.map(secs),
            after_heal: healed_at.and_then(|h| t.converged_after(h).map(|c| secs(c) - secs(h))),
            breaks: t.convergence.iter().filter(|(_, c)| !*c).count(),
        };
        let flaps = FlapReport {
            total: t.flaps.iter().map(|&f| u64::from(f)).sum(),
            members: t.flaps.iter().filter(|&&f| f > 0).count(),
            max_per_member: t.flaps.iter().copied().max().unwrap_or(0),
            refutations_seen: t.refutations_seen.iter().map(|&f| u64::from(f)).sum(),
        };
        let (mut mo, mut mi, mut bo, mut bi) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut tables, mut entries, mut cores_total, mut peak) = (Vec::new(), 0usize, 0usize, 0usize);
        let mut table_bytes = 0usize;
        for i in 0..sim.len() as u32 {
            let (tr, up) = sim.traffic(i);
            let up = up.as_secs_f64();
            if up >= 1.0 {
                mo.push(tr.msgs_out as f64 / up);
                mi.push(tr.msgs_in as f64 / up);
                bo.push(tr.bytes_out as f64 / up);
                bi.push(tr.bytes_in as f64 / up);
            }
            peak = peak.max(sim.peak_table_bytes(i));
            if let Some(s) = sim.node(i) {
                let m = s.memory_usage();
                tables.push(m.member_table as f64);
                table_bytes += m.member_table;
                entries += s.table_len();
                cores_total += m.total();
            }
        }
        let period = cfg.config.probe_interval.as_secs_f64();
        let load = LoadReport {
            msgs_out_per_period: if mo.is_empty() { 0.0 } else { mo.iter().sum::<f64>() / mo.len() as f64 * period },
            msgs_out: Summary::of(&mo),
            msgs_in: Summary::of(&mi),
            bytes_out: Summary::of(&bo),
            bytes_in: Summary::of(&bi),
        };
        let memory = MemoryReport {
            member_table: Summary::of(&tables),
            bytes_per_entry: if entries == 0 { 0.0 } else { table_bytes as f64 / entries as f64 },
            peak_member_table: peak.max(tables.iter().fold(0.0f64, |a, &b| a.max(b)) as usize),
            cores_total,
            simulator: sim.sim_heap_bytes(),
        };
        let stats = sim.stats().clone();
        let w = wall.as_secs_f64().max(1e-9);
        RunReport {
            nodes: sim.len(),
            seed: sim.seed(),
            duration: secs(sim.now()),
            digest: format!("{:016x}", sim.digest()),
            false_positives: t.fp.clone(),
            detection: detection_report(&t.detections, cfg.config.probe_interval),
            spread: spread_report(&t.spreads),
            convergence,
            distinct_view_sizes: t.distinct_sizes,
            flaps,
            damping: {
                let mut watched = t.watched.clone();
                crate::truth::Watched::close(&mut watched, sim.now());
                DampingReport::of(&watched, secs(sim.now()))
            },
            load,
            memory,
            network: sim.network().stats.clone(),
            speed: SpeedReport {
                wall_secs: w,
                cpu_secs: cpu.as_secs_f64(),
                msgs_per_cpu_sec: if cpu < Duration::from_millis(50) {
                    0.0
                } else {
                    stats.delivered as f64 / cpu.as_secs_f64()
                },
                msgs_per_wall_sec: stats.delivered as f64 / w,
                events_per_wall_sec: stats.steps as f64 / w,
                speedup: secs(sim.now()) / w,
            },
            sim: stats,
            versions: sim.version_stats().clone(),
            phases: cfg.phases.iter().map(|p| p.name.clone()).collect(),
            detections: t.detections.clone(),
            spreads: t.spreads.clone(),
            samples: sim.samples().to_vec(),
            fp_times: t.fp_times.iter().map(|(i, s)| (secs(*i), *s)).collect(),
            ..RunReport::default()
        }
    }
}

/// The runs of one variant, aggregated.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VariantSummary {
    /// Variant name.
    pub variant: String,
    /// Runs.
    pub runs: usize,
    /// Runs that failed an invariant.
    pub failed: usize,
    /// Cluster size (of the first run).
    pub nodes: usize,
    /// False positives, summed over runs.
    pub false_positives: FalsePositives,
    /// Detection over all runs' crashes.
    pub detection: DetectionReport,
    /// Dissemination over all runs.
    pub spread: SpreadReport,
    /// Convergence after heal (seconds), over runs that healed.
    pub converge_after_heal: Option<Summary>,
    /// First convergence (seconds), over runs.
    pub first_converged: Option<Summary>,
    /// Runs converged at the end.
    pub converged_at_end: usize,
    /// Distinct view sizes, largest over runs.
    pub distinct_view_sizes: usize,
    /// Flaps summed over runs.
    pub flaps: u64,
    /// Most flaps of one member in one run.
    pub max_flaps_per_member: u32,
    /// Flap damping's figures, the worst over runs (`disagreement`: the largest share of a
    /// run, as seconds of `run`).
    pub damping: DampingReport,
    /// Mean over runs of per-member mean messages sent per second.
    pub msgs_out_per_sec: f64,
    /// Mean over runs of the per-member p99 messages sent per second.
    pub msgs_out_per_sec_p99: f64,
    /// Largest per-member messages sent per second.
    pub msgs_out_per_sec_max: f64,
    /// Mean of per-member mean messages received per second.
    pub msgs_in_per_sec: f64,
    /// Mean of per-member mean bytes sent per second.
    pub bytes_out_per_sec: f64,
    /// Mean of per-member p99 bytes sent per second.
    pub bytes_out_per_sec_p99: f64,
    /// Largest per-member bytes sent per second.
    pub bytes_out_per_sec_max: f64,
    /// Mean of per-member mean bytes received per second.
    pub bytes_in_per_sec: f64,
    /// Mean of per-member p99 bytes received per second.
    pub bytes_in_per_sec_p99: f64,
    /// Largest per-member bytes received per second.
    pub bytes_in_per_sec_max: f64,
    /// Messages sent per member per probe interval (mean over runs).
    pub msgs_per_period: f64,
    /// Member-table bytes per member, mean over runs of the mean.
    pub member_table_bytes: f64,
    /// Largest member table.
    pub member_table_max: usize,
    /// Wall seconds, summed.
    pub wall_secs: f64,
    /// CPU seconds, summed.
    pub cpu_secs: f64,
    /// Messages delivered per wall second (total over runs).
    pub msgs_per_wall_sec: f64,
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { 0.0 } else { s / n as f64 }
}

/// The worst of each damping figure over runs.
fn worst_damping<'a>(runs: impl Iterator<Item = &'a DampingReport>) -> DampingReport {
    let maxo = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    runs.fold(DampingReport::default(), |w, r| {
        let share = |d: &DampingReport| if d.run > 0.0 { d.disagreement / d.run } else { 0.0 };
        let worse = share(r) > share(&w);
        DampingReport {
            watched: w.watched.max(r.watched),
            max_flaps_per_observer: w.max_flaps_per_observer.max(r.max_flaps_per_observer),
            disagreement: if worse { r.disagreement } else { w.disagreement },
            held_disagreement: w.held_disagreement.max(r.held_disagreement),
            run: if worse { r.run } else { w.run },
            all_held_after: maxo(w.all_held_after, r.all_held_after),
            never_all_held: w.never_all_held + r.never_all_held,
            readmitted_during_fault: w.readmitted_during_fault + r.readmitted_during_fault,
            back_after_fault: maxo(w.back_after_fault, r.back_after_fault),
            not_back: w.not_back + r.not_back,
        }
    })
}

fn add_fp(a: &mut FalsePositives, b: &FalsePositives) {
    a.events += b.events;
    a.at_healthy += b.at_healthy;
    a.at_slow += b.at_slow;
    a.declared += b.declared;
    a.declared_by_healthy += b.declared_by_healthy;
    a.declared_by_slow += b.declared_by_slow;
    a.healthy_victims += b.healthy_victims;
    a.slow_victims += b.slow_victims;
    a.impaired_victims += b.impaired_victims;
    a.healthy_at_healthy += b.healthy_at_healthy;
    a.healthy_at_unimpaired += b.healthy_at_unimpaired;
    a.healthy_at_slow += b.healthy_at_slow;
    a.slow_at_healthy += b.slow_at_healthy;
    a.slow_at_slow += b.slow_at_slow;
    a.pairs += b.pairs;
    a.pairs_healthy += b.pairs_healthy;
    a.pairs_slow += b.pairs_slow;
    a.victims += b.victims;
    a.stale += b.stale;
    a.false_suspicions += b.false_suspicions;
}

impl VariantSummary {
    /// Aggregate the runs of one variant (`period`: the probe interval).
    pub fn of(variant: &str, runs: &[&RunReport], period: Duration) -> VariantSummary {
        let mut fp = FalsePositives::default();
        for r in runs {
            add_fp(&mut fp, &r.false_positives);
        }
        let detections: Vec<Detection> = runs.iter().flat_map(|r| r.detections.iter().cloned()).collect();
        let spreads: Vec<Spread> = runs.iter().flat_map(|r| r.spreads.iter().cloned()).collect();
        let load = |f: &dyn Fn(&LoadReport) -> Option<f64>| mean(runs.iter().filter_map(|r| f(&r.load)));
        let maxf = |f: &dyn Fn(&LoadReport) -> Option<f64>| runs.iter().filter_map(|r| f(&r.load)).fold(0.0, f64::max);
        let wall: f64 = runs.iter().map(|r| r.speed.wall_secs).sum();
        VariantSummary {
            variant: variant.to_string(),
            runs: runs.len(),
            failed: runs.iter().filter(|r| r.violation.is_some()).count(),
            nodes: runs.first().map_or(0, |r| r.nodes),
            false_positives: fp,
            detection: detection_report(&detections, period),
            spread: spread_report(&spreads),
            converge_after_heal: Summary::of(&opt_vec(runs.iter().map(|r| r.convergence.after_heal))),
            first_converged: Summary::of(&opt_vec(runs.iter().map(|r| r.convergence.first))),
            converged_at_end: runs.iter().filter(|r| r.convergence.at_end).count(),
            distinct_view_sizes: runs.iter().map(|r| r.distinct_view_sizes).max().unwrap_or(0),
            flaps: runs.iter().map(|r| r.flaps.total).sum(),
            max_flaps_per_member: runs.iter().map(|r| r.flaps.max_per_member).max().unwrap_or(0),
            damping: worst_damping(runs.iter().map(|r| &r.damping)),
            msgs_out_per_sec: load(&|l| l.msgs_out.as_ref().map(|s| s.mean)),
            msgs_out_per_sec_p99: load(&|l| l.msgs_out.as_ref().map(|s| s.p99)),
            msgs_out_per_sec_max: maxf(&|l| l.msgs_out.as_ref().map(|s| s.max)),
            msgs_in_per_sec: load(&|l| l.msgs_in.as_ref().map(|s| s.mean)),
            bytes_out_per_sec: load(&|l| l.bytes_out.as_ref().map(|s| s.mean)),
            bytes_out_per_sec_p99: load(&|l| l.bytes_out.as_ref().map(|s| s.p99)),
            bytes_out_per_sec_max: maxf(&|l| l.bytes_out.as_ref().map(|s| s.max)),
            bytes_in_per_sec: load(&|l| l.bytes_in.as_ref().map(|s| s.mean)),
            bytes_in_per_sec_p99: load(&|l| l.bytes_in.as_ref().map(|s| s.p99)),
            bytes_in_per_sec_max: maxf(&|l| l.bytes_in.as_ref().map(|s| s.max)),
            msgs_per_period: mean(runs.iter().map(|r| r.load.msgs_out_per_period)),
            member_table_bytes: mean(runs.iter().filter_map(|r| r.memory.member_table.as_ref().map(|s| s.mean))),
            member_table_max: runs.iter().map(|r| r.memory.peak_member_table).max().unwrap_or(0),
            wall_secs: wall,
            cpu_secs: runs.iter().map(|r| r.speed.cpu_secs).sum(),
            msgs_per_wall_sec: runs.iter().map(|r| r.sim.delivered as f64).sum::<f64>() / wall.max(1e-9),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = Summary::of(&v).unwrap();
        assert_eq!((s.min, s.p50, s.p99, s.max), (1.0, 50.0, 99.0, 100.0));
        assert!((s.mean - 50.5).abs() < 1e-9);
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[3.0]).unwrap().p99, 3.0);
    }
}
