//! Running scenarios: one [`RunPlan`] per variant and repetition, run on worker threads (each
//! run on one thread, deterministic on its own), with the liveness check and a replay command.
//!
//! **Liveness**: when every transient fault has ended (the schedule's `healed_at`) and the
//! run lasts at least `healed_at + bound`, the cluster must have converged (every running
//! member holding exactly the running members alive, nobody suspect) at some instant in
//! `[healed_at, healed_at + bound]`. The default bound is
//! [`crate::scenario::convergence_bound`].

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use swim_core::Instant;

use crate::duration::format_duration;
use crate::faults::Action;
use crate::metrics::RunReport;
use crate::rng::{Stream, derive_seed};
use crate::scenario::Scenario;
use crate::sim::{SimConfig, Simulation};
use crate::truth::View;

/// One run to make.
#[derive(Clone, Debug)]
pub struct RunPlan {
    /// Scenario name.
    pub scenario: String,
    /// Variant name.
    pub variant: String,
    /// Repetition index.
    pub repetition: u32,
    /// The simulation.
    pub sim: SimConfig,
    /// The liveness bound, if checked.
    pub converge_within: Option<Duration>,
    /// Stop once the cluster has converged after the faults healed and [`SETTLE`] has passed
    /// since they healed (swarm testing).
    pub stop_when_converged: bool,
    /// The command that replays this run.
    pub replay: String,
}

/// How long a run with [`RunPlan::stop_when_converged`] goes on after the faults heal, at
/// least: suspicion timers started during a fault run out in this time.
pub const SETTLE: Duration = Duration::from_secs(60);

/// Quote `s` for a POSIX shell if needed.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Options that shape the plans of a scenario.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// How the scenario was named on the command line (built-in name or file path).
    pub source: String,
    /// `--set` arguments, as given (repeated in replay commands).
    pub sets: Vec<String>,
    /// First seed instead of the scenario's.
    pub seed: Option<u64>,
    /// Repetitions instead of the scenario's.
    pub repeat: Option<u32>,
    /// Only variants whose name equals this, or (if none does) contains it.
    pub variant: Option<String>,
}

/// The runs of `scenario`.
pub fn plan(scenario: &Scenario, opts: &PlanOptions) -> Result<Vec<RunPlan>, String> {
    let mut variants: Vec<_> = scenario.variants.iter().collect();
    if let Some(f) = &opts.variant {
        let exact: Vec<_> = variants.iter().copied().filter(|v| &v.name == f).collect();
        variants = if exact.is_empty() {
            variants.into_iter().filter(|v| v.name.contains(f.as_str())).collect()
        } else {
            exact
        };
        if variants.is_empty() {
            let names: Vec<&str> = scenario.variants.iter().map(|v| v.name.as_str()).collect();
            return Err(format!("no variant matches `{f}`; variants: {}", names.join(", ")));
        }
    }
    let mut plans = Vec::new();
    for v in variants {
        let base = opts.seed.unwrap_or(v.spec.seed);
        let repeat = opts.repeat.unwrap_or(v.spec.repeat).max(1);
        for r in 0..repeat {
            let seed = base.wrapping_add(u64::from(r));
            let sim = v.spec.sim_config(seed);
            let mut replay = format!("swim-sim run {}", shell_quote(&opts.source));
            if !v.name.is_empty() {
                let _ = write!(replay, " --variant {}", shell_quote(&v.name));
            }
            let _ = write!(replay, " --seed {seed} --repeat 1");
            for s in &opts.sets {
                let _ = write!(replay, " --set {}", shell_quote(s));
            }
            plans.push(RunPlan {
                scenario: scenario.name.clone(),
                variant: v.name.clone(),
                repetition: r,
                converge_within: v.spec.converge_within(&sim),
                sim,
                stop_when_converged: false,
                replay,
            });
        }
    }
    Ok(plans)
}

fn list(nodes: &[u32]) -> String {
    const SHOWN: usize = 12;
    let mut s: Vec<String> = nodes.iter().take(SHOWN).map(|n| n.to_string()).collect();
    if nodes.len() > SHOWN {
        s.push(format!("... ({} in all)", nodes.len()));
    }
    format!("[{}]", s.join(", "))
}

/// The seed and every parameter derived from it, VOPR style: what to print before a run.
pub fn describe(plan: &RunPlan) -> Result<String, String> {
    let c = &plan.sim;
    let mut s = String::new();
    let variant = if plan.variant.is_empty() { String::new() } else { format!(" / {}", plan.variant) };
    let _ = writeln!(s, "scenario {}{variant}, seed {}", plan.scenario, c.seed);
    let _ = writeln!(
        s,
        "  derived seeds: network {:#018x}, faults {:#018x}, start {:#018x}, node-0 core {:#018x}",
        derive_seed(c.seed, Stream::Network, 0),
        derive_seed(c.seed, Stream::Faults, 0),
        derive_seed(c.seed, Stream::Start, 0),
        derive_seed(c.seed, Stream::Core, 1),
    );
    let p = &c.config;
    let lg = &p.lifeguard;
    let _ = writeln!(
        s,
        "  {} members for {}, start {:?} through {:?} (window {}), probe {}/{} k={} gossip {}x{} push-pull {} suspicion alpha={} beta={}",
        c.nodes,
        format_duration(c.duration),
        c.start.mode,
        c.start.seeds,
        c.start.window,
        format_duration(p.probe_interval),
        format_duration(p.probe_timeout),
        p.indirect_checks,
        format_duration(p.gossip_interval),
        p.gossip_nodes,
        p.push_pull_interval.map_or("off".into(), format_duration),
        p.suspicion_mult,
        p.suspicion_max_timeout_mult,
    );
    let _ = writeln!(
        s,
        "  lifeguard: awareness={} scale_probe_timeout={} nack={} dynamic_suspicion={} buddy={}",
        lg.awareness, lg.scale_probe_timeout, lg.nack, lg.dynamic_suspicion, lg.buddy
    );
    if c.config.wire == swim_core::WireProfile::Memberlist {
        let v = c.config.versions.protocol;
        let _ = writeln!(s, "  wire: Go memberlist's profile, protocol {}..={} speaking {}", v.min, v.max, v.current);
    }
    if let Some(d) = &c.config.damping {
        let _ = writeln!(
            s,
            "  damping: death {} refutation {} suppress {} reuse {} max {} hold-down {:?}",
            d.death_penalty, d.refutation_penalty, d.suppress, d.reuse, d.max_penalty, d.hold_down
        );
    }
    let n = &c.network;
    let _ = writeln!(
        s,
        "  network: latency {} + {}, loss {}, duplicate {}, reorder {}, mtu {}, streams {}",
        n.latency, n.jitter, n.loss, n.duplicate, n.reorder, n.mtu, n.stream_latency
    );
    if let Some(sp) = &n.space {
        let _ = writeln!(
            s,
            "  latency model: {}-d space {} across, {} data centres (spread {}), access {}, seed {:#018x}",
            sp.dimensions,
            sp.size,
            sp.clusters,
            sp.cluster_spread,
            sp.access,
            derive_seed(c.seed, Stream::Space, 0)
        );
    }
    if let Some(path) = &n.rtt_matrix {
        let _ = writeln!(s, "  latency model: RTT matrix {path}");
    }
    // The schedule is derived from the seed: expand it exactly as the run will.
    let mut rng = crate::rng::SimRng::derive(c.seed, Stream::Faults, 0);
    let schedule = crate::faults::expand(&c.faults, c.nodes, &c.start.seeds, c.duration, &mut rng)?;
    for a in schedule.actions.iter().take(40) {
        let detail = match &a.action {
            Action::Slow { delay, in_order, .. } => {
                format!(" delay {delay}{}", if *in_order { " in order" } else { "" })
            }
            Action::Partition { b, one_way, .. } => format!(" | {}{}", list(b), if *one_way { " one-way" } else { "" }),
            Action::Loss { inbound, outbound, .. } => format!(" in {inbound} out {outbound}"),
            Action::Clog { until, .. } => format!(" until {:.3}s", until.as_nanos() as f64 / 1e9),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "  t={:>9.3}s {:<16} {:<16} {}{detail}",
            a.at.as_nanos() as f64 / 1e9,
            a.fault,
            a.action.label(),
            list(a.action.nodes())
        );
    }
    if schedule.actions.len() > 40 {
        let _ = writeln!(s, "  ... {} scheduled actions in all", schedule.actions.len());
    }
    match (schedule.healed_at, plan.converge_within) {
        (Some(h), Some(b)) => {
            let _ = writeln!(
                s,
                "  faults heal at {:.3}s; every running member must agree within {}",
                h.as_nanos() as f64 / 1e9,
                format_duration(b)
            );
        }
        (None, Some(_)) => {
            let _ = writeln!(s, "  some fault never heals: no liveness check");
        }
        _ => {}
    }
    let _ = write!(s, "  replay: {}", plan.replay);
    Ok(s)
}

fn disagreement(sim: &Simulation) -> String {
    let t = sim.truth();
    let n = sim.len() as u32;
    let mut out = Vec::new();
    for o in 0..n {
        if !t.is_up(o) {
            continue;
        }
        for x in 0..n {
            let v = t.view(o, x);
            let wrong = match (t.is_up(x), v) {
                (true, View::Alive) | (false, View::Gone) => false,
                (true, _) | (false, _) => true,
            };
            if wrong {
                let truth = if t.is_up(x) { "running" } else { "down" };
                out.push(format!("node-{o} holds node-{x} {v:?} ({truth})"));
                if out.len() >= 6 {
                    return out.join("; ");
                }
            }
        }
    }
    out.join("; ")
}

/// Run one plan. `progress` receives the virtual nanoseconds advanced.
pub fn run(plan: &RunPlan, progress: &AtomicU64) -> RunReport {
    let wall = std::time::Instant::now();
    let cpu0 = crate::metrics::thread_cpu_time();
    let fail = |msg: String| RunReport {
        scenario: plan.scenario.clone(),
        variant: plan.variant.clone(),
        repetition: plan.repetition,
        seed: plan.sim.seed,
        nodes: plan.sim.nodes,
        replay: plan.replay.clone(),
        violation: Some(msg),
        ..RunReport::default()
    };
    let mut sim = match Simulation::new(plan.sim.clone()) {
        Ok(s) => s,
        Err(e) => return fail(format!("setup: {e}")),
    };
    let end = Instant::ZERO + plan.sim.duration;
    let healed = sim.schedule().healed_at;
    let deadline = match (healed, plan.converge_within) {
        (Some(h), Some(b)) => Some(h + b),
        _ => None,
    };
    let mut violation = None;
    let mut reported = 0u64;
    let mut steps = 0u64;
    let every = plan.sim.coordinate_interval;
    let pairs = if every.is_zero() {
        Vec::new()
    } else {
        crate::coordinates::sample_pairs(plan.sim.nodes, plan.sim.coordinate_pairs, plan.sim.seed)
    };
    let mut coordinates = Vec::new();
    let mut next_measure = (!every.is_zero()).then_some(Instant::ZERO + every);
    // Measure at `t` once every event up to `t` has been handled (nothing is scheduled for
    // it, so the trace is the same with measurements on or off).
    let mut measure_until = |sim: &Simulation, before: Instant, out: &mut Vec<_>| {
        while let Some(t) = next_measure.filter(|&t| t < before && t <= end) {
            let mut m = crate::coordinates::measure(sim, &pairs);
            m.at = t.as_nanos() as f64 / 1e9;
            out.push(m);
            next_measure = Some(t + every);
        }
    };
    while sim.next_time().is_some_and(|t| t <= end) {
        if let Some(t) = sim.next_time() {
            measure_until(&sim, t, &mut coordinates);
        }
        if let Err(v) = sim.step() {
            violation = Some(v);
            break;
        }
        steps += 1;
        if steps.is_multiple_of(1 << 14) {
            let now = sim.now().as_nanos();
            progress.fetch_add(now - reported, Ordering::Relaxed);
            reported = now;
        }
        if plan.stop_when_converged
            && let Some(h) = healed
            && sim.now() >= h + SETTLE
            && sim.truth().converged_after(h).is_some()
        {
            break;
        }
    }
    if violation.is_none() && !plan.stop_when_converged {
        let _ = sim.run_until_time(end).map_err(|v| violation = Some(v));
    }
    if violation.is_none() {
        measure_until(&sim, end + Duration::from_nanos(1), &mut coordinates);
    }
    let final_now = sim.now().as_nanos().max(reported);
    progress.fetch_add(final_now.min(end.as_nanos()).saturating_sub(reported), Ordering::Relaxed);
    if violation.is_none()
        && let (Some(h), Some(d)) = (healed, deadline)
        && (d <= sim.now() || plan.stop_when_converged)
    {
        let ok = sim.truth().converged_after(h).is_some_and(|t| t <= d);
        if !ok {
            violation = Some(crate::invariants::Violation {
                seed: plan.sim.seed,
                at: sim.now(),
                node: None,
                message: format!(
                    "liveness: the running members did not agree on the live set within {} after the faults healed at {:.3}s: {}",
                    format_duration(plan.converge_within.unwrap_or_default()),
                    h.as_nanos() as f64 / 1e9,
                    disagreement(&sim)
                ),
                replay: None,
            });
        }
    }
    let cpu = crate::metrics::thread_cpu_time().saturating_sub(cpu0);
    let mut report = RunReport::from_sim(&sim, wall.elapsed(), cpu);
    report.scenario = plan.scenario.clone();
    report.variant = plan.variant.clone();
    report.repetition = plan.repetition;
    report.replay = plan.replay.clone();
    report.coordinates = coordinates;
    report.violation = violation.map(|mut v| {
        v.replay = Some(plan.replay.clone());
        v.to_string()
    });
    report
}

/// Bytes a run of `plan` is expected to hold at its peak: every member keeps a record of
/// every other (about 90 bytes each with short names; the `scale` scenario peaks at 8.34 GiB
/// for 10,000 members), plus room for the simulator itself. A process that already ran a
/// large run can hold more than this: glibc keeps part of the freed tables.
pub fn estimated_memory(plan: &RunPlan) -> u64 {
    let n = plan.sim.nodes as u64;
    n.saturating_mul(n).saturating_mul(100).saturating_add(64 << 20)
}

/// Memory the runs may use together by default: 80 % of what the operating system reports as
/// available (`MemAvailable` in `/proc/meminfo`), or no limit where that cannot be read.
pub fn default_memory_budget() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemAvailable:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib.saturating_mul(1024) / 10 * 8)
        })
        .unwrap_or(u64::MAX)
}

/// Run `plans` on `jobs` threads; results in plan order. `progress` accumulates virtual
/// nanoseconds; `on_done` is called as each run finishes.
///
/// Runs start in plan order, and a run waits while the ones in flight and itself would hold
/// more than `memory_budget` bytes by [`estimated_memory`] (a run alone always starts): two
/// 10,000-member runs side by side need about 20 GB. Scheduling never changes a run's result.
pub fn run_all(
    plans: &[RunPlan],
    jobs: usize,
    memory_budget: u64,
    progress: &AtomicU64,
    on_done: &(dyn Fn(&RunReport) + Sync),
) -> Vec<RunReport> {
    // (index of the next plan to start, estimated bytes of the runs in flight)
    let admission = Mutex::new((0usize, 0u64));
    let finished = Condvar::new();
    let results: Mutex<Vec<Option<RunReport>>> = Mutex::new(vec![None; plans.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, plans.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let mut a = admission.lock().unwrap_or_else(|e| e.into_inner());
                    let k = a.0;
                    let Some(plan) = plans.get(k) else { break };
                    let need = estimated_memory(plan);
                    while a.1 > 0 && a.1.saturating_add(need) > memory_budget {
                        a = finished.wait(a).unwrap_or_else(|e| e.into_inner());
                    }
                    if a.0 != k {
                        // Another worker started plan `k` while this one waited.
                        continue;
                    }
                    a.0 += 1;
                    a.1 += need;
                    drop(a);
                    let r = run(plan, progress);
                    on_done(&r);
                    results.lock().unwrap_or_else(|e| e.into_inner())[k] = Some(r);
                    let mut a = admission.lock().unwrap_or_else(|e| e.into_inner());
                    a.1 -= need;
                    finished.notify_all();
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().flatten().collect()
}

/// Total virtual nanoseconds of `plans` (for a progress bar).
pub fn total_virtual_nanos(plans: &[RunPlan]) -> u64 {
    plans.iter().map(|p| p.sim.duration.as_nanos() as u64).sum()
}
