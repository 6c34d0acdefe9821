//! The Lua scripts that make compare-and-set, delete and the expiry index's
//! claims atomic in Redis, and their SHA1 digests for EVALSHA (checked
//! against Redis in the tests: edit a script and that test tells you the new
//! digest).
//!
//! A record is a hash with fields `value`, `version` and `expires` (ms since
//! the epoch). Its key expires later than that, at `expires` plus a grace the
//! writer chooses (PEXPIREAT), so an expiry sweep can still remove it itself;
//! from `expires` on the scripts treat it as absent, as readers do (version
//! 0), and a write over it continues its version sequence, so a version is
//! never reused while the key exists. Versions stay below 2^53, where Lua's
//! numbers are exact.
//!
//! The expiry index ([`super::expiry`]) is a sorted set per bucket: member a
//! record key, score the time its content expires, or the end of a claim's
//! lease while a sweeper holds it.

/// KEYS[1] = key; ARGV = expected version, value, expires_at_ms,
/// keep_until_ms (the key's PEXPIREAT), now_ms.
/// Returns `{1, new_version}` when written, `{0, current_version}` on conflict.
pub(crate) const CAS: &str = "\
local stored = redis.call('HMGET', KEYS[1], 'version', 'expires')
local version = tonumber(stored[1] or '0')
local current = version
if tonumber(stored[2] or '0') <= tonumber(ARGV[5]) then current = 0 end
if current ~= tonumber(ARGV[1]) then return {0, current} end
version = version + 1
redis.call('HSET', KEYS[1], 'value', ARGV[2], 'version', string.format('%d', version), 'expires', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return {1, version}
";

/// KEYS[1] = key; ARGV = expected version, now_ms.
/// Returns `{1, 0}` when deleted (or absent, or expired, at version 0),
/// `{0, current_version}` on conflict.
pub(crate) const DELETE: &str = "\
local stored = redis.call('HMGET', KEYS[1], 'version', 'expires')
local current = tonumber(stored[1] or '0')
if tonumber(stored[2] or '0') <= tonumber(ARGV[2]) then current = 0 end
if current ~= tonumber(ARGV[1]) then return {0, current} end
redis.call('DEL', KEYS[1])
return {1, 0}
";

/// KEYS[1] = an expiry bucket; ARGV = now_ms, lease_until_ms, limit.
/// Takes up to `limit` members due at `now_ms` (score <= now), earliest
/// first, and moves their score to `lease_until_ms`: no other claim at a time
/// before that sees them. Returns `{member, score it was due at, ...}`.
pub(crate) const CLAIM: &str = "\
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
for i = 1, #due, 2 do
  redis.call('ZADD', KEYS[1], ARGV[2], due[i])
end
return due
";

/// KEYS[1] = key; ARGV = now_ms.
/// Deletes the record only if it is expired at `now_ms` and still kept (its
/// grace). Returns 1 when deleted, 0 when there is no record, -1 when the
/// record is live (left alone).
pub(crate) const DELETE_EXPIRED: &str = "\
local expires = redis.call('HGET', KEYS[1], 'expires')
if not expires then return 0 end
if tonumber(expires) > tonumber(ARGV[1]) then return -1 end
redis.call('DEL', KEYS[1])
return 1
";

/// KEYS[1] = an expiry bucket; ARGV = member, lease_until_ms.
/// Removes the member only if its score is still the claim's lease (a write
/// that indexed it again meanwhile wins). Returns 1 if removed, else 0.
pub(crate) const FINISH: &str = "\
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
";

/// SHA1 of [`CAS`].
pub(crate) const CAS_SHA1: &str = "716d230347f2789424e48febdd02f378d35431b0";
/// SHA1 of [`DELETE`].
pub(crate) const DELETE_SHA1: &str = "faff092b74eecd8b5704572013b9354fdd790509";
/// SHA1 of [`CLAIM`].
pub(crate) const CLAIM_SHA1: &str = "2fbc9ec8c3ad22ebfd22064f788dd5cb9bea5d2a";
/// SHA1 of [`DELETE_EXPIRED`].
pub(crate) const DELETE_EXPIRED_SHA1: &str = "85be9310884514ab7fb296857232b4109376ea1b";
/// SHA1 of [`FINISH`].
pub(crate) const FINISH_SHA1: &str = "9656ce842ec23b96f09ddbe7796b231927ea329b";
