//! `/stats`: Clearwater's statistics as JSON, each over the previous
//! five-second period, the current five-minute period and the previous
//! five-minute period. Latencies (µs) and gauges give count, average,
//! variance and high/low water marks; counts give attempts, successes,
//! failures and the success percentage (or a plain count).

use super::labels::{KINDS, LatencyKind, METHOD_NAMES, METHODS};
use super::sampler::{COUNT_STATS, GAUGE_STATS, NodeStats, Shape};
use super::window::{Accumulate, CountStats, EventStats, FIVE_MINUTES_MS, FIVE_SECONDS_MS};
use serde_json::{Map, Value, json};

const PERIODS: [&str; 3] = ["previous_5s", "current_5min", "previous_5min"];

fn events(e: &EventStats) -> Value {
    json!({
        "count": e.count,
        "average": e.mean(),
        "variance": e.variance(),
        "hwm": e.max,
        "lwm": e.low(),
    })
}

fn counts(c: &CountStats, shape: Shape) -> Value {
    match shape {
        Shape::Count => json!(c.attempts),
        Shape::SuccessFail => json!({
            "attempts": c.attempts,
            "successes": c.successes,
            "failures": c.failures,
            "success_percent": c.success_percent(),
        }),
    }
}

fn three<T>(v: (T, T, T), f: impl Fn(&T) -> Value) -> Value {
    let mut m = Map::new();
    m.insert(PERIODS[0].to_owned(), f(&v.0));
    m.insert(PERIODS[1].to_owned(), f(&v.1));
    m.insert(PERIODS[2].to_owned(), f(&v.2));
    Value::Object(m)
}

fn merged(views: &[(EventStats, EventStats, EventStats)]) -> (EventStats, EventStats, EventStats) {
    let mut out = (
        EventStats::default(),
        EventStats::default(),
        EventStats::default(),
    );
    for v in views {
        out.0.merge(&v.0);
        out.1.merge(&v.1);
        out.2.merge(&v.2);
    }
    out
}

/// The whole `/stats` document as of `now_ms`.
pub fn render(stats: &NodeStats, now_ms: u64) -> Value {
    let views: Vec<_> = (0..KINDS).map(|k| stats.latency[k].view(now_ms)).collect();
    let mut latency = Map::new();
    latency.insert(
        "sprout_latency".into(),
        three(merged(&views[..METHODS]), events),
    );
    let mut by_method = Map::new();
    for (i, name) in METHOD_NAMES.iter().enumerate() {
        if views[i].1.count + views[i].2.count + views[i].0.count > 0 {
            by_method.insert((*name).to_owned(), three(views[i], events));
        }
    }
    latency.insert("sprout_latency_by_method".into(), Value::Object(by_method));
    let av = LatencyKind::HssAv.index();
    let rd = LatencyKind::HssRegData.index();
    latency.insert(
        "sprout_homestead_latency".into(),
        three(merged(&[views[av], views[rd]]), events),
    );
    latency.insert(
        "sprout_homestead_av_latency".into(),
        three(views[av], events),
    );
    latency.insert(
        "sprout_homestead_reg_data_latency".into(),
        three(views[rd], events),
    );
    latency.insert(
        "scscf_session_setup_time".into(),
        three(views[LatencyKind::SessionSetup.index()], events),
    );

    let mut count_map = Map::new();
    for (i, stat) in COUNT_STATS.iter().enumerate() {
        let shape = stat.shape;
        count_map.insert(
            stat.name.to_owned(),
            three(stats.counts[i].view(now_ms), |c| counts(c, shape)),
        );
    }
    let mut gauge_map = Map::new();
    for (i, stat) in GAUGE_STATS.iter().enumerate() {
        gauge_map.insert(
            stat.name.to_owned(),
            three(stats.gauges[i].view(now_ms), events),
        );
    }
    let five_s = now_ms / FIVE_SECONDS_MS * FIVE_SECONDS_MS;
    let five_m = now_ms / FIVE_MINUTES_MS * FIVE_MINUTES_MS;
    json!({
        "time_ms": now_ms,
        "samples": stats.samples,
        "periods_ms": {
            "previous_5s": [five_s.saturating_sub(FIVE_SECONDS_MS), five_s],
            "current_5min": [five_m, now_ms],
            "previous_5min": [five_m.saturating_sub(FIVE_MINUTES_MS), five_m],
        },
        "latency_us": latency,
        "counts": count_map,
        "gauges": gauge_map,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::node::metrics::ShardMetrics;
    use std::sync::Arc;

    #[test]
    fn stats_show_clearwater_names_and_shapes() {
        let shards = vec![Arc::new(ShardMetrics::new(0))];
        shards[0].digest_auth.record(true);
        shards[0].digest_auth.record(false);
        shards[0].rejected_overload.inc();
        let mut s = NodeStats::default();
        let now = 1_700_000_000_000;
        s.sample(&shards, now);
        let v = render(&s, now + 10);
        let digest = &v["counts"]["sip_digest_auth_success_fail_count"]["current_5min"];
        assert_eq!(digest["attempts"], 2);
        assert_eq!(digest["successes"], 1);
        assert_eq!(digest["failures"], 1);
        assert_eq!(digest["success_percent"], 50.0);
        assert_eq!(v["counts"]["sprout_rejected_overload"]["current_5min"], 1);
        assert_eq!(
            v["latency_us"]["sprout_latency"]["current_5min"]["count"],
            0
        );
        assert_eq!(v["samples"], 1);
    }
}
