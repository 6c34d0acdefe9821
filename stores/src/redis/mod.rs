//! The Redis store: standalone Redis, with keys hash-tagged for Redis Cluster.
//!
//! [`resp`] is a sans-IO RESP2 codec; [`Connection`] drives it over any
//! `futures_io::AsyncRead + AsyncWrite` stream (glommio's `TcpStream`, or
//! `async-io`'s in tests) with pipelining; [`RedisStore`] maps the record
//! operations onto hashes and Lua scripts. A Redis Cluster redirection comes
//! back as [`crate::StoreError::Moved`] or [`crate::StoreError::Ask`] with the
//! slot ([`key_slot`]) and the node: routing on it is the caller's for now.
//! Beside the records, an expiry index ([`expiry`]) tells sweepers on
//! several engine nodes which records are due, with exclusive claims.

mod connection;
pub mod expiry;
pub mod resp;
mod scripts;
mod slot;
mod store;
mod url;

pub use connection::Connection;
pub use expiry::{Claim, EXPIRY_BUCKETS, ExpiredRecord, expiry_bucket};
pub use resp::{Limits, RespError, Value};
pub use slot::{SLOTS_COUNT, key_slot};
pub use store::{RedisStore, RedisStoreConfig, error_reply};
pub use url::{RedisAddr, parse_redis_url};
