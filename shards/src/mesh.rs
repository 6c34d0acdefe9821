//! The cross-shard mesh: a bounded single-producer/single-consumer queue
//! between every pair of shards (glommio's channel mesh). What crosses it:
//! a message handed to its owner, a write for a TCP connection another shard
//! owns, or an application message.

use crate::app::App;
use crate::origin::{ConnId, Inbound};
use crate::shard::Shard;
use crate::stats::TransportStats;
use bytes::Bytes;
use glommio::channels::shared_channel::ConnectedReceiver;
use glommio::{GlommioError, ResourceType};
use std::rc::Rc;

/// One item on a shard-to-shard queue.
pub enum MeshMsg<M> {
    Handed(Inbound),
    TcpWrite(ConnId, Bytes),
    App(M),
}

/// Recover the item from a refused send; `None` only for a misuse (an
/// index outside the mesh), which the callers rule out.
pub(crate) fn refused<T>(e: GlommioError<T>) -> Option<T> {
    match e {
        GlommioError::WouldBlock(ResourceType::Channel(t))
        | GlommioError::Closed(ResourceType::Channel(t)) => Some(t),
        _ => None,
    }
}

/// Drain one peer's queue for as long as the shard runs.
pub(crate) async fn receive_from<A: App>(
    shard: Rc<Shard<A>>,
    from: usize,
    rx: ConnectedReceiver<MeshMsg<A::Mesh>>,
) {
    while let Some(msg) = rx.recv().await {
        TransportStats::bump(&shard.stats().mesh_rx);
        match msg {
            MeshMsg::Handed(inbound) => shard.app().on_message(&shard, inbound),
            MeshMsg::TcpWrite(conn, data) => {
                if let Err(reason) = crate::tcp::write_local(&shard, conn, data.clone()) {
                    crate::tcp::report_lost(&shard, conn, data, reason);
                }
            }
            MeshMsg::App(m) => shard.app().on_mesh(&shard, from, m),
        }
        glommio::yield_if_needed().await;
    }
}
