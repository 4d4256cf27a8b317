//! The fault schedule: what goes wrong, to whom, and when.
//!
//! A scenario names its faults (`[faults.<name>]` tables, so variants can change one field of
//! one fault). Each fault has a `kind`, a start time `at`, a node set, and optionally a
//! `duration` after which it is undone and `every`/`count` to repeat it (each repetition
//! draws its random nodes afresh; a `crash` or `leave`, or a `restart` or `join` that sets
//! `versions` (an upgrade, one member at a time), never picks the same node twice). Before the run
//! the faults are expanded, with the fault stream of the seed, into a list of timed
//! [`Action`]s; the run applies them in time order.
//!
//! | kind | what it does | fields |
//! |---|---|---|
//! | `crash` | the process stops silently | |
//! | `leave` | graceful leave, then the process stops | |
//! | `restart` | crash, then after `down` a new process with the same name and address joins | `down`, `incarnation`, `versions` |
//! | `join` | start nodes that have not started yet | `versions` |
//! | `slow` | CPU starvation: each input and each timer is handled `delay` late | `delay`, `in_order`, `duration` |
//! | `partition` | cut `nodes` from `other` (default: everyone else) | `other`, `one_way`, `duration` |
//! | `blackhole` | drop a node's inbound and/or outbound traffic | `inbound`, `outbound`, `duration` |
//! | `flip_flop` | inbound blackhole for `on`, then none for `off`, repeated | `on`, `off`, `duration` |
//! | `clog` | hold all traffic to and from the nodes until the clog ends | `duration` (required) |
//! | `loss` | extra loss at the nodes (or globally when `nodes` is absent) | `loss`, `inbound`, `outbound`, `duration` |
//! | `update_metadata` | the nodes announce new metadata | |
//! | `heal` | end every partition, blackhole, clog, slowness and extra loss | |

mod apply;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use swim_core::Instant;

use crate::config::VersionsSpec;
use crate::dist::Dist;
use crate::duration::Dur;
use crate::rng::SimRng;

/// Which nodes a fault hits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NodeSet {
    /// These node indices.
    List(Vec<u32>),
    /// `"all"` or `"none"`.
    Named(AllOrNone),
    /// A selector table.
    Select(Selector),
}

/// `"all"` or `"none"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllOrNone {
    /// Every node.
    All,
    /// No node.
    None,
}

/// A node selector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Selector {
    /// Indices `start..end`.
    Range([u32; 2]),
    /// This many random eligible nodes.
    Random(u32),
    /// This share of all nodes (rounded, at least one if positive), chosen at random.
    Fraction(f64),
}

impl Default for NodeSet {
    fn default() -> Self {
        NodeSet::Named(AllOrNone::None)
    }
}

/// What kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Silent crash.
    Crash,
    /// Graceful leave.
    Leave,
    /// Crash and start again with the same name and address.
    Restart,
    /// Start nodes that have not started.
    Join,
    /// CPU starvation.
    Slow,
    /// Symmetric or one-way partition.
    Partition,
    /// Drop inbound and/or outbound traffic.
    Blackhole,
    /// Periodic inbound blackhole (Rapid's experiment).
    FlipFlop,
    /// Hold traffic until the clog ends.
    Clog,
    /// Extra packet loss.
    Loss,
    /// Announce new metadata.
    UpdateMetadata,
    /// Undo every transient fault.
    Heal,
}

/// Which incarnation a restarted member starts from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartIncarnation {
    /// 0: a process that remembers nothing (memberlist's behaviour; it must refute its way back).
    #[default]
    Zero,
    /// One more than its previous life's last incarnation (a process that persisted it).
    Next,
    /// The virtual clock in seconds (a process that starts from a clock reading).
    Clock,
}

/// One named fault of a scenario. Fields that do not apply to the kind must be left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// What happens.
    pub kind: FaultKind,
    /// When (virtual time from the start of the run).
    pub at: Dur,
    /// To whom. Default: nobody (`loss` without nodes is global; `heal` needs none).
    #[serde(default)]
    pub nodes: NodeSet,
    /// Never choose nodes chosen by these faults (by name), or the join seeds (`"seeds"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Undo the fault after this long. Required for `clog`; ignored by instantaneous kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Dur>,
    /// Repeat every this long (with `count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Dur>,
    /// How many times in all (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// `slow`: the extra delay of each input and timer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Dist>,
    /// `slow`: handle inputs in arrival order (a FIFO socket queue) instead of independently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_order: Option<bool>,
    /// `partition`: the other side (default: every node not in `nodes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<NodeSet>,
    /// `partition`: cut only traffic from `nodes` to `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_way: Option<bool>,
    /// `blackhole`, `loss`: affect inbound traffic (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound: Option<bool>,
    /// `blackhole`, `loss`: affect outbound traffic (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<bool>,
    /// `loss`: the loss probability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// `flip_flop`: how long each blackhole lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Dur>,
    /// `flip_flop`: how long each recovery lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub off: Option<Dur>,
    /// `restart`: time between the crash and the new process (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<Dur>,
    /// `restart`: the new process's first incarnation (default `zero`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incarnation: Option<RestartIncarnation>,
    /// `restart`, `join`: the new process runs with these version ranges (and keeps them
    /// through later restarts): an upgrade, or a member of another version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<VersionsSpec>,
}

impl FaultSpec {
    /// A fault of `kind` at `at` on `nodes`, every other field at its default.
    pub fn new(kind: FaultKind, at: Duration, nodes: NodeSet) -> Self {
        FaultSpec {
            kind,
            at: Dur(at),
            nodes,
            exclude: Vec::new(),
            duration: None,
            every: None,
            count: None,
            delay: None,
            in_order: None,
            other: None,
            one_way: None,
            inbound: None,
            outbound: None,
            loss: None,
            on: None,
            off: None,
            down: None,
            incarnation: None,
            versions: None,
        }
    }

    /// With a duration.
    pub fn lasting(mut self, d: Duration) -> Self {
        self.duration = Some(Dur(d));
        self
    }
}

/// A timed step of the schedule.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Crash these nodes.
    Crash(Vec<u32>),
    /// These nodes leave gracefully.
    Leave(Vec<u32>),
    /// Start these nodes: a join of members not yet running, or a restart (crash first if
    /// running, then a new process with the same name and address).
    Start {
        /// The nodes.
        nodes: Vec<u32>,
        /// A restart (crash first if running; pick the incarnation per `incarnation`).
        restart: bool,
        /// The first incarnation of a restart.
        incarnation: RestartIncarnation,
        /// Version ranges the new processes run with from now on (`None`: as before).
        versions: Option<VersionsSpec>,
    },
    /// Make these nodes slow.
    Slow {
        /// The nodes.
        nodes: Vec<u32>,
        /// Their delay.
        delay: Dist,
        /// Inputs in arrival order.
        in_order: bool,
    },
    /// End these nodes' slowness.
    Unslow(Vec<u32>),
    /// Start partition `key` between `a` and `b`.
    Partition {
        /// The schedule's key for this partition.
        key: u32,
        /// One side.
        a: Vec<u32>,
        /// The other side.
        b: Vec<u32>,
        /// Only `a -> b` is cut.
        one_way: bool,
    },
    /// End partition `key`.
    HealPartition(u32),
    /// Blackhole these nodes (or end it).
    Blackhole {
        /// The nodes.
        nodes: Vec<u32>,
        /// Inbound.
        inbound: bool,
        /// Outbound.
        outbound: bool,
        /// Start (true) or end.
        on: bool,
    },
    /// Clog these nodes until `until`.
    Clog {
        /// The nodes.
        nodes: Vec<u32>,
        /// End of the clog.
        until: Instant,
    },
    /// Set loss at these nodes (`None`: the global loss).
    Loss {
        /// The nodes, or global.
        nodes: Option<Vec<u32>>,
        /// Inbound loss.
        inbound: f64,
        /// Outbound loss.
        outbound: f64,
    },
    /// Undo a `Loss` (nodes back to no extra loss; global back to the network's baseline).
    RestoreLoss {
        /// The nodes, or global.
        nodes: Option<Vec<u32>>,
    },
    /// Announce new metadata.
    UpdateMetadata(Vec<u32>),
    /// End every transient fault.
    HealAll,
}

impl Action {
    /// A short name for logs and the digest.
    pub fn label(&self) -> &'static str {
        match self {
            Action::Crash(_) => "crash",
            Action::Leave(_) => "leave",
            Action::Start { restart: true, .. } => "restart",
            Action::Start { .. } => "join",
            Action::Slow { .. } => "slow",
            Action::Unslow(_) => "unslow",
            Action::Partition { .. } => "partition",
            Action::HealPartition(_) => "heal-partition",
            Action::Blackhole { on: true, .. } => "blackhole",
            Action::Blackhole { .. } => "unblackhole",
            Action::Clog { .. } => "clog",
            Action::Loss { .. } => "loss",
            Action::RestoreLoss { .. } => "restore-loss",
            Action::UpdateMetadata(_) => "update-metadata",
            Action::HealAll => "heal",
        }
    }

    /// The nodes it names (empty for global actions).
    pub fn nodes(&self) -> &[u32] {
        match self {
            Action::Crash(n) | Action::Leave(n) | Action::Unslow(n) | Action::UpdateMetadata(n) => n,
            Action::Start { nodes, .. }
            | Action::Slow { nodes, .. }
            | Action::Blackhole { nodes, .. }
            | Action::Clog { nodes, .. } => nodes,
            Action::Partition { a, .. } => a,
            Action::Loss { nodes, .. } | Action::RestoreLoss { nodes } => nodes.as_deref().unwrap_or(&[]),
            Action::HealPartition(_) | Action::HealAll => &[],
        }
    }
}

/// One entry of the expanded schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Scheduled {
    /// When.
    pub at: Instant,
    /// The fault's name.
    pub fault: String,
    /// What.
    pub action: Action,
}

/// The expanded schedule and what it implies.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schedule {
    /// Time-ordered actions (ties in fault-name order).
    pub actions: Vec<Scheduled>,
    /// When every transient fault has ended (`None`: some never ends within the run).
    pub healed_at: Option<Instant>,
    /// Nodes chosen by each fault.
    pub chosen: BTreeMap<String, Vec<u32>>,
    /// Nodes ever made slow.
    pub slow: BTreeSet<u32>,
}

/// Most repetitions one fault may have.
pub const MAX_REPEATS: u32 = 100_000;

fn resolve(set: &NodeSet, n: usize, eligible: &dyn Fn(u32) -> bool, rng: &mut SimRng) -> Result<Vec<u32>, String> {
    let pool: Vec<u32> = (0..n as u32).filter(|&i| eligible(i)).collect();
    let draw = |k: usize, rng: &mut SimRng| {
        let mut v = rng.choose(&pool, k);
        v.sort_unstable();
        v
    };
    Ok(match set {
        NodeSet::Named(AllOrNone::None) => Vec::new(),
        NodeSet::Named(AllOrNone::All) => pool,
        NodeSet::List(v) => {
            if let Some(bad) = v.iter().find(|&&i| i as usize >= n) {
                return Err(format!("node {bad} does not exist (the cluster has {n})"));
            }
            let mut v = v.clone();
            v.sort_unstable();
            v.dedup();
            v
        }
        NodeSet::Select(Selector::Range([a, b])) => {
            if *b as usize > n || a > b {
                return Err(format!("range [{a}, {b}) is not within 0..{n}"));
            }
            (*a..*b).collect()
        }
        NodeSet::Select(Selector::Random(k)) => draw(*k as usize, rng),
        NodeSet::Select(Selector::Fraction(f)) => {
            if !(0.0..=1.0).contains(f) {
                return Err(format!("fraction {f} not in [0, 1]"));
            }
            let k = if *f > 0.0 { ((*f * n as f64).round() as usize).max(1) } else { 0 };
            draw(k, rng)
        }
    })
}

fn need<T>(v: Option<T>, kind: FaultKind, field: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("a {kind:?} fault needs `{field}`").to_lowercase())
}

/// Expand `faults` for a cluster of `n` nodes whose join seeds are `seeds`, for a run of
/// `duration`, drawing random nodes from `rng`.
pub fn expand(
    faults: &BTreeMap<String, FaultSpec>,
    n: usize,
    seeds: &[u32],
    duration: Duration,
    rng: &mut SimRng,
) -> Result<Schedule, String> {
    let mut schedule = Schedule::default();
    let mut ends: Vec<Option<Instant>> = Vec::new();
    let mut partition_key = 0u32;
    let mut heal_alls: Vec<Instant> = Vec::new();
    // Resolve in dependency order of `exclude`, each fault once.
    let mut order: Vec<&String> = Vec::new();
    fn visit<'a>(
        name: &'a String,
        faults: &'a BTreeMap<String, FaultSpec>,
        order: &mut Vec<&'a String>,
        stack: &mut Vec<&'a String>,
    ) -> Result<(), String> {
        if order.contains(&name) {
            return Ok(());
        }
        if stack.contains(&name) {
            return Err(format!("faults: `exclude` cycle through `{name}`"));
        }
        stack.push(name);
        for e in &faults[name].exclude {
            if e == "seeds" {
                continue;
            }
            let (dep, _) =
                faults.get_key_value(e).ok_or_else(|| format!("fault `{name}` excludes unknown fault `{e}`"))?;
            visit(dep, faults, order, stack)?;
        }
        stack.pop();
        order.push(name);
        Ok(())
    }
    for name in faults.keys() {
        visit(name, faults, &mut order, &mut Vec::new())?;
    }
    for name in order {
        let f = &faults[name];
        let err = |e: String| format!("fault `{name}`: {e}");
        let mut excluded: BTreeSet<u32> = BTreeSet::new();
        for e in &f.exclude {
            if e == "seeds" {
                excluded.extend(seeds.iter().copied());
            } else if let Some(v) = schedule.chosen.get(e) {
                excluded.extend(v.iter().copied());
            }
        }
        let count = f.count.unwrap_or(1);
        if count == 0 || count > MAX_REPEATS {
            return Err(err(format!("count must be in 1..={MAX_REPEATS}")));
        }
        if count > 1 && f.every.is_none() {
            return Err(err("`count` > 1 needs `every`".into()));
        }
        let every = f.every.map_or(Duration::ZERO, |d| d.0);
        let mut chosen_here: BTreeSet<u32> = BTreeSet::new();
        for rep in 0..count {
            let at = Instant::ZERO + f.at.0 + every * rep;
            if at > Instant::ZERO + duration {
                break;
            }
            // A member crashes or leaves for good once per fault; other faults may hit it again.
            let permanent = matches!(f.kind, FaultKind::Crash | FaultKind::Leave) || f.versions.is_some();
            let eligible = |i: u32| !(excluded.contains(&i) || permanent && chosen_here.contains(&i));
            let nodes = resolve(&f.nodes, n, &eligible, rng).map_err(err)?;
            chosen_here.extend(nodes.iter().copied());
            let end = f.duration.map(|d| at + d.0);
            let mut out: Vec<(Instant, Action)> = Vec::new();
            let mut push = |at: Instant, action: Action| out.push((at, action));
            match f.kind {
                FaultKind::Crash => {
                    push(at, Action::Crash(nodes.clone()));
                    ends.push(Some(at));
                }
                FaultKind::Leave => {
                    push(at, Action::Leave(nodes.clone()));
                    ends.push(Some(at));
                }
                FaultKind::Join => {
                    push(
                        at,
                        Action::Start {
                            nodes: nodes.clone(),
                            restart: false,
                            incarnation: RestartIncarnation::Zero,
                            versions: f.versions,
                        },
                    );
                    ends.push(Some(at));
                }
                FaultKind::Restart => {
                    let down = f.down.map_or(Duration::ZERO, |d| d.0);
                    let incarnation = f.incarnation.unwrap_or_default();
                    if !down.is_zero() {
                        push(at, Action::Crash(nodes.clone()));
                    }
                    let versions = f.versions;
                    push(at + down, Action::Start { nodes: nodes.clone(), restart: true, incarnation, versions });
                    ends.push(Some(at + down));
                }
                FaultKind::Slow => {
                    let delay = need(f.delay.clone(), f.kind, "delay")?;
                    delay.validate().map_err(err)?;
                    schedule.slow.extend(nodes.iter().copied());
                    push(at, Action::Slow { nodes: nodes.clone(), delay, in_order: f.in_order.unwrap_or(false) });
                    if let Some(e) = end {
                        push(e, Action::Unslow(nodes.clone()));
                    }
                    ends.push(end);
                }
                FaultKind::Partition => {
                    let other = match &f.other {
                        Some(o) => resolve(o, n, &|_| true, rng).map_err(err)?,
                        None => (0..n as u32).filter(|i| nodes.binary_search(i).is_err()).collect(),
                    };
                    let key = partition_key;
                    partition_key += 1;
                    push(
                        at,
                        Action::Partition { key, a: nodes.clone(), b: other, one_way: f.one_way.unwrap_or(false) },
                    );
                    if let Some(e) = end {
                        push(e, Action::HealPartition(key));
                    }
                    ends.push(end);
                }
                FaultKind::Blackhole => {
                    let (inbound, outbound) = (f.inbound.unwrap_or(true), f.outbound.unwrap_or(true));
                    push(at, Action::Blackhole { nodes: nodes.clone(), inbound, outbound, on: true });
                    if let Some(e) = end {
                        push(e, Action::Blackhole { nodes: nodes.clone(), inbound, outbound, on: false });
                    }
                    ends.push(end);
                }
                FaultKind::FlipFlop => {
                    let on = need(f.on, f.kind, "on")?.0;
                    let off = need(f.off, f.kind, "off")?.0;
                    if on.is_zero() || off.is_zero() {
                        return Err(err("`on` and `off` must be positive".into()));
                    }
                    let stop = end.unwrap_or(Instant::ZERO + duration);
                    let mut t = at;
                    while t < stop {
                        push(t, Action::Blackhole { nodes: nodes.clone(), inbound: true, outbound: false, on: true });
                        let t_off = (t + on).min(stop);
                        push(
                            t_off,
                            Action::Blackhole { nodes: nodes.clone(), inbound: true, outbound: false, on: false },
                        );
                        t = t + on + off;
                    }
                    ends.push(end);
                }
                FaultKind::Clog => {
                    let until = at + need(f.duration, f.kind, "duration")?.0;
                    push(at, Action::Clog { nodes: nodes.clone(), until });
                    ends.push(Some(until));
                }
                FaultKind::Loss => {
                    let loss = need(f.loss, f.kind, "loss")?;
                    if !(0.0..=1.0).contains(&loss) {
                        return Err(err(format!("loss {loss} not in [0, 1]")));
                    }
                    let (i, o) = (f.inbound.unwrap_or(true), f.outbound.unwrap_or(true));
                    let global = matches!(f.nodes, NodeSet::Named(AllOrNone::None));
                    let target = if global { None } else { Some(nodes.clone()) };
                    let (li, lo) = (if i { loss } else { 0.0 }, if o { loss } else { 0.0 });
                    push(at, Action::Loss { nodes: target.clone(), inbound: li, outbound: lo });
                    if let Some(e) = end {
                        push(e, Action::RestoreLoss { nodes: target });
                    }
                    ends.push(end);
                }
                FaultKind::UpdateMetadata => {
                    push(at, Action::UpdateMetadata(nodes.clone()));
                    ends.push(Some(at));
                }
                FaultKind::Heal => {
                    push(at, Action::HealAll);
                    heal_alls.push(at);
                    ends.push(Some(at));
                }
            }
            schedule.actions.extend(out.into_iter().map(|(at, action)| Scheduled { at, fault: name.clone(), action }));
        }
        schedule.chosen.insert(name.clone(), chosen_here.into_iter().collect());
    }
    // A transient fault without an end is still healed by a later `heal`.
    let last_heal_all = heal_alls.iter().max().copied();
    let mut healed = Some(Instant::ZERO);
    for e in ends {
        let e = match (e, last_heal_all) {
            (Some(e), _) => Some(e),
            (None, Some(h)) => Some(h),
            (None, None) => None,
        };
        healed = match (healed, e) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
    schedule.healed_at = healed;
    schedule.actions.sort_by_key(|a| a.at);
    Ok(schedule)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> BTreeMap<String, FaultSpec> {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn expands_repeats_durations_and_exclusions() {
        let faults = parse(
            r#"
            [slow]
            kind = "slow"
            at = "0s"
            nodes = { random = 2 }
            delay = { uniform = { min = "0", max = "1s" } }
            [crashes]
            kind = "crash"
            at = "10s"
            every = "10s"
            count = 3
            nodes = { random = 1 }
            exclude = ["slow", "seeds"]
            [split]
            kind = "partition"
            at = "5s"
            duration = "20s"
            nodes = { range = [0, 5] }
            "#,
        );
        let mut rng = SimRng::new(1);
        let s = expand(&faults, 10, &[0], Duration::from_secs(100), &mut rng).unwrap();
        let slow = &s.chosen["slow"];
        let crashed = &s.chosen["crashes"];
        assert_eq!(slow.len(), 2);
        assert_eq!(crashed.len(), 3, "three distinct victims");
        assert!(crashed.iter().all(|c| !slow.contains(c) && *c != 0));
        assert_eq!(s.healed_at, None, "the slowness never ends");
        let times: Vec<u64> = s.actions.iter().map(|a| a.at.as_nanos() / 1_000_000_000).collect();
        assert_eq!(times, vec![0, 5, 10, 20, 25, 30]);
        assert!(matches!(&s.actions[1].action, Action::Partition { a, b, .. } if a.len() == 5 && b.len() == 5));
        assert!(matches!(s.actions[4].action, Action::HealPartition(0)));
    }

    #[test]
    fn flip_flop_alternates_and_heals() {
        let faults = parse(
            r#"
            [ff]
            kind = "flip_flop"
            at = "10s"
            duration = "80s"
            on = "20s"
            off = "20s"
            nodes = [1, 2]
            "#,
        );
        let s = expand(&faults, 5, &[0], Duration::from_secs(200), &mut SimRng::new(1)).unwrap();
        let ons = s.actions.iter().filter(|a| matches!(a.action, Action::Blackhole { on: true, .. })).count();
        let offs = s.actions.iter().filter(|a| matches!(a.action, Action::Blackhole { on: false, .. })).count();
        assert_eq!((ons, offs), (2, 2));
        assert_eq!(s.healed_at, Some(Instant::from_secs(90)));
    }

    #[test]
    fn errors_name_the_fault() {
        let faults = parse("[x]\nkind = \"slow\"\nat = \"0s\"\nnodes = [1]\n");
        let e = expand(&faults, 5, &[0], Duration::from_secs(10), &mut SimRng::new(1)).unwrap_err();
        assert!(e.contains("delay"), "{e}");
        let faults = parse("[x]\nkind = \"crash\"\nat = \"0s\"\nnodes = [9]\n");
        assert!(expand(&faults, 5, &[0], Duration::from_secs(10), &mut SimRng::new(1)).is_err());
        let faults = parse("[x]\nkind = \"crash\"\nat = \"0s\"\nexclude = [\"y\"]\n");
        assert!(expand(&faults, 5, &[0], Duration::from_secs(10), &mut SimRng::new(1)).is_err());
    }
}
