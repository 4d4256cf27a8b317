//! A replicated key-value store on swim's application hooks, with a small HTTP interface:
//! the proof that the hooks suffice for what memberlist's key-value store does.
//!
//! ```sh
//! cargo run -p swim-tokio --example kv -- --name a --bind 127.0.0.1:7946 --http 127.0.0.1:8080
//! cargo run -p swim-tokio --example kv -- --name b --bind 127.0.0.1:7947 --http 127.0.0.1:8081 --join 127.0.0.1:7946
//! curl -X PUT --data-binary 'hello' http://127.0.0.1:8080/kv/greeting   # -> 1765028000000@a
//! curl http://127.0.0.1:8081/kv/greeting                                # -> hello
//! curl -X DELETE http://127.0.0.1:8081/kv/greeting
//! curl http://127.0.0.1:8080/kv            # every live key: <key> <version> <value>
//! curl http://127.0.0.1:8080/members       # <name> <address> <state> <incarnation>
//! curl http://127.0.0.1:8080/metrics       # Prometheus text: swim_* and swim_kv_*
//! ```
//!
//! Writes are last-writer-wins per key, sent as keyed broadcasts and repaired by the
//! anti-entropy of every push-pull; deletes are tombstones kept `--tombstone-ttl` seconds.
//! The rules, the bounds and the wire format are in `store.rs`, which swim-sim's tests run
//! too; the HTTP interface is in `http.rs`. The same source is the `swim-kv` binary
//! (feature `kv`), which the process tests run.
//!
//! Standard output has one line per happening, `<seconds since start> <what> <details>`:
//! `ready <name> <swim address> <http address>`, `joined <name>`, `failed <name>`, ...,
//! `leaving`, `left`. Exit codes: 0 after leaving on Ctrl-C or SIGTERM; 1 when the member or
//! the HTTP listener cannot start; 2 for bad command-line input.

#[path = "../common/cli.rs"]
mod cli;
mod http;
mod store;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use swim_tokio::{Event, Node};

use self::cli::{Preset, hostname};
use self::store::{Clock, KvHooks, Limits, Store, lock};

/// Run one replica of the key-value store.
#[derive(Parser, Debug)]
struct Args {
    /// Unique member name (it also names this replica's writes). Default: the host name.
    #[arg(long)]
    name: Option<String>,
    /// Address to bind UDP and TCP to for the membership protocol (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:7946")]
    bind: SocketAddr,
    /// Address other members reach this one at, if not the bound one.
    #[arg(long)]
    advertise: Option<SocketAddr>,
    /// Where the HTTP interface listens: `host:port` (port 0 picks a free one), or
    /// `unix:PATH` for a Unix socket (reachable from other network namespaces).
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = http::Listen::parse)]
    http: http::Listen,
    /// Seeds to join: `host:port`, an IP, or a name; repeat the flag or separate with commas.
    #[arg(long, value_delimiter = ',')]
    join: Vec<String>,
    /// Timing preset.
    #[arg(long, value_enum, default_value = "lan")]
    preset: Preset,
    /// Override the preset's push-pull (anti-entropy) interval, in seconds.
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    push_pull_interval: Option<Duration>,
    /// Override the preset's reconnect (partition healing) interval, in seconds.
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    reconnect_interval: Option<Duration>,
    /// How long a delete is remembered, in seconds. At least ten push-pull intervals of a
    /// 1,000-member cluster (30 minutes on LAN, 60 on WAN, 15 on local), and longer than any partition
    /// after which a deleted key must stay deleted (see store.rs on resurrection).
    #[arg(long, value_name = "SECONDS", value_parser = seconds, default_value = "3600")]
    tombstone_ttl: Duration,
    /// How long to wait for the leave notice to spread on Ctrl-C or SIGTERM.
    #[arg(long, value_name = "SECONDS", value_parser = seconds, default_value = "5")]
    leave_timeout: Duration,
}

/// A positive number of seconds, fractions allowed.
fn seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.parse().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(format!("`{s}`: give a positive number of seconds")),
    }
}

#[tokio::main]
pub async fn main() -> ExitCode {
    cli::init_logging();
    // Bad flags: clap prints the error and exits with code 2.
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("kv: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("kv: {e}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    /// The flags make no sense together (exit code 2).
    Usage(String),
    /// Something could not start (exit code 1).
    Run(String),
}

/// Milliseconds since the Unix epoch: the clock the replicas' versions share.
fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

async fn run(args: Args) -> Result<(), Failure> {
    let name = args.name.clone().unwrap_or_else(|| hostname("kv"));
    let mut config = args.preset.config(name.as_str()).with_bind_addr(args.bind);
    config.advertise_addr = args.advertise;
    if args.push_pull_interval.is_some() {
        config.swim.push_pull_interval = args.push_pull_interval;
    }
    if args.reconnect_interval.is_some() {
        config.swim.reconnect_interval = args.reconnect_interval;
    }
    let max_state = config.swim.limits.max_app_state;
    let ttl_ms = u64::try_from(args.tombstone_ttl.as_millis()).unwrap_or(u64::MAX);
    let limits = Limits { tombstone_ttl_ms: ttl_ms, ..Limits::for_core(&config.swim, max_state) };
    // Checked for a cluster of a thousand members: the push-pull interval grows with size.
    limits.check(&config.swim, max_state, 1_000).map_err(Failure::Usage)?;

    let start = Instant::now();
    let store = Store::new(name.as_str(), limits).shared();
    let wake = Arc::new(tokio::sync::Notify::new());
    let clock: Clock = Arc::new(unix_ms);
    let hooks = KvHooks::new(store.clone(), clock).with_rebroadcast_notify({
        let wake = wake.clone();
        move || wake.notify_one()
    });
    // Before the member starts: swim-tokio takes its metric handles from the recorder then.
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| Failure::Run(format!("cannot install the metrics recorder: {e}")))?;
    // The HTTP listener first: a member that cannot serve should not join at all.
    let (listener, http_addr) =
        args.http.bind().await.map_err(|e| Failure::Run(format!("cannot listen for HTTP on {}: {e}", args.http)))?;
    let (node, mut events) =
        Node::start_with_hooks(config, hooks).await.map_err(|e| Failure::Run(format!("cannot start: {e}")))?;
    let app = http::App::new(node.clone(), store.clone(), unix_ms, metrics);
    say(start, format!("ready {} {} {http_addr}", node.name(), node.advertise_addr()));

    if !args.join.is_empty() {
        let joiner = node.clone();
        let seeds = args.join.clone();
        tokio::spawn(async move {
            // With join retry on (the presets) the member keeps trying its seeds by itself.
            match joiner.join(&seeds).await {
                Ok(reached) => say(start, format!("join reached={reached}")),
                Err(e) => say(start, format!("join-failed {e}")),
            }
        });
    }
    // Entries an anti-entropy merge taught this replica go out as broadcasts of their own.
    tokio::spawn(http::rebroadcast(app.clone(), wake));

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(listener, app, async {
        let _ = stop_rx.await;
    }));
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Failure::Run(format!("cannot handle SIGTERM: {e}")))?;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => if let Some(line) = describe(&event) { say(start, line) },
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
            _ = sigterm.recv() => break,
        }
    }
    say(start, "leaving".to_string());
    let _ = stop_tx.send(());
    let _ = server.await;
    match node.leave(args.leave_timeout).await {
        Ok(()) => say(start, "left".to_string()),
        Err(e) => say(start, format!("leave-incomplete {e}")),
    }
    node.shutdown().await;
    let s = lock(&store).stats().clone();
    say(start, format!("store puts={} deletes={} applied={} stale={}", s.puts, s.deletes, s.applied, s.stale));
    Ok(())
}

fn say(start: Instant, line: String) {
    println!("{:>9.3} {line}", start.elapsed().as_secs_f64());
}

/// The membership changes, in one word and a name; other events are not printed.
fn describe(event: &Event) -> Option<String> {
    let (what, m) = match event {
        Event::MemberJoined(m) => ("joined", m),
        Event::MemberSuspected { member, .. } => ("suspect", member),
        Event::MemberFailed(m) => ("failed", m),
        Event::MemberLeft(m) => ("left", m),
        Event::MemberAlive(m) => ("alive", m),
        _ => return None,
    };
    Some(format!("{what} {} {} inc={}", m.name, m.addr, m.incarnation))
}
