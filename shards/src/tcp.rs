//! TCP: per-shard SO_REUSEPORT listeners, connections owned by the shard
//! that accepted or opened them, stream framing, write queues with
//! Clearwater's send timeout, outbound connections reused per target, and
//! the per-IP and per-shard connection limits.

use crate::app::{App, SendError, SendFailure};
use crate::origin::{ConnId, Inbound, Origin, Transport};
use crate::shard::Shard;
use crate::stats::TransportStats;
use bytes::Bytes;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use glommio::net::{TcpListener, TcpStream};
use glommio::{GlommioError, ResourceType};
use sip_fastpath::{Frame, StreamFramer};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

enum ConnState {
    /// Outbound, connect in progress: writes wait here.
    Connecting(Vec<Bytes>),
    Open(LocalSender<Bytes>),
}

struct Conn {
    state: ConnState,
    peer: SocketAddr,
    outbound: bool,
}

/// The connections one shard owns.
pub(crate) struct Connections {
    shard: usize,
    serial: u64,
    by_id: HashMap<ConnId, Conn>,
    outbound: HashMap<SocketAddr, ConnId>,
    per_ip: HashMap<IpAddr, usize>,
}

impl Connections {
    pub(crate) fn new(shard: usize) -> Self {
        Self {
            shard,
            serial: 0,
            by_id: HashMap::new(),
            outbound: HashMap::new(),
            per_ip: HashMap::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    fn next_id(&mut self) -> ConnId {
        self.serial += 1;
        ConnId::new(self.shard, self.serial)
    }

    fn insert(&mut self, peer: SocketAddr, outbound: bool, state: ConnState) -> ConnId {
        let id = self.next_id();
        *self.per_ip.entry(peer.ip()).or_insert(0) += 1;
        if outbound {
            self.outbound.insert(peer, id);
        }
        self.by_id.insert(
            id,
            Conn {
                state,
                peer,
                outbound,
            },
        );
        id
    }

    fn remove(&mut self, id: ConnId) -> Option<Conn> {
        let conn = self.by_id.remove(&id)?;
        if conn.outbound && self.outbound.get(&conn.peer) == Some(&id) {
            self.outbound.remove(&conn.peer);
        }
        if let Some(n) = self.per_ip.get_mut(&conn.peer.ip()) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&conn.peer.ip());
            }
        }
        Some(conn)
    }
}

/// Queue `data` on a connection this shard owns.
pub(crate) fn write_local<A: App>(
    shard: &Shard<A>,
    id: ConnId,
    data: Bytes,
) -> Result<(), SendError> {
    let mut conns = shard.conns.borrow_mut();
    let conn = conns.by_id.get_mut(&id).ok_or(SendError::NoConnection)?;
    match &mut conn.state {
        ConnState::Connecting(pending) => {
            if pending.len() >= shard.tcp_config.write_queue {
                return Err(SendError::QueueFull);
            }
            pending.push(data);
            Ok(())
        }
        ConnState::Open(tx) => tx.try_send(data).map_err(|e| match e {
            GlommioError::WouldBlock(ResourceType::Channel(_)) => SendError::QueueFull,
            _ => SendError::ConnectionLost,
        }),
    }
}

pub(crate) fn report_lost<A: App>(
    shard: &Rc<Shard<A>>,
    id: ConnId,
    data: Bytes,
    reason: SendError,
) {
    let to = shard
        .conns
        .borrow()
        .by_id
        .get(&id)
        .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.peer);
    shard.app().on_send_failure(
        shard,
        SendFailure {
            transport: Transport::Tcp,
            to,
            data,
            reason,
        },
    );
}

fn admit_peer<A: App>(shard: &Shard<A>, ip: IpAddr) -> bool {
    let conns = shard.conns.borrow();
    conns.len() < shard.tcp_config.max_connections
        && conns.per_ip.get(&ip).copied().unwrap_or(0) < shard.tcp_config.max_per_ip
}

/// Send to `to`, on this shard's connection to it or a new one.
pub(crate) fn send_to_addr<A: App>(
    shard: &Rc<Shard<A>>,
    to: SocketAddr,
    data: Bytes,
) -> Result<(), SendError> {
    let existing = shard.conns.borrow().outbound.get(&to).copied();
    if let Some(id) = existing {
        return write_local(shard, id, data);
    }
    if !admit_peer(shard, to.ip()) {
        return Err(SendError::ConnectionLimit);
    }
    let id = shard
        .conns
        .borrow_mut()
        .insert(to, true, ConnState::Connecting(vec![data]));
    let me = Rc::clone(shard);
    glommio::spawn_local(connect(me, to, id)).detach();
    Ok(())
}

async fn connect<A: App>(shard: Rc<Shard<A>>, to: SocketAddr, id: ConnId) {
    let timeout = Duration::from_millis(shard.tcp_config.connect_timeout_ms.max(1));
    match TcpStream::connect_timeout(to, timeout).await {
        Ok(stream) => {
            let local = stream.local_addr().unwrap_or(to);
            let (tx, rx) = local_channel::new_bounded(shard.tcp_config.write_queue.max(1));
            let mut conns = shard.conns.borrow_mut();
            let Some(conn) = conns.by_id.get_mut(&id) else {
                return;
            };
            if let ConnState::Connecting(pending) = &mut conn.state {
                for data in pending.drain(..) {
                    let _ = tx.try_send(data);
                }
            }
            conn.state = ConnState::Open(tx);
            drop(conns);
            run(shard, stream, id, local, to, rx);
        }
        Err(e) => {
            tracing::warn!(peer = %to, error = %e, "TCP connect failed");
            let conn = shard.conns.borrow_mut().remove(id);
            if let Some(Conn {
                state: ConnState::Connecting(pending),
                ..
            }) = conn
            {
                for data in pending {
                    shard.app().on_send_failure(
                        &shard,
                        SendFailure {
                            transport: Transport::Tcp,
                            to,
                            data,
                            reason: SendError::ConnectFailed,
                        },
                    );
                }
            }
        }
    }
}

/// Accept connections until the shard stops.
pub(crate) async fn accept_loop<A: App>(
    shard: Rc<Shard<A>>,
    listener: TcpListener,
    local: SocketAddr,
) {
    while !shard.is_stopping() {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "TCP accept failed");
                glommio::yield_if_needed().await;
                continue;
            }
        };
        if shard.is_stopping() {
            break;
        }
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        if !admit_peer(&shard, peer.ip()) {
            TransportStats::bump(&shard.stats().tcp_refused);
            continue; // dropping the stream closes it
        }
        TransportStats::bump(&shard.stats().tcp_accepted);
        let _ = stream.set_nodelay(true);
        let (tx, rx) = local_channel::new_bounded(shard.tcp_config.write_queue.max(1));
        let id = shard
            .conns
            .borrow_mut()
            .insert(peer, false, ConnState::Open(tx));
        run(Rc::clone(&shard), stream, id, local, peer, rx);
    }
}

/// Start a connection's reader and writer.
fn run<A: App>(
    shard: Rc<Shard<A>>,
    stream: TcpStream,
    id: ConnId,
    local: SocketAddr,
    peer: SocketAddr,
    rx: LocalReceiver<Bytes>,
) {
    let (rd, wr) = futures_lite::io::split(stream);
    let origin = Origin {
        transport: Transport::Tcp,
        local,
        peer,
        conn: Some(id),
    };
    glommio::spawn_local(writer(Rc::clone(&shard), wr, rx, id)).detach();
    glommio::spawn_local(reader(shard, rd, origin, id)).detach();
}

async fn reader<A: App>(
    shard: Rc<Shard<A>>,
    mut rd: futures_lite::io::ReadHalf<TcpStream>,
    origin: Origin,
    id: ConnId,
) {
    let mut framer = StreamFramer::new(shard.limits);
    let mut buf = vec![0u8; 16 * 1024];
    let idle = shard.tcp_config.idle_timeout_ms;
    'conn: loop {
        let read = if idle == 0 {
            rd.read(&mut buf).await.map_err(GlommioError::from)
        } else {
            glommio::timer::timeout(Duration::from_millis(idle), async {
                rd.read(&mut buf).await.map_err(GlommioError::from)
            })
            .await
        };
        let n = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        framer.push(&buf[..n]);
        loop {
            match framer.next_frame() {
                Ok(Some(Frame::Message(data))) => {
                    TransportStats::bump(&shard.stats().tcp_rx);
                    let msg = Inbound {
                        data,
                        origin,
                        received_us: shard.now_us(),
                        handed_from: None,
                    };
                    shard.app().on_message(&shard, msg);
                }
                Ok(Some(Frame::Ping)) => {
                    // RFC 5626 §4.4.1: answer a double-CRLF ping with a CRLF pong.
                    TransportStats::bump(&shard.stats().keepalives);
                    let _ = write_local(&shard, id, Bytes::from_static(b"\r\n"));
                }
                Ok(Some(Frame::Pong)) => TransportStats::bump(&shard.stats().keepalives),
                Ok(None) => break,
                Err(e) => {
                    // The stream cannot be resynchronised after a framing error.
                    TransportStats::bump(&shard.stats().tcp_framing_errors);
                    tracing::debug!(peer = %origin.peer, error = %e, "closing TCP connection on a framing error");
                    break 'conn;
                }
            }
        }
        glommio::yield_if_needed().await;
    }
    close(&shard, id);
}

async fn writer<A: App>(
    shard: Rc<Shard<A>>,
    mut wr: futures_lite::io::WriteHalf<TcpStream>,
    rx: LocalReceiver<Bytes>,
    id: ConnId,
) {
    let timeout = Duration::from_millis(shard.tcp_config.send_timeout_ms.max(1));
    while let Some(data) = rx.recv().await {
        let sent = glommio::timer::timeout(timeout, async {
            wr.write_all(&data).await.map_err(GlommioError::from)
        })
        .await;
        match sent {
            Ok(()) => TransportStats::bump(&shard.stats().tcp_tx),
            Err(e) => {
                tracing::debug!(error = %e, "TCP send failed or timed out; closing");
                report_lost(&shard, id, data, SendError::ConnectionLost);
                break;
            }
        }
    }
    let _ = wr.close().await;
    close(&shard, id);
}

fn close<A: App>(shard: &Shard<A>, id: ConnId) {
    if shard.conns.borrow_mut().remove(id).is_some() {
        TransportStats::bump(&shard.stats().tcp_closed);
    }
}
