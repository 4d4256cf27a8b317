//! Application hooks over real sockets: a refused join is a typed error at the joiner, and
//! `Config::cidrs_allowed` keeps traffic and members from other networks out. Every wait is a
//! condition with a deadline derived from the configuration (see `common`).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use swim_tokio::swim_core::DecodeError;
use swim_tokio::swim_core::hooks::{Candidate, Exchange, Hooks, Refusal};
use swim_tokio::{Config, Event, JoinError, Node};

/// Refuses every push-pull from a member whose metadata is not `dc=west`.
struct WestOnly;

impl Hooks<SocketAddr> for WestOnly {
    fn admit_merge(
        &mut self,
        _from: &str,
        members: &[Candidate<'_, SocketAddr>],
        _exchange: Exchange,
    ) -> Result<(), Refusal> {
        match members.iter().find(|c| c.meta != b"dc=west") {
            Some(c) => Err(Refusal::new(format!("{} is not in dc=west", c.name))),
            None => Ok(()),
        }
    }
}

fn config(name: &str, ip: &str, meta: &'static str) -> Config {
    let bind: SocketAddr = format!("{ip}:0").parse().unwrap();
    Config::local(name).with_bind_addr(bind).with_meta(meta)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_join_is_a_typed_error_at_the_joiner() {
    let (seed, seed_events) = Node::start_with_hooks(config("seed", "127.0.0.1", "dc=west"), WestOnly).await.unwrap();
    let seed_events = Recorder::record(seed_events);
    let east = Node::start(config("east", "127.0.0.1", "dc=east")).await.unwrap();
    let err = east.join([seed.local_addr()]).await.expect_err("refused");
    let JoinError::Refused { reason, refusals } = &err else { panic!("not a refusal: {err}") };
    assert_eq!(reason, "east is not in dc=west");
    assert_eq!(refusals, &[(seed.local_addr(), reason.clone())]);
    assert_eq!(
        err.to_string(),
        format!("the cluster refused this member: {reason} (refused by {})", seed.local_addr())
    );
    // Nothing was merged on either side, the seed reported it, and no retry follows.
    assert_eq!(seed.num_members().await.unwrap(), 1);
    assert_eq!(east.num_members().await.unwrap(), 1);
    let bound = Duration::from_secs(2) + SLACK;
    eventually("the seed to report the refused merge", bound, || async {
        if seed_events.any(|e| matches!(e, Event::MergeRefused { from, .. } if from == "east")) {
            Ok(())
        } else {
            Err("no MergeRefused yet".into())
        }
    })
    .await;
    let stats = east.stats().await.unwrap();
    assert_eq!((stats.core.join_refusals, stats.core.join_retries), (1, 0));

    // A member from the right datacenter is admitted.
    let west = Node::start(config("west", "127.0.0.1", "dc=west")).await.unwrap();
    assert_eq!(west.join([seed.local_addr()]).await.unwrap(), 1);
    for n in [&seed, &east, &west] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cidrs_allowed_keeps_other_networks_out() {
    // Linux routes all of 127.0.0.0/8 to the loopback interface: 127.0.0.2 is "another network".
    let guarded = config("guarded", "127.0.0.1", "").with_cidrs_allowed(["127.0.0.1/32".parse().unwrap()]);
    let (guarded, guarded_events) = Node::start_with_events(guarded).await.unwrap();
    let guarded_events = Recorder::record(guarded_events);
    let friend = Node::start(config("friend", "127.0.0.1", "")).await.unwrap();
    let outsider = Node::start(config("outsider", "127.0.0.2", "")).await.unwrap();

    // The outsider's join request is dropped unread: no seed answers it.
    let err = outsider.join([guarded.local_addr()]).await.expect_err("dropped");
    assert!(matches!(err, JoinError::NoneReached { .. }), "{err}");
    assert_eq!(friend.join([guarded.local_addr()]).await.unwrap(), 1);

    // Through the friend, the outsider is claimed to the guarded member, which refuses it.
    assert_eq!(outsider.join([friend.local_addr()]).await.unwrap(), 1);
    let swim = swim_tokio::swim_core::Config::local();
    eventually("the guarded member to refuse the outsider's claimed address", convergence_bound(&swim, 3), || async {
        if guarded_events.any(|e| matches!(e, Event::MemberRefused { name, .. } if name == "outsider")) {
            Ok(())
        } else {
            Err("no MemberRefused yet".into())
        }
    })
    .await;
    assert!(guarded.member("outsider").await.unwrap().is_none(), "never stored");
    assert!(guarded.member("friend").await.unwrap().is_some());
    let stats = guarded.stats().await.unwrap();
    assert!(stats.core.decode_errors.get(DecodeError::AddressNotAllowed) >= 1, "{stats:?}");
    assert!(stats.core.members_refused >= 1);
    for n in [&guarded, &friend, &outsider] {
        n.shutdown().await;
    }
}
