//! SVG plots (plotters): view size over time, the detection-latency distribution, and false
//! positives per variant.
//!
//! A scenario's first axis (the protocol, in the built-in comparisons) sets a line's colour,
//! one colour per variant of that axis; the other axes (the number of slow members, say) each
//! get a panel of their own. One legend above the panels lists every colour once, so nothing
//! is cut off however many variants there are (up to [`MAX_PANELS`] panels; a caption says
//! when more were left out).

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::metrics::RunReport;
use crate::report::ScenarioReport;

type Res = Result<(), String>;
type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn e<E: std::fmt::Display>(x: E) -> String {
    x.to_string()
}

/// Colours of the first [`PALETTE`]`.len()` protocols (matplotlib's `tab10`: distinct, and
/// told apart by most colour-blind readers).
const PALETTE: [RGBColor; 10] = [
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

/// Dash patterns (`(dash, gap)` in pixels, `None`: solid) that tell protocols apart once the
/// palette's colours are used up: styles are distinct for up to `PALETTE.len() * DASHES.len()`
/// (40) protocols.
const DASHES: [Option<(u32, u32)>; 4] = [None, Some((10, 5)), Some((3, 3)), Some((14, 4))];

/// Most panels one plot draws (one per combination of the axes after the first); the caption
/// names how many were left out beyond this.
pub const MAX_PANELS: usize = 12;

/// The colour and dash pattern of protocol `i` (first-axis variant `i`).
pub fn style(i: usize) -> (RGBColor, Option<(u32, u32)>) {
    (PALETTE[i % PALETTE.len()], DASHES[(i / PALETTE.len()) % DASHES.len()])
}

/// Where each variant of a report is drawn: its protocol (the first axis: the colour) and its
/// panel (the other axes).
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Protocols in variant order.
    pub protocols: Vec<String>,
    /// Panel names in variant order (`""`: the only panel, when there is one axis or none).
    pub panels: Vec<String>,
    /// `(protocol, panel)` of each of the report's variants.
    pub place: Vec<(usize, usize)>,
}

/// The layout of `r`'s variants.
pub fn layout(r: &ScenarioReport) -> Layout {
    let mut l = Layout { protocols: Vec::new(), panels: Vec::new(), place: Vec::new() };
    fn index(list: &mut Vec<String>, s: String) -> usize {
        match list.iter().position(|x| *x == s) {
            Some(i) => i,
            None => {
                list.push(s);
                list.len() - 1
            }
        }
    }
    for (k, v) in r.variants.iter().enumerate() {
        let parts = r.parts.get(k).filter(|p| !p.is_empty());
        let (protocol, panel) = match parts {
            Some(p) => (p[0].clone(), p[1..].join(" / ")),
            None => (label(r, &v.variant), String::new()),
        };
        let place = (index(&mut l.protocols, protocol), index(&mut l.panels, panel));
        l.place.push(place);
    }
    l
}

fn label(r: &ScenarioReport, v: &str) -> String {
    if v.is_empty() { r.scenario.clone() } else { v.to_string() }
}

/// A legend entry: text, colour, dash pattern, line width.
type Entry = (String, RGBColor, Option<(u32, u32)>, u32);

/// The legend of the protocols in `used`: each colour once.
fn protocol_legend(l: &Layout, used: &[usize]) -> Vec<Entry> {
    let mut used = used.to_vec();
    used.sort_unstable();
    used.dedup();
    used.into_iter()
        .map(|i| {
            let (c, dash) = style(i);
            (l.protocols[i].clone(), c, dash, 3)
        })
        .collect()
}

const WIDTH: u32 = 1200;
const PANEL_HEIGHT: u32 = 330;
const LEGEND_FONT: u32 = 15;
const LEGEND_ROW: u32 = 24;

/// Roughly how wide `s` is at the legend's font size (the SVG backend measures no text).
fn text_width(s: &str) -> u32 {
    s.chars().count() as u32 * LEGEND_FONT / 2
}

/// Line segments of a dashed (or solid) line from `x0` to `x1` at height `y`.
fn dashes(x0: i32, x1: i32, y: i32, dash: Option<(u32, u32)>) -> Vec<Vec<(i32, i32)>> {
    match dash {
        None => vec![vec![(x0, y), (x1, y)]],
        Some((on, off)) => {
            let mut out = Vec::new();
            let mut x = x0;
            while x < x1 {
                out.push(vec![(x, y), ((x + on as i32).min(x1), y)]);
                x += (on + off) as i32;
            }
            out
        }
    }
}

/// Rows of legend entries that fit the width.
fn legend_rows(entries: &[Entry]) -> Vec<Vec<&Entry>> {
    let mut rows: Vec<Vec<&Entry>> = vec![Vec::new()];
    let mut x = 20;
    for en in entries {
        let w = 40 + text_width(&en.0) + 24;
        if x + w > WIDTH - 20 && rows.last().is_some_and(|r| !r.is_empty()) {
            rows.push(Vec::new());
            x = 20;
        }
        x += w;
        if let Some(r) = rows.last_mut() {
            r.push(en);
        }
    }
    rows
}

/// A figure of `panels` panels under a title and one legend; the root (to present) and the
/// panel areas.
fn figure<'a>(
    path: &'a Path,
    title: &str,
    legend: &[Entry],
    panels: usize,
) -> Result<(Area<'a>, Vec<Area<'a>>), String> {
    let rows = legend_rows(legend);
    let top = 44 + rows.len() as u32 * LEGEND_ROW + 8;
    let cols = match panels {
        0 | 1 => 1,
        2 | 4 => 2,
        _ => 3,
    };
    let grid_rows = panels.max(1).div_ceil(cols);
    let height = top + grid_rows as u32 * PANEL_HEIGHT;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let (head, body) = root.split_vertically(top);
    head.draw(&Text::new(title.to_string(), (20, 12), ("sans-serif", 20))).map_err(e)?;
    for (k, row) in rows.iter().enumerate() {
        let y = 44 + k as i32 * LEGEND_ROW as i32 + 8;
        let mut x = 20i32;
        for (text, c, dash, width) in row.iter().copied() {
            for seg in dashes(x, x + 34, y, *dash) {
                head.draw(&PathElement::new(seg, c.stroke_width(*width))).map_err(e)?;
            }
            head.draw(&Text::new(text.clone(), (x + 40, y - 8), ("sans-serif", LEGEND_FONT))).map_err(e)?;
            x += (40 + text_width(text) + 24) as i32;
        }
    }
    let areas = body.split_evenly((grid_rows, cols)).into_iter().take(panels.max(1)).collect();
    Ok((root, areas))
}

/// A panel's axes.
fn panel<'a, 'b>(
    area: &'a Area<'b>,
    caption: &str,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
    descs: (&str, &str),
) -> Result<Chart<'a, 'b>, String> {
    let mut b = ChartBuilder::on(area);
    if !caption.is_empty() {
        b.caption(caption, ("sans-serif", 16));
    }
    let mut chart = b
        .margin(10)
        .margin_right(22)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(x, y)
        .map_err(e)?;
    chart.configure_mesh().x_desc(descs.0).y_desc(descs.1).draw().map_err(e)?;
    Ok(chart)
}

/// Draw `pts` in protocol `i`'s style, `width` pixels wide, with `dash` instead of the
/// protocol's own pattern if given.
fn line(chart: &mut Chart<'_, '_>, pts: Vec<(f64, f64)>, i: usize, width: u32, dash: Option<(u32, u32)>) -> Res {
    let (c, own) = style(i);
    match dash.or(own) {
        None => chart.draw_series(LineSeries::new(pts, c.stroke_width(width))).map(|_| ()).map_err(e),
        Some((on, off)) => {
            chart.draw_series(DashedLineSeries::new(pts, on, off, c.stroke_width(width))).map(|_| ()).map_err(e)
        }
    }
}

/// The panels that have something to draw, at most [`MAX_PANELS`], and a note if some were
/// left out.
fn shown_panels(used: &[usize]) -> (Vec<usize>, String) {
    let mut p = used.to_vec();
    p.sort_unstable();
    p.dedup();
    let all = p.len();
    p.truncate(MAX_PANELS);
    let note = if all > p.len() { format!(" (first {} of {all} panels)", p.len()) } else { String::new() };
    (p, note)
}

/// The first successful run of each variant.
fn first_runs(r: &ScenarioReport) -> Vec<(usize, &RunReport)> {
    r.variants
        .iter()
        .enumerate()
        .filter_map(|(k, v)| r.runs.iter().find(|x| x.variant == v.variant && x.violation.is_none()).map(|x| (k, x)))
        .collect()
}

/// Mean and smallest view size of running members over time, one run per variant.
pub fn view_size(r: &ScenarioReport, path: &Path) -> Res {
    let l = layout(r);
    let runs: Vec<(usize, &RunReport)> = first_runs(r).into_iter().filter(|(_, x)| !x.samples.is_empty()).collect();
    if runs.is_empty() {
        return Ok(());
    }
    let tmax = runs.iter().flat_map(|(_, x)| x.samples.last()).map(|s| s.t).fold(1.0, f64::max);
    let ymax = runs.iter().flat_map(|(_, x)| x.samples.iter()).map(|s| s.view_max as f64).fold(1.0, f64::max) * 1.05;
    let used: Vec<usize> = runs.iter().map(|(k, _)| l.place[*k].1).collect();
    let (panels, note) = shown_panels(&used);
    let mut legend = protocol_legend(&l, &runs.iter().map(|(k, _)| l.place[*k].0).collect::<Vec<_>>());
    legend.push(("mean view size (thick)".into(), BLACK, None, 3));
    legend.push(("smallest view (thin, dotted)".into(), BLACK, Some((2, 3)), 1));
    let title = format!("{}: view size over time, first run of each variant{note}", r.scenario);
    let (root, areas) = figure(path, &title, &legend, panels.len())?;
    for (area, &p) in areas.iter().zip(&panels) {
        let mut chart = panel(area, &l.panels[p], 0f64..tmax, 0f64..ymax, ("virtual time (s)", "members in view"))?;
        for (k, run) in runs.iter().filter(|(k, _)| l.place[*k].1 == p) {
            let i = l.place[*k].0;
            line(&mut chart, run.samples.iter().map(|s| (s.t, s.view_mean)).collect(), i, 2, None)?;
            line(&mut chart, run.samples.iter().map(|s| (s.t, s.view_min as f64)).collect(), i, 1, Some((2, 3)))?;
        }
    }
    root.present().map_err(e)
}

/// The distribution (CDF) of detection latency by all members: one line per variant, coloured
/// by protocol, one panel per combination of the other axes.
pub fn detection(r: &ScenarioReport, path: &Path) -> Res {
    let l = layout(r);
    let mut series: Vec<(usize, Vec<f64>)> = Vec::new();
    for (k, v) in r.variants.iter().enumerate() {
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
        series.push((k, lat));
    }
    if series.is_empty() {
        return Ok(());
    }
    let xmax = series.iter().flat_map(|(_, v)| v.last()).copied().fold(1.0, f64::max) * 1.05;
    let used: Vec<usize> = series.iter().map(|(k, _)| l.place[*k].1).collect();
    let (panels, note) = shown_panels(&used);
    let legend = protocol_legend(&l, &series.iter().map(|(k, _)| l.place[*k].0).collect::<Vec<_>>());
    let title = format!("{}: crash detected by every member, CDF over all runs{note}", r.scenario);
    let (root, areas) = figure(path, &title, &legend, panels.len())?;
    for (area, &p) in areas.iter().zip(&panels) {
        let here: Vec<&(usize, Vec<f64>)> = series.iter().filter(|(k, _)| l.place[*k].1 == p).collect();
        let counts: Vec<usize> = here.iter().map(|(_, v)| v.len()).collect();
        let (lo, hi) = (counts.iter().min().copied().unwrap_or(0), counts.iter().max().copied().unwrap_or(0));
        let n = if lo == hi { format!("{lo} crashes each") } else { format!("{lo} to {hi} crashes") };
        let caption = if l.panels[p].is_empty() { n } else { format!("{} ({n})", l.panels[p]) };
        let mut chart =
            panel(area, &caption, 0f64..xmax, 0f64..1.0f64, ("seconds after the crash", "fraction of crashes"))?;
        for (k, lat) in here {
            let n = lat.len() as f64;
            let mut pts = vec![(0.0, 0.0)];
            for (j, &x) in lat.iter().enumerate() {
                pts.push((x, j as f64 / n));
                pts.push((x, (j + 1) as f64 / n));
            }
            line(&mut chart, pts, l.place[*k].0, 2, None)?;
        }
    }
    root.present().map_err(e)
}

/// False positives per variant (or per first-axis variant, summed over the other axes),
/// stacked by victim: healthy members (dark), slow members, members cut off by a network
/// fault (light), in the protocol's colour.
pub fn false_positives(r: &ScenarioReport, path: &Path, groups: &[(String, Vec<String>)]) -> Res {
    let l = layout(r);
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
    for (i, (name, v)) in bars.iter().enumerate() {
        // The protocol's colour when the bar is one protocol; the first colour otherwise.
        let c = style(l.protocols.iter().position(|p| p == name).unwrap_or(0)).0;
        let shades = [c.mix(1.0), c.mix(0.55), c.mix(0.2)];
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use crate::truth::Detection;

    /// Five protocols by four slow counts, like the `lifeguard` scenario: 20 lines.
    fn report() -> ScenarioReport {
        let mut text =
            String::from("name = \"plots\"\nnodes = 10\nduration = \"100s\"\n[[axes]]\nname = \"protocol\"\n");
        for p in ["swim", "lha-probe", "lha-suspicion", "buddy", "lifeguard"] {
            text.push_str(&format!("[[axes.variants]]\nname = \"{p}\"\n"));
        }
        text.push_str("[[axes]]\nname = \"slow\"\n");
        for s in 1..=4 {
            text.push_str(&format!("[[axes.variants]]\nname = \"{s} slow\"\n"));
        }
        let s = Scenario::parse(&text, &[]).unwrap();
        let runs = s
            .variants
            .iter()
            .enumerate()
            .map(|(k, v)| RunReport {
                variant: v.name.clone(),
                detections: (0..6)
                    .map(|j| Detection {
                        node: j,
                        crashed_at: 10.0,
                        known_by: 9,
                        first_suspect: Some(1.0),
                        first_failed: Some(5.0),
                        all_failed: Some(8.0 + k as f64 * 0.1 + j as f64),
                        censored: false,
                    })
                    .collect(),
                ..RunReport::default()
            })
            .collect();
        ScenarioReport::new(&s, runs)
    }

    #[test]
    fn one_colour_per_protocol_and_one_panel_per_slow_count() {
        let r = report();
        let l = layout(&r);
        assert_eq!(l.protocols, ["swim", "lha-probe", "lha-suspicion", "buddy", "lifeguard"]);
        assert_eq!(l.panels, ["1 slow", "2 slow", "3 slow", "4 slow"]);
        let colours: std::collections::BTreeSet<(u8, u8, u8)> =
            (0..l.protocols.len()).map(|i| style(i).0).map(|c| (c.0, c.1, c.2)).collect();
        assert_eq!(colours.len(), l.protocols.len(), "distinct colours");
        let styles: std::collections::BTreeSet<_> =
            (0..PALETTE.len() * DASHES.len()).map(|i| (style(i).0.0, style(i).0.1, style(i).0.2, style(i).1)).collect();
        assert_eq!(styles.len(), 40, "40 protocols still have distinct styles");
    }

    #[test]
    fn the_detection_legend_holds_every_protocol_once_in_its_colour() {
        let r = report();
        let dir = std::env::temp_dir().join(format!("swim-sim-plot-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("detection.svg");
        detection(&r, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        // The text of every <text> element.
        let texts: Vec<&str> = svg
            .split("<text")
            .skip(1)
            .filter_map(|t| t.split_once('>').and_then(|(_, rest)| rest.split_once("</text>")).map(|(x, _)| x.trim()))
            .collect();
        let l = layout(&r);
        for (i, p) in l.protocols.iter().enumerate() {
            assert_eq!(texts.iter().filter(|t| *t == p).count(), 1, "`{p}` once in the legend: {texts:?}");
            let c = style(i).0;
            let hex = format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
            assert!(svg.contains(&hex), "{p}'s colour {hex} is drawn");
        }
        for s in &l.panels {
            assert!(texts.contains(&format!("{s} (6 crashes each)").as_str()), "panel `{s}`: {texts:?}");
        }
        assert!(!svg.contains("first 12 of"), "nothing left out");
    }
}
