//! swim-core's `udp_loop` example, the custom event loop over std's blocking sockets with no
//! async runtime, run as a user would run it: three processes on loopback join through the
//! first, one is killed with SIGKILL, and the other two report it suspect, then failed.
//! (It lives here, beside the agent tests, because swim-core's own tests run in virtual
//! time only.)

mod common;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::Command;

use common::*;

/// `n` distinct loopback ports, each free for both UDP and TCP (the example binds both on
/// one address). All are held until all are chosen, so none is handed out twice.
fn free_ports(n: usize) -> Vec<SocketAddr> {
    let mut held = Vec::new();
    while held.len() < n {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket on loopback");
        let addr = udp.local_addr().expect("local address");
        if let Ok(tcp) = TcpListener::bind(addr) {
            held.push((addr, udp, tcp));
        }
    }
    held.into_iter().map(|(addr, _, _)| addr).collect()
}

fn member(binary: &std::path::Path, name: &str, bind: SocketAddr, seed: Option<SocketAddr>) -> Agent {
    let mut cmd = Command::new(binary);
    cmd.args([bind.to_string(), name.to_string()]);
    if let Some(seed) = seed {
        cmd.arg(seed.to_string());
    }
    // A bound on its life in case the test dies before killing it.
    cmd.args(["--for", "300"]);
    Agent::spawn(name, cmd)
}

#[test]
fn the_udp_loop_example_forms_a_cluster_and_detects_a_killed_member() {
    let binary = example_binary("swim-core", "udp_loop");
    let config = swim_core::Config::local(); // the example's configuration
    let names = ["a", "b", "c"];
    let addrs = free_ports(names.len());
    // The others join `a`, so `a` must listen first (a join that finds nobody is not retried).
    let first = member(&binary, names[0], addrs[0], None);
    wait_until("a to listen", SLACK, || {
        if first.output().contains("listening on") { Ok(()) } else { Err(first.output()) }
    });
    let mut members = vec![first];
    for (name, &addr) in names.iter().zip(&addrs).skip(1) {
        members.push(member(&binary, name, addr, Some(addrs[0])));
    }

    // Lines look like `[a] joined: b at 127.0.0.1:40123`.
    wait_until("every member to report the other two joined", convergence_bound(&config, 3), || {
        for m in &members {
            if let Some(missing) = names.iter().find(|n| **n != m.name && !m.saw("joined:", n)) {
                return Err(format!("{} has not seen {missing} join:\n{}", m.name, m.output()));
            }
        }
        Ok(())
    });

    let mut victim = members.pop().expect("three members");
    victim.kill();
    wait_until("both others to report the killed member failed", crash_detection_bound(&config, 3), || {
        match members.iter().find(|m| !m.saw("failed:", &victim.name)) {
            Some(m) => Err(format!("{} has not:\n{}", m.name, m.output())),
            None => Ok(()),
        }
    });
    assert!(members.iter().any(|m| m.saw("suspect:", &victim.name)), "suspected before failed");
}
