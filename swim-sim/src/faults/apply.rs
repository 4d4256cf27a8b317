//! Fault application: what each [`Action`] of the schedule does to the running simulation.
//!
//! The schedule ([`super::expand`]) decides what happens when; this applies one action to
//! the network, the processes and their slowness, and marks the members a network fault
//! touches as impaired, so that a failure they cause is not counted as a false positive.

use swim_core::Instant;

use super::Action;
use crate::sim::Simulation;
use crate::trace::TraceRecord;

impl Simulation {
    /// Apply action `k` of the expanded schedule.
    pub(crate) fn apply_scheduled(&mut self, k: usize) {
        self.trace(TraceRecord::Fault { index: k });
        let action = self.schedule.actions[k].action.clone();
        self.apply_action(&action);
    }

    /// Members touched by a network fault count as impaired until the stale window has passed
    /// since (the suspicions it started may still run out).
    fn mark_impaired(&mut self, nodes: &[u32], until: Instant) {
        let until = until + self.cfg.stale_window();
        for &i in nodes {
            let u = &mut self.impaired_until[i as usize];
            *u = (*u).max(until);
        }
    }

    /// Apply one fault action now: first note who it impairs (for the ground truth), then
    /// change the network, the processes or their slowness.
    pub(crate) fn apply_action(&mut self, action: &Action) {
        let now = self.now;
        match action {
            Action::Partition { a, b, .. } => {
                self.mark_impaired(a, now);
                self.mark_impaired(b, now);
            }
            Action::HealPartition(_) | Action::HealAll => {
                let all: Vec<u32> = (0..self.nodes.len() as u32).filter(|&i| self.net.impaired(now, i)).collect();
                self.mark_impaired(&all, now);
            }
            Action::Blackhole { nodes, .. }
            | Action::Loss { nodes: Some(nodes), .. }
            | Action::RestoreLoss { nodes: Some(nodes) } => {
                self.mark_impaired(nodes, now);
            }
            Action::Clog { nodes, until } => self.mark_impaired(nodes, *until),
            _ => {}
        }
        match action {
            Action::Blackhole { nodes, on, .. } => self.truth.network_fault(now, nodes, *on),
            Action::Loss { nodes: Some(nodes), .. } => self.truth.network_fault(now, nodes, true),
            Action::RestoreLoss { nodes: Some(nodes) } => self.truth.network_fault(now, nodes, false),
            _ => {}
        }
        match action {
            Action::Crash(nodes) => {
                for &i in nodes {
                    self.crash(i, true);
                }
            }
            Action::Leave(nodes) => {
                for &i in nodes {
                    self.leave(i);
                }
            }
            Action::Start { nodes, restart, incarnation, versions } => {
                for &i in nodes {
                    if !*restart && self.nodes[i as usize].running() {
                        continue; // a join of a running member does nothing
                    }
                    if let Some(v) = versions {
                        let base = self.nodes[i as usize].versions.unwrap_or(self.cfg.config.versions);
                        self.nodes[i as usize].versions = Some(v.apply(base));
                    }
                    if let Err(e) = self.start_node(i, *restart, *incarnation, false, true) {
                        self.violate(Some(i), e.0);
                    }
                }
            }
            Action::Slow { nodes, delay, in_order } => {
                for &i in nodes {
                    self.set_slow(i, Some(delay), *in_order);
                }
            }
            Action::Unslow(nodes) => {
                for &i in nodes {
                    self.set_slow(i, None, false);
                }
            }
            Action::Partition { key, a, b, one_way } => match self.net.partition(a, b, *one_way) {
                Some(id) => {
                    self.partitions.insert(*key, id);
                }
                None => self.violate(None, "more than 64 partitions at once".into()),
            },
            Action::HealPartition(key) => {
                if let Some(id) = self.partitions.remove(key) {
                    self.net.heal_partition(id);
                }
            }
            Action::Blackhole { nodes, inbound, outbound, on } => {
                for &i in nodes {
                    self.net.blackhole(i, *inbound, *outbound, *on);
                }
            }
            Action::Clog { nodes, until } => {
                for &i in nodes {
                    self.net.clog(i, *until);
                }
            }
            Action::Loss { nodes: Some(nodes), inbound, outbound } => {
                for &i in nodes {
                    self.net.set_node_loss(i, *inbound, *outbound);
                }
            }
            Action::Loss { nodes: None, inbound, .. } => self.net.set_loss(*inbound),
            Action::RestoreLoss { nodes: Some(nodes) } => {
                for &i in nodes {
                    self.net.set_node_loss(i, 0.0, 0.0);
                }
            }
            Action::RestoreLoss { nodes: None } => self.net.set_loss(self.cfg.network.loss),
            Action::UpdateMetadata(nodes) => {
                for &i in nodes {
                    self.metadata_version += 1;
                    let meta = format!("v{}", self.metadata_version).into_bytes();
                    let Some(s) = self.nodes[i as usize].swim.as_mut() else { continue };
                    if s.is_leaving() {
                        continue;
                    }
                    if s.update_metadata(now, meta).is_ok() {
                        let inc = s.local().incarnation;
                        self.truth.update_started(now, i, inc);
                    }
                    self.after_input(i, 0);
                }
            }
            Action::HealAll => {
                for (_, id) in std::mem::take(&mut self.partitions) {
                    self.net.heal_partition(id);
                }
                self.net.clear_blackholes();
                for i in 0..self.nodes.len() as u32 {
                    self.net.unclog(i, now);
                    self.net.set_node_loss(i, 0.0, 0.0);
                    if self.nodes[i as usize].slow.is_some() {
                        self.set_slow(i, None, false);
                    }
                }
                self.net.set_loss(self.cfg.network.loss);
            }
        }
    }
}
