//! Network namespaces for the tests that need real addresses and network faults: a router
//! namespace forwarding between host namespaces, each host with its own address on a veth
//! link, and nftables rules in the router for faults.
//!
//! Needs root, `ip` (iproute2) and `nft` (nftables); [`unavailable`] says why a host cannot
//! run such a test. A [`Lab`] creates and deletes its own namespaces (`swt<pid>-*`), even when
//! the test fails, and sends no traffic outside them.

use std::net::Ipv4Addr;
use std::process::{Command, Output};

/// Host `i`'s address: 10.199.i.2.
pub fn host_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 199, i as u8, 2)
}

/// Run a command to its end; its output, or why it failed.
pub fn run(args: &[&str]) -> Result<Output, String> {
    let out = Command::new(args[0]).args(&args[1..]).output().map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!("{} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Why this host cannot run a namespace test, if it cannot: not root, a tool missing, or
/// namespaces refused (tried with a throwaway one).
pub fn unavailable() -> Option<String> {
    let reason = missing();
    // CI runs as root with both tools installed (.ci/run installs them): there a missing
    // prerequisite is a failure, never a skip.
    if let (Some(reason), Ok(_)) = (&reason, std::env::var("CI")) {
        panic!("CI is set but the network-namespace tests cannot run: {reason}");
    }
    reason
}

fn missing() -> Option<String> {
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
    let probe = format!("swt{}-probe", std::process::id());
    if let Err(e) = run(&["ip", "netns", "add", &probe]) {
        return Some(format!("cannot create network namespaces here: {e}"));
    }
    run(&["ip", "netns", "del", &probe]).expect("delete the probe namespace");
    None
}

/// One rule in the router's fault chain (its nftables handle).
#[must_use = "a fault stays until removed or healed"]
pub struct Fault(u64);

/// An nftables set of the hosts' addresses.
fn set(hosts: &[usize]) -> String {
    format!("{{ {} }}", hosts.iter().map(|i| host_ip(*i).to_string()).collect::<Vec<_>>().join(", "))
}

/// The namespaces of one test run; deleting a namespace deletes its veth ends and rules.
pub struct Lab {
    prefix: String,
    namespaces: Vec<String>,
}

impl Lab {
    /// The router's namespace.
    pub fn router(&self) -> String {
        format!("{}-r", self.prefix)
    }

    /// Host `i`'s namespace.
    pub fn host(&self, i: usize) -> String {
        format!("{}-h{i}", self.prefix)
    }

    /// A router namespace forwarding between `n` host namespaces, host `i` at 10.199.i.2/24.
    pub fn build(n: usize) -> Result<Lab, String> {
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
        self.nft_output(args).map(drop)
    }

    fn nft_output(&self, args: &[&str]) -> Result<String, String> {
        let router = self.router();
        let mut all = vec!["ip", "netns", "exec", router.as_str(), "nft"];
        all.extend_from_slice(args);
        run(&all).map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Drop everything the router would forward from `from` to `to`.
    pub fn drop_traffic(&self, from: &[usize], to: &[usize]) {
        // Removed by `heal`, with every other rule.
        let _ = self.add_fault(&format!("ip saddr {} ip daddr {} drop", set(from), set(to)));
    }

    /// Drop everything the router would forward to or from `hosts` (cut them off the
    /// network, their processes still running); [`Lab::remove_fault`] undoes it alone.
    pub fn blackhole(&self, hosts: &[usize]) -> Vec<Fault> {
        let set = set(hosts);
        vec![self.add_fault(&format!("ip saddr {set} drop")), self.add_fault(&format!("ip daddr {set} drop"))]
    }

    /// Drop `percent` % of the datagrams and segments the router forwards to `hosts`, at
    /// random (their ingress; what they send is untouched).
    pub fn lose_ingress(&self, hosts: &[usize], percent: u32) -> Fault {
        self.add_fault(&format!("ip daddr {} numgen random mod 100 < {percent} drop", set(hosts)))
    }

    /// Add `rule` to the router's fault chain; its handle, to remove it alone.
    fn add_fault(&self, rule: &str) -> Fault {
        // `--echo --handle` prints the rule back with `# handle N`.
        let mut args = vec!["--echo", "--handle", "add", "rule", "inet", "swim", "faults"];
        args.extend(rule.split(' '));
        let out = self.nft_output(&args).expect("add nft rule");
        let handle = out.split("# handle ").nth(1).and_then(|h| h.split_whitespace().next()?.parse().ok());
        Fault(handle.unwrap_or_else(|| panic!("no handle in nft's echo of `{rule}`: {out}")))
    }

    /// Remove one rule added by [`Lab::blackhole`] or [`Lab::lose_ingress`].
    pub fn remove_fault(&self, fault: Fault) {
        let handle = fault.0.to_string();
        self.nft(&["delete", "rule", "inet", "swim", "faults", "handle", &handle]).expect("delete nft rule");
    }

    /// Remove every fault rule.
    pub fn heal(&self) {
        self.nft(&["flush", "chain", "inet", "swim", "faults"]).expect("flush nft rules");
    }

    /// `program` run inside host `i`'s namespace.
    pub fn command(&self, i: usize, program: &std::path::Path) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.host(i)]).arg(program);
        cmd
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
            // Its processes outlived it too.
            if let Ok(pids) = run(&["ip", "netns", "pids", ns]) {
                for p in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
                    let _ = run(&["sh", "-c", &format!("kill -9 {p}")]);
                }
            }
            let _ = run(&["ip", "netns", "del", ns]);
        }
    }
}
