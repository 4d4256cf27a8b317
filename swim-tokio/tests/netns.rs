//! One `agent` per network namespace, each with its own address on a veth link to a router
//! namespace, and nftables rules in the router for faults: a partition that splits the
//! cluster and heals, one-way loss between two members, and a host cut off the network.
//!
//! Needs root, `ip` (iproute2) and `nft` (nftables); without them it prints why and passes
//! without running. It creates and deletes its own namespaces (`swt<pid>-*`), even when it
//! fails, and sends no traffic outside them.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Output};

use common::*;

const N: usize = 5;
const PORT: u16 = 7946;

fn host_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 199, i as u8, 2)
}

/// memberlist's local preset with LAN's retransmit multiplier. At 5 members local's 2 sends
/// each update only twice per member, and gossip also goes to members declared dead (so
/// they can refute), so across a partition most of those sends are lost and a death notice
/// can miss a member until push-pull repairs it; 4 keeps each phase well inside its bound.
fn swim_config() -> swim_core::Config {
    swim_core::Config { retransmit_mult: 4, ..swim_core::Config::local() }
}

fn run(args: &[&str]) -> Result<Output, String> {
    let out = Command::new(args[0]).args(&args[1..]).output().map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!("{} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Why this host cannot run the test, if it cannot.
fn missing_prerequisite() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(1));
    if uid != Some("0") {
        return Some("not running as root".into());
    }
    for tool in [["ip", "-V"], ["nft", "--version"]] {
        if Command::new(tool[0]).arg(tool[1]).output().is_err() {
            return Some(format!("`{}` is not installed", tool[0]));
        }
    }
    None
}

/// The namespaces of one test run; deleting a namespace deletes its veth ends and rules.
struct Lab {
    prefix: String,
    namespaces: Vec<String>,
}

impl Lab {
    fn router(&self) -> String {
        format!("{}-r", self.prefix)
    }

    fn host(&self, i: usize) -> String {
        format!("{}-h{i}", self.prefix)
    }

    /// A router namespace forwarding between `n` host namespaces, host `i` at 10.199.i.2/24.
    fn build(n: usize) -> Result<Lab, String> {
        remove_stale_labs();
        // `lab` owns each namespace as soon as it exists, so an error part-way deletes them.
        let mut lab = Lab { prefix: format!("swt{}", std::process::id()), namespaces: Vec::new() };
        let router = lab.router();
        run(&["ip", "netns", "add", &router])?;
        lab.namespaces.push(router.clone());
        run(&["ip", "-n", &router, "link", "set", "lo", "up"])?;
        // Through the shell rather than sysctl(8), which minimal images lack.
        run(&["ip", "netns", "exec", &router, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"])?;
        for i in 0..n {
            let host = lab.host(i);
            run(&["ip", "netns", "add", &host])?;
            lab.namespaces.push(host.clone());
            let (r_if, gw, addr) = (format!("h{i}"), format!("10.199.{i}.1/24"), format!("{}/24", host_ip(i)));
            run(&[
                "ip", "link", "add", &r_if, "netns", &router, "type", "veth", "peer", "name", "eth0", "netns", &host,
            ])?;
            run(&["ip", "-n", &router, "addr", "add", &gw, "dev", &r_if])?;
            run(&["ip", "-n", &router, "link", "set", &r_if, "up"])?;
            run(&["ip", "-n", &host, "addr", "add", &addr, "dev", "eth0"])?;
            run(&["ip", "-n", &host, "link", "set", "eth0", "up"])?;
            run(&["ip", "-n", &host, "link", "set", "lo", "up"])?;
            run(&["ip", "-n", &host, "route", "add", "default", "via", &format!("10.199.{i}.1")])?;
        }
        lab.nft(&["add", "table", "inet", "swim"])?;
        lab.nft(&[
            "add",
            "chain",
            "inet",
            "swim",
            "faults",
            "{ type filter hook forward priority 0; policy accept; }",
        ])?;
        Ok(lab)
    }

    fn nft(&self, args: &[&str]) -> Result<(), String> {
        let router = self.router();
        let mut all = vec!["ip", "netns", "exec", router.as_str(), "nft"];
        all.extend_from_slice(args);
        run(&all).map(drop)
    }

    /// Drop everything the router would forward from `from` to `to`.
    fn drop_traffic(&self, from: &[usize], to: &[usize]) {
        let set = |hosts: &[usize]| {
            format!("{{ {} }}", hosts.iter().map(|i| host_ip(*i).to_string()).collect::<Vec<_>>().join(", "))
        };
        let rule = format!("ip saddr {} ip daddr {} drop", set(from), set(to));
        let mut args = vec!["add", "rule", "inet", "swim", "faults"];
        args.extend(rule.split(' '));
        self.nft(&args).expect("add nft rule");
    }

    fn heal(&self) {
        self.nft(&["flush", "chain", "inet", "swim", "faults"]).expect("flush nft rules");
    }

    fn agent(&self, binary: &std::path::Path, i: usize) -> Agent {
        let name = format!("host{i}");
        let bind = SocketAddr::from((host_ip(i), PORT)).to_string();
        let seed = SocketAddr::from((host_ip(0), PORT)).to_string();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.host(i)]).arg(binary);
        cmd.args(["--name", &name, "--bind", &bind, "--preset", "local", "--stats", "1"]);
        cmd.args(["--retransmit-mult", &swim_config().retransmit_mult.to_string()]);
        if i > 0 {
            cmd.args(["--join", &seed]);
        }
        Agent::spawn(&name, cmd)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            if let Err(e) = run(&["ip", "netns", "del", ns]) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

/// Namespaces left by a run that was killed before it could clean up.
fn remove_stale_labs() {
    let Ok(out) = run(&["ip", "netns", "list"]) else { return };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(ns) = line.split_whitespace().next() else { continue };
        let Some(pid) = ns.strip_prefix("swt").and_then(|r| r.split('-').next()) else { continue };
        if pid.parse::<u32>().is_ok() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            // Its agents outlived it too.
            if let Ok(pids) = run(&["ip", "netns", "pids", ns]) {
                for p in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
                    let _ = run(&["sh", "-c", &format!("kill -9 {p}")]);
                }
            }
            let _ = run(&["ip", "netns", "del", ns]);
        }
    }
}

/// Every agent in `observers` holds every member of `subjects` (other than itself) in one of
/// the states `whats`, judging by the last event it printed about each.
fn all_hold(agents: &[Agent], observers: &[usize], subjects: &[usize], whats: &[&str]) -> Result<(), String> {
    const STATES: &[&str] = &["joined", "alive", "updated", "suspect", "failed", "left"];
    for &o in observers {
        for &s in subjects {
            if o == s {
                continue;
            }
            let last = agents[o].last(STATES, &agents[s].name);
            if !last.as_deref().is_some_and(|w| whats.contains(&w)) {
                return Err(format!(
                    "{} last saw {} as {last:?}:\n{}",
                    agents[o].name,
                    agents[s].name,
                    agents[o].output()
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn partitions_one_way_loss_and_a_lost_host() {
    if let Some(reason) = missing_prerequisite() {
        println!("SKIPPED netns test: {reason} (it needs root, iproute2 and nftables)");
        return;
    }
    let probe = format!("swt{}-probe", std::process::id());
    if let Err(e) = run(&["ip", "netns", "add", &probe]) {
        println!("SKIPPED netns test: cannot create network namespaces here: {e}");
        return;
    }
    run(&["ip", "netns", "del", &probe]).expect("delete the probe namespace");
    // From here on, a failure to set up is a failure of the test (the guard still cleans up).
    let lab = Lab::build(N).unwrap_or_else(|e| panic!("setting up the namespaces: {e}"));
    let binary = agent_binary();
    let swim = swim_config();
    let alive = ["joined", "alive", "updated"];
    let all: Vec<usize> = (0..N).collect();
    // Declared after `lab`, so the agents are killed before the namespaces are deleted.
    let mut agents: Vec<Agent> = (0..N).map(|i| lab.agent(&binary, i)).collect();

    wait_until("the cluster to form across namespaces", convergence_bound(&swim, N) + SLACK, || {
        all_hold(&agents, &all, &all, &alive)
    });

    // --- Partition {0, 1, 2} | {3, 4}: each side declares the other failed.
    let (big, small) = ([0, 1, 2], [3, 4]);
    lab.drop_traffic(&big, &small);
    lab.drop_traffic(&small, &big);
    wait_until("each side of the partition to declare the other failed", crash_detection_bound(&swim, N), || {
        all_hold(&agents, &big, &small, &["failed"])?;
        all_hold(&agents, &small, &big, &["failed"])?;
        all_hold(&agents, &big, &big, &alive)?;
        all_hold(&agents, &small, &small, &alive)
    });

    // --- Heal: the halves find each other again (gossip to the recently dead, and the
    // reconnect push-pull to dead members, whichever comes first) and everyone is alive.
    lab.heal();
    let heal_bound = swim.reconnect_interval.unwrap_or_default() + dissemination_bound(&swim, N) + SLACK;
    wait_until("the healed cluster to see everyone alive", heal_bound, || all_hold(&agents, &all, &all, &alive));

    // --- One-way loss: nothing from host1 reaches host2. host1's pings to host2 and host2's
    // acks to host1 are lost, so both must probe each other indirectly, through a helper.
    // Once every member has probed every other twice over (by its probe counter) and host1
    // has needed helpers, nobody may have been declared failed, and no suspicion may linger.
    let failures_before: Vec<usize> = agents.iter().map(|a| a.count_events("failed")).collect();
    let counter = |i: usize, key: &str| agents[i].stat(key).unwrap_or(0);
    let probes_before: Vec<u64> = all.iter().map(|i| counter(*i, "probes")).collect();
    let indirect_before = counter(1, "ping_reqs_sent");
    lab.drop_traffic(&[1], &[2]);
    let rounds = 2 * (N as u64 - 1);
    let max_scale = swim.lifeguard.awareness_max_multiplier;
    let bound = swim.probe_interval * (rounds as u32 + 2) * max_scale + SLACK;
    wait_until("every member to probe every other twice under one-way loss", bound, || {
        for i in 0..N {
            let done = counter(i, "probes") - probes_before[i];
            if done < rounds {
                return Err(format!("{} has probed {done} times", agents[i].name));
            }
        }
        let indirect = counter(1, "ping_reqs_sent") - indirect_before;
        if indirect < 2 { Err(format!("host1 sent {indirect} indirect probes")) } else { Ok(()) }
    });
    let settle = swim.probe_interval * 2 + SLACK;
    wait_until("no suspicion left after one-way loss", settle, || {
        for (i, a) in agents.iter().enumerate() {
            let failed = a.count_events("failed");
            assert_eq!(failed, failures_before[i], "{} declared someone failed:\n{}", a.name, a.output());
        }
        all_hold(&agents, &all, &all, &alive)
    });
    lab.heal();

    // --- A host lost: host4 is cut off the network (its process still runs).
    lab.drop_traffic(&[4], &all);
    lab.drop_traffic(&all, &[4]);
    let rest = [0, 1, 2, 3];
    wait_until("the others to declare the lost host failed", crash_detection_bound(&swim, N), || {
        all_hold(&agents, &rest, &[4], &["failed"])?;
        all_hold(&agents, &rest, &rest, &alive)
    });
    for a in &mut agents {
        a.kill();
    }
}
