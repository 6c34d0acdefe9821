//! Per-shard engine counters (cells on the owning thread).

use std::cell::Cell;

#[derive(Debug, Default)]
pub struct Counters {
    pub requests: Cell<u64>,
    pub responses: Cell<u64>,
    pub malformed: Cell<u64>,
    pub rejected_overload: Cell<u64>,
    pub rejected_invalid: Cell<u64>,
    /// Responses passed to the shard owning their client transaction.
    pub handed_over: Cell<u64>,
    pub mesh_full_drops: Cell<u64>,
    pub send_failures: Cell<u64>,
    pub unresolvable: Cell<u64>,
}

impl Counters {
    pub fn bump(c: &Cell<u64>) {
        c.set(c.get() + 1);
    }
}
