//! The `kv` example as processes (`swim-kv`, feature `kv`): five replicas on loopback take
//! writes at different members and all read the same map; one is killed with SIGKILL and
//! restarted empty under its name and address (a new incarnation) and ends with the same
//! map; one leaves on SIGTERM. In network namespaces, a partition with writes on both sides
//! heals and every replica ends with the same map. Every wait has a bound derived from the
//! configuration, and the measured times are printed.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::lab::{Lab, host_ip, unavailable};
use common::*;

const N: usize = 5;

/// The replicas' configuration: memberlist's local preset with a one-second push-pull and
/// reconnect, as the processes are started (`--preset local --push-pull-interval 1
/// --reconnect-interval 1`).
fn swim_config() -> swim_core::Config {
    swim_core::Config {
        push_pull_interval: Some(Duration::from_secs(1)),
        reconnect_interval: Some(Duration::from_secs(1)),
        ..swim_core::Config::local()
    }
}

fn kv_args(cmd: &mut Command, name: &str, bind: &str, http: &str, join: Option<SocketAddr>) {
    cmd.args(["--name", name, "--bind", bind, "--http", http, "--preset", "local"]);
    cmd.args(["--push-pull-interval", "1", "--reconnect-interval", "1"]);
    if let Some(seed) = join {
        cmd.args(["--join", &seed.to_string()]);
    }
}

/// A running replica: its process and where its interfaces listen.
struct Replica {
    agent: Agent,
    swim: SocketAddr,
    http: String,
}

impl Replica {
    /// Wait for `agent`'s `ready <name> <swim address> <http address>` line.
    fn ready(agent: Agent) -> Replica {
        let mut words = None;
        wait_until(&format!("{} to be ready", agent.name), SLACK, || {
            words = agent.ready_words().filter(|w| w.len() == 4);
            words.as_ref().map(drop).ok_or_else(|| agent.output())
        });
        let words = words.expect("ready");
        Replica { swim: words[2].parse().expect("a socket address"), http: words[3].clone(), agent }
    }

    fn request(&self, method: &str, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
        http(&self.http, method, path, body)
    }

    /// `GET /kv`, the whole live map as text.
    fn map(&self) -> Result<String, String> {
        match self.request("GET", "/kv", b"")? {
            (200, body) => String::from_utf8(body).map_err(|e| e.to_string()),
            (status, body) => Err(format!("GET /kv: {status} {}", String::from_utf8_lossy(&body))),
        }
    }

    /// Live members, by `GET /members`.
    fn members(&self) -> Result<usize, String> {
        match self.request("GET", "/members", b"")? {
            (200, body) => Ok(String::from_utf8_lossy(&body).lines().count()),
            (status, _) => Err(format!("GET /members: {status}")),
        }
    }
}

/// One HTTP/1.1 request over TCP (`host:port`) or a Unix socket (`unix:PATH`), read to the
/// end of the connection: the status and the body.
fn http(target: &str, method: &str, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let timeout = Some(Duration::from_secs(5));
    let mut stream: Box<dyn ReadWrite> = match target.strip_prefix("unix:") {
        Some(p) => {
            let s = std::os::unix::net::UnixStream::connect(p).map_err(|e| format!("{target}: {e}"))?;
            s.set_read_timeout(timeout).and_then(|()| s.set_write_timeout(timeout)).map_err(|e| e.to_string())?;
            Box::new(s)
        }
        None => {
            let addr: SocketAddr = target.parse().map_err(|e| format!("{target}: {e}"))?;
            let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| format!("{target}: {e}"))?;
            s.set_read_timeout(timeout).and_then(|()| s.set_write_timeout(timeout)).map_err(|e| e.to_string())?;
            Box::new(s)
        }
    };
    let head =
        format!("{method} {path} HTTP/1.1\r\nHost: kv\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body)).map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| format!("{method} {path}: {e}"))?;
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of headers")?;
    let headers = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    if headers.contains("transfer-encoding: chunked") {
        return Err("a chunked answer (this client reads only sized ones)".into());
    }
    let status = headers.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("no status")?;
    Ok((status, answer[split + 4..].to_vec()))
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// What the replicas must end with: for each key, the acknowledged write with the greatest
/// version (time, then writer; a delete wins a tie, as the store's rule says).
#[derive(Clone, Default)]
struct Model(BTreeMap<String, Acked>);

/// An acknowledged write: its version, whether it was a delete, the value.
type Acked = ((u64, String), bool, Option<String>);

impl Model {
    /// Write `value` (`None`: delete) under `key` at `replica`, and record the version it
    /// answered with; returns the write, for other models.
    fn write(&mut self, replica: &Replica, key: &str, value: Option<&str>) -> Acked {
        let path = format!("/kv/{key}");
        let (method, body) = match value {
            Some(v) => ("PUT", v.as_bytes()),
            None => ("DELETE", &b""[..]),
        };
        let (status, answer) = replica.request(method, &path, body).expect("the write is answered");
        let answer = String::from_utf8(answer).expect("a version");
        assert_eq!(status, 200, "{method} {path} at {}: {answer}", replica.agent.name);
        let (time, writer) = answer.trim().split_once('@').expect("time@writer");
        assert_eq!(writer, replica.agent.name, "the writer is the member written at");
        let write = ((time.parse().expect("a time"), writer.to_string()), value.is_none(), value.map(str::to_string));
        self.record(key, write.clone());
        write
    }

    /// Record an acknowledged write, if it wins over what the model holds for `key`.
    fn record(&mut self, key: &str, write: Acked) {
        let wins = match self.0.get(key) {
            Some((v, t, _)) => (&write.0, write.1) > (v, *t),
            None => true,
        };
        if wins {
            self.0.insert(key.to_string(), write);
        }
    }

    /// `GET /kv` as it must read (keys and values here need no percent-encoding).
    fn listing(&self) -> String {
        let mut out = String::new();
        for (key, ((time, writer), _, value)) in &self.0 {
            if let Some(v) = value {
                out.push_str(&format!("{key} {time}@{writer} {v}\n"));
            }
        }
        out
    }

    fn live(&self) -> usize {
        self.0.values().filter(|(_, _, v)| v.is_some()).count()
    }
}

/// Wait until every replica in `replicas` reads exactly `model`'s map.
fn converge(what: &str, replicas: &[&Replica], model: &Model, within: Duration) -> Duration {
    let want = model.listing();
    wait_until(what, within, || {
        for r in replicas {
            let got = r.map()?;
            if got != want {
                return Err(format!("{} reads\n{got}\nnot\n{want}", r.agent.name));
            }
        }
        Ok(())
    })
}

/// Wait until every replica lists `n` live members.
fn members(replicas: &[&Replica], n: usize, within: Duration) -> Duration {
    wait_until(&format!("every replica to list {n} members"), within, || {
        for r in replicas {
            let m = r.members()?;
            if m != n {
                return Err(format!("{} lists {m}:\n{}", r.agent.name, r.agent.output()));
            }
        }
        Ok(())
    })
}

fn unix_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

fn spawn_loopback(name: &str, bind: &str, http: &str, join: Option<SocketAddr>) -> Replica {
    let mut cmd = Command::new(kv_binary());
    kv_args(&mut cmd, name, bind, http, join);
    Replica::ready(Agent::spawn(name, cmd))
}

#[test]
fn five_replicas_converge_through_writes_a_kill_a_restart_and_a_leave() {
    let swim = swim_config();
    let first = spawn_loopback("p0", "127.0.0.1:0", "127.0.0.1:0", None);
    let seed = first.swim;
    let mut replicas = vec![first];
    for i in 1..N {
        replicas.push(spawn_loopback(&format!("p{i}"), "127.0.0.1:0", "127.0.0.1:0", Some(seed)));
    }
    members(&replicas.iter().collect::<Vec<_>>(), N, convergence_bound(&swim, N));

    // Writes at every member: a key of its own, the same key everywhere (the last writer
    // wins), and a delete of a key another member wrote.
    let mut model = Model::default();
    for (i, r) in replicas.iter().enumerate() {
        model.write(r, &format!("k{i}"), Some(&format!("v{i}")));
        model.write(r, "shared", Some(&format!("from-p{i}")));
    }
    model.write(&replicas[3], "k0", None);
    // Gossip carries each write within the retransmit limit; a push-pull repairs a miss.
    let bound = dissemination_bound(&swim, N) + SLACK;
    let took = converge(
        "every replica to read the same map after writes",
        &replicas.iter().collect::<Vec<_>>(),
        &model,
        bound,
    );
    println!("kv figure: writes at 5 members converged in {took:?} (bound {bound:?})");
    assert_eq!(model.live(), N, "k1..k4 and shared; k0 deleted");
    let (status, value) = replicas[4].request("GET", "/kv/k1", b"").unwrap();
    assert_eq!((status, value.as_slice()), (200, &b"v1"[..]));
    assert_eq!(replicas[4].request("GET", "/kv/k0", b"").unwrap().0, 404, "deleted");

    // SIGKILL p4; write while it is down; restart it empty at the same addresses. Its new
    // incarnation (Unix seconds at start) must differ from the last one.
    let mut victim = replicas.pop().expect("five");
    let started = unix_secs();
    victim.agent.kill();
    for (i, r) in replicas.iter().enumerate() {
        model.write(r, &format!("while-down-{i}"), Some("x"));
    }
    model.write(&replicas[1], "shared", Some("after-the-kill"));
    model.write(&replicas[2], "k1", None);
    wait_until("a new second, so that the restart has a new incarnation", SLACK, || {
        if unix_secs() > started { Ok(()) } else { Err("same second".into()) }
    });
    let restarted = spawn_loopback("p4", &victim.swim.to_string(), &victim.http, Some(seed));
    assert_eq!(restarted.swim, victim.swim);
    replicas.push(restarted);
    // The join's push-pull carries the whole map; the writes made meanwhile are in it.
    let bound = convergence_bound(&swim, N);
    let took =
        converge("the restarted replica to read the same map", &replicas.iter().collect::<Vec<_>>(), &model, bound);
    println!("kv figure: a replica restarted empty converged in {took:?} (bound {bound:?})");

    // Prometheus text: the store's series and swim-tokio's, labelled with the member.
    wait_until("the metrics of p4 to show the store and the membership", SLACK, || {
        let (status, body) = replicas[4].request("GET", "/metrics", b"")?;
        let text = String::from_utf8_lossy(&body);
        let want =
            ["swim_kv_applied_total{member=\"p4\"}", "swim_kv_keys{member=\"p4\"} 8", "swim_members{member=\"p4\"} 5"];
        match want.iter().find(|w| !text.contains(*w)) {
            None if status == 200 => Ok(()),
            missing => Err(format!("{status}, no {missing:?} in:\n{text}")),
        }
    });

    // SIGTERM p3: it leaves and exits 0; the others list four members and keep the map.
    let mut leaver = replicas.remove(3);
    assert!(leaver.agent.terminate(SLACK), "exits on SIGTERM:\n{}", leaver.agent.output());
    assert!(leaver.agent.said("left"), "the leave spread first:\n{}", leaver.agent.output());
    let rest: Vec<&Replica> = replicas.iter().collect();
    members(&rest, N - 1, dissemination_bound(&swim, N) + SLACK);
    model.write(&replicas[0], "after-leave", Some("y"));
    converge("the four to read the same map", &rest, &model, dissemination_bound(&swim, N) + SLACK);
    for r in &replicas {
        assert!(!r.agent.saw("failed", "p3"), "{} took the leave for a failure", r.agent.name);
    }
}

#[test]
fn the_http_interface_refuses_bad_requests_and_the_command_line_bad_flags() {
    let r = spawn_loopback("solo", "127.0.0.1:0", "127.0.0.1:0", None);
    let status = |method, path: &str, body: &[u8]| r.request(method, path, body).unwrap().0;
    assert_eq!(status("PUT", "/kv/a%zz", b"v"), 400, "bad percent-encoding");
    assert_eq!(status("PUT", &format!("/kv/{}", "k".repeat(129)), b"v"), 400, "key too long");
    assert_eq!(status("PUT", "/kv/big", &vec![b'v'; 495]), 413, "value above the limit");
    assert_eq!(status("PUT", "/kv/huge", &vec![b'v'; 100_000]), 413, "body above the HTTP limit");
    assert_eq!(status("GET", "/kv/missing", b""), 404);
    assert_eq!(status("PUT", "/kv/a%20b%00", &vec![b'v'; 494]), 200, "binary keys, the longest value");
    let (_, listing) = r.request("GET", "/kv", b"").unwrap();
    let listing = String::from_utf8(listing).unwrap();
    assert!(listing.starts_with("a%20b%00 ") && listing.ends_with(&format!(" {}\n", "v".repeat(494))), "{listing}");
    let (status, value) = r.request("GET", "/kv/a%20b%00", b"").unwrap();
    assert_eq!((status, value.len()), (200, 494));
    drop(r);

    let cases: [(&[&str], &str); 5] = [
        (&["--http", "nowhere"], "neither host:port nor unix:PATH"),
        (&["--http", "unix:"], "`unix:` needs a path"),
        (&["--http", "127.0.0.1:0", "--push-pull-interval", "0"], "positive number of seconds"),
        (&["--http", "127.0.0.1:0", "--bind", "nonsense"], "invalid socket address"),
        (&["--http", "127.0.0.1:0", "--tombstone-ttl", "5"], "tombstone lifetime"),
    ];
    for (args, says) in cases {
        let out = Command::new(kv_binary()).args(["--name", "x"]).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says) && !stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // An HTTP address in use: exit code 1, before the member starts.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http = taken.local_addr().unwrap().to_string();
    let out =
        Command::new(kv_binary()).args(["--name", "x", "--bind", "127.0.0.1:0", "--http", &http]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with(&format!("kv: cannot listen for HTTP on {http}")), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).is_empty(), "no member started");
}

/// Five replicas in network namespaces; a partition {0, 1, 2} | {3, 4} with writes on both
/// sides (one key written on each, a delete on one side of a key the other still holds)
/// heals, and every replica ends with the same map: the reconnect finds the other side, its
/// push-pull merges the two maps, and each end re-broadcasts what it learned.
#[test]
fn a_healed_partition_leaves_every_replica_with_the_same_map() {
    if let Some(reason) = unavailable() {
        println!("SKIPPED kv partition test: {reason} (it needs root, iproute2 and nftables)");
        return;
    }
    let lab = Lab::build(N).unwrap_or_else(|e| panic!("setting up the namespaces: {e}"));
    // HTTP on Unix sockets: the test runs outside the namespaces.
    let dir = std::env::temp_dir().join(format!("swim-kv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a socket directory");
    let swim = swim_config();
    let seed = SocketAddr::from((host_ip(0), 7946));
    let replicas: Vec<Replica> = (0..N)
        .map(|i| {
            let name = format!("host{i}");
            let bind = SocketAddr::from((host_ip(i), 7946)).to_string();
            let http = format!("unix:{}", dir.join(format!("{name}.sock")).display());
            let mut cmd = lab.command(i, &kv_binary());
            kv_args(&mut cmd, &name, &bind, &http, (i > 0).then_some(seed));
            Replica::ready(Agent::spawn(&name, cmd))
        })
        .collect();
    let all: Vec<&Replica> = replicas.iter().collect();
    members(&all, N, convergence_bound(&swim, N));
    let mut model = Model::default();
    model.write(&replicas[0], "before", Some("b"));
    model.write(&replicas[4], "doomed", Some("d"));
    converge("the map before the partition", &all, &model, dissemination_bound(&swim, N) + SLACK);

    let (big, small) = ([0, 1, 2], [3, 4]);
    lab.drop_traffic(&big, &small);
    lab.drop_traffic(&small, &big);
    let big_side: Vec<&Replica> = big.iter().map(|&i| &replicas[i]).collect();
    let small_side: Vec<&Replica> = small.iter().map(|&i| &replicas[i]).collect();
    members(&big_side, big.len(), crash_detection_bound(&swim, N));
    members(&small_side, small.len(), crash_detection_bound(&swim, N));
    // Each side's own view, besides the whole.
    let (mut big_model, mut small_model) = (model.clone(), model.clone());
    for (side, i, key, value) in [
        (0, 1, "big-side", Some("1")),
        (1, 3, "small-side", Some("3")),
        (0, 2, "both", Some("from-big")),
        (1, 4, "both", Some("from-small")), // later: wins
        (0, 0, "doomed", None),             // the small side still holds it
    ] {
        let write = model.write(&replicas[i], key, value);
        [&mut big_model, &mut small_model][side].record(key, write);
    }
    let within = dissemination_bound(&swim, N) + SLACK;
    converge("the big side to agree within itself", &big_side, &big_model, within);
    converge("the small side to agree within itself", &small_side, &small_model, within);

    lab.heal();
    // The reconnect tick finds the other side, its push-pull (at most the stream timeout)
    // merges the maps, and gossip (or the next push-pull) spreads them.
    let bound =
        swim.reconnect_interval.unwrap_or_default() + swim.stream_timeout + dissemination_bound(&swim, N) + SLACK;
    let took = converge("every replica to read the same map after the partition healed", &all, &model, bound);
    println!("kv figure: a healed partition converged in {took:?} (bound {bound:?})");
    members(&all, N, SLACK);
    drop(replicas);
    let _ = std::fs::remove_dir_all(&dir);
}
