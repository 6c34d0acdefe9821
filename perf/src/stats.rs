//! What a run counted: attempts, outcomes, retransmissions and latency
//! histograms per transaction type, and the summary printed at the end.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Latencies are recorded in microseconds, up to a minute, 3 significant digits.
const LATENCY_MAX_US: u64 = 60_000_000;

/// Counters and histograms of one run.
#[derive(Debug)]
pub struct Stats {
    pub attempts: u64,
    pub successes: u64,
    /// By final status code, or by a word (`timeout`, `send-error`, `no-challenge`...).
    pub failures: BTreeMap<String, u64>,
    pub retransmissions: u64,
    /// Datagrams the kernel refused to send (socket buffer full); the timers resend them.
    pub send_errors: u64,
    /// Flows not started because every user was busy or the outstanding cap was hit.
    pub skipped: u64,
    latencies: BTreeMap<&'static str, Histogram<u64>>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            attempts: 0,
            successes: 0,
            failures: BTreeMap::new(),
            retransmissions: 0,
            send_errors: 0,
            skipped: 0,
            latencies: BTreeMap::new(),
        }
    }

    pub fn fail(&mut self, why: impl Into<String>) {
        *self.failures.entry(why.into()).or_default() += 1;
    }

    pub fn failures_total(&self) -> u64 {
        self.failures.values().sum()
    }

    /// Record one latency of a transaction type (`OPTIONS`, `INVITE`, `register`...).
    pub fn record(&mut self, kind: &'static str, latency: Duration) {
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(LATENCY_MAX_US)
            .clamp(1, LATENCY_MAX_US);
        let h = match self.latencies.entry(kind) {
            Entry::Occupied(e) => e.into_mut(),
            // The bounds are constants that hdrhistogram accepts.
            Entry::Vacant(v) => match Histogram::new_with_bounds(1, LATENCY_MAX_US, 3) {
                Ok(h) => v.insert(h),
                Err(_) => return,
            },
        };
        h.saturating_record(us);
    }

    /// The summary, over `elapsed` (the interval in which flows were started and answered).
    pub fn summary(&self, offered_rate: f64, elapsed: Duration) -> Summary {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let latency = self
            .latencies
            .iter()
            .map(|(k, h)| {
                (
                    (*k).to_owned(),
                    Latency {
                        count: h.len(),
                        p50_us: h.value_at_quantile(0.5),
                        p99_us: h.value_at_quantile(0.99),
                        p999_us: h.value_at_quantile(0.999),
                        max_us: h.max(),
                        mean_us: h.mean(),
                    },
                )
            })
            .collect();
        Summary {
            offered_rate,
            elapsed_s: secs,
            attempts: self.attempts,
            successes: self.successes,
            failures: self.failures.clone(),
            failures_total: self.failures_total(),
            retransmissions: self.retransmissions,
            send_errors: self.send_errors,
            skipped: self.skipped,
            achieved_rate: self.successes as f64 / secs,
            generator_cpu_s: 0.0,
            latency,
        }
    }
}

/// Percentiles of one transaction type.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
}

/// What `riptide-load --json` prints.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub offered_rate: f64,
    pub elapsed_s: f64,
    pub attempts: u64,
    pub successes: u64,
    pub failures: BTreeMap<String, u64>,
    pub failures_total: u64,
    pub retransmissions: u64,
    pub send_errors: u64,
    pub skipped: u64,
    /// Successful flows per second over the run.
    pub achieved_rate: f64,
    /// The generator's own CPU over the run, seconds: near `elapsed_s`, it is the bottleneck.
    #[serde(default)]
    pub generator_cpu_s: f64,
    /// By transaction type.
    pub latency: BTreeMap<String, Latency>,
}

impl Summary {
    /// Failed flows as a fraction of attempts.
    pub fn failure_ratio(&self) -> f64 {
        if self.attempts == 0 {
            return 0.0;
        }
        self.failures_total as f64 / self.attempts as f64
    }

    /// The p99 of the flow as a whole (the type named `flow`), if recorded.
    pub fn flow_p99_us(&self) -> Option<u64> {
        self.latency.get(FLOW).map(|l| l.p99_us)
    }

    /// The human summary.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "offered {:.0}/s for {:.2} s: {} attempts, {} successes ({:.0}/s), {} failures, {} retransmissions",
            self.offered_rate,
            self.elapsed_s,
            self.attempts,
            self.successes,
            self.achieved_rate,
            self.failures_total,
            self.retransmissions
        );
        s.push_str(&format!(", generator CPU {:.2} s", self.generator_cpu_s));
        if self.send_errors > 0 {
            s.push_str(&format!(", {} send errors", self.send_errors));
        }
        if self.skipped > 0 {
            s.push_str(&format!(", {} not started (all users busy)", self.skipped));
        }
        s.push('\n');
        for (why, n) in &self.failures {
            s.push_str(&format!("  failure {why}: {n}\n"));
        }
        s.push_str(&format!(
            "  {:<14} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "latency (µs)", "count", "p50", "p99", "p99.9", "max"
        ));
        for (k, l) in &self.latency {
            s.push_str(&format!(
                "  {:<14} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
                k, l.count, l.p50_us, l.p99_us, l.p999_us, l.max_us
            ));
        }
        s
    }
}

/// The histogram name of a whole flow (first request sent to last response received).
pub const FLOW: &str = "flow";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_and_percentiles() {
        let mut s = Stats::new();
        s.attempts = 4;
        s.successes = 3;
        s.fail("408");
        for us in [100, 200, 300] {
            s.record(FLOW, Duration::from_micros(us));
        }
        let sum = s.summary(4.0, Duration::from_secs(1));
        assert_eq!(sum.failures_total, 1);
        assert_eq!(sum.failures.get("408"), Some(&1));
        assert_eq!(sum.failure_ratio(), 0.25);
        let l = &sum.latency[FLOW];
        assert_eq!(l.count, 3);
        assert_eq!(l.p50_us, 200);
        assert_eq!(l.max_us, 300);
        assert_eq!(sum.flow_p99_us(), Some(300));
        assert!(sum.to_text().contains("failure 408: 1"));
        let json = serde_json::to_string(&sum).unwrap_or_default();
        let back: Summary = serde_json::from_str(&json).unwrap_or_else(|_| sum.clone());
        assert_eq!(back.attempts, 4);
    }
}
