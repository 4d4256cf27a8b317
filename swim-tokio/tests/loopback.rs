//! Twenty members on loopback in one process, through a whole life cycle: form a cluster,
//! detect a crash, take back the restarted member, spread a graceful leave, exchange
//! metadata, user messages and broadcasts; once over the default transport (UDP and TCP) and
//! once over the TLS transport (TCP only, mutual TLS with certificates generated here). Every
//! wait is a condition with a deadline derived from the configuration (see `common`).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::tls::Ca;
use common::*;
use swim_tokio::{Config, Event, Events, MemberView, Node, State, TlsTransport};

const N: usize = 20;

/// memberlist's local preset (1 s probes, 200 ms probe timeout, 100 ms gossip), with LAN's
/// retransmit multiplier. With local's multiplier of 2 each update is sent 4 times per member
/// at 20 members, and an epidemic where each member passes an update on 4 times misses a
/// share `s = exp(-4 (1 - s))`, about 2%, of the members. Push-pull repairs that for
/// membership (within one push-pull interval, which the bounds allow for), but nothing
/// repairs a missed user broadcast. With 4 (8 sends each) the share is about 0.03%.
fn swim_config() -> swim_core::Config {
    swim_core::Config { retransmit_mult: 4, ..swim_core::Config::local() }
}

fn config(name: &str, bind: SocketAddr) -> Config {
    Config::new(name, swim_config()).with_bind_addr(bind).with_meta("v1")
}

/// The transport the life cycle runs over.
enum Net {
    /// UDP and TCP ([`Node::start_with_events`]).
    Default,
    /// TLS over TCP, every member with a certificate from this CA and trusting it alone.
    Tls(Box<Ca>),
}

async fn start(net: &Net, name: &str, bind: SocketAddr) -> (Node, Recorder) {
    let (node, events) = match net {
        Net::Default => Node::start_with_events(config(name, bind)).await.expect("start"),
        Net::Tls(ca) => {
            let transport = TlsTransport::bind(bind, ca.loopback_config()).expect("bind");
            Node::start_with_transport(config(name, bind), transport).await.expect("start")
        }
    };
    let recorder = Recorder::record(events);
    (node, recorder)
}

/// Whether the port a member was bound to is free again (its sockets closed).
fn port_free(net: &Net, addr: SocketAddr) -> Result<(), String> {
    match net {
        Net::Default => std::net::UdpSocket::bind(addr).map(drop).map_err(|e| e.to_string()),
        Net::Tls(_) => std::net::TcpListener::bind(addr).map(drop).map_err(|e| e.to_string()),
    }
}

/// Every node in `observers` holds `name` in state `state` (and, if given, with `meta`).
async fn all_see(observers: &[&Node], name: &str, state: State, meta: Option<&[u8]>) -> Result<(), String> {
    for o in observers {
        match o.member(name).await.map_err(|e| e.to_string())? {
            Some(m) if m.state == state && meta.is_none_or(|x| m.meta == x) => {}
            other => return Err(format!("{} holds {name} as {:?}", o.name(), other.map(|m| (m.state, m.meta)))),
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_members_life_cycle() {
    life_cycle(Net::Default).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_members_life_cycle_over_tls() {
    life_cycle(Net::Tls(Box::new(Ca::new("swim test cluster")))).await;
}

async fn life_cycle(net: Net) {
    let swim = swim_config();
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut nodes = Vec::new();
    let mut recorders = Vec::new();
    for i in 0..N {
        let (node, rec) = start(&net, &format!("node-{i}"), loopback).await;
        nodes.push(node);
        recorders.push(rec);
    }

    // --- Form the cluster: everyone joins through node-0 and node-1 (node-1 may not know
    // anyone yet, which must not matter).
    let seeds = [nodes[0].local_addr(), nodes[1].local_addr()];
    let mut joins = tokio::task::JoinSet::new();
    for node in &nodes[1..] {
        let node = node.clone();
        joins.spawn(async move { node.join(seeds).await });
    }
    while let Some(r) = joins.join_next().await {
        let reached = r.unwrap().expect("join succeeds");
        assert!(reached >= 1);
    }
    let bound = convergence_bound(&swim, N);
    let took = eventually("all 20 members to see each other", bound, || async {
        for n in &nodes {
            let count = n.num_members().await.map_err(|e| e.to_string())?;
            if count != N {
                return Err(format!("{} sees {count}", n.name()));
            }
        }
        Ok(())
    })
    .await;
    println!("converged in {took:?} (bound {bound:?})");
    if let Net::Tls(_) = net {
        // Over TLS every new pair of members pays a handshake when it first exchanges a
        // packet: twenty members joining at once on a loaded 2-core machine starve their
        // probes for a moment, and a member can be suspected (and refute it) just as the
        // counts converge (docs/tokio.md, the TLS transport's cost). So wait for everyone
        // to be alive again, within the bound for the refutation to spread.
        let names: Vec<String> = (0..N).map(|i| format!("node-{i}")).collect();
        eventually("every member alive after the joins", dissemination_bound(&swim, N) + SLACK, || async {
            let observers: Vec<&Node> = nodes.iter().collect();
            for name in &names {
                all_see(&observers, name, State::Alive, Some(b"v1")).await?;
            }
            Ok(())
        })
        .await;
    }
    let members = nodes[5].members().await.unwrap();
    assert_eq!(members[0].name, "node-5", "the local member comes first");
    assert!(members.iter().all(|m| m.state == State::Alive && m.meta == "v1"));

    // --- Crash: node-19's last handle is dropped, so it stops without a leave notice.
    // Everyone else must declare it failed, having suspected it first.
    let victim = N - 1;
    let victim_addr = nodes[victim].local_addr();
    let victim_incarnation = nodes[victim].local_member().await.unwrap().incarnation;
    drop(nodes.pop());
    let bound = crash_detection_bound(&swim, N);
    let took = eventually("every live member to declare node-19 failed", bound, || async {
        match recorders[..victim].iter().position(|r| !r.any(failed("node-19"))) {
            Some(i) => Err(format!("node-{i} has not")),
            None => Ok(()),
        }
    })
    .await;
    println!("crash detected by all in {took:?} (bound {bound:?})");
    for (i, r) in recorders[..victim].iter().enumerate() {
        if let (Some(s), Some(f)) = (r.position(suspected("node-19")), r.position(failed("node-19"))) {
            assert!(s < f, "node-{i} reported node-19 failed before suspecting it");
        }
    }
    assert!(recorders[..victim].iter().any(|r| r.any(suspected("node-19"))), "someone suspected node-19 first");
    let live: Vec<&Node> = nodes[..victim].iter().collect();
    all_see(&live, "node-19", State::Dead, None).await.unwrap();

    // --- Restart: node-19 comes back at the same address. Its incarnation (the clock, by
    // default) outranks its previous life, so everyone takes it back.
    eventually("the dropped member's sockets to be closed", SLACK, || async { port_free(&net, victim_addr) }).await;
    let (restarted, rec) = start(&net, "node-19", victim_addr).await;
    nodes.push(restarted);
    recorders[victim] = rec;
    assert!(nodes[victim].local_member().await.unwrap().incarnation >= victim_incarnation);
    nodes[victim].join([nodes[0].local_addr()]).await.expect("restarted member joins");
    let bound = dissemination_bound(&swim, N) + SLACK;
    eventually("everyone to take node-19 back", bound, || async {
        let all: Vec<&Node> = nodes.iter().collect();
        all_see(&all, "node-19", State::Alive, None).await?;
        for n in &nodes {
            let count = n.num_members().await.map_err(|e| e.to_string())?;
            if count != N {
                return Err(format!("{} sees {count}", n.name()));
            }
        }
        Ok(())
    })
    .await;

    // --- Graceful leave: node-18 leaves, then shuts down. Everyone reports it left, and
    // nobody reports it failed.
    let leaver = N - 2;
    nodes[leaver].leave(Duration::from_secs(10)).await.expect("leave spreads");
    nodes[leaver].shutdown().await;
    let stayers: Vec<usize> = (0..N).filter(|i| *i != leaver).collect();
    eventually("everyone to see node-18 leave", bound, || async {
        match stayers.iter().find(|i| !recorders[**i].any(left("node-18"))) {
            Some(i) => Err(format!("node-{i} has not")),
            None => Ok(()),
        }
    })
    .await;
    for i in &stayers {
        assert!(!recorders[*i].any(failed("node-18")), "node-{i} thought the leaver failed");
    }
    let stay: Vec<&Node> = stayers.iter().map(|i| &nodes[*i]).collect();
    all_see(&stay, "node-18", State::Left, None).await.unwrap();
    assert_eq!(nodes[0].num_members().await.unwrap(), N - 1);

    // --- Metadata: node-1 announces new metadata; everyone sees it.
    nodes[1].update_metadata("v2").await.unwrap();
    eventually("everyone to see node-1's new metadata", bound, || all_see(&stay, "node-1", State::Alive, Some(b"v2")))
        .await;
    assert!(recorders[0].any(|e| matches!(e, Event::MemberUpdated(m) if m.name == "node-1" && m.meta == "v2")));
    let too_big = vec![0u8; swim.max_metadata_size + 1];
    assert!(nodes[1].update_metadata(too_big).await.is_err(), "metadata beyond the limit is refused");

    // --- User messages: best effort (a packet, may be lost, so resent until seen) and
    // reliable (a stream, confirmed by the sender).
    let to = nodes[3].advertise_addr();
    let (n2, r3) = (nodes[2].clone(), recorders[3].clone());
    eventually("a best-effort message from node-2 to node-3", bound, || async {
        let got = |e: &Event| matches!(e, Event::UserMessage { sender, payload, .. } if sender == "node-2" && payload == "hi");
        if r3.any(got) {
            return Ok(());
        }
        n2.send_best_effort(to, "hi").await.map_err(|e| e.to_string())?;
        Err("not yet received".into())
    })
    .await;
    nodes[2].send_reliable(nodes[4].advertise_addr(), "sure").await.expect("reliable send");
    let r4 = recorders[4].clone();
    eventually("the reliable message at node-4", bound, || async {
        let got = |e: &Event| matches!(e, Event::UserMessage { sender, payload, .. } if sender == "node-2" && payload == "sure");
        if r4.count(got) == 1 { Ok(()) } else { Err("not received".into()) }
    })
    .await;

    // --- Broadcast: node-5's payload reaches every other member. Gossip may miss a member
    // (see `swim_config`) and nothing repairs a broadcast, so it is repeated, under the same
    // key, every few gossip rounds until everyone has it.
    let n5 = nodes[5].clone();
    let mut sent = 0;
    let got =
        |e: &Event| matches!(e, Event::UserBroadcast { origin, payload } if origin == "node-5" && payload == "extra");
    eventually("node-5's broadcast everywhere", bound, || {
        let missing = stayers.iter().filter(|i| **i != 5).find(|i| !recorders[**i].any(got)).copied();
        sent += 1;
        let n5 = n5.clone();
        async move {
            let Some(i) = missing else { return Ok(()) };
            if sent % 20 == 1 {
                n5.broadcast(Some(b"news"), "extra").await.map_err(|e| e.to_string())?;
            }
            Err(format!("node-{i} does not have it"))
        }
    })
    .await;
    assert!(!recorders[5].any(got), "a member does not deliver its own broadcast");
    let too_big = vec![0u8; swim.limits.max_user_broadcast_size + 1];
    assert!(nodes[5].broadcast(None, too_big).await.is_err(), "broadcasts beyond the limit are refused");

    // --- Shut everyone down; the handles then report the member closed.
    for i in &stayers {
        nodes[*i].shutdown().await;
        assert!(!nodes[*i].is_running());
        assert!(nodes[*i].num_members().await.is_err());
    }
}

/// Read what `events` holds now (each read waits at most a few milliseconds) into `view`.
/// Returns the lag notices among them.
async fn read_buffered(events: &mut Events, view: &mut MemberView) -> usize {
    let mut lags = 0;
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(20), events.recv()).await {
        lags += usize::from(matches!(e, Event::Lagged { .. }));
        view.apply(&e);
    }
    lags
}

/// `view` holds exactly `node`'s table (every member but itself): names, addresses,
/// metadata and states; incarnations at most the table's (see `MemberView`).
async fn view_matches(view: &MemberView, node: &Node) -> Result<(), String> {
    let table = node.all_members().await.map_err(|e| e.to_string())?;
    let others = &table[1..];
    if others.len() != view.len() {
        let names: Vec<_> = view.iter().map(|m| (m.name.to_string(), m.state)).collect();
        return Err(format!("the view holds {names:?}, the table {} members", others.len()));
    }
    for m in others {
        match view.get(&m.name) {
            Some(v) if (v.addr, &v.meta, v.state) == (m.addr, &m.meta, m.state) && v.incarnation <= m.incarnation => {}
            other => return Err(format!("{} is {:?} in the table, {:?} in the view", m.name, m.state, other)),
        }
    }
    Ok(())
}

/// Issue 14 point 5 over real sockets: a subscriber that reads nothing while the cluster
/// churns falls far behind its `transport.event_queue` of 4; when it reads at last it gets a
/// lag notice with a snapshot in place of what it missed, and what it then believes equals
/// the member's table. A member whose core queue (`limits.max_pending_events` of 2)
/// overflows inside one input passes the core's own lag notice on the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_falls_behind_reconciles_from_a_snapshot() {
    let swim = swim_config();
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut watched = config("watched", loopback);
    watched.transport.event_queue = 4;
    let (watched, mut events) = Node::start_with_events(watched).await.expect("start");
    let seed = watched.local_addr();
    // Churn, unread: six members join, one changes its metadata, one leaves, one crashes.
    let mut others = Vec::new();
    for i in 0..6 {
        let node = Node::start(config(&format!("m-{i}"), loopback)).await.expect("start");
        node.join([seed]).await.expect("join");
        others.push(node);
    }
    others[0].update_metadata("v2").await.unwrap();
    others[1].leave(Duration::from_secs(10)).await.expect("leave spreads");
    others[1].shutdown().await;
    others[2].shutdown().await; // no leave notice: a crash
    let bound = crash_detection_bound(&swim, 7);
    eventually("the watched member to see the churn", bound, || async {
        all_see(&[&watched], "m-0", State::Alive, Some(b"v2")).await?;
        all_see(&[&watched], "m-2", State::Dead, None).await?;
        match watched.member("m-1").await.map_err(|e| e.to_string())? {
            Some(m) if m.state != State::Left => Err(format!("m-1 is {:?}", m.state)),
            _ => Ok(()),
        }
    })
    .await;

    // Now it reads, until what it believes is the table (which may still move: a left member
    // is forgotten after a while).
    let mut view = MemberView::new();
    let mut lags = 0;
    let deadline = tokio::time::Instant::now() + SLACK;
    loop {
        lags += read_buffered(&mut events, &mut view).await;
        match view_matches(&view, &watched).await {
            Ok(()) => break,
            Err(e) if tokio::time::Instant::now() >= deadline => panic!("the subscriber's view never matched: {e}"),
            Err(_) => {}
        }
    }
    assert!(lags >= 1, "the subscriber fell behind and got a snapshot");
    assert!(events.missed() > 4, "far behind: missed {}", events.missed());
    assert!(view.get("m-0").is_some_and(|m| m.meta == "v2"));

    // A member whose core falls behind within one input: joining brings six members at
    // once into a queue of two. The subscriber reads in time; the lag notice is the core's.
    let mut late = config("late", loopback);
    late.swim.limits.max_pending_events = 2;
    let (late, mut late_events) = Node::start_with_events(late).await.expect("start");
    late.join([seed]).await.expect("join");
    let mut late_view = MemberView::new();
    let mut late_lags = 0;
    let deadline = tokio::time::Instant::now() + convergence_bound(&swim, 6);
    loop {
        late_lags += read_buffered(&mut late_events, &mut late_view).await;
        match view_matches(&late_view, &late).await {
            Ok(()) if late_lags > 0 => break,
            Err(e) if tokio::time::Instant::now() >= deadline => panic!("the late member's view never matched: {e}"),
            _ if tokio::time::Instant::now() >= deadline => panic!("no lag notice from the core"),
            _ => {}
        }
    }
    assert_eq!(late_events.missed(), 0, "the subscriber itself kept up: the notice came from the core");
    assert!(late.stats().await.unwrap().core.event_lags > 0);

    late.shutdown().await;
    watched.shutdown().await;
    for node in others {
        node.shutdown().await;
    }
}
