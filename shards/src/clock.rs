//! The runtime's monotonic clock. Every `Clock` in the process shares one
//! epoch, so a time taken on one shard means the same on another.

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    pub fn new() -> Self {
        Self {
            epoch: *EPOCH.get_or_init(Instant::now),
        }
    }

    /// Microseconds since the process's epoch.
    #[inline]
    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// Milliseconds since the process's epoch.
    #[inline]
    pub fn now_ms(&self) -> u64 {
        self.now_us() / 1000
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}
