//! The interface between the runtime and what runs on it (the SIP engine, or
//! a test responder): callbacks on the shard that owns the work.

use crate::origin::{Inbound, Transport};
use crate::shard::Shard;
use bytes::Bytes;
use std::net::SocketAddr;
use std::rc::Rc;

/// A message that could not be delivered, handed back so the caller can
/// answer for it (a 503, or failover to the next target).
#[derive(Debug)]
pub struct SendFailure {
    pub transport: Transport,
    pub to: SocketAddr,
    pub data: Bytes,
    pub reason: SendError,
}

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("TCP connect to the target failed or timed out")]
    ConnectFailed,
    #[error("TCP send timed out or the connection closed")]
    ConnectionLost,
    #[error("the connection's write queue is full")]
    QueueFull,
    #[error("no such connection")]
    NoConnection,
    #[error("the shard-to-shard queue is full")]
    MeshFull,
    #[error("too many connections")]
    ConnectionLimit,
    #[error("socket error: {0}")]
    Io(String),
}

/// One instance per shard, created on the shard's thread by the factory
/// given to [`crate::Runtime::start`]. Callbacks run on that thread, one at a
/// time; long work is spawned with `glommio::spawn_local`.
pub trait App: Sized + 'static {
    /// What this application sends between its shards.
    type Mesh: Send + 'static;

    /// A framed message (a UDP datagram, or one message cut from a stream),
    /// or one another shard handed over with [`Shard::hand_to`].
    fn on_message(&self, shard: &Rc<Shard<Self>>, msg: Inbound);

    /// An application message from shard `from`.
    fn on_mesh(&self, shard: &Rc<Shard<Self>>, from: usize, msg: Self::Mesh) {
        let _ = (shard, from, msg);
    }

    /// A timer set with [`Shard::timer_at`] fired.
    fn on_timer(&self, shard: &Rc<Shard<Self>>, token: u64) {
        let _ = (shard, token);
    }

    /// A send that was accepted could not be completed.
    fn on_send_failure(&self, shard: &Rc<Shard<Self>>, failure: SendFailure) {
        let _ = (shard, failure);
    }

    /// Work in progress; shutdown waits for this to reach zero.
    fn in_flight(&self) -> usize {
        0
    }
}
