//! Seeds for randomized tests, the replay hint printed when one fails, and a tiny
//! application on the hooks.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use swim_core::Bytes;
use swim_core::hooks::{Candidate, Exchange, Hooks, Refusal};

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

/// States each member merged: member index -> (sender, state, join exchange).
pub type Merged = std::sync::Arc<std::sync::Mutex<BTreeMap<u32, BTreeSet<(String, String, bool)>>>>;

/// A tiny application: each member's state is its name in upper case; `refused` is kept out.
pub struct App {
    pub me: u32,
    pub merged: Merged,
    pub refused: Option<&'static str>,
}

impl Hooks<u32> for App {
    fn local_state(&mut self, _: Exchange) -> Bytes {
        Bytes::from(format!("NODE-{}", self.me))
    }

    fn merge_remote_state(&mut self, from: &str, state: &[u8], exchange: Exchange) {
        let entry = (from.to_owned(), String::from_utf8_lossy(state).into_owned(), exchange == Exchange::Join);
        self.merged.lock().unwrap().entry(self.me).or_default().insert(entry);
    }

    fn admit_member(&mut self, candidate: &Candidate<'_, u32>) -> Result<(), Refusal> {
        match self.refused {
            Some(name) if name == candidate.name => Err(Refusal::new("kept out")),
            _ => Ok(()),
        }
    }
}
