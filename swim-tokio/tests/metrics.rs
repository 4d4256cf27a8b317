//! Counters and gauges reach an installed `metrics` recorder under the documented names,
//! labelled with the member's name.

mod common;

use std::time::Duration;

use common::*;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use swim_tokio::metrics::names;
use swim_tokio::{Config, Node};

type Series = Vec<(metrics_util::CompositeKey, Option<metrics::Unit>, Option<metrics::SharedString>, DebugValue)>;

/// One snapshot (taking it resets the recorder's values, so take one per check).
fn snapshot(snapshotter: &Snapshotter) -> Series {
    snapshotter.snapshot().into_vec()
}

fn value(snapshot: &Series, name: &str, member: &str) -> Option<f64> {
    snapshot.iter().find_map(|(key, _, _, value)| {
        let key = key.key();
        let ours = key.labels().any(|l| l.key() == "member" && l.value() == member);
        (key.name() == name && key.labels().count() == 1 && ours).then_some(match value {
            DebugValue::Counter(c) => *c as f64,
            DebugValue::Gauge(g) => g.into_inner(),
            DebugValue::Histogram(_) => f64::NAN,
        })
    })
}

#[tokio::test]
async fn metrics_are_published_under_documented_names() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("the only recorder in this test binary");

    let start = |name: &str| {
        let mut c = Config::local(name).with_bind_addr("127.0.0.1:0".parse().unwrap());
        c.transport.metrics_interval = Duration::from_millis(100);
        Node::start(c)
    };
    let a = start("a").await.unwrap();
    let b = start("b").await.unwrap();
    let _events = a.events();
    b.join([a.local_addr()]).await.unwrap();

    eventually("a's metrics to show the cluster and its probes", Duration::from_secs(10), || async {
        let s = snapshot(&snapshotter);
        let members = value(&s, names::MEMBERS, "a");
        let probes = value(&s, names::PROBES, "a");
        let sent = value(&s, names::PACKETS_SENT, "a");
        let accepted = value(&s, names::STREAMS_ACCEPTED, "a");
        match (members, probes, sent, accepted) {
            (Some(m), Some(p), Some(s), Some(t)) if m == 2.0 && p > 0.0 && s > 0.0 && t >= 1.0 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    let snapshot = snapshot(&snapshotter);
    for name in names::ALL {
        let found = snapshot.iter().any(|(key, _, _, _)| {
            key.key().name() == *name && key.key().labels().any(|l| l.key() == "member" && l.value() == "a")
        });
        assert!(found, "{name} is not published for member a");
    }
    let described = snapshot.iter().filter(|(_, _, help, _)| help.is_some()).count();
    assert!(described > 0, "series carry their descriptions");
    a.shutdown().await;
    b.shutdown().await;
}
