//! Per-shard transport counters: plain cells on the owning thread.

use std::cell::Cell;

/// Counters a shard keeps about its sockets and queues.
#[derive(Debug, Default)]
pub struct TransportStats {
    pub udp_rx: Cell<u64>,
    pub udp_tx: Cell<u64>,
    /// Datagrams the kernel would not take (send buffer full).
    pub udp_tx_dropped: Cell<u64>,
    /// Datagrams received and dropped as longer than the receive buffers
    /// (io_uring driver only; `RuntimeConfig::udp_datagram_max`).
    pub udp_rx_dropped: Cell<u64>,
    pub keepalives: Cell<u64>,
    pub tcp_rx: Cell<u64>,
    pub tcp_tx: Cell<u64>,
    pub tcp_accepted: Cell<u64>,
    /// Connections refused by the per-IP or per-shard limit.
    pub tcp_refused: Cell<u64>,
    pub tcp_framing_errors: Cell<u64>,
    pub tcp_closed: Cell<u64>,
    pub mesh_tx: Cell<u64>,
    pub mesh_rx: Cell<u64>,
    /// Sends refused because the peer shard's queue was full.
    pub mesh_full: Cell<u64>,
}

impl TransportStats {
    pub(crate) fn bump(c: &Cell<u64>) {
        c.set(c.get() + 1);
    }
}
