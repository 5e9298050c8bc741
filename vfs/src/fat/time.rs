//! FAT's timestamps and the clock fatfs stamps entries with.
//!
//! FAT keeps a modification date and time (2-second resolution), a creation date and time
//! (10 ms) and an access date (a day), in local time, from 1980 to 2107. Septa has no time
//! zones: the backend reads and writes them as UTC, and clamps times outside FAT's range to
//! its ends. fatfs asks a [`TimeProvider`] for "now" when it creates or writes an entry; the
//! backend's, [`FatClock`], answers the time the server passed with the operation, so that
//! FAT times follow the server's clock (and a test's).

use crate::time::Timestamp;
use fatfs::{Date, DateTime, Time, TimeProvider};
use std::cell::Cell;

/// Seconds in a day.
const DAY: i64 = 86_400;
/// 1980-01-01 00:00:00 UTC, FAT's first moment.
const FAT_EPOCH: i64 = 315_532_800;
/// 2107-12-31 23:59:59 UTC, FAT's last second.
const FAT_END: i64 = 4_354_819_199;

/// The time fatfs stamps entries with: set by the backend before each operation.
#[derive(Debug, Default)]
pub struct FatClock {
    now: Cell<Timestamp>,
}

impl FatClock {
    /// Makes `now` the time of what fatfs does next.
    pub fn set(&self, now: Timestamp) {
        self.now.set(now);
    }
}

impl TimeProvider for FatClock {
    fn get_current_date(&self) -> Date {
        date_time_from_timestamp(self.now.get()).date
    }

    fn get_current_date_time(&self) -> DateTime {
        date_time_from_timestamp(self.now.get())
    }
}

/// Days since 1970-01-01 of a date of the proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Count years from March, so that the leap day ends a year.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date (year, month, day) of a count of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A timestamp as FAT holds it, clamped to 1980..=2107 (milliseconds kept; the modification
/// time keeps even seconds only, as FAT does).
pub fn date_time_from_timestamp(timestamp: Timestamp) -> DateTime {
    let (seconds, milliseconds) = if timestamp.seconds < FAT_EPOCH {
        (FAT_EPOCH, 0)
    } else if timestamp.seconds > FAT_END {
        (FAT_END, 999)
    } else {
        (timestamp.seconds, timestamp.nanoseconds / 1_000_000)
    };
    let days = seconds.div_euclid(DAY);
    let in_day = seconds.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(days);
    DateTime {
        date: Date {
            year: year as u16,
            month: month as u16,
            day: day as u16,
        },
        time: Time {
            hour: (in_day / 3600) as u16,
            min: (in_day / 60 % 60) as u16,
            sec: (in_day % 60) as u16,
            millis: milliseconds as u16,
        },
    }
}

/// The timestamp of a FAT date and time (read as UTC).
pub fn timestamp_from_date_time(date_time: DateTime) -> Timestamp {
    let Timestamp { seconds, .. } = timestamp_from_date(date_time.date);
    let time = date_time.time;
    let in_day = i64::from(time.hour) * 3600 + i64::from(time.min) * 60 + i64::from(time.sec);
    // A broken entry can hold up to 1,990 ms; carry the whole seconds.
    let millis = u32::from(time.millis);
    Timestamp::new(
        seconds + in_day + i64::from(millis / 1000),
        millis % 1000 * 1_000_000,
    )
}

/// The timestamp of the start of a FAT date (read as UTC).
pub fn timestamp_from_date(date: Date) -> Timestamp {
    let days = days_from_civil(
        i64::from(date.year),
        i64::from(date.month),
        i64::from(date.day),
    );
    Timestamp::new(days * DAY, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calendar_round_trips() {
        for days in [
            -1_000_000, -1, 0, 1, 3_652, 11_016, 19_782, 50_000, 1_000_000,
        ] {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(
                days_from_civil(year, month, day),
                days,
                "{year}-{month}-{day}"
            );
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(days_from_civil(1980, 1, 1) * DAY, FAT_EPOCH);
    }

    #[test]
    fn timestamps_convert_within_fat_range() {
        // 2024-02-29 13:45:17.250 UTC
        let timestamp = Timestamp::new(1_709_214_317, 250_000_000);
        let date_time = date_time_from_timestamp(timestamp);
        assert_eq!(
            (
                date_time.date.year,
                date_time.date.month,
                date_time.date.day
            ),
            (2024, 2, 29)
        );
        assert_eq!(
            (
                date_time.time.hour,
                date_time.time.min,
                date_time.time.sec,
                date_time.time.millis
            ),
            (13, 45, 17, 250)
        );
        assert_eq!(timestamp_from_date_time(date_time), timestamp);
        assert_eq!(
            timestamp_from_date(date_time.date),
            Timestamp::new(1_709_164_800, 0)
        );
    }

    #[test]
    fn times_outside_fat_range_are_clamped() {
        let early = date_time_from_timestamp(Timestamp::new(0, 0));
        assert_eq!(
            timestamp_from_date_time(early),
            Timestamp::new(FAT_EPOCH, 0)
        );
        let late = date_time_from_timestamp(Timestamp::new(i64::MAX, 0));
        assert_eq!(late.date.year, 2107);
        assert_eq!(
            timestamp_from_date_time(late),
            Timestamp::new(FAT_END, 999_000_000)
        );
    }

    #[test]
    fn the_clock_answers_what_it_was_set_to() {
        let clock = FatClock::default();
        clock.set(Timestamp::new(FAT_EPOCH + DAY + 61, 0));
        assert_eq!(clock.get_current_date().day, 2);
        assert_eq!(clock.get_current_date_time().time.min, 1);
    }
}
