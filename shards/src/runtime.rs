//! Starting and stopping the shards: sockets created up front (inside the
//! signaling namespace if one is set), one pinned glommio executor per shard,
//! the mesh's queues and wake-ups built, then each shard's receive loops,
//! listeners, mesh receiver and timer driver spawned on it.

use crate::app::App;
use crate::config::{RuntimeConfig, UdpDriver};
use crate::mesh::{Mesh, MeshParts};
use crate::shard::{Shard, ShardParts, UdpOut};
use crate::udp_uring::{RingSizes, UringUdp};
use crate::{netns, sockets};
use glommio::channels::local_channel::{self, LocalReceiver};
use glommio::{LocalExecutorPoolBuilder, PoolPlacement, PoolThreadHandles};
use socket2::Socket;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Who a shard is, for the application factory.
#[derive(Debug, Clone)]
pub struct ShardInfo {
    pub id: usize,
    pub count: usize,
    /// What the runtime bound (ports resolved), for Via and Record-Route.
    pub bound: Arc<Bound>,
}

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("shards must be at least 1")]
    NoShards,
    #[error("cannot bind {transport} {addr}: {source}")]
    Bind {
        transport: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Netns(#[from] netns::NetnsError),
    #[error("cannot start the shard executors: {0}")]
    Executors(String),
}

/// A shard ended badly.
#[derive(Debug, thiserror::Error)]
#[error("shard failed: {0}")]
pub struct ShardFailed(pub String);

/// What the runtime bound (ports resolved).
#[derive(Debug, Clone, Default)]
pub struct Bound {
    pub udp: Vec<SocketAddr>,
    pub tcp: Vec<SocketAddr>,
}

/// The running shards.
pub struct RuntimeHandle {
    stop: Arc<AtomicBool>,
    threads: PoolThreadHandles<Result<(), String>>,
    bound: Bound,
}

impl RuntimeHandle {
    pub fn bound(&self) -> &Bound {
        &self.bound
    }

    /// A flag that stops every shard when set (signal handlers hold it).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Begin graceful shutdown: shards stop accepting, drain, exit.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Wait for every shard to end.
    pub fn join(self) -> Result<(), ShardFailed> {
        let mut failure = None;
        for r in self.threads.join_all() {
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failure = Some(e),
                Err(e) => failure = Some(format!("{e:?}")),
            }
        }
        failure.map_or(Ok(()), |e| Err(ShardFailed(e)))
    }
}

#[derive(Default)]
struct ShardSockets {
    udp: Vec<(SocketAddr, Socket)>,
    tcp: Vec<(SocketAddr, Socket)>,
    wake: Option<std::os::unix::net::UnixStream>,
}

/// How long shutdown waits for in-flight work (RFC 3261 Timer B/F: 32 s).
const DRAIN_MAX: Duration = Duration::from_secs(32);
const STOP_POLL: Duration = Duration::from_millis(50);

pub struct Runtime;

impl Runtime {
    /// Bind, start `cfg.shards` executors and run `factory`'s application on
    /// each. Returns once every socket is bound (so a caller may use the
    /// addresses at once); the shards run until [`RuntimeHandle::stop`].
    pub fn start<A, F>(cfg: RuntimeConfig, factory: F) -> Result<RuntimeHandle, StartError>
    where
        A: App,
        F: Fn(ShardInfo) -> A + Send + Sync + Clone + 'static,
    {
        let n = cfg.shards;
        if n == 0 {
            return Err(StartError::NoShards);
        }
        let (bound, per_shard) = {
            let _visit = match &cfg.signaling_namespace {
                Some(ns) => Some(netns::Visit::new(ns)?),
                None => None,
            };
            bind_all(&cfg)?
        };
        let MeshParts { mesh, wake_rx } = Mesh::<A::Mesh>::build(n, cfg.mesh_capacity)
            .map_err(|e| StartError::Executors(format!("mesh: {e}")))?;
        let mut per_shard = per_shard;
        for (sockets, wake) in per_shard.iter_mut().zip(wake_rx) {
            sockets.wake = wake;
        }
        let slots: Arc<Mutex<Vec<Option<ShardSockets>>>> =
            Arc::new(Mutex::new(per_shard.into_iter().map(Some).collect()));
        let stop = Arc::new(AtomicBool::new(false));
        let next_id = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
        let placement = if cfg.pin && n <= cpus {
            PoolPlacement::MaxSpread(n, None)
        } else {
            PoolPlacement::Unbound(n)
        };
        let stop2 = Arc::clone(&stop);
        let cfg = Arc::new(cfg);
        let shared_bound = Arc::new(bound.clone());
        let threads = LocalExecutorPoolBuilder::new(placement)
            .name("riptide-shard")
            .io_memory(cfg.io_memory)
            .on_all_shards(move || {
                let mesh = Arc::clone(&mesh);
                let id = next_id.fetch_add(1, Ordering::SeqCst);
                let slots = Arc::clone(&slots);
                let stop = Arc::clone(&stop2);
                let factory = factory.clone();
                let cfg = Arc::clone(&cfg);
                let bound = Arc::clone(&shared_bound);
                async move { shard_main(id, cfg, mesh, slots, stop, factory, bound).await }
            })
            .map_err(|e| StartError::Executors(e.to_string()))?;
        Ok(RuntimeHandle {
            stop,
            threads,
            bound,
        })
    }
}

/// Port-0 addresses asked for on both UDP and TCP get one port for both:
/// the kernel picks a free UDP port, which may be taken for TCP (by any
/// outbound connection); then another is picked. Bounded.
const SHARED_PORT_ATTEMPTS: usize = 64;

fn bind_all(cfg: &RuntimeConfig) -> Result<(Bound, Vec<ShardSockets>), StartError> {
    let n = cfg.shards;
    let mut bound = Bound::default();
    let mut per_shard: Vec<ShardSockets> = (0..n).map(|_| ShardSockets::default()).collect();
    let mut tcp_done = vec![false; cfg.tcp.len()];
    for &addr in &cfg.udp {
        let paired_tcp = (addr.port() == 0)
            .then(|| cfg.tcp.iter().position(|t| *t == addr))
            .flatten();
        let mut attempts = 0;
        let (at, udp, tcp) = loop {
            attempts += 1;
            let (at, udp) = sockets::udp_group(addr, n, cfg.udp_recv_buffer, cfg.udp_send_buffer)
                .map_err(|source| StartError::Bind {
                transport: "UDP",
                addr,
                source,
            })?;
            let Some(_) = paired_tcp else {
                break (at, udp, None);
            };
            match sockets::tcp_group(at, n, cfg.tcp_config.listen_backlog) {
                Ok((_, tcp)) => break (at, udp, Some(tcp)),
                Err(e)
                    if e.kind() == std::io::ErrorKind::AddrInUse
                        && attempts < SHARED_PORT_ATTEMPTS => {}
                Err(source) => {
                    return Err(StartError::Bind {
                        transport: "TCP",
                        addr: at,
                        source,
                    });
                }
            }
        };
        bound.udp.push(at);
        for (shard, s) in udp.into_iter().enumerate() {
            per_shard[shard].udp.push((at, s));
        }
        if let (Some(i), Some(tcp)) = (paired_tcp, tcp) {
            tcp_done[i] = true;
            bound.tcp.push(at);
            for (shard, s) in tcp.into_iter().enumerate() {
                per_shard[shard].tcp.push((at, s));
            }
        }
    }
    for (i, &addr) in cfg.tcp.iter().enumerate() {
        if tcp_done[i] {
            continue;
        }
        let (at, group) =
            sockets::tcp_group(addr, n, cfg.tcp_config.listen_backlog).map_err(|source| {
                StartError::Bind {
                    transport: "TCP",
                    addr,
                    source,
                }
            })?;
        bound.tcp.push(at);
        for (shard, s) in group.into_iter().enumerate() {
            per_shard[shard].tcp.push((at, s));
        }
    }
    Ok((bound, per_shard))
}

async fn shard_main<A, F>(
    id: usize,
    cfg: Arc<RuntimeConfig>,
    mesh: Arc<Mesh<A::Mesh>>,
    slots: Arc<Mutex<Vec<Option<ShardSockets>>>>,
    stop: Arc<AtomicBool>,
    factory: F,
    bound: Arc<Bound>,
) -> Result<(), String>
where
    A: App,
    F: Fn(ShardInfo) -> A,
{
    if let Some(ns) = &cfg.signaling_namespace {
        netns::enter(ns).map_err(|e| e.to_string())?;
    }
    let count = cfg.shards;
    let socks = slots
        .lock()
        .map_err(|_| "socket table poisoned".to_owned())?
        .get_mut(id)
        .and_then(Option::take)
        .ok_or_else(|| format!("no sockets for shard {id}"))?;
    let mut udp_out = Vec::with_capacity(socks.udp.len());
    for (local, s) in &socks.udp {
        let dup = s.try_clone().map_err(|e| format!("dup UDP socket: {e}"))?;
        udp_out.push(UdpOut {
            local: *local,
            socket: dup,
        });
    }
    let mut ring = None;
    if cfg.udp_driver == UdpDriver::Uring && !socks.udp.is_empty() {
        ring = start_ring(&cfg, &socks.udp);
    }
    let (kick_tx, kick_rx) = local_channel::new_bounded(1);
    let app = factory(ShardInfo { id, count, bound });
    let shard = Rc::new(Shard::new(ShardParts {
        app,
        id,
        count,
        clock: crate::clock::Clock::new(),
        udp: udp_out,
        udp_ring: ring.as_ref().map(|(r, _)| Rc::clone(r)),
        tcp_config: cfg.tcp_config.clone(),
        limits: cfg.limits,
        mesh: Arc::clone(&mesh),
        timer_kick: kick_tx,
    }));
    if let Some(wake) = socks.wake {
        glommio::spawn_local(crate::mesh::receive(Rc::clone(&shard), mesh, wake)).detach();
    }
    let mut udp_task = None;
    if let Some((r, wake)) = ring {
        // The ring holds duplicates of the sockets; the originals close here.
        drop(socks.udp);
        udp_task = Some(glommio::spawn_local(crate::udp_uring::drive(
            Rc::clone(&shard),
            r,
            wake,
        )));
        tracing::debug!(shard = id, "UDP on the shard's io_uring");
    } else {
        spawn_glommio_udp(&shard, socks.udp);
    }
    let mut listeners = Vec::new();
    for (local, s) in socks.tcp {
        // SAFETY: ownership of the listening descriptor moves to glommio.
        #[allow(unsafe_code)]
        let listener = unsafe { glommio::net::TcpListener::from_raw_fd(s.into_raw_fd()) };
        listeners.push(glommio::spawn_local(crate::tcp::accept_loop(
            Rc::clone(&shard),
            listener,
            local,
        )));
    }
    glommio::spawn_local(timer_driver(Rc::clone(&shard), kick_rx)).detach();
    shard.app().on_start(&shard);
    tracing::info!(shard = id, shards = count, "shard running");

    while !stop.load(Ordering::SeqCst) {
        glommio::timer::sleep(STOP_POLL).await;
    }
    shard.set_stopping();
    // Stop accepting: dropping the accept tasks closes the listeners.
    for l in listeners {
        l.cancel().await;
    }
    let started = shard.now_us();
    while shard.app().in_flight() > 0 && shard.now_us() - started < DRAIN_MAX.as_micros() as u64 {
        glommio::timer::sleep(STOP_POLL).await;
    }
    // UDP flowed through the drain; now end the ring's requests and close it.
    if let Some(t) = udp_task {
        t.cancel().await;
    }
    drop(shard.take_udp_ring());
    tracing::info!(shard = id, left = shard.app().in_flight(), "shard stopped");
    Ok(())
}

/// The io_uring UDP driver over duplicates of `udp`, or None (logged) when
/// the kernel refuses it: the shard then uses glommio's path.
fn start_ring(
    cfg: &RuntimeConfig,
    udp: &[(SocketAddr, Socket)],
) -> Option<(Rc<RefCell<UringUdp>>, OwnedFd)> {
    let dups: std::io::Result<Vec<_>> = udp
        .iter()
        .map(|(local, s)| s.try_clone().map(|d| (*local, d)))
        .collect();
    let sizes = RingSizes {
        buffers: cfg.udp_ring_buffers,
        datagram_max: cfg.udp_datagram_max,
        entries: 256,
    };
    match dups.and_then(|d| UringUdp::new(d, sizes)) {
        Ok((r, wake)) => Some((Rc::new(RefCell::new(r)), wake)),
        Err(e) => {
            tracing::warn!(error = %e, "io_uring UDP driver unavailable; using glommio's");
            None
        }
    }
}

fn spawn_glommio_udp<A: App>(shard: &Rc<Shard<A>>, udp: Vec<(SocketAddr, Socket)>) {
    for (local, s) in udp {
        // SAFETY: the descriptor comes from a socket2::Socket we own and give
        // up here (into_raw_fd), so glommio's socket is its only owner.
        #[allow(unsafe_code)]
        let sock = unsafe { glommio::net::UdpSocket::from_raw_fd(s.into_raw_fd()) };
        glommio::spawn_local(crate::udp::receive_loop(Rc::clone(shard), sock, local)).detach();
    }
}

async fn timer_driver<A: App>(shard: Rc<Shard<A>>, kick: LocalReceiver<()>) {
    let mut fired = Vec::new();
    loop {
        let now = shard.now_ms();
        shard.timers().borrow_mut().advance(now, &mut fired);
        for token in fired.drain(..) {
            shard.app().on_timer(&shard, token);
        }
        let next = shard.timers().borrow().next_wake();
        let wait_ms = match next {
            Some(at) => at.saturating_sub(shard.now_ms()),
            None => 1000,
        };
        if wait_ms == 0 {
            glommio::yield_if_needed().await;
            continue;
        }
        futures_lite::future::or(
            async {
                glommio::timer::sleep(Duration::from_millis(wait_ms)).await;
            },
            async {
                let _ = kick.recv().await;
            },
        )
        .await;
    }
}

/// Make a panic anywhere (a shard included) end the process with a clear
/// log line and exit code 70, instead of leaving the other shards running.
pub fn exit_on_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed").to_owned();
        tracing::error!(thread = %name, "panic: {info}; stopping the process");
        default(info);
        std::process::exit(70);
    }));
}
