//! Riptide's thread-per-core runtime.
//!
//! What it is for: running N shards, each a glommio executor pinned to one
//! core, each owning its sockets (SO_REUSEPORT UDP and TCP), its TCP
//! connections, a timer wheel ([`wheel`]) and an admission throttle
//! ([`throttle`]); moving work between shards over bounded SPSC queues (the
//! mesh); entering the signaling network namespace ([`netns`]). An
//! application implements [`App`] and sees framed messages ([`Inbound`]),
//! mesh messages and timers on the shard that owns them.
//!
//! What it is not: it knows SIP only as framed messages (stream framing and
//! the throttle's exemption rules come from `sip-fastpath`); transactions,
//! routing and registrar state are the engine's.

pub mod app;
pub mod clock;
pub mod config;
pub mod mesh;
pub mod netns;
pub mod origin;
pub mod runtime;
pub mod shard;
mod sockets;
pub mod stats;
mod tcp;
pub mod throttle;
mod udp;
mod udp_uring;
pub mod wheel;

pub use app::{App, SendError, SendFailure};
pub use clock::Clock;
pub use config::{RuntimeConfig, TcpConfig, UdpDriver};
pub use origin::{ConnId, Inbound, Origin, Transport};
pub use runtime::{
    Bound, Runtime, RuntimeHandle, ShardFailed, ShardInfo, StartError, exit_on_panic,
};
pub use shard::Shard;
pub use stats::TransportStats;
pub use throttle::{Exemptions, Throttle, ThrottleConfig};
pub use wheel::{TimerId, TimerWheel};
