//! The record model shared by both stores.

use bytes::Bytes;

use crate::StoreError;

/// Longest key accepted, in bytes (an AoR or IMPI is far shorter).
pub const KEY_LEN_MAX: usize = 1024;
/// Largest value accepted, in bytes (a serialised AoR with many bindings).
pub const VALUE_LEN_MAX: usize = 1024 * 1024;
/// Latest expiry accepted: 2^53 ms, beyond any real date and exact in the
/// double-precision numbers Redis's Lua uses.
pub const EXPIRES_AT_MS_MAX: u64 = 1 << 53;

/// A stored value with the version a compare-and-set must present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub value: Bytes,
    /// 1 for a new record, +1 on each write. An absent record has version 0;
    /// the version of a deleted or expired record is forgotten.
    pub version: u64,
    /// The record is gone for readers once `now_ms >= expires_at_ms`.
    pub expires_at_ms: u64,
}

impl Record {
    /// Whether a reader at `now_ms` no longer sees this record.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        now_ms >= self.expires_at_ms
    }
}

/// What a compare-and-set did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasOutcome {
    /// The value was stored with this new version.
    Written { version: u64 },
    /// The stored version was not the expected one; nothing was written.
    Conflict { current_version: u64 },
}

/// What a conditional delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The record is gone (or was already absent and version 0 was expected).
    Deleted,
    /// The stored version was not the expected one; nothing was deleted.
    Conflict { current_version: u64 },
}

/// Refuses keys, values and expiries beyond the stated limits.
pub fn check_record_limits(key: &[u8], value: &[u8], expires_at_ms: u64) -> Result<(), StoreError> {
    check_key(key)?;
    if value.len() > VALUE_LEN_MAX {
        return Err(StoreError::ValueTooLarge {
            len: value.len(),
            max: VALUE_LEN_MAX,
        });
    }
    if expires_at_ms > EXPIRES_AT_MS_MAX {
        return Err(StoreError::ExpiryOutOfRange { expires_at_ms });
    }
    Ok(())
}

/// Refuses empty keys and keys beyond [`KEY_LEN_MAX`].
pub(crate) fn check_key(key: &[u8]) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(StoreError::EmptyKey);
    }
    if key.len() > KEY_LEN_MAX {
        return Err(StoreError::KeyTooLong {
            len: key.len(),
            max: KEY_LEN_MAX,
        });
    }
    Ok(())
}
