//! Runtime settings: how many shards, what to bind, and the limits.

use sip_fastpath::Limits;
use std::net::SocketAddr;

/// TCP settings; the timeouts are Clearwater's `sip_tcp_connect_timeout` and
/// `sip_tcp_send_timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConfig {
    pub connect_timeout_ms: u64,
    pub send_timeout_ms: u64,
    /// A connection with nothing received for this long is closed (0: never).
    pub idle_timeout_ms: u64,
    /// Connections one remote IP may hold on one shard.
    pub max_per_ip: usize,
    /// Connections one shard holds at most (accepted plus opened).
    pub max_connections: usize,
    /// Messages queued for one connection's writer before sends fail.
    pub write_queue: usize,
    pub listen_backlog: i32,
}

impl Default for TcpConfig {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 2000,
            send_timeout_ms: 2000,
            idle_timeout_ms: 900_000,
            max_per_ip: 1000,
            max_connections: 65_536,
            write_queue: 1024,
            listen_backlog: 1024,
        }
    }
}

/// Who moves UDP datagrams in a shard.
///
/// The default is glommio's path: on loopback OPTIONS at 2 000 and 5 000/s
/// the io_uring driver measured no cheaper (median CPU per request equal at
/// 2 000/s, 5 % more at 5 000/s; `perf/README.md`), because what both pay
/// per wake-up is glommio's own park and unpark, not the datagram path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UdpDriver {
    /// The shard's own io_uring: multishot receives into provided buffers,
    /// sends batched per pass. Falls back to glommio if the kernel refuses.
    Uring,
    /// glommio's `UdpSocket` receive loop and one `sendmsg` per datagram.
    #[default]
    Glommio,
}

impl std::str::FromStr for UdpDriver {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "uring" => Ok(Self::Uring),
            "glommio" => Ok(Self::Glommio),
            other => Err(format!("unknown UDP driver {other:?} (uring or glommio)")),
        }
    }
}

/// Everything [`crate::Runtime::start`] needs.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Number of shards (one pinned executor each).
    pub shards: usize,
    /// Pin shard `i` to a distinct CPU (off for tests sharing a machine).
    pub pin: bool,
    /// SIP over UDP: every shard binds each address (SO_REUSEPORT). Port 0
    /// picks one port for all shards.
    pub udp: Vec<SocketAddr>,
    /// SIP over TCP: one SO_REUSEPORT listener per shard per address.
    pub tcp: Vec<SocketAddr>,
    pub udp_recv_buffer: usize,
    pub udp_send_buffer: usize,
    pub tcp_config: TcpConfig,
    /// Capacity of each shard-to-shard queue; a full queue is back-pressure.
    pub mesh_capacity: usize,
    /// Message limits for stream framing.
    pub limits: Limits,
    /// Network namespace (a name under `/var/run/netns`) the SIP sockets and
    /// every shard live in; management listeners stay where the process is.
    pub signaling_namespace: Option<String>,
    /// Bytes of io_uring-registered memory per shard (glommio `io_memory`).
    pub io_memory: usize,
    pub udp_driver: UdpDriver,
    /// io_uring driver: receive buffers per shard (a power of two ≤ 32 768).
    pub udp_ring_buffers: u16,
    /// io_uring driver: largest datagram received; longer ones are dropped
    /// and counted (`udp_rx_dropped`).
    pub udp_datagram_max: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            shards: std::thread::available_parallelism().map_or(1, |n| n.get()),
            pin: true,
            udp: Vec::new(),
            tcp: Vec::new(),
            udp_recv_buffer: 4 << 20,
            udp_send_buffer: 4 << 20,
            tcp_config: TcpConfig::default(),
            mesh_capacity: 4096,
            limits: Limits::default(),
            signaling_namespace: None,
            io_memory: 1 << 20,
            udp_driver: UdpDriver::default(),
            udp_ring_buffers: 256,
            udp_datagram_max: 65_535,
        }
    }
}
