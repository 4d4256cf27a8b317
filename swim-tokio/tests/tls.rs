//! The TLS transport's own guarantees: a member whose certificate another CA issued is
//! refused at the handshake, its join fails saying so, and no member of the cluster ever
//! lists it; the packet size bound and the handshake timeout are enforced. Certificates are
//! generated here (rcgen); every wait is a condition with a deadline. The life cycle over TLS
//! is in `loopback.rs`.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::tls::Ca;
use common::*;
use swim_tokio::swim_core::hooks::{Candidate, Exchange, Hooks, Refusal};
use swim_tokio::swim_core::wire::frame;
use swim_tokio::transport::tls::{ACCEPTED, PACKETS, encode_addr};
use swim_tokio::transport::{TlsStats, rustls};
use swim_tokio::{Config, Event, JoinError, Node, TlsConfig, TlsTransport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn config(name: &str) -> Config {
    Config::local(name).with_bind_addr("127.0.0.1:0".parse().unwrap())
}

fn count(counter: &std::sync::atomic::AtomicU64) -> u64 {
    TlsStats::get(counter)
}

/// Three members with certificates from the cluster's CA form a cluster. An intruder whose
/// certificate another CA issued (and which itself trusts the cluster's CA, so only the
/// cluster's check can stop it) tries to join: its join fails at once with the handshake's
/// reason, every member refuses its connections (counted), and no member ever lists it,
/// however often it retries, nor hears a message from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_with_an_untrusted_certificate_is_refused_and_never_listed() {
    let swim = swim_tokio::swim_core::Config::local();
    let ca = Ca::new("cluster CA");
    let mut members = Vec::new();
    let mut recorders = Vec::new();
    let mut stats = Vec::new();
    for i in 0..3 {
        let transport = ca.transport();
        stats.push(transport.stats());
        let (node, events) = Node::start_with_transport(config(&format!("m-{i}")), transport).await.expect("start");
        recorders.push(Recorder::record(events));
        members.push(node);
    }
    let seed = members[0].local_addr();
    for m in &members[1..] {
        assert_eq!(m.join([seed]).await.expect("a trusted member joins"), 1);
    }
    eventually("the cluster to form", convergence_bound(&swim, 3), || async {
        for m in &members {
            let n = m.num_members().await.map_err(|e| e.to_string())?;
            if n != 3 {
                return Err(format!("{} sees {n}", m.name()));
            }
        }
        Ok(())
    })
    .await;

    let other_ca = Ca::new("another CA");
    let cert = other_ca.member(&["127.0.0.1"]);
    let intruder_tls = TlsConfig::mutual([ca.root()], cert.chain, cert.key).expect("TLS settings");
    let intruder_transport = TlsTransport::bind("127.0.0.1:0".parse().unwrap(), intruder_tls).expect("bind");
    let intruder_stats = intruder_transport.stats();
    let (intruder, _) = Node::start_with_transport(config("intruder"), intruder_transport).await.expect("start");

    let started = Instant::now();
    let err = intruder.join([seed]).await.expect_err("the cluster must refuse the intruder");
    println!("join failed after {:?}: {err}", started.elapsed());
    match &err {
        JoinError::Handshake { failures } => {
            assert!(
                failures.iter().any(|(a, why)| *a == seed && why.contains("alert")),
                "the join error names the handshake's refusal: {err}"
            );
        }
        other => panic!("expected a handshake refusal, got {other}"),
    }
    assert!(started.elapsed() < swim.stream_timeout, "refused at the handshake, not by a timeout");
    // The seed counts the refusal in its own task, just after sending the alert.
    eventually("the seed to count the refused handshake", SLACK, || async {
        if count(&stats[0].handshake_failures) >= 1 { Ok(()) } else { Err("not counted".into()) }
    })
    .await;
    assert!(count(&intruder_stats.connect_failures) >= 1);

    // The intruder keeps knocking (its join retries in the background; a message sent
    // directly opens a packet connection) until every member has refused it at least once.
    for m in &members {
        let _ = intruder.send_best_effort(m.local_addr(), "let me in").await;
        let _ = intruder.send_reliable(m.local_addr(), "let me in").await;
    }
    eventually("every member to refuse the intruder's handshakes", SLACK, || async {
        match stats.iter().position(|s| count(&s.handshake_failures) < 2) {
            Some(i) => Err(format!("m-{i} refused {} handshakes", count(&stats[i].handshake_failures))),
            None => Ok(()),
        }
    })
    .await;
    // Give gossip the time to spread a join, had there been one, then look everywhere.
    let spread = dissemination_bound(&swim, 4);
    let deadline = tokio::time::Instant::now() + spread;
    while tokio::time::Instant::now() < deadline {
        for m in &members {
            let names: Vec<String> = m.all_members().await.unwrap().iter().map(|x| x.name.to_string()).collect();
            assert!(!names.iter().any(|n| n == "intruder"), "{} lists the intruder: {names:?}", m.name());
        }
        tokio::time::sleep(POLL).await;
    }
    for (i, r) in recorders.iter().enumerate() {
        let heard = |e: &Event| match e {
            Event::MemberJoined(m) | Event::MemberUpdated(m) | Event::MemberAlive(m) => m.name == "intruder",
            Event::UserMessage { sender, .. } => sender == "intruder",
            _ => false,
        };
        assert!(!r.any(heard), "m-{i} heard of the intruder");
    }
    assert_eq!(intruder.num_members().await.unwrap(), 1, "the intruder learnt no member");
    for m in members.iter().chain([&intruder]) {
        m.shutdown().await;
    }
}

/// A raw client of the cluster's CA opens a packet connection by hand.
async fn packet_connection(ca: &Ca, to: SocketAddr) -> tokio_rustls::client::TlsStream<TcpStream> {
    let connector = tokio_rustls::TlsConnector::from(ca.loopback_config().client);
    let tcp = TcpStream::connect(to).await.expect("connect");
    let name = rustls::pki_types::ServerName::IpAddress(to.ip().into());
    let mut tls = connector.connect(name, tcp).await.expect("handshake");
    let mut hello = vec![PACKETS];
    encode_addr("127.0.0.1:9".parse().unwrap(), &mut hello);
    tls.write_all(&hello).await.unwrap();
    tls.flush().await.unwrap();
    assert_eq!(tls.read_u8().await.unwrap(), ACCEPTED);
    tls
}

/// Whether the peer has closed `tls` (a read ends or fails), waiting at most `within`.
async fn closed_within<S: tokio::io::AsyncRead + Unpin>(tls: &mut S, within: Duration) -> bool {
    let mut byte = [0u8; 1];
    matches!(tokio::time::timeout(within, tls.read(&mut byte)).await, Ok(Ok(0)) | Ok(Err(_)))
}

/// `max_message_size` is enforced on packet connections: a packet of exactly the bound is
/// taken (and handed to the core, which refuses the garbage), one byte more and the
/// connection is dropped and counted. The member keeps running.
#[tokio::test]
async fn packets_over_the_size_bound_drop_the_connection() {
    let ca = Ca::new("cluster CA");
    let mut tls = ca.loopback_config();
    tls.max_message_size = 1024;
    let transport = TlsTransport::bind("127.0.0.1:0".parse().unwrap(), tls).expect("bind");
    let stats = transport.stats();
    let (node, _) = Node::start_with_transport(config("a"), transport).await.expect("start");

    let mut conn = packet_connection(&ca, node.local_addr()).await;
    let mut framed = Vec::new();
    frame::encode(&[0xEE; 1024], &mut framed);
    conn.write_all(&framed).await.unwrap();
    conn.flush().await.unwrap();
    eventually("the packet at the bound to be taken", SLACK, || async {
        if count(&stats.packets_received) == 1 { Ok(()) } else { Err("not yet".into()) }
    })
    .await;
    assert_eq!(count(&stats.too_large), 0);

    framed.clear();
    frame::encode(&[0xEE; 1025], &mut framed);
    conn.write_all(&framed[..frame::HEADER_LEN]).await.unwrap();
    conn.flush().await.unwrap();
    assert!(closed_within(&mut conn, SLACK).await, "the connection is dropped at the header");
    assert_eq!(count(&stats.too_large), 1);
    assert_eq!(count(&stats.packets_received), 1);
    assert_eq!(node.num_members().await.unwrap(), 1, "the member still runs");
    node.shutdown().await;
}

/// A peer that connects and says nothing is dropped once `handshake_timeout` passes, not
/// before, and counted; meanwhile a real member still joins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_is_dropped_after_the_handshake_timeout() {
    let ca = Ca::new("cluster CA");
    let timeout = Duration::from_millis(500);
    let tls = TlsConfig { handshake_timeout: timeout, ..ca.loopback_config() };
    let transport = TlsTransport::bind("127.0.0.1:0".parse().unwrap(), tls).expect("bind");
    let stats = transport.stats();
    let (node, _) = Node::start_with_transport(config("a"), transport).await.expect("start");

    let connected = Instant::now();
    let mut silent = TcpStream::connect(node.local_addr()).await.expect("connect");
    let (other, _) = Node::start_with_transport(config("b"), ca.transport()).await.expect("start");
    assert_eq!(other.join([node.local_addr()]).await.expect("join while a peer is silent"), 1);
    assert!(closed_within(&mut silent, timeout + SLACK).await, "the silent peer is dropped");
    let took = connected.elapsed();
    println!("silent peer dropped after {took:?} (timeout {timeout:?})");
    assert!(took >= timeout, "dropped after {took:?}, before the timeout");
    assert_eq!(count(&stats.handshake_timeouts), 1);
    other.shutdown().await;
    node.shutdown().await;
}

/// Settings are checked: a zero bound is refused when binding.
#[tokio::test]
async fn zero_bounds_are_refused() {
    let ca = Ca::new("cluster CA");
    let tls = TlsConfig { write_queue: 0, ..ca.loopback_config() };
    let err = TlsTransport::bind("127.0.0.1:0".parse().unwrap(), tls).expect_err("zero write queue");
    assert!(err.to_string().contains("tls.write_queue"), "{err}");
}

/// Refuses every push-pull that brings a member called `east`.
struct NoEast;

impl Hooks<SocketAddr> for NoEast {
    fn admit_merge(
        &mut self,
        _from: &str,
        members: &[Candidate<'_, SocketAddr>],
        _exchange: Exchange,
    ) -> Result<(), Refusal> {
        match members.iter().find(|c| c.name == "east") {
            Some(_) => Err(Refusal::new("no east here")),
            None => Ok(()),
        }
    }
}

/// `start_with_transport_and_hooks` installs the hooks over the TLS transport: a member the
/// certificates let through is still refused by the application, with a typed error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_run_over_the_tls_transport() {
    let ca = Ca::new("cluster CA");
    let (seed, _) = Node::start_with_transport_and_hooks(config("seed"), ca.transport(), NoEast).await.expect("start");
    let (east, _) = Node::start_with_transport(config("east"), ca.transport()).await.expect("start");
    let err = east.join([seed.local_addr()]).await.expect_err("refused by the hook");
    assert!(matches!(&err, JoinError::Refused { reason, .. } if reason == "no east here"), "{err}");
    let (west, _) = Node::start_with_transport(config("west"), ca.transport()).await.expect("start");
    assert_eq!(west.join([seed.local_addr()]).await.expect("admitted"), 1);
    for n in [&seed, &east, &west] {
        n.shutdown().await;
    }
}

/// At `max_outbound_connections` a packet to a new peer closes the connection least recently
/// sent on rather than being dropped: a member allowed one connection still keeps a cluster
/// of three together, its connections churning (counted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_evicts_the_least_recently_used() {
    let swim = swim_tokio::swim_core::Config::local();
    let ca = Ca::new("cluster CA");
    let tls = TlsConfig { max_outbound_connections: 1, ..ca.loopback_config() };
    let transport = TlsTransport::bind("127.0.0.1:0".parse().unwrap(), tls).expect("bind");
    let stats = transport.stats();
    let (a, _) = Node::start_with_transport(config("a"), transport).await.expect("start");
    let (b, _) = Node::start_with_transport(config("b"), ca.transport()).await.expect("start");
    let (c, _) = Node::start_with_transport(config("c"), ca.transport()).await.expect("start");
    b.join([a.local_addr()]).await.expect("join");
    c.join([a.local_addr()]).await.expect("join");
    let nodes = [&a, &b, &c];
    eventually("a cluster of three, and a to have evicted connections", convergence_bound(&swim, 3), || async {
        for n in nodes {
            let count = n.num_members().await.map_err(|e| e.to_string())?;
            if count != 3 {
                return Err(format!("{} sees {count}", n.name()));
            }
        }
        if count(&stats.evicted) == 0 { Err("no eviction yet".into()) } else { Ok(()) }
    })
    .await;
    // a keeps probing both others through its one connection slot for several rounds:
    // nobody is declared failed.
    let probes = |s: swim_tokio::NodeStats| s.core.probes;
    let start = probes(a.stats().await.unwrap());
    eventually("a to probe six more times", swim.probe_interval * 10 + SLACK, || async {
        let done = probes(a.stats().await.map_err(|e| e.to_string())?) - start;
        if done >= 6 { Ok(()) } else { Err(format!("{done} probes")) }
    })
    .await;
    for n in nodes {
        let dead = n.all_members().await.unwrap().iter().filter(|m| m.state.is_gone()).count();
        assert_eq!(dead, 0, "{} declared someone failed", n.name());
    }
    println!("a evicted {} connections", count(&stats.evicted));
    for n in nodes {
        n.shutdown().await;
    }
}
