//! Registration state for Riptide's S-CSCF: AoR records and authentication
//! challenges, stored as opaque versioned records with an expiry.
//!
//! The engine serialises its own types (`Aor`, `Challenge`) to bytes; this crate
//! never looks inside them. Two stores offer the same operations (`get`, `cas`,
//! `delete`, `expire`), each as inherent methods rather than one trait, because
//! one is synchronous and shard-local and the other is asynchronous:
//!
//! - [`embedded::ShardStore`]: one per shard, single-threaded (no locks), a
//!   hash map with an expiry index, made durable by an append-only log and
//!   periodic snapshots under the shard's data directory. Start reading there.
//! - [`redis::RedisStore`]: records as Redis hashes with hash-tagged keys for
//!   Redis Cluster, compare-and-set by Lua script, over any
//!   `futures_io::AsyncRead + AsyncWrite` stream (glommio's `TcpStream`).
//!   Redis drops a record's key by its TTL; the sweep that notices expiries
//!   works from an expiry index ([`redis::expiry`]) whose claims let several
//!   engine nodes share it without processing a record twice.
//!
//! Time is always passed in (`now_ms`, milliseconds since the Unix epoch); no
//! code here reads a clock. Not in this crate: the engine's record types, the
//! cross-shard mesh that routes a request to the owning shard, and Redis
//! Cluster routing beyond reporting `MOVED`/`ASK`.

pub mod embedded;
mod error;
mod record;
pub mod redis;

pub use error::StoreError;
pub use record::{
    CasOutcome, DeleteOutcome, EXPIRES_AT_MS_MAX, KEY_LEN_MAX, Record, VALUE_LEN_MAX,
    check_record_limits,
};
