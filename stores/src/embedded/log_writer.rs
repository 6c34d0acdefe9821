//! Appends framed entries to one log segment file.
//!
//! The only place the log touches a file, with blocking `std::fs` calls, so
//! that a shard can later swap it for glommio's `DmaFile` without touching the
//! map or recovery.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::FsyncPolicy;
use super::entry::{LogEntry, encode_entry};
use crate::StoreError;

/// The first bytes of every log segment.
pub(crate) const LOG_MAGIC: &[u8; 8] = b"RIPLOG01";

/// An open log segment.
#[derive(Debug)]
pub struct LogWriter {
    file: File,
    path: PathBuf,
    policy: FsyncPolicy,
    /// Entries appended and not yet written.
    pending: Vec<u8>,
    /// Bytes of whole frames in the file.
    len_bytes: u64,
    /// When the oldest write not yet fsynced was made.
    unsynced_since_ms: Option<u64>,
    poisoned: bool,
}

impl LogWriter {
    /// Creates (or empties) the segment at `path`, writes its header and makes
    /// the file and its directory entry durable.
    pub fn create(path: &Path, policy: FsyncPolicy) -> Result<Self, StoreError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(path)
            .map_err(io_error("create log segment", path))?;
        let mut writer = Self::new(file, path, policy, 0);
        writer.pending.extend_from_slice(LOG_MAGIC);
        writer.write_pending()?;
        writer.sync_file()?;
        sync_dir(path)?;
        Ok(writer)
    }

    /// Opens the segment at `path` to append after its first `valid_len`
    /// bytes, cutting off a torn tail beyond them.
    pub fn open_append(
        path: &Path,
        valid_len: u64,
        policy: FsyncPolicy,
    ) -> Result<Self, StoreError> {
        if valid_len < LOG_MAGIC.len() as u64 {
            return Self::create(path, policy);
        }
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io_error("open log segment", path))?;
        let file_len = file
            .metadata()
            .map_err(io_error("stat log segment", path))?
            .len();
        if file_len != valid_len {
            tracing::warn!(
                path = %path.display(),
                valid_len,
                discarded_bytes = file_len.saturating_sub(valid_len),
                "cutting a torn tail off the log"
            );
            file.set_len(valid_len)
                .map_err(io_error("truncate log segment", path))?;
            file.sync_all()
                .map_err(io_error("fsync log segment", path))?;
        }
        Ok(Self::new(file, path, policy, valid_len))
    }

    fn new(file: File, path: &Path, policy: FsyncPolicy, len_bytes: u64) -> Self {
        Self {
            file,
            path: path.to_path_buf(),
            policy,
            pending: Vec::with_capacity(4096),
            len_bytes,
            unsynced_since_ms: None,
            poisoned: false,
        }
    }

    /// Buffers an entry; nothing reaches the file before [`Self::commit`].
    pub fn append(&mut self, entry: &LogEntry) {
        encode_entry(&mut self.pending, entry);
    }

    /// Writes the buffered entries to the file in one `write` and fsyncs as
    /// the policy says. When this returns `Ok`, the entries survive the
    /// process being killed; with [`FsyncPolicy::Always`] they also survive
    /// power loss. On `Err` none of them is in the log.
    pub fn commit(&mut self, now_ms: u64) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.write_pending()?;
        self.unsynced_since_ms.get_or_insert(now_ms);
        match self.policy {
            FsyncPolicy::Always => self.sync(),
            FsyncPolicy::IntervalMs(_) => self.sync_if_due(now_ms),
            FsyncPolicy::Never => Ok(()),
        }
    }

    fn write_pending(&mut self) -> Result<(), StoreError> {
        if self.poisoned {
            self.pending.clear();
            return Err(StoreError::LogPoisoned {
                path: self.path.clone(),
            });
        }
        let result = self.file.write_all(&self.pending);
        let written = self.pending.len() as u64;
        self.pending.clear();
        match result {
            Ok(()) => {
                self.len_bytes += written;
                Ok(())
            }
            Err(source) => {
                // A partial write would leave a torn frame in the middle of the
                // log, hiding every later entry from recovery: cut it off.
                if self.file.set_len(self.len_bytes).is_err() {
                    self.poisoned = true;
                }
                Err(StoreError::Io {
                    op: "append to log",
                    path: self.path.clone(),
                    source,
                })
            }
        }
    }

    /// When [`Self::sync_if_due`] will next have work to do.
    pub fn sync_due_ms(&self) -> Option<u64> {
        match self.policy {
            FsyncPolicy::IntervalMs(interval_ms) => self
                .unsynced_since_ms
                .map(|since| since.saturating_add(interval_ms)),
            FsyncPolicy::Always | FsyncPolicy::Never => None,
        }
    }

    /// Fsyncs when the oldest unsynced write is older than the interval.
    pub fn sync_if_due(&mut self, now_ms: u64) -> Result<(), StoreError> {
        match self.sync_due_ms() {
            Some(due_ms) if now_ms >= due_ms => self.sync(),
            _ => Ok(()),
        }
    }

    /// Fsyncs (data only) whatever was written.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        if self.unsynced_since_ms.is_some() {
            self.sync_file()?;
        }
        Ok(())
    }

    fn sync_file(&mut self) -> Result<(), StoreError> {
        self.file
            .sync_data()
            .map_err(io_error("fsync log segment", &self.path))?;
        self.unsynced_since_ms = None;
        Ok(())
    }

    /// Bytes in the segment, header included.
    pub fn len_bytes(&self) -> u64 {
        self.len_bytes
    }

    /// Whether the segment holds any entry.
    pub fn has_entries(&self) -> bool {
        self.len_bytes > LOG_MAGIC.len() as u64
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Makes a file's directory entry durable (after create, rename, unlink).
pub(crate) fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("fsync directory", dir))
}

pub(crate) fn io_error(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { op, path, source }
}
