//! Reports: readable tables, JSON, CSV.
//!
//! A scenario's output directory holds `report.json` (every variant summary, every run, the
//! comparison), `summary.csv` (one row per variant), `runs.csv` (one row per run),
//! `detections.csv` (one row per crash), `timeseries.csv` (the periodic samples) and the SVG
//! plots of [`crate::plot`].

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::metrics::{DetectionReport, RunReport, SpreadReport, Summary, VariantSummary};
use crate::scenario::{AutoOff, ConvergeCheck, Scenario};

/// Aggregated results of a scenario.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    /// Name.
    pub scenario: String,
    /// Description.
    pub description: String,
    /// Axis names.
    pub axes: Vec<String>,
    /// One summary per variant, in variant order.
    pub variants: Vec<VariantSummary>,
    /// The name on each axis of each of `variants` (the plots colour by the first).
    pub parts: Vec<Vec<String>>,
    /// The comparison the scenario asks for.
    pub comparison: Option<Comparison>,
    /// Whether some variant checks convergence (`[check] converge` is not `"off"`): the
    /// convergence columns are shown only then.
    pub convergence_checked: bool,
    /// Whether some variant has CPU-starved members (a `slow` fault): the columns that split
    /// false positives by healthy and slow members are shown only then.
    pub slow_members: bool,
    /// The coordinate error target (`report.target_coordinate_error`), if any.
    pub coordinate_target: Option<CoordinateTarget>,
    /// Every run.
    pub runs: Vec<RunReport>,
}

/// The coordinates' target: median relative error at most `error` from `within` seconds on.
#[derive(Clone, Debug, Serialize)]
pub struct CoordinateTarget {
    /// The largest median relative error allowed (0.15: 15 %).
    pub error: f64,
    /// From when, in virtual seconds (`None`: the last measurement of each run).
    pub within: Option<f64>,
    /// Where the target comes from (`report.target_note`).
    pub note: Option<String>,
}

impl CoordinateTarget {
    /// The figure judged in `run`: the worst median at or after `within` (the last measurement
    /// without `within`), and the measurement it comes from; `None` without measurements then.
    pub fn measured(&self, run: &RunReport) -> Option<(f64, f64)> {
        let c = &run.coordinates;
        let from = self.within.unwrap_or_else(|| c.last().map_or(f64::INFINITY, |m| m.at));
        c.iter()
            .filter(|m| m.at >= from - 1e-9)
            .map(|m| (m.median.unwrap_or(f64::INFINITY), m.at))
            .max_by(|a, b| a.0.total_cmp(&b.0))
    }

    /// Whether `run` reaches the target.
    pub fn met(&self, run: &RunReport) -> bool {
        self.measured(run).is_some_and(|(e, _)| e <= self.error)
    }
}

/// Baseline against candidate, each summed over the other axes.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Baseline variant name (first axis).
    pub baseline: String,
    /// Candidate variant name (first axis).
    pub candidate: String,
    /// False-positive events, baseline.
    pub baseline_fp: u64,
    /// False-positive events, candidate.
    pub candidate_fp: u64,
    /// False positives at healthy observers, baseline.
    pub baseline_fp_healthy: u64,
    /// False positives at healthy observers, candidate.
    pub candidate_fp_healthy: u64,
    /// `baseline_fp / max(candidate_fp, 1)`; a lower bound when the candidate had none.
    pub fp_ratio: f64,
    /// Whether the candidate had no false positive (the ratio is then a lower bound).
    pub fp_ratio_is_lower_bound: bool,
    /// Healthy members (neither slow nor cut off) declared failed, baseline.
    pub baseline_healthy_victims: u64,
    /// Healthy members declared failed, candidate.
    pub candidate_healthy_victims: u64,
    /// `baseline_healthy_victims / max(candidate_healthy_victims, 1)`.
    pub healthy_ratio: f64,
    /// Slow members declared failed, baseline.
    pub baseline_slow_victims: u64,
    /// Slow members declared failed, candidate.
    pub candidate_slow_victims: u64,
    /// Detection by all, baseline.
    pub baseline_detection: Option<Summary>,
    /// Detection by all, candidate.
    pub candidate_detection: Option<Summary>,
    /// First detection, baseline.
    pub baseline_first: Option<Summary>,
    /// First detection, candidate.
    pub candidate_first: Option<Summary>,
    /// Runs of the baseline.
    pub baseline_runs: usize,
    /// Runs of the candidate.
    pub candidate_runs: usize,
    /// Target ratio, if the scenario sets one.
    pub target_fp_ratio: Option<f64>,
    /// Where the target comes from (`report.target_note`), shown next to it.
    pub target_note: Option<String>,
    /// Whether detection by all members is no worse at the median (within 5 %).
    pub detection_no_worse: bool,
    /// Whether the target is met on all false positives (and detection is no worse).
    pub met: Option<bool>,
    /// Whether the target is met on healthy members declared failed (and detection is no
    /// worse): the Lifeguard paper's "healthy members being marked as failed".
    pub met_for_healthy: Option<bool>,
}

impl ScenarioReport {
    /// Summarise `runs` of `scenario`.
    pub fn new(scenario: &Scenario, runs: Vec<RunReport>) -> ScenarioReport {
        let mut variants = Vec::new();
        let mut parts = Vec::new();
        for v in &scenario.variants {
            let mine: Vec<&RunReport> = runs.iter().filter(|r| r.variant == v.name).collect();
            if mine.is_empty() {
                continue;
            }
            parts.push(v.parts.clone());
            let period = v.spec.config.build(v.spec.preset).probe_interval;
            variants.push(VariantSummary::of(&v.name, &mine, period));
        }
        let comparison = scenario.report.compare.as_ref().and_then(|[base, cand]| {
            let pick = |name: &str| -> Vec<&RunReport> {
                let names: Vec<&str> = scenario
                    .variants
                    .iter()
                    .filter(|v| v.parts.first().map(String::as_str) == Some(name))
                    .map(|v| v.name.as_str())
                    .collect();
                runs.iter().filter(|r| names.contains(&r.variant.as_str())).collect()
            };
            let (b, c) = (pick(base), pick(cand));
            if b.is_empty() || c.is_empty() {
                return None;
            }
            let period = scenario.variants[0].spec.config.build(scenario.variants[0].spec.preset).probe_interval;
            let bs = VariantSummary::of(base, &b, period);
            let cs = VariantSummary::of(cand, &c, period);
            let ratio = bs.false_positives.events as f64 / cs.false_positives.events.max(1) as f64;
            let healthy_ratio =
                bs.false_positives.healthy_victims as f64 / cs.false_positives.healthy_victims.max(1) as f64;
            let target = scenario.report.target_fp_ratio;
            let no_worse = match (&bs.detection.all_failed, &cs.detection.all_failed) {
                (Some(b), Some(c)) => c.p50 <= b.p50 * 1.05,
                _ => true,
            };
            Some(Comparison {
                baseline: base.clone(),
                candidate: cand.clone(),
                baseline_fp: bs.false_positives.events,
                candidate_fp: cs.false_positives.events,
                baseline_fp_healthy: bs.false_positives.at_healthy,
                candidate_fp_healthy: cs.false_positives.at_healthy,
                fp_ratio: ratio,
                fp_ratio_is_lower_bound: cs.false_positives.events == 0,
                baseline_healthy_victims: bs.false_positives.healthy_victims,
                candidate_healthy_victims: cs.false_positives.healthy_victims,
                healthy_ratio,
                baseline_slow_victims: bs.false_positives.slow_victims,
                candidate_slow_victims: cs.false_positives.slow_victims,
                baseline_detection: bs.detection.all_failed,
                candidate_detection: cs.detection.all_failed,
                baseline_first: bs.detection.first_failed,
                candidate_first: cs.detection.first_failed,
                baseline_runs: b.len(),
                candidate_runs: c.len(),
                target_fp_ratio: target,
                target_note: scenario.report.target_note.clone(),
                detection_no_worse: no_worse,
                met: target.map(|t| ratio >= t && no_worse),
                met_for_healthy: target.map(|t| healthy_ratio >= t && no_worse),
            })
        });
        ScenarioReport {
            scenario: scenario.name.clone(),
            description: scenario.description.clone(),
            axes: scenario.axes.clone(),
            variants,
            parts,
            comparison,
            convergence_checked: scenario
                .variants
                .iter()
                .any(|v| v.spec.check.converge != Some(ConvergeCheck::Word(AutoOff::Off))),
            slow_members: scenario
                .variants
                .iter()
                .any(|v| v.spec.faults.values().any(|f| f.kind == crate::faults::FaultKind::Slow)),
            coordinate_target: scenario.report.target_coordinate_error.map(|error| CoordinateTarget {
                error,
                within: scenario.report.target_coordinate_within.map(|d| d.0.as_secs_f64()),
                note: scenario.report.target_note.clone(),
            }),
            runs,
        }
    }

    /// Runs that failed.
    pub fn failures(&self) -> impl Iterator<Item = &RunReport> {
        self.runs.iter().filter(|r| r.violation.is_some())
    }
}

/// Render rows as an aligned text table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < w.len() {
                w[i] = w[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i].saturating_sub(c.chars().count());
            if i == 0 {
                let _ = write!(s, "{c}{}", " ".repeat(pad));
            } else {
                let _ = write!(s, "  {}{c}", " ".repeat(pad));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(headers.iter().map(|h| h.to_string()).collect());
    out.push('\n');
    out.push_str(&line(w.iter().map(|&n| "-".repeat(n)).collect()));
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.clone()));
        out.push('\n');
    }
    out
}

fn s(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| if x >= 100.0 { format!("{x:.0}") } else { format!("{x:.2}") })
}

fn opt(sum: &Option<Summary>, f: fn(&Summary) -> f64) -> String {
    s(sum.as_ref().map(f))
}

fn kb(bytes: f64) -> String {
    format!("{:.2}", bytes / 1000.0)
}

/// One column of a table: its header, what a row shows, and whether it applies to this report.
type Column<'a> = (&'a str, Box<dyn Fn(&VariantSummary) -> String + 'a>, bool);

/// The columns that apply, as a table with the variant name first.
fn columns(r: &ScenarioReport, cols: Vec<Column<'_>>) -> String {
    let name = |v: &VariantSummary| if v.variant.is_empty() { r.scenario.clone() } else { v.variant.clone() };
    let cols: Vec<&Column<'_>> = cols.iter().filter(|c| c.2).collect();
    let headers: Vec<&str> = std::iter::once("variant").chain(cols.iter().map(|c| c.0)).collect();
    let rows: Vec<Vec<String>> =
        r.variants.iter().map(|v| std::iter::once(name(v)).chain(cols.iter().map(|c| (c.1)(v))).collect()).collect();
    table(&headers, &rows)
}

/// The readable report: what each table measures, the columns that apply to this scenario, and
/// the comparison it asks for stated as what was compared, what was measured, and the target.
pub fn render(r: &ScenarioReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "== {}: {}", r.scenario, r.description.trim());
    let vs = &r.variants;
    let crashes = vs.iter().any(|v| v.detection.crashes > 0);
    let any_fp = vs.iter().any(|v| v.false_positives.events > 0 || v.false_positives.false_suspicions > 0);
    let slow = r.slow_members;
    if crashes || any_fp {
        let _ = writeln!(
            out,
            "\nFailure detection: false positives (a live member declared failed by another), summed over each \
             variant's runs{}",
            if crashes { "; detection of the real crashes, in seconds after the crash" } else { "" }
        );
        if slow {
            let _ = writeln!(
                out,
                "  @healthy / @slow: FP at healthy / slow (CPU-starved) observers; declared h/s: FP declared by a \
                 healthy / slow observer's own suspicion timer"
            );
        }
        let _ = writeln!(
            out,
            "  healthy victims: live members declared failed that were neither slow nor cut off by a network fault"
        );
        if crashes {
            let _ = writeln!(
                out,
                "  detected: crashes every running member declared failed; 1st susp.: first suspicion, in probe \
                 periods; 1st fail: the first member; all: every member"
            );
        }
        let fp = |f: fn(&crate::truth::FalsePositives) -> u64| {
            Box::new(move |v: &VariantSummary| f(&v.false_positives).to_string())
        };
        let det = |sum: fn(&DetectionReport) -> &Option<Summary>, k: fn(&Summary) -> f64| {
            Box::new(move |v: &VariantSummary| opt(sum(&v.detection), k))
        };
        out.push_str(&columns(
            r,
            vec![
                ("runs", Box::new(|v| v.runs.to_string()), true),
                ("FP", fp(|f| f.events), true),
                ("@healthy", fp(|f| f.at_healthy), slow),
                ("@slow", fp(|f| f.at_slow), slow),
                (
                    "declared h/s",
                    Box::new(|v| {
                        format!("{}/{}", v.false_positives.declared_by_healthy, v.false_positives.declared_by_slow)
                    }),
                    slow,
                ),
                ("FP pairs", fp(|f| f.pairs), true),
                ("healthy victims", fp(|f| f.healthy_victims), true),
                ("false susp.", fp(|f| f.false_suspicions), true),
                ("detected", Box::new(|v| format!("{}/{}", v.detection.detected_by_all, v.detection.crashes)), crashes),
                ("1st susp. (T)", det(|d| &d.first_suspect_periods, |s| s.mean), crashes),
                ("1st fail p50", det(|d| &d.first_failed, |s| s.p50), crashes),
                ("all min", det(|d| &d.all_failed, |s| s.min), crashes),
                ("all p50", det(|d| &d.all_failed, |s| s.p50), crashes),
                ("all p99", det(|d| &d.all_failed, |s| s.p99), crashes),
                ("all max", det(|d| &d.all_failed, |s| s.max), crashes),
            ],
        ));
    }
    let conv = r.convergence_checked;
    let joins = vs.iter().any(|v| v.spread.joins.1 > 0);
    let restarts = vs.iter().any(|v| v.spread.restart_all.is_some());
    let updates = vs.iter().any(|v| v.spread.updates.1 > 0);
    let _ = writeln!(out, "\nMembership (times in seconds)");
    if conv {
        let _ = writeln!(
            out,
            "  converged: when every running member first held exactly the running members alive (latest run); \
             after heal: the same after the faults healed; conv. at end: runs agreeing at the end"
        );
    } else {
        let _ = writeln!(out, "  (convergence is not measured: the scenario turns its check off)");
    }
    let sp = |f: fn(&SpreadReport) -> &Option<Summary>, k: fn(&Summary) -> f64| {
        Box::new(move |v: &VariantSummary| opt(f(&v.spread), k))
    };
    out.push_str(&columns(
        r,
        vec![
            ("nodes", Box::new(|v| v.nodes.to_string()), true),
            ("converged", Box::new(|v| opt(&v.first_converged, |s| s.max)), conv),
            ("after heal", Box::new(|v| opt(&v.converge_after_heal, |s| s.max)), conv),
            ("conv. at end", Box::new(|v| format!("{}/{}", v.converged_at_end, v.runs)), conv),
            ("view sizes", Box::new(|v| v.distinct_view_sizes.to_string()), true),
            ("joins", Box::new(|v| format!("{}/{}", v.spread.joins.0, v.spread.joins.1)), joins),
            ("join p50", sp(|s| &s.join_all, |s| s.p50), joins),
            ("join max", sp(|s| &s.join_all, |s| s.max), joins),
            ("restart max", sp(|s| &s.restart_all, |s| s.max), restarts),
            ("update p50", sp(|s| &s.update_all, |s| s.p50), updates),
            ("flaps", Box::new(|v| v.flaps.to_string()), true),
            ("max flaps/member", Box::new(|v| v.max_flaps_per_member.to_string()), true),
        ],
    ));
    render_damping(&mut out, r);
    let _ = writeln!(out, "\nLoad per member per second (mean / p99 / max) and cost");
    out.push_str(&columns(
        r,
        vec![
            (
                "msgs out",
                Box::new(|v| {
                    format!("{:.2}/{:.2}/{:.2}", v.msgs_out_per_sec, v.msgs_out_per_sec_p99, v.msgs_out_per_sec_max)
                }),
                true,
            ),
            ("msgs in", Box::new(|v| format!("{:.2}", v.msgs_in_per_sec)), true),
            (
                "KB/s out",
                Box::new(|v| {
                    format!(
                        "{}/{}/{}",
                        kb(v.bytes_out_per_sec),
                        kb(v.bytes_out_per_sec_p99),
                        kb(v.bytes_out_per_sec_max)
                    )
                }),
                true,
            ),
            (
                "KB/s in",
                Box::new(|v| {
                    format!("{}/{}/{}", kb(v.bytes_in_per_sec), kb(v.bytes_in_per_sec_p99), kb(v.bytes_in_per_sec_max))
                }),
                true,
            ),
            ("msgs/period", Box::new(|v| format!("{:.2}", v.msgs_per_period)), true),
            ("table B", Box::new(|v| format!("{:.0}", v.member_table_bytes)), true),
            ("wall s", Box::new(|v| format!("{:.1}", v.wall_secs)), true),
            ("cpu s", Box::new(|v| format!("{:.1}", v.cpu_secs)), true),
            ("msgs/wall s", Box::new(|v| format!("{:.2}M", v.msgs_per_wall_sec / 1e6)), true),
        ],
    ));
    if let Some(c) = &r.comparison {
        render_comparison(&mut out, r, c);
    }
    render_versions(&mut out, r);
    render_coordinates(&mut out, r);
    let failures: Vec<&RunReport> = r.failures().collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\n{} run(s) FAILED:", failures.len());
        for f in failures {
            let _ = writeln!(out, "  {}", f.violation.as_deref().unwrap_or_default().replace('\n', "\n  "));
        }
    }
    out
}

fn percent(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.1} %", v * 100.0))
}

/// Coordinate error over time, run by run, and the target with what each run measured.
fn render_coordinates(out: &mut String, r: &ScenarioReport) {
    if r.runs.iter().all(|run| run.coordinates.is_empty()) {
        return;
    }
    let _ = writeln!(
        out,
        "\nNetwork coordinates: relative error |estimate - true| / true of the estimated against the true RTT \
         (Simulation::true_rtt) over member pairs; `own`: from both members' own coordinates, `observer`: \
         Swim::estimate_rtt at one member from the coordinates it heard"
    );
    let mut rows = Vec::new();
    for run in &r.runs {
        for m in &run.coordinates {
            rows.push(vec![
                if run.variant.is_empty() { r.scenario.clone() } else { run.variant.clone() },
                run.seed.to_string(),
                format!("{:.0}", m.at),
                m.pairs.to_string(),
                percent(m.median),
                percent(m.p90),
                m.observer_pairs.to_string(),
                percent(m.observer_median),
                percent(m.observer_p90),
            ]);
        }
    }
    out.push_str(&table(
        &["variant", "seed", "t s", "pairs", "median", "p90", "observer pairs", "obs. median", "obs. p90"],
        &rows,
    ));
    let Some(t) = &r.coordinate_target else { return };
    let when = t.within.map_or("at the end".to_string(), |w| {
        if w >= 60.0 && w % 60.0 == 0.0 { format!("within {} min", w / 60.0) } else { format!("within {w} s") }
    });
    let note = t.note.as_deref().map_or(String::new(), |n| format!(" ({n})"));
    let _ = writeln!(
        out,
        "\nTarget (report.target_coordinate_error): median relative error <= {:.0} % {when}, and at every later \
         measurement{note}",
        t.error * 100.0
    );
    for run in &r.runs {
        let name = if run.variant.is_empty() { r.scenario.clone() } else { run.variant.clone() };
        let state = if t.met(run) { "reached" } else { "below the target" };
        let measured = t
            .measured(run)
            .map_or("no measurement".to_string(), |(e, at)| format!("worst {} (at {at:.0} s)", percent(Some(e))));
        let _ = writeln!(
            out,
            "  {name}, seed {}: median <= {:.0} % {when}, measured {measured}: {state}",
            run.seed,
            t.error * 100.0
        );
    }
}

/// Version negotiation, for runs that change versions or phases: packets sent per envelope
/// version in each phase, and the refusal targets, run by run.
/// Flap damping's figures about the members network faults target, each with issue 17's
/// target beside it (worst run of each variant).
fn render_damping(out: &mut String, r: &ScenarioReport) {
    if r.variants.iter().all(|v| v.damping.watched == 0) {
        return;
    }
    let _ = writeln!(
        out,
        "\nFlapping members (blackholed, flip-flopping or lossy), as the healthy members see them; worst run of \
         each variant\n  targets (issue 17): back/observer <= 2 (flip-flop); held-down disagreement <= 5% of the run; all held \
         down <= 60 s, readmitted during the fault 0, healthy failed at healthy 0 (packet-loss); back after fault \
         <= hold-down + dissemination"
    );
    let secs = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |x| format!("{x:.1}"));
    out.push_str(&columns(
        r,
        vec![
            ("members", Box::new(|v| v.damping.watched.to_string()), true),
            ("back/observer", Box::new(|v| v.damping.max_flaps_per_observer.to_string()), true),
            (
                "disagreement",
                Box::new(|v| {
                    let d = &v.damping;
                    let share = if d.run > 0.0 { 100.0 * d.disagreement / d.run } else { 0.0 };
                    format!("{:.1}s ({share:.2}%)", d.disagreement)
                }),
                true,
            ),
            (
                "held-down disagreement",
                Box::new(|v| {
                    let d = &v.damping;
                    let share = if d.run > 0.0 { 100.0 * d.held_disagreement / d.run } else { 0.0 };
                    format!("{:.1}s ({share:.2}%)", d.held_disagreement)
                }),
                true,
            ),
            ("all held down", Box::new(move |v| secs(v.damping.all_held_after)), true),
            ("never held", Box::new(|v| v.damping.never_all_held.to_string()), true),
            ("readmitted in fault", Box::new(|v| v.damping.readmitted_during_fault.to_string()), true),
            ("healthy failed", Box::new(|v| v.false_positives.healthy_at_unimpaired.to_string()), true),
            ("back after fault", Box::new(move |v| secs(v.damping.back_after_fault)), true),
            ("not back", Box::new(|v| v.damping.not_back.to_string()), true),
        ],
    ));
    let _ = writeln!(
        out,
        "  back/observer: most dead-to-alive transitions of one such member at one healthy observer; \
         disagreement: time healthy members disagreed about one (some holding it live, some not), summed over \
         them; held-down disagreement: the same about holding it down (flap damping's decision); all held down: from its fault's start to every healthy member holding it down (flap damping); \
         healthy failed: healthy members declared failed at healthy members; back after fault: from its last \
         fault's end to every healthy member holding it live"
    );
}

fn render_versions(out: &mut String, r: &ScenarioReport) {
    let shown = |run: &&RunReport| {
        !run.phases.is_empty() || !run.versions.outsiders.is_empty() || run.versions.packets.iter().any(|p| p.len() > 1)
    };
    for run in r.runs.iter().filter(shown) {
        let v = &run.versions;
        let variant = if run.variant.is_empty() { String::new() } else { format!(" / {}", run.variant) };
        let _ = writeln!(
            out,
            "\nVersions (seed {}{variant}): packets the cluster's members sent, per envelope version",
            run.seed
        );
        let versions: std::collections::BTreeSet<u8> = v.packets.iter().flat_map(|p| p.keys().copied()).collect();
        let mut headers: Vec<String> = vec!["phase".into()];
        headers.extend(versions.iter().map(|x| format!("v{x}")));
        headers.push("share at v2".into());
        let rows: Vec<Vec<String>> = v
            .packets
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let mut row = vec![run.phases.get(k).cloned().unwrap_or_else(|| "whole run".into())];
                row.extend(versions.iter().map(|x| p.get(x).copied().unwrap_or(0).to_string()));
                let total: u64 = p.values().sum();
                let v2 = p.get(&2).copied().unwrap_or(0);
                row.push(if total == 0 { "-".into() } else { format!("{:.1} %", v2 as f64 * 100.0 / total as f64) });
                row
            })
            .collect();
        let h: Vec<&str> = headers.iter().map(String::as_str).collect();
        out.push_str(&table(&h, &rows));
        let fp = run.false_positives.events;
        let state = |ok: bool| if ok { "reached" } else { "MISSED" };
        let _ = writeln!(out, "  live members declared failed:  target 0, measured {fp}: {}", state(fp == 0));
        let refused = v.compatible_refused;
        let _ = writeln!(out, "  compatible members refused:    target 0, measured {refused}: {}", state(refused == 0));
        for (node, o) in &v.outsiders {
            let refusing: std::collections::BTreeSet<u32> = o.refused_by.union(&o.rejected_by).copied().collect();
            let all = !o.reached.is_empty() && o.reached.is_subset(&refusing);
            let _ = writeln!(
                out,
                "  outsider node-{node}: sent {} packets; refused by {} of the {} members it reached ({} refused its \
                 alive record, {} rejected its packets' version); held alive {} times: target refused by all and \
                 held alive 0 times: {}",
                o.sent,
                o.reached.intersection(&refusing).count(),
                o.reached.len(),
                o.refused_by.len(),
                o.rejected_by.len(),
                o.held_alive,
                state(all && o.held_alive == 0)
            );
        }
        let _ = writeln!(out, "  virtual time {:.0} s; wall {:.1} s", run.duration, run.speed.wall_secs);
    }
}

/// `19.9x fewer`, `>= 137x fewer` (the candidate had none), `same`, or `2.0x more`.
fn ratio(base: u64, cand: u64) -> String {
    if cand == base {
        "same".into()
    } else if cand == 0 {
        format!(">= {base}x fewer")
    } else if base == 0 {
        "more (none in the baseline)".into()
    } else if cand > base {
        format!("{:.1}x more", cand as f64 / base as f64)
    } else {
        format!("{:.1}x fewer", base as f64 / cand as f64)
    }
}

fn render_comparison(out: &mut String, r: &ScenarioReport, c: &Comparison) {
    let axis = r.axes.first().map_or(String::new(), |a| format!(" of the first axis ({a})"));
    let others = if r.axes.len() > 1 { ", each summed over the other axes" } else { "" };
    let _ = writeln!(
        out,
        "\nComparison (report.compare): `{}` against `{}`, variants{axis}{others}; {} and {} runs on the same seeds",
        c.candidate, c.baseline, c.baseline_runs, c.candidate_runs
    );
    let lat = |x: &Option<Summary>, k: fn(&Summary) -> f64| x.as_ref().map_or("-".into(), |s| format!("{:.2}s", k(s)));
    let count = |b: u64, k: u64| vec![b.to_string(), k.to_string(), ratio(b, k)];
    let rows = vec![
        [vec!["false positives, all observers".to_string()], count(c.baseline_fp, c.candidate_fp)].concat(),
        [
            vec!["false positives at healthy observers".to_string()],
            count(c.baseline_fp_healthy, c.candidate_fp_healthy),
        ]
        .concat(),
        [
            vec!["healthy members declared failed".to_string()],
            count(c.baseline_healthy_victims, c.candidate_healthy_victims),
        ]
        .concat(),
        [vec!["slow members declared failed".to_string()], count(c.baseline_slow_victims, c.candidate_slow_victims)]
            .concat(),
        vec![
            "crash detected by every member, p50".into(),
            lat(&c.baseline_detection, |s| s.p50),
            lat(&c.candidate_detection, |s| s.p50),
            String::new(),
        ],
        vec![
            "crash detected by every member, p99".into(),
            lat(&c.baseline_detection, |s| s.p99),
            lat(&c.candidate_detection, |s| s.p99),
            String::new(),
        ],
        vec![
            "crash detected by the first member, p50".into(),
            lat(&c.baseline_first, |s| s.p50),
            lat(&c.candidate_first, |s| s.p50),
            String::new(),
        ],
    ];
    let table = table(&["measured", &c.baseline, &c.candidate, &format!("{} vs {}", c.candidate, c.baseline)], &rows);
    for line in table.lines() {
        let _ = writeln!(out, "  {line}");
    }
    if let Some(t) = c.target_fp_ratio {
        let _ = writeln!(
            out,
            "Target (report.target_fp_ratio): {t}x fewer false positives with `{}`, crash detection by every member \
             no slower at the median (within 5 %)",
            c.candidate
        );
        let note = c.target_note.as_deref().map_or(String::new(), |n| format!(" ({n})"));
        let state = |reached: bool| if reached { "reached" } else { "below the target" };
        let measured = |b: u64, k: u64| {
            if k == 0 { format!(">= {b}x") } else { format!("{:.1}x", b as f64 / k as f64) }
        };
        let _ = writeln!(
            out,
            "  all false positives:             target >= {t}x, measured {}: {}{note}",
            measured(c.baseline_fp, c.candidate_fp),
            state(c.fp_ratio >= t)
        );
        let _ = writeln!(
            out,
            "  healthy members declared failed: target >= {t}x, measured {}: {}",
            measured(c.baseline_healthy_victims, c.candidate_healthy_victims),
            state(c.healthy_ratio >= t)
        );
        let _ = writeln!(
            out,
            "  crash detected by every member:  p50 {} against {}: {}",
            lat(&c.candidate_detection, |s| s.p50),
            lat(&c.baseline_detection, |s| s.p50),
            if c.detection_no_worse { "no slower (within 5 %)" } else { "slower by more than 5 %" }
        );
    }
}

fn f(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| format!("{v:.6}"))
}

/// Write `report.json` and the CSV files into `dir`.
pub fn write_files(r: &ScenarioReport, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let err = |p: &Path, e: &dyn std::fmt::Display| format!("{}: {e}", p.display());
    let p = dir.join("report.json");
    let json = serde_json::to_string_pretty(r).map_err(|e| err(&p, &e))?;
    std::fs::write(&p, json).map_err(|e| err(&p, &e))?;

    let p = dir.join("summary.csv");
    let mut w = csv::Writer::from_path(&p).map_err(|e| err(&p, &e))?;
    let header = [
        "variant",
        "runs",
        "failed",
        "nodes",
        "fp_events",
        "fp_at_healthy",
        "fp_at_slow",
        "fp_declared_by_healthy",
        "fp_declared_by_slow",
        "fp_pairs",
        "fp_healthy_victims",
        "fp_slow_victims",
        "fp_impaired_victims",
        "false_suspicions",
        "crashes",
        "detected_by_all",
        "first_suspect_periods_mean",
        "first_failed_p50",
        "all_failed_p50",
        "all_failed_p99",
        "all_failed_max",
        "first_converged_max",
        "converge_after_heal_max",
        "distinct_view_sizes",
        "join_all_p50",
        "join_all_max",
        "flaps",
        "msgs_out_per_sec",
        "msgs_out_per_sec_p99",
        "msgs_out_per_sec_max",
        "bytes_out_per_sec",
        "bytes_out_per_sec_p99",
        "bytes_out_per_sec_max",
        "bytes_in_per_sec",
        "bytes_in_per_sec_p99",
        "bytes_in_per_sec_max",
        "msgs_per_period",
        "member_table_bytes",
        "wall_secs",
        "cpu_secs",
        "msgs_per_wall_sec",
    ];
    w.write_record(header).map_err(|e| err(&p, &e))?;
    for v in &r.variants {
        let fp = &v.false_positives;
        let d = &v.detection;
        let g = |x: &Option<Summary>, k: fn(&Summary) -> f64| f(x.as_ref().map(k));
        w.write_record([
            v.variant.clone(),
            v.runs.to_string(),
            v.failed.to_string(),
            v.nodes.to_string(),
            fp.events.to_string(),
            fp.at_healthy.to_string(),
            fp.at_slow.to_string(),
            fp.declared_by_healthy.to_string(),
            fp.declared_by_slow.to_string(),
            fp.pairs.to_string(),
            fp.healthy_victims.to_string(),
            fp.slow_victims.to_string(),
            fp.impaired_victims.to_string(),
            fp.false_suspicions.to_string(),
            d.crashes.to_string(),
            d.detected_by_all.to_string(),
            g(&d.first_suspect_periods, |s| s.mean),
            g(&d.first_failed, |s| s.p50),
            g(&d.all_failed, |s| s.p50),
            g(&d.all_failed, |s| s.p99),
            g(&d.all_failed, |s| s.max),
            g(&v.first_converged, |s| s.max),
            g(&v.converge_after_heal, |s| s.max),
            v.distinct_view_sizes.to_string(),
            g(&v.spread.join_all, |s| s.p50),
            g(&v.spread.join_all, |s| s.max),
            v.flaps.to_string(),
            format!("{:.4}", v.msgs_out_per_sec),
            format!("{:.4}", v.msgs_out_per_sec_p99),
            format!("{:.4}", v.msgs_out_per_sec_max),
            format!("{:.2}", v.bytes_out_per_sec),
            format!("{:.2}", v.bytes_out_per_sec_p99),
            format!("{:.2}", v.bytes_out_per_sec_max),
            format!("{:.2}", v.bytes_in_per_sec),
            format!("{:.2}", v.bytes_in_per_sec_p99),
            format!("{:.2}", v.bytes_in_per_sec_max),
            format!("{:.4}", v.msgs_per_period),
            format!("{:.1}", v.member_table_bytes),
            format!("{:.3}", v.wall_secs),
            format!("{:.3}", v.cpu_secs),
            format!("{:.0}", v.msgs_per_wall_sec),
        ])
        .map_err(|e| err(&p, &e))?;
    }
    w.flush().map_err(|e| err(&p, &e))?;

    let p = dir.join("runs.csv");
    let mut w = csv::Writer::from_path(&p).map_err(|e| err(&p, &e))?;
    w.write_record([
        "variant",
        "repetition",
        "seed",
        "nodes",
        "digest",
        "fp_events",
        "fp_at_healthy",
        "fp_at_slow",
        "crashes",
        "all_failed_p50",
        "converged_at_end",
        "msgs_delivered",
        "wall_secs",
        "violation",
        "replay",
    ])
    .map_err(|e| err(&p, &e))?;
    for run in &r.runs {
        w.write_record([
            run.variant.clone(),
            run.repetition.to_string(),
            run.seed.to_string(),
            run.nodes.to_string(),
            run.digest.clone(),
            run.false_positives.events.to_string(),
            run.false_positives.at_healthy.to_string(),
            run.false_positives.at_slow.to_string(),
            run.detection.crashes.to_string(),
            f(run.detection.all_failed.as_ref().map(|s| s.p50)),
            run.convergence.at_end.to_string(),
            run.sim.delivered.to_string(),
            format!("{:.3}", run.speed.wall_secs),
            run.violation.clone().unwrap_or_default(),
            run.replay.clone(),
        ])
        .map_err(|e| err(&p, &e))?;
    }
    w.flush().map_err(|e| err(&p, &e))?;

    let p = dir.join("detections.csv");
    let mut w = csv::Writer::from_path(&p).map_err(|e| err(&p, &e))?;
    w.write_record([
        "variant",
        "seed",
        "node",
        "crashed_at",
        "known_by",
        "first_suspect",
        "first_failed",
        "all_failed",
        "censored",
    ])
    .map_err(|e| err(&p, &e))?;
    for run in &r.runs {
        for d in &run.detections {
            w.write_record([
                run.variant.clone(),
                run.seed.to_string(),
                d.node.to_string(),
                format!("{:.6}", d.crashed_at),
                d.known_by.to_string(),
                f(d.first_suspect),
                f(d.first_failed),
                f(d.all_failed),
                d.censored.to_string(),
            ])
            .map_err(|e| err(&p, &e))?;
        }
    }
    w.flush().map_err(|e| err(&p, &e))?;

    let p = dir.join("timeseries.csv");
    let mut w = csv::Writer::from_path(&p).map_err(|e| err(&p, &e))?;
    w.write_record([
        "variant",
        "seed",
        "t",
        "up",
        "view_min",
        "view_mean",
        "view_max",
        "correct",
        "suspects",
        "false_positives",
        "converged",
    ])
    .map_err(|e| err(&p, &e))?;
    for run in &r.runs {
        for s in &run.samples {
            w.write_record([
                run.variant.clone(),
                run.seed.to_string(),
                format!("{:.3}", s.t),
                s.up.to_string(),
                s.view_min.to_string(),
                format!("{:.3}", s.view_mean),
                s.view_max.to_string(),
                s.correct.to_string(),
                s.suspects.to_string(),
                s.false_positives.to_string(),
                s.converged.to_string(),
            ])
            .map_err(|e| err(&p, &e))?;
        }
    }
    w.flush().map_err(|e| err(&p, &e))?;
    Ok(())
}

/// Peak resident memory of this process (Linux `VmHWM`), if known.
pub fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `1.23 GiB`-style.
pub fn bytes(n: u64) -> String {
    let n = n as f64;
    if n >= (1u64 << 30) as f64 {
        format!("{:.2} GiB", n / (1u64 << 30) as f64)
    } else if n >= (1u64 << 20) as f64 {
        format!("{:.1} MiB", n / (1u64 << 20) as f64)
    } else {
        format!("{:.1} KiB", n / 1024.0)
    }
}

/// `12.3s` for a wall duration.
pub fn wall(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(&["a", "bb"], &[vec!["xxx".into(), "1".into()], vec!["y".into(), "22".into()]]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "a    bb");
        assert_eq!(lines[1], "---  --");
        assert_eq!(lines[2], "xxx   1");
        assert_eq!(lines[3], "y    22");
    }

    const TEXT: &str = r#"
        name = "cmp"
        nodes = 10
        duration = "100s"
        [check]
        converge = "off"
        [faults.slow]
        kind = "slow"
        at = "0s"
        nodes = { random = 1 }
        delay = "100ms"
        [[axes]]
        name = "protocol"
        [[axes.variants]]
        name = "swim"
        [[axes.variants]]
        name = "lifeguard"
        [report]
        compare = ["swim", "lifeguard"]
        target_fp_ratio = 50
        target_note = "the paper's figure"
    "#;

    /// A report of two runs per variant with these false positives (all, healthy victims).
    fn report(text: &str, sets: &[&str], fp: [(u64, u64); 2]) -> ScenarioReport {
        let sets: Vec<toml::Table> = sets.iter().map(|s| crate::scenario::parse_set(s).unwrap()).collect();
        let s = Scenario::parse(text, &sets).unwrap();
        let mut runs = Vec::new();
        for (v, (events, healthy)) in s.variants.iter().zip(fp) {
            for seed in 0..2 {
                let mut r = RunReport { variant: v.name.clone(), seed, nodes: 10, ..RunReport::default() };
                r.false_positives.events = events / 2;
                r.false_positives.at_healthy = events / 2;
                r.false_positives.healthy_victims = healthy / 2;
                r.false_positives.slow_victims = (events - healthy) / 2;
                runs.push(r);
            }
        }
        ScenarioReport::new(&s, runs)
    }

    #[test]
    fn a_missed_target_is_a_measurement_not_a_failure() {
        let text = render(&report(TEXT, &[], [(200, 100), (10, 0)]));
        assert!(!text.contains("NOT MET") && !text.contains("FAILED"), "{text}");
        assert!(text.contains("Comparison (report.compare): `lifeguard` against `swim`"), "{text}");
        assert!(
            text.contains(
                "all false positives:             target >= 50x, measured 20.0x: below the target (the paper's figure)"
            ),
            "{text}"
        );
        assert!(text.contains("healthy members declared failed: target >= 50x, measured >= 100x: reached"), "{text}");
        assert!(text.contains("20.0x fewer") && text.contains(">= 100x fewer"), "{text}");
    }

    #[test]
    fn convergence_columns_only_when_convergence_is_checked() {
        let off = render(&report(TEXT, &[], [(2, 2), (0, 0)]));
        let membership = off.split("Membership").nth(1).unwrap();
        assert!(!membership.contains("converged") && !membership.contains("conv. at end"), "{off}");
        assert!(membership.contains("convergence is not measured"), "{off}");
        assert!(off.contains("@slow"), "a scenario with slow members splits by them: {off}");
        let on = render(&report(TEXT, &["check.converge=\"auto\""], [(2, 2), (0, 0)]));
        assert!(on.contains("conv. at end") && on.contains("after heal"), "{on}");
    }

    #[test]
    fn slow_columns_only_with_slow_members() {
        let text = TEXT.replace("kind = \"slow\"", "kind = \"crash\"").replace("delay = \"100ms\"", "");
        let r = render(&report(&text, &[], [(2, 2), (0, 0)]));
        assert!(!r.contains("@slow") && !r.contains("declared h/s"), "{r}");
        assert!(r.contains("FP pairs") && r.contains("healthy victims"), "{r}");
    }
}
