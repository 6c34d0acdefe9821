//! The shard's records in memory, without any I/O.
//!
//! A mutation is planned against the current state (`prepare_*`), which yields
//! the [`LogEntry`] to persist; once persisted, the entry is [`ShardMap::apply`]d.
//! Recovery replays the same entries through the same `apply`.

use std::collections::BTreeSet;
use std::hash::BuildHasher;

use bytes::Bytes;
use hashbrown::HashTable;

use super::entry::LogEntry;
use crate::record::{check_key, check_record_limits};
use crate::{KEY_LEN_MAX, Record, StoreError};

/// A record as the map holds it, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub value: &'a [u8],
    pub version: u64,
    pub expires_at_ms: u64,
}

impl RecordRef<'_> {
    pub fn is_expired(&self, now_ms: u64) -> bool {
        now_ms >= self.expires_at_ms
    }

    /// An owned copy.
    pub fn to_record(&self) -> Record {
        Record {
            value: Bytes::copy_from_slice(self.value),
            version: self.version,
            expires_at_ms: self.expires_at_ms,
        }
    }
}

/// One record in the table, in one allocation of its exact length:
/// `[version: u64 LE][expires_at_ms: u64 LE][key length: u16 LE][key][value]`.
/// The table slot is the 16-byte pointer (memory per AoR is a stated limit:
/// ARCHITECTURE, issue 5).
#[derive(Debug)]
struct Slot(Box<[u8]>);

const SLOT_HEADER_LEN: usize = 8 + 8 + 2;
const _: () = assert!(KEY_LEN_MAX <= u16::MAX as usize);

impl Slot {
    /// `key` is within [`KEY_LEN_MAX`]: every entry applied was planned by
    /// `prepare_*` or decoded from a checked frame, both of which check it.
    fn new(key: &[u8], record: &Record) -> Self {
        let mut bytes = Vec::with_capacity(SLOT_HEADER_LEN + key.len() + record.value.len());
        bytes.extend_from_slice(&record.version.to_le_bytes());
        bytes.extend_from_slice(&record.expires_at_ms.to_le_bytes());
        bytes.extend_from_slice(&(key.len() as u16).to_le_bytes());
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(&record.value);
        Self(bytes.into_boxed_slice())
    }

    fn u64_at(&self, at: usize) -> u64 {
        let mut array = [0; 8];
        array.copy_from_slice(&self.0[at..at + 8]);
        u64::from_le_bytes(array)
    }

    fn version(&self) -> u64 {
        self.u64_at(0)
    }

    fn expires_at_ms(&self) -> u64 {
        self.u64_at(8)
    }

    fn key_end(&self) -> usize {
        SLOT_HEADER_LEN + usize::from(u16::from_le_bytes([self.0[16], self.0[17]]))
    }

    fn key(&self) -> &[u8] {
        &self.0[SLOT_HEADER_LEN..self.key_end()]
    }

    fn as_ref(&self) -> RecordRef<'_> {
        RecordRef {
            value: &self.0[self.key_end()..],
            version: self.version(),
            expires_at_ms: self.expires_at_ms(),
        }
    }
}

/// What a compare-and-set will do.
#[derive(Debug, PartialEq, Eq)]
pub enum CasPlan {
    /// Persist this entry, then apply it.
    Write(LogEntry),
    Conflict {
        current_version: u64,
    },
}

/// What a conditional delete will do.
#[derive(Debug, PartialEq, Eq)]
pub enum DeletePlan {
    /// Persist this entry, then apply it.
    Write(LogEntry),
    /// The record is already absent for readers and version 0 was expected.
    AlreadyAbsent,
    Conflict {
        current_version: u64,
    },
}

/// How keys are hashed. Unit tests hash every key to one of three values,
/// so that the paths for colliding hashes run in every test.
#[cfg(not(test))]
type KeyHasher = std::hash::RandomState;
#[cfg(test)]
type KeyHasher = colliding::FewHashes;

#[cfg(test)]
mod colliding {
    use std::hash::{DefaultHasher, Hasher};

    #[derive(Debug, Default)]
    pub struct FewHashes;

    pub struct FewHasher(DefaultHasher);

    impl std::hash::BuildHasher for FewHashes {
        type Hasher = FewHasher;
        fn build_hasher(&self) -> FewHasher {
            FewHasher(DefaultHasher::new())
        }
    }

    impl Hasher for FewHasher {
        fn finish(&self) -> u64 {
            self.0.finish() % 3
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.write(bytes);
        }
    }
}

/// Records by key, with an index by expiry. Every record is in the index
/// as (expiry, hash of its key): an index entry stands for every record with
/// that expiry and key hash (more than one only if 64-bit hashes collide).
#[derive(Debug, Default)]
pub struct ShardMap {
    records: HashTable<Slot>,
    hasher: KeyHasher,
    /// (expires_at_ms, key hash): cancelling on rewrite is one O(log n) removal.
    expiry: BTreeSet<(u64, u64)>,
}

impl ShardMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records held, including expired ones not yet swept by [`Self::expire`].
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The record as a reader at `now_ms` sees it.
    pub fn get(&self, key: &[u8], now_ms: u64) -> Option<RecordRef<'_>> {
        self.records
            .find(self.hash(key), |slot| slot.key() == key)
            .map(Slot::as_ref)
            .filter(|r| !r.is_expired(now_ms))
    }

    /// The version a writer at `now_ms` must present: 0 when absent or expired.
    pub fn current_version(&self, key: &[u8], now_ms: u64) -> u64 {
        self.get(key, now_ms).map_or(0, |r| r.version)
    }

    /// Plans writing `value` if the current version is `expected_version`.
    pub fn prepare_cas(
        &self,
        key: &[u8],
        expected_version: u64,
        value: Bytes,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<CasPlan, StoreError> {
        check_record_limits(key, &value, expires_at_ms)?;
        let current_version = self.current_version(key, now_ms);
        if current_version != expected_version {
            return Ok(CasPlan::Conflict { current_version });
        }
        Ok(CasPlan::Write(LogEntry::Put {
            key: Bytes::copy_from_slice(key),
            record: Record {
                value,
                version: current_version + 1,
                expires_at_ms,
            },
        }))
    }

    /// Plans deleting the record if the current version is `expected_version`.
    pub fn prepare_delete(
        &self,
        key: &[u8],
        expected_version: u64,
        now_ms: u64,
    ) -> Result<DeletePlan, StoreError> {
        check_key(key)?;
        let current_version = self.current_version(key, now_ms);
        if current_version != expected_version {
            return Ok(DeletePlan::Conflict { current_version });
        }
        if current_version == 0 {
            return Ok(DeletePlan::AlreadyAbsent);
        }
        Ok(DeletePlan::Write(LogEntry::Delete {
            key: Bytes::copy_from_slice(key),
        }))
    }

    /// Applies a persisted (or replayed) entry.
    pub fn apply(&mut self, entry: LogEntry) {
        match entry {
            LogEntry::Put { key, record } => {
                let hash = self.hash(&key);
                self.remove(hash, &key);
                self.expiry.insert((record.expires_at_ms, hash));
                let Self {
                    records, hasher, ..
                } = self;
                records.insert_unique(hash, Slot::new(&key, &record), |slot| {
                    hasher.hash_one(slot.key())
                });
            }
            LogEntry::Delete { key } => {
                self.remove(self.hash(&key), &key);
            }
        }
        debug_assert!(self.expiry.len() <= self.records.len());
    }

    fn remove(&mut self, hash: u64, key: &[u8]) {
        let Ok(found) = self.records.find_entry(hash, |slot| slot.key() == key) else {
            return;
        };
        let expires_at_ms = found.remove().0.expires_at_ms();
        if self.hashed_at(hash, expires_at_ms).next().is_none() {
            self.expiry.remove(&(expires_at_ms, hash));
        }
    }

    /// The records whose key hashes to `hash` and which expire at `expires_at_ms`.
    fn hashed_at(&self, hash: u64, expires_at_ms: u64) -> impl Iterator<Item = &Slot> {
        self.records
            .iter_hash(hash)
            .filter(move |slot| slot.expires_at_ms() == expires_at_ms)
            .filter(move |slot| self.hash(slot.key()) == hash)
    }

    /// Plans removing up to `count_max` records expired at `now_ms`,
    /// earliest first (equal expiries in no set order): one delete entry
    /// each, to persist and apply like any other mutation, so a swept record
    /// stays swept after a restart.
    pub fn prepare_expire(&self, now_ms: u64, count_max: usize) -> Vec<LogEntry> {
        self.expiry
            .iter()
            .take_while(|(expires_at_ms, _)| *expires_at_ms <= now_ms)
            .flat_map(|&(expires_at_ms, hash)| self.hashed_at(hash, expires_at_ms))
            .take(count_max)
            .map(|slot| LogEntry::Delete {
                key: Bytes::copy_from_slice(slot.key()),
            })
            .collect()
    }

    /// The earliest expiry among the records held.
    pub fn next_expiry_ms(&self) -> Option<u64> {
        self.expiry.first().map(|(expires_at_ms, _)| *expires_at_ms)
    }

    /// Every record held, expired or not, in no particular order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], RecordRef<'_>)> {
        self.records.iter().map(|slot| (slot.key(), slot.as_ref()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn write(map: &mut ShardMap, key: &str, expected: u64, value: &str, exp: u64, now: u64) -> u64 {
        let value = Bytes::copy_from_slice(value.as_bytes());
        match map
            .prepare_cas(key.as_bytes(), expected, value, exp, now)
            .unwrap()
        {
            CasPlan::Write(entry) => {
                let LogEntry::Put { record, .. } = &entry else {
                    panic!("put expected")
                };
                let version = record.version;
                map.apply(entry);
                version
            }
            CasPlan::Conflict { current_version } => panic!("conflict at {current_version}"),
        }
    }

    #[test]
    fn versions_count_writes_from_one() {
        let mut map = ShardMap::new();
        assert_eq!(write(&mut map, "a", 0, "x", 100, 0), 1);
        assert_eq!(write(&mut map, "a", 1, "y", 100, 0), 2);
        let record = map.get(b"a", 0).unwrap();
        assert_eq!((record.value, record.version), (&b"y"[..], 2));
    }

    #[test]
    fn a_stale_version_conflicts_and_changes_nothing() {
        let mut map = ShardMap::new();
        write(&mut map, "a", 0, "x", 100, 0);
        let plan = map.prepare_cas(b"a", 0, Bytes::new(), 100, 0).unwrap();
        assert_eq!(plan, CasPlan::Conflict { current_version: 1 });
        let plan = map.prepare_delete(b"a", 2, 0).unwrap();
        assert_eq!(plan, DeletePlan::Conflict { current_version: 1 });
        assert_eq!(map.get(b"a", 0).unwrap().version, 1);
    }

    fn expire(map: &mut ShardMap, now: u64, count_max: usize) -> Vec<Bytes> {
        let entries = map.prepare_expire(now, count_max);
        let mut keys = Vec::new();
        for entry in entries {
            if let LogEntry::Delete { key } = &entry {
                keys.push(key.clone());
            }
            map.apply(entry);
        }
        keys
    }

    #[test]
    fn an_expired_record_is_absent_for_readers_and_writers_before_the_sweep() {
        let mut map = ShardMap::new();
        write(&mut map, "a", 0, "x", 100, 0);
        assert!(map.get(b"a", 99).is_some());
        assert!(map.get(b"a", 100).is_none());
        assert_eq!(map.current_version(b"a", 100), 0);
        assert_eq!(map.len(), 1);
        // Re-creating it replaces the old record and its expiry entry.
        assert_eq!(write(&mut map, "a", 0, "new", 500, 100), 1);
        assert!(expire(&mut map, 499, usize::MAX).is_empty());
        assert_eq!(
            expire(&mut map, 500, usize::MAX),
            vec![Bytes::from_static(b"a")]
        );
        assert!(map.is_empty());
    }

    #[test]
    fn a_rewrite_moves_the_expiry() {
        let mut map = ShardMap::new();
        write(&mut map, "a", 0, "x", 100, 0);
        write(&mut map, "a", 1, "x", 300, 0);
        assert_eq!(map.next_expiry_ms(), Some(300));
        assert!(expire(&mut map, 200, usize::MAX).is_empty());
    }

    #[test]
    fn expire_takes_earliest_first_and_stops_at_the_count() {
        let mut map = ShardMap::new();
        write(&mut map, "late", 0, "x", 30, 0);
        write(&mut map, "early", 0, "x", 10, 0);
        write(&mut map, "mid", 0, "x", 20, 0);
        assert_eq!(
            expire(&mut map, 100, 2),
            vec![Bytes::from_static(b"early"), Bytes::from_static(b"mid")]
        );
        assert_eq!(expire(&mut map, 100, 2), vec![Bytes::from_static(b"late")]);
    }

    /// Unit tests hash keys to three values: of four keys with one expiry,
    /// at least two share an index entry, which must outlive either of them.
    #[test]
    fn records_sharing_a_hash_and_expiry_are_each_swept() {
        let mut map = ShardMap::new();
        for key in ["a", "b", "c", "d"] {
            write(&mut map, key, 0, key, 100, 0);
        }
        for key in ["a", "c"] {
            let DeletePlan::Write(entry) = map.prepare_delete(key.as_bytes(), 1, 0).unwrap() else {
                panic!("delete expected")
            };
            map.apply(entry);
        }
        write(&mut map, "d", 1, "d2", 100, 0);
        let mut swept = expire(&mut map, 100, usize::MAX);
        swept.sort();
        assert_eq!(
            swept,
            vec![Bytes::from_static(b"b"), Bytes::from_static(b"d")]
        );
        assert!(map.is_empty());
        assert_eq!(map.next_expiry_ms(), None);
    }

    #[test]
    fn deleting_an_absent_record_at_version_zero_writes_nothing() {
        let map = ShardMap::new();
        assert_eq!(
            map.prepare_delete(b"a", 0, 0).unwrap(),
            DeletePlan::AlreadyAbsent
        );
        assert_eq!(
            map.prepare_delete(b"a", 3, 0).unwrap(),
            DeletePlan::Conflict { current_version: 0 }
        );
    }

    #[test]
    fn limits_are_enforced_at_the_edge() {
        let map = ShardMap::new();
        let long_key = vec![b'k'; crate::KEY_LEN_MAX + 1];
        assert!(matches!(
            map.prepare_cas(&long_key, 0, Bytes::new(), 1, 0),
            Err(StoreError::KeyTooLong { .. })
        ));
        assert!(matches!(
            map.prepare_cas(b"", 0, Bytes::new(), 1, 0),
            Err(StoreError::EmptyKey)
        ));
        let big = Bytes::from(vec![0; crate::VALUE_LEN_MAX + 1]);
        assert!(matches!(
            map.prepare_cas(b"k", 0, big, 1, 0),
            Err(StoreError::ValueTooLarge { .. })
        ));
        assert!(matches!(
            map.prepare_cas(b"k", 0, Bytes::new(), crate::EXPIRES_AT_MS_MAX + 1, 0),
            Err(StoreError::ExpiryOutOfRange { .. })
        ));
    }
}
