//! The runtime's per-message costs: a cross-shard hop over the mesh, the
//! throttle's decision, and timer-wheel insert/cancel.
//!
//! `cargo bench -p shards --bench shards`

use bytes::Bytes;
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use glommio::channels::channel_mesh::MeshBuilder;
use glommio::{LocalExecutorPoolBuilder, PoolPlacement};
use shards::{Exemptions, Throttle, ThrottleConfig, TimerWheel};
use sip_fastpath::{Limits, Message};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Stream `iters` messages (a `Bytes` and an origin-sized payload, as the
/// engine sends) from shard 0 to shard 1 and report the CPU time both
/// threads spent (thread CPU clocks, not wall time: the machine is shared),
/// so the figure per message is the CPU cost of one hop, sender plus receiver.
fn mesh_hop(iters: u64) -> Duration {
    let mesh = MeshBuilder::<(Bytes, [u64; 4]), _>::full(2, 1024);
    let elapsed = Arc::new(Mutex::new(Duration::ZERO));
    let out = Arc::clone(&elapsed);
    let pool = LocalExecutorPoolBuilder::new(PoolPlacement::MaxSpread(2, None))
        .spin_before_park(Duration::from_micros(50))
        .on_all_shards(move || {
            let mesh = mesh.clone();
            let out = Arc::clone(&out);
            async move {
                let (tx, mut rx) = mesh.join().await.expect("mesh");
                let payload = Bytes::from_static(b"OPTIONS sip:x SIP/2.0\r\n\r\n");
                let cpu_start = cpu_time::ThreadTime::now();
                if tx.peer_id() == 0 {
                    for i in 0..iters {
                        let mut msg = (payload.clone(), [i; 4]);
                        loop {
                            match tx.try_send_to(1, msg) {
                                Ok(()) => break,
                                Err(e) => {
                                    msg = match e {
                                        glommio::GlommioError::WouldBlock(
                                            glommio::ResourceType::Channel(m),
                                        ) => m,
                                        other => panic!("mesh: {other}"),
                                    };
                                    glommio::yield_if_needed().await;
                                    futures_lite::future::yield_now().await;
                                }
                            }
                        }
                    }
                    // Wait for the consumer's "done".
                    for (_, r) in rx.streams() {
                        let _ = r.recv().await;
                    }
                } else {
                    let streams = rx.streams();
                    let (_, r) = &streams[0];
                    let mut seen = 0u64;
                    while seen < iters {
                        if let Some(m) = r.recv().await {
                            black_box(&m);
                            seen += 1;
                        }
                    }
                    let _ = tx.send_to(0, (payload, [0; 4])).await;
                }
                *out.lock().expect("lock") += cpu_start.elapsed();
            }
        })
        .expect("executors");
    pool.join_all();
    *elapsed.lock().expect("lock")
}

fn hop(c: &mut Criterion) {
    c.bench_function("mesh_hop_pipelined", |b| b.iter_custom(mesh_hop));
}

fn throttle(c: &mut Criterion) {
    let invite = Message::parse(
        Bytes::from_static(b"INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa\r\nMax-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"),
        &Limits::default(),
    )
    .expect("parses");
    let ex = Exemptions::default();
    let mut t = Throttle::new(
        ThrottleConfig {
            init_token_rate: 1e12,
            max_tokens: 1e12,
            ..ThrottleConfig::default()
        },
        0,
    );
    let mut now = 0u64;
    c.bench_function("throttle_decision_invite", |b| {
        b.iter(|| {
            now += 1;
            black_box(!ex.exempt(black_box(&invite)) && t.admit(now))
        })
    });
}

fn wheel(c: &mut Criterion) {
    let mut w = TimerWheel::new(0);
    // A populated wheel: a million registration expiries spread over an hour.
    for i in 0..1_000_000u64 {
        w.insert(i * 3_600_000 / 1_000_000 + 1, i);
    }
    let mut n = 0u64;
    c.bench_function("wheel_insert_cancel_1m_loaded", |b| {
        b.iter(|| {
            n += 1;
            let id = w.insert(black_box(32_000 + n % 1000), n);
            black_box(w.cancel(id))
        })
    });
}

criterion_group!(benches, hop, throttle, wheel);
criterion_main!(benches);
