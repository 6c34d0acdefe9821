//! One shard's durable store: the map, the log it writes through, and the
//! snapshots that compact the log.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::log_writer::{LogWriter, io_error, sync_dir};
use super::map::{CasPlan, DeletePlan, RecordRef, ShardMap};
use super::recovery::{list_segments, recover, segment_path};
use super::snapshot::write_snapshot;
use super::{FsyncPolicy, LogEntry};
use crate::{CasOutcome, DeleteOutcome, Record, StoreError};

/// How a shard store persists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardStoreConfig {
    pub fsync: FsyncPolicy,
    /// Snapshot when the current log segment grows past this many bytes.
    pub snapshot_log_bytes_max: u64,
    /// Snapshot at least this often while the log has entries, so recovery
    /// replays at most this much history.
    pub snapshot_interval_ms: u64,
    /// Most records one [`ShardStore::expire`] call removes, bounding the time
    /// a sweep holds the shard.
    pub expire_count_max: usize,
}

impl Default for ShardStoreConfig {
    fn default() -> Self {
        Self {
            fsync: FsyncPolicy::default(),
            snapshot_log_bytes_max: 64 * 1024 * 1024,
            snapshot_interval_ms: 10 * 60 * 1000,
            expire_count_max: 10_000,
        }
    }
}

/// A shard's records, durable under its data directory.
///
/// Dropping it without [`Self::close`] is what `kill -9` does to it: every
/// acknowledged mutation is already in the log file.
#[derive(Debug)]
pub struct ShardStore {
    dir: PathBuf,
    config: ShardStoreConfig,
    map: ShardMap,
    log: LogWriter,
    segment: u64,
    last_snapshot_ms: u64,
}

impl ShardStore {
    /// Opens (creating if needed) the store in `dir`, recovering its records
    /// from the snapshot and log there.
    pub fn open(dir: &Path, config: ShardStoreConfig, now_ms: u64) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(io_error("create shard directory", dir))?;
        let recovered = recover(dir)?;
        let (segment, log) = match recovered.last_segment {
            Some((seq, valid_len)) => (
                seq,
                LogWriter::open_append(&segment_path(dir, seq), valid_len, config.fsync)?,
            ),
            None => {
                let seq = recovered.first_segment;
                (
                    seq,
                    LogWriter::create(&segment_path(dir, seq), config.fsync)?,
                )
            }
        };
        tracing::info!(
            dir = %dir.display(),
            records = recovered.map.len(),
            entries_replayed = recovered.entries_replayed,
            segment,
            "shard store recovered"
        );
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
            map: recovered.map,
            log,
            segment,
            last_snapshot_ms: now_ms,
        })
    }

    /// The record as a reader at `now_ms` sees it (absent once expired), copied.
    pub fn get(&self, key: &[u8], now_ms: u64) -> Option<Record> {
        self.map.get(key, now_ms).map(|r| r.to_record())
    }

    /// The record as a reader at `now_ms` sees it, borrowed (no copy).
    pub fn get_ref(&self, key: &[u8], now_ms: u64) -> Option<RecordRef<'_>> {
        self.map.get(key, now_ms)
    }

    /// Stores `value` if the current version is `expected_version` (0: the
    /// record must not exist). `Written` is returned only once the log holds
    /// the write (see [`FsyncPolicy`] for what that survives).
    pub fn cas(
        &mut self,
        key: &[u8],
        expected_version: u64,
        value: Bytes,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<CasOutcome, StoreError> {
        match self
            .map
            .prepare_cas(key, expected_version, value, expires_at_ms, now_ms)?
        {
            CasPlan::Conflict { current_version } => Ok(CasOutcome::Conflict { current_version }),
            CasPlan::Write(entry) => {
                let version = match &entry {
                    LogEntry::Put { record, .. } => record.version,
                    LogEntry::Delete { .. } => 0,
                };
                self.persist_and_apply(entry, now_ms)?;
                Ok(CasOutcome::Written { version })
            }
        }
    }

    /// Deletes the record if the current version is `expected_version`.
    pub fn delete(
        &mut self,
        key: &[u8],
        expected_version: u64,
        now_ms: u64,
    ) -> Result<DeleteOutcome, StoreError> {
        match self.map.prepare_delete(key, expected_version, now_ms)? {
            DeletePlan::Conflict { current_version } => {
                Ok(DeleteOutcome::Conflict { current_version })
            }
            DeletePlan::AlreadyAbsent => Ok(DeleteOutcome::Deleted),
            DeletePlan::Write(entry) => {
                self.persist_and_apply(entry, now_ms)?;
                Ok(DeleteOutcome::Deleted)
            }
        }
    }

    fn persist_and_apply(&mut self, entry: LogEntry, now_ms: u64) -> Result<(), StoreError> {
        self.log.append(&entry);
        self.log.commit(now_ms)?;
        self.map.apply(entry);
        Ok(())
    }

    /// Removes records expired at `now_ms` (at most
    /// [`ShardStoreConfig::expire_count_max`], earliest first) and returns
    /// their keys. The removals are logged in one write, so a swept record is
    /// not swept again after a restart. On error nothing is removed. Call
    /// again while it returns a full batch.
    pub fn expire(&mut self, now_ms: u64) -> Result<Vec<Bytes>, StoreError> {
        let entries = self
            .map
            .prepare_expire(now_ms, self.config.expire_count_max);
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        for entry in &entries {
            self.log.append(entry);
        }
        self.log.commit(now_ms)?;
        let mut keys = Vec::with_capacity(entries.len());
        for entry in entries {
            if let LogEntry::Delete { key } = &entry {
                keys.push(key.clone());
            }
            self.map.apply(entry);
        }
        Ok(keys)
    }

    /// When [`Self::tick`] or [`Self::expire`] next has work to do.
    pub fn poll_timeout_ms(&self) -> Option<u64> {
        let snapshot_due_ms = self.log.has_entries().then(|| {
            self.last_snapshot_ms
                .saturating_add(self.config.snapshot_interval_ms)
        });
        [
            self.log.sync_due_ms(),
            snapshot_due_ms,
            self.map.next_expiry_ms(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Does the periodic work due at `now_ms`: the group-commit fsync, and a
    /// snapshot when the log is large or old enough. Does not expire records.
    pub fn tick(&mut self, now_ms: u64) -> Result<(), StoreError> {
        self.log.sync_if_due(now_ms)?;
        let log_too_big = self.log.len_bytes() >= self.config.snapshot_log_bytes_max;
        let snapshot_old =
            now_ms.saturating_sub(self.last_snapshot_ms) >= self.config.snapshot_interval_ms;
        if self.log.has_entries() && (log_too_big || snapshot_old) {
            self.snapshot(now_ms)?;
        }
        Ok(())
    }

    /// Writes a snapshot of every record, starts a new log segment and
    /// deletes the old ones. On error the store keeps using the old segment.
    pub fn snapshot(&mut self, now_ms: u64) -> Result<(), StoreError> {
        let next_segment = self.segment + 1;
        // The new segment exists before the snapshot that points at it, so no
        // crash leaves a snapshot whose successor segment is missing.
        let next_log =
            LogWriter::create(&segment_path(&self.dir, next_segment), self.config.fsync)?;
        let snapshot_bytes = match write_snapshot(&self.dir, &self.map, next_segment) {
            Ok(len) => len,
            Err(e) => {
                drop(next_log);
                let _ = std::fs::remove_file(segment_path(&self.dir, next_segment));
                return Err(e);
            }
        };
        self.log = next_log;
        self.segment = next_segment;
        self.last_snapshot_ms = now_ms;
        for seq in list_segments(&self.dir)? {
            if seq < next_segment {
                let path = segment_path(&self.dir, seq);
                std::fs::remove_file(&path).map_err(io_error("remove compacted segment", &path))?;
            }
        }
        sync_dir(&segment_path(&self.dir, next_segment))?;
        tracing::info!(
            dir = %self.dir.display(),
            records = self.map.len(),
            snapshot_bytes,
            segment = next_segment,
            "shard store snapshot written"
        );
        Ok(())
    }

    /// Fsyncs the log; the clean shutdown.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.log.sync()
    }

    /// The records held, expired or not; for inspection and tests.
    pub fn map(&self) -> &ShardMap {
        &self.map
    }

    /// The current log segment's file.
    pub fn log_path(&self) -> &Path {
        self.log.path()
    }
}
