//! Several `agent` processes on loopback: they form a cluster, one is killed with SIGKILL
//! and every other reports it failed; one is stopped with SIGTERM and every other reports
//! that it left.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const N: usize = 5;

fn agent(binary: &std::path::Path, name: &str, join: Option<std::net::SocketAddr>) -> Agent {
    let mut cmd = Command::new(binary);
    cmd.args(["--name", name, "--bind", "127.0.0.1:0", "--preset", "local", "--meta", name]);
    if let Some(seed) = join {
        cmd.args(["--join", &seed.to_string()]);
    }
    Agent::spawn(name, cmd)
}

#[test]
fn agents_detect_a_killed_process() {
    let binary = agent_binary();
    let swim = swim_core::Config::local();
    let first = agent(&binary, "p0", None);
    let mut seed = None;
    wait_until("p0 to be ready", Duration::from_secs(30), || {
        seed = first.ready();
        seed.map(drop).ok_or_else(|| first.output())
    });
    let mut agents = vec![first];
    for i in 1..N {
        agents.push(agent(&binary, &format!("p{i}"), seed));
    }
    let names: Vec<String> = agents.iter().map(|a| a.name.clone()).collect();
    wait_until("every agent to report every other joined", convergence_bound(&swim, N), || {
        for a in &agents {
            if let Some(missing) = names.iter().find(|n| **n != a.name && !a.saw("joined", n)) {
                return Err(format!("{} has not seen {missing} join:\n{}", a.name, a.output()));
            }
        }
        Ok(())
    });

    // kill -9 the last one: no leave notice, its sockets vanish with the process.
    let mut victim = agents.pop().unwrap();
    victim.kill();
    wait_until("every other agent to report the killed one failed", crash_detection_bound(&swim, N), || {
        match agents.iter().find(|a| !a.saw("failed", &victim.name)) {
            Some(a) => Err(format!("{} has not:\n{}", a.name, a.output())),
            None => Ok(()),
        }
    });
    assert!(agents.iter().any(|a| a.saw("suspect", &victim.name)), "suspected before failed");

    // SIGTERM another: it leaves gracefully, and the rest report "left", not "failed".
    let mut leaver = agents.pop().unwrap();
    assert!(leaver.terminate(Duration::from_secs(10)), "the agent exits on SIGTERM:\n{}", leaver.output());
    assert!(leaver.said("left"), "the leave spread before exit:\n{}", leaver.output());
    wait_until("the others to report the leaver left", dissemination_bound(&swim, N) + SLACK, || {
        match agents.iter().find(|a| a.last(&["left", "failed"], &leaver.name).as_deref() != Some("left")) {
            Some(a) => Err(format!("{} has not:\n{}", a.name, a.output())),
            None => Ok(()),
        }
    });
    for a in &agents {
        assert!(!a.saw("failed", &leaver.name), "{} thought the leaver failed", a.name);
    }
}
