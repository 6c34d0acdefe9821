//! A bounded single-producer/single-consumer ring: the queue under each
//! ordered pair of shards.
//!
//! Each slot carries a stamp saying whether it is free or full for the
//! current lap; the producer's and the consumer's positions are private to
//! each side. So a message moves only the lines of its own slot (stamp and
//! value share the first): no shared index line bounces between the cores,
//! and there is no read-modify-write. A slot starts on a cache line of its
//! own, so the producer filling one slot does not take the line from under
//! the consumer reading the one before it.
//!
//! Single producer and single consumer are enforced, not assumed: the first
//! thread to push owns the producer side and the first to pop owns the
//! consumer side, for the ring's lifetime. Any other thread is refused (a
//! push gives the value back, a pop finds nothing), so the `unsafe` slot
//! accesses below never race whatever the caller does.

use std::cell::{Cell, UnsafeCell};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Keeps a value on its own cache line (two, against adjacent-line prefetch).
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

/// One side's private position and the thread that owns the side.
struct Side {
    /// The slot this side looks at next.
    slot: AtomicUsize,
    /// Laps of the ring this side has completed.
    lap: AtomicUsize,
    owner: AtomicU64,
}

impl Side {
    fn new() -> Self {
        Side {
            slot: AtomicUsize::new(0),
            lap: AtomicUsize::new(0),
            owner: AtomicU64::new(0),
        }
    }

    /// True if the calling thread owns this side, claiming it if nobody does.
    #[inline]
    fn claim(&self) -> bool {
        let me = thread_token();
        let owner = self.owner.load(Ordering::Relaxed);
        owner == me
            || (owner == 0
                && self
                    .owner
                    .compare_exchange(0, me, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok())
    }

    /// Move past `slot` (this side's thread only: Relaxed is enough).
    #[inline]
    fn advance(&self, slot: usize, lap: usize, len: usize) {
        if slot + 1 == len {
            self.slot.store(0, Ordering::Relaxed);
            self.lap.store(lap.wrapping_add(1), Ordering::Relaxed);
        } else {
            self.slot.store(slot + 1, Ordering::Relaxed);
        }
    }
}

/// A number naming the calling thread, never reused within the process.
#[inline]
fn thread_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local!(static TOKEN: Cell<u64> = const { Cell::new(0) });
    TOKEN.with(|t| match t.get() {
        0 => {
            let v = NEXT.fetch_add(1, Ordering::Relaxed);
            t.set(v);
            v
        }
        v => v,
    })
}

/// A stamp: `2 * lap` when the slot is free for the producer's lap `lap`,
/// `2 * lap + 1` when it holds the value written in lap `lap`.
#[repr(align(64))]
struct Slot<T> {
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

pub(crate) struct Ring<T> {
    producer: Padded<Side>,
    consumer: Padded<Side>,
    slots: Box<[Slot<T>]>,
}

// SAFETY: values of `T` move from the producer thread to the consumer thread
// (hence `T: Send`), and every slot is accessed by at most those two threads,
// ordered by the Release/Acquire pairs on its stamp (see push/pop); the owner
// check in `Side::claim` keeps any third thread out.
#[allow(unsafe_code)]
unsafe impl<T: Send> Sync for Ring<T> {}
// SAFETY: as above; moving the ring moves the values it holds.
#[allow(unsafe_code)]
unsafe impl<T: Send> Send for Ring<T> {}

impl<T> Ring<T> {
    /// A ring holding at most `capacity` values (0: always full).
    pub(crate) fn new(capacity: usize) -> Self {
        Ring {
            producer: Padded(Side::new()),
            consumer: Padded(Side::new()),
            slots: (0..capacity)
                .map(|_| Slot {
                    stamp: AtomicUsize::new(0),
                    value: UnsafeCell::new(MaybeUninit::uninit()),
                })
                .collect(),
        }
    }

    /// Append `value`; a full ring, or a caller that is not this ring's
    /// producer thread, gets it back.
    #[inline]
    pub(crate) fn push(&self, value: T) -> Result<(), T> {
        let p = &self.producer.0;
        if self.slots.is_empty() || !p.claim() {
            return Err(value);
        }
        let (i, lap) = (
            p.slot.load(Ordering::Relaxed),
            p.lap.load(Ordering::Relaxed),
        );
        let slot = &self.slots[i];
        // Acquire: the consumer has moved the previous lap's value out.
        if slot.stamp.load(Ordering::Acquire) != lap.wrapping_mul(2) {
            return Err(value);
        }
        // SAFETY: only the owning producer thread gets here (claim), and the
        // stamp says the slot is free for this lap: the consumer moved its
        // old value out before stamping it free (Release in `pop`).
        #[allow(unsafe_code)]
        unsafe {
            (*slot.value.get()).write(value);
        }
        // Release: the value is written before the consumer sees the stamp.
        slot.stamp
            .store(lap.wrapping_mul(2).wrapping_add(1), Ordering::Release);
        p.advance(i, lap, self.slots.len());
        Ok(())
    }

    /// Take the oldest value; `None` if the ring is empty or the caller is
    /// not this ring's consumer thread.
    #[inline]
    pub(crate) fn pop(&self) -> Option<T> {
        let c = &self.consumer.0;
        let (i, lap) = (
            c.slot.load(Ordering::Relaxed),
            c.lap.load(Ordering::Relaxed),
        );
        let slot = self.slots.get(i)?;
        // Acquire: the producer's write of the value happened before.
        if slot.stamp.load(Ordering::Acquire) != lap.wrapping_mul(2).wrapping_add(1) || !c.claim() {
            return None;
        }
        // SAFETY: only the owning consumer thread gets here (claim), and the
        // stamp says the slot holds this lap's value, written before the
        // producer stamped it (Release in `push`); it is read once, since
        // the stamp moves on to "free" next.
        #[allow(unsafe_code)]
        let value = unsafe { (*slot.value.get()).assume_init_read() };
        // Release: the value is moved out before the producer may reuse the slot.
        slot.stamp
            .store(lap.wrapping_add(1).wrapping_mul(2), Ordering::Release);
        c.advance(i, lap, self.slots.len());
        Some(value)
    }

    /// Whether the consumer's next slot is empty, its stamp read with
    /// `order` (the consumer's last look before sleeping).
    #[inline]
    pub(crate) fn is_empty(&self, order: Ordering) -> bool {
        let c = &self.consumer.0;
        let lap = c.lap.load(Ordering::Relaxed);
        self.slots
            .get(c.slot.load(Ordering::Relaxed))
            .is_none_or(|s| s.stamp.load(order) != lap.wrapping_mul(2).wrapping_add(1))
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        for slot in self.slots.iter_mut() {
            if *slot.stamp.get_mut() % 2 == 1 {
                // SAFETY: an odd stamp marks a value written and not taken,
                // and `&mut self` means no other thread can touch it.
                #[allow(unsafe_code)]
                unsafe {
                    slot.value.get_mut().assume_init_drop();
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn holds_exactly_its_capacity_in_order() {
        let r = Ring::new(3);
        assert_eq!(r.push(1), Ok(()));
        assert_eq!(r.push(2), Ok(()));
        assert_eq!(r.push(3), Ok(()));
        assert_eq!(r.push(4), Err(4));
        assert_eq!(r.pop(), Some(1));
        assert_eq!(r.push(4), Ok(()));
        assert_eq!(r.pop(), Some(2));
        assert_eq!(r.pop(), Some(3));
        assert_eq!(r.pop(), Some(4));
        assert_eq!(r.pop(), None);
    }

    #[test]
    fn a_second_producer_or_consumer_thread_is_refused() {
        let r = Arc::new(Ring::new(4));
        assert_eq!(r.push(1), Ok(()));
        let other = Arc::clone(&r);
        let (pushed, popped) = std::thread::spawn(move || (other.push(2), other.pop()))
            .join()
            .unwrap();
        // The other thread took the consumer side (the ring had no consumer
        // yet) but may not produce.
        assert_eq!(pushed, Err(2));
        assert_eq!(popped, Some(1));
        assert_eq!(r.push(3), Ok(()));
        assert_eq!(r.pop(), None, "this thread is not the consumer");
    }

    #[test]
    fn a_zero_capacity_ring_is_always_full() {
        let r = Ring::new(0);
        assert_eq!(r.push(1), Err(1));
        assert_eq!(r.pop(), None);
    }

    #[test]
    fn drops_what_is_left() {
        let counted = Arc::new(());
        let r = Ring::new(8);
        for _ in 0..5 {
            r.push(Arc::clone(&counted)).unwrap();
        }
        drop(r.pop());
        assert_eq!(Arc::strong_count(&counted), 5);
        drop(r);
        assert_eq!(Arc::strong_count(&counted), 1);
    }

    #[test]
    fn wraps_around_many_times_across_threads() {
        let r = Arc::new(Ring::new(5));
        let n = 100_000u64;
        let consumer = {
            let r = Arc::clone(&r);
            std::thread::spawn(move || {
                let mut next = 0;
                while next < n {
                    if let Some(v) = r.pop() {
                        assert_eq!(v, next);
                        next += 1;
                    } else {
                        std::thread::yield_now();
                    }
                }
            })
        };
        for i in 0..n {
            let mut v = i;
            while let Err(back) = r.push(v) {
                v = back;
                std::thread::yield_now();
            }
        }
        consumer.join().unwrap();
        assert_eq!(r.pop(), None);
    }
}
