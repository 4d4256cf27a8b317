//! A long mixed soak (issue 16, point 3): Go memberlist members (`interop/go-peer`, one
//! process each) and swim members in the memberlist wire profile, on loopback, with one member
//! killed (SIGKILL for Go, an abrupt shutdown for swim; alternating kinds) and restarted at the
//! same address every period. It counts false failures (a member declared failed or gone
//! while it was running) at every observer, measures how long each kill took to be detected,
//! and checks that every member's final view is the same.
//!
//! ```sh
//! cargo run -p swim-tokio --example mixed_soak --release -- --go 10 --swim 10 --minutes 10
//! ```
//!
//! Needs Debian's golang-go and golang-github-hashicorp-memberlist-dev. Exits non-zero if a
//! false failure was seen or the final views differ. `--key <hex>` encrypts the whole cluster
//! with memberlist's keyring; `--label <label>` labels it and first checks that a swim member
//! with another label is refused. Labels need memberlist 0.3.1 or later, which Debian does not
//! package: put its source first on `SWIM_GOPATH` and set `SWIM_GO_TAGS=memberlist_label`
//! (docs/memberlist.md shows how).

#[allow(dead_code)]
#[path = "../tests/common/gopeer.rs"]
mod gopeer;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use gopeer::{GoPeer, GoPeerConfig};
use swim_tokio::{Config, Event, Node, State};

#[derive(Parser)]
struct Args {
    /// Go memberlist members.
    #[arg(long, default_value_t = 10)]
    go: usize,
    /// swim members.
    #[arg(long, default_value_t = 10)]
    swim: usize,
    /// How long to run, in minutes.
    #[arg(long, default_value_t = 10)]
    minutes: u64,
    /// Seconds between kills.
    #[arg(long, default_value_t = 60)]
    period: u64,
    /// memberlist's `Label` for every member.
    #[arg(long)]
    label: Option<String>,
    /// memberlist's `SecretKey` for every member, in hex (16, 24 or 32 bytes).
    #[arg(long)]
    key: Option<String>,
}

/// The cluster's label and key, as every member gets them.
#[derive(Clone, Default)]
struct Secrets {
    label: String,
    key: Option<Vec<u8>>,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("--key is hex")).collect()
}

fn preset() -> swim_core::Config {
    swim_core::Config { retransmit_mult: 4, ..swim_core::Config::local() }.memberlist_wire()
}

/// A swim member and the failures it reported, by member name, with when.
struct Swimmer {
    node: Node,
    addr: SocketAddr,
    failures: Arc<Mutex<Vec<(String, Instant)>>>,
}

async fn start_swim(name: &str, bind: SocketAddr, seed: &str, secrets: &Secrets) -> Swimmer {
    let mut config = Config::new(name, preset()).with_bind_addr(bind);
    config.swim.label = secrets.label.clone().into();
    if let Some(key) = &secrets.key {
        config = config.with_memberlist_keys([key.clone()]);
    }
    let (node, mut events) = Node::start_with_events(config).await.expect("start a swim member");
    let failures = Arc::new(Mutex::new(Vec::new()));
    let log = failures.clone();
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            if let Event::MemberFailed(m) | Event::MemberLeft(m) = e {
                log.lock().unwrap().push((m.name.to_string(), Instant::now()));
            }
        }
    });
    let addr = node.advertise_addr();
    node.join([seed]).await.expect("join");
    Swimmer { node, addr, failures }
}

fn go_member(bin: &std::path::Path, name: &str, port: u16, seed: Option<&str>, secrets: &Secrets) -> GoPeer {
    let mut c = GoPeerConfig::new(name);
    c.label = secrets.label.clone();
    c.key = secrets.key.clone();
    c.retransmit_mult = 4;
    c.port = port;
    c.seeds = seed.map(|s| vec![s.to_string()]).unwrap_or_default();
    GoPeer::start(bin, &c)
}

/// "leave <name> ..." lines a Go member printed, by name, counted from line `from`.
fn go_leaves(peer: &GoPeer, from: usize) -> Vec<String> {
    peer.lines()
        .iter()
        .skip(from)
        .filter_map(|l| l.strip_prefix("leave ").and_then(|r| r.split_whitespace().next()).map(str::to_string))
        .collect()
}

async fn views(go: &mut [GoPeer], swim: &[Swimmer]) -> BTreeMap<String, Vec<String>> {
    let mut all = BTreeMap::new();
    for g in go.iter_mut() {
        let names = tokio::task::block_in_place(|| g.members());
        all.insert(g.name.clone(), names);
    }
    for s in swim {
        let mut names: Vec<String> = s
            .node
            .members()
            .await
            .expect("running")
            .into_iter()
            .filter(|m| m.state == State::Alive || m.state == State::Suspect)
            .map(|m| m.name.to_string())
            .collect();
        names.sort();
        all.insert(s.node.name().to_string(), names);
    }
    all
}

async fn wait_converged(go: &mut [GoPeer], swim: &[Swimmer], expected: usize, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let v = views(go, swim).await;
        let first = v.values().next().cloned().unwrap_or_default();
        if first.len() == expected && v.values().all(|x| *x == first) {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "no convergence within {within:?}: {v:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let secrets = Secrets { label: args.label.clone().unwrap_or_default(), key: args.key.as_deref().map(unhex) };
    let bin = gopeer::binary().unwrap_or_else(|e| panic!("the Go peer cannot be built: {e}"));
    let total = args.go + args.swim;
    let mut go: Vec<GoPeer> = Vec::new();
    go.push(go_member(&bin, "go-0", 0, None, &secrets));
    let seed = go[0].addr.clone();
    for i in 1..args.go {
        go.push(go_member(&bin, &format!("go-{i}"), 0, Some(&seed), &secrets));
    }
    if !secrets.label.is_empty() {
        // A swim member with another label reaches no one and is listed by no one.
        let other = Secrets { label: format!("{}-other", secrets.label), ..secrets.clone() };
        let mut config = Config::new("swim-other-label", preset()).with_bind_addr("127.0.0.1:0".parse().unwrap());
        config.swim.label = other.label.clone().into();
        if let Some(key) = &other.key {
            config = config.with_memberlist_keys([key.clone()]);
        }
        let stranger = Node::start(config).await.expect("start");
        let joined = stranger.join([seed.as_str()]).await;
        assert!(!matches!(joined, Ok(n) if n > 0), "a member with another label joined: {joined:?}");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!tokio::task::block_in_place(|| go[0].members()).contains(&"swim-other-label".to_string()));
        println!("a swim member labelled {:?} was refused by the {:?} cluster", other.label, secrets.label);
        stranger.shutdown().await;
    }
    let mut swim = Vec::new();
    for i in 0..args.swim {
        swim.push(start_swim(&format!("swim-{i}"), "127.0.0.1:0".parse().unwrap(), &seed, &secrets).await);
    }
    let formed = wait_converged(&mut go, &swim, total, Duration::from_secs(60)).await;
    println!("{total} members formed in {formed:?}");

    let end = Instant::now() + Duration::from_secs(args.minutes * 60);
    let (mut swim_detects_go, mut go_detects_swim) = (Vec::new(), Vec::new());
    let mut false_failures = Vec::new();
    let mut round = 0usize;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(args.period).min(end - Instant::now())).await;
        // Where each observer's output stands, so only what happens from now on counts.
        let marks: Vec<usize> = go.iter().map(|g| g.lines().len()).collect();
        let swim_marks: Vec<usize> = swim.iter().map(|s| s.failures.lock().unwrap().len()).collect();
        let kill_go = round.is_multiple_of(2);
        let killed_at = Instant::now();
        let victim = if kill_go {
            // go-0 stays up: it is everyone's seed.
            let i = 1 + (round / 2) % (args.go - 1);
            let port: u16 = go[i].addr.rsplit(':').next().unwrap().parse().unwrap();
            go[i].kill();
            let name = go[i].name.clone();
            // Detected by every swim member.
            let deadline = killed_at + Duration::from_secs(60);
            for s in &swim {
                loop {
                    if let Some((_, at)) =
                        s.failures.lock().unwrap().iter().find(|(n, at)| *n == name && *at >= killed_at)
                    {
                        swim_detects_go.push(*at - killed_at);
                        break;
                    }
                    assert!(Instant::now() < deadline, "{} never declared {name} failed", s.node.name());
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            go[i] = go_member(&bin, &name, port, Some(&seed), &secrets);
            name
        } else {
            let i = (round / 2) % args.swim;
            let name = swim[i].node.name().to_string();
            let bind = swim[i].addr;
            swim[i].node.shutdown().await;
            // Detected by every Go member.
            for (g, &mark) in go.iter().zip(&marks) {
                let line = tokio::task::block_in_place(|| {
                    g.wait_line(&format!("{} to see {name} gone", g.name), Duration::from_secs(60), |l| {
                        l.starts_with(&format!("leave {name} "))
                    })
                });
                let _ = (line, mark);
                go_detects_swim.push(killed_at.elapsed());
            }
            swim[i] = start_swim(&name, bind, &seed, &secrets).await;
            name
        };
        let took = wait_converged(&mut go, &swim, total, Duration::from_secs(90)).await;
        // False failures this round: anyone but the victim declared failed or gone.
        for (g, &mark) in go.iter().zip(&marks) {
            for n in go_leaves(g, mark) {
                if n != victim {
                    false_failures.push(format!("round {round}: {} saw {n} gone", g.name));
                }
            }
        }
        for (s, &mark) in swim.iter().zip(&swim_marks) {
            for (n, _) in s.failures.lock().unwrap().iter().skip(mark) {
                if *n != victim {
                    false_failures.push(format!("round {round}: {} declared {n} failed", s.node.name()));
                }
            }
        }
        println!("round {round}: killed {victim}, every member back in {took:?}");
        round += 1;
    }
    let final_views = views(&mut go, &swim).await;
    let first = final_views.values().next().cloned().unwrap_or_default();
    let equal = first.len() == total && final_views.values().all(|v| *v == first);
    println!(
        "{} Go + {} swim members, {} min, {round} kills: swim detected Go kills in median {:?} (max {:?}), Go detected swim kills in median {:?} (max {:?})",
        args.go,
        args.swim,
        args.minutes,
        median(&mut swim_detects_go),
        swim_detects_go.iter().max().copied().unwrap_or_default(),
        median(&mut go_detects_swim),
        go_detects_swim.iter().max().copied().unwrap_or_default(),
    );
    println!("false failures: {} {false_failures:?}", false_failures.len());
    println!("final views equal ({} members each): {equal}", first.len());
    for s in &swim {
        s.node.shutdown().await;
    }
    if !false_failures.is_empty() || !equal {
        std::process::exit(1);
    }
}
