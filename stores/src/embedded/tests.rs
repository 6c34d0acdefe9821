//! Durability tests: mutations, an unclean stop (drop without close, a torn
//! log tail), recovery, and the exact state afterwards.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use proptest::prelude::*;

use super::recovery::list_segments;
use super::{FsyncPolicy, ShardStore, ShardStoreConfig};
use crate::{CasOutcome, DeleteOutcome, Record};

fn config() -> ShardStoreConfig {
    ShardStoreConfig {
        fsync: FsyncPolicy::Never,
        ..ShardStoreConfig::default()
    }
}

fn open(dir: &Path) -> ShardStore {
    ShardStore::open(dir, config(), 0).unwrap()
}

fn cas(
    store: &mut ShardStore,
    key: &str,
    expected: u64,
    value: &str,
    exp: u64,
    now: u64,
) -> CasOutcome {
    let value = Bytes::copy_from_slice(value.as_bytes());
    store
        .cas(key.as_bytes(), expected, value, exp, now)
        .unwrap()
}

fn record(value: &str, version: u64, expires_at_ms: u64) -> Record {
    Record {
        value: Bytes::copy_from_slice(value.as_bytes()),
        version,
        expires_at_ms,
    }
}

/// Everything the store holds, expired or not.
fn contents(store: &ShardStore) -> BTreeMap<Vec<u8>, Record> {
    store
        .map()
        .iter()
        .map(|(k, r)| (k.to_vec(), r.to_record()))
        .collect()
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

#[test]
fn recovers_exact_records_and_versions_after_a_drop_without_close() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    assert_eq!(
        cas(&mut store, "alice", 0, "a1", 1000, 0),
        CasOutcome::Written { version: 1 }
    );
    assert_eq!(
        cas(&mut store, "alice", 1, "a2", 2000, 0),
        CasOutcome::Written { version: 2 }
    );
    assert_eq!(
        cas(&mut store, "bob", 0, "b1", 1000, 0),
        CasOutcome::Written { version: 1 }
    );
    assert_eq!(
        cas(&mut store, "carol", 0, "c1", 1000, 0),
        CasOutcome::Written { version: 1 }
    );
    assert_eq!(
        store.delete(b"carol", 1, 0).unwrap(),
        DeleteOutcome::Deleted
    );
    drop(store);

    let mut store = open(dir.path());
    assert_eq!(store.get(b"alice", 0), Some(record("a2", 2, 2000)));
    assert_eq!(store.get(b"bob", 0), Some(record("b1", 1, 1000)));
    assert_eq!(store.get(b"carol", 0), None);
    assert_eq!(store.map().len(), 2);
    // The recovered versions are the ones a writer must present.
    assert_eq!(
        cas(&mut store, "alice", 2, "a3", 2000, 0),
        CasOutcome::Written { version: 3 }
    );
    assert_eq!(
        cas(&mut store, "bob", 0, "b2", 2000, 0),
        CasOutcome::Conflict { current_version: 1 }
    );
}

#[test]
fn a_torn_last_entry_is_dropped_and_the_log_continues_after_the_earlier_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    cas(&mut store, "alice", 0, "a1", 1000, 0);
    cas(&mut store, "bob", 0, "b1", 1000, 0);
    let log_path = store.log_path().to_path_buf();
    let len_before_last = file_len(&log_path);
    cas(&mut store, "bob", 1, "b2-the-write-that-is-torn", 1000, 0);
    let len_after_last = file_len(&log_path);
    drop(store);
    // Killed halfway through writing the last entry.
    let torn_len = len_before_last + (len_after_last - len_before_last) / 2;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log_path)
        .unwrap()
        .set_len(torn_len)
        .unwrap();

    let mut store = open(dir.path());
    assert_eq!(store.get(b"alice", 0), Some(record("a1", 1, 1000)));
    assert_eq!(store.get(b"bob", 0), Some(record("b1", 1, 1000)));
    assert_eq!(file_len(&log_path), len_before_last, "torn tail cut off");
    assert_eq!(
        cas(&mut store, "bob", 1, "b2", 1000, 0),
        CasOutcome::Written { version: 2 }
    );
    drop(store);

    let store = open(dir.path());
    assert_eq!(store.get(b"bob", 0), Some(record("b2", 2, 1000)));
}

#[test]
fn a_zero_filled_or_garbage_tail_is_ignored() {
    for tail in [vec![0u8; 64], b"\x05\x00\x00\x00garbage-garbage".to_vec()] {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        cas(&mut store, "alice", 0, "a1", 1000, 0);
        let log_path = store.log_path().to_path_buf();
        drop(store);
        let mut bytes = std::fs::read(&log_path).unwrap();
        bytes.extend_from_slice(&tail);
        std::fs::write(&log_path, bytes).unwrap();

        let store = open(dir.path());
        assert_eq!(contents(&store).len(), 1);
        assert_eq!(store.get(b"alice", 0), Some(record("a1", 1, 1000)));
    }
}

#[test]
fn a_record_is_gone_for_readers_at_its_expiry_and_swept_by_expire() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    cas(&mut store, "challenge", 0, "nonce", 40_000, 0);
    cas(&mut store, "aor", 0, "bindings", 300_000, 0);
    assert!(store.get(b"challenge", 39_999).is_some());
    assert_eq!(store.get(b"challenge", 40_000), None);
    assert_eq!(store.poll_timeout_ms(), Some(40_000));
    assert!(store.expire(39_999).unwrap().is_empty());
    assert_eq!(
        store.expire(40_000).unwrap(),
        vec![Bytes::from_static(b"challenge")]
    );
    assert_eq!(store.map().len(), 1);
    drop(store);

    // A swept record stays swept; one that expired while the shard was down
    // comes back expired and is swept then.
    let mut store = open(dir.path());
    assert_eq!(store.map().len(), 1);
    assert_eq!(store.get(b"aor", 300_000), None);
    assert_eq!(
        store.expire(300_000).unwrap(),
        vec![Bytes::from_static(b"aor")]
    );
    assert!(store.map().is_empty());
}

#[test]
fn an_expired_record_can_be_recreated_at_version_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    cas(&mut store, "alice", 0, "old", 100, 0);
    assert_eq!(
        cas(&mut store, "alice", 1, "late", 500, 100),
        CasOutcome::Conflict { current_version: 0 }
    );
    assert_eq!(
        cas(&mut store, "alice", 0, "new", 500, 100),
        CasOutcome::Written { version: 1 }
    );
    assert!(
        store.expire(100).unwrap().is_empty(),
        "the old expiry entry was cancelled"
    );
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.get(b"alice", 100), Some(record("new", 1, 500)));
}

#[test]
fn cas_and_delete_conflicts_change_nothing_on_disk_or_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    cas(&mut store, "alice", 0, "a1", 1000, 0);
    let log_len = file_len(store.log_path());
    assert_eq!(
        cas(&mut store, "alice", 0, "x", 1000, 0),
        CasOutcome::Conflict { current_version: 1 }
    );
    assert_eq!(
        cas(&mut store, "alice", 2, "x", 1000, 0),
        CasOutcome::Conflict { current_version: 1 }
    );
    assert_eq!(
        cas(&mut store, "nobody", 1, "x", 1000, 0),
        CasOutcome::Conflict { current_version: 0 }
    );
    assert_eq!(
        store.delete(b"alice", 3, 0).unwrap(),
        DeleteOutcome::Conflict { current_version: 1 }
    );
    assert_eq!(
        store.delete(b"nobody", 0, 0).unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(file_len(store.log_path()), log_len);
    assert_eq!(store.get(b"alice", 0), Some(record("a1", 1, 1000)));
}

#[test]
fn a_snapshot_compacts_the_log_and_recovery_reads_snapshot_then_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    for i in 0..50 {
        cas(&mut store, &format!("user{i}"), 0, "v1", 1000, 0);
    }
    for i in 0..50 {
        cas(&mut store, &format!("user{i}"), 1, "v2", 2000, 0);
    }
    let first_log = store.log_path().to_path_buf();
    store.snapshot(10).unwrap();
    assert!(!first_log.exists(), "the compacted segment is deleted");
    assert_eq!(list_segments(dir.path()).unwrap(), vec![2]);
    // Mutations after the snapshot go to the new segment.
    cas(&mut store, "user0", 2, "v3", 3000, 0);
    store.delete(b"user1", 2, 0).unwrap();
    cas(&mut store, "late", 0, "l1", 3000, 0);
    let expected = contents(&store);
    drop(store);

    let store = open(dir.path());
    assert_eq!(contents(&store), expected);
    assert_eq!(store.get(b"user0", 0), Some(record("v3", 3, 3000)));
    assert_eq!(store.get(b"user1", 0), None);
    assert_eq!(store.get(b"user2", 0), Some(record("v2", 2, 2000)));
    assert_eq!(store.map().len(), 50);
}

#[test]
fn tick_snapshots_when_the_log_outgrows_its_limit_and_on_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let config = ShardStoreConfig {
        fsync: FsyncPolicy::Never,
        snapshot_log_bytes_max: 1024,
        snapshot_interval_ms: 60_000,
        ..ShardStoreConfig::default()
    };
    let mut store = ShardStore::open(dir.path(), config, 0).unwrap();
    store.tick(0).unwrap();
    assert_eq!(
        list_segments(dir.path()).unwrap(),
        vec![1],
        "empty log: no snapshot"
    );
    cas(&mut store, "small", 0, "x", u64::MAX >> 11, 0);
    store.tick(1).unwrap();
    assert_eq!(list_segments(dir.path()).unwrap(), vec![1]);
    cas(&mut store, "big", 0, &"x".repeat(2000), u64::MAX >> 11, 0);
    store.tick(2).unwrap();
    assert_eq!(
        list_segments(dir.path()).unwrap(),
        vec![2],
        "size-triggered"
    );
    cas(&mut store, "small", 1, "y", u64::MAX >> 11, 0);
    assert_eq!(store.poll_timeout_ms(), Some(60_002));
    store.tick(60_001).unwrap();
    assert_eq!(list_segments(dir.path()).unwrap(), vec![2]);
    store.tick(60_002).unwrap();
    assert_eq!(
        list_segments(dir.path()).unwrap(),
        vec![3],
        "interval-triggered"
    );
    drop(store);
    let store = ShardStore::open(dir.path(), config, 0).unwrap();
    assert_eq!(store.get(b"small", 0).map(|r| r.version), Some(2));
    assert_eq!(store.get(b"big", 0).map(|r| r.value.len()), Some(2000));
}

#[test]
fn leftovers_of_an_interrupted_snapshot_are_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    cas(&mut store, "alice", 0, "a1", 1000, 0);
    store.snapshot(0).unwrap();
    cas(&mut store, "alice", 1, "a2", 1000, 0);
    drop(store);
    // Killed while writing the next snapshot, after creating its segment...
    std::fs::write(dir.path().join("snapshot.tmp"), b"half a snapshot").unwrap();
    std::fs::write(super::recovery::segment_path(dir.path(), 3), b"RIPL").unwrap();
    // ...and a segment the previous compaction had not yet deleted.
    std::fs::write(
        super::recovery::segment_path(dir.path(), 1),
        b"RIPLOG01junk",
    )
    .unwrap();

    let mut store = open(dir.path());
    assert_eq!(store.get(b"alice", 0), Some(record("a2", 2, 1000)));
    assert!(!dir.path().join("snapshot.tmp").exists());
    assert_eq!(list_segments(dir.path()).unwrap(), vec![2, 3]);
    cas(&mut store, "alice", 2, "a3", 1000, 0);
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.get(b"alice", 0), Some(record("a3", 3, 1000)));
}

#[test]
fn a_corrupt_snapshot_is_refused_not_silently_emptied() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    cas(&mut store, "alice", 0, "a1", 1000, 0);
    store.snapshot(0).unwrap();
    drop(store);
    let path = dir.path().join("snapshot");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    assert!(matches!(
        ShardStore::open(dir.path(), config(), 0),
        Err(crate::StoreError::CorruptSnapshot { .. })
    ));
}

#[test]
fn interval_policy_fsyncs_when_the_oldest_unsynced_write_is_due() {
    let dir = tempfile::tempdir().unwrap();
    let config = ShardStoreConfig {
        fsync: FsyncPolicy::IntervalMs(100),
        snapshot_interval_ms: u64::MAX,
        ..ShardStoreConfig::default()
    };
    let mut store = ShardStore::open(dir.path(), config, 0).unwrap();
    assert_eq!(store.poll_timeout_ms(), None);
    cas(&mut store, "a", 0, "x", 1_000_000, 1_000);
    cas(&mut store, "b", 0, "x", 1_000_000, 1_050);
    assert_eq!(store.poll_timeout_ms(), Some(1_100));
    store.tick(1_099).unwrap();
    assert_eq!(store.poll_timeout_ms(), Some(1_100));
    store.tick(1_100).unwrap();
    assert_eq!(
        store.poll_timeout_ms(),
        Some(1_000_000),
        "synced; next is the expiry"
    );
    // A write that finds the interval already over fsyncs at once.
    cas(&mut store, "c", 0, "x", 1_000_000, 2_000);
    assert_eq!(store.poll_timeout_ms(), Some(2_100));
    cas(&mut store, "d", 0, "x", 1_000_000, 2_100);
    assert_eq!(store.poll_timeout_ms(), Some(1_000_000));
}

#[test]
fn always_policy_acknowledges_after_fsync_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let config = ShardStoreConfig {
        fsync: FsyncPolicy::Always,
        snapshot_interval_ms: u64::MAX,
        ..ShardStoreConfig::default()
    };
    let mut store = ShardStore::open(dir.path(), config, 0).unwrap();
    cas(&mut store, "a", 0, "x", 1000, 0);
    assert_eq!(store.poll_timeout_ms(), Some(1000), "nothing left to sync");
    store.close().unwrap();
    let store = ShardStore::open(dir.path(), config, 0).unwrap();
    assert_eq!(store.get(b"a", 0), Some(record("x", 1, 1000)));
}

// Model-based tests: a random sequence of operations against the store and
// against a BTreeMap, with crashes, reopens and snapshots in between.

#[derive(Debug, Clone)]
enum Op {
    Cas {
        key: u8,
        expected: Option<u64>,
        value: u8,
        ttl_ms: u64,
    },
    Delete {
        key: u8,
        expected: Option<u64>,
    },
    Expire,
    AdvanceMs(u64),
    Snapshot,
    CrashAndRecover,
    CloseAndRecover,
}

fn op() -> impl Strategy<Value = Op> {
    // `expected: None` means "the current version": mostly succeed, sometimes not.
    let expected = prop_oneof![3 => Just(None), 1 => (0u64..4).prop_map(Some)];
    prop_oneof![
        6 => (0u8..6, expected.clone(), any::<u8>(), 1u64..500)
            .prop_map(|(key, expected, value, ttl_ms)| Op::Cas { key, expected, value, ttl_ms }),
        2 => (0u8..6, expected).prop_map(|(key, expected)| Op::Delete { key, expected }),
        1 => Just(Op::Expire),
        2 => (0u64..200).prop_map(Op::AdvanceMs),
        1 => Just(Op::Snapshot),
        1 => Just(Op::CrashAndRecover),
        1 => Just(Op::CloseAndRecover),
    ]
}

#[derive(Default)]
struct Model {
    records: BTreeMap<Vec<u8>, Record>,
}

impl Model {
    fn version(&self, key: &[u8], now: u64) -> u64 {
        self.records
            .get(key)
            .filter(|r| !r.is_expired(now))
            .map_or(0, |r| r.version)
    }

    fn cas(&mut self, key: &[u8], expected: u64, value: &[u8], exp: u64, now: u64) -> CasOutcome {
        let current = self.version(key, now);
        if current != expected {
            return CasOutcome::Conflict {
                current_version: current,
            };
        }
        let record = Record {
            value: Bytes::copy_from_slice(value),
            version: current + 1,
            expires_at_ms: exp,
        };
        self.records.insert(key.to_vec(), record);
        CasOutcome::Written {
            version: current + 1,
        }
    }

    fn delete(&mut self, key: &[u8], expected: u64, now: u64) -> DeleteOutcome {
        let current = self.version(key, now);
        if current != expected {
            return DeleteOutcome::Conflict {
                current_version: current,
            };
        }
        if current != 0 {
            self.records.remove(key);
        }
        DeleteOutcome::Deleted
    }

    fn expire(&mut self, now: u64) -> Vec<Bytes> {
        let mut expired: Vec<(u64, Vec<u8>)> = self
            .records
            .iter()
            .filter(|(_, r)| r.is_expired(now))
            .map(|(k, r)| (r.expires_at_ms, k.clone()))
            .collect();
        expired.sort();
        expired
            .into_iter()
            .map(|(_, k)| {
                self.records.remove(&k);
                Bytes::from(k)
            })
            .collect()
    }
}

fn key_name(key: u8) -> Vec<u8> {
    format!("sip:user{key}@example.com").into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn recovered_store_equals_the_model(ops in proptest::collection::vec(op(), 1..80)) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Some(open(dir.path()));
        let mut model = Model::default();
        let mut now = 1_000u64;
        for op in ops {
            let Some(s) = store.as_mut() else { unreachable!() };
            match op {
                Op::Cas { key, expected, value, ttl_ms } => {
                    let key = key_name(key);
                    let expected = expected.unwrap_or_else(|| model.version(&key, now));
                    let value = vec![value; usize::from(value % 16)];
                    let got = s.cas(&key, expected, Bytes::from(value.clone()), now + ttl_ms, now).unwrap();
                    prop_assert_eq!(got, model.cas(&key, expected, &value, now + ttl_ms, now));
                }
                Op::Delete { key, expected } => {
                    let key = key_name(key);
                    let expected = expected.unwrap_or_else(|| model.version(&key, now));
                    prop_assert_eq!(s.delete(&key, expected, now).unwrap(), model.delete(&key, expected, now));
                }
                // Earliest first; among equal expiries the order is the store's.
                Op::Expire => {
                    let mut got = s.expire(now).unwrap();
                    let mut want = model.expire(now);
                    got.sort();
                    want.sort();
                    prop_assert_eq!(got, want);
                }
                Op::AdvanceMs(ms) => now += ms,
                Op::Snapshot => s.snapshot(now).unwrap(),
                Op::CrashAndRecover => {
                    drop(store.take());
                    store = Some(open(dir.path()));
                }
                Op::CloseAndRecover => {
                    if let Some(s) = store.take() {
                        s.close().unwrap();
                    }
                    store = Some(open(dir.path()));
                }
            }
            let Some(s) = store.as_ref() else { unreachable!() };
            prop_assert_eq!(contents(s), model.records.clone());
        }
        drop(store);
        let recovered = open(dir.path());
        prop_assert_eq!(contents(&recovered), model.records);
    }

    #[test]
    fn a_log_cut_anywhere_recovers_exactly_the_entries_before_the_cut(
        ops in proptest::collection::vec((0u8..4, any::<bool>(), any::<u8>()), 1..40),
        cut in any::<proptest::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        let log_path = store.log_path().to_path_buf();
        let mut model = Model::default();
        // (log length, model state) after each mutation.
        let mut states = vec![(file_len(&log_path), model.records.clone())];
        for (key, delete, value) in ops {
            let key = key_name(key);
            let version = model.version(&key, 0);
            if delete && version != 0 {
                store.delete(&key, version, 0).unwrap();
                model.delete(&key, version, 0);
            } else {
                let value = vec![value; usize::from(value % 32)];
                store.cas(&key, version, Bytes::from(value.clone()), 1_000, 0).unwrap();
                model.cas(&key, version, &value, 1_000, 0);
            }
            states.push((file_len(&log_path), model.records.clone()));
        }
        drop(store);
        let full_len = file_len(&log_path);
        let cut_len = cut.index(usize::try_from(full_len).unwrap() + 1) as u64;
        std::fs::OpenOptions::new().write(true).open(&log_path).unwrap().set_len(cut_len).unwrap();
        let expected = states
            .iter()
            .rev()
            .find(|(len, _)| *len <= cut_len)
            .map(|(_, records)| records.clone())
            .unwrap_or_default();
        let recovered = open(dir.path());
        prop_assert_eq!(contents(&recovered), expected);
    }
}
