//! What a server transaction carries for its metrics: the request's
//! origin plus when it arrived and its method. The transaction core is
//! generic over its origin type, so this rides along in the core's own
//! table and comes back on every response the core sends — the latency is
//! measured where the final response leaves, without a table of our own.

use super::labels::{LatencyKind, METHODS};
use super::local::LocalMetrics;
use bytes::Bytes;
use shards::Origin;
use std::cell::Cell;
use std::rc::Rc;

/// A request's origin and its timing record (shared by the transaction
/// and every response it sends).
#[derive(Debug, Clone)]
pub struct TxnOrigin {
    pub origin: Origin,
    pub meta: Rc<TxnMeta>,
}

/// Timing of one server transaction.
#[derive(Debug)]
pub struct TxnMeta {
    pub received_us: u64,
    pub method: usize,
    /// An INVITE's top-Via branch (its CANCEL carries the same one).
    pub invite_branch: Option<Bytes>,
    final_sent: Cell<bool>,
    provisional_sent: Cell<bool>,
    setup_recorded: Cell<bool>,
}

/// What sending a response meant for its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SentOutcome {
    /// This was the transaction's first final response.
    pub first_final: bool,
}

impl TxnOrigin {
    pub fn new(
        origin: Origin,
        received_us: u64,
        method: usize,
        invite_branch: Option<Bytes>,
    ) -> Self {
        Self {
            origin,
            meta: Rc::new(TxnMeta {
                received_us,
                method: method.min(METHODS - 1),
                invite_branch,
                final_sent: Cell::new(false),
                provisional_sent: Cell::new(false),
                setup_recorded: Cell::new(false),
            }),
        }
    }
}

impl TxnMeta {
    /// A response with `status` left for this transaction at `now_us`:
    /// record the request's latency on its first final response, and an
    /// INVITE's session setup time on its first 180 or 2xx.
    #[inline]
    pub fn on_sent(&self, status: u16, now_us: u64, local: &LocalMetrics) -> SentOutcome {
        let elapsed = now_us.saturating_sub(self.received_us);
        let is_invite = self.invite_branch.is_some();
        if is_invite
            && (status == 180 || (200..300).contains(&status))
            && !self.setup_recorded.get()
        {
            self.setup_recorded.set(true);
            local.record(LatencyKind::SessionSetup, elapsed);
        }
        if status < 200 {
            if status > 100 {
                self.provisional_sent.set(true);
            }
            return SentOutcome::default();
        }
        if self.final_sent.replace(true) {
            return SentOutcome::default();
        }
        local.record(LatencyKind::Sip(self.method), elapsed);
        SentOutcome { first_final: true }
    }

    /// Has this transaction finished (sent a final response)?
    pub fn finished(&self) -> bool {
        self.final_sent.get()
    }

    /// Has a provisional other than 100 gone upstream?
    pub fn provisional_sent(&self) -> bool {
        self.provisional_sent.get()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::node::metrics::ShardMetrics;
    use std::net::SocketAddr;

    fn origin() -> Origin {
        let a: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        Origin {
            transport: shards::Transport::Udp,
            local: a,
            peer: a,
            conn: None,
        }
    }

    #[test]
    fn latency_is_recorded_once_at_the_first_final_response() {
        let local = LocalMetrics::default();
        let t = TxnOrigin::new(origin(), 1_000, 4, None);
        assert!(!t.meta.on_sent(100, 1_100, &local).first_final);
        assert!(t.meta.on_sent(200, 1_500, &local).first_final);
        // A retransmission of the final response is not a second latency.
        assert!(!t.clone().meta.on_sent(200, 9_000, &local).first_final);
        let shared = ShardMetrics::new(0);
        assert!(local.publish(&shared));
        let p = shared.published.lock().unwrap();
        assert_eq!((p.pending[4].count, p.pending[4].sum), (1, 500));
        assert_eq!(p.pending[LatencyKind::SessionSetup.index()].count, 0);
    }

    #[test]
    fn an_invite_records_setup_time_and_remembers_its_ringing() {
        let local = LocalMetrics::default();
        let t = TxnOrigin::new(origin(), 0, 0, Some(Bytes::from_static(b"z9hG4bK1")));
        t.meta.on_sent(100, 10, &local);
        assert!(!t.meta.provisional_sent());
        t.meta.on_sent(180, 40, &local);
        assert!(t.meta.provisional_sent());
        t.meta.on_sent(200, 90, &local);
        assert!(t.meta.finished());
        let shared = ShardMetrics::new(0);
        assert!(local.publish(&shared));
        let p = shared.published.lock().unwrap();
        let setup = p.pending[LatencyKind::SessionSetup.index()];
        assert_eq!((setup.count, setup.sum), (1, 40));
        assert_eq!((p.pending[0].count, p.pending[0].sum), (1, 90));
    }
}
