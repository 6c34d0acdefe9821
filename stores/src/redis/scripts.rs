//! The Lua scripts that make compare-and-set and delete atomic in Redis, and
//! their SHA1 digests for EVALSHA (checked against Redis's `SCRIPT LOAD` in
//! the tests: edit a script and that test tells you the new digest).
//!
//! A record is a hash with fields `value`, `version` and `expires` (ms since
//! the epoch), and the key expires at `expires` (PEXPIREAT). Versions stay
//! below 2^53, where Lua's numbers are exact.

/// KEYS[1] = key; ARGV = expected version, value, expires_at_ms.
/// Returns `{1, new_version}` when written, `{0, current_version}` on conflict.
pub(crate) const CAS: &str = "\
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if current ~= tonumber(ARGV[1]) then return {0, current} end
local version = current + 1
redis.call('HSET', KEYS[1], 'value', ARGV[2], 'version', string.format('%d', version), 'expires', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return {1, version}
";

/// KEYS[1] = key; ARGV = expected version.
/// Returns `{1, 0}` when deleted (or absent at version 0), `{0, current_version}` on conflict.
pub(crate) const DELETE: &str = "\
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if current ~= tonumber(ARGV[1]) then return {0, current} end
if current ~= 0 then redis.call('DEL', KEYS[1]) end
return {1, 0}
";

/// SHA1 of [`CAS`].
pub(crate) const CAS_SHA1: &str = "37933d1e77af8b85b08456f34ff9c3cd4b2cb295";
/// SHA1 of [`DELETE`].
pub(crate) const DELETE_SHA1: &str = "b57be96642fb0ad7b1860848ff4566af6fae67f0";
