//! The node's metrics: what each shard counts and times, how the
//! management thread reads it, and the views it serves (Prometheus text,
//! Clearwater's windowed statistics, alarms).
//!
//! The rule that keeps this off the hot path: a shard writes only its own
//! [`ShardMetrics`] — single writer, a `Relaxed` load and store per count,
//! never a read-modify-write or a lock — and the management thread only
//! reads. Latencies go into shard-local HdrHistograms ([`local`]) that the
//! shard publishes once a second with a `try_lock` it never waits on; a
//! sampler thread ([`sampler`]) folds the published numbers into
//! Clearwater's 5-second and 5-minute windows ([`window`]).
//!
//! Start reading at [`ShardMetrics`] and [`local::LocalMetrics`].

pub mod alarms;
pub mod labels;
pub mod local;
pub mod metered;
pub mod prometheus;
pub mod sampler;
pub mod shared;
pub mod stats;
pub mod txn;
pub mod window;

pub use labels::{CLASSES, KINDS, LatencyKind, METHODS, RegKind, method_index};
pub use shared::{Condition, Counter, GaugeF64, ShardMetrics, SuccessFail};

/// Wall-clock milliseconds since the Unix epoch (window boundaries and
/// alarm times are wall-clock, as Clearwater's are).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
