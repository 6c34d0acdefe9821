//! Latencies on the shard: recorded into shard-local HdrHistograms (no
//! sharing, no atomics), published once a second into the shard's
//! [`Published`] with a `try_lock` — when the management side holds the lock
//! the shard keeps what it has and tries again a second later.

use super::labels::{KINDS, LatencyKind};
use super::shared::ShardMetrics;
use super::window::{Accumulate, EventStats};
use hdrhistogram::Histogram;
use std::cell::RefCell;

/// Highest latency a histogram tells apart (an hour, in microseconds).
const LATENCY_US_MAX: u64 = 3_600_000_000;
/// Two significant figures: 1 % resolution in ~20 KiB per histogram.
const SIGNIFICANT_FIGURES: u8 = 2;

pub fn latency_histogram() -> Histogram<u64> {
    // Constant, valid bounds: this cannot fail.
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, LATENCY_US_MAX, SIGNIFICANT_FIGURES)
        .expect("constant histogram bounds are valid")
}

/// What the management thread reads: cumulative histograms for
/// Prometheus, and what happened since the sampler last took it.
#[derive(Debug)]
pub struct Published {
    pub histograms: Vec<Histogram<u64>>,
    /// Exact sums (µs) for Prometheus' `_sum`.
    pub sums_us: [u64; KINDS],
    /// Since the sampler last took it (see [`super::sampler`]).
    pub pending: [EventStats; KINDS],
}

impl Default for Published {
    fn default() -> Self {
        Self {
            histograms: (0..KINDS).map(|_| latency_histogram()).collect(),
            sums_us: [0; KINDS],
            pending: [EventStats::default(); KINDS],
        }
    }
}

struct Unpublished {
    histograms: Vec<Histogram<u64>>,
    stats: [EventStats; KINDS],
}

/// The shard's own latency recorders.
pub struct LocalMetrics {
    unpublished: RefCell<Unpublished>,
}

impl Default for LocalMetrics {
    fn default() -> Self {
        Self {
            unpublished: RefCell::new(Unpublished {
                histograms: (0..KINDS).map(|_| latency_histogram()).collect(),
                stats: [EventStats::default(); KINDS],
            }),
        }
    }
}

impl LocalMetrics {
    /// Record one latency.
    #[inline]
    pub fn record(&self, kind: LatencyKind, latency_us: u64) {
        let i = kind.index();
        let mut u = self.unpublished.borrow_mut();
        if let Some(h) = u.histograms.get_mut(i) {
            h.saturating_record(latency_us.max(1));
        }
        u.stats[i].record(latency_us);
    }

    /// Hand what was recorded since the last time to `shared`, unless the
    /// management side holds its lock right now. True when published.
    pub fn publish(&self, shared: &ShardMetrics) -> bool {
        let Ok(mut p) = shared.published.try_lock() else {
            return false;
        };
        let mut u = self.unpublished.borrow_mut();
        let u = &mut *u;
        for i in 0..KINDS {
            if u.stats[i].count == 0 {
                continue;
            }
            if let (Some(to), Some(from)) = (p.histograms.get_mut(i), u.histograms.get_mut(i)) {
                // Same bounds on both sides: adding cannot fail.
                let _ = to.add(&*from);
                from.reset();
            }
            p.sums_us[i] = p.sums_us[i].saturating_add(u.stats[i].sum);
            p.pending[i].merge(&u.stats[i]);
            u.stats[i] = EventStats::default();
        }
        drop(p);
        shared.publications.inc();
        true
    }
}

/// A shard's two halves together: the shared atomics and the local
/// recorders. The engine and the metered dependencies hold it in an `Rc`.
pub struct ShardRecorder {
    pub shared: std::sync::Arc<ShardMetrics>,
    pub local: LocalMetrics,
}

impl ShardRecorder {
    pub fn new(shared: std::sync::Arc<ShardMetrics>) -> Self {
        Self {
            shared,
            local: LocalMetrics::default(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_publish_moves_latencies_to_the_shared_side_once() {
        let shared = ShardMetrics::new(0);
        let local = LocalMetrics::default();
        local.record(LatencyKind::Sip(4), 1_500);
        local.record(LatencyKind::Sip(4), 2_500);
        local.record(LatencyKind::HssAv, 700);
        assert!(local.publish(&shared));
        assert!(local.publish(&shared));
        let p = shared.published.lock().unwrap();
        assert_eq!(p.histograms[4].len(), 2);
        assert_eq!(p.sums_us[4], 4_000);
        assert_eq!(p.pending[4].count, 2);
        assert_eq!(p.pending[LatencyKind::HssAv.index()].max, 700);
        assert_eq!(shared.publications.get(), 2);
    }

    #[test]
    fn a_held_lock_defers_the_publish_without_losing_anything() {
        let shared = ShardMetrics::new(0);
        let local = LocalMetrics::default();
        local.record(LatencyKind::SessionSetup, 10);
        {
            let _held = shared.published.lock().unwrap();
            assert!(!local.publish(&shared));
        }
        assert!(local.publish(&shared));
        let p = shared.published.lock().unwrap();
        assert_eq!(p.pending[LatencyKind::SessionSetup.index()].count, 1);
    }
}
