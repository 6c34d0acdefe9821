//! Clearwater's statistics windows: the previous five-second period, the
//! current five-minute period and the previous five-minute period, aligned
//! to the wall clock (at 12:01:33 they are 12:01:25–12:01:30,
//! 12:00:00–12:01:33 and 11:55:00–12:00:00).

/// Something that can be summed over a period.
pub trait Accumulate: Default + Clone {
    fn merge(&mut self, other: &Self);
}

/// Count, mean, variance and high/low water marks of events (latencies in
/// microseconds, or once-a-second samples of a gauge).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventStats {
    pub count: u64,
    pub sum: u64,
    pub sum_squares: u128,
    pub min: u64,
    pub max: u64,
}

impl Default for EventStats {
    fn default() -> Self {
        Self {
            count: 0,
            sum: 0,
            sum_squares: 0,
            min: u64::MAX,
            max: 0,
        }
    }
}

impl EventStats {
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.count += 1;
        self.sum = self.sum.saturating_add(v);
        self.sum_squares = self
            .sum_squares
            .saturating_add(u128::from(v) * u128::from(v));
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// Population variance.
    pub fn variance(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let n = self.count as f64;
        let mean = self.mean();
        (self.sum_squares as f64 / n - mean * mean).max(0.0)
    }

    /// The low-water mark (0 when nothing happened).
    pub fn low(&self) -> u64 {
        if self.count == 0 { 0 } else { self.min }
    }
}

impl Accumulate for EventStats {
    fn merge(&mut self, o: &Self) {
        self.count += o.count;
        self.sum = self.sum.saturating_add(o.sum);
        self.sum_squares = self.sum_squares.saturating_add(o.sum_squares);
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }
}

/// Attempts, successes and failures (plain counts use `attempts` only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountStats {
    pub attempts: u64,
    pub successes: u64,
    pub failures: u64,
}

impl CountStats {
    /// Successes as a percentage of attempts (100 when there were none,
    /// as nothing failed).
    pub fn success_percent(&self) -> f64 {
        if self.attempts == 0 {
            100.0
        } else {
            self.successes as f64 * 100.0 / self.attempts as f64
        }
    }

    /// What happened between `earlier` and `self` (cumulative counts).
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            attempts: self.attempts.wrapping_sub(earlier.attempts),
            successes: self.successes.wrapping_sub(earlier.successes),
            failures: self.failures.wrapping_sub(earlier.failures),
        }
    }
}

impl Accumulate for CountStats {
    fn merge(&mut self, o: &Self) {
        self.attempts += o.attempts;
        self.successes += o.successes;
        self.failures += o.failures;
    }
}

pub const FIVE_SECONDS_MS: u64 = 5_000;
pub const FIVE_MINUTES_MS: u64 = 300_000;

/// One statistic over Clearwater's three periods.
#[derive(Debug, Clone, Default)]
pub struct Windows<T> {
    five_s_index: u64,
    current_5s: T,
    previous_5s: T,
    five_m_index: u64,
    current_5m: T,
    previous_5m: T,
}

impl<T: Accumulate> Windows<T> {
    /// Move the periods on to the ones `now_ms` falls in.
    pub fn roll(&mut self, now_ms: u64) {
        roll_one(
            now_ms / FIVE_SECONDS_MS,
            &mut self.five_s_index,
            &mut self.current_5s,
            &mut self.previous_5s,
        );
        roll_one(
            now_ms / FIVE_MINUTES_MS,
            &mut self.five_m_index,
            &mut self.current_5m,
            &mut self.previous_5m,
        );
    }

    /// Count `delta` in the periods `now_ms` falls in.
    pub fn add(&mut self, now_ms: u64, delta: &T) {
        self.roll(now_ms);
        self.current_5s.merge(delta);
        self.current_5m.merge(delta);
    }

    /// (previous 5 s, current 5 min, previous 5 min) as of `now_ms`.
    pub fn view(&self, now_ms: u64) -> (T, T, T) {
        let mut w = self.clone();
        w.roll(now_ms);
        (w.previous_5s, w.current_5m, w.previous_5m)
    }
}

fn roll_one<T: Accumulate>(index: u64, at: &mut u64, current: &mut T, previous: &mut T) {
    if index == *at {
        return;
    }
    *previous = if index == *at + 1 {
        std::mem::take(current)
    } else {
        T::default()
    };
    *current = T::default();
    *at = index;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_give_mean_variance_and_water_marks() {
        let mut e = EventStats::default();
        assert_eq!((e.mean(), e.variance(), e.low(), e.max), (0.0, 0.0, 0, 0));
        for v in [2, 4, 4, 4, 5, 5, 7, 9] {
            e.record(v);
        }
        assert_eq!(e.count, 8);
        assert_eq!(e.mean(), 5.0);
        assert_eq!(e.variance(), 4.0);
        assert_eq!((e.low(), e.max), (2, 9));
    }

    #[test]
    fn periods_follow_the_wall_clock_as_clearwater_describes() {
        // 12:01:33 → previous 5 s is 12:01:25–12:01:30.
        let t = |h: u64, m: u64, s: u64| ((h * 60 + m) * 60 + s) * 1000;
        let one = CountStats {
            attempts: 1,
            successes: 1,
            failures: 0,
        };
        let mut w = Windows::<CountStats>::default();
        w.add(t(11, 59, 59), &one); // previous 5 min
        w.add(t(12, 1, 24), &one); // current 5 min, before the previous 5 s
        w.add(t(12, 1, 26), &one); // previous 5 s
        w.add(t(12, 1, 29), &one); // previous 5 s
        w.add(t(12, 1, 31), &one); // current 5 s (not shown)
        let (p5s, c5m, p5m) = w.view(t(12, 1, 33));
        assert_eq!(p5s.attempts, 2);
        assert_eq!(c5m.attempts, 4);
        assert_eq!(p5m.attempts, 1);
        // Long quiet: every period is empty, not stale.
        let (p5s, c5m, p5m) = w.view(t(12, 20, 0));
        assert_eq!((p5s.attempts, c5m.attempts, p5m.attempts), (0, 0, 0));
    }

    #[test]
    fn count_deltas_and_percentages() {
        let a = CountStats {
            attempts: 10,
            successes: 7,
            failures: 3,
        };
        let b = CountStats {
            attempts: 4,
            successes: 3,
            failures: 1,
        };
        assert_eq!(
            a.since(&b),
            CountStats {
                attempts: 6,
                successes: 4,
                failures: 2
            }
        );
        assert_eq!(a.success_percent(), 70.0);
        assert_eq!(CountStats::default().success_percent(), 100.0);
    }
}
