//! Go memberlist beside swim: the harness that runs hashicorp/memberlist members as processes
//! (`interop/go-peer`, built by `common::gopeer`). Without Go these tests skip with a printed
//! reason; with `CI` set they fail (`.ci/run` installs golang-go and
//! golang-github-hashicorp-memberlist-dev).

mod common;

use std::time::Duration;

use common::gopeer::{self, GoPeer, GoPeerConfig};

/// Joins, gossip and leaves on loopback with the `local` preset take well under a second;
/// this is the bound with a loaded 2-core machine's slack.
const WITHIN: Duration = Duration::from_secs(15);

/// Two Go members driven from Rust form a cluster and each lists both; a user message sent
/// reliably and one sent best effort arrive; a graceful leave is seen as a leave. This proves
/// the harness (build, start, commands, waiting on events) before swim members join in.
#[test]
fn two_go_members_form_a_cluster_driven_from_rust() {
    let Some(bin) = gopeer::binary_or_skip("two_go_members_form_a_cluster_driven_from_rust") else { return };
    let mut a = GoPeer::start(&bin, &GoPeerConfig::new("go-a"));
    let mut b = GoPeer::start(&bin, &GoPeerConfig::new("go-b"));
    let answer = b.ask(&format!("join {}", a.addr), "joined", WITHIN);
    assert_eq!(answer, "joined 1", "go-b reached its one seed");

    let joined_b = a.wait_line("go-a to see go-b join", WITHIN, |l| l.starts_with("join go-b "));
    assert_eq!(joined_b, format!("join go-b {} ", b.addr), "go-b's address and empty metadata");
    b.wait_line("go-b to see go-a join", WITHIN, |l| l.starts_with("join go-a "));
    assert_eq!(a.members(), ["go-a", "go-b"]);
    assert_eq!(b.members(), ["go-a", "go-b"]);

    b.ask("send-reliable go-a 68656c6c6f", "sent", WITHIN);
    a.wait_line("go-a to receive the reliable message", WITHIN, |l| l == "user 68656c6c6f");
    b.ask("send go-a 776f726c64", "sent", WITHIN);
    a.wait_line("go-a to receive the best-effort message", WITHIN, |l| l == "user 776f726c64");

    b.ask("meta 0102", "meta ok", WITHIN);
    a.wait_line("go-a to see go-b's metadata", WITHIN, |l| l == format!("update go-b {} 0102", b.addr));

    b.ask("leave", "left", WITHIN);
    a.wait_line("go-a to see go-b leave", WITHIN, |l| l.starts_with("leave go-b "));
    assert_eq!(a.members(), ["go-a"]);
}

/// The memberlist wire fixtures swim-core's `tests/memberlist_wire.rs` checks its codec
/// against are what memberlist's own code encodes today: `interop/go-wire/fixtures.sh`
/// re-encodes them with memberlist 0.2.2 and the output must equal the committed file.
#[test]
fn the_committed_memberlist_fixtures_are_memberlists_own_bytes() {
    if let Err(reason) = gopeer::toolchain() {
        println!("skipping the_committed_memberlist_fixtures_are_memberlists_own_bytes: {reason}");
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::process::Command::new("bash")
        .arg(root.join("interop/go-wire/fixtures.sh"))
        .output()
        .expect("run interop/go-wire/fixtures.sh");
    assert!(out.status.success(), "fixtures.sh failed: {}", String::from_utf8_lossy(&out.stderr));
    let committed =
        std::fs::read_to_string(root.join("swim-core/tests/golden/memberlist.txt")).expect("read the fixtures");
    let go = String::from_utf8(out.stdout).expect("hex is ASCII");
    assert!(committed.lines().count() >= 20, "the fixture file lost its lines");
    assert_eq!(
        go, committed,
        "memberlist encodes differently from the committed fixtures: regenerate with \
        interop/go-wire/fixtures.sh > swim-core/tests/golden/memberlist.txt and check swim-core's codec"
    );
}
