//! The embedded store: one [`ShardStore`] per shard, owned by that shard's
//! thread, so nothing here locks.
//!
//! The pieces, from the inside out: [`ShardMap`] holds the records and plans
//! each mutation as a [`LogEntry`] without doing I/O; [`LogWriter`] appends
//! entries to the current log segment; snapshots and recovery rebuild the map
//! from disk; [`ShardStore`] ties them together for the shard.

mod entry;
mod log_writer;
mod map;
mod recovery;
mod snapshot;
mod store;
#[cfg(test)]
mod tests;

pub use entry::LogEntry;
pub use log_writer::LogWriter;
pub use map::{CasPlan, DeletePlan, RecordRef, ShardMap};
pub use store::{ShardStore, ShardStoreConfig};

/// When the log is fsynced: what an acknowledged write survives.
///
/// Every mutation is written to the log file (one `write(2)`) before
/// [`ShardStore::cas`] or [`ShardStore::delete`] returns, under every policy.
/// So under every policy an acknowledged write survives the process being
/// killed (`kill -9`, a panic, an OOM kill): the kernel holds it.
/// The policy decides what survives the machine losing power or the kernel
/// crashing:
///
/// - `Always`: the log is fsynced (`fdatasync`) before the write is
///   acknowledged. Nothing acknowledged is lost; each write costs a disk flush.
/// - `IntervalMs(n)` (the default, 100 ms): group commit. Writes are fsynced
///   together at most `n` ms after the oldest unsynced one, when a later write
///   or [`ShardStore::tick`] finds it due. Power loss loses at most the last
///   `n` ms of acknowledged writes (plus the delay of a late tick).
/// - `Never`: the kernel writes back when it likes (typically within 30 s).
///   Snapshots and [`ShardStore::close`] still fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    Always,
    IntervalMs(u64),
    Never,
}

impl Default for FsyncPolicy {
    fn default() -> Self {
        Self::IntervalMs(100)
    }
}
