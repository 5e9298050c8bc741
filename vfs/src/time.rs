//! Timestamps and the clock the server stamps files with, passed in so that tests control time.

use std::time::{SystemTime, UNIX_EPOCH};

/// A point in realtime: seconds and nanoseconds since 1970-01-01, as `struct timespec`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub seconds: i64,
    /// Always below 1,000,000,000.
    pub nanoseconds: u32,
}

impl Timestamp {
    /// A timestamp from seconds and nanoseconds (the nanoseconds must be below one second).
    pub const fn new(seconds: i64, nanoseconds: u32) -> Timestamp {
        Timestamp {
            seconds,
            nanoseconds,
        }
    }
}

/// Where the server reads the current time.
pub trait Clock {
    /// The current realtime.
    fn now(&self) -> Timestamp;
}

/// The system's realtime clock (`CLOCK_REALTIME` through std; on Septa libposix answers it).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(since) => Timestamp::new(
                i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
                since.subsec_nanos(),
            ),
            // Before 1970: count backwards, keeping the nanoseconds positive as timespec does.
            Err(error) => {
                let before = error.duration();
                let seconds = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
                match before.subsec_nanos() {
                    0 => Timestamp::new(-seconds, 0),
                    nanoseconds => Timestamp::new(-seconds - 1, 1_000_000_000 - nanoseconds),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_is_after_2020() {
        let now = SystemClock.now();
        assert!(now.seconds > 1_577_836_800);
        assert!(now.nanoseconds < 1_000_000_000);
    }
}
