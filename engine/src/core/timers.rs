//! One min-heap of transaction deadlines with lazy deletion: a transaction's
//! new deadline is pushed when it changes, stale entries are skipped on pop.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use sip_fastpath::{ClientKey, ServerKey};

/// Which transaction a deadline belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TxnRef {
    Server(ServerKeyOrd),
    Client(ClientKeyOrd),
}

/// Keys wrapped for ordering in the heap (the order is arbitrary but total).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerKeyOrd(pub ServerKey);
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientKeyOrd(pub ClientKey);

fn server_sort_key(k: &ServerKey) -> (&[u8], &[u8]) {
    match k {
        ServerKey::Branch { branch, method, .. } => (branch, method),
        ServerKey::Rfc2543 {
            call_id, method, ..
        } => (call_id, method),
    }
}

impl PartialOrd for ServerKeyOrd {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ServerKeyOrd {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        server_sort_key(&self.0).cmp(&server_sort_key(&other.0))
    }
}
impl PartialOrd for ClientKeyOrd {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ClientKeyOrd {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&self.0.branch[..], &self.0.method[..]).cmp(&(&other.0.branch[..], &other.0.method[..]))
    }
}

#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    /// (deadline, push sequence, transaction): the sequence breaks ties
    /// between equal deadlines, so the keys' bytes are never compared.
    heap: BinaryHeap<Reverse<(u64, u64, TxnRef)>>,
    pushed: u64,
}

impl TimerQueue {
    /// Room for `n` timers before the heap grows.
    pub(crate) fn with_capacity(n: usize) -> Self {
        TimerQueue {
            heap: BinaryHeap::with_capacity(n),
            pushed: 0,
        }
    }

    pub(crate) fn push(&mut self, at_ms: u64, txn: TxnRef) {
        self.pushed += 1;
        self.heap.push(Reverse((at_ms, self.pushed, txn)));
    }

    /// The earliest deadline (possibly stale: waking early is harmless).
    pub(crate) fn next(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// The next entry due at `now_ms`.
    pub(crate) fn pop_due(&mut self, now_ms: u64) -> Option<TxnRef> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now_ms => {
                self.heap.pop().map(|Reverse((_, _, t))| t)
            }
            _ => None,
        }
    }
}
