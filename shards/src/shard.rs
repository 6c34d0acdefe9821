//! One shard's context: what the application reaches through the `&Rc<Shard>`
//! every callback receives. Everything here belongs to one thread.

use crate::app::{App, SendError};
use crate::clock::Clock;
use crate::config::TcpConfig;
use crate::mesh::{Mesh, MeshMsg};
use crate::origin::{ConnId, Inbound, Transport};
use crate::stats::TransportStats;
use crate::tcp::Connections;
use crate::udp_uring::UringUdp;
use crate::wheel::{TimerId, TimerWheel};
use bytes::Bytes;
use glommio::channels::local_channel::LocalSender;
use sip_fastpath::Limits;
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;

/// A UDP socket this shard sends from (a duplicate of the one it receives on).
pub(crate) struct UdpOut {
    pub(crate) local: SocketAddr,
    pub(crate) socket: socket2::Socket,
}

pub struct Shard<A: App> {
    app: A,
    id: usize,
    count: usize,
    clock: Clock,
    pub(crate) udp: Vec<UdpOut>,
    /// The io_uring UDP driver, when it runs (else sends go through `udp`).
    /// Taken out at shutdown, once the driver has stopped.
    udp_ring: RefCell<Option<Rc<RefCell<UringUdp>>>>,
    pub(crate) conns: RefCell<Connections>,
    pub(crate) tcp_config: TcpConfig,
    pub(crate) limits: Limits,
    mesh: std::sync::Arc<Mesh<A::Mesh>>,
    timers: RefCell<TimerWheel<u64>>,
    timer_kick: LocalSender<()>,
    stats: TransportStats,
    stopping: Cell<bool>,
}

pub(crate) struct ShardParts<A: App> {
    pub app: A,
    pub id: usize,
    pub count: usize,
    pub clock: Clock,
    pub udp: Vec<UdpOut>,
    pub udp_ring: Option<Rc<RefCell<UringUdp>>>,
    pub tcp_config: TcpConfig,
    pub limits: Limits,
    pub mesh: std::sync::Arc<Mesh<A::Mesh>>,
    pub timer_kick: LocalSender<()>,
}

impl<A: App> Shard<A> {
    pub(crate) fn new(p: ShardParts<A>) -> Self {
        let now = p.clock.now_ms();
        Self {
            app: p.app,
            id: p.id,
            count: p.count,
            clock: p.clock,
            udp: p.udp,
            udp_ring: RefCell::new(p.udp_ring),
            conns: RefCell::new(Connections::new(p.id)),
            tcp_config: p.tcp_config,
            limits: p.limits,
            mesh: p.mesh,
            timers: RefCell::new(TimerWheel::new(now)),
            timer_kick: p.timer_kick,
            stats: TransportStats::default(),
            stopping: Cell::new(false),
        }
    }

    pub fn app(&self) -> &A {
        &self.app
    }

    /// This shard's index, `0..count`.
    pub fn id(&self) -> usize {
        self.id
    }

    /// How many shards run.
    pub fn count(&self) -> usize {
        self.count
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    pub fn now_us(&self) -> u64 {
        self.clock.now_us()
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    pub fn stats(&self) -> &TransportStats {
        &self.stats
    }

    /// Shutdown has begun: answer new requests 503, finish the rest.
    pub fn is_stopping(&self) -> bool {
        self.stopping.get()
    }

    pub(crate) fn set_stopping(&self) {
        self.stopping.set(true);
    }

    /// Who moves this shard's UDP datagrams (the io_uring driver falls back
    /// to glommio's when the kernel refuses it).
    pub fn udp_driver(&self) -> crate::config::UdpDriver {
        if self.udp_ring.borrow().is_some() {
            crate::config::UdpDriver::Uring
        } else {
            crate::config::UdpDriver::Glommio
        }
    }

    /// Stop sending through the io_uring driver (shutdown; its task has
    /// ended) and hand the ring over to be closed.
    pub(crate) fn take_udp_ring(&self) -> Option<Rc<RefCell<UringUdp>>> {
        self.udp_ring.borrow_mut().take()
    }

    /// The UDP addresses this shard listens on.
    pub fn udp_addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.udp.iter().map(|u| u.local)
    }

    /// Send a datagram from our socket on `from` (or the first of the same
    /// family). Never waits: when the kernel's buffer is full the datagram is
    /// dropped and counted, as UDP would lose it anyway. With the io_uring
    /// driver the send is queued (copied) and leaves with the shard's next
    /// submit: at once, or at the end of the batch being dispatched.
    pub fn send_udp(
        &self,
        from: Option<SocketAddr>,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), SendError> {
        let out = from
            .and_then(|f| self.udp.iter().find(|u| u.local == f))
            .or_else(|| self.udp.iter().find(|u| u.local.is_ipv4() == to.is_ipv4()))
            .ok_or_else(|| SendError::Io(format!("no UDP socket for {to}")))?;
        if let Some(ring) = &*self.udp_ring.borrow() {
            if let Ok(mut ring) = ring.try_borrow_mut() {
                if let Some(i) = ring.socket_for(out.local) {
                    ring.send(i, to, data);
                    return Ok(());
                }
            }
        }
        match out
            .socket
            .send_to_with_flags(data, &to.into(), libc::MSG_DONTWAIT)
        {
            Ok(_) => {
                TransportStats::bump(&self.stats.udp_tx);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                TransportStats::bump(&self.stats.udp_tx_dropped);
                Ok(())
            }
            Err(e) => Err(SendError::Io(e.to_string())),
        }
    }

    /// Write to a TCP connection, on whichever shard owns it.
    pub fn send_tcp(self: &Rc<Self>, conn: ConnId, data: Bytes) -> Result<(), SendError> {
        let owner = conn.shard();
        if owner == self.id {
            return crate::tcp::write_local(self, conn, data);
        }
        if owner >= self.count {
            return Err(SendError::NoConnection);
        }
        self.mesh_send(owner, MeshMsg::TcpWrite(conn, data))
            .map_err(|_| SendError::MeshFull)
    }

    /// Send over TCP to `to`, reusing this shard's connection to it or
    /// opening one. A connect that fails later comes back through
    /// [`App::on_send_failure`].
    pub fn send_tcp_to(self: &Rc<Self>, to: SocketAddr, data: Bytes) -> Result<(), SendError> {
        crate::tcp::send_to_addr(self, to, data)
    }

    /// Send by transport: UDP from our socket, TCP on `conn` if given, else
    /// to the address over a reused or new connection.
    pub fn send(
        self: &Rc<Self>,
        transport: Transport,
        to: SocketAddr,
        conn: Option<ConnId>,
        data: Bytes,
    ) -> Result<(), SendError> {
        match (transport, conn) {
            (Transport::Udp, _) => self.send_udp(None, to, &data),
            (Transport::Tcp, Some(c)) => self.send_tcp(c, data),
            (Transport::Tcp, None) => self.send_tcp_to(to, data),
        }
    }

    /// Hand a message to the shard that owns its work. A full queue gives
    /// the message back: answer 503.
    // The refused message comes back whole so the caller can answer it.
    #[allow(clippy::result_large_err)]
    pub fn hand_to(self: &Rc<Self>, shard: usize, mut msg: Inbound) -> Result<(), Inbound> {
        if shard == self.id || shard >= self.count {
            let me = Rc::clone(self);
            glommio::spawn_local(async move { me.app.on_message(&me, msg) }).detach();
            return Ok(());
        }
        msg.handed_from = Some(self.id);
        match self.mesh_send(shard, MeshMsg::Handed(msg)) {
            Ok(()) => Ok(()),
            Err(MeshMsg::Handed(i)) => Err(i),
            Err(_) => unreachable!("the mesh gives back the message it was given"),
        }
    }

    /// Send an application message to another shard (or to this one, later
    /// on this thread). A full queue gives it back.
    pub fn to_shard(self: &Rc<Self>, shard: usize, msg: A::Mesh) -> Result<(), A::Mesh> {
        if shard == self.id || shard >= self.count {
            let me = Rc::clone(self);
            let from = self.id;
            glommio::spawn_local(async move { me.app.on_mesh(&me, from, msg) }).detach();
            return Ok(());
        }
        match self.mesh_send(shard, MeshMsg::App(msg)) {
            Ok(()) => Ok(()),
            Err(MeshMsg::App(m)) => Err(m),
            Err(_) => unreachable!("the mesh gives back the message it was given"),
        }
    }

    #[allow(clippy::result_large_err)]
    fn mesh_send(&self, shard: usize, msg: MeshMsg<A::Mesh>) -> Result<(), MeshMsg<A::Mesh>> {
        match self.mesh.send(self.id, shard, msg) {
            Ok(()) => {
                TransportStats::bump(&self.stats.mesh_tx);
                Ok(())
            }
            Err(m) => {
                TransportStats::bump(&self.stats.mesh_full);
                Err(m)
            }
        }
    }

    /// Call [`App::on_timer`] with `token` at `deadline_ms` (runtime clock).
    pub fn timer_at(&self, deadline_ms: u64, token: u64) -> TimerId {
        let mut wheel = self.timers.borrow_mut();
        let earlier = wheel.next_wake().is_none_or(|w| deadline_ms < w);
        let id = wheel.insert(deadline_ms, token);
        drop(wheel);
        if earlier {
            // The driver sleeps until the old earliest deadline: wake it.
            let _ = self.timer_kick.try_send(());
        }
        id
    }

    /// Cancel a timer; false if it already fired or was cancelled.
    pub fn cancel_timer(&self, id: TimerId) -> bool {
        self.timers.borrow_mut().cancel(id).is_some()
    }

    pub(crate) fn timers(&self) -> &RefCell<TimerWheel<u64>> {
        &self.timers
    }
}
