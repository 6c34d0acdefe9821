//! A hierarchical timer wheel: millisecond resolution, deadlines from now to
//! years ahead, O(1) insert and cancel, expiry proportional to what fires.
//!
//! Six levels of 64 slots: an entry sits at the level of the highest base-64
//! digit in which its deadline differs from the clock, in the slot given by
//! that digit, so the slot is reached no later than the deadline and then the
//! entry cascades one or more levels down. Deadlines past the current top
//! rotation (`64^6` ms, about 2.2 years) wait in an overflow list. Entries live
//! in a slab; a [`TimerId`] carries index and generation, so cancelling a
//! timer that already fired is a harmless no-op. Time is passed in, never read.

const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_MASK: u64 = (SLOTS as u64) - 1;
const SPAN_BITS: u32 = SLOT_BITS * LEVELS as u32;
const NIL: u32 = u32::MAX;
/// Pseudo-level for the overflow list.
const OVERFLOW: u8 = LEVELS as u8;

/// Handle to a scheduled timer; stale handles are ignored by [`TimerWheel::cancel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId {
    index: u32,
    generation: u32,
}

struct Entry<T> {
    deadline: u64,
    generation: u32,
    prev: u32,
    next: u32,
    /// (level, slot) the entry is filed under; `None` when the entry is free.
    home: Option<(u8, u8)>,
    value: Option<T>,
}

/// The wheel. `T` is what a timer hands back when it fires.
pub struct TimerWheel<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
    heads: [[u32; SLOTS]; LEVELS],
    occupied: [u64; LEVELS],
    overflow: u32,
    /// Every deadline up to `now` has been delivered, bar timers inserted
    /// for `now` after the last advance.
    now: u64,
    len: usize,
}

impl<T> TimerWheel<T> {
    /// An empty wheel whose clock reads `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Self {
            entries: Vec::new(),
            free: Vec::new(),
            heads: [[NIL; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            overflow: NIL,
            now: now_ms,
            len: 0,
        }
    }

    /// Timers pending (not fired, not cancelled).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The wheel's clock: deadlines before it have been delivered.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Schedule `value` for `deadline_ms`; a deadline already past fires on
    /// the next [`TimerWheel::advance`].
    pub fn insert(&mut self, deadline_ms: u64, value: T) -> TimerId {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.entries.push(Entry {
                    deadline: 0,
                    generation: 0,
                    prev: NIL,
                    next: NIL,
                    home: None,
                    value: None,
                });
                (self.entries.len() - 1) as u32
            }
        };
        let e = &mut self.entries[index as usize];
        e.deadline = deadline_ms.max(self.now);
        e.value = Some(value);
        let generation = e.generation;
        self.file(index);
        self.len += 1;
        TimerId { index, generation }
    }

    /// Cancel a pending timer, returning what it carried; `None` when it
    /// already fired or was cancelled.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        let e = self.entries.get(id.index as usize)?;
        if e.generation != id.generation || e.home.is_none() {
            return None;
        }
        self.unlink(id.index);
        Some(self.release(id.index))
    }

    /// The deadline of a pending timer.
    pub fn deadline(&self, id: TimerId) -> Option<u64> {
        let e = self.entries.get(id.index as usize)?;
        (e.generation == id.generation && e.home.is_some()).then_some(e.deadline)
    }

    /// When [`TimerWheel::advance`] next has work: the exact deadline for a
    /// timer in the current 64 ms, otherwise the start of the coarse slot that
    /// must cascade. Sleeping until then is never late.
    pub fn next_wake(&self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        let cur0 = self.now & SLOT_MASK;
        let occ0 = self.occupied[0] & (!0u64 << cur0);
        if occ0 != 0 {
            return Some((self.now & !SLOT_MASK) | occ0.trailing_zeros() as u64);
        }
        self.next_attention()
    }

    /// Move the clock to `now_ms` and push every timer due at or before it
    /// into `fired`, earliest millisecond first.
    pub fn advance(&mut self, now_ms: u64, fired: &mut Vec<T>) {
        if now_ms < self.now {
            return;
        }
        loop {
            self.drain_current(fired);
            match self.next_attention() {
                Some(t) if t <= now_ms => {
                    let crossed_top = (self.now >> SPAN_BITS) != (t >> SPAN_BITS);
                    self.now = t;
                    if crossed_top {
                        self.refile_overflow();
                    }
                    for level in (1..LEVELS).rev() {
                        let slot = self.digit(level);
                        if self.occupied[level] & (1 << slot) != 0 {
                            self.refile_slot(level, slot);
                        }
                    }
                }
                _ => break,
            }
        }
        // Nothing needs attention in (self.now, now_ms]: jump. A timer
        // inserted for `now_ms` after this lands in the drained current slot
        // and fires on the next advance.
        self.now = now_ms;
    }

    fn digit(&self, level: usize) -> usize {
        ((self.now >> (SLOT_BITS * level as u32)) & SLOT_MASK) as usize
    }

    /// The next instant strictly after `now` at which a slot must be drained
    /// or cascaded.
    fn next_attention(&self) -> Option<u64> {
        for level in 0..LEVELS {
            let cur = self.digit(level) as u32;
            let later = if cur == SLOT_MASK as u32 {
                0
            } else {
                self.occupied[level] & (!0u64 << (cur + 1))
            };
            if later != 0 {
                let shift = SLOT_BITS * level as u32;
                let base = (self.now >> (shift + SLOT_BITS)) << (shift + SLOT_BITS);
                return Some(base | ((later.trailing_zeros() as u64) << shift));
            }
        }
        (self.overflow != NIL).then(|| ((self.now >> SPAN_BITS) + 1) << SPAN_BITS)
    }

    fn drain_current(&mut self, fired: &mut Vec<T>) {
        let slot = self.digit(0);
        let mut i = self.heads[0][slot];
        while i != NIL {
            let next = self.entries[i as usize].next;
            self.unlink(i);
            fired.push(self.release(i));
            i = next;
        }
    }

    fn refile_slot(&mut self, level: usize, slot: usize) {
        let mut i = self.heads[level][slot];
        while i != NIL {
            let next = self.entries[i as usize].next;
            self.unlink(i);
            self.file(i);
            i = next;
        }
    }

    fn refile_overflow(&mut self) {
        let mut i = self.overflow;
        while i != NIL {
            let next = self.entries[i as usize].next;
            self.unlink(i);
            self.file(i);
            i = next;
        }
    }

    /// File an unlinked entry by its deadline relative to `now`.
    fn file(&mut self, i: u32) {
        let deadline = self.entries[i as usize].deadline;
        let differ = (self.now ^ deadline) | SLOT_MASK;
        let level = ((63 - differ.leading_zeros()) / SLOT_BITS) as usize;
        let (level_tag, slot) = if level >= LEVELS {
            (OVERFLOW, 0)
        } else {
            let slot = (deadline >> (SLOT_BITS * level as u32)) & SLOT_MASK;
            (level as u8, slot as u8)
        };
        let head = if level_tag == OVERFLOW {
            self.overflow
        } else {
            self.heads[level][slot as usize]
        };
        {
            let e = &mut self.entries[i as usize];
            e.prev = NIL;
            e.next = head;
            e.home = Some((level_tag, slot));
        }
        if head != NIL {
            self.entries[head as usize].prev = i;
        }
        if level_tag == OVERFLOW {
            self.overflow = i;
        } else {
            self.heads[level][slot as usize] = i;
            self.occupied[level] |= 1 << slot;
        }
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next, home) = {
            let e = &self.entries[i as usize];
            (e.prev, e.next, e.home)
        };
        let Some((level, slot)) = home else { return };
        if prev != NIL {
            self.entries[prev as usize].next = next;
        } else if level == OVERFLOW {
            self.overflow = next;
        } else {
            let (l, s) = (level as usize, slot as usize);
            self.heads[l][s] = next;
            if next == NIL {
                self.occupied[l] &= !(1 << s);
            }
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
        let e = &mut self.entries[i as usize];
        e.home = None;
        e.prev = NIL;
        e.next = NIL;
    }

    fn release(&mut self, i: u32) -> T {
        let e = &mut self.entries[i as usize];
        e.generation = e.generation.wrapping_add(1);
        self.free.push(i);
        self.len -= 1;
        match e.value.take() {
            Some(v) => v,
            None => unreachable!("a filed timer always holds its value"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn fire(w: &mut TimerWheel<u32>, now: u64) -> Vec<u32> {
        let mut out = Vec::new();
        w.advance(now, &mut out);
        out.sort_unstable();
        out
    }

    #[test]
    fn fires_exactly_at_deadline_and_not_before() {
        let mut w = TimerWheel::new(1000);
        w.insert(1000 + 500, 1);
        w.insert(1000 + 64, 2);
        w.insert(1000 + 5, 3);
        assert_eq!(fire(&mut w, 1004), Vec::<u32>::new());
        assert_eq!(fire(&mut w, 1005), vec![3]);
        assert_eq!(fire(&mut w, 1063), Vec::<u32>::new());
        assert_eq!(fire(&mut w, 1064), vec![2]);
        assert_eq!(fire(&mut w, 1499), Vec::<u32>::new());
        assert_eq!(fire(&mut w, 1500), vec![1]);
        assert!(w.is_empty());
    }

    #[test]
    fn past_deadline_fires_on_next_advance() {
        let mut w = TimerWheel::new(50);
        w.insert(10, 7);
        assert_eq!(w.next_wake(), Some(50));
        assert_eq!(fire(&mut w, 50), vec![7]);
    }

    #[test]
    fn cancel_is_exact_and_stale_handles_are_ignored() {
        let mut w = TimerWheel::new(0);
        let a = w.insert(100, 1);
        let b = w.insert(100, 2);
        assert_eq!(w.cancel(a), Some(1));
        assert_eq!(w.cancel(a), None);
        assert_eq!(w.len(), 1);
        let c = w.insert(200, 3); // reuses a's slot with a new generation
        assert_eq!(w.cancel(a), None);
        assert_eq!(fire(&mut w, 100), vec![2]);
        assert_eq!(w.cancel(b), None);
        assert_eq!(w.deadline(c), Some(200));
        assert_eq!(fire(&mut w, 300), vec![3]);
    }

    #[test]
    fn days_ahead_and_beyond_the_span() {
        let day = 86_400_000u64;
        let mut w = TimerWheel::new(0);
        w.insert(3 * day + 17, 1);
        w.insert(900 * day, 2); // past 64^6 ms
        assert_eq!(fire(&mut w, 3 * day + 16), Vec::<u32>::new());
        assert_eq!(fire(&mut w, 3 * day + 17), vec![1]);
        assert_eq!(fire(&mut w, 900 * day - 1), Vec::<u32>::new());
        assert_eq!(fire(&mut w, 900 * day), vec![2]);
    }

    #[test]
    fn next_wake_is_never_after_the_first_deadline() {
        let mut w = TimerWheel::new(0);
        w.insert(5000, 1);
        let mut t = 0;
        let mut seen = Vec::new();
        while let Some(wake) = w.next_wake() {
            assert!(wake <= 5000, "woke at {wake}");
            assert!(wake >= t);
            t = wake;
            w.advance(t, &mut seen);
        }
        assert_eq!(seen, vec![1]);
        assert_eq!(t, 5000);
    }

    proptest::proptest! {
        /// The wheel agrees with a sorted map on what fires when, under random
        /// inserts, cancels and clock jumps.
        #[test]
        fn matches_a_sorted_model(ops in proptest::collection::vec(
            (0u8..3, 0u64..200_000, 0u64..5_000), 1..300)) {
            let mut w = TimerWheel::new(0);
            let mut model: BTreeMap<u32, u64> = BTreeMap::new();
            let mut ids = Vec::new();
            let mut now = 0u64;
            for (n, (op, a, b)) in ops.into_iter().enumerate() {
                let n = n as u32;
                match op {
                    0 => {
                        let id = w.insert(now + a, n);
                        model.insert(n, now + a);
                        ids.push((n, id));
                    }
                    1 if !ids.is_empty() => {
                        let (v, id) = ids.swap_remove((a as usize) % ids.len());
                        let expect = model.remove(&v);
                        proptest::prop_assert_eq!(w.cancel(id), expect.map(|_| v));
                    }
                    _ => {
                        now += b;
                        let mut got = Vec::new();
                        w.advance(now, &mut got);
                        got.sort_unstable();
                        let due: Vec<u32> = model.iter().filter(|(_, d)| **d <= now).map(|(k, _)| *k).collect();
                        for k in &due { model.remove(k); }
                        proptest::prop_assert_eq!(got, due);
                    }
                }
                proptest::prop_assert_eq!(w.len(), model.len());
            }
        }
    }
}
