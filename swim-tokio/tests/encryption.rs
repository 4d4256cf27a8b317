//! Encryption and cluster labels over real sockets: an encrypted cluster forms, a member
//! with the wrong key cannot join, keys rotate and a label is rolled in while the cluster runs
//! without a suspicion. Every wait is a condition with a deadline derived from the
//! configuration.

mod common;

use std::net::SocketAddr;

use common::*;
use swim_tokio::{Cipher, Config, Event, JoinError, Key, KeyringError, LabelError, Node, State};

fn key(b: u8) -> Key {
    Key::from_bytes([b; 32])
}

fn config(name: &str, keys: Vec<Key>) -> Config {
    let swim = swim_core::Config { retransmit_mult: 4, ..swim_core::Config::local() };
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    Config::new(name, swim).with_bind_addr(loopback).with_keys(Cipher::Aes256Gcm, keys)
}

async fn all_alive(nodes: &[&Node], n: usize) -> Result<(), String> {
    for node in nodes {
        let members = node.members().await.map_err(|e| e.to_string())?;
        let alive = members.iter().filter(|m| m.state == State::Alive).count();
        if alive != n {
            return Err(format!("{} sees {alive} alive of {n}", node.name()));
        }
    }
    Ok(())
}

/// `n` members encrypting with key 1, each with a recorder of its events, that joined
/// through `node-0` and all see each other alive.
async fn encrypted_cluster(n: usize) -> (Vec<Node>, Vec<Recorder>) {
    let swim = config("x", vec![key(1)]).swim;
    let mut nodes = Vec::new();
    let mut recorders = Vec::new();
    for i in 0..n {
        let node = Node::start(config(&format!("node-{i}"), vec![key(1)])).await.expect("start");
        recorders.push(Recorder::attach(&node));
        nodes.push(node);
    }
    let seed = nodes[0].advertise_addr();
    for node in &nodes[1..] {
        assert_eq!(node.join([seed]).await.expect("join"), 1);
    }
    let refs: Vec<&Node> = nodes.iter().collect();
    eventually("encrypted cluster converges", convergence_bound(&swim, n), || all_alive(&refs, n)).await;
    (nodes, recorders)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_cluster_rotates_keys_and_keeps_strangers_out() {
    let swim = config("x", vec![key(1)]).swim;
    let (nodes, recorders) = encrypted_cluster(4).await;
    let seed = nodes[0].advertise_addr();
    let refs: Vec<&Node> = nodes.iter().collect();

    // A member holding another key reaches nobody: its join push-pull cannot be opened.
    let stranger = Node::start(config("stranger", vec![key(9)])).await.expect("start");
    let err = stranger.join([seed]).await.expect_err("the wrong key must not join");
    assert!(matches!(err, JoinError::NoneReached { .. }), "{err}");
    assert!(nodes[0].member("stranger").await.unwrap().is_none());
    stranger.shutdown().await;

    // Rotate: add the new key everywhere, then promote it, then remove the old one.
    let before = nodes[0].key_fingerprints().await.unwrap();
    for node in &nodes {
        node.add_key(key(2)).await.unwrap();
    }
    for node in &nodes {
        assert_eq!(node.key_fingerprints().await.unwrap().len(), 2);
        node.use_key(key(2)).await.unwrap();
    }
    for node in &nodes {
        assert!(matches!(node.remove_key(key(2)).await, Err(KeyringError::Key(_))), "the primary stays");
        node.remove_key(key(1)).await.unwrap();
    }
    let after = nodes[0].key_fingerprints().await.unwrap();
    assert_eq!(after.len(), 1);
    assert_ne!(before[0], after[0]);
    // The cluster keeps working under the new key: a metadata update reaches everyone.
    nodes[3].update_metadata("rotated").await.unwrap();
    eventually("update under the new key", dissemination_bound(&swim, 4) + SLACK, || async {
        for node in &refs {
            match node.member("node-3").await.map_err(|e| e.to_string())? {
                Some(m) if m.meta == b"rotated"[..] => {}
                other => return Err(format!("{} holds {:?}", node.name(), other.map(|m| m.meta))),
            }
        }
        Ok(())
    })
    .await;
    for (i, r) in recorders.iter().enumerate() {
        assert_eq!(r.count(|e| matches!(e, Event::MemberSuspected { .. } | Event::MemberFailed(_))), 0, "node-{i}");
    }

    // A member started without encryption has no keyring to change.
    let plain = Node::start(Config::local("plain").with_bind_addr("127.0.0.1:0".parse().unwrap())).await.unwrap();
    assert!(matches!(plain.add_key(key(3)).await, Err(KeyringError::NotEncrypted)));
    plain.shutdown().await;
    for node in nodes {
        node.shutdown().await;
    }
}

/// Issue 14 point 6a over real sockets: a running unlabelled cluster (encrypted here, so the
/// label is authenticated) moves to a label through `Node::set_label`, member by member, in
/// the three documented steps, without a suspicion; afterwards a member without the label
/// cannot join, and one configured with it (`swim.label`) can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_cluster_rolls_out_a_label_without_a_suspicion() {
    let (nodes, recorders) = encrypted_cluster(4).await;
    let seed = nodes[0].advertise_addr();
    let refs: Vec<&Node> = nodes.iter().collect();

    // Each step on every member in turn, with a probe round or two between members; a
    // step begins only once the previous one is done everywhere.
    for (accept, send) in [(true, true), (true, false), (false, false)] {
        for node in &nodes {
            node.set_label("prod", accept, send).await.expect("a valid label");
            let probes = node.stats().await.unwrap().core.probes;
            eventually("a probe round after the switch", SLACK, || async {
                let now = node.stats().await.map_err(|e| e.to_string())?.core.probes;
                if now >= probes + 2 { Ok(()) } else { Err(format!("{now} probes")) }
            })
            .await;
        }
    }
    all_alive(&refs, 4).await.unwrap();
    for (i, r) in recorders.iter().enumerate() {
        assert_eq!(r.count(|e| matches!(e, Event::MemberSuspected { .. } | Event::MemberFailed(_))), 0, "node-{i}");
    }
    let stats = nodes[1].stats().await.unwrap().core;
    assert!(stats.unlabelled_accepted > 0, "unlabelled packets were let in during the roll-out");

    // Unlabelled, the stranger holds the key but is refused; labelled, it joins.
    let stranger = Node::start(config("stranger", vec![key(1)])).await.expect("start");
    let err = stranger.join([seed]).await.expect_err("an unlabelled member must not join");
    assert!(matches!(err, JoinError::NoneReached { .. }), "{err}");
    stranger.shutdown().await;
    let mut labelled = config("labelled", vec![key(1)]);
    labelled.swim.label = "prod".into();
    let labelled = Node::start(labelled).await.expect("start");
    assert_eq!(labelled.join([seed]).await.expect("a labelled member joins"), 1);

    let too_long = vec![b'x'; 256];
    assert!(matches!(nodes[0].set_label(too_long, false, false).await, Err(LabelError::Config(_))));
    labelled.shutdown().await;
    for node in nodes {
        node.shutdown().await;
    }
}
