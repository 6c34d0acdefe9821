//! Rebuilding a shard's map from its snapshot and log segments.
//!
//! Files in the shard's directory: `snapshot` (complete, or absent),
//! `snapshot.tmp` (an interrupted snapshot, discarded) and `log-<seq>` segments.
//! The snapshot names the first segment it does not cover; older segments are
//! leftovers of an interrupted compaction and are deleted. Newer ones are
//! replayed in order, each up to its first torn frame.

use std::path::{Path, PathBuf};

use super::entry::{FrameRead, decode_entry, read_frame};
use super::log_writer::{LOG_MAGIC, io_error};
use super::map::ShardMap;
use super::snapshot::{load_snapshot, snapshot_temp_path};
use crate::StoreError;

const SEGMENT_PREFIX: &str = "log-";

/// The state found on disk.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub map: ShardMap,
    /// The newest segment and the length of its whole frames, to append to.
    pub last_segment: Option<(u64, u64)>,
    /// The segment to create when there is none to append to.
    pub first_segment: u64,
    /// Entries replayed from the log (not counting the snapshot).
    pub entries_replayed: u64,
}

pub(crate) fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{SEGMENT_PREFIX}{seq:020}"))
}

/// Sequence numbers of the log segments in `dir`, ascending.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let mut seqs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error("list shard directory", dir))? {
        let entry = entry.map_err(io_error("list shard directory", dir))?;
        let name = entry.file_name();
        let seq = name
            .to_str()
            .and_then(|name| name.strip_prefix(SEGMENT_PREFIX))
            .and_then(|seq| seq.parse::<u64>().ok());
        if let Some(seq) = seq {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

pub(crate) fn recover(dir: &Path) -> Result<Recovered, StoreError> {
    let temp_path = snapshot_temp_path(dir);
    match std::fs::remove_file(&temp_path) {
        Ok(()) => tracing::warn!(path = %temp_path.display(), "discarded an interrupted snapshot"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error("remove interrupted snapshot", &temp_path)(e)),
    }
    let mut map = ShardMap::new();
    let first_segment = load_snapshot(dir, &mut map)?.unwrap_or(1);
    let mut last_segment = None;
    let mut entries_replayed = 0;
    for seq in list_segments(dir)? {
        let path = segment_path(dir, seq);
        if seq < first_segment {
            std::fs::remove_file(&path).map_err(io_error("remove compacted segment", &path))?;
            continue;
        }
        let (valid_len, entries) = replay_segment(&path, &mut map)?;
        entries_replayed += entries;
        last_segment = Some((seq, valid_len));
    }
    Ok(Recovered {
        map,
        last_segment,
        first_segment,
        entries_replayed,
    })
}

/// Applies the whole frames of one segment; returns their end offset and count.
fn replay_segment(path: &Path, map: &mut ShardMap) -> Result<(u64, u64), StoreError> {
    let bytes = std::fs::read(path).map_err(io_error("read log segment", path))?;
    let Some(mut rest) = bytes.strip_prefix(LOG_MAGIC) else {
        if LOG_MAGIC.starts_with(&bytes) {
            // Killed while creating the segment: it holds nothing.
            return Ok((0, 0));
        }
        return Err(StoreError::CorruptLog {
            path: path.to_path_buf(),
            reason: "missing log magic",
        });
    };
    let mut valid_len = LOG_MAGIC.len();
    let mut entries = 0;
    loop {
        match read_frame(rest) {
            FrameRead::Complete { payload, frame_len } => {
                let entry = decode_entry(payload).map_err(|reason| StoreError::CorruptLog {
                    path: path.to_path_buf(),
                    reason,
                })?;
                map.apply(entry);
                entries += 1;
                valid_len += frame_len;
                rest = &rest[frame_len..];
            }
            FrameRead::End => break,
            FrameRead::Torn(reason) => {
                tracing::warn!(
                    path = %path.display(),
                    offset = valid_len,
                    discarded_bytes = rest.len(),
                    reason,
                    "log ends in a torn entry; replay stops there"
                );
                break;
            }
        }
    }
    Ok((valid_len as u64, entries))
}
