//! The Redis store (placeholder while the embedded store is built).

/// A RESP2 decoding error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RespError {
    #[error("placeholder")]
    Placeholder,
}

pub struct RedisStore;
