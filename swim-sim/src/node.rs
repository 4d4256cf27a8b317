//! One simulated member: its core (while its process runs), its life, its CPU starvation and
//! its traffic counters.

use swim_core::{Instant, Swim, Versions};

use crate::dist::Sampler;
use crate::rng::SimRng;

/// Where a member's process is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not started yet.
    Idle,
    /// Running.
    Up,
    /// Running, has announced a leave, will stop.
    Leaving,
    /// Crashed or stopped.
    Down,
}

/// CPU starvation of one member.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slow {
    pub sampler: Sampler,
    pub in_order: bool,
    pub busy_until: Instant,
}

/// Messages and bytes a member sent and received (datagrams and streams together).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Messages sent.
    pub msgs_out: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Messages handled.
    pub msgs_in: u64,
    /// Bytes handled.
    pub bytes_in: u64,
}

impl Traffic {
    pub(crate) fn minus(&self, base: &Traffic) -> Traffic {
        Traffic {
            msgs_out: self.msgs_out - base.msgs_out,
            bytes_out: self.bytes_out - base.bytes_out,
            msgs_in: self.msgs_in - base.msgs_in,
            bytes_in: self.bytes_in - base.bytes_in,
        }
    }
}

pub(crate) struct SimNode {
    pub swim: Option<Box<Swim<u32>>>,
    pub status: Status,
    pub life: u32,
    pub slow: Option<Slow>,
    pub rng: SimRng,
    pub timer_at: Instant,
    pub timer_gen: u32,
    pub timer_armed: bool,
    /// Timer fires at the same instant in a row (a livelock guard).
    pub same_instant_fires: u32,
    pub last_fire: Instant,
    pub traffic: Traffic,
    pub baseline: Traffic,
    pub up_since: Option<Instant>,
    pub up_ns: u64,
    pub last_incarnation: u32,
    pub peak_table_bytes: usize,
    /// Version ranges this member runs with instead of the run's (set by a `versions` fault).
    pub versions: Option<Versions>,
}

impl SimNode {
    pub fn new(rng: SimRng) -> Self {
        SimNode {
            swim: None,
            status: Status::Idle,
            life: 0,
            slow: None,
            rng,
            timer_at: Instant::ZERO,
            timer_gen: 0,
            timer_armed: false,
            same_instant_fires: 0,
            last_fire: Instant::ZERO,
            traffic: Traffic::default(),
            baseline: Traffic::default(),
            up_since: None,
            up_ns: 0,
            last_incarnation: 0,
            peak_table_bytes: 0,
            versions: None,
        }
    }

    pub fn running(&self) -> bool {
        matches!(self.status, Status::Up | Status::Leaving)
    }

    /// Account up time since `up_since` (counted from `window_start`) up to `now`.
    pub fn account_uptime(&mut self, now: Instant, window_start: Instant) {
        if let Some(s) = self.up_since {
            let from = s.max(window_start);
            if now > from {
                self.up_ns += (now - from).as_nanos() as u64;
            }
            self.up_since = Some(now);
        }
    }
}
