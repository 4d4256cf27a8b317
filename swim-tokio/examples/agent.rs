//! One member per process: bind, optionally join, print every event, leave on Ctrl-C.
//!
//! ```sh
//! cargo run -p swim-tokio --example agent -- --name a --bind 127.0.0.1:7946
//! cargo run -p swim-tokio --example agent -- --name b --bind 127.0.0.1:7947 --join 127.0.0.1:7946
//! ```
//!
//! Over TLS (TCP only, mutual TLS; PEM files):
//!
//! ```sh
//! cargo run -p swim-tokio --example agent -- --name a --transport tls \
//!     --tls-ca ca.pem --tls-cert a.pem --tls-key a.key
//! ```
//!
//! Each line is `<seconds since start> <what> <details>`, for people and for the
//! multi-process tests that parse it.
//!
//! Exit codes: 0 after leaving on Ctrl-C or SIGTERM; 1 when the member cannot start or
//! gives up joining (`--join-retries`); 2 for bad command-line input.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use swim_tokio::{Event, JoinError, Member, Node};

#[path = "common/cli.rs"]
mod cli;

use cli::{Preset, hostname};

/// Run one swim member and print its events.
#[derive(Parser, Debug)]
struct Args {
    /// Unique member name. Default: the host name.
    #[arg(long)]
    name: Option<String>,
    /// Address to bind UDP and TCP to: `host:port`, an IP, or a name (a name resolves
    /// through DNS, IPv4 first; without a port, 7946; port 0 picks a free port). Between
    /// hosts, bind the host's address, or 0.0.0.0 together with --advertise.
    #[arg(long, default_value = "127.0.0.1:7946")]
    bind: String,
    /// Address other members reach this one at, if not the bound one (NAT, wildcard bind).
    #[arg(long)]
    advertise: Option<SocketAddr>,
    /// Seeds to join: `host:port`, an IP, or a name; repeat the flag or separate with commas.
    #[arg(long, value_delimiter = ',')]
    join: Vec<String>,
    /// Metadata to announce (at most 512 bytes).
    #[arg(long, default_value = "")]
    meta: String,
    /// Timing preset.
    #[arg(long, value_enum, default_value = "lan")]
    preset: Preset,
    /// Give up joining after this many attempts that reached no seed, and exit with code 1
    /// (0: keep trying). The member retries its seeds itself (`join_retry`: the preset's
    /// backoff, 1 s doubling to 30 s on LAN); seed names that do not resolve yet are looked up
    /// again every second, as many times.
    #[arg(long, default_value_t = 0)]
    join_retries: u32,
    /// Override the preset's retransmit multiplier: each update is gossiped
    /// `mult * ceil(log10(n + 1))` times by each member.
    #[arg(long)]
    retransmit_mult: Option<u32>,
    /// Print a `stats` line with the protocol's counters every this many seconds (0: never).
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    stats: u64,
    /// How long to wait for the leave notice to spread on Ctrl-C or SIGTERM.
    #[arg(long, default_value = "5", value_name = "SECONDS")]
    leave_timeout: u64,
    /// `udp`: UDP and TCP (the default transport); `tls`: TCP only, mutual TLS with the
    /// certificates of --tls-ca, --tls-cert and --tls-key.
    #[arg(long, default_value = "udp", value_parser = ["udp", "tls"])]
    transport: String,
    /// PEM file of the certificates to trust (the cluster's CA), for `--transport tls`.
    #[arg(long, required_if_eq("transport", "tls"))]
    tls_ca: Option<PathBuf>,
    /// PEM file of this member's certificate chain (its own first), for `--transport tls`.
    #[arg(long, required_if_eq("transport", "tls"))]
    tls_cert: Option<PathBuf>,
    /// PEM file of this member's private key, for `--transport tls`.
    #[arg(long, required_if_eq("transport", "tls"))]
    tls_key: Option<PathBuf>,
    /// The TLS transport's idle timeout: a packet connection on which nothing arrived for
    /// this long is closed.
    #[arg(long, default_value = "30", value_name = "SECONDS")]
    tls_idle_timeout: u64,
    /// Turn flap damping on (`Config::damping`, docs/damping.md): `on` for its defaults, or
    /// `field=value` pairs separated by commas overriding them (`death_penalty`,
    /// `refutation_penalty`, `suppress`, `reuse`, `max_penalty`, `hold_down` in seconds),
    /// e.g. `hold_down=25,reuse=1550,max_penalty=2000`. Off by default, as in the presets.
    #[arg(long, value_parser = parse_damping, value_name = "on|FIELD=VALUE,...")]
    damping: Option<swim_tokio::swim_core::Damping>,
}

/// `--damping`: `on`, or overrides of [`swim_tokio::swim_core::Damping::default`]; the bounds are
/// checked when the member starts (`Config::validate`).
fn parse_damping(s: &str) -> Result<swim_tokio::swim_core::Damping, String> {
    let mut d = swim_tokio::swim_core::Damping::default();
    if s == "on" {
        return Ok(d);
    }
    for pair in s.split(',') {
        let (key, value) = pair.split_once('=').ok_or_else(|| format!("`{pair}` is not field=value"))?;
        let value: u32 = value.parse().map_err(|e| format!("{key}: {e}"))?;
        match key {
            "death_penalty" => d.death_penalty = value,
            "refutation_penalty" => d.refutation_penalty = value,
            "suppress" => d.suppress = value,
            "reuse" => d.reuse = value,
            "max_penalty" => d.max_penalty = value,
            "hold_down" => d.hold_down = Duration::from_secs(value.into()),
            _ => return Err(format!("unknown damping field `{key}`")),
        }
    }
    Ok(d)
}

/// The TLS transport's settings from the PEM files named by the flags.
fn tls_config(args: &Args) -> Result<swim_tokio::TlsConfig, Box<dyn std::error::Error>> {
    use swim_tokio::transport::rustls::pki_types::pem::PemObject;
    use swim_tokio::transport::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let path = |p: &Option<PathBuf>| p.clone().ok_or("--transport tls needs --tls-ca, --tls-cert and --tls-key");
    let (ca, cert, key) = (path(&args.tls_ca)?, path(&args.tls_cert)?, path(&args.tls_key)?);
    let read = |p: &PathBuf| -> Result<Vec<CertificateDer<'static>>, String> {
        CertificateDer::pem_file_iter(p)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    let key = PrivateKeyDer::from_pem_file(&key).map_err(|e| format!("{}: {e}", key.display()))?;
    let mut tls = swim_tokio::TlsConfig::mutual(read(&ca)?, read(&cert)?, key)?;
    tls.idle_timeout = Duration::from_secs(args.tls_idle_timeout.max(1));
    Ok(tls)
}

#[tokio::main]
pub async fn main() -> ExitCode {
    cli::init_logging();
    // Bad flags: clap prints the error and exits with code 2.
    let args = Args::parse();
    let bind = match resolve_bind(&args.bind).await {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("agent: --bind {}: {e}", args.bind);
            return ExitCode::from(2);
        }
    };
    // Errors are printed with their message (Display), not their Debug form.
    match run(args, bind).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agent: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--bind` as an address: `ip:port`, `ip`, `name:port` or `name` (port 7946), preferring
/// an IPv4 address when a name has both.
async fn resolve_bind(bind: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = bind.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = bind.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, swim_tokio::DEFAULT_PORT));
    }
    let with_port = if bind.contains(':') { bind.to_string() } else { format!("{bind}:{}", swim_tokio::DEFAULT_PORT) };
    let lookup = tokio::net::lookup_host(with_port);
    let addrs: Vec<SocketAddr> = match tokio::time::timeout(Duration::from_secs(5), lookup).await {
        Ok(Ok(addrs)) => addrs.collect(),
        Ok(Err(e)) => return Err(format!("cannot resolve: {e}")),
        Err(_) => return Err("resolving took over 5 s".into()),
    };
    addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()).copied().ok_or_else(|| "resolves to no address".into())
}

async fn run(args: Args, bind: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let name = args.name.clone().unwrap_or_else(|| hostname("agent"));
    let mut config = args.preset.config(name).with_bind_addr(bind).with_meta(args.meta.clone().into_bytes());
    config.advertise_addr = args.advertise;
    if let Some(mult) = args.retransmit_mult {
        config.swim.retransmit_mult = mult;
    }
    config.swim.damping = args.damping;
    if let Some(retry) = config.swim.join_retry.as_mut() {
        retry.max_attempts = (args.join_retries > 0).then_some(args.join_retries);
    }

    let start = Instant::now();
    // Subscribed before the member runs: a member joining this one at once is not missed.
    let (node, mut events) = if args.transport == "tls" {
        let transport = swim_tokio::TlsTransport::bind(bind, tls_config(&args)?)?;
        Node::start_with_transport(config, transport).await?
    } else {
        Node::start_with_events(config).await?
    };
    say(start, format!("ready {} {}", node.name(), node.advertise_addr()));

    // Says why the agent gave up joining, if it does.
    let (gave_up_tx, mut gave_up) = tokio::sync::mpsc::channel::<String>(1);
    if !args.join.is_empty() {
        let joiner = node.clone();
        let seeds = args.join.clone();
        let retries = args.join_retries;
        tokio::spawn(async move {
            let mut attempt = 0;
            loop {
                attempt += 1;
                match joiner.join(&seeds).await {
                    Ok(reached) => {
                        say(start, format!("join reached={reached}"));
                        return;
                    }
                    // Seeds were contacted: the member keeps retrying them with its backoff and
                    // reports each attempt as an event (and JoinGaveUp if it gives up).
                    Err(e @ JoinError::NoneReached { .. }) => {
                        say(start, format!("join-failed attempt=1 {e}; retrying in the background"));
                        let JoinError::NoneReached { unresolved, .. } = e else { return };
                        if unresolved.is_empty() {
                            return;
                        }
                        // Some names did not resolve: look them up again, once a second, and
                        // join what they resolve to (the core retries only what it was given).
                        let pending: Vec<String> = unresolved.into_iter().map(|f| f.seed).collect();
                        let mut lookup = 1;
                        while retries == 0 || lookup < retries {
                            lookup += 1;
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            match joiner.join(&pending).await {
                                Err(JoinError::Resolve(_)) => say(start, format!("join-failed lookup={lookup}")),
                                _ => return,
                            }
                        }
                        return;
                    }
                    Err(e) if retries == 0 || attempt < retries => {
                        say(start, format!("join-failed lookup={attempt} {e}"));
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Err(e) => {
                        say(start, format!("join-failed lookup={attempt} giving up: {e}"));
                        let _ = gave_up_tx.send(format!("gave up joining after {attempt} lookups: {e}")).await;
                        return;
                    }
                }
            }
        });
    }

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let stats_every = Duration::from_secs(args.stats.max(1));
    let mut stats = tokio::time::interval_at(tokio::time::Instant::now() + stats_every, stats_every);
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(Event::JoinGaveUp { attempts, .. }) => {
                    say(start, format!("join-failed attempt={attempts} giving up"));
                    node.shutdown().await;
                    return Err(format!("gave up joining after {attempts} attempts: no seed answered").into());
                }
                Some(event) => say(start, describe(&event)),
                None => break,
            },
            _ = stats.tick(), if args.stats > 0 => {
                let Ok(s) = node.stats().await else { break };
                let c = &s.core;
                say(start, format!(
                    "stats members={} health={} probes={} probe_failures={} ping_reqs_sent={} suspicions={} \
                     refutations={} held_down={} readmitted={} packets_in={} packets_out={}",
                    s.members, s.health_score, c.probes, c.probe_failures, c.ping_reqs_sent, c.suspicions,
                    c.refutations, c.members_held_down, c.members_readmitted, c.packets_in, c.packets_out
                ));
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = sigterm.recv() => break,
            Some(why) = gave_up.recv() => {
                // Alone, with nobody to tell: no leave, just stop, and fail.
                node.shutdown().await;
                return Err(why.into());
            }
        }
    }
    say(start, "leaving".to_string());
    match node.leave(Duration::from_secs(args.leave_timeout)).await {
        Ok(()) => say(start, "left".to_string()),
        Err(e) => say(start, format!("leave-incomplete {e}")),
    }
    node.shutdown().await;
    Ok(())
}

fn say(start: Instant, line: String) {
    println!("{:>9.3} {line}", start.elapsed().as_secs_f64());
}

fn member(m: &Member) -> String {
    format!("{} {} inc={} meta={:?}", m.name, m.addr, m.incarnation, String::from_utf8_lossy(&m.meta))
}

fn describe(event: &Event) -> String {
    match event {
        Event::MemberJoined(m) => format!("joined {}", member(m)),
        Event::MemberUpdated(m) => format!("updated {}", member(m)),
        Event::MemberSuspected { member: m, accuser } => format!("suspect {} accuser={accuser}", member(m)),
        Event::MemberFailed(m) => format!("failed {}", member(m)),
        Event::MemberLeft(m) => format!("left {}", member(m)),
        Event::MemberAlive(m) => format!("alive {}", member(m)),
        Event::MemberRemoved(m) => format!("removed {}", member(m)),
        Event::MemberHeldDown(m) => format!("held-down {}", member(m)),
        Event::MemberReadmitted(m) => format!("readmitted {}", member(m)),
        Event::AddressConflict { name, existing, claimed } => {
            format!("conflict {name} existing={existing} claimed={claimed}")
        }
        Event::UserMessage { sender, payload, .. } => {
            format!("message {sender} {:?}", String::from_utf8_lossy(payload))
        }
        Event::UserBroadcast { origin, payload } => {
            format!("broadcast {origin} {:?}", String::from_utf8_lossy(payload))
        }
        Event::HealthChanged { score } => format!("health {score}"),
        Event::JoinCompleted { reached, attempted, .. } => format!("join-completed {reached}/{attempted}"),
        Event::JoinRetrying { attempt, delay, .. } => format!("join-retrying attempt {attempt} in {delay:?}"),
        Event::JoinGaveUp { attempts, .. } => format!("join-gave-up after {attempts} attempts"),
        Event::MemberRefused { name, addr, reason } => format!("refused {name} {addr} reason={reason}"),
        Event::MergeRefused { from, reason } => format!("merge-refused {from} reason={reason}"),
        Event::JoinRefused { seed, reason, .. } => format!("join-refused {seed} reason={reason}"),
        Event::PingCompleted { id, addr, rtt, .. } => format!("ping-completed {} {addr} rtt={rtt:?}", id.0),
        Event::LeaveCompleted => "leave-completed".to_string(),
        Event::Lagged { dropped, members } => {
            let list: Vec<String> = members.iter().map(|m| format!("{}={:?}", m.name, m.state)).collect();
            format!("lagged dropped={dropped} members: {}", list.join(" "))
        }
    }
}
