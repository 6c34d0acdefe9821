//! The Lua scripts that make compare-and-set and delete atomic in Redis, and
//! their SHA1 digests for EVALSHA (checked against Redis's `SCRIPT LOAD` in
//! the tests: edit a script and that test tells you the new digest).
//!
//! A record is a hash with fields `value`, `version` and `expires` (ms since
//! the epoch). Its key expires later than that, at `expires` plus a grace the
//! writer chooses (PEXPIREAT), so an expiry sweep can still remove it itself;
//! from `expires` on the scripts treat it as absent, as readers do (version
//! 0), and a write over it continues its version sequence, so a version is
//! never reused while the key exists. Versions stay below 2^53, where Lua's
//! numbers are exact.

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

/// SHA1 of [`CAS`].
pub(crate) const CAS_SHA1: &str = "716d230347f2789424e48febdd02f378d35431b0";
/// SHA1 of [`DELETE`].
pub(crate) const DELETE_SHA1: &str = "faff092b74eecd8b5704572013b9354fdd790509";
