//! Records in Redis: one hash per record under a hash-tagged key, written by
//! Lua scripts that check the version atomically.

use bytes::Bytes;
use futures_lite::io::{AsyncRead, AsyncWrite};

use super::connection::Connection;
use super::resp::{Value, push_decimal};
use super::scripts;
use super::slot::key_slot;
use crate::record::{check_key, check_record_limits};
use crate::{CasOutcome, DeleteOutcome, EXPIRES_AT_MS_MAX, Record, StoreError};

/// How the Redis store names its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisStoreConfig {
    /// Put before every key, outside the hash tag: `<prefix>{<key>}`. Must
    /// not contain `{` or `}`, which would move the hash tag.
    pub key_prefix: String,
}

impl Default for RedisStoreConfig {
    fn default() -> Self {
        Self {
            key_prefix: "riptide:".to_owned(),
        }
    }
}

/// The store's operations over one Redis connection. Several operations can
/// share a round trip through [`RedisStore::get_many`].
#[derive(Debug)]
pub struct RedisStore<S> {
    connection: Connection<S>,
    key_prefix: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> RedisStore<S> {
    pub fn new(stream: S, config: RedisStoreConfig) -> Result<Self, StoreError> {
        Self::with_connection(Connection::new(stream), config)
    }

    pub fn with_connection(
        connection: Connection<S>,
        config: RedisStoreConfig,
    ) -> Result<Self, StoreError> {
        if config.key_prefix.contains(['{', '}']) {
            return Err(StoreError::BadKeyPrefix {
                prefix: config.key_prefix,
            });
        }
        Ok(Self {
            connection,
            key_prefix: config.key_prefix.into_bytes(),
        })
    }

    /// The Redis key of a record: `<prefix>{<key>}`, so a record's slot in a
    /// Redis Cluster depends on the record key alone.
    pub fn redis_key(&self, key: &[u8]) -> Vec<u8> {
        let mut redis_key = Vec::with_capacity(self.key_prefix.len() + key.len() + 2);
        redis_key.extend_from_slice(&self.key_prefix);
        redis_key.push(b'{');
        redis_key.extend_from_slice(key);
        redis_key.push(b'}');
        redis_key
    }

    /// What is put before every Redis key.
    pub(super) fn key_prefix(&self) -> &[u8] {
        &self.key_prefix
    }

    /// The Redis Cluster slot holding a record.
    pub fn slot(&self, key: &[u8]) -> u16 {
        key_slot(&self.redis_key(key))
    }

    /// The record as a reader at `now_ms` sees it.
    pub async fn get(&mut self, key: &[u8], now_ms: u64) -> Result<Option<Record>, StoreError> {
        let mut records = self.get_many(&[key], now_ms).await?;
        Ok(records.pop().flatten())
    }

    /// Several records in one round trip, in the order of `keys`.
    pub async fn get_many(
        &mut self,
        keys: &[&[u8]],
        now_ms: u64,
    ) -> Result<Vec<Option<Record>>, StoreError> {
        // Check every key before queueing any: a command left queued would be
        // sent with the next call and shift every reply after it.
        for key in keys {
            check_key(key)?;
        }
        for key in keys {
            let redis_key = self.redis_key(key);
            self.connection
                .queue(&[b"HMGET", &redis_key, b"value", b"version", b"expires"]);
        }
        let replies = self.connection.send_queued().await?;
        replies
            .into_iter()
            .map(|reply| parse_record(reply, now_ms))
            .collect()
    }

    /// Stores `value` if the version a reader at `now_ms` sees is
    /// `expected_version` (0: the record must be absent or expired), to
    /// expire at `expires_at_ms`; Redis drops the key then too (by its
    /// clock).
    pub async fn cas(
        &mut self,
        key: &[u8],
        expected_version: u64,
        value: &[u8],
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<CasOutcome, StoreError> {
        self.cas_with_grace(key, expected_version, value, expires_at_ms, 0, now_ms)
            .await
    }

    /// As [`Self::cas`], but Redis keeps the key `grace_ms` past
    /// `expires_at_ms` (its PEXPIREAT), so that an expiry sweep finds and
    /// removes it itself; readers and writers treat it as absent from
    /// `expires_at_ms` on all the same, and a write over it continues its
    /// version sequence.
    pub async fn cas_with_grace(
        &mut self,
        key: &[u8],
        expected_version: u64,
        value: &[u8],
        expires_at_ms: u64,
        grace_ms: u64,
        now_ms: u64,
    ) -> Result<CasOutcome, StoreError> {
        self.cas_after(
            None,
            key,
            expected_version,
            value,
            expires_at_ms,
            grace_ms,
            now_ms,
        )
        .await
    }

    /// [`Self::cas_with_grace`], with `before` (a command whose reply must
    /// not be an error) sent ahead of it in the same write.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn cas_after(
        &mut self,
        before: Option<&[&[u8]]>,
        key: &[u8],
        expected_version: u64,
        value: &[u8],
        expires_at_ms: u64,
        grace_ms: u64,
        now_ms: u64,
    ) -> Result<CasOutcome, StoreError> {
        check_record_limits(key, value, expires_at_ms)?;
        let expected = decimal(expected_version);
        let expires = decimal(expires_at_ms);
        let keep_until = decimal(
            expires_at_ms
                .saturating_add(grace_ms)
                .min(EXPIRES_AT_MS_MAX),
        );
        let now = decimal(now_ms);
        let redis_key = self.redis_key(key);
        let reply = self
            .eval_after(
                before,
                scripts::CAS,
                scripts::CAS_SHA1,
                &redis_key,
                &[&expected, value, &expires, &keep_until, &now],
            )
            .await?;
        match script_reply("cas", reply)? {
            (true, version) => Ok(CasOutcome::Written { version }),
            (false, current_version) => Ok(CasOutcome::Conflict { current_version }),
        }
    }

    /// Deletes the record if the version a reader at `now_ms` sees is
    /// `expected_version` (0: absent, or expired and still kept, which then
    /// goes).
    pub async fn delete(
        &mut self,
        key: &[u8],
        expected_version: u64,
        now_ms: u64,
    ) -> Result<DeleteOutcome, StoreError> {
        check_key(key)?;
        let expected = decimal(expected_version);
        let now = decimal(now_ms);
        let redis_key = self.redis_key(key);
        let reply = self
            .eval(
                scripts::DELETE,
                scripts::DELETE_SHA1,
                &redis_key,
                &[&expected, &now],
            )
            .await?;
        match script_reply("delete", reply)? {
            (true, _) => Ok(DeleteOutcome::Deleted),
            (false, current_version) => Ok(DeleteOutcome::Conflict { current_version }),
        }
    }

    /// EVALSHA on one Redis key, falling back to EVAL (which caches the
    /// script again) when Redis does not know the script, e.g. after a
    /// restart.
    pub(super) async fn eval(
        &mut self,
        script: &str,
        sha1: &str,
        redis_key: &[u8],
        args: &[&[u8]],
    ) -> Result<Value, StoreError> {
        self.eval_after(None, script, sha1, redis_key, args).await
    }

    /// [`Self::eval`], with `before` sent ahead of it in the same write (one
    /// round trip); an error reply to `before` is the call's error.
    pub(super) async fn eval_after(
        &mut self,
        before: Option<&[&[u8]]>,
        script: &str,
        sha1: &str,
        redis_key: &[u8],
        args: &[&[u8]],
    ) -> Result<Value, StoreError> {
        let mut command: Vec<&[u8]> = Vec::with_capacity(4 + args.len());
        command.extend_from_slice(&[b"EVALSHA", sha1.as_bytes(), b"1", redis_key]);
        command.extend_from_slice(args);
        if let Some(before) = before {
            self.connection.queue(before);
        }
        self.connection.queue(&command);
        let mut replies = self.connection.send_queued().await?;
        let reply = replies.pop().ok_or(StoreError::ConnectionClosed)?;
        if let Some(Value::Error(e)) = replies.pop() {
            return Err(error_reply(&e));
        }
        if matches!(&reply, Value::Error(e) if e.starts_with(b"NOSCRIPT")) {
            tracing::debug!(sha1, "redis lacks the script; sending it with EVAL");
            command[0] = b"EVAL";
            command[1] = script.as_bytes();
            return self.connection.command(&command).await;
        }
        Ok(reply)
    }

    /// The connection, for commands the store does not wrap.
    pub fn connection_mut(&mut self) -> &mut Connection<S> {
        &mut self.connection
    }
}

pub(super) fn decimal(n: u64) -> Vec<u8> {
    let mut buf = Vec::with_capacity(20);
    push_decimal(&mut buf, n);
    buf
}

/// The typed error for a Redis error reply: `MOVED`/`ASK` carry the slot and
/// the node to ask.
pub fn error_reply(message: &[u8]) -> StoreError {
    let text = String::from_utf8_lossy(message);
    let mut words = text.split(' ');
    let kind = words.next();
    let slot = words.next().and_then(|slot| slot.parse::<u16>().ok());
    let addr = words.next().map(str::to_owned);
    match (kind, slot, addr) {
        (Some("MOVED"), Some(slot), Some(addr)) => StoreError::Moved { slot, addr },
        (Some("ASK"), Some(slot), Some(addr)) => StoreError::Ask { slot, addr },
        _ => StoreError::Server(text.into_owned()),
    }
}

pub(super) fn unexpected(command: &'static str, reply: &Value) -> StoreError {
    if let Value::Error(message) = reply {
        return error_reply(message);
    }
    let mut shown = format!("{reply:?}");
    shown.truncate(200);
    StoreError::UnexpectedReply {
        command,
        reply: shown,
    }
}

/// `{flag, version}` from a script.
fn script_reply(command: &'static str, reply: Value) -> Result<(bool, u64), StoreError> {
    if let Value::Array(items) = &reply {
        if let [Value::Integer(flag @ (0 | 1)), Value::Integer(version)] = items.as_slice() {
            if let Ok(version) = u64::try_from(*version) {
                return Ok((*flag == 1, version));
            }
        }
    }
    Err(unexpected(command, &reply))
}

/// A record from `HMGET value version expires`; `None` when absent or
/// expired at `now_ms`.
fn parse_record(reply: Value, now_ms: u64) -> Result<Option<Record>, StoreError> {
    let Value::Array(items) = &reply else {
        return Err(unexpected("get", &reply));
    };
    let record = match items.as_slice() {
        [Value::Nil, Value::Nil, Value::Nil] => return Ok(None),
        [
            Value::Bulk(value),
            Value::Bulk(version),
            Value::Bulk(expires),
        ] => {
            let (Some(version), Some(expires_at_ms)) = (parse_u64(version), parse_u64(expires))
            else {
                return Err(unexpected("get", &reply));
            };
            Record {
                value: Bytes::clone(value),
                version,
                expires_at_ms,
            }
        }
        _ => return Err(unexpected("get", &reply)),
    };
    Ok((!record.is_expired(now_ms)).then_some(record))
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn moved_and_ask_carry_the_slot_and_node() {
        assert!(matches!(
            error_reply(b"MOVED 3999 127.0.0.1:6381"),
            StoreError::Moved { slot: 3999, addr } if addr == "127.0.0.1:6381"
        ));
        assert!(matches!(
            error_reply(b"ASK 3999 10.0.0.2:6379"),
            StoreError::Ask { slot: 3999, addr } if addr == "10.0.0.2:6379"
        ));
        assert!(matches!(
            error_reply(b"MOVED notaslot 127.0.0.1:6381"),
            StoreError::Server(text) if text == "MOVED notaslot 127.0.0.1:6381"
        ));
        assert!(matches!(
            error_reply(b"WRONGTYPE Operation against a key holding the wrong kind of value"),
            StoreError::Server(_)
        ));
    }

    #[test]
    fn records_parse_from_hmget_and_expire_for_readers() {
        let bulk = |s: &str| Value::Bulk(Bytes::copy_from_slice(s.as_bytes()));
        let reply = Value::Array(vec![bulk("v"), bulk("3"), bulk("1000")]);
        assert_eq!(
            parse_record(reply.clone(), 999).unwrap(),
            Some(Record {
                value: Bytes::from_static(b"v"),
                version: 3,
                expires_at_ms: 1000
            })
        );
        assert_eq!(parse_record(reply, 1000).unwrap(), None);
        let absent = Value::Array(vec![Value::Nil, Value::Nil, Value::Nil]);
        assert_eq!(parse_record(absent, 0).unwrap(), None);
        let partial = Value::Array(vec![bulk("v"), Value::Nil, Value::Nil]);
        assert!(matches!(
            parse_record(partial, 0),
            Err(StoreError::UnexpectedReply { command: "get", .. })
        ));
        let bad_version = Value::Array(vec![bulk("v"), bulk("x"), bulk("1")]);
        assert!(parse_record(bad_version, 0).is_err());
    }

    #[test]
    fn script_replies_are_checked() {
        let ok = Value::Array(vec![Value::Integer(1), Value::Integer(4)]);
        assert_eq!(script_reply("cas", ok).unwrap(), (true, 4));
        let bad = Value::Array(vec![Value::Integer(2), Value::Integer(4)]);
        assert!(script_reply("cas", bad).is_err());
        let moved = Value::Error(Bytes::from_static(b"MOVED 1 a:1"));
        assert!(matches!(
            script_reply("cas", moved),
            Err(StoreError::Moved { slot: 1, .. })
        ));
    }
}
