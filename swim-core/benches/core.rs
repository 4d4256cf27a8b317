//! swim-core benchmarks: the codec, the hot paths of the state machine, its data structures
//! at 10,000 members, and the compression of a 10,000-member push-pull. Figures and budgets:
//! docs/performance.md.
//!
//!     cargo bench -p swim-core --bench core

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use swim_core::dissemination::PiggybackQueue;
use swim_core::wire::{
    Ack, Alive, Codec, Dead, DecodeLimits, ExtendedAck, MemberState, Message, Nack, Ping, PingReq, PostcardCodec,
    PushPull, PushPullKind, Suspect, UserBroadcast, UserMessage, envelope,
};
use swim_core::{Bytes, Config, Identity, Instant, Member, Name, State, Swim};

type Addr = u32;

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("node-{i:05}")).collect()
}

fn member(name: &str, addr: Addr, now: Instant) -> Member<Addr> {
    Member { name: Name::from(name), addr, meta: Bytes::new(), incarnation: 0, state: State::Alive, state_changed: now }
}

/// A member called node-00000 that knows `n - 1` others (warm start, nothing queued).
fn core(n: usize, now: Instant) -> Swim<Addr> {
    let names = names(n);
    let mut s = Swim::new(Config::lan(), Identity::new(names[0].as_str(), 0), 1, now).unwrap();
    s.restore(now, names.iter().enumerate().skip(1).map(|(i, name)| member(name, i as Addr, now)));
    s
}

fn packet(msgs: &[Message<'_, Addr>]) -> Vec<u8> {
    let mut buf = Vec::new();
    envelope::begin(&mut buf, b"", false);
    for m in msgs {
        PostcardCodec.encode(m, &mut buf);
    }
    buf
}

fn codec(c: &mut Criterion) {
    let meta = [7u8; 32];
    let payload = [1u8; 256];
    let states: Vec<MemberState<'_, Addr>> = (0..10)
        .map(|i| MemberState {
            name: "node-00042",
            addr: i,
            meta: &meta,
            incarnation: i,
            state: State::Alive,
            versions: swim_core::Versions::DEFAULT,
            capabilities: swim_core::Capabilities::NONE,
        })
        .collect();
    let kinds: Vec<(&str, Message<'_, Addr>)> = vec![
        ("ping", Message::Ping(Ping { seq: 123_456, target: "node-00042" })),
        (
            "indirect_ping",
            Message::PingReq(PingReq { seq: 123_456, target: "node-00042", target_addr: 42, nack: true }),
        ),
        ("ack", Message::Ack(Ack { seq: 123_456 })),
        (
            "extended_ack_8d",
            Message::ExtendedAck(ExtendedAck { seq: 123_456, payload: b"", coordinate: Some(coordinate(8, 1)) }),
        ),
        ("nack", Message::Nack(Nack { seq: 123_456 })),
        (
            "alive",
            Message::Alive(Alive {
                incarnation: 7,
                name: "node-00042",
                addr: 42,
                meta: &meta,
                versions: swim_core::Versions::DEFAULT,
                capabilities: swim_core::Capabilities::NONE,
            }),
        ),
        ("suspect", Message::Suspect(Suspect { incarnation: 7, name: "node-00042", from: "node-00001" })),
        ("dead", Message::Dead(Dead { incarnation: 7, name: "node-00042", from: "node-00001" })),
        ("user", Message::User(UserMessage { from: "node-00001", payload: &payload })),
        (
            "broadcast",
            Message::Broadcast(UserBroadcast { origin: "node-00001", id: 99, key: b"deploy", payload: &payload }),
        ),
        (
            "push_pull_10",
            Message::PushPull(PushPull {
                kind: PushPullKind::Periodic,
                id: 1,
                from: "node-00001",
                from_addr: 1,
                members: states,
                state: b"",
            }),
        ),
    ];
    let limits = DecodeLimits::from_config(&Config::lan());
    let mut g = c.benchmark_group("codec");
    let mut buf = Vec::with_capacity(2048);
    for (name, msg) in &kinds {
        g.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| {
                buf.clear();
                PostcardCodec.encode(black_box(msg), &mut buf);
                black_box(buf.len())
            })
        });
        buf.clear();
        PostcardCodec.encode(msg, &mut buf);
        let bytes = buf.clone();
        g.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| {
                let mut n = 0;
                PostcardCodec
                    .decode(black_box(&bytes), &limits, &mut |m: Message<'_, Addr>| {
                        black_box(&m);
                        n += 1
                    })
                    .unwrap();
                n
            })
        });
    }
    // A full datagram: a ping and 40 piggybacked alives, about 1,400 bytes with metadata.
    let full: Vec<Message<'_, Addr>> = std::iter::once(Message::Ping(Ping { seq: 1, target: "node-00042" }))
        .chain((0..40).map(|i| {
            Message::Alive(Alive {
                incarnation: i,
                name: "node-00042",
                addr: i,
                meta: &meta[..20],
                versions: swim_core::Versions::DEFAULT,
                capabilities: swim_core::Capabilities::NONE,
            })
        }))
        .collect();
    let pkt = packet(&full);
    g.bench_function(format!("encode/packet_{}B", pkt.len()), |b| {
        b.iter(|| {
            buf.clear();
            envelope::begin(&mut buf, b"", false);
            for m in &full {
                PostcardCodec.encode(m, &mut buf);
            }
            black_box(buf.len())
        })
    });
    g.bench_function(format!("decode/packet_{}B", pkt.len()), |b| {
        b.iter(|| {
            let (_, body) = envelope::parse(black_box(&pkt)).unwrap();
            let mut n = 0;
            PostcardCodec
                .decode(body, &limits, &mut |m: Message<'_, Addr>| {
                    black_box(&m);
                    n += 1
                })
                .unwrap();
            n
        })
    });
    g.finish();
}

fn state_machine(c: &mut Criterion) {
    let mut g = c.benchmark_group("swim");
    let now = Instant::from_secs(100);

    // Inbound ping through to the ack, in steady state (nothing queued), the caller's buffer
    // reused: handle_datagram + poll_transmit.
    let mut s = core(10, now);
    let ping = packet(&[Message::Ping(Ping { seq: 9, target: "node-00000" })]);
    let mut buf = Vec::with_capacity(2048);
    g.bench_function("ping_to_ack", |b| {
        b.iter(|| {
            s.handle_datagram(now, 3, black_box(&ping)).unwrap();
            let t = s.poll_transmit(&mut buf).unwrap();
            black_box(t.len)
        })
    });

    // A probe tick at 10,000 members: the timer fires, a ping goes out (its ack comes back).
    let mut s = core(10_000, now);
    let mut t = s.poll_timeout();
    g.bench_function("probe_tick_10k", |b| {
        b.iter(|| {
            // Advance to the next probe; answer the ping so the next round starts clean.
            t = s.poll_timeout();
            s.handle_timeout(t);
            while let Some(tx) = s.poll_transmit(&mut buf) {
                if let Ok((_, body)) = envelope::parse(&buf[..tx.len]) {
                    let mut seq = None;
                    let _ = PostcardCodec.decode(
                        body,
                        &DecodeLimits::from_config(&Config::lan()),
                        &mut |m: Message<'_, Addr>| {
                            if let Message::Ping(p) = m {
                                seq = Some(p.seq)
                            }
                        },
                    );
                    if let Some(seq) = seq {
                        let ack = packet(&[Message::Ack(Ack { seq })]);
                        s.handle_datagram(t, tx.destination, &ack).unwrap();
                    }
                }
            }
            while s.poll_event().is_some() {}
        })
    });

    // A gossip tick at 10,000 members with one fresh update queued: pick 3 targets, build and
    // hand out 3 datagrams. The update is queued outside the timed part. Probing and push-pull
    // are pushed out of the way so that unanswered probes do not pile up suspicions over the
    // benchmark's thousands of virtual ticks.
    let mut quiet = Config::lan();
    quiet.probe_interval = Duration::from_secs(1_000_000);
    quiet.push_pull_interval = None;
    quiet.reconnect_interval = None;
    let names10k = names(10_000);
    let mut s = Swim::new(quiet, Identity::new(names10k[0].as_str(), 0), 1, now).unwrap();
    s.restore(now, names10k.iter().enumerate().skip(1).map(|(i, name)| member(name, i as Addr, now)));
    let mut t = now;
    let mut meta = 0u32;
    // Check once that a tick does the work measured: three datagrams carrying the update.
    s.update_metadata(t, &b"check"[..]).unwrap();
    t += Duration::from_millis(200);
    s.handle_timeout(t);
    let mut sent = 0;
    while let Some(tx) = s.poll_transmit(&mut buf) {
        assert!(tx.len > 20);
        sent += 1;
    }
    assert_eq!(sent, 3, "a gossip tick sends to gossip_nodes members");
    g.bench_function("gossip_tick_10k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                meta += 1;
                s.update_metadata(t, Bytes::copy_from_slice(&meta.to_le_bytes())).unwrap();
                t += Duration::from_millis(200);
                let start = std::time::Instant::now();
                s.handle_timeout(t);
                let mut n = 0;
                while let Some(tx) = s.poll_transmit(&mut buf) {
                    n += tx.len;
                }
                total += start.elapsed();
                black_box(n);
                while s.poll_event().is_some() {}
            }
            total
        })
    });

    // Merging a 10,000-member push-pull: into a member that knows none of them (a join), and
    // into one that already knows them all (the periodic case).
    let all = names(10_001);
    let states: Vec<MemberState<'_, Addr>> = all
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, n)| MemberState {
            name: n,
            addr: i as Addr,
            meta: b"",
            incarnation: 0,
            state: State::Alive,
            versions: swim_core::Versions::DEFAULT,
            capabilities: swim_core::Capabilities::NONE,
        })
        .collect();
    let pp = packet(&[Message::PushPull(PushPull {
        kind: PushPullKind::Reply,
        id: 0,
        from: "node-00001",
        from_addr: 1,
        members: states,
        state: b"",
    })]);
    g.sample_size(20);
    g.bench_function("push_pull_merge_10k_new", |b| {
        b.iter_batched(
            || Swim::<Addr>::new(Config::lan(), Identity::new("node-00000", 0), 1, now).unwrap(),
            |mut s| {
                s.handle_stream(now, 1, black_box(&pp)).unwrap();
                s
            },
            BatchSize::LargeInput,
        )
    });
    let mut known = core(10_001, now);
    g.bench_function("push_pull_merge_10k_known", |b| {
        b.iter(|| {
            known.handle_stream(now, 1, black_box(&pp)).unwrap();
            while known.poll_transmit(&mut buf).is_some() {}
        })
    });
    g.finish();
}

fn queue(c: &mut Criterion) {
    let mut g = c.benchmark_group("dissemination");
    let names: Vec<Name> = names(10_000).into_iter().map(Name::from).collect();
    let mut q: PiggybackQueue<Name> = PiggybackQueue::with_depth(32_768, 1);
    for (i, n) in names.iter().enumerate() {
        q.push(n.clone(), Bytes::from(vec![i as u8; 30]));
    }
    let mut i = 0;
    g.bench_function("push_replace_depth_10k", |b| {
        b.iter(|| {
            i = (i + 1) % names.len();
            q.push(names[i].clone(), Bytes::from_static(&[1u8; 30]))
        })
    });
    let mut out = Vec::with_capacity(2048);
    g.bench_function("fill_1400B_depth_10k", |b| {
        b.iter_batched_ref(
            || {
                let mut q: PiggybackQueue<Name> = PiggybackQueue::with_depth(32_768, 1);
                for (i, n) in names.iter().enumerate() {
                    q.push(n.clone(), Bytes::from(vec![i as u8; 30]));
                }
                q
            },
            |q| {
                out.clear();
                q.fill(1400, 16, &mut out)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// The messages of a 10,000-member push-pull state as swim-tokio sends it: socket addresses,
/// host-like names, a little metadata, the default versions, compression wanted.
fn push_pull_10k_socket_addrs() -> Vec<u8> {
    use std::net::SocketAddr;
    let names: Vec<String> = (0..10_000).map(|i| format!("web-{i:05}.dc1.example.internal")).collect();
    let addrs: Vec<SocketAddr> =
        (0..10_000u32).map(|i| SocketAddr::from(([10, 1 + (i >> 16) as u8, (i >> 8) as u8, i as u8], 7946))).collect();
    let meta = b"role=web,zone=b";
    let members = (0..10_000)
        .map(|i| MemberState {
            name: names[i].as_str(),
            addr: addrs[i],
            meta,
            incarnation: (i % 7) as u32,
            state: if i % 50 == 0 { State::Dead } else { State::Alive },
            versions: swim_core::Versions::DEFAULT,
            capabilities: swim_core::Capabilities::NONE.with_compression(true),
        })
        .collect();
    let pp = Message::PushPull(PushPull {
        kind: PushPullKind::Periodic,
        id: 1,
        from: names[0].as_str(),
        from_addr: addrs[0],
        members,
        state: &[],
    });
    let mut out = Vec::new();
    PostcardCodec.encode(&pp, &mut out);
    out
}

/// Compression of a 10,000-member push-pull state: LZ4 (what swim uses, `lz4_flex`) against
/// DEFLATE (`miniz_oxide`, levels 1 and 6), sizes printed, times measured.
fn compression(c: &mut Criterion) {
    use swim_core::wire::compression::{compress, decompress};
    let mut g = c.benchmark_group("compression");
    g.sample_size(20);
    let plain = push_pull_10k_socket_addrs();
    let mut lz4 = Vec::new();
    compress(&plain, &mut lz4);
    let deflate1 = miniz_oxide::deflate::compress_to_vec(&plain, 1);
    let deflate6 = miniz_oxide::deflate::compress_to_vec(&plain, 6);
    println!(
        "10,000-member push-pull: {} bytes plain; LZ4 {} ({:.1} %); DEFLATE level 1 {} ({:.1} %), level 6 {} ({:.1} %)",
        plain.len(),
        lz4.len(),
        lz4.len() as f64 * 100.0 / plain.len() as f64,
        deflate1.len(),
        deflate1.len() as f64 * 100.0 / plain.len() as f64,
        deflate6.len(),
        deflate6.len() as f64 * 100.0 / plain.len() as f64,
    );
    let mut out = Vec::with_capacity(plain.len() * 2);
    g.bench_function("lz4_compress_push_pull_10k", |b| {
        b.iter(|| {
            out.clear();
            compress(black_box(&plain), &mut out)
        })
    });
    g.bench_function("lz4_decompress_push_pull_10k", |b| {
        b.iter(|| decompress(black_box(&lz4), 20 << 20, &mut out).unwrap())
    });
    g.bench_function("deflate1_compress_push_pull_10k", |b| {
        b.iter(|| miniz_oxide::deflate::compress_to_vec(black_box(&plain), 1))
    });
    g.bench_function("deflate6_compress_push_pull_10k", |b| {
        b.iter(|| miniz_oxide::deflate::compress_to_vec(black_box(&plain), 6))
    });
    g.bench_function("deflate_decompress_push_pull_10k", |b| {
        b.iter(|| miniz_oxide::inflate::decompress_to_vec_with_limit(black_box(&deflate1), 20 << 20).unwrap())
    });
    g.finish();
}

/// A plausible coordinate of `dims` dimensions (tens of milliseconds), varied by `k`.
fn coordinate(dims: usize, k: u64) -> swim_core::Coordinate {
    let vec: Vec<f64> = (0..dims).map(|d| 0.001 * ((k * 7 + d as u64 * 13) % 40) as f64 - 0.02).collect();
    swim_core::Coordinate::from_parts(&vec, 0.3, -0.0002, 0.0004).unwrap()
}

/// Network coordinates (`Config::coordinates`): one Vivaldi update (what every direct probe
/// costs with coordinates on) and one estimate, at Serf's 8 dimensions.
fn coordinates(c: &mut Criterion) {
    use swim_core::coordinates::{CoordinateConfig, LatencyFilter, Vivaldi};
    let mut g = c.benchmark_group("coordinates");
    let peers: Vec<_> = (0..64).map(|k| coordinate(8, k)).collect();
    let mut vivaldi = Vivaldi::new(CoordinateConfig::default());
    let mut filters = vec![LatencyFilter::default(); peers.len()];
    let mut rng = swim_core::rng::SwimRng::from_seed_u64(1);
    let mut k = 0;
    g.bench_function("vivaldi_update_8d", |b| {
        b.iter(|| {
            k = (k + 1) % peers.len();
            let rtt = Duration::from_micros(500 + 300 * k as u64);
            black_box(vivaldi.update(&mut filters[k], &peers[k], rtt, &mut rng).is_ok())
        })
    });
    let (a, z) = (coordinate(8, 3), coordinate(8, 11));
    g.bench_function("estimate_rtt_8d", |b| b.iter(|| black_box(&a).estimate_rtt(black_box(&z))));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = codec, state_machine, queue, compression, coordinates
}
criterion_main!(benches);
