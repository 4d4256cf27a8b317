//! Shared by the integration tests: waiting on conditions with deadlines, recording events,
//! and the time bounds each test derives from its configuration.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use swim_tokio::{Event, Events, Node};

pub mod gopeer;
pub mod lab;
pub mod tls;

/// Extra time on every bound for a loaded 2-core CI machine running other tests.
pub const SLACK: Duration = Duration::from_secs(10);

/// How often conditions are re-checked.
pub const POLL: Duration = Duration::from_millis(50);

/// Wait until `check` returns `Ok`, re-checking every [`POLL`]; panic with `what` and the
/// last `Err` if `within` passes first. Returns how long it took.
pub async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let start = tokio::time::Instant::now();
    let deadline = start + within;
    loop {
        let last = match check().await {
            Ok(()) => {
                println!("{what}: {:?} (bound {within:?})", start.elapsed());
                return start.elapsed();
            }
            Err(e) => e,
        };
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {within:?} waiting for {what}: {last}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Every event a member emitted since it started, recorded by a background task.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Event>>>);

impl Recorder {
    /// Record `node`'s events from now on.
    pub fn attach(node: &Node) -> Self {
        Recorder::record(node.events())
    }

    /// Record the events of a subscription (from [`Node::start_with_events`]: every event).
    pub fn record(mut events: Events) -> Self {
        let recorder = Recorder::default();
        let log = recorder.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                log.0.lock().unwrap().push(event);
            }
        });
        recorder
    }

    /// Whether any recorded event matches.
    pub fn any(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.0.lock().unwrap().iter().any(f)
    }

    /// How many recorded events match.
    pub fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.0.lock().unwrap().iter().filter(|e| f(e)).count()
    }

    /// What `f` finds in the `i`-th recorded event.
    #[allow(dead_code)] // not every test binary uses it
    pub fn nth<T>(&self, i: usize, f: impl Fn(&Event) -> Option<T>) -> Option<T> {
        self.0.lock().unwrap().get(i).and_then(f)
    }

    /// Position of the first matching event.
    pub fn position(&self, f: impl Fn(&Event) -> bool) -> Option<usize> {
        self.0.lock().unwrap().iter().position(f)
    }
}

pub fn failed(name: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::MemberFailed(m) if m.name == name)
}

pub fn suspected(name: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::MemberSuspected { member, .. } if member.name == name)
}

pub fn left(name: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::MemberLeft(m) if m.name == name)
}

/// Upper bound on the time from a crash until every live member of an `n`-member cluster
/// has declared the crashed member failed, from its configuration:
///
/// - some member declares the crashed one dead within [`swim_core::Timings::detection_bound`]:
///   its round-robin probe reaches it within `2n - 1` probe intervals (unscaled, since
///   healthy members have a health score of 0), then the suspicion runs at most the maximum
///   suspicion timeout (Lifeguard's `beta * alpha * max(1, log10 n) * probe interval`);
/// - the death notice then spreads by gossip, each update being sent at most the retransmit
///   limit times, one gossip interval apart;
/// - plus [`SLACK`].
pub fn crash_detection_bound(c: &swim_core::Config, n: usize) -> Duration {
    c.timings(n).detection_bound() + dissemination_bound(c, n) + SLACK
}

/// Upper bound on the time for an update to reach every member by gossip alone: the
/// retransmit limit's worth of gossip intervals, then one periodic push-pull (which repairs
/// whatever gossip missed) and its stream timeout. Excludes [`SLACK`].
pub fn dissemination_bound(c: &swim_core::Config, n: usize) -> Duration {
    let t = c.timings(n);
    t.gossip_bound() + t.push_pull_interval.unwrap_or(Duration::ZERO) + c.stream_timeout
}

/// Upper bound for `n` members joining through one seed to all see each other: each join
/// is one push-pull with the seed (at most the stream timeout), then gossip and the early
/// follow-up push-pull spread the rest ([`dissemination_bound`]), plus [`SLACK`].
pub fn convergence_bound(c: &swim_core::Config, n: usize) -> Duration {
    c.stream_timeout + dissemination_bound(c, n) + SLACK
}

/// The `agent` example's binary (`swim-agent`), which cargo builds before the tests that
/// need the `cli` feature; no test builds anything itself.
#[cfg(feature = "cli")]
pub fn agent_binary() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_swim-agent").into()
}

/// The `kv` example's binary (`swim-kv`, feature `kv`).
#[cfg(feature = "kv")]
pub fn kv_binary() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_swim-kv").into()
}

/// A running `agent` process whose output lines are collected; killed (SIGKILL) on drop.
pub struct Agent {
    pub name: String,
    child: std::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Agent {
    /// Run `command` (the agent binary, possibly behind `ip netns exec`), collecting stdout.
    pub fn spawn(name: &str, mut command: std::process::Command) -> Agent {
        use std::io::BufRead;
        command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::inherit());
        let mut child = command.spawn().expect("spawn agent");
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let label = name.to_string();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if std::env::var_os("SWIM_TEST_VERBOSE").is_some() {
                    println!("[{label}] {line}");
                }
                sink.lock().unwrap().push(line);
            }
        });
        Agent { name: name.to_string(), child, lines }
    }

    /// Whether a line reports event `what` about `member` (`<secs> <what> <member> ...`).
    pub fn saw(&self, what: &str, member: &str) -> bool {
        self.lines.lock().unwrap().iter().any(|l| {
            let mut t = l.split_whitespace().skip(1);
            t.next() == Some(what) && t.next() == Some(member)
        })
    }

    /// Whether a line reports, in the words of swim-core's `Display` for events, that
    /// `member` did `what` (`[a] b joined at ...`: `reported("b", "joined")`).
    pub fn reported(&self, member: &str, what: &str) -> bool {
        self.lines.lock().unwrap().iter().any(|l| {
            let mut t = l.split_whitespace().skip(1);
            t.next() == Some(member) && t.next() == Some(what)
        })
    }

    /// How many lines report event `what` (about anyone).
    pub fn count_events(&self, what: &str) -> usize {
        self.lines.lock().unwrap().iter().filter(|l| l.split_whitespace().nth(1) == Some(what)).count()
    }

    /// The counter `key` in the latest `stats` line (the agent's `--stats` output).
    pub fn stat(&self, key: &str) -> Option<u64> {
        let lines = self.lines.lock().unwrap();
        let line = lines.iter().rev().find(|l| l.split_whitespace().nth(1) == Some("stats"))?;
        line.split_whitespace().find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
    }

    /// Whether a line is exactly `<secs> <what>`.
    pub fn said(&self, what: &str) -> bool {
        self.lines.lock().unwrap().iter().any(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            t.len() == 2 && t[1] == what
        })
    }

    /// The index of the last line reporting any of `whats` about `member`, and its event.
    pub fn last(&self, whats: &[&str], member: &str) -> Option<String> {
        self.lines.lock().unwrap().iter().rev().find_map(|l| {
            let mut t = l.split_whitespace().skip(1);
            let what = t.next()?;
            (whats.contains(&what) && t.next() == Some(member)).then(|| what.to_string())
        })
    }

    /// Every event printed about `member`, in order (`joined`, `failed`, `held-down`, ...).
    pub fn history(&self, member: &str) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| {
                let mut t = l.split_whitespace().skip(1);
                let what = t.next()?;
                (t.next() == Some(member)).then(|| what.to_string())
            })
            .collect()
    }

    /// The address in the `ready <name> <addr>` line, once printed.
    pub fn ready(&self) -> Option<std::net::SocketAddr> {
        self.lines.lock().unwrap().iter().find_map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            (t.get(1) == Some(&"ready")).then(|| t.get(3)?.parse().ok()).flatten()
        })
    }

    /// The words of the `ready ...` line after the time, once printed.
    pub fn ready_words(&self) -> Option<Vec<String>> {
        self.lines.lock().unwrap().iter().find_map(|l| {
            let t: Vec<String> = l.split_whitespace().skip(1).map(str::to_string).collect();
            (t.first().map(String::as_str) == Some("ready")).then_some(t)
        })
    }

    /// Everything printed so far, for failure messages.
    pub fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Send SIGTERM (the agent leaves gracefully) and wait for it to exit.
    pub fn terminate(&mut self, within: Duration) -> bool {
        // The shell's kill builtin: kill(1) is not in every minimal image.
        let pid = self.child.id();
        let _ = std::process::Command::new("sh").args(["-c", &format!("kill -TERM {pid}")]).status();
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(POLL);
        }
        false
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

/// [`eventually`] for plain threads: wait until `check` returns `Ok`, re-checking every
/// [`POLL`]; panic with `what` and the last `Err` if `within` passes first.
pub fn wait_until(what: &str, within: Duration, mut check: impl FnMut() -> Result<(), String>) -> Duration {
    let start = std::time::Instant::now();
    loop {
        let last = match check() {
            Ok(()) => {
                println!("{what}: {:?} (bound {within:?})", start.elapsed());
                return start.elapsed();
            }
            Err(e) => e,
        };
        if start.elapsed() >= within {
            panic!("timed out after {within:?} waiting for {what}: {last}");
        }
        std::thread::sleep(POLL);
    }
}
