//! Scenario files (TOML) and the built-in scenarios.
//!
//! A scenario is a cluster, a configuration, a network, a start, named faults, and optionally
//! **axes** of variants. Each variant is a partial scenario merged over the base (tables merge
//! key by key, anything else replaces), and a run is made for every combination of one
//! variant per axis, `repeat` times with seeds `seed`, `seed + 1`, ... (the same seeds for
//! every variant, so variants are compared on the same random draws). The full reference is
//! in `docs/simulation.md`; the built-in scenarios in `swim-sim/scenarios/` are examples.
//!
//! ```toml
//! name = "my-test"
//! nodes = 50
//! duration = "300s"
//! repeat = 2
//!
//! [config]
//! lifeguard = "off"
//! probe_interval = "500ms"
//!
//! [network]
//! loss = 0.01
//!
//! [faults.crashes]
//! kind = "crash"
//! at = "60s"
//! every = "30s"
//! count = 4
//! nodes = { random = 1 }
//!
//! [[axes]]
//! name = "protocol"
//! [[axes.variants]]
//! name = "swim"
//! config.lifeguard = "off"
//! [[axes.variants]]
//! name = "lifeguard"
//! config.lifeguard = "on"
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use swim_core::{Config, Lifeguard};

use crate::duration::Dur;
use crate::faults::FaultSpec;
use crate::network::NetworkSpec;
use crate::sim::{SimConfig, StartSpec};

/// The protocol preset a scenario starts from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// memberlist's LAN configuration.
    #[default]
    Lan,
    /// memberlist's WAN configuration.
    Wan,
    /// memberlist's local (loopback) configuration.
    Local,
}

/// A duration, or `"off"` for an optional knob.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OptDur {
    /// `"off"`.
    Off(Off),
    /// A duration.
    On(Dur),
}

/// The word `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Off {
    /// Off.
    Off,
}

impl OptDur {
    fn get(self) -> Option<Duration> {
        match self {
            OptDur::Off(_) => None,
            OptDur::On(d) => Some(d.0),
        }
    }
}

/// `"on"` / `"off"`, or a table of Lifeguard switches on top of `base` (default on).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LifeguardSpec {
    /// All on or all off.
    Switch(OnOff),
    /// Individual switches.
    Table(LifeguardTable),
}

/// On or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnOff {
    /// Every component on (the presets).
    On,
    /// Every component off: plain SWIM with suspicion.
    Off,
}

/// Lifeguard switches; unset ones come from `base`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LifeguardTable {
    /// Where unset switches come from (default on).
    pub base: Option<OnOff>,
    /// Local health multiplier.
    pub awareness: Option<bool>,
    /// Its saturation.
    pub awareness_max_multiplier: Option<u32>,
    /// Scale the probe timeout too.
    pub scale_probe_timeout: Option<bool>,
    /// Nacks.
    pub nack: Option<bool>,
    /// Share of the probe timeout before a helper nacks.
    pub nack_timeout_share: Option<f64>,
    /// Local-health-aware suspicion.
    pub dynamic_suspicion: Option<bool>,
    /// Confirmations to reach the minimum timeout.
    pub suspicion_confirmations: Option<u32>,
    /// Buddy system.
    pub buddy: Option<bool>,
}

/// Limits a scenario may change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSpec {
    /// `limits.max_members`.
    pub max_members: Option<usize>,
    /// `limits.broadcast_queue_depth`.
    pub broadcast_queue_depth: Option<usize>,
    /// `limits.max_pending_transmits`.
    pub max_pending_transmits: Option<usize>,
    /// `limits.max_pending_events`.
    pub max_pending_events: Option<usize>,
    /// `limits.max_relays`.
    pub max_relays: Option<usize>,
    /// `limits.max_stream_message_size`.
    pub max_stream_message_size: Option<usize>,
}

/// Changes to the preset's [`swim_core::Config`]; every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigSpec {
    /// `probe_interval`.
    pub probe_interval: Option<Dur>,
    /// `probe_timeout`.
    pub probe_timeout: Option<Dur>,
    /// `indirect_checks` (k).
    pub indirect_checks: Option<usize>,
    /// `retransmit_mult`.
    pub retransmit_mult: Option<u32>,
    /// `suspicion_mult` (alpha).
    pub suspicion_mult: Option<u32>,
    /// `suspicion_max_timeout_mult` (beta).
    pub suspicion_max_timeout_mult: Option<u32>,
    /// `push_pull_interval` or `"off"`.
    pub push_pull_interval: Option<OptDur>,
    /// `gossip_interval`.
    pub gossip_interval: Option<Dur>,
    /// `gossip_nodes`.
    pub gossip_nodes: Option<usize>,
    /// `gossip_to_the_dead_time`.
    pub gossip_to_the_dead_time: Option<Dur>,
    /// `stream_timeout`.
    pub stream_timeout: Option<Dur>,
    /// `packet_budget`.
    pub packet_budget: Option<usize>,
    /// `dead_node_reclaim_time` or `"off"`.
    pub dead_node_reclaim_time: Option<OptDur>,
    /// `reconnect_interval` or `"off"`.
    pub reconnect_interval: Option<OptDur>,
    /// `reconnect_timeout`.
    pub reconnect_timeout: Option<Dur>,
    /// `max_metadata_size`.
    pub max_metadata_size: Option<usize>,
    /// Lifeguard.
    pub lifeguard: Option<LifeguardSpec>,
    /// Limits.
    pub limits: LimitsSpec,
}

impl ConfigSpec {
    /// The preset with these changes.
    pub fn build(&self, preset: Preset) -> Config {
        let mut c = match preset {
            Preset::Lan => Config::lan(),
            Preset::Wan => Config::wan(),
            Preset::Local => Config::local(),
        };
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { c.$f = v.into(); } )* };
        }
        set!(
            probe_interval,
            probe_timeout,
            indirect_checks,
            retransmit_mult,
            suspicion_mult,
            suspicion_max_timeout_mult,
            gossip_interval,
            gossip_nodes,
            gossip_to_the_dead_time,
            stream_timeout,
            packet_budget,
            reconnect_timeout,
            max_metadata_size
        );
        if let Some(v) = self.push_pull_interval {
            c.push_pull_interval = v.get();
        }
        if let Some(v) = self.dead_node_reclaim_time {
            c.dead_node_reclaim_time = v.get();
        }
        if let Some(v) = self.reconnect_interval {
            c.reconnect_interval = v.get();
        }
        match &self.lifeguard {
            None => {}
            Some(LifeguardSpec::Switch(OnOff::On)) => c.lifeguard = Lifeguard::default(),
            Some(LifeguardSpec::Switch(OnOff::Off)) => c.lifeguard = Lifeguard::disabled(),
            Some(LifeguardSpec::Table(t)) => {
                let mut l = match t.base {
                    Some(OnOff::Off) => Lifeguard::disabled(),
                    _ => Lifeguard::default(),
                };
                macro_rules! lg {
                    ($($f:ident),*) => { $( if let Some(v) = t.$f { l.$f = v; } )* };
                }
                lg!(
                    awareness,
                    awareness_max_multiplier,
                    scale_probe_timeout,
                    nack,
                    nack_timeout_share,
                    dynamic_suspicion,
                    buddy
                );
                if t.suspicion_confirmations.is_some() {
                    l.suspicion_confirmations = t.suspicion_confirmations;
                }
                c.lifeguard = l;
            }
        }
        let l = &self.limits;
        macro_rules! lim {
            ($($f:ident),*) => { $( if let Some(v) = l.$f { c.limits.$f = v; } )* };
        }
        lim!(
            max_members,
            broadcast_queue_depth,
            max_pending_transmits,
            max_pending_events,
            max_relays,
            max_stream_message_size
        );
        c
    }
}

/// Metrics settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSpec {
    /// Sample period for the time series (view sizes, false positives). Default 1 s.
    pub sample_interval: Dur,
    /// Traffic is counted after this (steady-state load). Default 0.
    pub warmup: Dur,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        MetricsSpec { sample_interval: Dur::secs(1), warmup: Dur::default() }
    }
}

/// The liveness check: within how long after the faults heal every running member must hold
/// exactly the running members alive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConvergeCheck {
    /// `"auto"` (a bound from the configuration, see [`convergence_bound`]) or `"off"`.
    Word(AutoOff),
    /// This bound.
    Within(Dur),
}

/// `auto` or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoOff {
    /// Derive the bound.
    Auto,
    /// No liveness check.
    Off,
}

/// Checks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckSpec {
    /// The liveness check after the faults heal (default `"auto"`).
    pub converge: Option<ConvergeCheck>,
}

/// What the report compares.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportSpec {
    /// `[baseline, candidate]`: variant names on the first axis whose false positives and
    /// detection latency are compared (summed over the other axes).
    pub compare: Option<[String; 2]>,
    /// The candidate must have at least this many times fewer false positives.
    pub target_fp_ratio: Option<f64>,
}

/// A scenario after its variant has been merged in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// Name.
    pub name: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// First master seed.
    #[serde(default)]
    pub seed: u64,
    /// Runs per variant (seeds `seed..seed + repeat`).
    #[serde(default = "one")]
    pub repeat: u32,
    /// Cluster size.
    pub nodes: usize,
    /// Virtual length of each run.
    pub duration: Dur,
    /// Protocol preset.
    #[serde(default)]
    pub preset: Preset,
    /// Changes to the preset.
    #[serde(default)]
    pub config: ConfigSpec,
    /// Network.
    #[serde(default)]
    pub network: NetworkSpec,
    /// Start.
    #[serde(default)]
    pub start: StartSpec,
    /// Named faults.
    #[serde(default)]
    pub faults: BTreeMap<String, FaultSpec>,
    /// Metrics.
    #[serde(default)]
    pub metrics: MetricsSpec,
    /// Checks.
    #[serde(default)]
    pub check: CheckSpec,
    /// Report.
    #[serde(default)]
    pub report: ReportSpec,
}

fn one() -> u32 {
    1
}

/// One variant of a scenario: its name and its merged spec.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// `"a / b"`: one variant name per axis (`""` without axes).
    pub name: String,
    /// The name on each axis.
    pub parts: Vec<String>,
    /// The merged spec.
    pub spec: ScenarioSpec,
}

/// A parsed scenario: the base and its variants.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Axis names.
    pub axes: Vec<String>,
    /// Every combination.
    pub variants: Vec<Variant>,
    /// The report settings (of the base).
    pub report: ReportSpec,
}

/// The keys that name a choice rather than a field: a distribution's shape and a node
/// selector. `{ uniform = .. }` over `{ exponential = .. }` replaces it. A unit test checks
/// that every `Shape` and `Selector` variant is listed.
const CHOICES: &[&str] = &["uniform", "exponential", "normal", "lognormal", "pareto", "range", "random", "fraction"];

/// Merge `over` into `base`: tables key by key, anything else replaced. A choice over another
/// choice (a distribution's shape or a node selector: `uniform`, `exponential`, `normal`,
/// `lognormal`, `pareto`, `range`, `random`, `fraction`) replaces it: `{ fraction = .. }`
/// over `{ random = .. }` is not a record with both. Any other table merges, so `config = { suspicion_mult = 5 }` over
/// `config = { lifeguard = "off" }` keeps both.
pub fn merge(base: &mut toml::Table, over: &toml::Table) {
    let choice = |t: &toml::Table| t.len() == 1 && t.keys().all(|k| CHOICES.contains(&k.as_str()));
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o))
                if !(choice(b) && choice(o) && b.keys().next() != o.keys().next()) =>
            {
                merge(b, o)
            }
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Parse `key.path=value` (the value as TOML, or as a string if it is not valid TOML) into a
/// table to merge over a scenario.
pub fn parse_set(s: &str) -> Result<toml::Table, String> {
    let (path, value) = s.split_once('=').ok_or_else(|| format!("--set {s}: expected key=value"))?;
    let value = value.trim();
    let parsed: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let mut keys: Vec<&str> = path.trim().split('.').collect();
    let last = keys.pop().filter(|k| !k.is_empty()).ok_or_else(|| format!("--set {s}: empty key"))?;
    let mut table = toml::Table::new();
    table.insert(last.to_string(), parsed);
    for k in keys.into_iter().rev() {
        let mut t = toml::Table::new();
        t.insert(k.to_string(), toml::Value::Table(table));
        table = t;
    }
    Ok(table)
}

impl Scenario {
    /// Parse a scenario file, applying `sets` (from [`parse_set`]) over the base.
    pub fn parse(text: &str, sets: &[toml::Table]) -> Result<Scenario, String> {
        let mut base: toml::Table = toml::from_str(text).map_err(|e| format!("scenario: {e}"))?;
        for s in sets {
            merge(&mut base, s);
        }
        let axes = match base.remove("axes") {
            None => Vec::new(),
            Some(toml::Value::Array(a)) => a,
            Some(_) => return Err("scenario: `axes` must be an array of tables ([[axes]])".into()),
        };
        let mut axis_names = Vec::new();
        let mut axis_variants: Vec<Vec<(String, toml::Table)>> = Vec::new();
        for (k, a) in axes.into_iter().enumerate() {
            let toml::Value::Table(mut a) = a else { return Err(format!("axes[{k}] must be a table")) };
            let name = match a.remove("name") {
                Some(toml::Value::String(s)) => s,
                _ => format!("axis{k}"),
            };
            let Some(toml::Value::Array(vs)) = a.remove("variants") else {
                return Err(format!("axis `{name}` needs [[axes.variants]]"));
            };
            if let Some(extra) = a.keys().next() {
                return Err(format!("axis `{name}`: unknown key `{extra}`"));
            }
            let mut list = Vec::new();
            for (j, v) in vs.into_iter().enumerate() {
                let toml::Value::Table(mut v) = v else {
                    return Err(format!("axis `{name}` variant {j} must be a table"));
                };
                let vname = match v.remove("name") {
                    Some(toml::Value::String(s)) => s,
                    _ => return Err(format!("axis `{name}` variant {j} needs a name")),
                };
                list.push((vname, v));
            }
            if list.is_empty() {
                return Err(format!("axis `{name}` has no variants"));
            }
            axis_names.push(name);
            axis_variants.push(list);
        }
        // Every combination, first axis outermost.
        let mut combos: Vec<Vec<usize>> = vec![Vec::new()];
        for list in &axis_variants {
            combos =
                combos.into_iter().flat_map(|c| (0..list.len()).map(move |j| [c.clone(), vec![j]].concat())).collect();
        }
        let mut variants = Vec::new();
        for combo in combos {
            let mut t = base.clone();
            let mut parts = Vec::new();
            for (axis, &j) in combo.iter().enumerate() {
                let (vname, over) = &axis_variants[axis][j];
                merge(&mut t, over);
                parts.push(vname.clone());
            }
            for s in sets {
                merge(&mut t, s); // command-line settings win over variants
            }
            let name = parts.join(" / ");
            let spec: ScenarioSpec =
                t.try_into().map_err(|e: toml::de::Error| format!("scenario variant `{name}`: {}", e.message()))?;
            variants.push(Variant { name, parts, spec });
        }
        let first = &variants[0].spec;
        Ok(Scenario {
            name: first.name.clone(),
            description: first.description.clone(),
            axes: axis_names,
            report: first.report.clone(),
            variants,
        })
    }

    /// Parse a built-in scenario by name.
    pub fn builtin(name: &str, sets: &[toml::Table]) -> Option<Result<Scenario, String>> {
        BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, text)| Scenario::parse(text, sets))
    }
}

/// The liveness bound for `cfg`: the longest suspicion, two reconnect (or push-pull) rounds,
/// one push-pull period at this size, and 30 s of gossip and margin.
pub fn convergence_bound(cfg: &SimConfig) -> Duration {
    let c = &cfg.config;
    let n = cfg.nodes;
    let t = c.timings(n);
    let pp = t.push_pull_interval.unwrap_or(Duration::ZERO);
    let reconnect = c.reconnect_interval.or(c.push_pull_interval).unwrap_or(Duration::from_secs(30));
    t.suspicion_max + reconnect * 2 + pp + Duration::from_secs(30)
}

impl ScenarioSpec {
    /// The simulation of this spec with master seed `seed`.
    pub fn sim_config(&self, seed: u64) -> SimConfig {
        SimConfig {
            seed,
            nodes: self.nodes,
            config: self.config.build(self.preset),
            network: self.network.clone(),
            start: self.start.clone(),
            faults: self.faults.clone(),
            duration: self.duration.0,
            sample_interval: self.metrics.sample_interval.0,
            warmup: self.metrics.warmup.0,
            record_events: false,
        }
    }

    /// The liveness bound, if the check is on.
    pub fn converge_within(&self, cfg: &SimConfig) -> Option<Duration> {
        match self.check.converge {
            Some(ConvergeCheck::Word(AutoOff::Off)) => None,
            Some(ConvergeCheck::Within(d)) => Some(d.0),
            Some(ConvergeCheck::Word(AutoOff::Auto)) | None => Some(convergence_bound(cfg)),
        }
    }
}

/// The built-in scenarios: `(name, TOML)`.
pub const BUILTINS: &[(&str, &str)] = &[
    ("lifeguard", include_str!("../scenarios/lifeguard.toml")),
    ("swim-paper", include_str!("../scenarios/swim-paper.toml")),
    ("bootstrap", include_str!("../scenarios/bootstrap.toml")),
    ("packet-loss", include_str!("../scenarios/packet-loss.toml")),
    ("flip-flop", include_str!("../scenarios/flip-flop.toml")),
    ("partition-heal", include_str!("../scenarios/partition-heal.toml")),
    ("mass-restart", include_str!("../scenarios/mass-restart.toml")),
    ("scale", include_str!("../scenarios/scale.toml")),
    ("load", include_str!("../scenarios/load.toml")),
    ("bandwidth", include_str!("../scenarios/bandwidth.toml")),
    ("tuning", include_str!("../scenarios/tuning.toml")),
    ("smoke", include_str!("../scenarios/smoke.toml")),
];

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
        name = "t"
        nodes = 10
        duration = "60s"
        [config]
        lifeguard = "off"
        [faults.c]
        kind = "crash"
        at = "10s"
        nodes = { random = 1 }
        [[axes]]
        name = "protocol"
        [[axes.variants]]
        name = "swim"
        [[axes.variants]]
        name = "lifeguard"
        config.lifeguard = "on"
        [[axes]]
        name = "size"
        [[axes.variants]]
        name = "10"
        [[axes.variants]]
        name = "20"
        nodes = 20
        faults.c.at = "20s"
    "#;

    #[test]
    fn axes_multiply_and_merge() {
        let s = Scenario::parse(TEXT, &[]).unwrap();
        let names: Vec<&str> = s.variants.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["swim / 10", "swim / 20", "lifeguard / 10", "lifeguard / 20"]);
        let v = &s.variants[3].spec;
        assert_eq!(v.nodes, 20);
        assert_eq!(v.faults["c"].at, Dur::secs(20));
        assert_eq!(v.faults["c"].kind, crate::faults::FaultKind::Crash, "merged, not replaced");
        assert!(v.config.build(v.preset).lifeguard.awareness);
        assert!(!s.variants[0].spec.config.build(Preset::Lan).lifeguard.awareness);
    }

    #[test]
    fn every_distribution_shape_and_node_selector_is_a_choice() {
        use crate::dist::Shape;
        use crate::faults::Selector;
        let d = Dur::secs(1);
        let shapes = [
            Shape::Uniform { min: d, max: d },
            Shape::Exponential { mean: d },
            Shape::Normal { mean: d, std_dev: d },
            Shape::Lognormal { median: d, sigma: 1.0 },
            Shape::Pareto { scale: d, shape: 2.0 },
        ];
        let selectors = [Selector::Range([0, 1]), Selector::Random(1), Selector::Fraction(0.5)];
        let keys = shapes
            .iter()
            .map(|x| toml::Value::try_from(x).unwrap())
            .chain(selectors.iter().map(|x| toml::Value::try_from(x).unwrap()));
        for v in keys {
            let t = v.as_table().expect("a one-key table");
            let key = t.keys().next().unwrap();
            assert!(CHOICES.contains(&key.as_str()), "`{key}` is missing from CHOICES");
        }
    }

    #[test]
    fn one_key_tables_are_choices() {
        let mut base: toml::Table = toml::from_str("d = { uniform = { min = \"0\", max = \"1s\" } }").unwrap();
        merge(&mut base, &parse_set("d={ exponential = { mean = \"2s\" } }").unwrap());
        assert_eq!(base["d"].as_table().unwrap().len(), 1);
        merge(&mut base, &parse_set("d.exponential.mean=\"3s\"").unwrap());
        assert_eq!(base["d"]["exponential"]["mean"].as_str(), Some("3s"));
        // One-key tables that are records merge: a setting on the command line does not
        // wipe a variant's other settings of the same table.
        let mut t: toml::Table = toml::from_str("config = { lifeguard = \"off\" }").unwrap();
        merge(&mut t, &parse_set("config.suspicion_mult=5").unwrap());
        assert_eq!(t["config"]["lifeguard"].as_str(), Some("off"));
        assert_eq!(t["config"]["suspicion_mult"].as_integer(), Some(5));
    }

    #[test]
    fn command_line_settings_win() {
        let sets = [parse_set("nodes=7").unwrap(), parse_set("network.loss=0.25").unwrap()];
        let s = Scenario::parse(TEXT, &sets).unwrap();
        assert!(s.variants.iter().all(|v| v.spec.nodes == 7 && v.spec.network.loss == 0.25));
        let t = parse_set("config.lifeguard=off").unwrap();
        assert_eq!(t["config"]["lifeguard"].as_str(), Some("off"));
    }

    #[test]
    fn lifeguard_tables_and_unknown_fields() {
        let c = ConfigSpec {
            lifeguard: Some(LifeguardSpec::Table(LifeguardTable {
                base: Some(OnOff::Off),
                buddy: Some(true),
                ..Default::default()
            })),
            ..Default::default()
        }
        .build(Preset::Lan);
        assert!(c.lifeguard.buddy && !c.lifeguard.awareness && !c.lifeguard.dynamic_suspicion);
        let e = Scenario::parse("name = \"x\"\nnodes = 3\nduration = \"1s\"\nbogus = 1\n", &[]).unwrap_err();
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn builtins_parse_and_build() {
        for (name, _) in BUILTINS {
            let s = Scenario::builtin(name, &[]).unwrap().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&s.name, name);
            for v in &s.variants {
                let cfg = v.spec.sim_config(v.spec.seed);
                cfg.config.validate().unwrap_or_else(|e| panic!("{name} / {}: {e}", v.name));
                cfg.network.validate(cfg.nodes).unwrap();
            }
        }
    }
}
