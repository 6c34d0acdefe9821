//! The expiry index: which records expire when, so that expiry sweeps run
//! by several engine nodes on one Redis never process a record twice at
//! once, and a sweep that dies midway is taken up again.
//!
//! The index is [`EXPIRY_BUCKETS`] sorted sets under `<prefix>exp:{<bucket>}`
//! (the bucket number is the hash tag, so each set is one Redis Cluster
//! slot). A member is a record key as the store's callers name it (without
//! the prefix); its score is the time its content expires (ms since the
//! epoch, the record's `expires_at_ms`, before any grace), or the end of the
//! lease of a claim on it. A record's bucket is [`expiry_bucket`]: CRC-32
//! (IEEE, as `crc32fast` computes it) of the record key, modulo
//! [`EXPIRY_BUCKETS`].
//!
//! - A writer indexes a record with each write: ZADD (the new expiry
//!   replaces the old score, and a claim's lease with it) sent ahead of the
//!   compare-and-set in the same round trip
//!   ([`cas_with_grace_indexed`](RedisStore::cas_with_grace_indexed)), or
//!   [`index`](RedisStore::index) on its own. A delete may leave the member
//!   behind.
//! - A sweeper [`claim_due`](RedisStore::claim_due)s a bucket: a script
//!   takes the members due at `now_ms` and moves their score to the lease's
//!   end, so no other claim before then sees them; two sweepers never hold
//!   the same member, and one that dies leaves its members to be claimed
//!   again when the lease runs out.
//! - It settles each member: [`delete_expired`](RedisStore::delete_expired)
//!   removes a record that expired and is still kept for its grace, and
//!   tells the one caller that removed it; a live record is read and indexed
//!   again at its real expiry.
//! - It [`finish`](RedisStore::finish)es the member: a script removes it
//!   only if its score is still the lease, so a write that indexed the
//!   record meanwhile wins.
//!
//! The index is not written atomically with its records (in a cluster they
//! live in other slots): a member can outlive its record, or its score can
//! be earlier than the record's expiry. The sweeper looks at the record and
//! decides; the index only says when to look.

use bytes::Bytes;
use futures_lite::io::{AsyncRead, AsyncWrite};

use super::resp::Value;
use super::scripts;
use super::store::{RedisStore, decimal, unexpected};
use crate::record::check_key;
use crate::{EXPIRES_AT_MS_MAX, StoreError};

/// How many sorted sets the expiry index is spread over. Sweepers share the
/// work by bucket (each engine shard sweeps `bucket % shards == shard`), and
/// in a Redis Cluster the buckets spread over the nodes. Changing it moves
/// records to other buckets: index entries under the old numbering would be
/// left behind.
pub const EXPIRY_BUCKETS: u16 = 64;

/// The expiry-index bucket of a record key: CRC-32 (IEEE) of the key,
/// modulo [`EXPIRY_BUCKETS`]. The same on every node and in every version.
pub fn expiry_bucket(key: &[u8]) -> u16 {
    // The remainder is below EXPIRY_BUCKETS, so it fits.
    (crc32fast::hash(key) % u32::from(EXPIRY_BUCKETS)) as u16
}

/// A member a sweeper holds until `lease_until_ms` (or until it finishes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The record key.
    pub key: Bytes,
    /// The score it was due at when claimed: the record's indexed expiry, or
    /// the end of an earlier claim's lease that ran out unfinished.
    pub due_at_ms: u64,
    /// The member's score while the claim holds it: what
    /// [`RedisStore::finish`] must be given.
    pub lease_until_ms: u64,
}

/// What [`RedisStore::delete_expired`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiredRecord {
    /// The record had expired and was still kept: this call deleted it.
    Deleted,
    /// There was no record (deleted, or dropped by its TTL).
    Absent,
    /// The record is live (written again since it was indexed): left alone.
    Live,
}

impl<S: AsyncRead + AsyncWrite + Unpin> RedisStore<S> {
    /// The Redis key of an expiry bucket: `<prefix>exp:{<bucket>}`.
    pub fn expiry_index_key(&self, bucket: u16) -> Vec<u8> {
        let mut index_key = Vec::with_capacity(self.key_prefix().len() + 12);
        index_key.extend_from_slice(self.key_prefix());
        index_key.extend_from_slice(b"exp:{");
        index_key.extend_from_slice(&decimal(u64::from(bucket)));
        index_key.push(b'}');
        index_key
    }

    /// Index a record at `expires_at_ms` and compare-and-set it (as
    /// [`RedisStore::cas_with_grace`]) in one round trip, the index first: a
    /// record this writes is never left unindexed, even if the writer dies
    /// between the two. A write that loses its compare-and-set leaves its
    /// expiry as the member's score; the winner's own index write, or the
    /// sweep that finds the record live, puts the real one back.
    #[allow(clippy::too_many_arguments)]
    pub async fn cas_with_grace_indexed(
        &mut self,
        key: &[u8],
        expected_version: u64,
        value: &[u8],
        expires_at_ms: u64,
        grace_ms: u64,
        now_ms: u64,
    ) -> Result<crate::CasOutcome, StoreError> {
        check_key(key)?;
        if expires_at_ms > EXPIRES_AT_MS_MAX {
            return Err(StoreError::ExpiryOutOfRange { expires_at_ms });
        }
        let index_key = self.expiry_index_key(expiry_bucket(key));
        let score = decimal(expires_at_ms);
        let zadd: [&[u8]; 4] = [b"ZADD", &index_key, &score, key];
        self.cas_after(
            Some(&zadd),
            key,
            expected_version,
            value,
            expires_at_ms,
            grace_ms,
            now_ms,
        )
        .await
    }

    /// Index a record to expire at `expires_at_ms`; call it after each
    /// successful write of the record. Replaces its earlier expiry, or the
    /// lease of a claim on it.
    pub async fn index(&mut self, key: &[u8], expires_at_ms: u64) -> Result<(), StoreError> {
        check_key(key)?;
        if expires_at_ms > EXPIRES_AT_MS_MAX {
            return Err(StoreError::ExpiryOutOfRange { expires_at_ms });
        }
        let index_key = self.expiry_index_key(expiry_bucket(key));
        let score = decimal(expires_at_ms);
        let reply = self
            .connection_mut()
            .command(&[b"ZADD", &index_key, &score, key])
            .await?;
        match reply {
            Value::Integer(_) => Ok(()),
            other => Err(unexpected("index", &other)),
        }
    }

    /// Claim up to `limit` records of `bucket` due at `now_ms` (indexed to
    /// expire at or before it), earliest first, for `lease_ms` (at least
    /// 1 ms): until `now_ms + lease_ms` no other claim takes them.
    pub async fn claim_due(
        &mut self,
        bucket: u16,
        now_ms: u64,
        lease_ms: u64,
        limit: usize,
    ) -> Result<Vec<Claim>, StoreError> {
        check_bucket(bucket)?;
        let lease_until_ms = now_ms.saturating_add(lease_ms.max(1));
        if lease_until_ms > EXPIRES_AT_MS_MAX {
            return Err(StoreError::ExpiryOutOfRange {
                expires_at_ms: lease_until_ms,
            });
        }
        if limit == 0 {
            return Ok(Vec::new());
        }
        let index_key = self.expiry_index_key(bucket);
        let now = decimal(now_ms);
        let lease_until = decimal(lease_until_ms);
        let limit = decimal(u64::try_from(limit).unwrap_or(u64::MAX));
        let reply = self
            .eval(
                scripts::CLAIM,
                scripts::CLAIM_SHA1,
                &index_key,
                &[&now, &lease_until, &limit],
            )
            .await?;
        let Value::Array(items) = &reply else {
            return Err(unexpected("claim_due", &reply));
        };
        if items.len() % 2 != 0 {
            return Err(unexpected("claim_due", &reply));
        }
        items
            .chunks_exact(2)
            .map(|pair| match pair {
                [Value::Bulk(key), Value::Bulk(score)] => Ok(Claim {
                    key: Bytes::clone(key),
                    due_at_ms: parse_score(score).ok_or_else(|| unexpected("claim_due", &reply))?,
                    lease_until_ms,
                }),
                _ => Err(unexpected("claim_due", &reply)),
            })
            .collect()
    }

    /// Delete a record only if it is expired at `now_ms` and Redis still
    /// keeps it (within its grace): of several sweepers that try, exactly one
    /// gets [`ExpiredRecord::Deleted`]. A live record is left alone.
    pub async fn delete_expired(
        &mut self,
        key: &[u8],
        now_ms: u64,
    ) -> Result<ExpiredRecord, StoreError> {
        check_key(key)?;
        let redis_key = self.redis_key(key);
        let now = decimal(now_ms);
        let reply = self
            .eval(
                scripts::DELETE_EXPIRED,
                scripts::DELETE_EXPIRED_SHA1,
                &redis_key,
                &[&now],
            )
            .await?;
        match reply {
            Value::Integer(1) => Ok(ExpiredRecord::Deleted),
            Value::Integer(0) => Ok(ExpiredRecord::Absent),
            Value::Integer(-1) => Ok(ExpiredRecord::Live),
            other => Err(unexpected("delete_expired", &other)),
        }
    }

    /// Done with a claimed record: remove it from `bucket` if its score is
    /// still the claim's `lease_until_ms`. `Ok(false)`: it was indexed
    /// again meanwhile (or another claim took it after the lease ran out),
    /// and stays.
    pub async fn finish(
        &mut self,
        bucket: u16,
        key: &[u8],
        lease_until_ms: u64,
    ) -> Result<bool, StoreError> {
        check_bucket(bucket)?;
        check_key(key)?;
        let index_key = self.expiry_index_key(bucket);
        let lease_until = decimal(lease_until_ms);
        let reply = self
            .eval(
                scripts::FINISH,
                scripts::FINISH_SHA1,
                &index_key,
                &[key, &lease_until],
            )
            .await?;
        match reply {
            Value::Integer(removed @ (0 | 1)) => Ok(removed == 1),
            other => Err(unexpected("finish", &other)),
        }
    }
}

/// A sorted-set score as Redis writes it (a double; ours are whole
/// milliseconds below 2^53, so exact).
fn parse_score(digits: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(digits).ok()?;
    if let Ok(ms) = text.parse::<u64>() {
        return Some(ms);
    }
    let ms = text.parse::<f64>().ok()?;
    // Whole, non-negative and within the exact range: nothing is lost.
    (ms.is_finite() && ms >= 0.0 && ms <= EXPIRES_AT_MS_MAX as f64 && ms.fract() == 0.0)
        .then_some(ms as u64)
}

fn check_bucket(bucket: u16) -> Result<(), StoreError> {
    if bucket >= EXPIRY_BUCKETS {
        return Err(StoreError::BadBucket { bucket });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_crc32_of_the_record_key() {
        // Pinned: every node and every version must agree.
        assert_eq!(expiry_bucket(b"aor:sip:alice@example.com"), 39);
        assert_eq!(expiry_bucket(b"aor:sip:6505550000@example.com"), 56);
        assert!((0..1000).all(|i| expiry_bucket(format!("k{i}").as_bytes()) < EXPIRY_BUCKETS));
    }

    #[test]
    fn scores_parse_as_whole_milliseconds() {
        assert_eq!(parse_score(b"1700000000123"), Some(1_700_000_000_123));
        assert_eq!(parse_score(b"1.7e+12"), Some(1_700_000_000_000));
        assert_eq!(parse_score(b"0"), Some(0));
        for bad in [&b"-1"[..], b"1.5", b"inf", b"nan", b"1e300", b"", b"x"] {
            assert_eq!(parse_score(bad), None, "{bad:?}");
        }
    }
}
