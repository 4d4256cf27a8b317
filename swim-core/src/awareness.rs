//! Lifeguard's awareness (the paper's Local Health Multiplier); its value is the
//! *health score*.
//!
//! A member that misses acks it should have received, or that keeps having to
//! refute suspicions about itself, is more likely the slow party than its
//! targets are. The score counts that evidence, saturating in `0..=max-1`, and
//! stretches the probe interval (and, if configured, the probe timeout) by
//! `score + 1`, so a starved member probes less often and waits longer before
//! accusing anyone.
//!
//! | evidence | delta |
//! |---|---|
//! | probe acked | -1 |
//! | probe failed, no nack-capable helper asked | +1 |
//! | probe failed, helpers asked | + (expected nacks - nacks received) |
//! | refuted a suspicion or death notice about itself | +1 |

use core::time::Duration;

/// Awareness: the health score and its bound.
#[derive(Clone, Debug)]
pub struct Awareness {
    score: u32,
    max: u32,
    enabled: bool,
}

impl Awareness {
    /// A score of 0 that saturates at `max - 1`. When `enabled` is false the score stays 0.
    pub fn new(max: u32, enabled: bool) -> Self {
        Awareness { score: 0, max: max.max(1), enabled }
    }

    /// The current score, in `0..max`.
    pub fn score(&self) -> u32 {
        self.score
    }

    /// Add `delta`, saturating at both ends. Returns the new score if it changed.
    pub fn apply(&mut self, delta: i64) -> Option<u32> {
        if !self.enabled || delta == 0 {
            return None;
        }
        let top = i64::from(self.max - 1);
        let next = (i64::from(self.score) + delta).clamp(0, top) as u32;
        if next == self.score {
            return None;
        }
        self.score = next;
        Some(next)
    }

    /// `d * (score + 1)`.
    pub fn scale(&self, d: Duration) -> Duration {
        d.saturating_mul(self.score + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturates_at_both_ends() {
        let mut a = Awareness::new(8, true);
        assert_eq!(a.apply(-1), None);
        assert_eq!(a.score(), 0);
        assert_eq!(a.apply(3), Some(3));
        assert_eq!(a.apply(100), Some(7));
        assert_eq!(a.apply(1), None);
        assert_eq!(a.score(), 7);
        assert_eq!(a.scale(Duration::from_secs(1)), Duration::from_secs(8));
        assert_eq!(a.apply(-100), Some(0));
        assert_eq!(a.scale(Duration::from_millis(500)), Duration::from_millis(500));
    }

    #[test]
    fn max_one_pins_the_score() {
        let mut a = Awareness::new(1, true);
        assert_eq!(a.apply(5), None);
        assert_eq!(a.score(), 0);
    }

    #[test]
    fn disabled_stays_at_zero() {
        let mut a = Awareness::new(8, false);
        assert_eq!(a.apply(5), None);
        assert_eq!(a.scale(Duration::from_secs(1)), Duration::from_secs(1));
    }
}
