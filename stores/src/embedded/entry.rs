//! Log and snapshot entries and their on-disk framing.
//!
//! A frame is `[payload length: u32 LE][CRC32 of payload: u32 LE][payload]`.
//! A frame that is short, over-long, zero-length or fails its checksum is a
//! torn write: recovery stops reading that file there.

use bytes::Bytes;

use super::map::RecordRef;
use crate::{KEY_LEN_MAX, Record, VALUE_LEN_MAX};

/// Bytes before a frame's payload.
pub(crate) const FRAME_HEADER_LEN: usize = 8;
/// Longest payload a valid frame can carry: a put of the largest key and value.
pub(crate) const FRAME_PAYLOAD_LEN_MAX: usize = 1 + 4 + KEY_LEN_MAX + 8 + 8 + 4 + VALUE_LEN_MAX;

const TAG_PUT: u8 = 1;
const TAG_DELETE: u8 = 2;
const TAG_SNAPSHOT_HEADER: u8 = 3;

/// One mutation, as the map produces it and the log persists it. Replaying
/// entries in order rebuilds the map: a put carries the whole record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEntry {
    Put { key: Bytes, record: Record },
    Delete { key: Bytes },
}

/// The first frame of a snapshot file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SnapshotHeader {
    /// The first log segment not contained in the snapshot.
    pub next_segment: u64,
    pub records_count: u64,
}

/// What the bytes at the start of a buffer hold.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameRead<'a> {
    Complete {
        payload: &'a [u8],
        frame_len: usize,
    },
    /// The buffer is empty: a clean end.
    End,
    /// An incomplete or damaged frame.
    Torn(&'static str),
}

/// Appends one framed entry to `buf`.
pub(crate) fn encode_entry(buf: &mut Vec<u8>, entry: &LogEntry) {
    match entry {
        LogEntry::Put { key, record } => encode_put(
            buf,
            key,
            RecordRef {
                value: &record.value,
                version: record.version,
                expires_at_ms: record.expires_at_ms,
            },
        ),
        LogEntry::Delete { key } => {
            let start = begin_frame(buf);
            buf.push(TAG_DELETE);
            put_bytes(buf, key);
            end_frame(buf, start);
        }
    }
}

/// Appends one framed put of `record` under `key` to `buf`, without cloning
/// either (a snapshot writes every record this way).
pub(crate) fn encode_put(buf: &mut Vec<u8>, key: &[u8], record: RecordRef<'_>) {
    let start = begin_frame(buf);
    buf.push(TAG_PUT);
    put_bytes(buf, key);
    buf.extend_from_slice(&record.version.to_le_bytes());
    buf.extend_from_slice(&record.expires_at_ms.to_le_bytes());
    put_bytes(buf, record.value);
    end_frame(buf, start);
}

/// Appends a framed snapshot header to `buf`.
pub(crate) fn encode_snapshot_header(buf: &mut Vec<u8>, header: SnapshotHeader) {
    let start = begin_frame(buf);
    buf.push(TAG_SNAPSHOT_HEADER);
    buf.extend_from_slice(&header.next_segment.to_le_bytes());
    buf.extend_from_slice(&header.records_count.to_le_bytes());
    end_frame(buf, start);
}

fn begin_frame(buf: &mut Vec<u8>) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0; FRAME_HEADER_LEN]);
    start
}

fn end_frame(buf: &mut [u8], start: usize) {
    let payload = &buf[start + FRAME_HEADER_LEN..];
    // Payloads are bounded by the record limits, far below u32::MAX.
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let crc = crc32fast::hash(payload);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(bytes);
}

/// Reads the frame at the start of `buf`, checking length and checksum.
pub(crate) fn read_frame(buf: &[u8]) -> FrameRead<'_> {
    if buf.is_empty() {
        return FrameRead::End;
    }
    let Some((len, crc)) = buf
        .get(..FRAME_HEADER_LEN)
        .map(|h| (le_u32(&h[..4]), le_u32(&h[4..])))
    else {
        return FrameRead::Torn("short frame header");
    };
    let len = len as usize;
    if len == 0 {
        // A crash can leave a zero-filled tail; its checksum would match.
        return FrameRead::Torn("zero-length frame");
    }
    if len > FRAME_PAYLOAD_LEN_MAX {
        return FrameRead::Torn("frame length beyond the limit");
    }
    let Some(payload) = buf.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + len) else {
        return FrameRead::Torn("short frame payload");
    };
    if crc32fast::hash(payload) != crc {
        return FrameRead::Torn("frame checksum mismatch");
    }
    FrameRead::Complete {
        payload,
        frame_len: FRAME_HEADER_LEN + len,
    }
}

/// Decodes a checksummed payload as a log entry.
pub(crate) fn decode_entry(payload: &[u8]) -> Result<LogEntry, &'static str> {
    let mut cursor = Cursor(payload);
    let entry = match cursor.u8()? {
        TAG_PUT => {
            let key = cursor.bytes(KEY_LEN_MAX)?;
            let version = cursor.u64()?;
            let expires_at_ms = cursor.u64()?;
            let value = cursor.bytes(VALUE_LEN_MAX)?;
            LogEntry::Put {
                key,
                record: Record {
                    value,
                    version,
                    expires_at_ms,
                },
            }
        }
        TAG_DELETE => LogEntry::Delete {
            key: cursor.bytes(KEY_LEN_MAX)?,
        },
        _ => return Err("unknown entry tag"),
    };
    if !cursor.0.is_empty() {
        return Err("trailing bytes after entry");
    }
    Ok(entry)
}

/// Decodes a checksummed payload as a snapshot header.
pub(crate) fn decode_snapshot_header(payload: &[u8]) -> Result<SnapshotHeader, &'static str> {
    let mut cursor = Cursor(payload);
    if cursor.u8()? != TAG_SNAPSHOT_HEADER {
        return Err("first frame is not a snapshot header");
    }
    let header = SnapshotHeader {
        next_segment: cursor.u64()?,
        records_count: cursor.u64()?,
    };
    if !cursor.0.is_empty() {
        return Err("trailing bytes after snapshot header");
    }
    Ok(header)
}

fn le_u32(bytes: &[u8]) -> u32 {
    let mut array = [0; 4];
    array.copy_from_slice(bytes);
    u32::from_le_bytes(array)
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, len: usize) -> Result<&[u8], &'static str> {
        if self.0.len() < len {
            return Err("entry shorter than its fields");
        }
        let (head, tail) = self.0.split_at(len);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, &'static str> {
        let mut array = [0; 8];
        array.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(array))
    }

    fn bytes(&mut self, len_max: usize) -> Result<Bytes, &'static str> {
        let len = le_u32(self.take(4)?) as usize;
        if len > len_max {
            return Err("field length beyond the limit");
        }
        Ok(Bytes::copy_from_slice(self.take(len)?))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn put(key: &str, value: &str, version: u64, expires_at_ms: u64) -> LogEntry {
        LogEntry::Put {
            key: Bytes::copy_from_slice(key.as_bytes()),
            record: Record {
                value: Bytes::copy_from_slice(value.as_bytes()),
                version,
                expires_at_ms,
            },
        }
    }

    #[test]
    fn put_and_delete_round_trip() {
        let entries = [
            put("sip:alice@example.com", "bindings", 7, 1_000),
            LogEntry::Delete {
                key: Bytes::from_static(b"sip:bob@example.com"),
            },
        ];
        let mut buf = Vec::new();
        for entry in &entries {
            encode_entry(&mut buf, entry);
        }
        let mut rest = &buf[..];
        for entry in &entries {
            let FrameRead::Complete { payload, frame_len } = read_frame(rest) else {
                panic!("frame expected");
            };
            assert_eq!(&decode_entry(payload).unwrap(), entry);
            rest = &rest[frame_len..];
        }
        assert_eq!(read_frame(rest), FrameRead::End);
    }

    #[test]
    fn every_truncation_of_a_frame_reads_as_torn() {
        let mut buf = Vec::new();
        encode_entry(&mut buf, &put("k", "value", 1, 5));
        for len in 1..buf.len() {
            assert!(
                matches!(read_frame(&buf[..len]), FrameRead::Torn(_)),
                "{len}"
            );
        }
    }

    #[test]
    fn a_flipped_payload_bit_fails_the_checksum() {
        let mut buf = Vec::new();
        encode_entry(&mut buf, &put("k", "value", 1, 5));
        let last = buf.len() - 1;
        buf[last] ^= 1;
        assert_eq!(read_frame(&buf), FrameRead::Torn("frame checksum mismatch"));
    }

    #[test]
    fn a_zero_filled_tail_is_torn_not_an_empty_frame() {
        assert_eq!(read_frame(&[0; 16]), FrameRead::Torn("zero-length frame"));
    }

    #[test]
    fn snapshot_header_round_trips() {
        let header = SnapshotHeader {
            next_segment: 4,
            records_count: 9,
        };
        let mut buf = Vec::new();
        encode_snapshot_header(&mut buf, header);
        let FrameRead::Complete { payload, .. } = read_frame(&buf) else {
            panic!("frame expected");
        };
        assert_eq!(decode_snapshot_header(payload), Ok(header));
        assert!(decode_entry(payload).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let FrameRead::Complete { payload, .. } = read_frame(&bytes) {
                let _ = decode_entry(payload);
                let _ = decode_snapshot_header(payload);
            }
            let _ = decode_entry(&bytes);
            let _ = decode_snapshot_header(&bytes);
        }
    }
}
