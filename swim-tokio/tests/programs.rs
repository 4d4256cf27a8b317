//! The example programs run as a user runs them, as separate processes: the `cluster` and
//! `udp_loop` examples do what their headers promise, and the `agent` and `udp_loop`
//! command lines fail cleanly (one line, a non-zero exit code, no panic, no colours in a
//! pipe). Cargo builds the binaries (`swim-agent`, `swim-cluster`, `swim-udp-loop`, the
//! `cli` feature) before running these tests.

mod common;

use std::io::Read;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use common::*;

const AGENT: &str = env!("CARGO_BIN_EXE_swim-agent");
const CLUSTER: &str = env!("CARGO_BIN_EXE_swim-cluster");
const UDP_LOOP: &str = env!("CARGO_BIN_EXE_swim-udp-loop");

/// What a finished process printed.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Run `cmd` to its end (killing it and failing the test if that takes over `within`),
/// collecting both outputs.
fn run_to_end(mut cmd: Command, within: Duration) -> Finished {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start the program");
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let stdout = read(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = read(Box::new(child.stderr.take().expect("piped stderr")));
    let mut status = None;
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until("the program to exit", within, || {
            status = child.try_wait().expect("poll the program");
            status.map(drop).ok_or_else(|| "still running".to_string())
        })
    }));
    if waited.is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the program ran over {within:?}:\n{}\n{}", stdout.join().unwrap(), stderr.join().unwrap());
    }
    let status = status.expect("exited");
    Finished { status, stdout: stdout.join().expect("stdout reader"), stderr: stderr.join().expect("stderr reader") }
}

/// A loopback port nothing listens on (bound, read, released).
fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// `n` distinct loopback ports, each free for both UDP and TCP (udp_loop binds both on one
/// address). All are held until all are chosen, so none is handed out twice.
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

/// The `cluster` example as the README runs it: five members on loopback join, one is
/// crashed, and it prints the suspicion and the failure and exits successfully (it exits
/// with an error if the crash is not detected in time).
#[test]
fn the_cluster_example_shows_joins_then_suspect_then_failed() {
    let mut cmd = Command::new(CLUSTER);
    cmd.args(["--nodes", "5", "--timeout", "60"]);
    // The example bounds itself (--timeout 60 for the detection); this bounds the test.
    let run = run_to_end(cmd, Duration::from_secs(120));
    let (out, err) = (&run.stdout, &run.stderr);
    assert!(run.status.success(), "the example failed ({}):\n{out}\n{err}", run.status);
    assert!(!err.contains('\x1b'), "no colour codes when stderr is a pipe:\n{err}");
    let at = |needle: &str| out.find(needle).unwrap_or_else(|| panic!("no `{needle}` in:\n{out}"));
    let converged = at("converged: every member sees all 5");
    let crashed = at("(no leave notice)");
    let suspected = at("SUSPECTED");
    let failed = at("FAILED");
    at("declared failed by the first member");
    assert!(converged < crashed && crashed < suspected && suspected < failed, "in that order:\n{out}");
}

fn udp_loop(name: &str, bind: SocketAddr, seed: Option<SocketAddr>) -> Agent {
    let mut cmd = Command::new(UDP_LOOP);
    cmd.args([bind.to_string(), name.to_string()]);
    if let Some(seed) = seed {
        cmd.arg(seed.to_string());
    }
    // A bound on its life in case the test dies before killing it.
    cmd.args(["--for", "300"]);
    Agent::spawn(name, cmd)
}

/// swim-core's `udp_loop` example, the custom event loop over std's blocking sockets with
/// no async runtime: three processes on loopback join through the first, one is killed
/// with SIGKILL, and the other two report it suspected, then failed, in words.
#[test]
fn the_udp_loop_example_forms_a_cluster_and_detects_a_killed_member() {
    let config = swim_core::Config::local(); // the example's configuration
    let names = ["a", "b", "c"];
    let addrs = free_ports(names.len());
    // The others join `a`, so `a` must listen first (a join that finds nobody is not retried).
    let first = udp_loop(names[0], addrs[0], None);
    wait_until("a to listen", SLACK, || {
        if first.output().contains("listening on") { Ok(()) } else { Err(first.output()) }
    });
    let mut members = vec![first];
    for (name, &addr) in names.iter().zip(&addrs).skip(1) {
        members.push(udp_loop(name, addr, Some(addrs[0])));
    }

    // Lines look like `[a] b joined at 127.0.0.1:40123 (incarnation 0)`.
    wait_until("every member to report the other two joined", convergence_bound(&config, 3), || {
        for m in &members {
            if let Some(missing) = names.iter().find(|n| **n != m.name && !m.reported(n, "joined")) {
                return Err(format!("{} has not seen {missing} join:\n{}", m.name, m.output()));
            }
        }
        Ok(())
    });

    let mut victim = members.pop().expect("three members");
    victim.kill();
    wait_until("both others to report the killed member failed", crash_detection_bound(&config, 3), || {
        match members.iter().find(|m| !m.reported(&victim.name, "failed")) {
            Some(m) => Err(format!("{} has not:\n{}", m.name, m.output())),
            None => Ok(()),
        }
    });
    assert!(members.iter().any(|m| m.reported(&victim.name, "suspected")), "suspected before failed");
    for m in &members {
        assert!(!m.output().contains("Member"), "no event printed as Debug:\n{}", m.output());
    }
}

/// Bad command-line input: one line on stderr naming the problem, exit code 2, no panic.
#[test]
fn udp_loop_refuses_bad_arguments_in_one_line() {
    let cases: [(&[&str], &str); 4] = [
        (&["nonsense", "a"], "invalid bind address `nonsense`"),
        (&["127.0.0.1:0", "a", "127.0.0.1"], "invalid seed address `127.0.0.1`"),
        (&["127.0.0.1:0", "a", "--for", "soon"], "--for `soon`"),
        (&["127.0.0.1:0"], "a bind address and a name are required"),
    ];
    for (args, says) in cases {
        let mut cmd = Command::new(UDP_LOOP);
        cmd.args(args);
        let run = run_to_end(cmd, SLACK);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: one line:\n{}", run.stderr);
        assert!(run.stderr.starts_with("udp_loop: ") && run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    // A name the configuration refuses is an error too, not a panic.
    let mut cmd = Command::new(UDP_LOOP);
    cmd.args(["127.0.0.1:0", &"n".repeat(129)]);
    let run = run_to_end(cmd, SLACK);
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert_eq!(
        run.stderr.trim_end(),
        "udp_loop: the member name is 129 bytes, above the limit of 128 \
        (`limits.max_name_len`): shorten it or raise the limit (at most 255)"
    );
}

/// An agent that gives up joining (`--join-retries`) exits with code 1 and says why, and
/// its log lines carry no colour codes when stderr is not a terminal.
#[test]
fn the_agent_exits_non_zero_when_it_gives_up_joining() {
    let nobody = closed_port();
    let mut cmd = Command::new(AGENT);
    cmd.args(["--name", "lonely", "--bind", "127.0.0.1:0", "--preset", "local"]);
    cmd.args(["--join", &nobody.to_string(), "--join-retries", "2"]);
    cmd.env("RUST_LOG", "info");
    // Two attempts, the core's retry half a second to a second after the first (the local
    // preset's backoff), each ended at once by the refused connection.
    let run = run_to_end(cmd, SLACK * 3);
    assert_eq!(run.status.code(), Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(&format!("no seed answered: contacted 1 ({nobody})")), "{}", run.stdout);
    assert!(run.stdout.contains("join-retrying attempt 2"), "the retry is reported:\n{}", run.stdout);
    assert!(run.stdout.contains("join-failed attempt=2 giving up"), "{}", run.stdout);
    assert!(run.stderr.contains("agent: gave up joining after 2 attempts: no seed answered"), "{}", run.stderr);
    assert!(run.stderr.contains("INFO"), "info logs were asked for:\n{}", run.stderr);
    assert!(!run.stderr.contains('\x1b'), "no colour codes when stderr is a pipe:\n{}", run.stderr);
}

/// `--bind` takes a host name, as `--join` does; a name that does not resolve is a one-line
/// error with exit code 2.
#[test]
fn the_agent_binds_to_a_host_name() {
    let mut first = Agent::spawn("named", {
        let mut cmd = Command::new(AGENT);
        cmd.args(["--name", "named", "--bind", "localhost:0", "--preset", "local"]);
        cmd
    });
    let mut bound = None;
    wait_until("the agent bound to localhost to be ready", SLACK, || {
        bound = first.ready();
        bound.map(drop).ok_or_else(|| first.output())
    });
    let bound = bound.expect("ready");
    assert!(bound.ip().is_loopback() && bound.port() != 0, "bound to {bound}");
    let second = Agent::spawn("second", {
        let mut cmd = Command::new(AGENT);
        cmd.args(["--name", "second", "--bind", "localhost:0", "--preset", "local"]);
        cmd.args(["--join", &format!("localhost:{}", bound.port())]);
        cmd
    });
    let config = swim_core::Config::local();
    wait_until("the two agents to see each other", convergence_bound(&config, 2), || {
        if first.saw("joined", "second") && second.saw("joined", "named") {
            Ok(())
        } else {
            Err(format!("{}\n{}", first.output(), second.output()))
        }
    });
    first.kill();

    let mut cmd = Command::new(AGENT);
    cmd.args(["--name", "x", "--bind", "no-such-host.invalid:0"]);
    let run = run_to_end(cmd, SLACK * 2);
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("agent: --bind no-such-host.invalid:0: cannot resolve"), "{}", run.stderr);
}
