//! Go memberlist and swim in one cluster (issue 16): three Go memberlist 0.2.2 members
//! (`interop/go-peer`, one process each) and three swim-tokio members in the memberlist wire
//! profile, on loopback, with memberlist's `local` preset on both sides. Every wait is a
//! condition with a deadline derived from the preset. Without Go these tests print why and
//! pass, except where `CI` is set: there they fail (see `common::gopeer`).

mod common;

use common::gopeer::{self, GoPeer, GoPeerConfig};
use common::*;
use swim_tokio::{Config, Node, State};

/// memberlist's local preset, as swim-core has it.
fn preset() -> swim_core::Config {
    swim_core::Config::local().memberlist_wire()
}

fn swim_config(name: &str) -> Config {
    Config::new(name, preset()).with_bind_addr("127.0.0.1:0".parse().unwrap()).with_meta(format!("meta-{name}"))
}

async fn start_swim(config: Config) -> (Node, Recorder) {
    let (node, events) = Node::start_with_events(config).await.expect("start a swim member");
    (node, Recorder::record(events))
}

fn go(binary: &std::path::Path, name: &str, key: Option<&[u8]>, seeds: &[String]) -> GoPeer {
    let mut c = GoPeerConfig::new(name);
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

fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_go_and_three_swim_members_form_from_a_go_seed_and_detect_each_others_crashes() {
    let Some(bin) = gopeer::binary_or_skip("mixed_cluster") else { return };
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
    eventually("every swim member lists all six", bound, || swim_lists(&swims, &all)).await;
    eventually("every Go member lists all six", bound, || {
        let r = go_lists(&mut [&mut g1, &mut g2, &mut g3], &all);
        async move { r }
    })
    .await;
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
