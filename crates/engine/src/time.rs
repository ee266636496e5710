//! Time helpers shared by the generators and the output: ISO-8601 and file-name stamps.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

/// `2026-11-28T06:00:00.000Z`: the form JavaScript's `Date#toISOString()` gives.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `20261128T060000`: the run's stamp in file names.
pub fn file_stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

/// The bound of a window without an upper bound: past every date Python or a person can
/// write (year 10000).
pub const LAST_INSTANT: DateTime<Utc> = match DateTime::from_timestamp(253_402_300_800, 0) {
    Some(t) => t,
    None => panic!("year 10000 is a valid instant"),
};

/// A number of hours as a duration rounded to the microsecond (PostgreSQL's resolution).
pub fn hours(h: f64) -> TimeDelta {
    TimeDelta::microseconds((h * 3_600_000_000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(iso(t), "2026-01-02T03:04:05.000Z");
        assert_eq!(file_stamp(t), "20260102T030405");
        assert_eq!(hours(1.5), TimeDelta::minutes(90));
        assert_eq!(hours(1.0 / 3_600_000_000.0), TimeDelta::microseconds(1));
        assert_eq!(iso(LAST_INSTANT), "+10000-01-01T00:00:00.000Z");
    }
}
