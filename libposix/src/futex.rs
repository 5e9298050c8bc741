//! `futex`: Linux's operations decoded and served by the kernel's futex calls.
//!
//! Supported: `FUTEX_WAIT` (relative timeout), `FUTEX_WAIT_BITSET` (absolute timeout on
//! `CLOCK_MONOTONIC`, or `CLOCK_REALTIME` with `FUTEX_CLOCK_REALTIME`, which is the same clock
//! on Septa), `FUTEX_WAKE`, `FUTEX_WAKE_BITSET` with `FUTEX_BITSET_MATCH_ANY`,
//! `FUTEX_REQUEUE` and `FUTEX_CMP_REQUEUE`. `FUTEX_PRIVATE_FLAG` is accepted and changes
//! nothing: every Septa futex is private to its entity. A waiter's bitset other than
//! match-any is treated as match-any (it may only wake more often, which futex users allow);
//! a waker's partial bitset could miss the right waiter, so it is `ENOSYS`, as are the PI,
//! `WAKE_OP` and `FD` operations.
//!
//! Differences from Linux: `FUTEX_CMP_REQUEUE` compares the value before the kernel call, not
//! atomically with the requeue, and returns the number of threads woken, not woken plus
//! requeued. No wait ends with `EINTR`: Septa delivers no asynchronous signals.

use septa_abi::TIMEOUT_NEVER;

use crate::errno::{Errno, Result};
use crate::time::{self, kernel_timeout, until};
use crate::{kernel, user};

/// `FUTEX_WAIT` and the other operation numbers (linux/futex.h).
const FUTEX_WAIT: i32 = 0;
const FUTEX_WAKE: i32 = 1;
const FUTEX_REQUEUE: i32 = 3;
const FUTEX_CMP_REQUEUE: i32 = 4;
const FUTEX_WAIT_BITSET: i32 = 9;
const FUTEX_WAKE_BITSET: i32 = 10;
/// Flags of the operation word.
const FUTEX_PRIVATE_FLAG: i32 = 128;
const FUTEX_CLOCK_REALTIME: i32 = 256;
/// A bitset that matches every waiter.
const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;

/// A decoded futex operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Wait while the word equals `expected`; the timeout argument is absolute (`WAIT_BITSET`)
    /// or relative (`WAIT`).
    Wait {
        /// The value the word must hold for the thread to sleep.
        expected: u32,
        /// Whether the timeout is a deadline.
        absolute: bool,
    },
    /// Wake up to `count` waiters.
    Wake {
        /// Most waiters to wake.
        count: usize,
    },
    /// Wake up to `wake` waiters and move up to `moved` others to `target`, after checking
    /// the word against `compare` if given.
    Requeue {
        /// Most waiters to wake.
        wake: usize,
        /// Most waiters to move.
        moved: usize,
        /// The futex they move to.
        target: usize,
        /// The value the word must hold (`FUTEX_CMP_REQUEUE`).
        compare: Option<u32>,
    },
}

/// Linux wakes at least one waiter even when asked for zero or fewer.
fn wake_count(value: u32) -> usize {
    (value as i32).max(1) as usize
}

/// Decodes `futex(address, operation, value, value2 or timeout, address2, value3)`.
pub fn decode(
    operation: i32,
    value: u32,
    value2: usize,
    address2: usize,
    value3: u32,
) -> Result<Command> {
    let command = operation & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    if operation & FUTEX_CLOCK_REALTIME != 0 && !matches!(command, FUTEX_WAIT | FUTEX_WAIT_BITSET) {
        return Err(Errno::ENOSYS);
    }
    match command {
        FUTEX_WAIT => Ok(Command::Wait {
            expected: value,
            absolute: false,
        }),
        FUTEX_WAIT_BITSET if value3 == 0 => Err(Errno::EINVAL),
        FUTEX_WAIT_BITSET => Ok(Command::Wait {
            expected: value,
            absolute: true,
        }),
        FUTEX_WAKE => Ok(Command::Wake {
            count: wake_count(value),
        }),
        FUTEX_WAKE_BITSET if value3 == 0 => Err(Errno::EINVAL),
        FUTEX_WAKE_BITSET if value3 != FUTEX_BITSET_MATCH_ANY => Err(Errno::ENOSYS),
        FUTEX_WAKE_BITSET => Ok(Command::Wake {
            count: wake_count(value),
        }),
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            let wake = usize::try_from(value as i32).map_err(|_| Errno::EINVAL)?;
            let moved = usize::try_from(value2 as i32).map_err(|_| Errno::EINVAL)?;
            Ok(Command::Requeue {
                wake,
                moved,
                target: address2,
                compare: (command == FUTEX_CMP_REQUEUE).then_some(value3),
            })
        }
        _ => Err(Errno::ENOSYS),
    }
}

/// The kernel timeout for a wait: `TIMEOUT_NEVER` without a timeout, else relative
/// nanoseconds (a deadline already passed gives 0, which times out at once).
pub fn wait_timeout(timeout: Option<u64>, absolute: bool, now: impl FnOnce() -> u64) -> u64 {
    match timeout {
        None => TIMEOUT_NEVER,
        Some(deadline) if absolute => until(deadline, now()),
        Some(relative) => kernel_timeout(relative),
    }
}

/// `futex`.
pub fn futex(
    address: usize,
    operation: i32,
    value: u32,
    value2: usize,
    address2: usize,
    value3: u32,
) -> Result<usize> {
    if !address.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    match decode(operation, value, value2, address2, value3)? {
        Command::Wait { expected, absolute } => {
            let timeout = time::timespec_timeout(value2)?;
            let timeout = wait_timeout(timeout, absolute, time::monotonic);
            kernel::futex_wait(address, expected, timeout)?;
            Ok(0)
        }
        Command::Wake { count } => Ok(kernel::futex_wake(address, count)?),
        Command::Requeue {
            wake,
            moved,
            target,
            compare,
        } => {
            if !target.is_multiple_of(4) {
                return Err(Errno::EINVAL);
            }
            if let Some(expected) = compare
                && user::load_u32(address)? != expected
            {
                return Err(Errno::EAGAIN);
            }
            Ok(kernel::futex_requeue(address, wake, target, moved)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIVATE: i32 = FUTEX_PRIVATE_FLAG;

    #[test]
    fn waits_decode_with_their_clock() {
        assert_eq!(
            decode(FUTEX_WAIT | PRIVATE, 5, 0, 0, 0),
            Ok(Command::Wait {
                expected: 5,
                absolute: false
            })
        );
        assert_eq!(
            decode(FUTEX_WAIT_BITSET | PRIVATE, 3, 0, 0, FUTEX_BITSET_MATCH_ANY),
            Ok(Command::Wait {
                expected: 3,
                absolute: true
            })
        );
        assert_eq!(
            decode(FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, 3, 0, 0, 0b10),
            Ok(Command::Wait {
                expected: 3,
                absolute: true
            })
        );
        assert_eq!(decode(FUTEX_WAIT_BITSET, 3, 0, 0, 0), Err(Errno::EINVAL));
    }

    #[test]
    fn wakes_decode_like_linux() {
        assert_eq!(
            decode(FUTEX_WAKE | PRIVATE, 1, 0, 0, 0),
            Ok(Command::Wake { count: 1 })
        );
        assert_eq!(
            decode(FUTEX_WAKE, i32::MAX as u32, 0, 0, 0),
            Ok(Command::Wake {
                count: i32::MAX as usize
            })
        );
        assert_eq!(
            decode(FUTEX_WAKE, 0, 0, 0, 0),
            Ok(Command::Wake { count: 1 })
        );
        assert_eq!(
            decode(FUTEX_WAKE, u32::MAX, 0, 0, 0),
            Ok(Command::Wake { count: 1 })
        );
        assert_eq!(
            decode(FUTEX_WAKE_BITSET, 2, 0, 0, FUTEX_BITSET_MATCH_ANY),
            Ok(Command::Wake { count: 2 })
        );
        assert_eq!(decode(FUTEX_WAKE_BITSET, 2, 0, 0, 0), Err(Errno::EINVAL));
        assert_eq!(decode(FUTEX_WAKE_BITSET, 2, 0, 0, 1), Err(Errno::ENOSYS));
        assert_eq!(
            decode(FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, 0, 0, 0),
            Err(Errno::ENOSYS)
        );
    }

    #[test]
    fn requeues_decode_their_counts() {
        assert_eq!(
            decode(FUTEX_REQUEUE | PRIVATE, 0, 1, 0x1000, 0),
            Ok(Command::Requeue {
                wake: 0,
                moved: 1,
                target: 0x1000,
                compare: None
            })
        );
        assert_eq!(
            decode(FUTEX_CMP_REQUEUE, 1, i32::MAX as usize, 0x2000, 7),
            Ok(Command::Requeue {
                wake: 1,
                moved: i32::MAX as usize,
                target: 0x2000,
                compare: Some(7)
            })
        );
        assert_eq!(
            decode(FUTEX_REQUEUE, u32::MAX, 1, 0x1000, 0),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            decode(FUTEX_REQUEUE, 1, u32::MAX as usize, 0x1000, 0),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn other_operations_are_unsupported() {
        for operation in [2, 5, 6, 7, 8, 11, 12, 13, 99] {
            assert_eq!(
                decode(operation, 0, 0, 0, 0),
                Err(Errno::ENOSYS),
                "{operation}"
            );
        }
    }

    #[test]
    fn timeouts_become_relative() {
        assert_eq!(wait_timeout(None, false, || 0), TIMEOUT_NEVER);
        assert_eq!(wait_timeout(None, true, || 0), TIMEOUT_NEVER);
        assert_eq!(wait_timeout(Some(500), false, || unreachable!()), 500);
        assert_eq!(wait_timeout(Some(u64::MAX), false, || 0), TIMEOUT_NEVER - 1);
        assert_eq!(wait_timeout(Some(1_000), true, || 400), 600);
        assert_eq!(wait_timeout(Some(1_000), true, || 4_000), 0);
    }

    #[test]
    fn compare_requeue_checks_the_word() {
        let word: u32 = 7;
        let address = &word as *const u32 as usize;
        assert_eq!(
            futex(address, FUTEX_CMP_REQUEUE, 1, 1, address, 8),
            Err(Errno::EAGAIN)
        );
        assert_eq!(futex(address, FUTEX_CMP_REQUEUE, 1, 1, address, 7), Ok(0));
        assert_eq!(
            futex(address + 1, FUTEX_WAKE, 1, 0, 0, 0),
            Err(Errno::EINVAL)
        );
    }
}
