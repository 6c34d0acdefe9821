//! Whole-shard snapshots: every record, written to a temporary file, fsynced,
//! then renamed into place, so a snapshot on disk is always complete.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::entry::{
    FrameRead, SnapshotHeader, decode_entry, decode_snapshot_header, encode_put,
    encode_snapshot_header, read_frame,
};
use super::log_writer::{io_error, sync_dir};
use super::map::ShardMap;
use crate::StoreError;

/// The first bytes of every snapshot.
const SNAPSHOT_MAGIC: &[u8; 8] = b"RIPSNP01";
const SNAPSHOT_FILE: &str = "snapshot";
const SNAPSHOT_TEMP_FILE: &str = "snapshot.tmp";

pub(crate) fn snapshot_path(dir: &Path) -> PathBuf {
    dir.join(SNAPSHOT_FILE)
}

pub(crate) fn snapshot_temp_path(dir: &Path) -> PathBuf {
    dir.join(SNAPSHOT_TEMP_FILE)
}

/// Writes every record of `map` as the snapshot of `dir`, covering the log
/// segments before `next_segment`. Returns the snapshot's size in bytes.
pub(crate) fn write_snapshot(
    dir: &Path,
    map: &ShardMap,
    next_segment: u64,
) -> Result<u64, StoreError> {
    let temp_path = snapshot_temp_path(dir);
    let file = File::create(&temp_path).map_err(io_error("create snapshot", &temp_path))?;
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    let mut frame = Vec::with_capacity(4096);
    frame.extend_from_slice(SNAPSHOT_MAGIC);
    encode_snapshot_header(
        &mut frame,
        SnapshotHeader {
            next_segment,
            records_count: map.len() as u64,
        },
    );
    let mut len_bytes = 0u64;
    let mut write = |out: &mut BufWriter<File>, frame: &mut Vec<u8>| {
        len_bytes += frame.len() as u64;
        let result = out.write_all(frame);
        frame.clear();
        result.map_err(io_error("write snapshot", &temp_path))
    };
    write(&mut out, &mut frame)?;
    for (key, record) in map.iter() {
        encode_put(&mut frame, key, record);
        write(&mut out, &mut frame)?;
    }
    let file = out
        .into_inner()
        .map_err(|e| io_error("write snapshot", &temp_path)(e.into_error()))?;
    file.sync_all()
        .map_err(io_error("fsync snapshot", &temp_path))?;
    drop(file);
    let path = snapshot_path(dir);
    std::fs::rename(&temp_path, &path).map_err(io_error("rename snapshot", &path))?;
    sync_dir(&path)?;
    Ok(len_bytes)
}

/// Loads the snapshot of `dir` into `map`, if there is one, and returns the
/// first log segment it does not cover.
pub(crate) fn load_snapshot(dir: &Path, map: &mut ShardMap) -> Result<Option<u64>, StoreError> {
    let path = snapshot_path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("read snapshot", &path)(e)),
    };
    let corrupt = |reason| StoreError::CorruptSnapshot {
        path: path.clone(),
        reason,
    };
    let mut rest = bytes
        .strip_prefix(SNAPSHOT_MAGIC)
        .ok_or_else(|| corrupt("missing snapshot magic"))?;
    let header = match read_frame(rest) {
        FrameRead::Complete { payload, frame_len } => {
            rest = &rest[frame_len..];
            decode_snapshot_header(payload).map_err(corrupt)?
        }
        FrameRead::End | FrameRead::Torn(_) => return Err(corrupt("unreadable header")),
    };
    let mut records_count = 0u64;
    loop {
        match read_frame(rest) {
            FrameRead::Complete { payload, frame_len } => {
                rest = &rest[frame_len..];
                map.apply(decode_entry(payload).map_err(corrupt)?);
                records_count += 1;
            }
            FrameRead::End => break,
            FrameRead::Torn(reason) => return Err(corrupt(reason)),
        }
    }
    if records_count != header.records_count || map.len() as u64 != records_count {
        return Err(corrupt("record count differs from the header"));
    }
    Ok(Some(header.next_segment))
}
