//! Golden trace digests: the behaviour of the protocol, pinned.
//!
//! Each case below runs a small version of a built-in scenario (or a swarm seed) and compares
//! its trace digest (every transmit's bytes, delivery, timer, event and fault, in order) with
//! the one committed in `tests/golden/digests.txt`. A refactor leaves every digest as it was;
//! a change of behaviour changes some of them, and the commit that makes it regenerates the
//! file on purpose and says why:
//!
//! ```sh
//! SWIM_UPDATE_GOLDEN=1 cargo test -p swim-sim --test golden
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

use swim_sim::runner::{self, PlanOptions};
use swim_sim::scenario::{Scenario, parse_set};
use swim_sim::swarm;

/// A built-in scenario shrunk by `sets` so the whole file runs in seconds.
const SCENARIOS: &[(&str, &[&str])] = &[
    ("smoke", &[]),
    ("partition-heal", &["nodes=24", "duration=\"300s\"", "repeat=1", "faults.split.duration=\"60s\""]),
    ("mass-restart", &["nodes=48", "duration=\"200s\"", "repeat=1"]),
    ("lifeguard", &["nodes=32", "duration=\"150s\"", "repeat=1", "faults.crashes.count=3"]),
    ("flip-flop", &["nodes=40", "duration=\"150s\"", "faults.flip.duration=\"80s\"", "faults.flip.nodes={random=2}"]),
];

/// Swarm seeds: random sizes, configurations (Lifeguard on and off, reconnect off, ...) and
/// fault schedules.
const SWARM_SEEDS: std::ops::Range<u64> = 0..12;

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/digests.txt")
}

fn measure() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, sets) in SCENARIOS {
        let tables: Vec<toml::Table> = sets.iter().map(|s| parse_set(s).unwrap()).collect();
        let scenario = Scenario::builtin(name, &tables).expect("built-in scenario").unwrap();
        let opts = PlanOptions {
            source: name.to_string(),
            sets: sets.iter().map(|s| s.to_string()).collect(),
            ..PlanOptions::default()
        };
        let plans = runner::plan(&scenario, &opts).unwrap();
        let runs = runner::run_all(&plans, 2, u64::MAX, &AtomicU64::new(0), &|_| {});
        for r in runs {
            out.insert(format!("{name} [{}] seed {}", r.variant, r.seed), r.digest);
        }
    }
    for seed in SWARM_SEEDS {
        let r = runner::run(&swarm::draw(seed), &AtomicU64::new(0));
        out.insert(format!("swarm seed {seed}"), r.digest);
    }
    out
}

fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (case, digest) = l.rsplit_once(" = ").expect("`case = digest`");
            (case.to_string(), digest.to_string())
        })
        .collect()
}

fn render(digests: &BTreeMap<String, String>) -> String {
    let mut s = String::from(
        "# Trace digests of tests/golden.rs's cases. A change here is a change of behaviour:\n\
         # regenerate with `SWIM_UPDATE_GOLDEN=1 cargo test -p swim-sim --test golden` and say why\n\
         # in the commit message.\n",
    );
    for (case, digest) in digests {
        s.push_str(&format!("{case} = {digest}\n"));
    }
    s
}

#[test]
fn trace_digests_match_the_committed_golden_file() {
    let now = measure();
    let path = golden_path();
    if std::env::var_os("SWIM_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, render(&now)).unwrap();
        eprintln!("wrote {} digests to {}", now.len(), path.display());
        return;
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; create it with SWIM_UPDATE_GOLDEN=1", path.display()));
    let golden = parse(&text);
    let mut diffs = Vec::new();
    for (case, digest) in &now {
        match golden.get(case) {
            Some(g) if g == digest => {}
            Some(g) => diffs.push(format!("  {case}: golden {g}, now {digest}")),
            None => diffs.push(format!("  {case}: not in the golden file (now {digest})")),
        }
    }
    for case in golden.keys().filter(|c| !now.contains_key(*c)) {
        diffs.push(format!("  {case}: in the golden file but no longer run"));
    }
    assert!(
        diffs.is_empty(),
        "behaviour changed: {} of {} trace digests differ from {}:\n{}\n\
         If the change is deliberate, regenerate with\n    \
         SWIM_UPDATE_GOLDEN=1 cargo test -p swim-sim --test golden\nand say why in the commit message.",
        diffs.len(),
        now.len(),
        path.display(),
        diffs.join("\n")
    );
}
