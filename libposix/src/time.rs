//! Clocks, sleeps and timeouts: time read in user space from the processor's counter, and the
//! conversions between Linux's `timespec`/`timeval` and the kernel's relative nanoseconds.
//!
//! Every clock reads the counter (x86_64 TSC, aarch64 CNTVCT_EL0) and scales it by the rate
//! the kernel's `TIMESTAMP` gives once: no system call, as a vDSO would. The kernel has no
//! wall clock yet, so `CLOCK_REALTIME` is the monotonic clock (the epoch is the machine's
//! start), and the CPU-time clocks are the monotonic clock too (no per-thread accounting).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use septa_abi::TIMEOUT_NEVER;

use crate::errno::{Errno, Result};
use crate::{arch, kernel, user};

/// Nanoseconds per second.
pub const NANOSECONDS_PER_SECOND: u64 = 1_000_000_000;

/// Nanoseconds per counter tick, as `whole + fraction / 2^64`: a multiply and a high-half
/// multiply per conversion, no division.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    whole: u64,
    fraction: u64,
}

impl Rate {
    /// The rate of a counter running at `ticks_per_second` (`None` for 0).
    pub fn new(ticks_per_second: u64) -> Option<Rate> {
        if ticks_per_second == 0 {
            return None;
        }
        let whole = NANOSECONDS_PER_SECOND / ticks_per_second;
        let remainder = NANOSECONDS_PER_SECOND % ticks_per_second;
        // remainder < ticks_per_second, so the quotient fits in 64 bits.
        let fraction = (((remainder as u128) << 64) / ticks_per_second as u128) as u64;
        Some(Rate { whole, fraction })
    }

    /// Nanoseconds for `ticks` (low by under a nanosecond per 2^64 ticks).
    #[inline(always)]
    pub fn nanoseconds(&self, ticks: u64) -> u64 {
        ticks
            .wrapping_mul(self.whole)
            .wrapping_add(((ticks as u128 * self.fraction as u128) >> 64) as u64)
    }

    /// The period of one tick in nanoseconds, rounded up (for `clock_getres`).
    pub fn resolution(&self) -> u64 {
        self.whole + u64::from(self.fraction != 0)
    }
}

static RATE_WHOLE: AtomicU64 = AtomicU64::new(0);
static RATE_FRACTION: AtomicU64 = AtomicU64::new(0);
static RATE_KNOWN: AtomicBool = AtomicBool::new(false);

#[cold]
fn learn_rate() -> Rate {
    let (_, ticks_per_second) = kernel::timestamp();
    // A kernel that reports no rate gets the counter read as nanoseconds, rather than a
    // division by zero.
    let rate = Rate::new(ticks_per_second).unwrap_or(Rate {
        whole: 1,
        fraction: 0,
    });
    RATE_WHOLE.store(rate.whole, Ordering::Relaxed);
    RATE_FRACTION.store(rate.fraction, Ordering::Relaxed);
    RATE_KNOWN.store(true, Ordering::Release);
    rate
}

#[inline(always)]
fn rate() -> Rate {
    if RATE_KNOWN.load(Ordering::Acquire) {
        Rate {
            whole: RATE_WHOLE.load(Ordering::Relaxed),
            fraction: RATE_FRACTION.load(Ordering::Relaxed),
        }
    } else {
        learn_rate()
    }
}

/// Nanoseconds on the monotonic clock (since the counter started, at the machine's start).
#[inline(always)]
pub fn monotonic() -> u64 {
    rate().nanoseconds(arch::counter())
}

/// A `timespec` for a count of nanoseconds.
pub fn timespec(nanoseconds: u64) -> libc::timespec {
    libc::timespec {
        tv_sec: (nanoseconds / NANOSECONDS_PER_SECOND) as _,
        tv_nsec: (nanoseconds % NANOSECONDS_PER_SECOND) as _,
    }
}

/// Nanoseconds in a `timespec`: `EINVAL` when negative or `tv_nsec` is out of range; huge
/// values saturate.
pub fn nanoseconds(time: &libc::timespec) -> Result<u64> {
    if time.tv_sec < 0 || !(0..NANOSECONDS_PER_SECOND as i64).contains(&{ time.tv_nsec }) {
        return Err(Errno::EINVAL);
    }
    Ok((time.tv_sec as u64)
        .saturating_mul(NANOSECONDS_PER_SECOND)
        .saturating_add(time.tv_nsec as u64))
}

/// The relative timeout to an absolute `deadline` when it is `now`: 0 once passed.
pub fn until(deadline: u64, now: u64) -> u64 {
    deadline.saturating_sub(now)
}

/// A kernel timeout (`TIMEOUT_NEVER` stays reserved for "forever").
pub fn kernel_timeout(nanoseconds: u64) -> u64 {
    nanoseconds.min(TIMEOUT_NEVER - 1)
}

/// `poll`'s timeout in milliseconds: negative waits forever.
pub fn milliseconds_timeout(milliseconds: i32) -> Option<u64> {
    u64::try_from(milliseconds)
        .ok()
        .map(|milliseconds| milliseconds * 1_000_000)
}

/// A relative timeout from an optional `timespec` pointer: null waits forever.
pub fn timespec_timeout(pointer: usize) -> Result<Option<u64>> {
    if pointer == 0 {
        return Ok(None);
    }
    let time = user::read(pointer as *const libc::timespec)?;
    nanoseconds(&time).map(Some)
}

/// A relative timeout from an optional `timeval` pointer (`select`): null waits forever.
pub fn timeval_timeout(pointer: usize) -> Result<Option<u64>> {
    if pointer == 0 {
        return Ok(None);
    }
    let time = user::read(pointer as *const libc::timeval)?;
    if time.tv_sec < 0 || !(0..1_000_000).contains(&(time.tv_usec as i64)) {
        return Err(Errno::EINVAL);
    }
    Ok(Some(
        (time.tv_sec as u64)
            .saturating_mul(NANOSECONDS_PER_SECOND)
            .saturating_add(time.tv_usec as u64 * 1000),
    ))
}

/// Whether libposix serves clock `clock` (all from the counter; see the module documentation).
pub fn known_clock(clock: libc::clockid_t) -> bool {
    matches!(
        clock,
        libc::CLOCK_REALTIME
            | libc::CLOCK_MONOTONIC
            | libc::CLOCK_PROCESS_CPUTIME_ID
            | libc::CLOCK_THREAD_CPUTIME_ID
            | libc::CLOCK_MONOTONIC_RAW
            | libc::CLOCK_REALTIME_COARSE
            | libc::CLOCK_MONOTONIC_COARSE
            | libc::CLOCK_BOOTTIME
            | libc::CLOCK_REALTIME_ALARM
            | libc::CLOCK_BOOTTIME_ALARM
            | libc::CLOCK_TAI
    )
}

/// `clock_gettime`.
#[inline]
pub fn clock_gettime(clock: libc::clockid_t, pointer: usize) -> Result<usize> {
    if !known_clock(clock) {
        return Err(Errno::EINVAL);
    }
    user::write(pointer as *mut libc::timespec, timespec(monotonic()))?;
    Ok(0)
}

/// `clock_getres`: one tick of the counter.
pub fn clock_getres(clock: libc::clockid_t, pointer: usize) -> Result<usize> {
    if !known_clock(clock) {
        return Err(Errno::EINVAL);
    }
    user::write_optional(
        pointer as *mut libc::timespec,
        timespec(rate().resolution()),
    )?;
    Ok(0)
}

/// `clock_settime`, `settimeofday`: there is no wall clock to set.
pub fn clock_settime() -> Result<usize> {
    Err(Errno::EPERM)
}

/// `gettimeofday`: the realtime clock in microseconds; the time zone is UTC.
pub fn gettimeofday(time: usize, zone: usize) -> Result<usize> {
    let now = monotonic();
    user::write_optional(
        time as *mut libc::timeval,
        libc::timeval {
            tv_sec: (now / NANOSECONDS_PER_SECOND) as _,
            tv_usec: ((now % NANOSECONDS_PER_SECOND) / 1000) as _,
        },
    )?;
    user::write_optional(zone as *mut [i32; 2], [0, 0])?;
    Ok(0)
}

/// `time`: seconds on the realtime clock.
pub fn time(pointer: usize) -> Result<usize> {
    // `time_t` is 64 bits on every architecture libposix supports.
    let seconds = (monotonic() / NANOSECONDS_PER_SECOND) as i64;
    user::write_optional(pointer as *mut i64, seconds)?;
    Ok(seconds as usize)
}

/// Sleeps `nanoseconds` (the kernel's sleep is relative and cannot be interrupted: Septa
/// delivers no asynchronous signals, so there is never time left to report).
pub fn sleep(nanoseconds: u64) {
    if nanoseconds > 0 {
        kernel::sleep(kernel_timeout(nanoseconds));
    }
}

/// `nanosleep`.
pub fn nanosleep(request: usize, _remaining: usize) -> Result<usize> {
    let duration = nanoseconds(&user::read(request as *const libc::timespec)?)?;
    sleep(duration);
    Ok(0)
}

/// `clock_nanosleep`: relative, or absolute with `TIMER_ABSTIME`.
pub fn clock_nanosleep(
    clock: libc::clockid_t,
    flags: i32,
    request: usize,
    _remaining: usize,
) -> Result<usize> {
    if !known_clock(clock) || clock == libc::CLOCK_THREAD_CPUTIME_ID {
        return Err(Errno::EINVAL);
    }
    let time = nanoseconds(&user::read(request as *const libc::timespec)?)?;
    let duration = if flags & libc::TIMER_ABSTIME != 0 {
        until(time, monotonic())
    } else {
        time
    };
    sleep(duration);
    Ok(0)
}

/// Clock ticks per second of `times` (Linux's `USER_HZ`, and the kernel's `AT_CLKTCK`).
const CLOCK_TICKS_PER_SECOND: u64 = 100;

/// `times`: all time since start counts as the program's user time.
pub fn times(pointer: usize) -> Result<usize> {
    let ticks = monotonic() / (NANOSECONDS_PER_SECOND / CLOCK_TICKS_PER_SECOND);
    user::write_optional(
        pointer as *mut libc::tms,
        libc::tms {
            tms_utime: ticks as libc::clock_t,
            tms_stime: 0,
            tms_cutime: 0,
            tms_cstime: 0,
        },
    )?;
    Ok(ticks as usize)
}

/// `getrusage`: user time is the time since start; nothing else is accounted.
pub fn getrusage(who: i32, pointer: usize) -> Result<usize> {
    /// Linux's `RUSAGE_THREAD`.
    const RUSAGE_THREAD: i32 = 1;
    if !matches!(
        who,
        libc::RUSAGE_SELF | libc::RUSAGE_CHILDREN | RUSAGE_THREAD
    ) {
        return Err(Errno::EINVAL);
    }
    let mut usage = KernelResourceUsage {
        user_time: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        system_time: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        counters: [0; 14],
    };
    if who != libc::RUSAGE_CHILDREN {
        let now = monotonic();
        usage.user_time = libc::timeval {
            tv_sec: (now / NANOSECONDS_PER_SECOND) as _,
            tv_usec: ((now % NANOSECONDS_PER_SECOND) / 1000) as _,
        };
    }
    user::write(pointer as *mut KernelResourceUsage, usage)?;
    Ok(0)
}

/// `struct rusage` as the kernel writes it (musl's adds reserved words after).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct KernelResourceUsage {
    user_time: libc::timeval,
    system_time: libc::timeval,
    /// `ru_maxrss` to `ru_nivcsw`, all 0: nothing else is accounted.
    counters: [i64; 14],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_convert_ticks_to_nanoseconds() {
        // A 62.5 MHz counter (QEMU's aarch64 virtual counter): 16 ns per tick, exactly.
        let rate = Rate::new(62_500_000).unwrap();
        assert_eq!(rate.nanoseconds(1), 16);
        assert_eq!(rate.nanoseconds(62_500_000), NANOSECONDS_PER_SECOND);
        assert_eq!(rate.resolution(), 16);
        // A 3 GHz time-stamp counter: a third of a nanosecond per tick.
        let rate = Rate::new(3_000_000_000).unwrap();
        assert_eq!(rate.nanoseconds(3), 0); // truncated: 0.999... ns
        assert_eq!(rate.nanoseconds(3_000_000_000), NANOSECONDS_PER_SECOND - 1);
        let day = 86_400 * 3_000_000_000u64;
        assert!(
            rate.nanoseconds(day)
                .abs_diff(86_400 * NANOSECONDS_PER_SECOND)
                <= 1
        );
        assert_eq!(rate.resolution(), 1);
        // An odd rate stays within a nanosecond over a day.
        let rate = Rate::new(2_893_417_001).unwrap();
        let ticks = 86_400 * 2_893_417_001u64;
        assert!(
            rate.nanoseconds(ticks)
                .abs_diff(86_400 * NANOSECONDS_PER_SECOND)
                <= 1
        );
        // Exactly 1 GHz.
        let rate = Rate::new(NANOSECONDS_PER_SECOND).unwrap();
        assert_eq!(rate.nanoseconds(123_456_789_012), 123_456_789_012);
        assert_eq!(Rate::new(0), None);
    }

    #[test]
    fn timespecs_convert_both_ways() {
        let time = timespec(5 * NANOSECONDS_PER_SECOND + 7);
        assert_eq!((time.tv_sec, time.tv_nsec), (5, 7));
        assert_eq!(nanoseconds(&time), Ok(5 * NANOSECONDS_PER_SECOND + 7));
        let bad = |seconds, nanoseconds_part| {
            nanoseconds(&libc::timespec {
                tv_sec: seconds,
                tv_nsec: nanoseconds_part,
            })
        };
        assert_eq!(bad(-1, 0), Err(Errno::EINVAL));
        assert_eq!(bad(0, -1), Err(Errno::EINVAL));
        assert_eq!(bad(0, 1_000_000_000), Err(Errno::EINVAL));
        assert_eq!(bad(0, 999_999_999), Ok(999_999_999));
        assert_eq!(bad(libc::time_t::MAX, 0), Ok(u64::MAX));
    }

    #[test]
    fn deadlines_become_relative_timeouts() {
        assert_eq!(until(100, 40), 60);
        assert_eq!(until(40, 100), 0);
        assert_eq!(kernel_timeout(u64::MAX), TIMEOUT_NEVER - 1);
        assert_eq!(kernel_timeout(5), 5);
        assert_eq!(milliseconds_timeout(-1), None);
        assert_eq!(milliseconds_timeout(0), Some(0));
        assert_eq!(milliseconds_timeout(1500), Some(1_500_000_000));
    }

    #[test]
    fn optional_timeouts_read_the_program_memory() {
        assert_eq!(timespec_timeout(0), Ok(None));
        let time = libc::timespec {
            tv_sec: 2,
            tv_nsec: 5,
        };
        assert_eq!(
            timespec_timeout(&time as *const _ as usize),
            Ok(Some(2_000_000_005))
        );
        let time = libc::timeval {
            tv_sec: 1,
            tv_usec: 2,
        };
        assert_eq!(
            timeval_timeout(&time as *const _ as usize),
            Ok(Some(1_000_002_000))
        );
        let bad = libc::timeval {
            tv_sec: 1,
            tv_usec: 1_000_000,
        };
        assert_eq!(
            timeval_timeout(&bad as *const _ as usize),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn clocks_are_checked() {
        let mut time = timespec(0);
        let pointer = &mut time as *mut libc::timespec as usize;
        assert_eq!(clock_gettime(libc::CLOCK_MONOTONIC, pointer), Ok(0));
        assert_eq!(clock_gettime(libc::CLOCK_REALTIME, pointer), Ok(0));
        assert_eq!(clock_gettime(-6, pointer), Err(Errno::EINVAL));
        assert_eq!(clock_gettime(77, pointer), Err(Errno::EINVAL));
        assert_eq!(clock_gettime(libc::CLOCK_MONOTONIC, 0), Err(Errno::EFAULT));
        assert_eq!(clock_getres(libc::CLOCK_MONOTONIC, 0), Ok(0));
        assert_eq!(clock_getres(libc::CLOCK_MONOTONIC, pointer), Ok(0));
        // The fake kernel's counter runs at 1 GHz.
        assert_eq!((time.tv_sec, time.tv_nsec), (0, 1));
    }
}
