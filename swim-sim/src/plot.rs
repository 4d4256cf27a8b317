//! SVG plots (plotters): view size over time, the detection-latency distribution, and false
//! positives per variant.

use std::path::Path;

use plotters::prelude::*;

use crate::metrics::RunReport;
use crate::report::ScenarioReport;

type Res = Result<(), String>;

fn e<E: std::fmt::Display>(x: E) -> String {
    x.to_string()
}

fn color(i: usize) -> RGBColor {
    const C: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    C[i % C.len()]
}

/// The first run of each variant (at most `max`).
fn first_runs(r: &ScenarioReport, max: usize) -> Vec<&RunReport> {
    let mut out: Vec<&RunReport> = Vec::new();
    for v in &r.variants {
        if let Some(run) = r.runs.iter().find(|x| x.variant == v.variant && x.violation.is_none()) {
            out.push(run);
        }
        if out.len() == max {
            break;
        }
    }
    out
}

fn label(r: &ScenarioReport, v: &str) -> String {
    if v.is_empty() { r.scenario.clone() } else { v.to_string() }
}

/// Mean and smallest view size of running members over time, one run per variant.
pub fn view_size(r: &ScenarioReport, path: &Path) -> Res {
    let runs = first_runs(r, 8);
    if runs.iter().all(|x| x.samples.is_empty()) {
        return Ok(());
    }
    let tmax = runs.iter().flat_map(|x| x.samples.last()).map(|s| s.t).fold(1.0, f64::max);
    let ymax = runs.iter().flat_map(|x| x.samples.iter()).map(|s| s.view_max as f64).fold(1.0, f64::max) * 1.05;
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{}: view size over time (mean solid, smallest dashed)", r.scenario), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..tmax, 0f64..ymax)
        .map_err(e)?;
    chart.configure_mesh().x_desc("virtual time (s)").y_desc("members in view").draw().map_err(e)?;
    for (i, run) in runs.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(run.samples.iter().map(|s| (s.t, s.view_mean)), c.stroke_width(2)))
            .map_err(e)?
            .label(label(r, &run.variant))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart
            .draw_series(DashedLineSeries::new(
                run.samples.iter().map(|s| (s.t, s.view_min as f64)),
                4,
                3,
                c.stroke_width(1),
            ))
            .map_err(e)?;
    }
    legend_and_present(&mut chart, &root)
}

/// Draw the series legend in the lower right corner, then write the file.
fn legend_and_present<'a>(
    chart: &mut ChartContext<
        'a,
        SVGBackend<'a>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    root: &DrawingArea<SVGBackend<'a>, plotters::coord::Shift>,
) -> Res {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}

/// The distribution (CDF) of detection latency by all members, per variant.
pub fn detection(r: &ScenarioReport, path: &Path) -> Res {
    let mut series: Vec<(String, Vec<f64>)> = Vec::new();
    for v in &r.variants {
        let mut lat: Vec<f64> = r
            .runs
            .iter()
            .filter(|x| x.variant == v.variant)
            .flat_map(|x| x.detections.iter().filter_map(|d| d.all_failed))
            .collect();
        if lat.is_empty() {
            continue;
        }
        lat.sort_by(|a, b| a.total_cmp(b));
        series.push((label(r, &v.variant), lat));
    }
    if series.is_empty() {
        return Ok(());
    }
    series.truncate(10);
    let xmax = series.iter().flat_map(|(_, l)| l.last()).copied().fold(1.0, f64::max) * 1.05;
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{}: crash detected by every member (CDF)", r.scenario), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..xmax, 0f64..1.0f64)
        .map_err(e)?;
    chart.configure_mesh().x_desc("seconds after the crash").y_desc("fraction of crashes").draw().map_err(e)?;
    for (i, (name, lat)) in series.iter().enumerate() {
        let c = color(i);
        let n = lat.len() as f64;
        let mut pts = vec![(0.0, 0.0)];
        for (k, &x) in lat.iter().enumerate() {
            pts.push((x, k as f64 / n));
            pts.push((x, (k + 1) as f64 / n));
        }
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))
            .map_err(e)?
            .label(format!("{name} (n={})", lat.len()))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    legend_and_present(&mut chart, &root)
}

/// False positives per variant (or per first-axis variant, summed over the other axes),
/// stacked by victim: healthy members (dark), slow members, members cut off by a network
/// fault (light).
pub fn false_positives(r: &ScenarioReport, path: &Path, groups: &[(String, Vec<String>)]) -> Res {
    let mut bars: Vec<(String, [u64; 3])> = Vec::new();
    for (name, members) in groups {
        let mut v = [0u64; 3];
        for s in r.variants.iter().filter(|s| members.contains(&s.variant)) {
            let fp = &s.false_positives;
            v[0] += fp.healthy_victims;
            v[1] += fp.slow_victims;
            v[2] += fp.impaired_victims;
        }
        bars.push((name.clone(), v));
    }
    let total = |v: &[u64; 3]| v.iter().sum::<u64>();
    if bars.is_empty() || bars.iter().all(|(_, v)| total(v) == 0) {
        return Ok(());
    }
    let ymax = bars.iter().map(|(_, v)| total(v) as f64).fold(1.0, f64::max) * 1.15;
    let n = bars.len();
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{}: false positives (healthy members dark, slow medium, cut off light)", r.scenario),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..ymax)
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc("members declared failed while alive (events, summed over runs)")
        .draw()
        .map_err(e)?;
    let c = color(1);
    let shades = [c.mix(1.0), c.mix(0.55), c.mix(0.2)];
    for (i, (_, v)) in bars.iter().enumerate() {
        let x = i as f64;
        let mut base = 0.0;
        for (k, &count) in v.iter().enumerate() {
            let top = base + count as f64;
            chart
                .draw_series(std::iter::once(Rectangle::new([(x - 0.35, base), (x + 0.35, top)], shades[k].filled())))
                .map_err(e)?;
            base = top;
        }
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{} ({} healthy)", total(v), v[0]),
                (x - 0.3, base + ymax * 0.03),
                ("sans-serif", 14),
            )))
            .map_err(e)?;
    }
    root.present().map_err(e)
}

/// Every plot of a report into `dir`.
pub fn all(r: &ScenarioReport, dir: &Path, groups: &[(String, Vec<String>)]) -> Res {
    view_size(r, &dir.join("view-size.svg"))?;
    detection(r, &dir.join("detection.svg"))?;
    false_positives(r, &dir.join("false-positives.svg"), groups)
}
