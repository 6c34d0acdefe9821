//! The runtime's per-message costs: a cross-shard hop over the mesh, the
//! throttle's decision, and timer-wheel insert/cancel.
//!
//! `cargo bench -p shards --bench shards`

use bytes::Bytes;
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use shards::mesh::{Mesh, MeshMsg};
use shards::{Exemptions, Inbound, Origin, Throttle, ThrottleConfig, TimerWheel, Transport};
use sip_fastpath::{Limits, Message};
use std::sync::Arc;
use std::time::Duration;

/// Stream `iters` messages (a `Bytes` and an origin, as the engine hands a
/// request over) from shard 0 to shard 1 through the runtime's mesh, both
/// sides busy as under load (the consumer never sleeps, so no wake-up
/// system call), and report the CPU both threads spent (thread CPU clocks,
/// not wall time: the machine is shared). Per message: one hop, sender plus
/// receiver.
fn mesh_hop(iters: u64) -> Duration {
    let parts = Mesh::<u64>::build(2, 4096).expect("mesh");
    let mesh = Arc::new(parts.mesh);
    let origin = Origin {
        transport: Transport::Udp,
        local: "127.0.0.1:5060".parse().expect("addr"),
        peer: "127.0.0.1:5061".parse().expect("addr"),
        conn: None,
    };
    let payload = Bytes::from_static(b"OPTIONS sip:x SIP/2.0\r\n\r\n");
    let consumer = {
        let mesh = Arc::clone(&mesh);
        std::thread::spawn(move || {
            let start = cpu_time::ThreadTime::now();
            let mut seen = 0;
            while seen < iters {
                match mesh.pop(0, 1) {
                    Some(m) => {
                        black_box(&m);
                        seen += 1;
                    }
                    None => std::hint::spin_loop(),
                }
            }
            start.elapsed()
        })
    };
    let start = cpu_time::ThreadTime::now();
    for i in 0..iters {
        let mut msg = MeshMsg::Handed(Inbound {
            data: payload.clone(),
            origin,
            received_us: i,
            handed_from: None,
        });
        loop {
            match mesh.send(0, 1, msg) {
                Ok(()) => break,
                Err(m) => {
                    msg = m;
                    std::hint::spin_loop();
                }
            }
        }
    }
    let producer = start.elapsed();
    producer + consumer.join().expect("consumer")
}

fn hop(c: &mut Criterion) {
    c.bench_function("mesh_hop_handed_request", |b| b.iter_custom(mesh_hop));
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
