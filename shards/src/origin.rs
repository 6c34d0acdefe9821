//! Where a message came from, and the handle for a TCP connection.

use bytes::Bytes;
use std::net::SocketAddr;

/// The transport a message arrived on or leaves by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// The token used in Via and URI `transport=` parameters.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// A TCP connection, named across shards: the owner shard sits in the top
/// 16 bits, so any shard can route a write to the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl ConnId {
    pub(crate) fn new(shard: usize, serial: u64) -> Self {
        ConnId(((shard as u64) << 48) | (serial & ((1 << 48) - 1)))
    }

    /// The shard that owns the connection's socket.
    pub fn shard(self) -> usize {
        (self.0 >> 48) as usize
    }
}

/// Where an inbound message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub transport: Transport,
    /// Our address it arrived on.
    pub local: SocketAddr,
    pub peer: SocketAddr,
    /// The connection, for stream transports.
    pub conn: Option<ConnId>,
}

/// One framed message and its origin. `Send`, so it can cross the mesh as is.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub data: Bytes,
    pub origin: Origin,
    /// Runtime clock (µs) when the message was read off the socket.
    pub received_us: u64,
    /// The shard that read it, when it has been handed to another.
    pub handed_from: Option<usize>,
}
