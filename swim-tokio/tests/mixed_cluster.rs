//! Go memberlist and swim in one cluster (issue 16): three Go memberlist 0.2.2 members
//! (`interop/go-peer`, one process each) and three swim-tokio members in the memberlist wire
//! profile, on loopback, with memberlist's `local` preset on both sides. Every wait is a
//! condition with a deadline derived from the preset. Without Go these tests print why and
//! pass, except where `CI` is set: there they fail (see `common::gopeer`).

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::gopeer::{self, GoPeer, GoPeerConfig};
use common::*;
use swim_tokio::{Config, Node, State};

/// memberlist's local preset, as swim-core has it, with LAN's retransmit multiplier on both
/// sides (the Go members get `-retransmit-mult 4`): with local's 2, an update reaches a
/// 6-member cluster by gossip only most of the time, and the push-pull that repairs the rest
/// comes every 15 s.
fn preset() -> swim_core::Config {
    swim_core::Config { retransmit_mult: 4, ..swim_core::Config::local() }.memberlist_wire()
}

/// The tests take turns: six members each on two cores, and their timers are real.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn swim_config(name: &str) -> Config {
    Config::new(name, preset()).with_bind_addr("127.0.0.1:0".parse().unwrap()).with_meta(format!("meta-{name}"))
}

async fn start_swim(config: Config) -> (Node, Recorder) {
    let (node, events) = Node::start_with_events(config).await.expect("start a swim member");
    (node, Recorder::record(events))
}

fn go(binary: &std::path::Path, name: &str, key: Option<&[u8]>, seeds: &[String]) -> GoPeer {
    go_at(binary, name, key, seeds, 0)
}

/// Suspicion multiplier of the refutation test, on both sides: a suspicion times out after at
/// least 8 probe intervals, so the suspect hears of it in time (memberlist's buddy system
/// sends it with every probe of the suspect) whatever the machine's load.
const PATIENT: u32 = 8;

/// A Go member speaking memberlist protocol `protocol` (0: the preset's, 2).
fn go_at(binary: &std::path::Path, name: &str, key: Option<&[u8]>, seeds: &[String], protocol: u8) -> GoPeer {
    let mut c = GoPeerConfig::new(name);
    c.protocol = protocol;
    c.retransmit_mult = 4;
    c.key = key.map(<[u8]>::to_vec);
    c.seeds = seeds.to_vec();
    GoPeer::start(binary, &c)
}

/// The Go member's view, without blocking the runtime's other tasks.
fn go_members(peer: &mut GoPeer) -> Vec<String> {
    tokio::task::block_in_place(|| peer.members())
}

/// Every swim member lists `expected` (sorted) as its live members.
async fn swim_lists(nodes: &[&Node], expected: &[String]) -> Result<(), String> {
    for n in nodes {
        let mut names: Vec<String> = n
            .members()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|m| m.state == State::Alive || m.state == State::Suspect)
            .map(|m| m.name.to_string())
            .collect();
        names.sort();
        if names != expected {
            return Err(format!("{} lists {names:?}", n.name()));
        }
    }
    Ok(())
}

fn go_lists(peers: &mut [&mut GoPeer], expected: &[String]) -> Result<(), String> {
    for p in peers.iter_mut() {
        let names = go_members(p);
        if names != expected {
            return Err(format!("{} lists {names:?}", p.name));
        }
    }
    Ok(())
}

/// The events a recorder holds about member `name`, for failure messages.
fn history(r: &Recorder, name: &str) -> Vec<String> {
    (0..r.count(|_| true))
        .filter_map(|i| {
            r.nth(i, |e| {
                let s = format!("{e:?}");
                s.contains(&format!("\"{name}\"")).then_some(s)
            })
        })
        .collect()
}

/// Every swim member and every Go member lists exactly `all`.
async fn everyone_lists(swims: &[&Node], go: &mut [&mut GoPeer], all: &[String], bound: Duration) {
    eventually(&format!("every swim member lists all {}", all.len()), bound, || swim_lists(swims, all)).await;
    eventually(&format!("every Go member lists all {}", all.len()), bound, || {
        let r = go_lists(go, all);
        async move { r }
    })
    .await;
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_go_and_three_swim_members_form_from_a_go_seed_and_detect_each_others_crashes() {
    let Some(bin) = gopeer::binary_or_skip("mixed_cluster") else { return };
    let _turn = ONE_AT_A_TIME.lock().await;
    let c = preset();
    let bound = convergence_bound(&c, 6);
    let mut g1 = go(&bin, "go-1", None, &[]);
    let seed = g1.addr.clone();
    let mut g2 = go(&bin, "go-2", None, std::slice::from_ref(&seed));
    let mut g3 = go(&bin, "go-3", None, std::slice::from_ref(&seed));
    let (s1, r1) = start_swim(swim_config("swim-1")).await;
    let (s2, r2) = start_swim(swim_config("swim-2")).await;
    let (s3, r3) = start_swim(swim_config("swim-3")).await;
    for s in [&s1, &s2, &s3] {
        let n = s.join([seed.as_str()]).await.expect("join through the Go seed");
        assert_eq!(n, 1, "{} reached the Go seed", s.name());
    }
    let all = sorted(&["go-1", "go-2", "go-3", "swim-1", "swim-2", "swim-3"]);
    let swims = [&s1, &s2, &s3];
    everyone_lists(&swims, &mut [&mut g1, &mut g2, &mut g3], &all, bound).await;
    // The swim members' metadata reached Go as they sent it.
    let joined = g1.wait_line("go-1 to see swim-2 join", bound, |l| l.starts_with("join swim-2 "));
    assert!(joined.ends_with(&gopeer::hex(b"meta-swim-2")), "{joined}");

    // A SIGKILLed Go member is detected by every swim member within the crash bound, and a
    // killed swim member by every Go member.
    let detect = crash_detection_bound(&c, 6);
    g3.kill();
    let took = eventually("every swim member declares go-3 failed", detect, || async {
        for (n, r) in [(&s1, &r1), (&s2, &r2), (&s3, &r3)] {
            if !r.any(failed("go-3")) {
                return Err(format!("{} has not", n.name()));
            }
        }
        Ok(())
    })
    .await;
    println!("swim detected the Go crash in {took:?}");
    s3.shutdown().await;
    let start = std::time::Instant::now();
    for g in [&g1, &g2] {
        tokio::task::block_in_place(|| {
            g.wait_line("a Go member to see swim-3 leave", detect, |l| l.starts_with("leave swim-3 "))
        });
    }
    println!("Go detected the swim crash in {:?}", start.elapsed());
    // No false failure: the survivors are all still alive everywhere.
    let rest = sorted(&["go-1", "go-2", "swim-1", "swim-2"]);
    let survivors = [&s1, &s2];
    eventually("the survivors list exactly the survivors", bound, || swim_lists(&survivors, &rest)).await;
    for r in [&r1, &r2] {
        for healthy in ["go-1", "go-2", "swim-1", "swim-2"] {
            assert!(!r.any(failed(healthy)), "{healthy} falsely failed");
        }
    }
    drop(r3);
}

/// Application state for push-pull, and a switch that refuses streams from ports other than
/// the members' own (inbound connections come from ephemeral ports: TCP pings and
/// push-pulls; the replies to this member's own requests come from the members' ports).
#[derive(Clone, Default)]
struct AppHooks {
    state: Arc<Mutex<Vec<u8>>>,
    merged: Arc<Mutex<Vec<Vec<u8>>>>,
    refuse_inbound_streams: Arc<AtomicBool>,
    member_ports: Arc<Mutex<Vec<u16>>>,
}

/// What the firewall in front of swim-1 drops.
const OPEN: u8 = 0;
/// Every inbound datagram (a UDP firewall): only streams reach the member.
const NO_UDP: u8 = 1;
/// Inbound datagrams holding a ping or an indirect ping: the member cannot be probed, and
/// hears everything else (the acks to its own probes, gossip).
const NO_PINGS: u8 = 2;

/// The default transport with a firewall on its inbound datagrams.
struct Firewall {
    inner: swim_tokio::NetTransport,
    mode: Arc<std::sync::atomic::AtomicU8>,
}

/// Whether a plaintext memberlist packet holds a ping or an indirect ping.
fn has_ping(packet: &[u8]) -> bool {
    use swim_core::wire::memberlist::{check_crc, message::Message as Ml, profile};
    let limits = swim_core::wire::DecodeLimits::from_config(&preset());
    let mut msgs = Vec::new();
    let ok = profile::strip_label(packet)
        .and_then(|(_, p)| check_crc(p))
        .and_then(|p| profile::packet_messages(p, &limits, &mut msgs));
    ok.is_ok() && msgs.iter().any(|m| matches!(m, Ml::Ping(_) | Ml::IndirectPing(_)))
}

impl swim_tokio::Transport for Firewall {
    fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }
    fn start(&mut self, advertise: SocketAddr) -> std::io::Result<()> {
        self.inner.start(advertise)
    }
    fn send_packet(&mut self, to: SocketAddr, packet: &[u8]) -> std::io::Result<()> {
        self.inner.send_packet(to, packet)
    }
    fn poll_recv_packet(
        &mut self,
        cx: &mut std::task::Context<'_>,
        buf: &mut Vec<u8>,
    ) -> std::task::Poll<std::io::Result<SocketAddr>> {
        loop {
            let from = std::task::ready!(self.inner.poll_recv_packet(cx, buf))?;
            let drop = match self.mode.load(Ordering::SeqCst) {
                NO_UDP => true,
                NO_PINGS => has_ping(buf),
                _ => false,
            };
            if !drop {
                return std::task::Poll::Ready(Ok(from));
            }
            buf.clear();
        }
    }
    fn connect(&mut self, to: SocketAddr) -> swim_tokio::transport::Connecting {
        self.inner.connect(to)
    }
    fn poll_accept(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<(swim_tokio::transport::BoxStream, SocketAddr)>> {
        self.inner.poll_accept(cx)
    }
}

impl swim_core::Hooks<SocketAddr> for AppHooks {
    fn local_state(&mut self, _: swim_core::hooks::Exchange) -> swim_core::Bytes {
        swim_core::Bytes::from(self.state.lock().unwrap().clone())
    }
    fn merge_remote_state(&mut self, _from: &str, state: &[u8], _: swim_core::hooks::Exchange) {
        self.merged.lock().unwrap().push(state.to_vec());
    }
    fn allow_address(&mut self, addr: &SocketAddr) -> bool {
        !self.refuse_inbound_streams.load(Ordering::SeqCst) || self.member_ports.lock().unwrap().contains(&addr.port())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_cluster_formed_from_a_swim_seed_shares_metadata_messages_state_refutes_and_leaves() {
    let Some(bin) = gopeer::binary_or_skip("mixed_cluster") else { return };
    let _turn = ONE_AT_A_TIME.lock().await;
    let c = preset();
    let bound = convergence_bound(&c, 6);
    let hooks = AppHooks::default();
    *hooks.state.lock().unwrap() = b"swim-state".to_vec();
    // Every member waits at least PATIENT probe intervals before a suspicion becomes a
    // failure, so that swim-1, made unreachable below until a Go member suspects it, refutes
    // in time at every member.
    let patient = |name: &str| {
        let mut c = swim_config(name);
        c.swim.suspicion_mult = PATIENT;
        c
    };
    let t0 = std::time::Instant::now();
    let phase = |what: &str| println!("phase {what} at {:?}", t0.elapsed());
    let firewall = Arc::new(std::sync::atomic::AtomicU8::new(OPEN));
    let (s1, r1) = {
        let inner = swim_tokio::NetTransport::bind("127.0.0.1:0".parse().unwrap(), 1 << 20).expect("bind");
        let transport = Firewall { inner, mode: firewall.clone() };
        let (node, events) =
            Node::start_with_transport_and_hooks(patient("swim-1"), transport, hooks.clone()).await.expect("start");
        (node, Recorder::record(events))
    };
    let seed = s1.advertise_addr().to_string();
    let (s2, r2) = start_swim(patient("swim-2")).await;
    let (s3, _r3) = start_swim(patient("swim-3")).await;
    for s in [&s2, &s3] {
        s.join([seed.as_str()]).await.expect("join the swim seed");
    }
    let patient_go = |name: &str| {
        let mut c = GoPeerConfig::new(name);
        c.retransmit_mult = 4;
        c.suspicion_mult = PATIENT;
        c.seeds = vec![seed.clone()];
        GoPeer::start(&bin, &c)
    };
    let mut g1 = patient_go("go-1");
    let mut g2 = patient_go("go-2");
    let mut g3 = patient_go("go-3");
    let all = sorted(&["go-1", "go-2", "go-3", "swim-1", "swim-2", "swim-3"]);
    let swims = [&s1, &s2, &s3];
    everyone_lists(&swims, &mut [&mut g1, &mut g2, &mut g3], &all, bound).await;

    phase("metadata");
    // Metadata, both ways.
    let dissemination = dissemination_bound(&c, 6);
    s2.update_metadata("swim-2-v2").await.expect("update");
    for g in [&g1, &g2, &g3] {
        let want = format!("update swim-2 {} {}", s2.advertise_addr(), gopeer::hex(b"swim-2-v2"));
        // Within the convergence bound: gossip almost always delivers it in well under a
        // second, and a member that gossip missed gets it from the next push-pull it takes
        // part in, which the dissemination bound alone does not always cover.
        let t = std::time::Instant::now();
        tokio::task::block_in_place(|| g.wait_line("Go to see swim-2's new metadata", bound, |l| l == want));
        println!("{} saw swim-2's new metadata after {:?}", g.name, t.elapsed());
    }
    tokio::task::block_in_place(|| g1.ask(&format!("meta {}", gopeer::hex(b"go-1-v2")), "meta ok", bound));
    eventually("every swim member sees go-1's new metadata", bound, || async {
        for s in swims {
            match s.member("go-1").await.map_err(|e| e.to_string())? {
                Some(m) if m.meta == b"go-1-v2"[..] => {}
                other => return Err(format!("{} holds {:?}", s.name(), other.map(|m| m.meta))),
            }
        }
        Ok(())
    })
    .await;

    phase("user messages");
    // User messages, best effort and reliable, both ways.
    let g1_addr: SocketAddr = g1.addr.parse().unwrap();
    s1.send_best_effort(g1_addr, &b"to-go-best-effort"[..]).await.expect("send");
    s1.send_reliable(g1_addr, &b"to-go-reliable"[..]).await.expect("send reliable");
    for payload in [&b"to-go-best-effort"[..], b"to-go-reliable"] {
        let want = format!("user {}", gopeer::hex(payload));
        tokio::task::block_in_place(|| g1.wait_line("go-1 to receive swim-1's message", bound, |l| l == want));
    }
    tokio::task::block_in_place(|| {
        g2.ask(&format!("send swim-2 {}", gopeer::hex(b"to-swim-best-effort")), "sent", bound);
        g2.ask(&format!("send-reliable swim-2 {}", gopeer::hex(b"to-swim-reliable")), "sent", bound);
    });
    eventually("swim-2 receives both of go-2's messages", bound, || async {
        for want in [&b"to-swim-best-effort"[..], b"to-swim-reliable"] {
            if !r2.any(|e| matches!(e, swim_tokio::Event::UserMessage { payload, .. } if payload[..] == *want)) {
                return Err(format!("no {:?}", String::from_utf8_lossy(want)));
            }
        }
        Ok(())
    })
    .await;
    // A packet's sender is the member at its source address: go-2.
    assert!(r2.any(|e| matches!(e, swim_tokio::Event::UserMessage { payload, sender, .. }
        if payload[..] == b"to-swim-best-effort"[..] && sender == "go-2")));

    phase("push-pull");
    // Push-pull with application state, both ways: Go members joined swim-1 (a join push-pull
    // each) and run periodic ones; swim-1's state reaches them, and go-3's reaches swim-1 when
    // go-3 joins through it again.
    tokio::task::block_in_place(|| {
        g3.ask(&format!("state {}", gopeer::hex(b"go-3-state")), "state ok", bound);
        g3.ask(&format!("join {seed}"), "joined", bound);
    });
    let push_pull = c.push_pull_interval.expect("the local preset has push-pull") * 3 + bound;
    let want = format!(" {}", gopeer::hex(b"swim-state"));
    for g in [&g1, &g2, &g3] {
        tokio::task::block_in_place(|| {
            g.wait_line("Go to merge swim-1's state", push_pull, |l| l.starts_with("merge ") && l.ends_with(&want))
        });
    }
    eventually("swim-1 merges go-3's state", push_pull, || async {
        if hooks.merged.lock().unwrap().iter().any(|s| s == b"go-3-state") { Ok(()) } else { Err("not yet".into()) }
    })
    .await;

    phase("tcp ping");
    // The TCP fallback ping, both ways: swim-1 stops hearing datagrams, so only streams reach
    // it. Go's probes of it then succeed only by TCP ping (memberlist logs exactly that), the
    // swim members' probes too, and nobody suspects it.
    let bound_ports: Vec<u16> = [
        g1.addr.clone(),
        g2.addr.clone(),
        g3.addr.clone(),
        s2.advertise_addr().to_string(),
        s3.advertise_addr().to_string(),
    ]
    .iter()
    .map(|a| a.rsplit(':').next().and_then(|p| p.parse().ok()).expect("host:port"))
    .collect();
    let suspicions_before = r2.count(suspected("swim-1"));
    *hooks.member_ports.lock().unwrap() = bound_ports;
    firewall.store(NO_UDP, Ordering::SeqCst);
    tokio::task::block_in_place(|| {
        let deadline = std::time::Instant::now() + bound;
        while ![&g1, &g2, &g3].iter().any(|g| g.log_contains("Was able to connect to swim-1 but other probes failed")) {
            assert!(std::time::Instant::now() < deadline, "no Go member reached swim-1 by TCP ping within {bound:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    eventually("a swim member's TCP ping to swim-1 is answered", bound, || async {
        let mut acks = 0;
        for s in [&s2, &s3] {
            acks += s.stats().await.map_err(|e| e.to_string())?.core.tcp_ping_acks;
        }
        if acks > 0 { Ok(()) } else { Err("none yet".into()) }
    })
    .await;
    // swim-1's own probes: the acks of its pings are dropped too, so it pings by TCP, and the
    // Go members answer. Five answered pings make a round of its five peers (probes go round
    // robin): the three Go members among them, none of which it suspects.
    let go_suspected = |r: &Recorder| ["go-1", "go-2", "go-3"].iter().map(|g| r.count(suspected(g))).sum::<usize>();
    let go_suspected_before = go_suspected(&r1);
    eventually("swim-1's TCP pings answered for a whole round of its peers", bound, || async {
        let acks = s1.stats().await.map_err(|e| e.to_string())?.core.tcp_ping_acks;
        if acks >= 5 { Ok(()) } else { Err(format!("{acks} so far")) }
    })
    .await;
    assert_eq!(go_suspected(&r1), go_suspected_before, "swim-1 suspected a Go member it reached by TCP");
    firewall.store(OPEN, Ordering::SeqCst);
    assert_eq!(
        r2.count(suspected("swim-1")),
        suspicions_before,
        "swim-2 suspected swim-1 though it answered TCP pings"
    );
    assert!(s1.stats().await.unwrap().core.tcp_pings_answered > 0);

    phase("refute swim-1");
    // Refutation across implementations. swim-1 stops answering probes (its inbound pings,
    // direct, indirect and over TCP, are dropped; it still hears everything else) until a Go
    // member suspects it (memberlist logs each suspicion); it hears the suspicion and refutes
    // it, and nobody declares it failed.
    let before = s1.local_member().await.unwrap().incarnation;
    hooks.refuse_inbound_streams.store(true, Ordering::SeqCst);
    firewall.store(NO_PINGS, Ordering::SeqCst);
    // Answering again as soon as one Go member suspects it.
    tokio::task::block_in_place(|| {
        let deadline = std::time::Instant::now() + bound;
        while ![&g1, &g2, &g3].iter().any(|g| g.log_contains("Suspect swim-1 has failed")) {
            assert!(std::time::Instant::now() < deadline, "no Go member suspected swim-1 within {bound:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    firewall.store(OPEN, Ordering::SeqCst);
    hooks.refuse_inbound_streams.store(false, Ordering::SeqCst);
    eventually("swim-1 refutes", bound, || async {
        let inc = s1.local_member().await.map_err(|e| e.to_string())?.incarnation;
        if inc > before { Ok(()) } else { Err(format!("incarnation still {inc}")) }
    })
    .await;
    phase("refute go-2");
    // And the other way: go-2 stops (SIGSTOP) until a swim member suspects it, then refutes
    // when it runs again.
    let signal = |sig: &str, pid: u32| {
        std::process::Command::new("kill").args([sig, &pid.to_string()]).status().expect("kill");
    };
    signal("-STOP", g2.pid());
    eventually("a swim member suspects go-2", bound, || async {
        if [&r1, &r2].iter().any(|r| r.any(suspected("go-2"))) { Ok(()) } else { Err("not yet".into()) }
    })
    .await;
    signal("-CONT", g2.pid());
    // The highest incarnation a swim member suspected go-2 at: the refutation must top it.
    let mut accused = 0;
    for r in [&r1, &r2] {
        for i in 0..r.count(|_| true) {
            if let Some(inc) = r.nth(i, |e| match e {
                swim_tokio::Event::MemberSuspected { member, .. } if member.name == "go-2" => Some(member.incarnation),
                _ => None,
            }) {
                accused = accused.max(inc);
            }
        }
    }
    eventually("go-2 refuted: every swim member holds it alive above the accused incarnation", bound, || async {
        for s in swims {
            match s.member("go-2").await.map_err(|e| e.to_string())? {
                Some(m) if m.state == State::Alive && m.incarnation > accused => {}
                other => return Err(format!("{} holds {:?}", s.name(), other.map(|m| (m.state, m.incarnation)))),
            }
        }
        Ok(())
    })
    .await;
    for (who, r) in [("swim-1", &r1), ("swim-2", &r2)] {
        for healthy in ["go-1", "go-2", "go-3", "swim-1", "swim-2", "swim-3"] {
            assert!(!r.any(failed(healthy)), "{healthy} falsely failed at {who}: {:#?}", history(r, healthy));
        }
    }
    for g in [&g1, &g2, &g3] {
        assert!(!g.lines().iter().any(|l| l.starts_with("leave swim-1 ")), "{} failed swim-1", g.name);
    }

    phase("leaves");
    // Graceful leaves, both ways: seen as leaves, not failures.
    s3.leave(Duration::from_secs(5)).await.expect("leave");
    for g in [&g1, &g2] {
        tokio::task::block_in_place(|| {
            g.wait_line("Go to see swim-3 leave", dissemination, |l| l.starts_with("leave swim-3 "))
        });
    }
    tokio::task::block_in_place(|| g3.ask("leave", "left", bound));
    eventually("every swim member sees go-3 leave", dissemination, || async {
        if [&r1, &r2].iter().all(|r| r.any(left("go-3"))) { Ok(()) } else { Err("not yet".into()) }
    })
    .await;
    assert!(!r1.any(failed("go-3")) && !r2.any(failed("go-3")), "go-3's leave was taken for a failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_mixed_cluster_at_protocol_5_forms_and_refuses_a_member_with_another_key() {
    let Some(bin) = gopeer::binary_or_skip("mixed_cluster") else { return };
    let _turn = ONE_AT_A_TIME.lock().await;
    let c = preset();
    let bound = convergence_bound(&c, 4);
    let key = [7u8; 32];
    // Protocol 5: every packet carries memberlist's CRC, inside the encryption.
    let mut g1 = go_at(&bin, "go-1", Some(&key), &[], 5);
    let seed = g1.addr.clone();
    let mut g2 = go_at(&bin, "go-2", Some(&key), std::slice::from_ref(&seed), 5);
    let five = |name: &str| {
        let mut c = swim_config(name);
        c.swim.versions.protocol.current = 5;
        c
    };
    let (s1, r1) = start_swim(five("swim-1").with_memberlist_keys([key.to_vec()])).await;
    // swim-2's primary key is not the cluster's: it reads the cluster's packets (its second
    // key) but seals with a key the Go members do not have.
    let (s2, _r2) = start_swim(five("swim-2").with_memberlist_keys([vec![1u8; 16], key.to_vec()])).await;
    s1.join([seed.as_str()]).await.expect("swim-1 joins the encrypted Go seed");
    let all = sorted(&["go-1", "go-2", "swim-1"]);
    let swims = [&s1];
    everyone_lists(&swims, &mut [&mut g1, &mut g2], &all, bound).await;
    // A member whose primary key Go does not have is refused: its join reaches no one.
    let refused = s2.join([seed.as_str()]).await;
    assert!(!matches!(refused, Ok(n) if n > 0), "a member sealing with another key joined: {refused:?}");
    let s1_stats = s1.stats().await.unwrap();
    assert_eq!(s1_stats.core.decode_errors.get(swim_core::DecodeError::Unencrypted), 0);
    // An unencrypted swim member cannot join either.
    let (plain, _) = start_swim(five("swim-plain")).await;
    let r = plain.join([seed.as_str()]).await;
    assert!(!matches!(r, Ok(n) if n > 0), "an unencrypted member joined: {r:?}");
    assert!(!go_members(&mut g1).contains(&"swim-plain".to_string()));
    assert!(!go_members(&mut g1).contains(&"swim-2".to_string()));

    // A key rotation across the running cluster, memberlist's three steps on every member
    // before the next: add the new key, use it, remove the old one. Nobody is suspected.
    let new = [9u8; 24];
    let suspicions = |r: &Recorder| ["go-1", "go-2"].iter().map(|g| r.count(suspected(g))).sum::<usize>();
    let before = suspicions(&r1);
    for (go_cmd, step) in [("key-add", 0), ("key-use", 1), ("key-remove", 2)] {
        let k = if step == 2 { key.to_vec() } else { new.to_vec() };
        tokio::task::block_in_place(|| {
            for g in [&mut g1, &mut g2] {
                g.ask(&format!("{go_cmd} {}", gopeer::hex(&k)), "key ok", bound);
            }
        });
        match step {
            0 => s1.add_memberlist_key(k).await,
            1 => s1.use_memberlist_key(k).await,
            _ => s1.remove_memberlist_key(k).await,
        }
        .expect("swim-1's keyring takes the step");
        // Long enough for every member to probe every other with the keys of this step.
        tokio::time::sleep(c.probe_interval * 3).await;
    }
    everyone_lists(&swims, &mut [&mut g1, &mut g2], &all, bound).await;
    assert_eq!(suspicions(&r1), before, "swim-1 suspected a Go member during the rotation");
    for g in [&g1, &g2] {
        assert!(!g.log_contains("Suspect swim-1"), "{} suspected swim-1 during the rotation", g.name);
    }
    // The old key is gone everywhere: removing it again is refused, and a member that has only
    // the old key cannot join.
    assert!(matches!(s1.remove_memberlist_key(key.to_vec()).await, Err(swim_tokio::KeyringError::MemberlistKey(_))));
    let (old, _) = start_swim(five("swim-old-key").with_memberlist_keys([key.to_vec()])).await;
    let r = old.join([seed.as_str()]).await;
    assert!(!matches!(r, Ok(n) if n > 0), "a member with the removed key joined: {r:?}");
}
