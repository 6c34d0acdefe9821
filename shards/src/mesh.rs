//! The cross-shard mesh: a bounded lock-free queue for every ordered pair of
//! shards, and a wake-up per shard. What crosses it: a message handed to its
//! owner, a write for a TCP connection another shard owns, or an
//! application message.
//!
//! Why not glommio's channel mesh: with glommio 0.9 on this kernel its
//! teardown corrupts the heap in about 3 % of two-executor runs (a plain
//! join/close/exit reproduces it), so the mesh is ours. Each queue is a
//! `crossbeam` `ArrayQueue` (one producer shard, one consumer shard). A
//! consumer with nothing to do sets its `sleeping` flag, checks its queues
//! once more and waits on its wake socket; a producer that finds the flag
//! set clears it and writes one byte there. So an idle shard costs nothing
//! and a busy one pays no system call per message.

use crate::app::App;
use crate::origin::{ConnId, Inbound};
use crate::shard::Shard;
use crate::stats::TransportStats;
use bytes::Bytes;
use crossbeam_queue::ArrayQueue;
use futures_lite::AsyncReadExt;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// One item on a shard-to-shard queue.
pub enum MeshMsg<M> {
    Handed(Inbound),
    TcpWrite(ConnId, Bytes),
    App(M),
}

/// The queues and wake-ups of every shard, shared by all.
pub struct Mesh<M> {
    n: usize,
    /// `queues[from * n + to]`.
    queues: Vec<ArrayQueue<MeshMsg<M>>>,
    sleeping: Vec<AtomicBool>,
    wake: Vec<UnixStream>,
}

/// What each shard gets: its end of the mesh, and the socket it waits on.
pub struct MeshParts<M> {
    pub mesh: Arc<Mesh<M>>,
    pub wake_rx: Vec<Option<UnixStream>>,
}

impl<M> Mesh<M> {
    pub fn build(n: usize, capacity: usize) -> std::io::Result<MeshParts<M>> {
        let mut wake = Vec::with_capacity(n);
        let mut wake_rx = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = UnixStream::pair()?;
            tx.set_nonblocking(true)?;
            wake.push(tx);
            wake_rx.push(Some(rx));
        }
        let queues = (0..n * n)
            .map(|_| ArrayQueue::new(capacity.max(1)))
            .collect();
        let sleeping = (0..n).map(|_| AtomicBool::new(false)).collect();
        Ok(MeshParts {
            mesh: Arc::new(Mesh {
                n,
                queues,
                sleeping,
                wake,
            }),
            wake_rx,
        })
    }

    /// Queue `msg` from shard `from` to shard `to`; a full queue gives it back.
    #[allow(clippy::result_large_err)]
    pub fn send(&self, from: usize, to: usize, msg: MeshMsg<M>) -> Result<(), MeshMsg<M>> {
        self.queues[from * self.n + to].push(msg)?;
        if self.sleeping[to].swap(false, Ordering::SeqCst) {
            // A full wake buffer means a wake-up is already pending.
            let _ = std::io::Write::write(&mut (&self.wake[to]), &[1]);
        }
        Ok(())
    }

    /// Take the oldest message from `from` to `to` (the consumer's side).
    pub fn pop(&self, from: usize, to: usize) -> Option<MeshMsg<M>> {
        self.queues[from * self.n + to].pop()
    }

    fn has_work(&self, to: usize) -> bool {
        (0..self.n).any(|from| !self.queues[from * self.n + to].is_empty())
    }
}

/// Most messages taken from one peer before looking at the next.
const BATCH: usize = 256;

/// Drain this shard's incoming queues for as long as the shard runs.
pub(crate) async fn receive<A: App>(
    shard: Rc<Shard<A>>,
    mesh: Arc<Mesh<A::Mesh>>,
    wake: UnixStream,
) {
    let me = shard.id();
    // SAFETY: the descriptor comes from a std UnixStream we own and give up
    // here (into_raw_fd), so glommio's stream is its only owner.
    #[allow(unsafe_code)]
    let mut wake = unsafe {
        <glommio::net::UnixStream as std::os::fd::FromRawFd>::from_raw_fd(
            std::os::fd::IntoRawFd::into_raw_fd(wake),
        )
    };
    let mut buf = [0u8; 64];
    loop {
        let mut any = false;
        for from in 0..mesh.n {
            if from == me {
                continue;
            }
            let q = &mesh.queues[from * mesh.n + me];
            for _ in 0..BATCH {
                let Some(msg) = q.pop() else { break };
                any = true;
                TransportStats::bump(&shard.stats().mesh_rx);
                dispatch(&shard, from, msg);
            }
        }
        if any {
            glommio::yield_if_needed().await;
            continue;
        }
        mesh.sleeping[me].store(true, Ordering::SeqCst);
        if mesh.has_work(me) {
            mesh.sleeping[me].store(false, Ordering::SeqCst);
            continue;
        }
        match wake.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        mesh.sleeping[me].store(false, Ordering::SeqCst);
    }
}

fn dispatch<A: App>(shard: &Rc<Shard<A>>, from: usize, msg: MeshMsg<A::Mesh>) {
    match msg {
        MeshMsg::Handed(inbound) => shard.app().on_message(shard, inbound),
        MeshMsg::TcpWrite(conn, data) => {
            if let Err(reason) = crate::tcp::write_local(shard, conn, data.clone()) {
                crate::tcp::report_lost(shard, conn, data, reason);
            }
        }
        MeshMsg::App(m) => shard.app().on_mesh(shard, from, m),
    }
}
