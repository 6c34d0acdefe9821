//! `/metrics`: every shard's numbers in the Prometheus text format (0.0.4).
//! Counters and gauges carry a `shard` label; latency histograms are merged
//! over the shards (buckets in seconds, bounds exact to HdrHistogram's 1 %).

use super::alarms::{ALARMS, ActiveAlarm};
use super::labels::{
    CLASS_NAMES, HSS_ENDPOINTS, KINDS, LatencyKind, METHOD_NAMES, METHODS, REG_KIND_NAMES,
};
use super::local::latency_histogram;
use super::shared::{Counter, ShardMetrics};
use std::fmt::Write;
use std::sync::Arc;

/// Histogram bucket bounds, microseconds (rendered as seconds).
const BUCKETS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// A transport counter: name, help, where it is.
type TransportMetric = (&'static str, &'static str, fn(&ShardMetrics) -> &Counter);

struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{v}\"");
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// One value per shard.
    fn per_shard(
        &mut self,
        shards: &[Arc<ShardMetrics>],
        name: &str,
        kind: &str,
        help: &str,
        read: impl Fn(&ShardMetrics) -> f64,
    ) {
        self.family(name, kind, help);
        for m in shards {
            let shard = m.shard.to_string();
            self.sample(name, &[("shard", &shard)], read(m));
        }
    }

    /// One value per shard and label value.
    fn per_shard_labelled(
        &mut self,
        shards: &[Arc<ShardMetrics>],
        (name, kind, help): (&str, &str, &str),
        label: &str,
        values: &[&str],
        read: impl Fn(&ShardMetrics, usize) -> u64,
    ) {
        self.family(name, kind, help);
        for m in shards {
            let shard = m.shard.to_string();
            for (i, v) in values.iter().enumerate() {
                self.sample(name, &[("shard", &shard), (label, v)], read(m, i));
            }
        }
    }

    fn histogram(
        &mut self,
        name: &str,
        label: Option<(&str, &str)>,
        h: &hdrhistogram::Histogram<u64>,
        sum_us: u64,
    ) {
        let base: Vec<(&str, &str)> = label.into_iter().collect();
        let bucket = format!("{name}_bucket");
        for b in BUCKETS_US {
            let le = seconds(b).to_string();
            let mut l = base.clone();
            l.push(("le", &le));
            self.sample(&bucket, &l, h.count_between(0, b));
        }
        let mut l = base.clone();
        l.push(("le", "+Inf"));
        self.sample(&bucket, &l, h.len());
        self.sample(&format!("{name}_sum"), &base, seconds(sum_us));
        self.sample(&format!("{name}_count"), &base, h.len());
    }
}

fn seconds(us: u64) -> f64 {
    us as f64 / 1e6
}

fn c(x: &Counter) -> f64 {
    x.get() as f64
}

/// The whole `/metrics` page.
pub fn render(shards: &[Arc<ShardMetrics>], alarms: &[ActiveAlarm], samples: u64) -> String {
    let mut t = Text(String::with_capacity(64 * 1024));
    t.family(
        "riptide_shards",
        "gauge",
        "Shards (pinned cores) this node runs.",
    );
    t.sample("riptide_shards", &[], shards.len());

    t.per_shard_labelled(
        shards,
        (
            "riptide_sip_requests_received_total",
            "counter",
            "SIP requests received, by method (counted once, on the shard that handles them).",
        ),
        "method",
        &METHOD_NAMES,
        |m, i| m.requests_in[i].get(),
    );
    t.per_shard_labelled(
        shards,
        (
            "riptide_sip_requests_sent_total",
            "counter",
            "SIP requests sent, by method (retransmissions included).",
        ),
        "method",
        &METHOD_NAMES,
        |m, i| m.requests_out[i].get(),
    );
    t.per_shard_labelled(
        shards,
        (
            "riptide_sip_responses_received_total",
            "counter",
            "SIP responses received, by class.",
        ),
        "class",
        &CLASS_NAMES,
        |m, i| m.responses_in[i].get(),
    );
    t.per_shard_labelled(
        shards,
        (
            "riptide_sip_responses_sent_total",
            "counter",
            "SIP responses sent, by class (retransmissions included).",
        ),
        "class",
        &CLASS_NAMES,
        |m, i| m.responses_out[i].get(),
    );
    t.per_shard_labelled(
        shards,
        (
            "riptide_sip_incoming_transactions_total",
            "counter",
            "Server transactions made, by method (Clearwater's incoming SIP transaction attempts).",
        ),
        "method",
        &METHOD_NAMES,
        |m, i| m.transactions_in[i].attempts.get(),
    );
    t.per_shard_labelled(
        shards,
        (
            "riptide_sip_incoming_transaction_successes_total",
            "counter",
            "Server transactions whose first final response was a 2xx, by method.",
        ),
        "method",
        &METHOD_NAMES,
        |m, i| m.transactions_in[i].successes.get(),
    );
    t.per_shard_labelled(
        shards,
        (
            "riptide_sip_incoming_transaction_failures_total",
            "counter",
            "Server transactions whose first final response was not a 2xx, by method.",
        ),
        "method",
        &METHOD_NAMES,
        |m, i| m.transactions_in[i].failures.get(),
    );
    t.per_shard(
        shards,
        "riptide_sip_rejected_overload_total",
        "counter",
        "Requests answered 503 for overload (throttle, transaction limit, full shard queue).",
        |m| c(&m.rejected_overload),
    );
    t.per_shard(
        shards,
        "riptide_sip_malformed_total",
        "counter",
        "Messages that did not parse (dropped, or answered 400).",
        |m| c(&m.malformed),
    );
    t.per_shard(
        shards,
        "riptide_sip_rejected_invalid_total",
        "counter",
        "Requests refused by validation (400, 416, 420, 483).",
        |m| c(&m.rejected_invalid),
    );
    t.per_shard(
        shards,
        "riptide_sip_send_failures_total",
        "counter",
        "Sends that failed (socket error, connect failure, full write queue).",
        |m| c(&m.send_failures),
    );
    t.per_shard(
        shards,
        "riptide_sip_unresolvable_total",
        "counter",
        "Requests whose next hop had no address.",
        |m| c(&m.unresolvable),
    );
    t.per_shard(
        shards,
        "riptide_sip_completed_transactions_evicted_total",
        "counter",
        "Completed non-INVITE server transactions ended before Timer J to make room in a full transaction table.",
        |m| c(&m.transactions_evicted),
    );
    t.per_shard(
        shards,
        "riptide_shard_handovers_total",
        "counter",
        "Messages handed to the shard owning their AoR or client transaction.",
        |m| c(&m.handed_over),
    );
    t.per_shard(
        shards,
        "riptide_shard_queue_full_total",
        "counter",
        "Hand-overs refused because the peer shard's queue was full.",
        |m| c(&m.mesh_full),
    );

    t.per_shard_labelled(
        shards,
        (
            "riptide_registration_attempts_total",
            "counter",
            "REGISTERs past authentication, by kind (initial, re, de).",
        ),
        "kind",
        &REG_KIND_NAMES,
        |m, i| m.registrations[i].attempts.get(),
    );
    t.per_shard_labelled(
        shards,
        (
            "riptide_registration_successes_total",
            "counter",
            "Registrations answered 200, by kind.",
        ),
        "kind",
        &REG_KIND_NAMES,
        |m, i| m.registrations[i].successes.get(),
    );
    t.per_shard_labelled(
        shards,
        (
            "riptide_registration_failures_total",
            "counter",
            "Registrations that failed after authentication, by kind.",
        ),
        "kind",
        &REG_KIND_NAMES,
        |m, i| m.registrations[i].failures.get(),
    );
    t.per_shard(
        shards,
        "riptide_digest_auth_attempts_total",
        "counter",
        "REGISTERs carrying a digest response.",
        |m| c(&m.digest_auth.attempts),
    );
    t.per_shard(
        shards,
        "riptide_digest_auth_successes_total",
        "counter",
        "Digest responses that were right.",
        |m| c(&m.digest_auth.successes),
    );
    t.per_shard(
        shards,
        "riptide_digest_auth_failures_total",
        "counter",
        "Digest responses that were wrong, stale or malformed.",
        |m| c(&m.digest_auth.failures),
    );

    let known: Vec<Arc<ShardMetrics>> = shards
        .iter()
        .filter(|m| m.registrations_known.get() != 0)
        .cloned()
        .collect();
    t.per_shard(
        &known,
        "riptide_registered_aors",
        "gauge",
        "AoRs with at least one binding in this shard's store (embedded store).",
        |m| c(&m.aors),
    );
    t.per_shard(
        &known,
        "riptide_registered_bindings",
        "gauge",
        "Live bindings in this shard's store (embedded store).",
        |m| c(&m.bindings),
    );

    t.per_shard_labelled(
        shards,
        (
            "riptide_hss_requests_total",
            "counter",
            "Requests to the HSS cache, by endpoint.",
        ),
        "endpoint",
        &HSS_ENDPOINTS,
        |m, i| m.hss_requests[i].get(),
    );
    t.per_shard_labelled(
        shards,
        (
            "riptide_hss_cache_hits_total",
            "counter",
            "HSS-cache lookups answered from the shard's subscriber cache (no request made), by endpoint.",
        ),
        "endpoint",
        &HSS_ENDPOINTS,
        |m, i| m.hss_cache_hits[i].get(),
    );
    t.per_shard_labelled(
        shards,
        ("riptide_hss_failures_total", "counter", "HSS-cache requests that failed (timeout, unreachable, error status, bad answer; not 404), by endpoint."),
        "endpoint",
        &HSS_ENDPOINTS,
        |m, i| m.hss_failures[i].get(),
    );
    t.per_shard(
        shards,
        "riptide_store_failures_total",
        "counter",
        "Registration-store operations that failed.",
        |m| c(&m.store_failures),
    );
    t.per_shard(
        shards,
        "riptide_store_expired_records_total",
        "counter",
        "Registration-store records (AoRs, challenges) removed on expiry.",
        |m| c(&m.expired_records),
    );
    t.per_shard_labelled(
        shards,
        (
            "riptide_invites_cancelled_total",
            "counter",
            "INVITE transactions cancelled, before or after a provisional above 100 went upstream.",
        ),
        "when",
        &["before_1xx", "after_1xx"],
        |m, i| {
            if i == 0 {
                m.invites_cancelled_before_1xx.get()
            } else {
                m.invites_cancelled_after_1xx.get()
            }
        },
    );
    t.per_shard_labelled(
        shards,
        (
            "riptide_transactions",
            "gauge",
            "Transactions in progress, by role (server, client).",
        ),
        "role",
        &["server", "client"],
        |m, i| {
            if i == 0 {
                m.server_transactions.get()
            } else {
                m.client_transactions.get()
            }
        },
    );

    t.per_shard(
        shards,
        "riptide_throttle_permitted_rate",
        "gauge",
        "Permitted request rate (requests per second) at the last update.",
        |m| m.throttle.rate.get(),
    );
    t.per_shard(
        shards,
        "riptide_throttle_smoothed_latency_seconds",
        "gauge",
        "Smoothed request latency the throttle saw at its last update.",
        |m| m.throttle.smoothed_latency_us.get() / 1e6,
    );
    t.per_shard(
        shards,
        "riptide_throttle_target_latency_seconds",
        "gauge",
        "Target latency (target_latency_us).",
        |m| seconds(m.throttle.target_latency_us.get()),
    );
    t.per_shard(
        shards,
        "riptide_throttle_penalties_total",
        "counter",
        "Penalties (timeouts, 503s from downstream) the throttle took.",
        |m| c(&m.throttle.penalties),
    );
    t.per_shard(
        shards,
        "riptide_throttle_admitted_total",
        "counter",
        "Requests the throttle admitted.",
        |m| c(&m.throttle.admitted),
    );
    t.per_shard(
        shards,
        "riptide_throttle_rejected_total",
        "counter",
        "Requests the throttle rejected.",
        |m| c(&m.throttle.rejected),
    );

    let tr: [TransportMetric; 14] = [
        (
            "riptide_udp_datagrams_received_total",
            "UDP datagrams received.",
            |m| &m.transport.udp_rx,
        ),
        (
            "riptide_udp_datagrams_sent_total",
            "UDP datagrams sent.",
            |m| &m.transport.udp_tx,
        ),
        (
            "riptide_udp_send_dropped_total",
            "UDP datagrams the kernel would not take.",
            |m| &m.transport.udp_tx_dropped,
        ),
        (
            "riptide_udp_receive_dropped_total",
            "UDP datagrams dropped as longer than the receive buffers.",
            |m| &m.transport.udp_rx_dropped,
        ),
        (
            "riptide_sip_keepalives_total",
            "Keep-alives (CRLF) received.",
            |m| &m.transport.keepalives,
        ),
        (
            "riptide_tcp_messages_received_total",
            "SIP messages received over TCP.",
            |m| &m.transport.tcp_rx,
        ),
        (
            "riptide_tcp_messages_sent_total",
            "SIP messages sent over TCP.",
            |m| &m.transport.tcp_tx,
        ),
        (
            "riptide_tcp_connections_accepted_total",
            "TCP connections accepted.",
            |m| &m.transport.tcp_accepted,
        ),
        (
            "riptide_tcp_connections_refused_total",
            "TCP connections refused by the per-IP or per-shard limit.",
            |m| &m.transport.tcp_refused,
        ),
        (
            "riptide_tcp_framing_errors_total",
            "TCP streams closed for a framing error.",
            |m| &m.transport.tcp_framing_errors,
        ),
        (
            "riptide_tcp_connections_closed_total",
            "TCP connections closed.",
            |m| &m.transport.tcp_closed,
        ),
        (
            "riptide_mesh_messages_sent_total",
            "Messages sent to other shards.",
            |m| &m.transport.mesh_tx,
        ),
        (
            "riptide_mesh_messages_received_total",
            "Messages received from other shards.",
            |m| &m.transport.mesh_rx,
        ),
        (
            "riptide_mesh_full_total",
            "Sends to another shard refused because its queue was full.",
            |m| &m.transport.mesh_full,
        ),
    ];
    for (name, help, read) in tr {
        t.per_shard(shards, name, "counter", help, |m| c(read(m)));
    }
    t.per_shard(
        shards,
        "riptide_metrics_publications_total",
        "counter",
        "Times the shard published its latency histograms (once a second).",
        |m| c(&m.publications),
    );
    t.family(
        "riptide_stats_samples_total",
        "counter",
        "Samples the statistics windows have taken (once a second).",
    );
    t.sample("riptide_stats_samples_total", &[], samples);

    t.family(
        "riptide_alarm_active",
        "gauge",
        "1 while the alarm is raised.",
    );
    for (i, def) in ALARMS.iter().enumerate() {
        let on = alarms.iter().any(|a| a.index == i);
        t.sample(
            "riptide_alarm_active",
            &[("alarm", def.name), ("severity", def.severity)],
            u8::from(on),
        );
    }

    // Histograms, merged over the shards.
    let mut merged: Vec<hdrhistogram::Histogram<u64>> =
        (0..KINDS).map(|_| latency_histogram()).collect();
    let mut sums = [0u64; KINDS];
    for m in shards {
        if let Ok(p) = m.published.lock() {
            for ((to, from), (sum, add)) in merged
                .iter_mut()
                .zip(&p.histograms)
                .zip(sums.iter_mut().zip(p.sums_us))
            {
                let _ = to.add(from);
                *sum = sum.saturating_add(add);
            }
        }
    }
    let name = "riptide_sip_request_latency_seconds";
    t.family(name, "histogram", "Request received to final response sent, by method (requests that make a server transaction).");
    for (i, method) in METHOD_NAMES.iter().enumerate().take(METHODS) {
        t.histogram(name, Some(("method", method)), &merged[i], sums[i]);
    }
    let name = "riptide_hss_request_latency_seconds";
    t.family(name, "histogram", "HSS-cache request latency, by endpoint.");
    for (kind, endpoint) in [
        (LatencyKind::HssAv, HSS_ENDPOINTS[0]),
        (LatencyKind::HssRegData, HSS_ENDPOINTS[1]),
    ] {
        let k = kind.index();
        t.histogram(name, Some(("endpoint", endpoint)), &merged[k], sums[k]);
    }
    let name = "riptide_session_setup_seconds";
    let k = LatencyKind::SessionSetup.index();
    t.family(
        name,
        "histogram",
        "INVITE received to first 180 or 2xx sent upstream.",
    );
    t.histogram(name, None, &merged[k], sums[k]);
    t.0
}
