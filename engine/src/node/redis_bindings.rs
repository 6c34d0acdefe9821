//! The S-CSCF's registration store on Redis: the same records as the
//! embedded store ([`super::records`]), as [`stores::redis::RedisStore`]
//! hashes with hash-tagged keys, over keep-alive connections this shard
//! owns. Several engine nodes can share the Redis: expiry is Redis's own
//! (PEXPIREAT), so no node sweeps and nothing is processed twice.

use super::bindings::unix_ms;
use super::records::{
    aor_key, challenge_key, decode_aor, decode_challenge, encode_aor, encode_challenge,
    store_error as err,
};
use crate::auth::Challenge;
use crate::registrar::Aor;
use crate::scscf::{BindingStore, StoreError, Versioned};
use bytes::Bytes;
use glommio::net::TcpStream;
use std::cell::RefCell;
use std::time::Duration;
use stores::redis::{RedisStore, RedisStoreConfig};
use stores::{CasOutcome, DeleteOutcome, Record};

/// Idle connections kept per shard.
const POOL_MAX: usize = 8;

pub struct RedisBindings {
    host_port: String,
    db: u32,
    timeout: Duration,
    config: RedisStoreConfig,
    idle: RefCell<Vec<RedisStore<TcpStream>>>,
}

/// One store operation on one connection.
enum Op {
    Get(Vec<u8>),
    Cas(Vec<u8>, u64, Bytes, u64),
    Delete(Vec<u8>, u64),
}

enum Done {
    Got(Option<Record>),
    Cas(CasOutcome),
    Deleted(DeleteOutcome),
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

    async fn run(&self, op: Op) -> Result<Done, StoreError> {
        let pooled = self.idle.borrow_mut().pop();
        let mut store = match pooled {
            Some(s) => s,
            None => self.connect().await?,
        };
        let now = unix_ms();
        let result = glommio::timer::timeout(self.timeout, async {
            let r = match op {
                Op::Get(k) => store.get(&k, now).await.map(Done::Got),
                Op::Cas(k, v, value, exp) => {
                    store.cas(&k, v, &value, exp, now).await.map(Done::Cas)
                }
                Op::Delete(k, v) => store.delete(&k, v, now).await.map(Done::Deleted),
            };
            Ok(r)
        })
        .await
        .map_err(|e| StoreError(format!("Redis at {}: {e}", self.host_port)))?;
        // A connection that failed is dropped; a healthy one goes back.
        if result.is_ok() {
            let mut idle = self.idle.borrow_mut();
            if idle.len() < POOL_MAX {
                idle.push(store);
            }
        }
        result.map_err(err)
    }
}

impl BindingStore for RedisBindings {
    async fn get_aor(&self, aor: &str) -> Result<Versioned<Aor>, StoreError> {
        match self.run(Op::Get(aor_key(aor))).await? {
            Done::Got(Some(r)) => Ok(Versioned {
                value: decode_aor(&r.value).map_err(err)?,
                version: r.version,
            }),
            _ => Ok(Versioned {
                value: Aor::default(),
                version: 0,
            }),
        }
    }

    async fn set_aor(
        &self,
        aor: &str,
        value: &Aor,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let now = unix_ms();
        let op = match value.last_expiry_s() {
            Some(expiry_s) if expiry_s * 1000 > now => Op::Cas(
                aor_key(aor),
                expected_version,
                Bytes::from(encode_aor(value)),
                expiry_s * 1000,
            ),
            _ => Op::Delete(aor_key(aor), expected_version),
        };
        Ok(matches!(
            self.run(op).await?,
            Done::Cas(CasOutcome::Written { .. }) | Done::Deleted(DeleteOutcome::Deleted)
        ))
    }

    async fn put_challenge(&self, impi: &str, challenge: &Challenge) -> Result<(), StoreError> {
        let key = challenge_key(impi, &challenge.nonce);
        let version = match self.run(Op::Get(key.clone())).await? {
            Done::Got(Some(r)) => r.version,
            _ => 0,
        };
        let expires = challenge.expires_at_ms.max(unix_ms() + 1);
        match self
            .run(Op::Cas(
                key,
                version,
                Bytes::from(encode_challenge(challenge)),
                expires,
            ))
            .await?
        {
            Done::Cas(CasOutcome::Written { .. }) => Ok(()),
            _ => Err(StoreError("challenge changed under us".into())),
        }
    }

    async fn get_challenge(
        &self,
        impi: &str,
        nonce: &str,
    ) -> Result<Option<Challenge>, StoreError> {
        match self.run(Op::Get(challenge_key(impi, nonce))).await? {
            Done::Got(Some(r)) => Ok(Some(decode_challenge(&r.value).map_err(err)?)),
            _ => Ok(None),
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

    async fn put_challenge(&self, impi: &str, challenge: &Challenge) -> Result<(), StoreError> {
        match self {
            ShardBindings::Embedded(s) => s.put_challenge(impi, challenge).await,
            ShardBindings::Redis(s) => s.put_challenge(impi, challenge).await,
        }
    }

    async fn get_challenge(
        &self,
        impi: &str,
        nonce: &str,
    ) -> Result<Option<Challenge>, StoreError> {
        match self {
            ShardBindings::Embedded(s) => s.get_challenge(impi, nonce).await,
            ShardBindings::Redis(s) => s.get_challenge(impi, nonce).await,
        }
    }
}
