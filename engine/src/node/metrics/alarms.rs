//! Alarm conditions: what is wrong now, how bad, and since when. Each
//! shard raises and clears its own [`super::Condition`]s; a condition is
//! active on the node when it is active on any shard, since the earliest.

use super::shared::{Condition, ShardMetrics};
use std::sync::Arc;

/// One alarm definition.
pub struct AlarmDef {
    pub name: &'static str,
    /// Clearwater's alarm for the same condition, where it had one.
    pub clearwater: &'static str,
    pub severity: &'static str,
    pub description: &'static str,
    /// Lapses on its own a few seconds after it was last seen.
    pub transient: bool,
    pub condition: fn(&ShardMetrics) -> &Condition,
}

pub const ALARMS: [AlarmDef; 4] = [
    AlarmDef {
        name: "hss_cache_unreachable",
        clearwater: "SPROUT_HOMESTEAD_COMM_ERROR",
        severity: "critical",
        description: "The HSS cache did not answer (timeout or connection refused); uncached REGISTERs and calls get 504.",
        transient: false,
        condition: |m| &m.hss_unreachable,
    },
    AlarmDef {
        name: "registration_store_failing",
        clearwater: "SPROUT_MEMCACHED_COMM_ERROR",
        severity: "critical",
        description: "The registration store returned errors; REGISTERs and terminating calls get 500.",
        transient: false,
        condition: |m| &m.store_failing,
    },
    AlarmDef {
        name: "overload",
        clearwater: "",
        severity: "major",
        description: "The throttle or the transaction limit is rejecting requests with 503.",
        transient: true,
        condition: |m| &m.overload,
    },
    AlarmDef {
        name: "shard_queue_full",
        clearwater: "",
        severity: "major",
        description: "A shard-to-shard queue was full; requests were answered 503 and responses dropped.",
        transient: true,
        condition: |m| &m.queue_full,
    },
];

/// An alarm that is raised now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveAlarm {
    pub index: usize,
    pub since_ms: u64,
    pub shards: Vec<usize>,
}

/// The alarms raised at `now_ms`.
pub fn active(shards: &[Arc<ShardMetrics>], now_ms: u64) -> Vec<ActiveAlarm> {
    let mut out = Vec::new();
    for (index, def) in ALARMS.iter().enumerate() {
        let mut since_ms = u64::MAX;
        let mut on = Vec::new();
        for m in shards {
            if let Some(s) = (def.condition)(m).active(now_ms, def.transient) {
                since_ms = since_ms.min(s);
                on.push(m.shard);
            }
        }
        if !on.is_empty() {
            out.push(ActiveAlarm {
                index,
                since_ms,
                shards: on,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alarm_is_active_on_any_shard_since_the_earliest() {
        let shards: Vec<Arc<ShardMetrics>> =
            (0..3).map(|i| Arc::new(ShardMetrics::new(i))).collect();
        assert!(active(&shards, 10_000).is_empty());
        shards[2].hss_unreachable.raise(5_000, false);
        shards[0].hss_unreachable.raise(7_000, false);
        shards[1].overload.raise(9_000, true);
        let a = active(&shards, 10_000);
        assert_eq!(
            a,
            vec![
                ActiveAlarm {
                    index: 0,
                    since_ms: 5_000,
                    shards: vec![0, 2]
                },
                ActiveAlarm {
                    index: 2,
                    since_ms: 9_000,
                    shards: vec![1]
                },
            ]
        );
        // Overload lapses; the HSS alarm stays until an answer clears it.
        let later = 60_000;
        assert_eq!(active(&shards, later).len(), 1);
        shards[0].hss_unreachable.clear();
        shards[2].hss_unreachable.clear();
        assert!(active(&shards, later).is_empty());
    }
}
