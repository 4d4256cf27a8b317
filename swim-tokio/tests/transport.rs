//! The adapter's own promises, on loopback: typed start and join errors, the stream limits
//! (size cap, read timeout, concurrent streams), garbage input, IPv6, and a shutdown that
//! leaves no socket or task behind.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::*;
use swim_tokio::{Config, Event, JoinError, LeaveError, Node, SendError, StartError};

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn node(name: &str) -> Node {
    Node::start(Config::local(name).with_bind_addr(loopback())).await.unwrap()
}

/// Whether the peer closes `s` (end of stream or reset) within ten seconds.
async fn closed_by_peer(s: &mut TcpStream) -> bool {
    match tokio::time::timeout(Duration::from_secs(10), s.read(&mut [0u8; 1])).await {
        Ok(Ok(0)) => true,
        Ok(Ok(_)) => false,
        Ok(Err(e)) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Err(_) => false,
    }
}

/// A port nothing listens on (bound, read, released).
fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[tokio::test]
async fn start_reports_typed_errors() {
    let a = node("a").await;
    // The port is taken, for TCP and UDP alike.
    let e = Node::start(Config::local("b").with_bind_addr(a.local_addr())).await.unwrap_err();
    assert!(matches!(e, StartError::Bind { protocol: "TCP", .. }), "{e}");
    let e = Node::start(Config::local("b").with_bind_addr("0.0.0.0:0".parse().unwrap())).await.unwrap_err();
    assert!(matches!(e, StartError::NoAdvertiseAddr(_)), "{e}");
    let e = Node::start(Config::local("").with_bind_addr(loopback())).await.unwrap_err();
    assert!(matches!(e, StartError::Core(swim_core::NewError::BadName { len: 0, max: 128 })), "{e}");
    assert_eq!(e.to_string(), "the member name is empty; it must be 1 to 128 bytes (`limits.max_name_len`)");
    let e = Node::start(Config::local("n".repeat(129)).with_bind_addr(loopback())).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "the member name is 129 bytes, above the limit of 128 (`limits.max_name_len`): shorten it or raise the limit \
         (at most 255)"
    );
    let e = Node::start(Config::local("b").with_bind_addr(loopback()).with_meta(vec![b'm'; 513])).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "the member's metadata is 513 bytes, above the limit of 512 (`max_metadata_size`): shorten it or raise the \
         limit"
    );
    let mut c = Config::local("b").with_bind_addr(loopback());
    c.transport.max_inbound_streams = 0;
    let e = Node::start(c).await.unwrap_err();
    assert!(matches!(e, StartError::Transport("transport.max_inbound_streams")), "{e}");
    assert_eq!(e.to_string(), "invalid configuration: `transport.max_inbound_streams` is zero; it must be above zero");
    // The first change a new user tries: probes every 500 ms with the LAN preset's 500 ms
    // probe timeout. One prefix, the fields, their values and the fix.
    let mut c = Config::lan("b").with_bind_addr(loopback());
    c.swim.probe_interval = Duration::from_millis(500);
    assert_eq!(
        Node::start(c).await.unwrap_err().to_string(),
        "invalid configuration: `probe_timeout` (500ms) must be below `probe_interval` (500ms): lower \
         `probe_timeout` or raise `probe_interval`"
    );
    let c = Config::local("b").with_bind_addr(loopback()).with_advertise_addr("[fd00::1]:7946".parse().unwrap());
    assert!(matches!(Node::start(c).await.unwrap_err(), StartError::AddressFamily { .. }));
    let mut c = Config::local("b").with_bind_addr(loopback());
    c.swim.probe_timeout = c.swim.probe_interval;
    assert!(matches!(Node::start(c).await.unwrap_err(), StartError::Core(_)));

    // A wildcard bind with an advertise address is fine; port 0 there means the bound port.
    let c = Config::local("c")
        .with_bind_addr("0.0.0.0:0".parse().unwrap())
        .with_advertise_addr("127.0.0.1:0".parse().unwrap());
    let c = Node::start(c).await.unwrap();
    assert_eq!(c.advertise_addr().port(), c.local_addr().port());
    assert_eq!(c.local_member().await.unwrap().addr, c.advertise_addr());
    assert_eq!(c.join([a.local_addr()]).await.unwrap(), 1);
    c.shutdown().await;
    a.shutdown().await;
}

#[tokio::test]
async fn join_reports_typed_errors() {
    // A long stream timeout, so a join that ends quickly can only have ended on the refused
    // connection.
    let mut config = Config::local("a").with_bind_addr(loopback());
    config.swim.stream_timeout = Duration::from_secs(30);
    let a = Node::start(config).await.unwrap();
    let no_seeds: [SocketAddr; 0] = [];
    assert!(matches!(a.join(no_seeds).await, Err(JoinError::NoSeeds)));
    assert!(matches!(a.join(["no-such-host.invalid:1"]).await, Err(JoinError::Resolve(f)) if f.len() == 1));
    assert!(matches!(a.join([a.local_addr()]).await, Err(JoinError::OnlySelf)));
    // Nobody listens: the refused connection ends the join at once, well before the
    // stream timeout.
    let dead = closed_port();
    let started = tokio::time::Instant::now();
    let e = a.join([dead.to_string(), "no-such-host.invalid:1".into()]).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(15), "ended by the refusal, not the 30 s timeout");
    match &e {
        JoinError::NoneReached { contacted, unresolved } => {
            assert_eq!(contacted, &[dead]);
            assert_eq!(unresolved.len(), 1);
        }
        other => panic!("unexpected {other}"),
    }
    assert!(e.to_string().starts_with("no seed answered"), "{e}");
    // One good seed among bad ones is enough; names resolve through DNS.
    let b = node("b").await;
    let reached = a.join([dead.to_string(), format!("localhost:{}", b.local_addr().port())]).await.unwrap();
    assert_eq!(reached, 1);
    // After leaving, joining is refused.
    a.leave(Duration::from_secs(5)).await.unwrap();
    assert!(matches!(a.join([b.local_addr()]).await, Err(JoinError::Rejected(swim_core::CommandError::Leaving))));
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_every_socket_and_task() {
    let a = node("a").await;
    let b = node("b").await;
    let mut events = a.events();
    b.join([a.local_addr()]).await.unwrap();
    let addr = a.local_addr();
    // An idle inbound stream, so a stream task is running at shutdown.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    eventually("the idle stream to be accepted", SLACK, || async {
        let s = a.stats().await.unwrap();
        if s.transport.streams_accepted >= 2 { Ok(()) } else { Err(format!("{:?}", s.transport)) }
    })
    .await;
    a.shutdown().await;
    // The event stream ends, requests fail, and both ports are free again.
    while let Some(e) = events.recv().await {
        assert!(!matches!(e, Event::LeaveCompleted));
    }
    assert!(!a.is_running());
    assert!(a.members().await.is_err());
    assert!(matches!(a.leave(Duration::from_secs(1)).await, Err(LeaveError::Closed(_))));
    a.shutdown().await; // again: harmless
    assert!(closed_by_peer(&mut idle).await, "the stream task closed its socket");
    assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed");
    UdpSocket::bind(addr).expect("the UDP port is free");
    std::net::TcpListener::bind(addr).expect("the TCP port is free");
    b.shutdown().await;

    // Dropping every handle stops the member too (as a crash would).
    let c = node("c").await;
    let addr = c.local_addr();
    drop(c);
    eventually("the dropped member's port to be free", SLACK, || async {
        UdpSocket::bind(addr).map(drop).map_err(|e| e.to_string())
    })
    .await;
}

#[tokio::test]
async fn inbound_streams_are_bounded() {
    let mut config = Config::local("a").with_bind_addr(loopback());
    config.transport.max_inbound_streams = 2;
    // Long enough that the idle streams cannot time out between two lines of this test, even
    // on a loaded machine.
    config.transport.io_timeout = Some(Duration::from_secs(2));
    config.swim.limits.max_stream_message_size = 64 * 1024;
    config.swim.limits.max_user_message_size = 32 * 1024;
    config.swim.limits.max_app_state = 32 * 1024;
    let a = Node::start(config).await.unwrap();
    let addr = a.local_addr();
    let transport = |a: &Node| {
        let a = a.clone();
        async move { a.stats().await.unwrap().transport }
    };

    // Two idle connections fill the limit; a third waits (unaccepted) until one of them ends.
    let idle = [TcpStream::connect(addr).await.unwrap(), TcpStream::connect(addr).await.unwrap()];
    eventually("two streams accepted", SLACK, || async {
        let t = transport(&a).await;
        if t.streams_accepted == 2 { Ok(()) } else { Err(format!("{t:?}")) }
    })
    .await;
    let mut third = TcpStream::connect(addr).await.unwrap();
    let t = transport(&a).await;
    assert_eq!((t.inbound_limit_reached, t.streams_accepted), (1, 2), "the third is not served yet");

    // The idle ones are closed after the I/O timeout.
    for mut s in idle {
        assert!(closed_by_peer(&mut s).await, "idle stream closed");
    }
    // Then the third is served, and times out in turn.
    assert!(closed_by_peer(&mut third).await, "the waiting stream was served, then timed out");
    eventually("the timeouts to be counted", SLACK, || async {
        let t = transport(&a).await;
        if t.inbound_timeouts == 3 && t.streams_accepted == 3 { Ok(()) } else { Err(format!("{t:?}")) }
    })
    .await;

    // A frame over the size cap is refused before its body is read.
    let mut big = TcpStream::connect(addr).await.unwrap();
    big.write_all(&(64u32 * 1024 + 1).to_be_bytes()).await.unwrap();
    assert!(closed_by_peer(&mut big).await, "oversized frame refused");
    // A frame cut short is an I/O error; a well-framed body of garbage is the core's to reject.
    let mut cut = TcpStream::connect(addr).await.unwrap();
    cut.write_all(&100u32.to_be_bytes()).await.unwrap();
    cut.write_all(&[1; 10]).await.unwrap();
    drop(cut);
    let mut junk = TcpStream::connect(addr).await.unwrap();
    junk.write_all(&4u32.to_be_bytes()).await.unwrap();
    junk.write_all(b"junk").await.unwrap();
    drop(junk);
    eventually("the bad streams to be counted", SLACK, || async {
        let s = a.stats().await.unwrap();
        let t = &s.transport;
        let ok = t.inbound_too_large == 1 && t.inbound_io_errors == 1 && s.core.decode_errors.total() == 1;
        if ok { Ok(()) } else { Err(format!("{t:?}, decode errors {}", s.core.decode_errors.total())) }
    })
    .await;

    // The member still works.
    let b = node("b").await;
    assert_eq!(b.join([addr]).await.unwrap(), 1);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn garbage_datagrams_are_counted_and_ignored() {
    let a = node("a").await;
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    for junk in [&b""[..], b"\x00", b"\xff\xff\xff\xff", &[7u8; 2000]] {
        sock.send_to(junk, a.local_addr()).unwrap();
    }
    eventually("the datagrams to be rejected", SLACK, || async {
        let s = a.stats().await.unwrap();
        if s.core.decode_errors.total() >= 3 { Ok(()) } else { Err(format!("{:?}", s.core.decode_errors)) }
    })
    .await;
    let b = node("b").await;
    assert_eq!(b.join([a.local_addr()]).await.unwrap(), 1);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn reliable_send_reports_failure() {
    let a = node("a").await;
    let dead = closed_port();
    let e = a.send_reliable(dead, "x").await.unwrap_err();
    assert!(matches!(e, SendError::Connect { addr, .. } if addr == dead), "{e}");
    let too_big = vec![0u8; 2 << 20];
    assert!(matches!(a.send_reliable(dead, too_big).await, Err(SendError::Rejected(_))));
    let too_big = vec![0u8; 1500];
    assert!(a.send_best_effort(dead, too_big).await.is_err(), "one datagram at most");
    // Alone, a leave completes at once.
    a.leave(Duration::from_secs(1)).await.unwrap();
    a.leave(Duration::from_secs(1)).await.unwrap();
    a.shutdown().await;
}

/// Reliable sends are answered by the core's message id: sends to a live member and to a
/// dead address, interleaved with each other and with a join's push-pull to the live member,
/// each report their own outcome, and only the live member's messages arrive.
#[tokio::test]
async fn interleaved_reliable_sends_each_report_their_own_outcome() {
    let a = node("a").await;
    let (b, b_events) = Node::start_with_events(Config::local("b").with_bind_addr(loopback())).await.unwrap();
    let b_events = Recorder::record(b_events);
    let (live, dead) = (b.advertise_addr(), closed_port());
    let (d1, l1, joined, d2, l2, l3) = tokio::join!(
        a.send_reliable(dead, "to-dead-1"),
        a.send_reliable(live, "to-b-1"),
        a.join([live]),
        a.send_reliable(dead, "to-dead-2"),
        a.send_reliable(live, "to-b-2"),
        a.send_reliable(live, "to-b-3"),
    );
    for (what, r) in [("to-dead-1", d1), ("to-dead-2", d2)] {
        assert!(matches!(&r, Err(SendError::Connect { addr, .. }) if *addr == dead), "{what}: {r:?}");
    }
    for (what, r) in [("to-b-1", l1), ("to-b-2", l2), ("to-b-3", l3)] {
        assert!(r.is_ok(), "{what}: {r:?}");
    }
    assert_eq!(joined.expect("join b"), 1);
    let got = |payload: &'static str| move |e: &Event| matches!(e, Event::UserMessage { sender, payload: p, .. } if sender == "a" && p == payload);
    eventually("b to receive its three messages", SLACK, || async {
        match ["to-b-1", "to-b-2", "to-b-3"].into_iter().find(|p| b_events.count(got(p)) != 1) {
            Some(p) => Err(format!("{p} not received exactly once")),
            None => Ok(()),
        }
    })
    .await;
    assert_eq!(b_events.count(|e| matches!(e, Event::UserMessage { .. })), 3, "nothing else arrived");
    a.shutdown().await;
    b.shutdown().await;
}

/// A second subscriber that never reads loses old events without slowing the member or the
/// other subscriber.
#[tokio::test]
async fn slow_subscribers_lose_events_not_the_member() {
    let mut config = Config::local("a").with_bind_addr(loopback());
    config.transport.event_queue = 4;
    let a = Node::start(config).await.unwrap();
    let mut slow = a.events();
    let others: Vec<Node> = futures_join(8).await;
    for o in &others {
        o.join([a.local_addr()]).await.unwrap();
    }
    assert_eq!(a.num_members().await.unwrap(), 9);
    let mut seen = 0;
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(500), slow.recv()).await {
        seen += usize::from(matches!(e, Event::MemberJoined(_)));
    }
    assert!(slow.missed() > 0, "a subscriber 8 joins behind with room for 4 missed some");
    assert!(seen <= 4, "saw {seen}");
    for o in others {
        o.shutdown().await;
    }
    a.shutdown().await;
}

async fn futures_join(n: usize) -> Vec<Node> {
    let mut v = Vec::new();
    for i in 0..n {
        v.push(node(&format!("o{i}")).await);
    }
    v
}

/// Three members on `[::1]`, and one IPv4 member joining a dual-stack `[::]` member.
#[tokio::test]
async fn ipv6_and_dual_stack() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        println!("SKIPPED ipv6_and_dual_stack: this host has no IPv6 loopback ([::1] cannot be bound)");
        return;
    }
    let v6 = |name: &str| Config::local(name).with_bind_addr("[::1]:0".parse().unwrap());
    let a = Node::start(v6("a")).await.unwrap();
    let b = Node::start(v6("b")).await.unwrap();
    let c = Node::start(v6("c")).await.unwrap();
    assert!(a.advertise_addr().is_ipv6());
    b.join([a.local_addr()]).await.unwrap();
    c.join([format!("[::1]:{}", a.local_addr().port())]).await.unwrap();
    let swim = swim_core::Config::local();
    eventually("three IPv6 members to converge", convergence_bound(&swim, 3), || async {
        for n in [&a, &b, &c] {
            let count = n.num_members().await.map_err(|e| e.to_string())?;
            if count != 3 {
                return Err(format!("{} sees {count}", n.name()));
            }
        }
        Ok(())
    })
    .await;

    // A dual-stack member: bound to [::], advertising its IPv4 loopback address.
    let dual = Config::local("dual")
        .with_bind_addr("[::]:0".parse().unwrap())
        .with_advertise_addr("127.0.0.1:0".parse().unwrap());
    let dual = Node::start(dual).await.unwrap();
    let v4 = node("v4").await;
    assert_eq!(v4.join([dual.advertise_addr()]).await.unwrap(), 1);
    // Its peers' addresses appear as plain IPv4, and probes flow both ways.
    let m = dual.member("v4").await.unwrap().unwrap();
    assert_eq!(m.addr, v4.advertise_addr());
    eventually("probes between the dual-stack and IPv4 members", Duration::from_secs(10), || async {
        let (d, v) = (dual.stats().await.unwrap(), v4.stats().await.unwrap());
        if d.core.packets_in > 0 && v.core.packets_in > 0 && d.transport.udp_send_errors == 0 {
            Ok(())
        } else {
            Err(format!("dual {:?} v4 {:?}", d.core.packets_in, v.core.packets_in))
        }
    })
    .await;
    for n in [a, b, c, dual, v4] {
        n.shutdown().await;
    }
}

#[tokio::test]
async fn start_with_events_sees_what_happens_before_anyone_reads() {
    // A subscription taken at start sees a join that completes before it is first read; one
    // taken afterwards with `events()` starts from the moment it is taken.
    let (a, mut from_start) =
        Node::start_with_events(Config::local("a").with_bind_addr(loopback())).await.expect("start a");
    let b = node("b").await;
    assert_eq!(b.join([a.local_addr()]).await.expect("join"), 1);
    eventually("a to hold b", SLACK, || async {
        if a.member("b").await.map_err(|e| e.to_string())?.is_some() { Ok(()) } else { Err("not yet".into()) }
    })
    .await;
    let mut late = a.events();
    let joined = tokio::time::timeout(SLACK, async {
        while let Some(e) = from_start.recv().await {
            if matches!(&e, Event::MemberJoined(m) if m.name == "b") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(joined, Ok(true), "the subscription from start saw b join");
    a.shutdown().await;
    while let Some(e) = late.recv().await {
        assert!(!matches!(&e, Event::MemberJoined(m) if m.name == "b"), "the late one did not");
    }
    b.shutdown().await;
}
