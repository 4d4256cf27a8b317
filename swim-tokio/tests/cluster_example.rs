//! The `cluster` example, run as the README tells a new user to run it: five members on
//! loopback join, one is crashed, and the example must print the suspicion and the failure
//! and exit successfully (it exits with an error if the crash is not detected in time).

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

#[test]
fn the_cluster_example_shows_joins_then_suspect_then_failed() {
    let binary = example_binary("swim-tokio", "cluster");
    let mut child = Command::new(&binary)
        .args(["--nodes", "5", "--timeout", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the cluster example");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    // The example bounds itself (--timeout 60 for the detection); this bounds the test.
    let mut status = None;
    wait_until("the cluster example to finish", Duration::from_secs(120), || {
        status = child.try_wait().expect("poll the example");
        status.map(drop).ok_or_else(|| "still running".to_string())
    });
    let status = status.expect("finished");
    let out = reader.join().expect("stdout reader");
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(status.success(), "the example failed ({status}):\n{out}\n{err}");
    let at = |needle: &str| out.find(needle).unwrap_or_else(|| panic!("no `{needle}` in:\n{out}"));
    let converged = at("converged: every member sees all 5");
    let crashed = at("(no leave notice)");
    let suspected = at("SUSPECTED");
    let failed = at("FAILED");
    at("declared failed by the first member");
    assert!(converged < crashed && crashed < suspected && suspected < failed, "in that order:\n{out}");
}
