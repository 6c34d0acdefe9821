//! The S-CSCF's registration store on Redis: the same records as the
//! embedded store ([`super::records`]), as [`stores::redis::RedisStore`]
//! hashes with hash-tagged keys, over keep-alive connections this shard
//! owns. Several engine nodes can share the Redis.
//!
//! Expiry, with several nodes: every AoR write also indexes the AoR at its
//! last binding's expiry ([`stores::redis::expiry`]; the ZADD goes ahead of
//! the compare-and-set in the same round trip), and Redis keeps the
//! key [`AOR_GRACE_MS`] longer than that (its TTL is last expiry + grace).
//! Once a second each shard sweeps its share of the index buckets
//! (`bucket % shards == shard`, so every node sweeps every bucket): it
//! claims the AoRs due and settles each. One with no live binding left is
//! deleted with a conditional delete that only one sweeper can win, counted
//! and reported to the HSS cache as `dereg-timeout` through the same path
//! as the embedded store's sweep. One written again meanwhile is left alone
//! (live: indexed again at its real expiry). One already gone was removed by
//! a deregistration or by another sweep (which reported it), unless it was
//! due a whole grace ago: then only Redis's TTL can have removed it, and it
//! is reported late. Claims are exclusive and leased, so no AoR is processed
//! by two nodes at once, and one whose sweeper died is taken up again after
//! [`SWEEP_LEASE_MS`]. Errors are logged and leave the claim to run out and
//! the AoR to be retried. Challenges expire by Redis's TTL alone: nobody
//! needs to hear of them.

use super::bindings::{Swept, unix_ms};
use super::records::{
    aor_key, aor_of_key, challenge_key, decode_challenge, encode_aor, encode_challenge,
    live_bindings_in, store_error as err, versioned_aor,
};
use crate::auth::Challenge;
use crate::registrar::Aor;
use crate::scscf::{BindingStore, StoreError, Versioned};
use glommio::net::TcpStream;
use std::cell::{Cell, RefCell};
use std::time::Duration;
use stores::redis::{Claim, EXPIRY_BUCKETS, ExpiredRecord, RedisStore, RedisStoreConfig};
use stores::{CasOutcome, DeleteOutcome};

/// Idle connections kept per shard.
const POOL_MAX: usize = 8;
/// How long Redis keeps an AoR's key past its last binding's expiry, so
/// that a sweep finds it, removes it and reports it; the key's TTL only
/// removes what no node swept in that time (all down, or Redis unreachable).
pub const AOR_GRACE_MS: u64 = 60_000;
/// How long a sweep's claim on a due AoR holds before another sweep may take
/// it up: far longer than settling one AoR takes (two or three round trips).
pub const SWEEP_LEASE_MS: u64 = 10_000;
/// AoRs claimed from one bucket per sweep (the rest wait a second).
const SWEEP_BATCH: usize = 100;

pub struct RedisBindings {
    host_port: String,
    db: u32,
    timeout: Duration,
    config: RedisStoreConfig,
    idle: RefCell<Vec<RedisStore<TcpStream>>>,
    /// A sweep is running on this shard: the next tick does not start another.
    sweeping: Cell<bool>,
    /// The last sweep failed (and said so): the next failures are quiet
    /// until one succeeds.
    sweep_failing: Cell<bool>,
}

impl RedisBindings {
    /// `url`: `redis://host:port[/db]`.
    pub fn new(url: &str, timeout: Duration, key_prefix: String) -> Result<Self, StoreError> {
        let addr = stores::redis::parse_redis_url(url).map_err(err)?;
        Ok(Self {
            host_port: addr.host_port(),
            db: addr.db,
            timeout,
            config: RedisStoreConfig { key_prefix },
            idle: RefCell::new(Vec::new()),
            sweeping: Cell::new(false),
            sweep_failing: Cell::new(false),
        })
    }

    async fn connect(&self) -> Result<RedisStore<TcpStream>, StoreError> {
        let stream =
            glommio::timer::timeout(self.timeout, TcpStream::connect(self.host_port.as_str()))
                .await
                .map_err(|e| StoreError(format!("Redis at {}: {e}", self.host_port)))?;
        let _ = stream.set_nodelay(true);
        let mut store = RedisStore::new(stream, self.config.clone()).map_err(err)?;
        if self.db != 0 {
            let db = self.db.to_string();
            store
                .connection_mut()
                .command(&[b"SELECT", db.as_bytes()])
                .await
                .map_err(err)?;
        }
        Ok(store)
    }

    /// Run `op` on a pooled connection (a new one when none is idle), within
    /// the timeout. A connection whose operation failed is dropped; a
    /// healthy one goes back.
    async fn with_store<T>(
        &self,
        op: impl AsyncFnOnce(&mut RedisStore<TcpStream>) -> Result<T, stores::StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.idle.borrow_mut().pop();
        let mut store = match pooled {
            Some(s) => s,
            None => self.connect().await?,
        };
        let result = glommio::timer::timeout(self.timeout, async { Ok(op(&mut store).await) })
            .await
            .map_err(|e| StoreError(format!("Redis at {}: {e}", self.host_port)))?;
        if result.is_ok() {
            let mut idle = self.idle.borrow_mut();
            if idle.len() < POOL_MAX {
                idle.push(store);
            }
        }
        result.map_err(err)
    }

    /// Sweep the expiry-index buckets shard `shard` of `shards` answers for,
    /// at `now_ms`, unless this shard's previous sweep is still running.
    /// `expired` gets each batch of AoRs the sweep removed (to count them
    /// and report them to the HSS cache) before their claims are finished.
    /// Failures are logged; the claims they leave run out and are taken up
    /// again.
    pub async fn sweep(
        &self,
        shard: usize,
        shards: usize,
        now_ms: u64,
        mut expired: impl FnMut(Swept),
    ) {
        if self.sweeping.replace(true) {
            return;
        }
        let buckets = (0..EXPIRY_BUCKETS).filter(|b| usize::from(*b) % shards.max(1) == shard);
        let mut failed = None;
        for bucket in buckets {
            if let Err(e) = self.sweep_bucket(bucket, now_ms, &mut expired).await {
                failed = Some((bucket, e));
                break;
            }
        }
        match (failed, self.sweep_failing.get()) {
            (Some((bucket, e)), false) => {
                tracing::warn!(shard, bucket, error = %e, "expiry sweep of the Redis store failed; it goes on every second");
                self.sweep_failing.set(true);
            }
            (Some((bucket, e)), true) => {
                tracing::debug!(shard, bucket, error = %e, "expiry sweep of the Redis store still failing");
            }
            (None, true) => {
                tracing::info!(shard, "expiry sweep of the Redis store works again");
                self.sweep_failing.set(false);
            }
            (None, false) => {}
        }
        self.sweeping.set(false);
    }

    /// Claim the AoRs of `bucket` due at `now`, settle each, hand the
    /// expired ones to `expired`, then finish the claims settled.
    async fn sweep_bucket(
        &self,
        bucket: u16,
        now: u64,
        expired: &mut impl FnMut(Swept),
    ) -> Result<(), StoreError> {
        let claims = self
            .with_store(async |s| s.claim_due(bucket, now, SWEEP_LEASE_MS, SWEEP_BATCH).await)
            .await?;
        if claims.is_empty() {
            return Ok(());
        }
        let mut swept = Swept::default();
        let mut settled = Vec::with_capacity(claims.len());
        for claim in claims {
            match self.settle(&claim, now).await {
                Ok(removed) => {
                    if removed {
                        swept.records += 1;
                        swept.aors.extend(aor_of_key(&claim.key));
                    }
                    settled.push(claim);
                }
                Err(e) => {
                    // Redis is failing: the rest of the batch waits for its
                    // claims to run out.
                    tracing::warn!(
                        key = %String::from_utf8_lossy(&claim.key),
                        error = %e,
                        "a due AoR could not be settled; it is retried when its claim runs out"
                    );
                    break;
                }
            }
        }
        if swept.records > 0 {
            expired(swept);
        }
        for claim in settled {
            let finished = self
                .with_store(async |s| s.finish(bucket, &claim.key, claim.lease_until_ms).await)
                .await;
            if let Err(e) = finished {
                tracing::warn!(
                    key = %String::from_utf8_lossy(&claim.key),
                    error = %e,
                    "a settled AoR stays claimed; it is looked at again when its claim runs out"
                );
            }
        }
        Ok(())
    }

    /// Settle one claimed AoR at `now_ms`: `true` when it timed out and is
    /// to be counted and reported (by this sweep alone); `false` when it is
    /// still registered (indexed again at its real expiry), or was removed
    /// by a deregistration or by another sweep.
    async fn settle(&self, claim: &Claim, now_ms: u64) -> Result<bool, StoreError> {
        let key = &claim.key[..];
        match self
            .with_store(async |s| s.delete_expired(key, now_ms).await)
            .await?
        {
            ExpiredRecord::Deleted => return Ok(true),
            // Gone: only Redis's TTL removes an AoR due a whole grace ago
            // (nobody swept it in time); sooner, a deregistration or another
            // sweep did, and reported it if it had to.
            ExpiredRecord::Absent => {
                return Ok(claim.due_at_ms.saturating_add(AOR_GRACE_MS) <= now_ms);
            }
            ExpiredRecord::Live => {}
        }
        let Some(record) = self.with_store(async |s| s.get(key, now_ms).await).await? else {
            return Ok(false);
        };
        if live_bindings_in(&record.value, now_ms / 1000) > 0 {
            self.with_store(async |s| s.index(key, record.expires_at_ms).await)
                .await?;
            return Ok(false);
        }
        // Not expired, yet no live binding (unreadable): it goes, unless
        // written again meanwhile.
        let deleted = self
            .with_store(async |s| s.delete(key, record.version, now_ms).await)
            .await?;
        Ok(deleted == DeleteOutcome::Deleted)
    }
}

impl BindingStore for RedisBindings {
    async fn get_aor(&self, aor: &str) -> Result<Versioned<Aor>, StoreError> {
        let key = aor_key(aor);
        let now = unix_ms();
        let found = self.with_store(async |s| s.get(&key, now).await).await?;
        versioned_aor(found.as_ref().map(|r| (&r.value[..], r.version)))
    }

    async fn set_aor(
        &self,
        aor: &str,
        value: &Aor,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let now = unix_ms();
        let key = aor_key(aor);
        let Some(expires) = value
            .last_expiry_s()
            .map(|s| s * 1000)
            .filter(|&ms| ms > now)
        else {
            // No live binding left: the AoR goes (its index entry may stay:
            // the sweep finds the AoR gone and reports nothing).
            let deleted = self
                .with_store(async |s| s.delete(&key, expected_version, now).await)
                .await?;
            return Ok(deleted == DeleteOutcome::Deleted);
        };
        let bytes = encode_aor(value);
        // Indexed in the same round trip, ahead of the write.
        let written = self
            .with_store(async |s| {
                s.cas_with_grace_indexed(&key, expected_version, &bytes, expires, AOR_GRACE_MS, now)
                    .await
            })
            .await?;
        Ok(matches!(written, CasOutcome::Written { .. }))
    }

    async fn put_challenge(
        &self,
        impi: &str,
        challenge: &Challenge,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let key = challenge_key(impi, &challenge.nonce);
        let now = unix_ms();
        let expires = challenge.expires_at_ms.max(now + 1);
        let bytes = encode_challenge(challenge);
        let written = self
            .with_store(async |s| s.cas(&key, expected_version, &bytes, expires, now).await)
            .await?;
        Ok(matches!(written, CasOutcome::Written { .. }))
    }

    async fn get_challenge(
        &self,
        impi: &str,
        nonce: &str,
    ) -> Result<Option<Versioned<Challenge>>, StoreError> {
        let key = challenge_key(impi, nonce);
        let now = unix_ms();
        match self.with_store(async |s| s.get(&key, now).await).await? {
            Some(r) => Ok(Some(Versioned {
                value: decode_challenge(&r.value).map_err(err)?,
                version: r.version,
            })),
            None => Ok(None),
        }
    }
}

/// The registration store a shard's S-CSCF uses, chosen by config.
// One per shard: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
pub enum ShardBindings {
    Embedded(super::bindings::EmbeddedBindings),
    Redis(RedisBindings),
}

impl BindingStore for ShardBindings {
    async fn get_aor(&self, aor: &str) -> Result<Versioned<Aor>, StoreError> {
        match self {
            ShardBindings::Embedded(s) => s.get_aor(aor).await,
            ShardBindings::Redis(s) => s.get_aor(aor).await,
        }
    }

    async fn set_aor(
        &self,
        aor: &str,
        value: &Aor,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        match self {
            ShardBindings::Embedded(s) => s.set_aor(aor, value, expected_version).await,
            ShardBindings::Redis(s) => s.set_aor(aor, value, expected_version).await,
        }
    }

    async fn put_challenge(
        &self,
        impi: &str,
        challenge: &Challenge,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        match self {
            ShardBindings::Embedded(s) => s.put_challenge(impi, challenge, expected_version).await,
            ShardBindings::Redis(s) => s.put_challenge(impi, challenge, expected_version).await,
        }
    }

    async fn get_challenge(
        &self,
        impi: &str,
        nonce: &str,
    ) -> Result<Option<Versioned<Challenge>>, StoreError> {
        match self {
            ShardBindings::Embedded(s) => s.get_challenge(impi, nonce).await,
            ShardBindings::Redis(s) => s.get_challenge(impi, nonce).await,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::registrar::Binding;
    use stores::redis::{Value, expiry_bucket};

    fn aor_until(expires_at_s: u64) -> Aor {
        Aor {
            bindings: vec![Binding::plain("sip:ue@10.0.0.1:5060", expires_at_s)],
        }
    }

    async fn command(node: &RedisBindings, args: &[&[u8]]) -> Value {
        node.with_store(async |s| s.connection_mut().command(args).await)
            .await
            .unwrap()
    }

    /// The AoR's score in the expiry index.
    async fn score(node: &RedisBindings, aor: &str) -> Value {
        let key = aor_key(aor);
        let index_key = node
            .with_store(async |s| Ok(s.expiry_index_key(expiry_bucket(&key))))
            .await
            .unwrap();
        command(node, &[b"ZSCORE", &index_key, &key]).await
    }

    /// With Redis unreachable a sweep reports nothing, panics not, and
    /// leaves the next sweep free to run (and to fail quietly).
    #[test]
    fn a_sweep_without_redis_fails_and_the_next_one_runs_again() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("redis://{}", closed.local_addr().unwrap());
        drop(closed);
        let ex = glommio::LocalExecutorBuilder::default().spawn(move || async move {
            let node = RedisBindings::new(&url, Duration::from_secs(2), "p:".into()).unwrap();
            let reported = Cell::new(0);
            for _ in 0..2 {
                node.sweep(0, 2, unix_ms(), |s| {
                    reported.set(reported.get() + s.records)
                })
                .await;
                assert!(node.sweep_failing.get());
                assert!(!node.sweeping.get());
            }
            assert_eq!(reported.get(), 0);
        });
        ex.unwrap().join().unwrap();
    }

    /// Two nodes sweep one Redis at the same moment: the AoR whose binding
    /// expired is removed and reported by exactly one of them; one still
    /// registered but indexed too early is indexed again at its real expiry;
    /// one deregistered on purpose is not reported; one Redis's TTL dropped
    /// because nobody swept it for a whole grace is reported late. Time is
    /// passed in: no waiting.
    #[test]
    fn sweeps_on_two_nodes_report_each_timed_out_aor_once() {
        let Ok(url) = std::env::var("RIPTIDE_TEST_REDIS_URL") else {
            eprintln!("RIPTIDE_TEST_REDIS_URL unset: skipping");
            return;
        };
        let ex = glommio::LocalExecutorBuilder::default().spawn(move || async move {
            let prefix = format!("riptide-test-sweep:{}-{}:", std::process::id(), unix_ms());
            let node = || RedisBindings::new(&url, Duration::from_secs(5), prefix.clone()).unwrap();
            let (a, b) = (node(), node());
            let now = unix_ms();
            let now_s = now / 1000;
            let later = now + 10_000;
            let (gone, stays, left, lost) = (
                "sip:gone@example.com",
                "sip:stays@example.com",
                "sip:left@example.com",
                "sip:lost@example.com",
            );
            assert!(a.set_aor(gone, &aor_until(now_s + 2), 0).await.unwrap());
            assert!(a.set_aor(stays, &aor_until(now_s + 3600), 0).await.unwrap());
            assert!(b.set_aor(left, &aor_until(now_s + 2), 0).await.unwrap());
            assert!(b.set_aor(left, &Aor::default(), 1).await.unwrap());
            let due = |ms: u64| Value::Bulk(ms.to_string().into());
            assert_eq!(score(&a, gone).await, due((now_s + 2) * 1000));
            assert_eq!(score(&a, left).await, due((now_s + 2) * 1000));
            // As a write that lost a race with another could leave it.
            let (stays_key, lost_key) = (aor_key(stays), aor_key(lost));
            a.with_store(async |s| s.index(&stays_key, now).await)
                .await
                .unwrap();
            // Indexed, never swept, and dropped by its TTL.
            a.with_store(async |s| s.index(&lost_key, later - AOR_GRACE_MS).await)
                .await
                .unwrap();

            let reported = RefCell::new(Vec::new());
            let report = |swept: Swept| reported.borrow_mut().push(swept);
            futures_lite::future::zip(a.sweep(0, 1, later, report), b.sweep(0, 1, later, report))
                .await;
            let reported = reported.into_inner();
            let records: usize = reported.iter().map(|s| s.records).sum();
            let mut aors: Vec<&str> = reported
                .iter()
                .flat_map(|s| &s.aors)
                .map(String::as_str)
                .collect();
            aors.sort();
            assert_eq!((records, aors), (2, vec![gone, lost]));

            // The expired AoR's key is gone now, not left for its TTL.
            let gone_key = a
                .with_store(async |s| Ok(s.redis_key(&aor_key(gone))))
                .await
                .unwrap();
            assert_eq!(
                command(&a, &[b"EXISTS", &gone_key]).await,
                Value::Integer(0)
            );
            for settled in [gone, left, lost] {
                assert_eq!(score(&a, settled).await, Value::Nil, "{settled}");
            }
            assert!(a.get_aor(stays).await.unwrap().version > 0);
            assert_eq!(score(&a, stays).await, due((now_s + 3600) * 1000));

            // Nothing is left to report, on either node.
            let again = RefCell::new(0);
            a.sweep(0, 1, later + 60_000, |s| *again.borrow_mut() += s.records)
                .await;
            b.sweep(0, 1, later + 60_000, |s| *again.borrow_mut() += s.records)
                .await;
            assert_eq!(again.into_inner(), 0);
        });
        ex.unwrap().join().unwrap();
    }
}
