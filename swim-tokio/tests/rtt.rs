//! Round-trip times over real sockets: `Node::ping` and `Node::ping_addr` answer or time out,
//! a target's ack payload reaches the prober's hooks with the RTT, and network coordinates
//! appear for every member with small estimates on loopback. Every wait is a condition with a
//! deadline derived from the configuration (see `common`).

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use swim_tokio::swim_core::hooks::{Hooks, ProbeCompleted, ProbePath};
use swim_tokio::swim_core::{self, CoordinateConfig};
use swim_tokio::{Bytes, Config, Node, PingError};

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// `n` members named `node-i` with `swim` (and `hooks(i)` if given), joined through node 0,
/// once every member sees all the others.
async fn cluster<H: Hooks<SocketAddr> + 'static>(
    n: usize,
    swim: swim_core::Config,
    mut hooks: impl FnMut(usize) -> Option<H>,
) -> Vec<Node> {
    let mut nodes = Vec::new();
    for i in 0..n {
        let config = Config::new(format!("node-{i}"), swim.clone()).with_bind_addr(loopback());
        let node = match hooks(i) {
            Some(h) => Node::start_with_hooks(config, h).await.expect("start").0,
            None => Node::start(config).await.expect("start"),
        };
        nodes.push(node);
    }
    let seed = nodes[0].local_addr();
    for node in &nodes[1..] {
        node.join([seed]).await.expect("join");
    }
    eventually("every member to see the others", convergence_bound(&swim, n), || async {
        for node in &nodes {
            let count = node.num_members().await.map_err(|e| e.to_string())?;
            if count != n {
                return Err(format!("{} sees {count}", node.name()));
            }
        }
        Ok(())
    })
    .await;
    nodes
}

/// No hooks.
struct Plain;
impl Hooks<SocketAddr> for Plain {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_a_member_an_address_and_a_silent_socket() {
    let swim = swim_core::Config::local();
    let nodes = cluster(3, swim.clone(), |_| None::<Plain>).await;
    let rtt = nodes[0].ping("node-1").await.expect("node-1 answers");
    assert!(rtt < swim.probe_timeout * 8, "{rtt:?}");
    let rtt = nodes[0].ping_addr(nodes[2].local_addr()).await.expect("whoever listens there answers");
    assert!(rtt < swim.probe_timeout * 8, "{rtt:?}");
    assert_eq!(
        nodes[0].ping("nobody").await,
        Err(PingError::Rejected(swim_core::CommandError::UnknownMember)),
        "a name that is not a member"
    );
    // A socket that reads nothing: the ping times out after the probe timeout.
    let silent = UdpSocket::bind(loopback()).unwrap();
    let started = tokio::time::Instant::now();
    let err = nodes[0].ping_addr(silent.local_addr().unwrap()).await.expect_err("nobody answers");
    assert!(matches!(err, PingError::Timeout(d) if d >= swim.probe_timeout), "{err}");
    assert!(started.elapsed() >= swim.probe_timeout);
    let stats = nodes[0].stats().await.unwrap().core;
    assert_eq!((stats.pings_sent, stats.pings_timed_out), (3, 1));
    for node in &nodes {
        node.shutdown().await;
    }
}

/// One completed probe as the hook saw it: (target, rtt, path, payload).
type Completion = (String, Duration, ProbePath, Vec<u8>);

/// Puts the member's name in every ack and logs completed probes.
struct Named {
    name: Bytes,
    log: Arc<Mutex<Vec<Completion>>>,
}

impl Hooks<SocketAddr> for Named {
    fn ack_payload(&mut self) -> Bytes {
        self.name.clone()
    }

    fn probe_completed(&mut self, p: &ProbeCompleted<'_, SocketAddr>) {
        self.log.lock().unwrap().push((p.name.to_string(), p.rtt, p.path, p.payload.to_vec()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_targets_ack_payload_arrives_with_the_rtt() {
    let swim = swim_core::Config { ack_payloads: true, ..swim_core::Config::local() };
    let logs: Vec<_> = (0..3).map(|_| Arc::new(Mutex::new(Vec::new()))).collect();
    let hooks = |i: usize| Some(Named { name: Bytes::from(format!("node-{i}")), log: logs[i].clone() });
    let nodes = cluster(3, swim.clone(), hooks).await;
    // Each member probes each other one within two rounds of the probe order.
    let bound = swim.probe_interval * 4 + SLACK;
    eventually("node-0 to probe both others and get their payloads", bound, || async {
        let log = logs[0].lock().unwrap();
        for other in ["node-1", "node-2"] {
            let Some((_, rtt, _, payload)) = log.iter().find(|e| e.0 == other && e.2 == ProbePath::Direct) else {
                return Err(format!("no direct probe of {other} yet: {log:?}"));
            };
            assert_eq!(payload, other.as_bytes());
            assert!(*rtt < swim.probe_interval, "{rtt:?}");
        }
        Ok(())
    })
    .await;
    for node in &nodes {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinates_appear_for_every_member_with_small_estimates() {
    let swim = swim_core::Config { coordinates: Some(CoordinateConfig::default()), ..swim_core::Config::local() };
    let n = 4;
    let nodes = cluster(n, swim.clone(), |_| None::<Plain>).await;
    assert!(nodes[0].coordinate().await.unwrap().is_some());
    let bound = swim.probe_interval * (2 * n as u32) + SLACK;
    eventually("every member's coordinate known to every member", bound, || async {
        for node in &nodes {
            for j in 0..n {
                let other = format!("node-{j}");
                if node.coordinate_of(&other).await.unwrap().is_none() {
                    return Err(format!("{} has no coordinate for {other}", node.name()));
                }
                let est = node.estimate_rtt(node.name(), &other).await.unwrap().expect("both known");
                // Loopback RTTs are well under a millisecond; the estimates start from a
                // height of 10 us and follow them.
                assert!(est < Duration::from_millis(100), "{} to {other}: {est:?}", node.name());
            }
        }
        Ok(())
    })
    .await;
    let stats = nodes[0].stats().await.unwrap().core;
    assert!(stats.coordinate_updates > 0 && stats.coordinates_rejected == 0, "{stats:?}");
    for node in &nodes {
        node.shutdown().await;
    }
}
