//! The sampler: once a second, on its own thread, it reads every shard's
//! counters and published latencies and adds what happened since the last
//! sample to Clearwater's windows ([`NodeStats`]). Shards never wait for it:
//! their counters are atomics it only reads, and their latencies it takes
//! under a lock the shard only ever `try_lock`s.

use super::labels::KINDS;
use super::shared::ShardMetrics;
use super::window::{Accumulate, CountStats, EventStats, Windows};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the sampler runs (and shards publish).
pub const SAMPLE_INTERVAL_MS: u64 = 1_000;

/// What a count statistic reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One number per period.
    Count,
    /// Attempts, successes, failures and the success percentage.
    SuccessFail,
}

/// A windowed count: its Clearwater name, shape, and how to read a shard's
/// cumulative value.
pub struct CountStat {
    pub name: &'static str,
    pub shape: Shape,
    pub read: fn(&ShardMetrics) -> CountStats,
}

fn plain(n: u64) -> CountStats {
    CountStats {
        attempts: n,
        ..CountStats::default()
    }
}

fn triple(s: &super::SuccessFail) -> CountStats {
    CountStats {
        attempts: s.attempts.get(),
        successes: s.successes.get(),
        failures: s.failures.get(),
    }
}

pub const COUNT_STATS: [CountStat; 9] = [
    CountStat {
        name: "sprout_incoming_requests",
        shape: Shape::Count,
        read: |m| plain(m.requests_in.iter().map(super::Counter::get).sum()),
    },
    CountStat {
        name: "sprout_rejected_overload",
        shape: Shape::Count,
        read: |m| plain(m.rejected_overload.get()),
    },
    CountStat {
        name: "initial_reg_success_fail_count",
        shape: Shape::SuccessFail,
        read: |m| triple(&m.registrations[0]),
    },
    CountStat {
        name: "re_reg_success_fail_count",
        shape: Shape::SuccessFail,
        read: |m| triple(&m.registrations[1]),
    },
    CountStat {
        name: "de_reg_success_fail_count",
        shape: Shape::SuccessFail,
        read: |m| triple(&m.registrations[2]),
    },
    CountStat {
        name: "sip_digest_auth_success_fail_count",
        shape: Shape::SuccessFail,
        read: |m| triple(&m.digest_auth),
    },
    CountStat {
        name: "invites_cancelled_before_1xx",
        shape: Shape::Count,
        read: |m| plain(m.invites_cancelled_before_1xx.get()),
    },
    CountStat {
        name: "invites_cancelled_after_1xx",
        shape: Shape::Count,
        read: |m| plain(m.invites_cancelled_after_1xx.get()),
    },
    CountStat {
        name: "homestead_requests",
        shape: Shape::SuccessFail,
        read: |m| {
            let attempts: u64 = m.hss_requests.iter().map(super::Counter::get).sum();
            let failures: u64 = m.hss_failures.iter().map(super::Counter::get).sum();
            CountStats {
                attempts,
                successes: attempts.saturating_sub(failures),
                failures,
            }
        },
    },
];

/// A gauge sampled once a second (summed over shards); its windows give
/// Clearwater's average count, variance and water marks.
pub struct GaugeStat {
    pub name: &'static str,
    pub read: fn(&ShardMetrics) -> u64,
}

pub const GAUGE_STATS: [GaugeStat; 4] = [
    GaugeStat {
        name: "registrations",
        read: |m| m.aors.get(),
    },
    GaugeStat {
        name: "bindings",
        read: |m| m.bindings.get(),
    },
    GaugeStat {
        name: "sprout_token_rate",
        read: |m| m.throttle.rate.get().round() as u64,
    },
    GaugeStat {
        name: "transactions",
        read: |m| m.server_transactions.get() + m.client_transactions.get(),
    },
];

/// The node's windowed statistics.
#[derive(Debug, Clone)]
pub struct NodeStats {
    /// By [`super::LatencyKind::index`].
    pub latency: Vec<Windows<EventStats>>,
    /// By position in [`COUNT_STATS`].
    pub counts: Vec<Windows<CountStats>>,
    /// By position in [`GAUGE_STATS`].
    pub gauges: Vec<Windows<EventStats>>,
    last: Vec<CountStats>,
    /// Samples taken so far.
    pub samples: u64,
}

impl Default for NodeStats {
    fn default() -> Self {
        Self {
            latency: vec![Windows::default(); KINDS],
            counts: vec![Windows::default(); COUNT_STATS.len()],
            gauges: vec![Windows::default(); GAUGE_STATS.len()],
            last: vec![CountStats::default(); COUNT_STATS.len()],
            samples: 0,
        }
    }
}

impl NodeStats {
    /// Add what every shard did since the last sample, as of `now_ms`.
    pub fn sample(&mut self, shards: &[Arc<ShardMetrics>], now_ms: u64) {
        let mut latency = [EventStats::default(); KINDS];
        for m in shards {
            if let Ok(mut p) = m.published.lock() {
                for (acc, pending) in latency.iter_mut().zip(p.pending.iter_mut()) {
                    acc.merge(pending);
                    *pending = EventStats::default();
                }
            }
        }
        for (w, delta) in self.latency.iter_mut().zip(latency.iter()) {
            w.add(now_ms, delta);
        }
        for (i, stat) in COUNT_STATS.iter().enumerate() {
            let mut total = CountStats::default();
            for m in shards {
                total.merge(&(stat.read)(m));
            }
            let delta = total.since(&self.last[i]);
            self.last[i] = total;
            self.counts[i].add(now_ms, &delta);
        }
        for (i, stat) in GAUGE_STATS.iter().enumerate() {
            let mut e = EventStats::default();
            e.record(shards.iter().map(|m| (stat.read)(m)).sum());
            self.gauges[i].add(now_ms, &e);
        }
        self.samples += 1;
    }
}

/// Sample every [`SAMPLE_INTERVAL_MS`] on a thread of its own until `stop`.
pub fn start(
    shards: Vec<Arc<ShardMetrics>>,
    stats: Arc<Mutex<NodeStats>>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("riptide-stats".to_owned())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(SAMPLE_INTERVAL_MS));
                let now = super::unix_ms();
                if let Ok(mut s) = stats.lock() {
                    s.sample(&shards, now);
                }
            }
        })?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::node::metrics::LatencyKind;
    use crate::node::metrics::local::LocalMetrics;

    #[test]
    fn samples_sum_shards_and_count_each_event_once() {
        let shards: Vec<Arc<ShardMetrics>> =
            (0..2).map(|i| Arc::new(ShardMetrics::new(i))).collect();
        let locals: Vec<LocalMetrics> = (0..2).map(|_| LocalMetrics::default()).collect();
        shards[0].registrations[0].record(true);
        shards[1].registrations[0].record(false);
        shards[1].aors.set(3);
        locals[0].record(LatencyKind::Sip(4), 100);
        locals[1].record(LatencyKind::Sip(4), 300);
        for (l, m) in locals.iter().zip(&shards) {
            assert!(l.publish(m));
        }
        let mut s = NodeStats::default();
        let t0 = 1_000_000_000;
        s.sample(&shards, t0);
        s.sample(&shards, t0 + 1_000); // nothing new
        let (_, current, _) = s.counts[2].view(t0 + 1_000);
        assert_eq!(
            current,
            CountStats {
                attempts: 2,
                successes: 1,
                failures: 1
            }
        );
        let (_, lat, _) = s.latency[4].view(t0 + 1_000);
        assert_eq!(
            (lat.count, lat.mean(), lat.low(), lat.max),
            (2, 200.0, 100, 300)
        );
        let (_, aors, _) = s.gauges[0].view(t0 + 1_000);
        assert_eq!((aors.count, aors.max), (2, 3));
        assert_eq!(s.samples, 2);
    }
}
