//! Why a store could not answer.

use std::path::PathBuf;

use crate::redis::RespError;

/// An error from either store, by cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("empty key")]
    EmptyKey,
    #[error("key of {len} bytes exceeds the limit of {max}")]
    KeyTooLong { len: usize, max: usize },
    #[error("value of {len} bytes exceeds the limit of {max}")]
    ValueTooLarge { len: usize, max: usize },
    #[error("expiry {expires_at_ms} ms is beyond the supported range")]
    ExpiryOutOfRange { expires_at_ms: u64 },

    /// A file operation of the embedded store failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A snapshot that was completely written (it is renamed into place only
    /// then) does not read back: the disk or someone else changed it.
    #[error("snapshot {path} is corrupt: {reason}")]
    CorruptSnapshot { path: PathBuf, reason: &'static str },
    /// A log segment does not start with the log header.
    #[error("log segment {path} is not a log: {reason}")]
    CorruptLog { path: PathBuf, reason: &'static str },
    /// An earlier log write failed and the log could not be cut back to its
    /// last whole record; the shard must reopen the store.
    #[error("the log of {path} failed earlier and refuses writes until reopened")]
    LogPoisoned { path: PathBuf },

    /// The Redis connection failed.
    #[error("redis connection: {0}")]
    Network(#[source] std::io::Error),
    /// Redis closed the connection.
    #[error("redis closed the connection")]
    ConnectionClosed,
    /// Redis sent bytes that are not RESP2 within our limits.
    #[error("redis protocol: {0}")]
    Protocol(#[from] RespError),
    /// Redis Cluster: the key's slot lives on another node.
    #[error("redis cluster: slot {slot} moved to {addr}")]
    Moved { slot: u16, addr: String },
    /// Redis Cluster: the key's slot is migrating; ask `addr` once.
    #[error("redis cluster: slot {slot} is migrating, ask {addr}")]
    Ask { slot: u16, addr: String },
    /// Redis answered with an error reply.
    #[error("redis error reply: {0}")]
    Server(String),
    /// Redis answered with a reply of the wrong shape for the command.
    #[error("unexpected redis reply to {command}: {reply}")]
    UnexpectedReply {
        command: &'static str,
        reply: String,
    },
    /// A Redis key prefix with a brace, which would move the hash tag.
    #[error("redis key prefix {prefix:?} contains a brace")]
    BadKeyPrefix { prefix: String },
    /// An expiry-index bucket beyond [`crate::redis::EXPIRY_BUCKETS`].
    #[error(
        "expiry bucket {bucket} does not exist (there are {})",
        crate::redis::EXPIRY_BUCKETS
    )]
    BadBucket { bucket: u16 },
    /// The Redis URL could not be understood.
    #[error("redis url {url:?}: {reason}")]
    BadUrl { url: String, reason: &'static str },
}
