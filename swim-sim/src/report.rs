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

use crate::metrics::{RunReport, Summary, VariantSummary};
use crate::scenario::Scenario;

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
    /// The comparison the scenario asks for.
    pub comparison: Option<Comparison>,
    /// Every run.
    pub runs: Vec<RunReport>,
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
    /// Target ratio, if the scenario sets one.
    pub target_fp_ratio: Option<f64>,
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
        for v in &scenario.variants {
            let mine: Vec<&RunReport> = runs.iter().filter(|r| r.variant == v.name).collect();
            if mine.is_empty() {
                continue;
            }
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
                target_fp_ratio: target,
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
            comparison,
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

/// The readable report.
pub fn render(r: &ScenarioReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "== {}: {}", r.scenario, r.description.trim());
    let name = |v: &VariantSummary| if v.variant.is_empty() { r.scenario.clone() } else { v.variant.clone() };
    let any_fp_or_crash = r
        .variants
        .iter()
        .any(|v| v.detection.crashes > 0 || v.false_positives.events > 0 || v.false_positives.false_suspicions > 0);
    if any_fp_or_crash {
        let _ = writeln!(out, "\nFailure detection (false positives summed over runs; latencies in seconds)");
        let rows: Vec<Vec<String>> = r
            .variants
            .iter()
            .map(|v| {
                let fp = &v.false_positives;
                let d = &v.detection;
                vec![
                    name(v),
                    v.runs.to_string(),
                    fp.events.to_string(),
                    fp.at_healthy.to_string(),
                    fp.at_slow.to_string(),
                    format!("{}/{}", fp.declared_by_healthy, fp.declared_by_slow),
                    fp.pairs.to_string(),
                    fp.healthy_victims.to_string(),
                    fp.false_suspicions.to_string(),
                    format!("{}/{}", d.detected_by_all, d.crashes),
                    opt(&d.first_suspect_periods, |s| s.mean),
                    opt(&d.first_failed, |s| s.p50),
                    opt(&d.all_failed, |s| s.min),
                    opt(&d.all_failed, |s| s.p50),
                    opt(&d.all_failed, |s| s.p99),
                    opt(&d.all_failed, |s| s.max),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "variant",
                "runs",
                "FP",
                "@healthy",
                "@slow",
                "declared h/s",
                "FP pairs",
                "healthy victims",
                "false susp.",
                "detected",
                "1st susp. (T)",
                "1st fail p50",
                "all min",
                "all p50",
                "all p99",
                "all max",
            ],
            &rows,
        ));
    }
    let _ = writeln!(out, "\nMembership (seconds)");
    let rows: Vec<Vec<String>> = r
        .variants
        .iter()
        .map(|v| {
            let sp = &v.spread;
            vec![
                name(v),
                v.nodes.to_string(),
                opt(&v.first_converged, |s| s.max),
                opt(&v.converge_after_heal, |s| s.max),
                format!("{}/{}", v.converged_at_end, v.runs),
                v.distinct_view_sizes.to_string(),
                format!("{}/{}", sp.joins.0, sp.joins.1),
                opt(&sp.join_all, |s| s.p50),
                opt(&sp.join_all, |s| s.max),
                opt(&sp.restart_all, |s| s.max),
                opt(&sp.update_all, |s| s.p50),
                v.flaps.to_string(),
                v.max_flaps_per_member.to_string(),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "variant",
            "nodes",
            "converged",
            "after heal",
            "conv. at end",
            "view sizes",
            "joins",
            "join p50",
            "join max",
            "restart max",
            "update p50",
            "flaps",
            "max flaps/member",
        ],
        &rows,
    ));
    let _ = writeln!(out, "\nLoad per member per second (mean / p99 / max) and cost");
    let rows: Vec<Vec<String>> = r
        .variants
        .iter()
        .map(|v| {
            vec![
                name(v),
                format!("{:.2}/{:.2}/{:.2}", v.msgs_out_per_sec, v.msgs_out_per_sec_p99, v.msgs_out_per_sec_max),
                format!("{:.2}", v.msgs_in_per_sec),
                format!("{}/{}/{}", kb(v.bytes_out_per_sec), kb(v.bytes_out_per_sec_p99), kb(v.bytes_out_per_sec_max)),
                format!("{}/{}/{}", kb(v.bytes_in_per_sec), kb(v.bytes_in_per_sec_p99), kb(v.bytes_in_per_sec_max)),
                format!("{:.2}", v.msgs_per_period),
                format!("{:.0}", v.member_table_bytes),
                format!("{:.1}", v.wall_secs),
                format!("{:.1}", v.cpu_secs),
                format!("{:.2}M", v.msgs_per_wall_sec / 1e6),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "variant",
            "msgs out",
            "msgs in",
            "KB/s out",
            "KB/s in",
            "msgs/period",
            "table B",
            "wall s",
            "cpu s",
            "msgs/wall s",
        ],
        &rows,
    ));
    if let Some(c) = &r.comparison {
        let _ = writeln!(out, "\nComparison: {} against {}", c.candidate, c.baseline);
        let bound = if c.fp_ratio_is_lower_bound { ">= " } else { "" };
        let _ = writeln!(
            out,
            "  all false positives:            {:>5} vs {:>5}  ({bound}{:.1}x fewer); at healthy observers {} vs {}",
            c.candidate_fp, c.baseline_fp, c.fp_ratio, c.candidate_fp_healthy, c.baseline_fp_healthy
        );
        let hbound = if c.candidate_healthy_victims == 0 { ">= " } else { "" };
        let _ = writeln!(
            out,
            "  healthy members declared failed: {:>5} vs {:>5}  ({hbound}{:.1}x fewer)",
            c.candidate_healthy_victims, c.baseline_healthy_victims, c.healthy_ratio
        );
        let _ = writeln!(
            out,
            "  slow members declared failed:    {:>5} vs {:>5}",
            c.candidate_slow_victims, c.baseline_slow_victims
        );
        let lat =
            |x: &Option<Summary>| x.as_ref().map_or("-".into(), |s| format!("p50 {:.2}s p99 {:.2}s", s.p50, s.p99));
        let _ = writeln!(
            out,
            "  crash detected by all: {} vs {}; by the first member: {} vs {}",
            lat(&c.candidate_detection),
            lat(&c.baseline_detection),
            lat(&c.candidate_first),
            lat(&c.baseline_first)
        );
        if let (Some(t), Some(met), Some(met_h)) = (c.target_fp_ratio, c.met, c.met_for_healthy) {
            let word = |b: bool| if b { "MET" } else { "NOT MET" };
            let _ = writeln!(
                out,
                "  target >= {t}x fewer with detection no worse ({}): on all false positives {}, on healthy members {}",
                if c.detection_no_worse { "it is" } else { "it is NOT" },
                word(met),
                word(met_h)
            );
        }
    }
    let failures: Vec<&RunReport> = r.failures().collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\n{} run(s) FAILED:", failures.len());
        for f in failures {
            let _ = writeln!(out, "  {}", f.violation.as_deref().unwrap_or_default().replace('\n', "\n  "));
        }
    }
    out
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
}
