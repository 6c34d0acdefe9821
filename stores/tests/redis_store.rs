//! The Redis store against a real Redis on loopback (RIPTIDE_TEST_REDIS_URL,
//! started by `scripts/services.sh`), and against scripted byte streams for
//! the replies a healthy standalone Redis never sends.
//!
//! Each test uses its own random key prefix, so runs and tests never collide.

#![allow(clippy::unwrap_used)]

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{TcpStream, ToSocketAddrs};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use async_io::Async;
use futures_lite::future::block_on;
use futures_lite::io::{AsyncRead, AsyncWrite};
use stores::redis::{
    Claim, Connection, EXPIRY_BUCKETS, ExpiredRecord, RedisStore, RedisStoreConfig, Value,
    expiry_bucket, parse_redis_url,
};
use stores::{CasOutcome, DeleteOutcome, Record, StoreError};

type Store = RedisStore<Async<TcpStream>>;

/// A store on the test Redis, or `None` (test skipped) when the variable is
/// unset. A set variable with no Redis behind it fails the test.
fn connect() -> Option<Store> {
    let prefix = format!(
        "riptide-test:{:016x}:",
        RandomState::new().hash_one(std::process::id())
    );
    connect_with_prefix(prefix)
}

/// As [`connect`], under a given key prefix (a second connection to the
/// same keys).
fn connect_with_prefix(prefix: String) -> Option<Store> {
    let Ok(url) = std::env::var("RIPTIDE_TEST_REDIS_URL") else {
        eprintln!("RIPTIDE_TEST_REDIS_URL unset: skipping (run `source scripts/services.sh`)");
        return None;
    };
    let addr = parse_redis_url(&url).unwrap();
    let socket_addr = addr.host_port().to_socket_addrs().unwrap().next().unwrap();
    let stream = block_on(Async::<TcpStream>::connect(socket_addr)).unwrap();
    let mut store = RedisStore::new(stream, RedisStoreConfig { key_prefix: prefix }).unwrap();
    if addr.db != 0 {
        let db = addr.db.to_string();
        let reply = block_on(store.connection_mut().command(&[b"SELECT", db.as_bytes()])).unwrap();
        assert_eq!(reply, Value::Simple("OK".into()));
    }
    Some(store)
}

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

fn command(store: &mut Store, args: &[&[u8]]) -> Value {
    block_on(store.connection_mut().command(args)).unwrap()
}

#[test]
fn cas_creates_updates_and_reports_conflicts() {
    let Some(mut store) = connect() else { return };
    let now = now_ms();
    let expires = now + 60_000;
    block_on(async {
        assert_eq!(
            store.get(b"sip:alice@example.com", now).await.unwrap(),
            None
        );
        assert_eq!(
            store
                .cas(b"sip:alice@example.com", 0, b"a1", expires, now)
                .await
                .unwrap(),
            CasOutcome::Written { version: 1 }
        );
        assert_eq!(
            store
                .cas(b"sip:alice@example.com", 1, b"a2", expires, now)
                .await
                .unwrap(),
            CasOutcome::Written { version: 2 }
        );
        assert_eq!(
            store.get(b"sip:alice@example.com", now).await.unwrap(),
            Some(Record {
                value: "a2".into(),
                version: 2,
                expires_at_ms: expires
            })
        );
        for stale in [0, 1, 3] {
            assert_eq!(
                store
                    .cas(b"sip:alice@example.com", stale, b"x", expires, now)
                    .await
                    .unwrap(),
                CasOutcome::Conflict { current_version: 2 }
            );
        }
        assert_eq!(
            store
                .cas(b"sip:nobody@example.com", 5, b"x", expires, now)
                .await
                .unwrap(),
            CasOutcome::Conflict { current_version: 0 }
        );
        assert_eq!(
            store.get(b"sip:nobody@example.com", now).await.unwrap(),
            None
        );
        assert_eq!(
            store
                .get(b"sip:alice@example.com", now)
                .await
                .unwrap()
                .map(|r| r.value),
            Some("a2".into()),
            "a conflict writes nothing"
        );
    });
}

#[test]
fn records_are_hashes_under_hash_tagged_keys() {
    let Some(mut store) = connect() else { return };
    let now = now_ms();
    let expires = now + 60_000;
    block_on(store.cas(b"impi@example.com", 0, b"nonce", expires, now)).unwrap();
    let key = store.redis_key(b"impi@example.com");
    assert!(key.ends_with(b"{impi@example.com}"));
    let fields = command(&mut store, &[b"HGETALL", &key]);
    let Value::Array(mut fields) = fields else {
        panic!("array expected")
    };
    let mut pairs: Vec<(Value, Value)> = Vec::new();
    while let (Some(v), Some(k)) = (fields.pop(), fields.pop()) {
        pairs.push((k, v));
    }
    pairs.sort_by_key(|(k, _)| format!("{k:?}"));
    let bulk = |s: String| Value::Bulk(s.into());
    assert_eq!(
        pairs,
        vec![
            (bulk("expires".into()), bulk(expires.to_string())),
            (bulk("value".into()), bulk("nonce".into())),
            (bulk("version".into()), bulk("1".into())),
        ]
    );
}

#[test]
fn delete_checks_the_version() {
    let Some(mut store) = connect() else { return };
    let now = now_ms();
    block_on(async {
        store.cas(b"aor", 0, b"v", now + 60_000, now).await.unwrap();
        assert_eq!(
            store.delete(b"aor", 2, now).await.unwrap(),
            DeleteOutcome::Conflict { current_version: 1 }
        );
        assert!(store.get(b"aor", now).await.unwrap().is_some());
        assert_eq!(
            store.delete(b"aor", 1, now).await.unwrap(),
            DeleteOutcome::Deleted
        );
        assert_eq!(store.get(b"aor", now).await.unwrap(), None);
        assert_eq!(
            store.delete(b"aor", 0, now).await.unwrap(),
            DeleteOutcome::Deleted
        );
        assert_eq!(
            store.delete(b"aor", 1, now).await.unwrap(),
            DeleteOutcome::Conflict { current_version: 0 }
        );
        // Deleted means absent: it can be created again from version 0.
        assert_eq!(
            store
                .cas(b"aor", 0, b"again", now + 60_000, now)
                .await
                .unwrap(),
            CasOutcome::Written { version: 1 }
        );
    });
}

#[test]
fn redis_expires_the_key_at_the_record_expiry() {
    let Some(mut store) = connect() else { return };
    let now = now_ms();
    let expires = now + 40_000;
    block_on(store.cas(b"challenge", 0, b"nonce", expires, now)).unwrap();
    let key = store.redis_key(b"challenge");
    // Redis's own expiry time for the key is exactly the record's.
    assert_eq!(
        command(&mut store, &[b"PEXPIRETIME", &key]),
        Value::Integer(i64::try_from(expires).unwrap())
    );
    // A reader past the expiry no longer sees it, whatever Redis's clock says.
    assert!(
        block_on(store.get(b"challenge", expires - 1))
            .unwrap()
            .is_some()
    );
    assert_eq!(block_on(store.get(b"challenge", expires)).unwrap(), None);

    // A record written with its expiry in the past is gone at once.
    assert_eq!(
        block_on(store.cas(b"challenge", 1, b"late", now - 1_000, now)).unwrap(),
        CasOutcome::Written { version: 2 }
    );
    assert_eq!(command(&mut store, &[b"EXISTS", &key]), Value::Integer(0));
    assert_eq!(block_on(store.get(b"challenge", now)).unwrap(), None);
    assert_eq!(
        block_on(store.cas(b"challenge", 0, b"fresh", now + 1_000, now)).unwrap(),
        CasOutcome::Written { version: 1 }
    );
}

/// With a grace, Redis keeps an AoR's key past its expiry so a sweep can
/// remove it; readers, writers and deletes see it as absent all the same,
/// and a write over it continues its version sequence.
#[test]
fn a_record_kept_for_its_grace_is_absent_to_everyone_and_its_versions_go_on() {
    let Some(mut store) = connect() else { return };
    let now = now_ms();
    let expires = now + 10_000;
    let grace = 60_000;
    let key = store.redis_key(b"aor:kept");
    block_on(async {
        assert_eq!(
            store
                .cas_with_grace(b"aor:kept", 0, b"v1", expires, grace, now)
                .await
                .unwrap(),
            CasOutcome::Written { version: 1 }
        );
    });
    assert_eq!(
        command(&mut store, &[b"PEXPIRETIME", &key]),
        Value::Integer(i64::try_from(expires + grace).unwrap())
    );
    let later = expires;
    block_on(async {
        assert_eq!(store.get(b"aor:kept", later).await.unwrap(), None);
        assert_eq!(
            store
                .cas(b"aor:kept", 1, b"x", later + 1, later)
                .await
                .unwrap(),
            CasOutcome::Conflict { current_version: 0 }
        );
        assert_eq!(
            store.delete(b"aor:kept", 1, later).await.unwrap(),
            DeleteOutcome::Conflict { current_version: 0 }
        );
        // Still stored: the next write is version 2, so whoever read
        // version 1 before the expiry cannot take this record for its own.
        assert_eq!(
            store
                .cas_with_grace(b"aor:kept", 0, b"v2", later + 10_000, grace, later)
                .await
                .unwrap(),
            CasOutcome::Written { version: 2 }
        );
        assert_eq!(
            store.get(b"aor:kept", later).await.unwrap(),
            Some(Record {
                value: "v2".into(),
                version: 2,
                expires_at_ms: later + 10_000
            })
        );
        // Expired again and still kept: a delete at version 0 removes it.
        let after = later + 10_000;
        assert_eq!(
            store.delete(b"aor:kept", 0, after).await.unwrap(),
            DeleteOutcome::Deleted
        );
    });
    assert_eq!(command(&mut store, &[b"EXISTS", &key]), Value::Integer(0));
}

#[test]
fn get_many_pipelines_in_key_order() {
    let Some(mut store) = connect() else { return };
    let now = now_ms();
    block_on(async {
        store.cas(b"a", 0, b"1", now + 60_000, now).await.unwrap();
        store.cas(b"c", 0, b"3", now + 60_000, now).await.unwrap();
        let records = store.get_many(&[b"a", b"b", b"c"], now).await.unwrap();
        let values: Vec<_> = records.into_iter().map(|r| r.map(|r| r.value)).collect();
        assert_eq!(values, vec![Some("1".into()), None, Some("3".into())]);
    });
}

#[test]
fn scripts_fall_back_to_eval_after_a_script_flush() {
    let Some(mut store) = connect() else { return };
    let now = now_ms();
    assert_eq!(
        command(&mut store, &[b"SCRIPT", b"FLUSH"]),
        Value::Simple("OK".into())
    );
    assert_eq!(
        block_on(store.cas(b"k", 0, b"v", now + 60_000, now)).unwrap(),
        CasOutcome::Written { version: 1 }
    );
    assert_eq!(
        block_on(store.delete(b"k", 1, now)).unwrap(),
        DeleteOutcome::Deleted
    );
}

#[test]
fn the_embedded_sha1_digests_are_the_scripts_redis_loads() {
    let Some(mut store) = connect() else { return };
    let now = now_ms();
    // After EVAL (the fallback) Redis knows each script by its real digest;
    // EVALSHA with our constant then must find it, i.e. no NOSCRIPT.
    command(&mut store, &[b"SCRIPT", b"FLUSH"]);
    block_on(store.cas(b"k", 0, b"v", now + 60_000, now)).unwrap();
    block_on(store.delete(b"k", 1, now)).unwrap();
    block_on(store.claim_due(0, now, 1_000, 1)).unwrap();
    block_on(store.delete_expired(b"k", now)).unwrap();
    block_on(store.finish(0, b"k", now)).unwrap();
    let Value::Array(known) = command(
        &mut store,
        &[
            b"SCRIPT",
            b"EXISTS",
            b"716d230347f2789424e48febdd02f378d35431b0",
            b"faff092b74eecd8b5704572013b9354fdd790509",
            b"2fbc9ec8c3ad22ebfd22064f788dd5cb9bea5d2a",
            b"85be9310884514ab7fb296857232b4109376ea1b",
            b"9656ce842ec23b96f09ddbe7796b231927ea329b",
        ],
    ) else {
        panic!("array expected")
    };
    assert_eq!(known, vec![Value::Integer(1); 5]);
}

#[test]
fn a_wrong_type_under_the_key_is_a_server_error() {
    let Some(mut store) = connect() else { return };
    let key = store.redis_key(b"not-a-hash");
    command(&mut store, &[b"SET", &key, b"x", b"PX", b"60000"]);
    let err = block_on(store.cas(b"not-a-hash", 0, b"v", now_ms() + 1_000, now_ms())).unwrap_err();
    assert!(
        matches!(err, StoreError::Server(ref m) if m.contains("WRONGTYPE")),
        "{err}"
    );
    let err = block_on(store.get(b"not-a-hash", now_ms())).unwrap_err();
    assert!(
        matches!(err, StoreError::Server(ref m) if m.contains("WRONGTYPE")),
        "{err}"
    );
}

/// `count` record keys that all fall in expiry bucket `bucket`.
fn keys_in_bucket(bucket: u16, count: usize) -> Vec<Vec<u8>> {
    (0..)
        .map(|i| format!("aor:sip:{i}@example.com").into_bytes())
        .filter(|k| expiry_bucket(k) == bucket)
        .take(count)
        .collect()
}

fn score(store: &mut Store, bucket: u16, key: &[u8]) -> Value {
    let index_key = store.expiry_index_key(bucket);
    command(store, &[b"ZSCORE", &index_key, key])
}

#[test]
fn the_expiry_index_is_a_hash_tagged_sorted_set_per_bucket() {
    let Some(mut store) = connect() else { return };
    let key = b"aor:sip:alice@example.com";
    let bucket = expiry_bucket(key);
    let index_key = store.expiry_index_key(bucket);
    assert!(index_key.ends_with(format!(":exp:{{{bucket}}}").as_bytes()));
    assert_eq!(
        stores::redis::key_slot(&index_key),
        stores::redis::key_slot(bucket.to_string().as_bytes())
    );
    block_on(store.index(key, 1_700_000_000_123)).unwrap();
    assert_eq!(
        score(&mut store, bucket, key),
        Value::Bulk("1700000000123".into())
    );
    // A later write's expiry replaces the earlier one.
    block_on(store.index(key, 1_700_000_060_000)).unwrap();
    assert_eq!(
        command(&mut store, &[b"ZCARD", &index_key]),
        Value::Integer(1)
    );
    assert_eq!(
        score(&mut store, bucket, key),
        Value::Bulk("1700000060000".into())
    );
}

/// The indexed compare-and-set writes the record and its index entry in one
/// round trip; a losing write still leaves an index entry (the sweep checks
/// the record), and after a script flush the EVAL fallback indexes too.
#[test]
fn an_indexed_write_indexes_its_record_in_the_same_round_trip() {
    let Some(mut store) = connect() else { return };
    let now = now_ms();
    let key = b"aor:sip:indexed@example.com";
    let bucket = expiry_bucket(key);
    let written = block_on(store.cas_with_grace_indexed(key, 0, b"v1", now + 60_000, 5_000, now));
    assert_eq!(written.unwrap(), CasOutcome::Written { version: 1 });
    assert_eq!(
        block_on(store.get(key, now)).unwrap().map(|r| r.value),
        Some(b"v1".to_vec().into())
    );
    assert_eq!(
        score(&mut store, bucket, key),
        Value::Bulk((now + 60_000).to_string().into())
    );
    // A stale writer loses the compare-and-set; its ZADD went first.
    let lost = block_on(store.cas_with_grace_indexed(key, 0, b"v0", now + 30_000, 5_000, now));
    assert_eq!(lost.unwrap(), CasOutcome::Conflict { current_version: 1 });
    assert_eq!(
        score(&mut store, bucket, key),
        Value::Bulk((now + 30_000).to_string().into())
    );
    assert_eq!(
        block_on(store.get(key, now)).unwrap().map(|r| r.value),
        Some(b"v1".to_vec().into())
    );
    // Out-of-range expiries are refused before anything is sent.
    assert!(matches!(
        block_on(store.cas_with_grace_indexed(key, 1, b"v2", u64::MAX, 0, now)),
        Err(StoreError::ExpiryOutOfRange { .. })
    ));
}

#[test]
fn two_sweepers_racing_for_the_same_due_records_claim_disjoint_sets() {
    let Some(mut store) = connect() else { return };
    let prefix = String::from_utf8(store.redis_key(b""))
        .unwrap()
        .trim_end_matches("{}")
        .to_owned();
    let now = 1_700_000_000_000;
    let bucket = 7;
    let keys = keys_in_bucket(bucket, 200);
    for (i, key) in keys.iter().enumerate() {
        block_on(store.index(key, now - 1_000 + i as u64)).unwrap();
    }
    let sweepers: Vec<_> = (0..2)
        .map(|_| {
            let mut store = connect_with_prefix(prefix.clone()).unwrap();
            std::thread::spawn(move || {
                let mut claimed: Vec<Claim> = Vec::new();
                loop {
                    let batch = block_on(store.claim_due(bucket, now, 30_000, 7)).unwrap();
                    if batch.is_empty() {
                        return claimed;
                    }
                    claimed.extend(batch);
                }
            })
        })
        .collect();
    let mut claimed: Vec<Vec<Claim>> = sweepers.into_iter().map(|t| t.join().unwrap()).collect();
    let (b, a) = (claimed.pop().unwrap(), claimed.pop().unwrap());
    assert!(
        a.iter().all(|c| !b.iter().any(|d| d.key == c.key)),
        "a record claimed twice"
    );
    let mut all: Vec<Vec<u8>> = a.iter().chain(&b).map(|c| c.key.to_vec()).collect();
    all.sort();
    let mut want = keys.clone();
    want.sort();
    assert_eq!(all, want, "every due record claimed once");
    assert!(a.iter().chain(&b).all(|c| c.lease_until_ms == now + 30_000));
    assert!(
        a.iter()
            .chain(&b)
            .all(|c| (now - 1_000..now - 800).contains(&c.due_at_ms))
    );
    // Held: nothing more is due until the lease runs out.
    assert!(
        block_on(store.claim_due(bucket, now + 29_999, 30_000, 1_000))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn records_not_yet_due_are_not_claimed() {
    let Some(mut store) = connect() else { return };
    let now = 1_700_000_000_000;
    let bucket = 3;
    let keys = keys_in_bucket(bucket, 3);
    block_on(async {
        store.index(&keys[0], now - 1).await.unwrap();
        store.index(&keys[1], now).await.unwrap();
        store.index(&keys[2], now + 1).await.unwrap();
        let claimed = store.claim_due(bucket, now, 10_000, 100).await.unwrap();
        let claimed: Vec<&[u8]> = claimed.iter().map(|c| &c.key[..]).collect();
        assert_eq!(claimed, vec![&keys[0][..], &keys[1][..]], "earliest first");
        let claimed = store.claim_due(bucket, now + 1, 10_000, 100).await.unwrap();
        assert_eq!(
            claimed,
            vec![Claim {
                key: keys[2].clone().into(),
                due_at_ms: now + 1,
                lease_until_ms: now + 10_001
            }]
        );
        // Other buckets are other sets.
        assert!(
            store
                .claim_due((bucket + 1) % EXPIRY_BUCKETS, now + 1, 10_000, 100)
                .await
                .unwrap()
                .is_empty()
        );
    });
    assert_eq!(
        score(&mut store, bucket, &keys[0]),
        Value::Bulk((now + 10_000).to_string().into())
    );
}

#[test]
fn a_record_indexed_again_during_a_claim_survives_its_finish() {
    let Some(mut store) = connect() else { return };
    let now = 1_700_000_000_000;
    let bucket = 11;
    let keys = keys_in_bucket(bucket, 2);
    let (refreshed, expired) = (&keys[0], &keys[1]);
    block_on(async {
        store.index(refreshed, now - 5).await.unwrap();
        store.index(expired, now - 5).await.unwrap();
        let claimed = store.claim_due(bucket, now, 10_000, 10).await.unwrap();
        assert_eq!(claimed.len(), 2);
        let lease = claimed[0].lease_until_ms;
        // A re-registration writes the record and indexes it meanwhile.
        store.index(refreshed, now + 300_000).await.unwrap();
        assert!(!store.finish(bucket, refreshed, lease).await.unwrap());
        assert!(store.finish(bucket, expired, lease).await.unwrap());
        // Finishing twice, or a member that is not there, removes nothing.
        assert!(!store.finish(bucket, expired, lease).await.unwrap());
    });
    assert_eq!(
        score(&mut store, bucket, refreshed),
        Value::Bulk((now + 300_000).to_string().into())
    );
    assert_eq!(score(&mut store, bucket, expired), Value::Nil);
}

#[test]
fn an_unfinished_claim_is_claimed_again_after_its_lease() {
    let Some(mut store) = connect() else { return };
    let now = 1_700_000_000_000;
    let bucket = 42;
    let key = &keys_in_bucket(bucket, 1)[0];
    block_on(async {
        store.index(key, now).await.unwrap();
        // The first sweeper claims it and dies without finishing.
        let first = store.claim_due(bucket, now, 10_000, 10).await.unwrap();
        assert_eq!(first.len(), 1);
        assert!(
            store
                .claim_due(bucket, now + 9_999, 10_000, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let second = store
            .claim_due(bucket, now + 10_000, 10_000, 10)
            .await
            .unwrap();
        assert_eq!(
            second,
            vec![Claim {
                key: key.clone().into(),
                due_at_ms: now + 10_000,
                lease_until_ms: now + 20_000
            }]
        );
        // The first claim's lease is no longer the member's: its finish
        // leaves the member to the second, whose finish removes it.
        assert!(
            !store
                .finish(bucket, key, first[0].lease_until_ms)
                .await
                .unwrap()
        );
        assert!(store.finish(bucket, key, now + 20_000).await.unwrap());
        assert!(
            store
                .claim_due(bucket, now + 100_000, 10_000, 10)
                .await
                .unwrap()
                .is_empty()
        );
    });
}

/// Of two sweepers that found a record expired and kept for its grace,
/// exactly one deletes it; a record written again meanwhile is left alone.
#[test]
fn an_expired_record_is_deleted_by_exactly_one_sweeper() {
    let Some(mut store) = connect() else { return };
    // Real time: Redis keeps the keys by its own clock.
    let now = now_ms();
    let expires = now - 1;
    block_on(async {
        store
            .cas_with_grace(b"aor:x", 0, b"v", expires, 60_000, now - 10)
            .await
            .unwrap();
        store
            .cas_with_grace(b"aor:y", 0, b"v", expires, 60_000, now - 10)
            .await
            .unwrap();
    });
    let mut other = connect_with_prefix(
        String::from_utf8(store.redis_key(b""))
            .unwrap()
            .trim_end_matches("{}")
            .to_owned(),
    )
    .unwrap();
    let (first, second) = block_on(futures_lite::future::zip(
        store.delete_expired(b"aor:x", now),
        other.delete_expired(b"aor:x", now),
    ));
    let mut outcomes = [first.unwrap(), second.unwrap()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [ExpiredRecord::Absent, ExpiredRecord::Deleted]);
    // Re-registered before the sweep got to it: live, left alone.
    block_on(async {
        assert_eq!(
            store
                .cas(b"aor:y", 0, b"again", now + 60_000, now)
                .await
                .unwrap(),
            CasOutcome::Written { version: 2 }
        );
        assert_eq!(
            store.delete_expired(b"aor:y", now).await.unwrap(),
            ExpiredRecord::Live
        );
        assert!(store.get(b"aor:y", now).await.unwrap().is_some());
    });
}

/// A stream that replies with fixed bytes and records what was written.
struct Scripted {
    replies: Vec<u8>,
    read_pos: usize,
    written: Vec<u8>,
}

impl Scripted {
    fn new(replies: &[u8]) -> Self {
        Self {
            replies: replies.to_vec(),
            read_pos: 0,
            written: Vec::new(),
        }
    }
}

impl AsyncRead for Scripted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let rest = &self.replies[self.read_pos..];
        let len = rest.len().min(buf.len()).min(7); // dribble: partial replies
        buf[..len].copy_from_slice(&rest[..len]);
        self.read_pos += len;
        Poll::Ready(Ok(len))
    }
}

impl AsyncWrite for Scripted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn scripted_store(replies: &[u8]) -> RedisStore<Scripted> {
    let config = RedisStoreConfig {
        key_prefix: "p:".into(),
    };
    RedisStore::new(Scripted::new(replies), config).unwrap()
}

#[test]
fn a_key_prefix_with_a_brace_is_refused() {
    let config = RedisStoreConfig {
        key_prefix: "riptide{x}:".into(),
    };
    assert!(matches!(
        RedisStore::new(Scripted::new(b""), config),
        Err(StoreError::BadKeyPrefix { .. })
    ));
}

#[test]
fn a_bucket_beyond_the_index_is_refused_before_sending_anything() {
    let mut store = scripted_store(b"");
    assert!(matches!(
        block_on(store.claim_due(EXPIRY_BUCKETS, 0, 1_000, 10)),
        Err(StoreError::BadBucket {
            bucket: EXPIRY_BUCKETS
        })
    ));
    assert!(matches!(
        block_on(store.finish(EXPIRY_BUCKETS, b"k", 0)),
        Err(StoreError::BadBucket { .. })
    ));
    assert!(store.connection_mut().stream_mut().written.is_empty());
}

#[test]
fn get_many_refuses_a_bad_key_before_sending_anything() {
    let mut store = scripted_store(b"*3\r\n$-1\r\n$-1\r\n$-1\r\n");
    let err = block_on(store.get_many(&[b"ok", b""], 0)).unwrap_err();
    assert!(matches!(err, StoreError::EmptyKey));
    assert!(store.connection_mut().stream_mut().written.is_empty());
    // The next call sends exactly its own command and reads its own reply.
    assert_eq!(block_on(store.get(b"ok", 0)).unwrap(), None);
    assert_eq!(
        store.connection_mut().stream_mut().written,
        b"*5\r\n$5\r\nHMGET\r\n$6\r\np:{ok}\r\n$5\r\nvalue\r\n$7\r\nversion\r\n$7\r\nexpires\r\n"
    );
}

#[test]
fn moved_and_ask_come_back_as_typed_errors_with_slot_and_node() {
    let mut store = scripted_store(b"-MOVED 5798 10.0.0.7:6379\r\n-ASK 5798 10.0.0.8:6379\r\n");
    let slot = store.slot(b"sip:alice@example.com");
    assert_eq!(slot, stores::redis::key_slot(b"sip:alice@example.com"));
    let err = block_on(store.cas(b"sip:alice@example.com", 0, b"v", 1, 0)).unwrap_err();
    assert!(matches!(err, StoreError::Moved { slot: 5798, ref addr } if addr == "10.0.0.7:6379"));
    let err = block_on(store.get(b"sip:alice@example.com", 0)).unwrap_err();
    assert!(matches!(err, StoreError::Ask { slot: 5798, ref addr } if addr == "10.0.0.8:6379"));
}

#[test]
fn noscript_is_answered_by_eval_with_the_same_arguments() {
    let mut store = scripted_store(b"-NOSCRIPT No matching script.\r\n*2\r\n:1\r\n:1\r\n");
    assert_eq!(
        block_on(store.cas(b"k", 0, b"v", 99, 5)).unwrap(),
        CasOutcome::Written { version: 1 }
    );
    let written = String::from_utf8(store.connection_mut().stream_mut().written.clone()).unwrap();
    let (evalsha, eval) = written.split_at(written.find("*9\r\n$4\r\nEVAL\r\n").unwrap());
    assert!(
        evalsha.starts_with(
            "*9\r\n$7\r\nEVALSHA\r\n$40\r\n716d230347f2789424e48febdd02f378d35431b0\r\n"
        )
    );
    // Key, expected version, value, expiry, key kept until (no grace), now.
    let args =
        "$1\r\n1\r\n$5\r\np:{k}\r\n$1\r\n0\r\n$1\r\nv\r\n$2\r\n99\r\n$2\r\n99\r\n$1\r\n5\r\n";
    assert!(evalsha.ends_with(args));
    assert!(eval.ends_with(args));
}

#[test]
fn a_closed_or_garbled_connection_is_an_error_and_stays_unusable() {
    let mut store = scripted_store(b"*3\r\n$1\r\nv");
    assert!(matches!(
        block_on(store.get(b"k", 0)),
        Err(StoreError::ConnectionClosed)
    ));
    assert!(matches!(
        block_on(store.get(b"k", 0)),
        Err(StoreError::ConnectionClosed)
    ));

    let mut connection = Connection::new(Scripted::new(b"?garbage\r\n+OK\r\n"));
    assert!(matches!(
        block_on(connection.command(&[b"PING"])),
        Err(StoreError::Protocol(_))
    ));
    assert!(matches!(
        block_on(connection.command(&[b"PING"])),
        Err(StoreError::ConnectionClosed)
    ));
}

#[test]
fn a_pipeline_reads_every_reply_in_order() {
    let mut connection = Connection::new(Scripted::new(b"+PONG\r\n:7\r\n$-1\r\n"));
    connection.queue(&[b"PING"]);
    connection.queue(&[b"INCR", b"x"]);
    connection.queue(&[b"GET", b"y"]);
    let replies = block_on(connection.send_queued()).unwrap();
    assert_eq!(
        replies,
        vec![Value::Simple("PONG".into()), Value::Integer(7), Value::Nil]
    );
    assert_eq!(
        connection.stream_mut().written,
        b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nINCR\r\n$1\r\nx\r\n*2\r\n$3\r\nGET\r\n$1\r\ny\r\n"
    );
}
