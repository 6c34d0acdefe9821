//! The RFC 3261 timers a transaction uses, as a fixed array of deadlines.

/// RFC 3261 Table 4's timers, plus RFC 6026's L and M.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE request retransmit (client, unreliable).
    A,
    /// INVITE transaction timeout (client).
    B,
    /// Wait time for response retransmits (client INVITE, Completed).
    D,
    /// Non-INVITE request retransmit (client, unreliable).
    E,
    /// Non-INVITE transaction timeout (client).
    F,
    /// INVITE response retransmit (server, unreliable).
    G,
    /// Wait time for ACK receipt (server INVITE).
    H,
    /// Wait time for ACK retransmits (server INVITE, Confirmed).
    I,
    /// Wait time for non-INVITE request retransmits (server).
    J,
    /// Wait time for response retransmits (client non-INVITE).
    K,
    /// RFC 6026: wait time for accepted INVITE request retransmits (server).
    L,
    /// RFC 6026: wait time for retransmission of 2xx to INVITE or additional 2xx from other branches (client).
    M,
}

pub(crate) const TIMER_COUNT: usize = 12;

/// T1, T2 and T4 (RFC 3261 §17.1.1.1); every other duration derives from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate; default 500 ms.
    pub t1_ms: u64,
    /// Longest retransmit interval for non-INVITE requests and INVITE responses; default 4 s.
    pub t2_ms: u64,
    /// Longest time a message stays in the network; default 5 s.
    pub t4_ms: u64,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1_ms: 500,
            t2_ms: 4_000,
            t4_ms: 5_000,
        }
    }
}

impl TimerConfig {
    /// 64·T1: Timers B, F, H, J (unreliable), L and M.
    pub fn t1x64_ms(&self) -> u64 {
        self.t1_ms.saturating_mul(64)
    }

    /// Timer D: at least 32 s on unreliable transports, zero on reliable ones.
    pub fn d_ms(&self, reliable: bool) -> u64 {
        if reliable {
            0
        } else {
            self.t1x64_ms().max(32_000)
        }
    }
}

/// Deadlines by timer, and the current interval of the doubling timers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Deadlines {
    at_ms: [Option<u64>; TIMER_COUNT],
    /// Current interval of A, E or G (whichever the machine uses).
    pub(crate) interval_ms: u64,
}

impl Deadlines {
    pub(crate) fn set(&mut self, t: Timer, at_ms: u64) {
        self.at_ms[t as usize] = Some(at_ms);
    }

    pub(crate) fn cancel(&mut self, t: Timer) {
        self.at_ms[t as usize] = None;
    }

    pub(crate) fn cancel_all(&mut self) {
        self.at_ms = [None; TIMER_COUNT];
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<u64> {
        self.at_ms.iter().flatten().min().copied()
    }

    /// Take the earliest timer due at `now_ms`, if any (earliest first, so
    /// timers due together fire in deadline order).
    pub(crate) fn take_due(&mut self, now_ms: u64) -> Option<Timer> {
        const ALL: [Timer; TIMER_COUNT] = [
            Timer::A,
            Timer::B,
            Timer::D,
            Timer::E,
            Timer::F,
            Timer::G,
            Timer::H,
            Timer::I,
            Timer::J,
            Timer::K,
            Timer::L,
            Timer::M,
        ];
        let (i, _) = self
            .at_ms
            .iter()
            .enumerate()
            .filter_map(|(i, at)| at.map(|at| (i, at)))
            .filter(|&(_, at)| at <= now_ms)
            .min_by_key(|&(_, at)| at)?;
        self.at_ms[i] = None;
        Some(ALL[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_durations() {
        let c = TimerConfig::default();
        assert_eq!(c.t1x64_ms(), 32_000);
        assert_eq!(c.d_ms(false), 32_000);
        assert_eq!(c.d_ms(true), 0);
        let fast = TimerConfig { t1_ms: 100, ..c };
        assert_eq!(fast.d_ms(false), 32_000, "Timer D is at least 32 s");
    }

    #[test]
    fn due_timers_fire_earliest_first() {
        let mut d = Deadlines::default();
        d.set(Timer::B, 300);
        d.set(Timer::A, 100);
        assert_eq!(d.next(), Some(100));
        assert_eq!(d.take_due(50), None);
        assert_eq!(d.take_due(400), Some(Timer::A));
        assert_eq!(d.take_due(400), Some(Timer::B));
        assert_eq!(d.take_due(400), None);
        assert_eq!(d.next(), None);
    }
}
