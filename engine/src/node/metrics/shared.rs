//! What a shard shares with the management thread: counters and gauges as
//! atomics the shard alone writes, and the latency numbers it publishes.

use super::labels::{CLASSES, METHODS};
use super::local::Published;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A count with one writer (its shard). `inc` is a plain load and store:
/// no lock prefix, no cache-line ping-pong, and readers on other threads
/// see a value at most a moment old.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    /// For gauges (the shard refreshes them once a second).
    #[inline]
    pub fn set(&self, v: u64) {
        self.0.store(v, Relaxed);
    }

    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A floating-point gauge (the throttle's rate and smoothed latency).
#[derive(Debug, Default)]
pub struct GaugeF64(AtomicU64);

impl GaugeF64 {
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Relaxed);
    }

    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Relaxed))
    }
}

/// Clearwater's attempts / successes / failures triple.
#[derive(Debug, Default)]
pub struct SuccessFail {
    pub attempts: Counter,
    pub successes: Counter,
    pub failures: Counter,
}

impl SuccessFail {
    /// An attempt and its result, counted together.
    #[inline]
    pub fn record(&self, success: bool) {
        self.attempts.inc();
        if success {
            self.successes.inc();
        } else {
            self.failures.inc();
        }
    }
}

/// How long a transient condition (overload, a full shard queue) stays
/// raised after it was last seen.
pub const CONDITION_HOLD_MS: u64 = 5_000;

/// An alarm condition as its shard sees it: raised since when (0 when
/// clear), last seen when (wall-clock ms).
#[derive(Debug, Default)]
pub struct Condition {
    pub since_ms: Counter,
    pub last_seen_ms: Counter,
}

impl Condition {
    /// The condition happened now. True when this starts a new episode
    /// (for one log line per burst rather than one per message). A
    /// `transient` condition's episode ends [`CONDITION_HOLD_MS`] after it
    /// was last seen; a sticky one's only at [`Condition::clear`].
    #[inline]
    pub fn raise(&self, now_ms: u64, transient: bool) -> bool {
        let since = self.since_ms.get();
        let last = self.last_seen_ms.get();
        self.last_seen_ms.set(now_ms);
        let lapsed = transient && now_ms.saturating_sub(last) > CONDITION_HOLD_MS;
        if since == 0 || lapsed {
            self.since_ms.set(now_ms.max(1));
            return true;
        }
        false
    }

    /// The condition is over (a sticky one: the HSS or the store answered).
    #[inline]
    pub fn clear(&self) {
        if self.since_ms.get() != 0 {
            self.since_ms.set(0);
        }
    }

    /// Raised at `now_ms`: since when, if so. `transient` conditions lapse
    /// [`CONDITION_HOLD_MS`] after they were last seen.
    pub fn active(&self, now_ms: u64, transient: bool) -> Option<u64> {
        let since = self.since_ms.get();
        if since == 0 {
            return None;
        }
        if transient && now_ms.saturating_sub(self.last_seen_ms.get()) > CONDITION_HOLD_MS {
            return None;
        }
        Some(since)
    }
}

/// Copies of the runtime's per-shard transport counters (`shards::TransportStats`
/// are cells on the shard's thread; the shard copies them here once a second).
#[derive(Debug, Default)]
pub struct TransportCopy {
    pub udp_rx: Counter,
    pub udp_tx: Counter,
    pub udp_tx_dropped: Counter,
    pub udp_rx_dropped: Counter,
    pub keepalives: Counter,
    pub tcp_rx: Counter,
    pub tcp_tx: Counter,
    pub tcp_accepted: Counter,
    pub tcp_refused: Counter,
    pub tcp_framing_errors: Counter,
    pub tcp_closed: Counter,
    pub mesh_tx: Counter,
    pub mesh_rx: Counter,
    pub mesh_full: Counter,
}

impl TransportCopy {
    pub fn copy_from(&self, s: &shards::TransportStats) {
        self.udp_rx.set(s.udp_rx.get());
        self.udp_tx.set(s.udp_tx.get());
        self.udp_tx_dropped.set(s.udp_tx_dropped.get());
        self.udp_rx_dropped.set(s.udp_rx_dropped.get());
        self.keepalives.set(s.keepalives.get());
        self.tcp_rx.set(s.tcp_rx.get());
        self.tcp_tx.set(s.tcp_tx.get());
        self.tcp_accepted.set(s.tcp_accepted.get());
        self.tcp_refused.set(s.tcp_refused.get());
        self.tcp_framing_errors.set(s.tcp_framing_errors.get());
        self.tcp_closed.set(s.tcp_closed.get());
        self.mesh_tx.set(s.mesh_tx.get());
        self.mesh_rx.set(s.mesh_rx.get());
        self.mesh_full.set(s.mesh_full.get());
    }
}

/// The throttle's state at its last update (Clearwater's PRR statistics).
#[derive(Debug, Default)]
pub struct ThrottleCopy {
    /// Permitted request rate (requests per second).
    pub rate: GaugeF64,
    pub smoothed_latency_us: GaugeF64,
    pub target_latency_us: Counter,
    pub penalties: Counter,
    pub admitted: Counter,
    pub rejected: Counter,
}

/// One shard's metrics. Created before the runtime starts (so the
/// management thread holds every shard's), written only by that shard.
#[derive(Debug, Default)]
pub struct ShardMetrics {
    pub shard: usize,
    /// Requests this shard took in (after any hand-over: counted once, at the owner).
    pub requests_in: [Counter; METHODS],
    pub requests_out: [Counter; METHODS],
    pub responses_in: [Counter; CLASSES],
    /// Every response sent, retransmissions included.
    pub responses_out: [Counter; CLASSES],
    /// Server transactions by method: attempts when made, a success when
    /// the first final response is a 2xx, a failure when it is not.
    pub transactions_in: [SuccessFail; METHODS],
    /// Answered 503 by the throttle, the transaction limit or a full shard queue.
    pub rejected_overload: Counter,
    /// Unparseable messages (dropped, or answered 400 when a 400 could be formed).
    pub malformed: Counter,
    /// Parsed but refused by validation (400, 416, 420, 483...).
    pub rejected_invalid: Counter,
    /// Completed non-INVITE server transactions ended before Timer J to
    /// make room in a full transaction table (set from the core's count).
    pub transactions_evicted: Counter,
    /// Messages handed to the shard that owns their AoR or client transaction.
    pub handed_over: Counter,
    /// Hand-overs refused because the peer shard's queue was full.
    pub mesh_full: Counter,
    pub send_failures: Counter,
    pub unresolvable: Counter,
    pub expired_records: Counter,
    /// Indexed by [`super::RegKind`].
    pub registrations: [SuccessFail; 3],
    pub digest_auth: SuccessFail,
    /// Indexed like [`super::labels::HSS_ENDPOINTS`].
    pub hss_requests: [Counter; 2],
    pub hss_failures: [Counter; 2],
    /// Lookups the shard's subscriber cache answered (no request made).
    pub hss_cache_hits: [Counter; 2],
    pub store_failures: Counter,
    pub invites_cancelled_before_1xx: Counter,
    pub invites_cancelled_after_1xx: Counter,
    /// AoRs with a record in this shard's store (embedded store only).
    pub aors: Counter,
    /// Live bindings in this shard's store (embedded store only).
    pub bindings: Counter,
    /// Whether `aors` and `bindings` are known (not with Redis).
    pub registrations_known: Counter,
    pub server_transactions: Counter,
    pub client_transactions: Counter,
    pub throttle: ThrottleCopy,
    pub transport: TransportCopy,
    pub hss_unreachable: Condition,
    pub store_failing: Condition,
    pub overload: Condition,
    pub queue_full: Condition,
    /// Times the shard published its latencies (tests wait on this).
    pub publications: Counter,
    /// Latencies, published once a second.
    pub published: Mutex<Published>,
}

impl ShardMetrics {
    pub fn new(shard: usize) -> Self {
        Self {
            shard,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transient_condition_lapses_and_a_new_burst_is_new() {
        let c = Condition::default();
        assert_eq!(c.active(1_000, true), None);
        assert!(c.raise(1_000, true));
        assert!(!c.raise(2_000, true));
        assert_eq!(c.active(2_500, true), Some(1_000));
        assert_eq!(c.active(2_000 + CONDITION_HOLD_MS + 1, true), None);
        assert!(c.raise(9_000, true));
        assert_eq!(c.active(9_000, true), Some(9_000));
    }

    #[test]
    fn a_sticky_condition_lasts_until_cleared() {
        let c = Condition::default();
        assert!(c.raise(1_000, false));
        assert!(!c.raise(90_000, false));
        assert_eq!(c.active(100_000, false), Some(1_000));
        c.clear();
        assert_eq!(c.active(100_000, false), None);
    }

    #[test]
    fn success_fail_counts_the_attempt_with_its_result() {
        let s = SuccessFail::default();
        s.record(true);
        s.record(false);
        s.record(true);
        assert_eq!(
            (s.attempts.get(), s.successes.get(), s.failures.get()),
            (3, 2, 1)
        );
    }
}
