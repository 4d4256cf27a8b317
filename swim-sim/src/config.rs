//! What a run depends on: the cluster, its protocol configuration, the network, the start
//! and the named faults ([`SimConfig`]), and why a configuration is refused ([`SetupError`]).
//!
//! A run is a pure function of its [`SimConfig`]; [`crate::scenario`] builds one from a
//! scenario file, or a test builds one with [`SimConfig::new`] and edits its fields.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use swim_core::hooks::Hooks;
use swim_core::{Config, VersionRange, Versions};

use crate::duration::Dur;
use crate::faults::FaultSpec;
use crate::network::NetworkSpec;
#[cfg(doc)]
use crate::sim::Simulation;
#[cfg(doc)]
use crate::truth::Sample;

/// How the cluster forms at the start of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartMode {
    /// Every member starts at time 0 already knowing every other (swim-core's `restore`): a
    /// converged cluster without a join storm.
    #[default]
    Warm,
    /// The seeds start at time 0; every other member starts at a random time within `window`
    /// and joins through the seeds.
    Join,
}

/// The start of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StartSpec {
    /// Warm or join.
    pub mode: StartMode,
    /// The join seeds (node indices). Default `[0]`.
    pub seeds: Vec<u32>,
    /// Join mode: members start uniformly within this window. Default 0 (all at once).
    pub window: Dur,
    /// Members started at the beginning (default: all). The others stay idle until a `join`
    /// fault starts them.
    pub initial: Option<usize>,
    /// A restarted member joins through the seeds and this many random running members.
    /// Default 2.
    pub extra_seeds: usize,
    /// A join the core refused (too many joins in flight, a full transmit queue) is tried
    /// again after this long. A join that reached no seed is retried by the core itself
    /// (`Config::join_retry`). Default 5 s.
    pub retry_join: Dur,
    /// A leaving member stops at the latest this long after `leave` (it stops earlier, one
    /// gossip interval after `LeaveCompleted`). Default 10 s.
    pub leave_timeout: Dur,
}

impl Default for StartSpec {
    fn default() -> Self {
        StartSpec {
            mode: StartMode::Warm,
            seeds: vec![0],
            window: Dur::default(),
            initial: None,
            extra_seeds: 2,
            retry_join: Dur::secs(5),
            leave_timeout: Dur::secs(10),
        }
    }
}

/// Version ranges a scenario sets (`Config::versions`), each as `[min, max, current]`; an
/// absent one is left as it was.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VersionsSpec {
    /// `versions.protocol`.
    pub protocol: Option<[u8; 3]>,
    /// `versions.application`.
    pub application: Option<[u8; 3]>,
}

impl VersionsSpec {
    /// `base` with these ranges.
    pub fn apply(&self, base: Versions) -> Versions {
        let range = |r: Option<[u8; 3]>, old: VersionRange| {
            r.map_or(old, |[min, max, current]| VersionRange { min, max, current })
        };
        Versions {
            protocol: range(self.protocol, base.protocol),
            application: range(self.application, base.application),
        }
    }
}

/// A named phase of a run, from `at` to the next phase's start (or the end): figures that are
/// split by phase (packets per envelope version) are counted separately in each.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseSpec {
    /// What happens in it, for the report.
    pub name: String,
    /// When it starts.
    pub at: Dur,
}

/// Default of [`SimConfig::coordinate_pairs`] (`metrics.coordinate_pairs`).
pub const DEFAULT_COORDINATE_PAIRS: usize = 5000;

/// Everything a run depends on. The run is a pure function of this value.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The master seed.
    pub seed: u64,
    /// Cluster size (all members that may ever run; names `node-0` ... and addresses `0..n`).
    pub nodes: usize,
    /// Every member's protocol configuration.
    pub config: Config,
    /// The network.
    pub network: NetworkSpec,
    /// The start.
    pub start: StartSpec,
    /// The named faults.
    pub faults: BTreeMap<String, FaultSpec>,
    /// Length of the run (repeating faults without an end stop here).
    pub duration: Duration,
    /// Period of [`Sample`]s; zero for none.
    pub sample_interval: Duration,
    /// Traffic counters start after this (steady-state bandwidth).
    pub warmup: Duration,
    /// Keep every member's events for [`Simulation::take_events`].
    pub record_events: bool,
    /// The application hooks of each member: called with the member's index at every start
    /// and restart of its process (a restarted member gets fresh hooks, as a restarted
    /// process would). `None`: every hook at its default.
    pub hooks: Option<HooksFactory>,
    /// Phases of the run, in time order (empty: one phase, the whole run).
    pub phases: Vec<PhaseSpec>,
    /// Period of the coordinate error measurements ([`crate::coordinates`]) a scenario run
    /// makes; zero for none (the default).
    pub coordinate_interval: Duration,
    /// Most member pairs measured each time ([`crate::coordinates::sample_pairs`]).
    pub coordinate_pairs: usize,
}

/// Makes each member's application hooks ([`SimConfig::hooks`]). Deterministic runs need
/// deterministic hooks: the same member index and the same calls must give the same answers.
#[derive(Clone)]
pub struct HooksFactory(pub Arc<dyn Fn(u32) -> Box<dyn Hooks<u32>> + Send + Sync>);

impl HooksFactory {
    /// A factory calling `make` with the member's index.
    pub fn new(make: impl Fn(u32) -> Box<dyn Hooks<u32>> + Send + Sync + 'static) -> Self {
        HooksFactory(Arc::new(make))
    }
}

impl std::fmt::Debug for HooksFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HooksFactory")
    }
}

impl SimConfig {
    /// `nodes` members with memberlist's LAN configuration on a datacenter network, warm
    /// started, no faults, 60 s.
    pub fn new(nodes: usize, seed: u64) -> Self {
        SimConfig {
            seed,
            nodes,
            config: Config::lan(),
            network: NetworkSpec::default(),
            start: StartSpec::default(),
            faults: BTreeMap::new(),
            duration: Duration::from_secs(60),
            sample_interval: Duration::from_secs(1),
            warmup: Duration::ZERO,
            record_events: false,
            hooks: None,
            phases: Vec::new(),
            coordinate_interval: Duration::ZERO,
            coordinate_pairs: DEFAULT_COORDINATE_PAIRS,
        }
    }

    /// The window within which a death notice about a restarted member is stale, not false:
    /// the longest suspicion timeout plus ten probe intervals.
    pub fn stale_window(&self) -> Duration {
        let c = &self.config;
        let (_, max) = swim_core::suspicion::timeout_bounds(
            c.suspicion_mult,
            c.suspicion_max_timeout_mult,
            self.nodes,
            c.probe_interval,
        );
        max + c.probe_interval * 10
    }
}

/// Why a simulation could not be built.
#[derive(Clone, Debug, PartialEq)]
pub struct SetupError(pub String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}
