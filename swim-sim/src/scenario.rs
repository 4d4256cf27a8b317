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
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use swim_core::coordinates::CoordinateConfig;
use swim_core::{Config, Lifeguard};

use crate::config::{PhaseSpec, VersionsSpec};
use crate::duration::Dur;
use crate::faults::{FaultKind, FaultSpec};
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

/// The wire format every member speaks (`config.wire`): `"swim"` (the default) or
/// `"memberlist"` (Go memberlist's, [`Config::memberlist_wire`]; see [`crate::connections`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireSpec {
    /// swim's own format.
    #[default]
    Swim,
    /// Go memberlist's format, with the versions memberlist advertises
    /// ([`Config::memberlist_wire`]; `config.versions` may change them afterwards).
    Memberlist,
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

/// Flap damping (`Config::damping`): `"on"` (the defaults), `"off"`, or a table of
/// `swim_core::Damping`'s fields over the defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DampingSpec {
    /// The defaults, or off.
    Switch(OnOff),
    /// Fields over the defaults.
    Table(DampingTable),
}

/// `swim_core::Damping`'s fields; unset ones are the defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DampingTable {
    /// Points a death adds.
    pub death_penalty: Option<u32>,
    /// Points an incarnation step adds.
    pub refutation_penalty: Option<u32>,
    /// Held down at this penalty.
    pub suppress: Option<u32>,
    /// Readmitted at this penalty.
    pub reuse: Option<u32>,
    /// The penalty's cap.
    pub max_penalty: Option<u32>,
    /// Decay from the cap to `reuse`.
    pub hold_down: Option<Dur>,
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

/// `config.coordinates`: `"on"`, `"off"`, or settings over Serf's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CoordinatesSpec {
    /// On with the defaults, or off.
    Switch(OnOff),
    /// On, with these settings.
    Table(CoordinatesTable),
}

/// Coordinate settings (`swim_core::coordinates::CoordinateConfig`); unset ones keep their
/// defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoordinatesTable {
    /// `dimensionality`.
    pub dimensionality: Option<usize>,
    /// `vivaldi_error_max`.
    pub vivaldi_error_max: Option<f64>,
    /// `vivaldi_ce`.
    pub vivaldi_ce: Option<f64>,
    /// `vivaldi_cc`.
    pub vivaldi_cc: Option<f64>,
    /// `adjustment_window`.
    pub adjustment_window: Option<usize>,
    /// `height_min`.
    pub height_min: Option<Dur>,
    /// `latency_filter_size`.
    pub latency_filter_size: Option<usize>,
    /// `gravity_rho`.
    pub gravity_rho: Option<f64>,
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
    /// `limits.max_app_state` (lower it with `max_stream_message_size`).
    pub max_app_state: Option<usize>,
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
    /// Vivaldi network coordinates (`Config::coordinates`): `"on"` (Serf's defaults), `"off"`,
    /// or a table of settings over the defaults.
    pub coordinates: Option<CoordinatesSpec>,
    /// Flap damping.
    pub damping: Option<DampingSpec>,
    /// `versions`: `{ protocol = [min, max, current], application = [min, max, current] }`.
    pub versions: Option<VersionsSpec>,
    /// `wire`: `"swim"` or `"memberlist"`.
    pub wire: Option<WireSpec>,
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
        if self.wire == Some(WireSpec::Memberlist) {
            c = c.memberlist_wire();
        }
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
        if let Some(v) = &self.versions {
            c.versions = v.apply(c.versions);
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
        match &self.coordinates {
            None => {}
            Some(CoordinatesSpec::Switch(OnOff::Off)) => c.coordinates = None,
            Some(CoordinatesSpec::Switch(OnOff::On)) => c.coordinates = Some(CoordinateConfig::default()),
            Some(CoordinatesSpec::Table(t)) => {
                let mut k = CoordinateConfig::default();
                macro_rules! co {
                    ($($f:ident),*) => { $( if let Some(v) = t.$f { k.$f = v.into(); } )* };
                }
                co!(
                    dimensionality,
                    vivaldi_error_max,
                    vivaldi_ce,
                    vivaldi_cc,
                    adjustment_window,
                    height_min,
                    latency_filter_size,
                    gravity_rho
                );
                c.coordinates = Some(k);
            }
        }
        match &self.damping {
            None => {}
            Some(DampingSpec::Switch(OnOff::On)) => c.damping = Some(swim_core::Damping::default()),
            Some(DampingSpec::Switch(OnOff::Off)) => c.damping = None,
            Some(DampingSpec::Table(t)) => {
                let mut d = swim_core::Damping::default();
                macro_rules! dm {
                    ($($f:ident),*) => { $( if let Some(v) = t.$f { d.$f = v; } )* };
                }
                dm!(death_penalty, refutation_penalty, suppress, reuse, max_penalty);
                if let Some(h) = t.hold_down {
                    d.hold_down = h.0;
                }
                c.damping = Some(d);
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
            max_stream_message_size,
            max_app_state
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
    /// Named phases of the run (`[{ name = "...", at = "60s" }, ...]`, in time order): packets
    /// per envelope version are reported per phase. Default: none (one phase).
    pub phases: Vec<PhaseSpec>,
    /// Period of the coordinate error measurements (median and p90 relative error of
    /// estimated against true RTT, see [`crate::coordinates`]); 0 for none. Default 0.
    pub coordinate_interval: Dur,
    /// Most member pairs measured each time: all pairs when there are no more, otherwise a
    /// seeded sample of this many (1 to [`crate::coordinates::MAX_COORDINATE_PAIRS`]).
    /// Default 5000.
    pub coordinate_pairs: usize,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        MetricsSpec {
            sample_interval: Dur::secs(1),
            warmup: Dur::default(),
            phases: Vec::new(),
            coordinate_interval: Dur::default(),
            coordinate_pairs: crate::config::DEFAULT_COORDINATE_PAIRS,
        }
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
    /// Where the target comes from, printed next to it (e.g. the paper's figure).
    pub target_note: Option<String>,
    /// The coordinates' median relative error of estimated against true RTT must be at most
    /// this (0.15: 15 %) at the measurement at or after `target_coordinate_within`, and at
    /// every later one.
    pub target_coordinate_error: Option<f64>,
    /// When `target_coordinate_error` must be reached. Default: the end of the run.
    pub target_coordinate_within: Option<Dur>,
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

/// Largest cluster a scenario may ask for. Every member keeps a record of every other, so a run
/// holds about 100 bytes per pair of members ([`crate::runner::estimated_memory`]): 10,000
/// members take 8.3 GiB, 50,000 about 230 GiB, more than any machine this was run on.
pub const MAX_NODES: usize = 50_000;

/// Most runs per variant (`repeat`).
pub const MAX_REPEAT: u32 = 10_000;

/// Longest virtual run (`duration`): 30 days.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Most periodic samples one run keeps (`duration / metrics.sample_interval`); each is a few
/// dozen bytes.
pub const MAX_SAMPLES: u128 = 1_000_000;

/// Largest datagram the network may carry (`network.mtu`): UDP's limit.
pub const MAX_MTU: usize = 65_535;

/// One `--set` argument: as typed (named in error messages) and as the table merged over the
/// scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// The argument as given: `network.loss=0.05`.
    pub arg: String,
    /// What [`parse_set`] made of it.
    pub table: toml::Table,
}

impl Setting {
    /// Parse a `key.path=value` argument.
    pub fn parse(arg: &str) -> Result<Setting, String> {
        Ok(Setting { arg: arg.to_string(), table: parse_set(arg)? })
    }

    /// A setting known only by its table: its argument is rebuilt as `key.path=value`.
    fn from_table(table: &toml::Table) -> Setting {
        let mut keys = Vec::new();
        let mut t = table;
        let value = loop {
            match t.iter().next() {
                Some((k, toml::Value::Table(inner))) if t.len() == 1 && inner.len() == 1 => {
                    keys.push(k.as_str());
                    t = inner;
                }
                Some((k, v)) if t.len() == 1 => {
                    keys.push(k.as_str());
                    break v.to_string();
                }
                _ => break toml::Value::Table(t.clone()).to_string(),
            }
        };
        Setting { arg: format!("{}={value}", keys.join(".")), table: table.clone() }
    }
}

/// One step of a field's path in a scenario: a key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn keys(path: &[&str]) -> Vec<Seg> {
    path.iter().map(|k| Seg::Key(k.to_string())).collect()
}

/// `faults.slow.nodes`, `network.links[0].loss`.
fn show(field: &[Seg]) -> String {
    let mut s = String::new();
    for seg in field {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => {
                let _ = write!(s, "[{i}]");
            }
        }
    }
    s
}

/// A value that does not make sense, in one field of one variant.
#[derive(Debug)]
struct Problem {
    field: Vec<Seg>,
    message: String,
}

/// How far `field` reaches into a table with spans: the span of the deepest key (or array
/// element) found, and whether this table decides the field's value (it holds the whole path,
/// or a plain value at a prefix of it that replaces everything below).
fn reach_spanned(root: &toml::de::DeTable<'_>, field: &[Seg]) -> (Option<std::ops::Range<usize>>, bool) {
    use toml::de::DeValue;
    let mut deepest = None;
    let mut table = Some(root);
    let mut array: Option<&[toml::Spanned<DeValue<'_>>]> = None;
    for seg in field {
        let value = match (seg, table, array) {
            (Seg::Key(k), Some(t), _) => match t.iter().find(|(key, _)| key.get_ref() == k) {
                Some((key, v)) => {
                    deepest = Some(key.span());
                    v
                }
                None => return (deepest, false),
            },
            (Seg::Index(i), _, Some(a)) => match a.get(*i) {
                Some(v) => {
                    deepest = Some(v.span());
                    v
                }
                None => return (deepest, false),
            },
            // A plain value where the path goes on: it replaced everything below.
            _ => return (deepest, true),
        };
        (table, array) = match value.get_ref() {
            DeValue::Table(t) => (Some(t), None),
            DeValue::Array(a) => (None, Some(&a[..])),
            _ => (None, None),
        };
    }
    (deepest, true)
}

/// Whether a `--set` table decides `field` (see [`reach_spanned`]).
fn reach_plain(root: &toml::Table, field: &[Seg]) -> bool {
    let mut v: Option<&toml::Value> = None;
    for seg in field {
        let next = match (seg, v) {
            (Seg::Key(k), None) => root.get(k),
            (Seg::Key(k), Some(toml::Value::Table(t))) => t.get(k),
            (Seg::Index(i), Some(toml::Value::Array(a))) => a.get(*i),
            (_, Some(_)) => return true,
            (Seg::Index(_), None) => return false,
        };
        match next {
            Some(n) => v = Some(n),
            None => return false,
        }
    }
    true
}

/// Finds where a field's value came from: a line of the scenario file or a `--set` argument.
struct Locator<'a> {
    /// How to name the file: its path, or `built-in <name>.toml`.
    file: &'a str,
    text: &'a str,
    /// The file with spans (absent only if it did not parse, and then nothing is located).
    doc: Option<&'a toml::de::DeTable<'a>>,
    sets: &'a [Setting],
}

impl Locator<'_> {
    fn line(&self, span: &std::ops::Range<usize>) -> usize {
        self.text.get(..span.start).map_or(0, |t| t.matches('\n').count()) + 1
    }

    /// The table of variant `j` of axis `axis`, with spans.
    fn variant_table(&self, axis: usize, j: usize) -> Option<&toml::de::DeTable<'_>> {
        use toml::de::DeValue;
        let (_, axes) = self.doc?.iter().find(|(k, _)| k.get_ref() == "axes")?;
        let DeValue::Array(axes) = axes.get_ref() else { return None };
        let DeValue::Table(a) = axes.get(axis)?.get_ref() else { return None };
        let (_, vs) = a.iter().find(|(k, _)| k.get_ref() == "variants")?;
        let DeValue::Array(vs) = vs.get_ref() else { return None };
        match vs.get(j)?.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        }
    }

    /// `my.toml, line 12` or `--set network.loss=5`: where the value of `field` in the variant
    /// made of `combo` (one variant index per axis) was set. Settings win over variants, later
    /// axes over earlier ones, variants over the base; a field no layer sets is located at the
    /// nearest enclosing table the file has.
    fn origin(&self, combo: &[usize], field: &[Seg]) -> String {
        if let Some(s) = self.sets.iter().rev().find(|s| reach_plain(&s.table, field)) {
            return format!("--set {}", s.arg);
        }
        for (axis, &j) in combo.iter().enumerate().rev() {
            if let Some(t) = self.variant_table(axis, j)
                && let (Some(span), true) = reach_spanned(t, field)
            {
                return format!("{}, line {}", self.file, self.line(&span));
            }
        }
        match self.doc.map(|d| reach_spanned(d, field)) {
            Some((Some(span), _)) => format!("{}, line {}", self.file, self.line(&span)),
            _ => self.file.to_string(),
        }
    }

    /// The error message for `message` about `field` of the variant `variant` (`combo`).
    fn error(&self, scenario: &str, variant: &str, combo: &[usize], field: &[Seg], message: &str) -> String {
        let v = if variant.is_empty() { String::new() } else { format!(", variant `{variant}`") };
        let f = if field.is_empty() { String::new() } else { format!(", field `{}`", show(field)) };
        format!("{}: scenario `{scenario}`{v}{f}: {message}", self.origin(combo, field))
    }
}

/// serde's "data did not match any variant of untagged enum X", said with the forms X takes.
fn explain(message: &str) -> String {
    const FORMS: &[(&str, &str)] = &[
        (
            "untagged enum Dist",
            "expected a duration (\"1ms\") or one distribution table: { uniform = { min, max } }, \
             { exponential = { mean } }, { normal = { mean, std_dev } }, { lognormal = { median, sigma } } \
             or { pareto = { scale, shape } }",
        ),
        (
            "untagged enum NodeSet",
            "expected a list of node indices ([0, 3]), \"all\", \"none\", { random = k }, { fraction = f } \
             or { range = [a, b] }",
        ),
        ("untagged enum OptDur", "expected a duration (\"30s\") or \"off\""),
        (
            "untagged enum LifeguardSpec",
            "expected \"on\", \"off\" or a table of switches ({ base = \"off\", nack = true })",
        ),
        ("untagged enum CoordinatesSpec", "expected \"on\", \"off\" or a table of settings ({ dimensionality = 3 })"),
        (
            "untagged enum DampingSpec",
            "expected \"on\", \"off\" or a table of damping fields ({ hold_down = \"60s\" })",
        ),
        ("untagged enum ConvergeCheck", "expected \"auto\", \"off\" or a duration (\"120s\")"),
    ];
    match FORMS.iter().find(|(e, _)| message.ends_with(e)) {
        Some((_, forms)) => forms.to_string(),
        None => message.to_string(),
    }
}

/// The field a [`swim_core::ConfigError`]'s message names: the `[config]` knob named first.
fn config_field(message: &str) -> Vec<Seg> {
    const KNOBS: &[&str] = &[
        "probe_interval",
        "probe_timeout",
        "indirect_checks",
        "retransmit_mult",
        "suspicion_mult",
        "suspicion_max_timeout_mult",
        "push_pull_interval",
        "gossip_interval",
        "gossip_nodes",
        "gossip_to_the_dead_time",
        "stream_timeout",
        "packet_budget",
        "dead_node_reclaim_time",
        "reconnect_interval",
        "reconnect_timeout",
        "max_metadata_size",
        "lifeguard.awareness_max_multiplier",
        "lifeguard.nack_timeout_share",
        "lifeguard.suspicion_confirmations",
        "limits.max_members",
        "limits.broadcast_queue_depth",
        "limits.max_pending_transmits",
        "limits.max_pending_events",
        "limits.max_relays",
        "limits.max_stream_message_size",
        "limits.max_app_state",
        "versions.protocol",
        "versions.application",
        "coordinates.dimensionality",
        "coordinates.vivaldi_error_max",
        "coordinates.vivaldi_ce",
        "coordinates.vivaldi_cc",
        "coordinates.adjustment_window",
        "coordinates.height_min",
        "coordinates.latency_filter_size",
        "coordinates.gravity_rho",
        "damping.death_penalty",
        "damping.refutation_penalty",
        "damping.suppress",
        "damping.reuse",
        "damping.max_penalty",
        "damping.hold_down",
        "nack_timeout_share",
        "awareness_max_multiplier",
    ];
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    let found = KNOBS
        .iter()
        .filter_map(|k| {
            message.match_indices(k).find(|(i, _)| {
                let before = message[..*i].chars().next_back();
                let after = message[i + k.len()..].chars().next();
                !before.is_some_and(word) && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            })
        })
        .min_by_key(|(i, _)| *i);
    let mut field = keys(&["config"]);
    if let Some((_, k)) = found {
        let k = match k {
            "nack_timeout_share" | "awareness_max_multiplier" => format!("lifeguard.{k}"),
            k => k.to_string(),
        };
        field.extend(k.split('.').map(|s| Seg::Key(s.to_string())));
    }
    field
}

/// The node indices or selector `set` of a cluster of `n`: each index must exist.
fn check_nodes(set: &crate::faults::NodeSet, n: usize) -> Result<(), String> {
    use crate::faults::{NodeSet, Selector};
    match set {
        NodeSet::List(v) => match v.iter().find(|&&i| i as usize >= n) {
            Some(bad) => Err(format!("node {bad} does not exist: the cluster has nodes 0..{n}")),
            None => Ok(()),
        },
        NodeSet::Named(_) => Ok(()),
        NodeSet::Select(Selector::Range([a, b])) if a > b || *b as usize > n => {
            Err(format!("range [{a}, {b}) is not within the cluster's nodes 0..{n}"))
        }
        NodeSet::Select(Selector::Random(k)) if *k as usize > n => {
            Err(format!("{k} random nodes of a cluster of {n}: at most {n}"))
        }
        NodeSet::Select(Selector::Fraction(f)) if !(0.0..=1.0).contains(f) => {
            Err(format!("fraction must be between 0 and 1, not {f}"))
        }
        NodeSet::Select(_) => Ok(()),
    }
}

/// The fields of a fault that only some kinds use, with those kinds.
fn kind_fields(f: &FaultSpec) -> [(&'static str, bool, &'static [FaultKind]); 12] {
    use FaultKind as K;
    [
        ("delay", f.delay.is_some(), &[K::Slow]),
        ("in_order", f.in_order.is_some(), &[K::Slow]),
        ("other", f.other.is_some(), &[K::Partition]),
        ("one_way", f.one_way.is_some(), &[K::Partition]),
        ("inbound", f.inbound.is_some(), &[K::Blackhole, K::Loss]),
        ("outbound", f.outbound.is_some(), &[K::Blackhole, K::Loss]),
        ("loss", f.loss.is_some(), &[K::Loss]),
        ("on", f.on.is_some(), &[K::FlipFlop]),
        ("off", f.off.is_some(), &[K::FlipFlop]),
        ("down", f.down.is_some(), &[K::Restart]),
        ("incarnation", f.incarnation.is_some(), &[K::Restart]),
        ("versions", f.versions.is_some(), &[K::Restart, K::Join]),
    ]
}

/// A duration as a scenario author writes run times: `300s`, `1.5s`, `250ms`.
fn in_secs(d: Duration) -> String {
    if d >= Duration::from_secs(1) && d.subsec_millis() * 1_000_000 == d.subsec_nanos() {
        let mut s = format!("{:.3}", d.as_secs_f64());
        while s.ends_with('0') {
            s.pop();
        }
        format!("{}s", s.trim_end_matches('.'))
    } else {
        Dur(d).to_string()
    }
}

fn kind_name(k: FaultKind) -> String {
    toml::Value::try_from(k).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_else(|| format!("{k:?}"))
}

/// Check the ranges of a merged variant and that its faults happen within the run. `at(field)`
/// says where another field was set, for messages that name two.
fn check(s: &ScenarioSpec, at: &dyn Fn(&[&str]) -> String) -> Result<(), Problem> {
    fn bad(field: &[&str], message: String) -> Result<(), Problem> {
        Err(Problem { field: keys(field), message })
    }
    let prob = |p: f64| (0.0..=1.0).contains(&p);
    let n = s.nodes;
    if n == 0 || n > MAX_NODES {
        return bad(&["nodes"], format!("must be between 1 and {MAX_NODES}, not {n}"));
    }
    if s.repeat == 0 || s.repeat > MAX_REPEAT {
        return bad(&["repeat"], format!("must be between 1 and {MAX_REPEAT}, not {}", s.repeat));
    }
    let run = s.duration.0;
    if run.is_zero() || run > MAX_DURATION {
        return bad(&["duration"], format!("must be positive and at most 30 days, not {}", s.duration));
    }
    let end = || format!("the run ends at {} (`duration`, {})", in_secs(run), at(&["duration"]));
    if let Err(e) = s.config.build(s.preset).validate() {
        let msg = e.to_string();
        return Err(Problem { field: config_field(&msg), message: msg });
    }
    // network
    let net = &s.network;
    for (p, name) in [(net.loss, "loss"), (net.duplicate, "duplicate"), (net.reorder, "reorder")] {
        if !prob(p) {
            return bad(&["network", name], format!("a probability must be between 0 and 1, not {p}"));
        }
    }
    for (d, name) in [
        (&net.latency, "latency"),
        (&net.jitter, "jitter"),
        (&net.reorder_delay, "reorder_delay"),
        (&net.stream_latency, "stream_latency"),
    ] {
        d.validate().or_else(|e| bad(&["network", name], e))?;
    }
    if net.mtu == 0 || net.mtu > MAX_MTU {
        return bad(&["network", "mtu"], format!("must be between 1 and {MAX_MTU} bytes, not {}", net.mtu));
    }
    if !(net.stream_bytes_per_sec.is_finite() && net.stream_bytes_per_sec >= 0.0) {
        return bad(
            &["network", "stream_bytes_per_sec"],
            format!("must be a finite number >= 0 (0: unlimited), not {}", net.stream_bytes_per_sec),
        );
    }
    for (i, l) in net.links.iter().enumerate() {
        let field =
            |k: &str| vec![Seg::Key("network".into()), Seg::Key("links".into()), Seg::Index(i), Seg::Key(k.into())];
        let problem = |k: &str, message: String| Err(Problem { field: field(k), message });
        for (node, k) in [(l.from, "from"), (l.to, "to")] {
            if node as usize >= n {
                return problem(k, format!("node {node} does not exist: the cluster has nodes 0..{n}"));
            }
        }
        if !prob(l.loss) {
            return problem("loss", format!("a probability must be between 0 and 1, not {}", l.loss));
        }
        if let Err(e) = l.latency.validate() {
            return problem("latency", e);
        }
    }
    if let Some(space) = &net.space
        && let Err((field, message)) = space.validate()
    {
        return bad(&["network", "space", field], message);
    }
    if let Some(path) = &net.rtt_matrix {
        if net.space.is_some() {
            return bad(
                &["network", "rtt_matrix"],
                format!("excludes `network.space` ({})", at(&["network", "space"])),
            );
        }
        let m = match crate::network::RttMatrix::load(path) {
            Ok(m) => m,
            Err(e) => return bad(&["network", "rtt_matrix"], e),
        };
        if m.members() < n {
            return bad(
                &["network", "rtt_matrix"],
                format!("`{path}` describes {} members, the cluster has {n}", m.members()),
            );
        }
    }
    // start
    let st = &s.start;
    if let Some(bad_seed) = st.seeds.iter().find(|&&i| i as usize >= n) {
        return bad(&["start", "seeds"], format!("node {bad_seed} does not exist: the cluster has nodes 0..{n}"));
    }
    if st.mode == crate::sim::StartMode::Join && st.seeds.is_empty() {
        return bad(&["start", "seeds"], "a join start needs at least one seed".into());
    }
    if let Some(i) = st.initial
        && i > n
    {
        return bad(&["start", "initial"], format!("{i} members started of a cluster of {n}: at most {n}"));
    }
    if st.window.0 > run {
        return bad(&["start", "window"], format!("{} is longer than the run: {}", in_secs(st.window.0), end()));
    }
    if st.retry_join.0.is_zero() {
        return bad(&["start", "retry_join"], "must be positive".into());
    }
    // faults
    for (name, f) in &s.faults {
        let kind = kind_name(f.kind);
        if f.at.0 >= run {
            return bad(
                &["faults", name, "at"],
                format!(
                    "{} is not before the end of the run, so the fault would never happen: {}",
                    in_secs(f.at.0),
                    end()
                ),
            );
        }
        let count = f.count.unwrap_or(1);
        if count == 0 || count > crate::faults::MAX_REPEATS {
            return bad(
                &["faults", name, "count"],
                format!("must be between 1 and {}, not {count}", crate::faults::MAX_REPEATS),
            );
        }
        if count > 1 {
            let Some(every) = f.every else {
                return bad(&["faults", name, "count"], format!("{count} repetitions need `every`"));
            };
            if every.0.is_zero() {
                return bad(&["faults", name, "every"], "must be positive".into());
            }
            let last = f.at.0.saturating_add(every.0.saturating_mul(count - 1));
            if last >= run {
                let fit = (run - f.at.0).as_nanos().div_ceil(every.0.as_nanos());
                return bad(
                    &["faults", name, "count"],
                    format!(
                        "the last of {count} repetitions would start at {}, after the end of the run, so it would \
                         never happen: {}; at most {fit} fit",
                        in_secs(last),
                        end()
                    ),
                );
            }
        }
        if let Some(d) = f.duration
            && d.0.is_zero()
        {
            return bad(
                &["faults", name, "duration"],
                "must be positive (leave it out for a fault that lasts to the end)".into(),
            );
        }
        for (field, set, kinds) in kind_fields(f) {
            if set && !kinds.contains(&f.kind) {
                let to: Vec<String> = kinds.iter().map(|k| format!("`{}`", kind_name(*k))).collect();
                return bad(
                    &["faults", name, field],
                    format!("does not apply to a `{kind}` fault (only to {})", to.join(", ")),
                );
            }
        }
        let needs = |field: &str| bad(&["faults", name, field], format!("a `{kind}` fault needs `{field}`"));
        match f.kind {
            FaultKind::Slow => match &f.delay {
                None => needs("delay")?,
                Some(d) => d.validate().or_else(|e| bad(&["faults", name, "delay"], e))?,
            },
            FaultKind::FlipFlop => {
                for (v, field) in [(f.on, "on"), (f.off, "off")] {
                    match v {
                        None => needs(field)?,
                        Some(d) if d.0.is_zero() => bad(&["faults", name, field], "must be positive".into())?,
                        Some(_) => {}
                    }
                }
            }
            FaultKind::Clog if f.duration.is_none() => needs("duration")?,
            FaultKind::Loss => match f.loss {
                None => needs("loss")?,
                Some(p) if !prob(p) => {
                    bad(&["faults", name, "loss"], format!("a probability must be between 0 and 1, not {p}"))?
                }
                Some(_) => {}
            },
            _ => {}
        }
        check_nodes(&f.nodes, n).or_else(|e| bad(&["faults", name, "nodes"], e))?;
        if let Some(o) = &f.other {
            check_nodes(o, n).or_else(|e| bad(&["faults", name, "other"], e))?;
        }
        for e in &f.exclude {
            if e != "seeds" && !s.faults.contains_key(e) {
                let names: Vec<&str> = s.faults.keys().map(String::as_str).collect();
                return bad(
                    &["faults", name, "exclude"],
                    format!("no fault is named `{e}` (faults: {}; or \"seeds\")", names.join(", ")),
                );
            }
        }
    }
    // metrics
    let m = &s.metrics;
    if !m.sample_interval.0.is_zero() && run.as_nanos() / m.sample_interval.0.as_nanos() > MAX_SAMPLES {
        return bad(
            &["metrics", "sample_interval"],
            format!(
                "{} would take more than {MAX_SAMPLES} samples in the run ({}); make it longer, or 0 for none",
                m.sample_interval, s.duration
            ),
        );
    }
    for (k, p) in m.phases.iter().enumerate() {
        let field =
            |f: &str| vec![Seg::Key("metrics".into()), Seg::Key("phases".into()), Seg::Index(k), Seg::Key(f.into())];
        if p.at.0 >= run {
            return Err(Problem {
                field: field("at"),
                message: format!("{} is not before the end of the run: {}", in_secs(p.at.0), end()),
            });
        }
        if k > 0 && p.at.0 <= m.phases[k - 1].at.0 {
            return Err(Problem {
                field: field("at"),
                message: "phases must start in time order, each after the one before".into(),
            });
        }
    }
    for (name, f) in &s.faults {
        if let Some(v) = &f.versions {
            for (r, which) in [(v.protocol, "protocol"), (v.application, "application")] {
                if let Some([min, max, current]) = r
                    && !(min <= current && current <= max)
                {
                    return bad(
                        &["faults", name, "versions", which],
                        format!("[{min}, {max}, {current}] is not [min, max, current] with min <= current <= max"),
                    );
                }
            }
        }
    }
    if !m.coordinate_interval.0.is_zero() && run.as_nanos() / m.coordinate_interval.0.as_nanos() > MAX_SAMPLES {
        return bad(
            &["metrics", "coordinate_interval"],
            format!(
                "{} would take more than {MAX_SAMPLES} measurements in the run ({})",
                m.coordinate_interval, s.duration
            ),
        );
    }
    if m.coordinate_pairs == 0 || m.coordinate_pairs > crate::coordinates::MAX_COORDINATE_PAIRS {
        return bad(
            &["metrics", "coordinate_pairs"],
            format!("must be between 1 and {}, not {}", crate::coordinates::MAX_COORDINATE_PAIRS, m.coordinate_pairs),
        );
    }
    if !m.coordinate_interval.0.is_zero() && s.config.build(s.preset).coordinates.is_none() {
        return bad(
            &["metrics", "coordinate_interval"],
            "measures coordinates, which are off: set `config.coordinates = \"on\"`".into(),
        );
    }
    if let Some(t) = s.report.target_coordinate_error
        && !(t.is_finite() && t > 0.0)
    {
        return bad(&["report", "target_coordinate_error"], format!("must be a positive number, not {t}"));
    }
    if let Some(w) = s.report.target_coordinate_within
        && w.0 > run
    {
        return bad(
            &["report", "target_coordinate_within"],
            format!("{} is after the end of the run: {}", in_secs(w.0), end()),
        );
    }
    if m.warmup.0 >= run {
        return bad(&["metrics", "warmup"], format!("{} leaves nothing to measure: {}", in_secs(m.warmup.0), end()));
    }
    if let Some(ConvergeCheck::Within(d)) = s.check.converge
        && d.0.is_zero()
    {
        return bad(&["check", "converge"], "must be positive, \"auto\" or \"off\"".into());
    }
    if let Some(t) = s.report.target_fp_ratio
        && !(t.is_finite() && t > 0.0)
    {
        return bad(&["report", "target_fp_ratio"], format!("must be a positive number, not {t}"));
    }
    Ok(())
}

impl Scenario {
    /// Parse a scenario file, applying `sets` (from [`parse_set`]) over the base. Errors name
    /// the file as "the scenario"; [`Scenario::parse_source`] names it.
    pub fn parse(text: &str, sets: &[toml::Table]) -> Result<Scenario, String> {
        let sets: Vec<Setting> = sets.iter().map(Setting::from_table).collect();
        Scenario::parse_source(text, "the scenario", &sets)
    }

    /// Parse the scenario file `file` (its name, for messages) whose text is `text`, applying
    /// `sets` over the base and every variant, and check every variant before anything runs:
    /// types, ranges, node indices, and that every fault (each repetition) starts before the
    /// end of the run. An error names the scenario, the variant, the field, and the line of
    /// the file or the `--set` argument that set it.
    pub fn parse_source(text: &str, file: &str, sets: &[Setting]) -> Result<Scenario, String> {
        let mut base: toml::Table = toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        let doc = toml::de::DeTable::parse(text).ok();
        let loc = Locator { file, text, doc: doc.as_ref().map(|d| d.get_ref()), sets };
        for s in sets {
            merge(&mut base, &s.table);
        }
        let scenario_name = base.get("name").and_then(|v| v.as_str()).unwrap_or("?").to_string();
        let structure = |path: Vec<Seg>, message: String| loc.error(&scenario_name, "", &[], &path, &message);
        let axes = match base.remove("axes") {
            None => Vec::new(),
            Some(toml::Value::Array(a)) => a,
            Some(_) => return Err(structure(keys(&["axes"]), "must be an array of tables ([[axes]])".into())),
        };
        let mut axis_names = Vec::new();
        let mut axis_variants: Vec<Vec<(String, toml::Table)>> = Vec::new();
        for (k, a) in axes.into_iter().enumerate() {
            let here = |rest: &[Seg]| [vec![Seg::Key("axes".into()), Seg::Index(k)], rest.to_vec()].concat();
            let toml::Value::Table(mut a) = a else {
                return Err(structure(here(&[]), "must be a table ([[axes]])".into()));
            };
            let name = match a.remove("name") {
                Some(toml::Value::String(s)) => s,
                _ => format!("axis{k}"),
            };
            let Some(toml::Value::Array(vs)) = a.remove("variants") else {
                return Err(structure(here(&[]), format!("axis `{name}` needs [[axes.variants]]")));
            };
            if let Some(extra) = a.keys().next() {
                return Err(structure(here(&keys(&[extra])), format!("axis `{name}`: unknown key `{extra}`")));
            }
            let mut list = Vec::new();
            for (j, v) in vs.into_iter().enumerate() {
                let at = here(&[Seg::Key("variants".into()), Seg::Index(j)]);
                let toml::Value::Table(mut v) = v else {
                    return Err(structure(at, format!("axis `{name}` variant {j} must be a table")));
                };
                let vname = match v.remove("name") {
                    Some(toml::Value::String(s)) => s,
                    _ => return Err(structure(at, format!("axis `{name}` variant {j} needs a name"))),
                };
                list.push((vname, v));
            }
            if list.is_empty() {
                return Err(structure(here(&[]), format!("axis `{name}` has no variants")));
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
                merge(&mut t, &s.table); // command-line settings win over variants
            }
            let name = parts.join(" / ");
            let error = |field: &[Seg], message: &str| loc.error(&scenario_name, &name, &combo, field, message);
            let mut spec: ScenarioSpec = serde_path_to_error::deserialize(toml::Value::Table(t)).map_err(|e| {
                let mut field: Vec<Seg> = e
                    .path()
                    .iter()
                    .filter_map(|s| match s {
                        serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
                        serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
                        serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => None,
                    })
                    .collect();
                let message = e.inner().message().to_string();
                // The path of an unknown key ends at its table; the key is in the message.
                if let Some(k) = message.strip_prefix("unknown field `").and_then(|m| m.split('`').next())
                    && field.last() != Some(&Seg::Key(k.to_string()))
                {
                    field.push(Seg::Key(k.to_string()));
                }
                error(&field, &explain(&message))
            })?;
            if let Some(path) = &mut spec.network.rtt_matrix {
                *path = relative_to(file, path);
            }
            check(&spec, &|f| loc.origin(&combo, &keys(f))).map_err(|p| error(&p.field, &p.message))?;
            variants.push(Variant { name, parts, spec });
        }
        let first = &variants[0].spec;
        if let Some(pair) = &first.report.compare {
            let heads: Vec<&str> =
                axis_variants.first().map_or(Vec::new(), |l| l.iter().map(|(n, _)| n.as_str()).collect());
            if let Some(missing) = pair.iter().find(|p| !heads.contains(&p.as_str())) {
                let first_axis = axis_names.first().map_or("none".to_string(), |a| format!("`{a}`"));
                return Err(structure(
                    keys(&["report", "compare"]),
                    format!(
                        "`{missing}` is not a variant of the first axis ({first_axis}: {})",
                        if heads.is_empty() { "no variants".to_string() } else { heads.join(", ") }
                    ),
                ));
            }
        }
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
        let sets: Vec<Setting> = sets.iter().map(Setting::from_table).collect();
        Scenario::builtin_with(name, &sets)
    }

    /// Parse a built-in scenario by name with `--set` arguments.
    pub fn builtin_with(name: &str, sets: &[Setting]) -> Option<Result<Scenario, String>> {
        BUILTINS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| Scenario::parse_source(text, &format!("built-in {n}.toml"), sets))
    }
}

/// `path` relative to the directory of the scenario file `file` when `path` is relative and
/// `file` is a file on disk (not a built-in); otherwise `path` as it is.
fn relative_to(file: &str, path: &str) -> String {
    let f = std::path::Path::new(file);
    match f.parent() {
        Some(dir) if std::path::Path::new(path).is_relative() && f.is_file() => dir.join(path).display().to_string(),
        _ => path.to_string(),
    }
}

/// The liveness bound for `cfg`: the longest suspicion, two reconnect (or push-pull) rounds,
/// one push-pull period at this size, and 30 s of gossip and margin; with flap damping, its
/// hold-down too (a member that flapped until the heal is readmitted that long after).
pub fn convergence_bound(cfg: &SimConfig) -> Duration {
    let c = &cfg.config;
    let n = cfg.nodes;
    let t = c.timings(n);
    let pp = t.push_pull_interval.unwrap_or(Duration::ZERO);
    let reconnect = c.reconnect_interval.or(c.push_pull_interval).unwrap_or(Duration::from_secs(30));
    let hold_down = c.damping.map_or(Duration::ZERO, |d| d.hold_down);
    t.suspicion_max + reconnect * 2 + pp + Duration::from_secs(30) + hold_down
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
            hooks: None,
            phases: self.metrics.phases.clone(),
            coordinate_interval: self.metrics.coordinate_interval.0,
            coordinate_pairs: self.metrics.coordinate_pairs,
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
    ("rolling-upgrade", include_str!("../scenarios/rolling-upgrade.toml")),
    ("coordinates", include_str!("../scenarios/coordinates.toml")),
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
