//! Steady-state cost and detection speed of a loopback cluster in one process, the way
//! memberlist's figures in `docs/performance.md` were taken:
//!
//! ```sh
//! cargo bench -p swim-tokio --bench cluster -- --nodes 50 --preset lan
//! ```
//!
//! 1. start `--nodes` members on 127.0.0.1 (port 0) and have every member join the first;
//!    **join converged** is the time until every member counts all of them;
//! 2. let gossip settle (`--settle` seconds, default 10), then measure **CPU per member** over
//!    `--steady` seconds (default 20; process CPU time from /proc, divided by members and
//!    seconds) and **memory per member** (growth of the resident set since before the first
//!    start, divided by members; the cores' own estimate is printed beside it, and so is the
//!    process's peak resident set divided by members, the figure Go's `getrusage` maxrss gives
//!    for memberlist);
//! 3. shut one member down without a leave notice and poll every member every 10 ms:
//!    **crash seen by first / all** is when the first and the last of the others hold it
//!    as failed.
//!
//! Nothing subscribes to events (a subscription allocates the event buffer).
//!
//! `--transport tls` runs the members over the TLS transport (mutual TLS, a certificate from
//! a CA generated at start), and `--transport both` runs the whole measurement once per
//! transport, default first, in the same process with the same settings and window, and
//! ends with one line comparing their CPU per member (`--tls-idle SECONDS` sets the TLS
//! transport's idle timeout, 30 s by default):
//!
//! ```sh
//! cargo bench -p swim-tokio --bench cluster -- --nodes 20 --preset lan --transport both
//! ```
//!
//! The defaults (10 s settle, 20 s window) are those of `gopeer -settle 10s -idle 20s`, the Go
//! memberlist peer that `compare-memberlist.sh` in this directory runs interleaved with this
//! benchmark. The last lines of the output repeat the figures as `key value` pairs named as
//! gopeer names them, for that script.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use swim_tokio::{Config, Node, State};

struct Args {
    nodes: usize,
    preset: String,
    steady: u64,
    settle: u64,
    threads: usize,
    transport: String,
    tls_idle: u64,
}

fn parse_args() -> Args {
    let mut a = Args {
        nodes: 50,
        preset: "lan".into(),
        steady: 20,
        settle: 10,
        threads: 2,
        transport: "udp".into(),
        tls_idle: 30,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--nodes" => a.nodes = value().parse().expect("--nodes N"),
            "--preset" => a.preset = value(),
            "--steady" => a.steady = value().parse().expect("--steady SECONDS"),
            "--settle" => a.settle = value().parse().expect("--settle SECONDS"),
            "--threads" => a.threads = value().parse().expect("--threads N (0: current-thread runtime)"),
            "--transport" => a.transport = value(),
            "--tls-idle" => a.tls_idle = value().parse().expect("--tls-idle SECONDS"),
            "--bench" => {}
            "--help" | "-h" => {
                println!(
                    "cluster [--nodes 50] [--preset lan|local|wan] [--steady 20] [--settle 10] [--threads 2] \
                     [--transport udp|tls|both] [--tls-idle 30]\n\
                     --threads 0 runs every member on a current-thread runtime"
                );
                std::process::exit(0);
            }
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(a.nodes >= 2, "--nodes must be at least 2");
    a
}

/// CPU time of this process so far: the sum over its threads of
/// /proc/self/task/*/schedstat's on-CPU nanoseconds.
fn cpu_time() -> Duration {
    let mut total = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            let s = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            total += s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}

/// A size field of /proc/self/status (`VmRSS:`, `VmHWM:`), in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Resident set size of this process, in bytes.
fn rss() -> u64 {
    status_bytes("VmRSS:")
}

fn main() {
    let args = parse_args();
    let runtime = if args.threads == 0 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build()
    }
    .expect("tokio runtime");
    let transports: &[&str] = match args.transport.as_str() {
        "udp" => &["udp"],
        "tls" => &["tls"],
        "both" => &["udp", "tls"],
        other => panic!("unknown transport {other} (udp, tls or both)"),
    };
    let mut cpu = Vec::new();
    for t in transports {
        cpu.push((*t, runtime.block_on(run(&args, t))));
    }
    if let [(_, udp), (_, tls)] = cpu[..] {
        println!();
        println!(
            "CPU per member, same run, {} members, {} preset, {} s window each: default (UDP+TCP) {udp:.3} ms per \
             member-second, TLS {tls:.3} ms per member-second ({:.1}x)",
            args.nodes,
            args.preset,
            args.steady,
            tls / udp
        );
    }
}

/// Mutual TLS settings for every member: one certificate for 127.0.0.1 from a fresh CA, and
/// the given idle timeout.
fn tls_config(idle: u64) -> swim_tokio::TlsConfig {
    let mut ca = rcgen::CertificateParams::new(Vec::new()).expect("no names");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let root = ca.self_signed(&ca_key).expect("CA");
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("names")
        .signed_by(&key, &issuer)
        .expect("certificate");
    let key = swim_tokio::transport::rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let mut tls =
        swim_tokio::TlsConfig::mutual([root.der().clone()], vec![cert.der().clone()], key).expect("TLS settings");
    tls.idle_timeout = Duration::from_secs(idle.max(1));
    tls
}

/// Measure a cluster over `transport` (`udp` or `tls`); returns the CPU per member, in ms
/// per member-second.
async fn run(args: &Args, transport: &str) -> f64 {
    let n = args.nodes;
    let swim = match args.preset.as_str() {
        "lan" => swim_core::Config::lan(),
        "wan" => swim_core::Config::wan(),
        "local" => swim_core::Config::local(),
        other => panic!("unknown preset {other}"),
    };
    println!(
        "swim-tokio cluster benchmark: {n} members, {} preset, {} transport, {} runtime, steady window {} s",
        args.preset,
        if transport == "tls" { "TLS" } else { "default (UDP+TCP)" },
        if args.threads == 0 { "current-thread".to_string() } else { format!("{}-worker", args.threads) },
        args.steady
    );
    let rss_before = rss();
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut nodes = Vec::with_capacity(n);
    let tls = (transport == "tls").then(|| tls_config(args.tls_idle));
    for i in 0..n {
        let config = Config::new(format!("node-{i}"), swim.clone()).with_bind_addr(loopback);
        let node = match &tls {
            None => Node::start(config).await.expect("start"),
            Some(tls) => {
                let transport = swim_tokio::TlsTransport::bind(loopback, tls.clone()).expect("bind");
                Node::start_with_transport(config, transport).await.expect("start").0
            }
        };
        nodes.push(node);
    }

    let rss_started = rss();
    // 1. Join converged.
    let seed = nodes[0].local_addr();
    let started = Instant::now();
    let mut joins = tokio::task::JoinSet::new();
    for node in &nodes[1..] {
        let node = node.clone();
        joins.spawn(async move { node.join([seed]).await });
    }
    let converged = loop {
        let mut all = true;
        for node in &nodes {
            all &= node.num_members().await.unwrap() == n;
        }
        if all {
            break started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(2) && std::env::var_os("SWIM_BENCH_DEBUG").is_some() {
            for node in &nodes {
                let m = node.all_members().await.unwrap();
                if m.len() != n || m.iter().any(|m| m.state != State::Alive) {
                    let odd: Vec<_> =
                        m.iter().filter(|m| m.state != State::Alive).map(|m| (m.name.to_string(), m.state)).collect();
                    println!("{:.1}s {} knows {} ({odd:?})", started.elapsed().as_secs_f64(), node.name(), m.len());
                }
            }
        }
        assert!(started.elapsed() < Duration::from_secs(120), "no convergence within 120 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    while let Some(j) = joins.join_next().await {
        j.unwrap().expect("join");
    }
    let after_join = stats(&nodes).await;
    let sum = |f: fn(&swim_tokio::NodeStats) -> u64| after_join.iter().map(f).sum::<u64>();
    println!(
        "after the joins: udp send errors {}, stream failures {}, streams overloaded {}, core drops {} \
         (transmits {}, membership updates {}, user broadcasts {}), decode errors {}, suspicions {}",
        sum(|s| s.transport.udp_send_errors),
        sum(|s| s.transport.outbound_connect_errors + s.transport.outbound_write_errors),
        sum(|s| s.transport.outbound_overloaded),
        sum(|s| {
            s.core.transmits_dropped
                + s.core.membership_updates_dropped
                + s.core.user_broadcasts_dropped
                + s.core.events_dropped
        }),
        sum(|s| s.core.transmits_dropped),
        sum(|s| s.core.membership_updates_dropped),
        sum(|s| s.core.user_broadcasts_dropped),
        sum(|s| s.core.decode_errors.total()),
        sum(|s| s.core.suspicions),
    );

    // 2. Steady state.
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let before = stats(&nodes).await;
    let cpu_start = cpu_time();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.steady)).await;
    let cpu = cpu_time() - cpu_start;
    let window = t0.elapsed();
    let after = stats(&nodes).await;
    let rss_after = rss();
    let node_seconds = n as f64 * window.as_secs_f64();
    let cpu_ms_per_node_s = cpu.as_secs_f64() * 1e3 / node_seconds;
    let mem_per_node = rss_after.saturating_sub(rss_before) as f64 / n as f64;
    let core_mem: usize = after.iter().map(|s| s.memory.total()).sum::<usize>() / n;
    let packets = |s: &[swim_tokio::NodeStats]| s.iter().map(|s| s.core.packets_out).sum::<u64>();
    let bytes = |s: &[swim_tokio::NodeStats]| s.iter().map(|s| s.core.bytes_out).sum::<u64>();
    let pps = (packets(&after) - packets(&before)) as f64 / node_seconds;
    let bps = (bytes(&after) - bytes(&before)) as f64 / node_seconds;
    let suspicions: u64 =
        after.iter().map(|s| s.core.suspicions).sum::<u64>() - before.iter().map(|s| s.core.suspicions).sum::<u64>();

    // 3. Crash detection.
    let victim = nodes.pop().expect("at least two");
    let victim_name = victim.name().to_string();
    victim.shutdown().await;
    let crashed = Instant::now();
    let mut seen: Vec<Option<Duration>> = vec![None; nodes.len()];
    while seen.iter().any(Option::is_none) {
        for (i, node) in nodes.iter().enumerate() {
            if seen[i].is_none() && node.member(&victim_name).await.unwrap().is_some_and(|m| m.state == State::Dead) {
                seen[i] = Some(crashed.elapsed());
            }
        }
        assert!(crashed.elapsed() < Duration::from_secs(300), "crash not detected by all within 300 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let first = seen.iter().flatten().min().copied().unwrap_or_default();
    let all = seen.iter().flatten().max().copied().unwrap_or_default();

    println!();
    println!(
        "| members | preset | join converged | CPU per member | memory per member (RSS; core estimate) | datagrams out per member-second | crash seen by first / all |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {n} | {} | {:.2} s | {:.3} ms per member-second | {:.0} KiB; {:.1} KiB | {:.2} ({:.0} B/s) | {:.1} s / {:.1} s |",
        args.preset.to_uppercase(),
        converged.as_secs_f64(),
        cpu_ms_per_node_s,
        mem_per_node / 1024.0,
        core_mem as f64 / 1024.0,
        pps,
        bps,
        first.as_secs_f64(),
        all.as_secs_f64()
    );
    println!("suspicions during the steady window: {suspicions} (false positives would show here)");
    println!(
        "resident memory per member: {:.0} KiB once started (before joining), {:.0} KiB in the steady state",
        rss_started.saturating_sub(rss_before) as f64 / n as f64 / 1024.0,
        mem_per_node / 1024.0
    );
    // Peak resident set of the whole process, as Go's getrusage maxrss reports it for gopeer.
    let peak_per_node_kb = status_bytes("VmHWM:") as f64 / 1024.0 / n as f64;
    println!("peak resident set of the process per member: {peak_per_node_kb:.0} KiB");
    println!();
    println!("join_converged_s {:.3}", converged.as_secs_f64());
    println!("idle_cpu_ms_per_node_per_s {cpu_ms_per_node_s:.3}");
    println!("detect_first_s {:.3}", first.as_secs_f64());
    println!("detect_all_s {:.3}", all.as_secs_f64());
    // No member can be declared dead without a suspicion first: zero here means no false
    // positive (gopeer prints `false_positive_reports`, deaths of live members, instead).
    println!("suspicions_before_crash {}", after.iter().map(|s| s.core.suspicions).sum::<u64>());
    println!("max_rss_kb_per_node {peak_per_node_kb:.0}");
    println!("rss_growth_kb_per_node {:.0}", mem_per_node / 1024.0);
    for node in &nodes {
        node.shutdown().await;
    }
    cpu_ms_per_node_s
}

async fn stats(nodes: &[Node]) -> Vec<swim_tokio::NodeStats> {
    let mut out = Vec::with_capacity(nodes.len());
    for n in nodes {
        out.push(n.stats().await.unwrap());
    }
    out
}
