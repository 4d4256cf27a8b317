//! Flap damping (issue 17) at a size that runs in `cargo test`: every target the CLI prints
//! for `flip-flop` and `packet-loss` is asserted on a scaled-down cluster, with damping and,
//! for contrast, without.

use std::sync::atomic::AtomicU64;

use swim_sim::metrics::RunReport;
use swim_sim::runner::{self, PlanOptions};
use swim_sim::scenario::Scenario;

fn run(toml: &str, variant: &str) -> RunReport {
    let s = Scenario::parse(toml, &[]).unwrap();
    let opts = PlanOptions { source: "damping".into(), variant: Some(variant.into()), ..PlanOptions::default() };
    let plans = runner::plan(&s, &opts).unwrap();
    let mut runs = runner::run_all(&plans, 1, u64::MAX, &AtomicU64::new(0), &|_| {});
    let r = runs.remove(0);
    assert_eq!(r.violation, None, "replay: {}", r.replay);
    r
}

const VARIANTS: &str = r#"
[[axes]]
name = "protocol"
[[axes.variants]]
name = "lifeguard"
config.lifeguard = "on"
[[axes.variants]]
name = "damping"
config.lifeguard = "on"
config.damping = "on"
"#;

#[test]
fn flip_floppers_are_held_down_everywhere_and_readmitted_after_the_hold_down() {
    // 100 members, 3 of them blackholed 20 s on, 20 s off, for 200 s (Rapid's experiment).
    let toml = format!(
        r#"
name = "flip-flop-small"
seed = 1
nodes = 100
duration = "420s"
[faults.flip]
kind = "flip_flop"
at = "20s"
duration = "200s"
on = "20s"
off = "20s"
nodes = {{ random = 3 }}
{VARIANTS}"#
    );
    let plain = run(&toml, "lifeguard");
    assert!(plain.damping.max_flaps_per_observer >= 3, "without damping they keep coming back: {:?}", plain.damping);
    let r = run(&toml, "damping");
    let d = &r.damping;
    assert_eq!(d.watched, 3);
    assert!(d.max_flaps_per_observer <= 2, "at most 2 returns per flip-flopper per observer: {d:?}");
    assert!(d.held_disagreement <= 0.05 * d.run, "healthy members agree on the hold-down: {d:?}");
    assert!(d.disagreement < plain.damping.disagreement, "and disagree less about it: {d:?} / {:?}", plain.damping);
    assert_eq!(d.never_all_held, 0, "every healthy member held each down: {d:?}");
    // Readmitted everywhere within the hold-down (120 s) plus dissemination.
    assert_eq!(d.not_back, 0, "{d:?}");
    assert!(d.back_after_fault.is_some_and(|b| b <= 120.0 + 10.0), "{d:?}");
    assert!(r.convergence.at_end, "everyone agrees at the end");
    assert_eq!(r.false_positives.healthy_at_unimpaired, 0);
}

#[test]
fn a_lossy_member_is_held_down_while_the_loss_lasts_and_readmitted_after() {
    // 100 members; one loses 80 % of its packets both ways from 10 s to 250 s.
    let toml = format!(
        r#"
name = "packet-loss-small"
seed = 1
nodes = 100
duration = "420s"
[faults.lossy]
kind = "loss"
at = "10s"
duration = "240s"
nodes = [7]
loss = 0.8
{VARIANTS}"#
    );
    let plain = run(&toml, "lifeguard");
    assert_eq!(plain.damping.never_all_held, 1);
    let r = run(&toml, "damping");
    let d = &r.damping;
    assert!(d.all_held_after.is_some_and(|t| t <= 60.0), "held down everywhere within 60 s: {d:?}");
    assert_eq!(d.readmitted_during_fault, 0, "and kept so while the loss lasts: {d:?}");
    assert_eq!(r.false_positives.healthy_at_unimpaired, 0, "no healthy member declared failed");
    assert!(
        r.false_positives.healthy_at_unimpaired <= plain.false_positives.healthy_at_unimpaired,
        "{:?} / {:?}",
        r.false_positives,
        plain.false_positives
    );
    assert_eq!(d.not_back, 0, "readmitted once the loss ends: {d:?}");
    assert!(d.back_after_fault.is_some_and(|b| b <= 120.0 + 10.0), "{d:?}");
}
