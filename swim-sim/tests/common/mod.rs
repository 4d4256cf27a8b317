//! Seeds for randomized tests, and the replay hint printed when one fails.

#![allow(dead_code)]

/// Seeds for a randomized test: `SWIM_SIM_SEED=n` replays one, otherwise `count` seeds from
/// `base`.
pub fn seeds(base: u64, count: u64) -> Vec<u64> {
    match std::env::var("SWIM_SIM_SEED") {
        Ok(s) => vec![s.parse().expect("SWIM_SIM_SEED must be a u64")],
        Err(_) => (base..base + count).collect(),
    }
}

/// Prints the seed and the replay commands if the test panics while this guard is alive.
pub struct SeedGuard {
    pub seed: u64,
    pub test: &'static str,
    pub file: &'static str,
}

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "\n*** failed with seed {seed}; replay with:\n    SWIM_SIM_SEED={seed} cargo test -p swim-sim --test {file} {test} -- --exact --nocapture\n",
                seed = self.seed,
                file = self.file,
                test = self.test
            );
        }
    }
}
