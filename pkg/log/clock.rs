//! UTC calendar arithmetic for log timestamps and rotated-file names, without a time crate.
//!
//! Dates use the proleptic Gregorian calendar; conversions follow Howard Hinnant's
//! `days_from_civil` / `civil_from_days` algorithms.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A UTC wall-clock instant broken into calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub nanos: u32,
}

/// `t` in RFC 3339 at second precision, UTC (`2006-01-02T15:04:05Z`), as Go's
/// `time.RFC3339` prints a UTC time.
pub fn rfc3339_utc(t: SystemTime) -> String {
    let c = Civil::from_system_time(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// Nanoseconds since the Unix epoch (negative before it).
fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

impl Civil {
    pub(crate) fn from_system_time(t: SystemTime) -> Civil {
        let nanos = unix_nanos(t);
        let secs = nanos.div_euclid(1_000_000_000) as i64;
        let sub = nanos.rem_euclid(1_000_000_000) as u32;
        let days = secs.div_euclid(86_400);
        let tod = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: tod / 3600,
            minute: tod / 60 % 60,
            second: tod % 60,
            nanos: sub,
        }
    }

    pub(crate) fn to_system_time(self) -> SystemTime {
        let days = days_from_civil(self.year, self.month, self.day);
        let secs = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        if secs >= 0 {
            UNIX_EPOCH + Duration::new(secs as u64, self.nanos)
        } else {
            UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
                + Duration::from_nanos(self.nanos.into())
        }
    }
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

fn push_digits(out: &mut String, value: u64, width: u32) {
    for i in (0..width).rev() {
        let digit = (value / 10u64.pow(i)) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

/// Writes `YYYY-MM-DDTHH<sep>MM<sep>SS.` followed by `frac_digits` digits of the second's
/// fraction (truncated), every field written digit by digit.
fn push_date_time(out: &mut String, c: &Civil, time_sep: char, frac_digits: u32) {
    push_digits(out, c.year.rem_euclid(10_000) as u64, 4);
    out.push('-');
    push_digits(out, c.month.into(), 2);
    out.push('-');
    push_digits(out, c.day.into(), 2);
    out.push('T');
    push_digits(out, c.hour.into(), 2);
    out.push(time_sep);
    push_digits(out, c.minute.into(), 2);
    out.push(time_sep);
    push_digits(out, c.second.into(), 2);
    out.push('.');
    push_digits(
        out,
        u64::from(c.nanos) / 10u64.pow(9 - frac_digits),
        frac_digits,
    );
}

/// Formats `t` as the log timestamp used by Istio: `2006-01-02T15:04:05.000000Z` in UTC, with
/// the microseconds truncated (so always 27 characters).
pub(crate) fn format_log_time(t: SystemTime) -> String {
    let mut out = String::with_capacity(27);
    push_date_time(&mut out, &Civil::from_system_time(t), ':', 6);
    out.push('Z');
    out
}

/// Formats `t` (UTC) as the timestamp lumberjack puts in rotated file names:
/// `2006-01-02T15-04-05.000`.
pub(crate) fn format_backup_time(t: SystemTime) -> String {
    let mut out = String::with_capacity(23);
    push_date_time(&mut out, &Civil::from_system_time(t), '-', 3);
    out
}

/// Parses a backup timestamp written by [`format_backup_time`], with the strictness of Go's
/// `time.Parse` for that layout (fixed widths, valid ranges). Returns `None` if it isn't one.
pub(crate) fn parse_backup_time(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 23 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &b[range];
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter()
            .try_fold(0u32, |acc, d| Some(acc * 10 + u32::from(d - b'0')))
    };
    let sep = |i: usize, c: u8| b[i] == c;
    if !(sep(4, b'-')
        && sep(7, b'-')
        && sep(10, b'T')
        && sep(13, b'-')
        && sep(16, b'-')
        && sep(19, b'.'))
    {
        return None;
    }
    let year = i64::from(num(0..4)?);
    let month = num(5..7)?;
    let day = num(8..10)?;
    let hour = num(11..13)?;
    let minute = num(14..16)?;
    let second = num(17..19)?;
    let millis = num(20..23)?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(
        Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
            nanos: millis * 1_000_000,
        }
        .to_system_time(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339_utc(at(0, 0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_utc(at(1_600_000_000, 999_000_000)),
            "2020-09-13T12:26:40Z"
        );
    }

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn log_time_layout() {
        assert_eq!(format_log_time(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        // 2019-12-10T10:27:48.366573901Z: microseconds are truncated, not rounded.
        assert_eq!(
            format_log_time(at(1_575_973_668, 366_573_901)),
            "2019-12-10T10:27:48.366573Z"
        );
        // Leap day.
        assert_eq!(
            format_log_time(at(1_709_164_800, 5_000)),
            "2024-02-29T00:00:00.000005Z"
        );
    }

    #[test]
    fn backup_time_round_trip() {
        let t = at(1_575_973_668, 366_573_901);
        let s = format_backup_time(t);
        assert_eq!(s, "2019-12-10T10-27-48.366");
        assert_eq!(parse_backup_time(&s), Some(at(1_575_973_668, 366_000_000)));
    }

    #[test]
    fn backup_time_rejects_invalid() {
        for s in [
            "2019-12-10T10-27-48",
            "2019-13-10T10-27-48.366",
            "2019-02-29T10-27-48.366",
            "2019-12-10T24-27-48.366",
            "2019-12-10T10:27:48.366",
            "2019-12-10T10-27-48.3x6",
            "x019-12-10T10-27-48.366",
        ] {
            assert_eq!(parse_backup_time(s), None, "{s}");
        }
        assert!(parse_backup_time("2020-02-29T00-00-00.000").is_some());
    }

    #[test]
    fn civil_round_trip_across_eras() {
        for days in [-800_000i64, -1, 0, 1, 11_016, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(format_log_time(before), "1969-12-31T23:59:59.000000Z");
        assert_eq!(Civil::from_system_time(before).to_system_time(), before);
    }
}
