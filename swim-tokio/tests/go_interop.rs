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
