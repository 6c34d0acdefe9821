//! The generator's timers: a binary heap of deadlines, cancelled lazily (a
//! timer whose flow generation or transaction number moved on is ignored).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimerKind {
    /// Resend the UAC's request (RFC 3261 timers A and E).
    Retransmit,
    /// No final response in time (timers B and F).
    Timeout,
    /// Resend the callee's 200 until the ACK comes (RFC 3261 §13.3.1.4).
    CalleeRetransmit,
    /// The call was held long enough: send the BYE.
    Hold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timer {
    pub at: Instant,
    pub slot: u32,
    pub generation: u32,
    pub txn: u64,
    pub kind: TimerKind,
}

#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
}

impl Timers {
    pub fn push(&mut self, t: Timer) {
        self.heap.push(Reverse(t));
    }

    pub fn next_at(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(t)| t.at)
    }

    pub fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        if self.heap.peek().is_some_and(|Reverse(t)| t.at <= now) {
            self.heap.pop().map(|Reverse(t)| t)
        } else {
            None
        }
    }

    pub fn clear(&mut self) {
        self.heap.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_in_deadline_order_and_only_when_due() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        for (ms, slot) in [(30, 3), (10, 1), (20, 2)] {
            timers.push(Timer {
                at: t0 + Duration::from_millis(ms),
                slot,
                generation: 0,
                txn: 0,
                kind: TimerKind::Retransmit,
            });
        }
        assert_eq!(timers.next_at(), Some(t0 + Duration::from_millis(10)));
        assert_eq!(timers.pop_due(t0), None);
        let due = t0 + Duration::from_millis(20);
        assert_eq!(timers.pop_due(due).map(|t| t.slot), Some(1));
        assert_eq!(timers.pop_due(due).map(|t| t.slot), Some(2));
        assert_eq!(timers.pop_due(due), None);
    }
}
