//! A spin lock that gives up the processor while contended, for libposix's static tables.
//!
//! Septa runs on one processor: a thread that finds the lock held can only wait for the
//! holder, which was preempted, to run again. So a waiter yields at once instead of spinning,
//! and after many yields sleeps a millisecond, in case the holder has a lower priority than
//! the waiter (yield only lets threads of the same priority run). A lock is never held across
//! a blocking kernel call, and never while user code (a signal handler, a thread's function)
//! runs.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// Yields in a row before a waiter sleeps instead.
const YIELDS_BEFORE_SLEEP: u32 = 64;
/// How long a waiter sleeps once yielding has not helped.
const SLEEP_NANOSECONDS: u64 = 1_000_000;

/// A value behind a spin lock.
pub struct Lock<T> {
    held: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through a `Guard`, and `held` admits one guard at a time,
// so sharing the lock between threads shares the value as a `Mutex` would.
unsafe impl<T: Send> Sync for Lock<T> {}

impl<T> Lock<T> {
    /// A lock holding `value`.
    pub const fn new(value: T) -> Lock<T> {
        Lock {
            held: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Waits for the lock and returns a guard that releases it when dropped.
    pub fn lock(&self) -> Guard<'_, T> {
        let mut attempts = 0u32;
        while self
            .held
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            pause(&mut attempts);
        }
        Guard { lock: self }
    }
}

/// Waits a little for another thread to give something back: yields the processor, and after
/// many yields in a row (`attempts` counts them) sleeps instead.
pub fn pause(attempts: &mut u32) {
    if *attempts < YIELDS_BEFORE_SLEEP {
        *attempts += 1;
        crate::kernel::yield_now();
    } else {
        crate::kernel::sleep(SLEEP_NANOSECONDS);
    }
}

/// Exclusive access to a locked value.
pub struct Guard<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock, so no other reference to the value exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds the lock, so no other reference to the value exists.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        self.lock.held.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn guards_exclude_each_other() {
        let lock = Arc::new(Lock::new(0u64));
        let threads: std::vec::Vec<_> = (0..4)
            .map(|_| {
                let lock = Arc::clone(&lock);
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        *lock.lock() += 1;
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(*lock.lock(), 40_000);
    }
}
