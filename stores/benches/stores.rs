//! Per-operation cost of the stores: embedded get and cas under each fsync
//! policy, and a Redis cas round trip on loopback (when
//! RIPTIDE_TEST_REDIS_URL is set). Run: `cargo bench -p stores`.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use async_io::Async;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_lite::future::block_on;
use stores::embedded::{FsyncPolicy, ShardStore, ShardStoreConfig};
use stores::redis::{RedisStore, RedisStoreConfig, parse_redis_url};
use stores::{CasOutcome, Record};

const KEYS_COUNT: usize = 10_000;
/// About the size of a serialised AoR with one binding.
const VALUE_LEN: usize = 200;

fn keys() -> Vec<Vec<u8>> {
    (0..KEYS_COUNT)
        .map(|i| format!("sip:+1555{i:07}@ims.example.com").into_bytes())
        .collect()
}

fn wall_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

fn embedded(c: &mut Criterion) {
    let keys = keys();
    let value = Bytes::from(vec![b'x'; VALUE_LEN]);
    let expires_at_ms = u64::MAX >> 12;

    let dir = tempfile::tempdir().unwrap();
    let mut store = ShardStore::open(dir.path(), ShardStoreConfig::default(), 0).unwrap();
    for key in &keys {
        store.cas(key, 0, value.clone(), expires_at_ms, 0).unwrap();
    }
    let mut i = 0;
    c.bench_function("embedded/get", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS_COUNT;
            black_box(store.get(&keys[i], 1).map(|r: Record| r.version))
        })
    });
    c.bench_function("embedded/get_ref", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS_COUNT;
            black_box(store.get_ref(&keys[i], 1).map(|r| r.value.len()))
        })
    });
    drop(store);

    for (name, fsync) in [
        ("never", FsyncPolicy::Never),
        ("interval_100ms", FsyncPolicy::IntervalMs(100)),
        ("always", FsyncPolicy::Always),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = ShardStoreConfig {
            fsync,
            ..ShardStoreConfig::default()
        };
        let mut store = ShardStore::open(dir.path(), config, 0).unwrap();
        let mut versions = vec![0u64; KEYS_COUNT];
        let start = Instant::now();
        let mut i = 0;
        let mut group = c.benchmark_group("embedded/cas");
        if fsync == FsyncPolicy::Always {
            group.sample_size(10);
        }
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % KEYS_COUNT;
                // The clock drives group commit; read it as a shard would.
                let now_ms = u64::try_from(start.elapsed().as_millis()).unwrap();
                let outcome = store
                    .cas(&keys[i], versions[i], value.clone(), expires_at_ms, now_ms)
                    .unwrap();
                let CasOutcome::Written { version } = outcome else {
                    panic!("conflict")
                };
                versions[i] = version;
                if i % 1024 == 0 {
                    store.tick(now_ms).unwrap();
                }
            })
        });
        group.finish();
    }
}

fn redis(c: &mut Criterion) {
    let Ok(url) = std::env::var("RIPTIDE_TEST_REDIS_URL") else {
        eprintln!("RIPTIDE_TEST_REDIS_URL unset: skipping the Redis benchmarks");
        return;
    };
    let addr = parse_redis_url(&url).unwrap();
    let socket_addr = addr.host_port().to_socket_addrs().unwrap().next().unwrap();
    let stream = block_on(Async::<TcpStream>::connect(socket_addr)).unwrap();
    let prefix = format!("riptide-bench:{}:", std::process::id());
    let mut store = RedisStore::new(stream, RedisStoreConfig { key_prefix: prefix }).unwrap();
    let keys = keys();
    let value = vec![b'x'; VALUE_LEN];
    let now_ms = wall_ms();
    let expires_at_ms = now_ms + 600_000;
    let mut versions = vec![0u64; KEYS_COUNT];
    let mut i = 0;
    c.bench_function("redis/cas", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS_COUNT;
            let outcome =
                block_on(store.cas(&keys[i], versions[i], &value, expires_at_ms, now_ms)).unwrap();
            let CasOutcome::Written { version } = outcome else {
                panic!("conflict")
            };
            versions[i] = version;
        })
    });
    c.bench_function("redis/get", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS_COUNT;
            black_box(block_on(store.get(&keys[i], now_ms)).unwrap())
        })
    });
    let batch: Vec<&[u8]> = keys[..16].iter().map(Vec::as_slice).collect();
    c.bench_function("redis/get_many_16_pipelined", |b| {
        b.iter(|| black_box(block_on(store.get_many(&batch, now_ms)).unwrap()))
    });
}

criterion_group!(benches, embedded, redis);
criterion_main!(benches);
