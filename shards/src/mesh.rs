//! The cross-shard mesh: a bounded single-producer/single-consumer queue
//! for every ordered pair of shards, and a wake-up per shard. What crosses
//! it: a message handed to its owner, a write for a TCP connection another
//! shard owns, or an application message.
//!
//! Why not glommio's channel mesh: with glommio 0.9 on this kernel its
//! teardown corrupts the heap in about 3 % of two-executor runs (a plain
//! join/close/exit reproduces it), so the mesh is ours. Each queue is a
//! [`ring`] (one producer shard, one consumer shard, enforced): a hop moves
//! only the cache lines of its slot, with one Release store by each side
//! and no read-modify-write.
//!
//! Bounded: a full queue gives the message back (the caller answers 503).
//! A shard never queues to itself (it runs its own work locally).
//!
//! Sleeping without lost wake-ups. An idle shard costs nothing: it waits on
//! its wake socket, and a sender writes one byte there only when the
//! receiver said it sleeps, so a busy shard pays no system call per
//! message. The two sides follow Dekker's pattern, each storing to one
//! location and then loading the other's:
//!
//! - receiver ([`Mesh::sleep_unless_work`]): `sleeping = true`; SeqCst
//!   fence; load the next slot's stamp of every incoming queue; if one holds
//!   a message, `sleeping = false` and carry on, otherwise wait for a byte
//!   on the wake socket, then `sleeping = false` ([`Mesh::awake`]).
//! - sender ([`Mesh::send`]): publish the message (Release store of its
//!   slot's stamp); SeqCst fence; load `sleeping`; only if it is set, `swap`
//!   it to false and, if this sender was the one to clear it, write the byte.
//!
//! Why no wake-up is lost: two SeqCst fences are totally ordered. If the
//! sender's fence comes first, the receiver's stamp load (after its own
//! fence) must see the published stamp, so it does not sleep; if the
//! receiver's comes first, the sender's load must see `sleeping = true`
//! (or a later store: another sender's swap, which writes the byte, or the
//! receiver's own reset after finding work). Without the fences each side's
//! load could be satisfied before its store is visible (x86's store buffer
//! does exactly that) and both could miss.
//!
//! The common case, a busy receiver, costs the sender one fence and a load
//! of a line that changes only when the receiver sleeps or wakes: nothing
//! bounces per message (an unconditional `swap` would take the line every
//! time). The `swap` lets only one of several senders write the byte; a
//! stray byte (the receiver found work after all) costs one spurious
//! wake-up later. Each shard's flag has its own cache line.

mod ring;

use crate::app::App;
use crate::origin::{ConnId, Inbound};
use crate::shard::Shard;
use crate::stats::TransportStats;
use bytes::Bytes;
use futures_lite::AsyncReadExt;
use ring::{Padded, Ring};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};

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
    queues: Vec<Ring<MeshMsg<M>>>,
    sleeping: Vec<Padded<AtomicBool>>,
    wake: Vec<UnixStream>,
}

/// What each shard gets: its end of the mesh, and the socket it waits on.
pub struct MeshParts<M> {
    pub mesh: Arc<Mesh<M>>,
    pub wake_rx: Vec<Option<UnixStream>>,
}

impl<M> Mesh<M> {
    /// `n` shards, each queue holding at most `capacity` messages (a
    /// shard's queue to itself holds none: it runs its own work locally).
    pub fn build(n: usize, capacity: usize) -> std::io::Result<MeshParts<M>> {
        let mut wake = Vec::with_capacity(n);
        let mut wake_rx = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = UnixStream::pair()?;
            tx.set_nonblocking(true)?;
            wake.push(tx);
            wake_rx.push(Some(rx));
        }
        // A shard runs its own work locally: its queue to itself holds nothing.
        let queues = (0..n * n)
            .map(|i| Ring::new(if i / n == i % n { 0 } else { capacity }))
            .collect();
        let sleeping = (0..n).map(|_| Padded(AtomicBool::new(false))).collect();
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

    /// Queue `msg` from shard `from` to shard `to`, waking `to` if it
    /// sleeps. A full queue gives the message back, and so does a queue
    /// whose sending side another thread already uses (one thread per shard).
    #[allow(clippy::result_large_err)]
    pub fn send(&self, from: usize, to: usize, msg: MeshMsg<M>) -> Result<(), MeshMsg<M>> {
        self.queues[from * self.n + to].push(msg)?;
        self.wake_if_sleeping(to);
        Ok(())
    }

    /// The sender's half of the protocol, after publishing a message.
    #[inline]
    fn wake_if_sleeping(&self, to: usize) {
        // Dekker: the publishing store before this load.
        fence(Ordering::SeqCst);
        let sleeping = &self.sleeping[to].0;
        if sleeping.load(Ordering::Relaxed) && sleeping.swap(false, Ordering::Relaxed) {
            // A full wake buffer means a wake-up is already pending.
            let _ = std::io::Write::write(&mut (&self.wake[to]), &[1]);
        }
    }

    /// Take the oldest message from `from` to `to` (the receiving shard's
    /// side; one thread per shard).
    pub fn pop(&self, from: usize, to: usize) -> Option<MeshMsg<M>> {
        self.queues[from * self.n + to].pop()
    }

    /// The receiving shard `me` found nothing to do: mark it sleeping and
    /// look at its queues once more. True: nothing came, so wait for a byte
    /// on the wake socket, then call [`Mesh::awake`]. False: work arrived,
    /// keep popping (the flag is cleared again).
    pub fn sleep_unless_work(&self, me: usize) -> bool {
        self.mark_sleeping(me);
        self.last_look(me)
    }

    /// The receiver's half, first step.
    fn mark_sleeping(&self, me: usize) {
        self.sleeping[me].0.store(true, Ordering::Relaxed);
        // Dekker: the flag store before the loads in `last_look`.
        fence(Ordering::SeqCst);
    }

    /// The receiver's half, second step: true if nothing is queued.
    fn last_look(&self, me: usize) -> bool {
        let work =
            (0..self.n).any(|from| !self.queues[from * self.n + me].is_empty(Ordering::Relaxed));
        if work {
            self.sleeping[me].0.store(false, Ordering::Relaxed);
        }
        !work
    }

    /// The receiving shard `me` was woken (or is about to look anyway).
    pub fn awake(&self, me: usize) {
        self.sleeping[me].0.store(false, Ordering::Relaxed);
    }

    /// Shards in the mesh.
    pub fn shards(&self) -> usize {
        self.n
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
        if !mesh.sleep_unless_work(me) {
            continue;
        }
        match wake.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        mesh.awake(me);
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::sync::atomic::AtomicU32;
    use std::time::{Duration, Instant};

    fn readable(wake: &UnixStream) -> bool {
        wake.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 64];
        let got = (&*wake).read(&mut buf).is_ok_and(|n| n > 0);
        wake.set_nonblocking(false).unwrap();
        got
    }

    /// Every interleaving of the sender's two steps (publish the message;
    /// wake the receiver if it sleeps) with the receiver's two (mark
    /// itself sleeping; last look at its queues): whenever the receiver
    /// decides to sleep, a wake byte is waiting for it, and the message is
    /// there when it looks.
    #[test]
    fn no_interleaving_of_send_and_sleep_loses_a_wake_up() {
        // 0, 1: the sender's steps; 2, 3: the receiver's; each side in order.
        let orders = [
            [0, 1, 2, 3],
            [0, 2, 1, 3],
            [0, 2, 3, 1],
            [2, 0, 1, 3],
            [2, 0, 3, 1],
            [2, 3, 0, 1],
        ];
        for order in orders {
            let mut parts = Mesh::<u32>::build(2, 4).unwrap();
            let wake = parts.wake_rx[1].take().unwrap();
            let mesh = parts.mesh;
            let mut sleeps = None;
            for step in order {
                match step {
                    0 => assert!(mesh.queues[1].push(MeshMsg::App(5)).is_ok()),
                    1 => mesh.wake_if_sleeping(1),
                    2 => mesh.mark_sleeping(1),
                    _ => sleeps = Some(mesh.last_look(1)),
                }
            }
            let woken = readable(&wake);
            if sleeps == Some(true) {
                assert!(woken, "{order:?}: asleep with no wake byte");
                mesh.awake(1);
            }
            assert!(matches!(mesh.pop(0, 1), Some(MeshMsg::App(5))), "{order:?}");
        }
    }

    /// The two orders of "receiver goes to sleep" and "sender queues":
    /// either the receiver sees the message and stays up, or the sender
    /// sees it sleeping and writes the wake byte.
    #[test]
    fn a_message_either_keeps_the_receiver_up_or_wakes_it() {
        // Send first: the receiver's last look finds it.
        let mut parts = Mesh::<u32>::build(2, 4).unwrap();
        let wake = parts.wake_rx[1].take().unwrap();
        let mesh = parts.mesh;
        assert!(mesh.send(0, 1, MeshMsg::App(7)).is_ok());
        assert!(!mesh.sleep_unless_work(1), "work was queued");
        assert!(matches!(mesh.pop(0, 1), Some(MeshMsg::App(7))));
        assert!(!readable(&wake), "nobody slept, nobody was woken");

        // Sleep first: the sender sees the flag and writes one byte.
        assert!(mesh.sleep_unless_work(1));
        assert!(mesh.send(0, 1, MeshMsg::App(8)).is_ok());
        assert!(readable(&wake), "the sleeping receiver was woken");
        mesh.awake(1);
        assert!(matches!(mesh.pop(0, 1), Some(MeshMsg::App(8))));

        // Awake again: more messages write no more bytes.
        assert!(mesh.send(0, 1, MeshMsg::App(9)).is_ok());
        assert!(!readable(&wake));
    }

    #[test]
    fn a_full_queue_gives_the_message_back_and_a_shard_does_not_queue_to_itself() {
        let parts = Mesh::<u32>::build(2, 2).unwrap();
        let mesh = parts.mesh;
        assert!(mesh.send(0, 1, MeshMsg::App(1)).is_ok());
        assert!(mesh.send(0, 1, MeshMsg::App(2)).is_ok());
        assert!(matches!(
            mesh.send(0, 1, MeshMsg::App(3)),
            Err(MeshMsg::App(3))
        ));
        assert!(matches!(
            mesh.send(1, 1, MeshMsg::App(4)),
            Err(MeshMsg::App(4))
        ));
        assert!(matches!(mesh.pop(0, 1), Some(MeshMsg::App(1))));
        assert!(mesh.send(0, 1, MeshMsg::App(3)).is_ok());
    }

    /// Many sleep/wake rounds between two real threads. The sender queues
    /// one message, waits for its acknowledgement, then waits a varying
    /// few hundred spins before the next: so the next message lands at
    /// every point of the receiver's way to sleep (just before its flag,
    /// between flag and last look, after). A lost wake-up leaves the
    /// receiver asleep with a message queued, never acknowledging it.
    #[test]
    fn a_sleeping_receiver_is_always_woken() {
        const ROUNDS: u32 = 50_000;
        let mut parts = Mesh::<u32>::build(2, 4).unwrap();
        let mut wake = parts.wake_rx[1].take().unwrap();
        let mesh = parts.mesh;
        let acked = Arc::new(AtomicU32::new(u32::MAX));
        let receiver = {
            let mesh = Arc::clone(&mesh);
            let acked = Arc::clone(&acked);
            std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                let (mut next, mut sleeps) = (0, 0u32);
                while next < ROUNDS {
                    match mesh.pop(0, 1) {
                        Some(MeshMsg::App(i)) => {
                            assert_eq!(i, next);
                            next += 1;
                            acked.store(i, Ordering::Release);
                        }
                        Some(_) => unreachable!("only App messages are sent"),
                        None => {
                            if mesh.sleep_unless_work(1) {
                                sleeps += 1;
                                assert!(wake.read(&mut buf).unwrap() > 0);
                                mesh.awake(1);
                            }
                        }
                    }
                }
                sleeps
            })
        };
        let started = Instant::now();
        for i in 0..ROUNDS {
            assert!(mesh.send(0, 1, MeshMsg::App(i)).is_ok());
            let mut spins = 0u32;
            while acked.load(Ordering::Acquire) != i {
                std::hint::spin_loop();
                spins = spins.wrapping_add(1);
                // Only a guard against hanging the suite: a lost wake-up
                // never acknowledges, however long we wait.
                if spins % (1 << 20) == 0 {
                    assert!(
                        started.elapsed() < Duration::from_secs(120),
                        "message {i} was not received: lost wake-up"
                    );
                    std::thread::yield_now();
                }
            }
            for _ in 0..(i.wrapping_mul(7919) % 400) {
                std::hint::spin_loop();
            }
        }
        let sleeps = receiver.join().unwrap();
        assert!(sleeps > 0, "the receiver slept between messages");
    }
}
