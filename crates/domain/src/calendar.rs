//! Swedish time for deadlines: periods, when they begin and when their reports are due.
//!
//! Sweden uses CET (UTC+1) in winter and CEST (UTC+2) in summer, switching as the whole EU does:
//! summer time from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of
//! October (Directive 2000/84/EC). That rule has held since 1996 and is written out here rather
//! than pulling in a time-zone database; if Sweden ever leaves summer time, this file changes.
//! Periods before 1996 never occur (periods start in 2000).

use insyn_ledger::id::Period;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

const CET: UtcOffset = match UtcOffset::from_hms(1, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};
const CEST: UtcOffset = match UtcOffset::from_hms(2, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// The last Sunday of a month, at 01:00 UTC.
fn last_sunday_0100_utc(year: i32, month: Month) -> OffsetDateTime {
    let days = time::util::days_in_month(month, year);
    let last = Date::from_calendar_date(year, month, days).unwrap_or(Date::MIN);
    let back = i64::from(last.weekday().number_days_from_sunday());
    let sunday = last - Duration::days(back);
    PrimitiveDateTime::new(sunday, Time::from_hms(1, 0, 0).unwrap_or(Time::MIDNIGHT)).assume_utc()
}

/// Sweden's UTC offset at an instant: +01:00 or +02:00.
#[must_use]
pub fn stockholm_offset(at: OffsetDateTime) -> UtcOffset {
    let utc = at.to_offset(UtcOffset::UTC);
    let year = utc.year();
    let starts = last_sunday_0100_utc(year, Month::March);
    let ends = last_sunday_0100_utc(year, Month::October);
    if utc >= starts && utc < ends {
        CEST
    } else {
        CET
    }
}

/// An instant as Swedish local time.
#[must_use]
pub fn to_stockholm(at: OffsetDateTime) -> OffsetDateTime {
    at.to_offset(stockholm_offset(at))
}

/// The instant of Swedish local midnight starting `date`. Midnight is never inside a change of
/// offset (changes happen at 02:00 and 03:00 local time), so it always exists and is unique.
#[must_use]
pub fn stockholm_midnight(date: Date) -> OffsetDateTime {
    let local = PrimitiveDateTime::new(date, Time::MIDNIGHT);
    let as_cet = local.assume_offset(CET);
    if stockholm_offset(as_cet) == CEST {
        local.assume_offset(CEST)
    } else {
        as_cet
    }
}

fn first_day(p: Period) -> Date {
    let month = Month::try_from(p.month()).unwrap_or(Month::January);
    Date::from_calendar_date(i32::from(p.year()), month, 1).unwrap_or(Date::MIN)
}

/// When a period begins: Swedish midnight on its first day.
#[must_use]
pub fn period_start(p: Period) -> OffsetDateTime {
    stockholm_midnight(first_day(p))
}

/// When a period ends: Swedish midnight on the first day of the next month.
#[must_use]
pub fn period_end(p: Period) -> OffsetDateTime {
    period_start(p.next())
}

/// Day of the following month by which a report is due (inclusive, Swedish time).
pub const DUE_DAY: u8 = 15;

/// When the report for `p` is due: the end of the 15th day of the next month, Swedish time
/// (that is, Swedish midnight starting the 16th). A report integrated before this instant is on time.
#[must_use]
pub fn report_deadline(p: Period) -> OffsetDateTime {
    stockholm_midnight(first_day(p.next()) + Duration::days(i64::from(DUE_DAY)))
}

/// The Swedish calendar month an instant falls in; `None` before the year 2000.
#[must_use]
pub fn period_at(at: OffsetDateTime) -> Option<Period> {
    let local = to_stockholm(at);
    let year = u16::try_from(local.year()).ok()?;
    Period::new(year, u8::from(local.month())).ok()
}

/// Unix milliseconds (as in entries' `integrated_at`) to an instant; `None` if out of range.
#[must_use]
pub fn from_unix_ms(ms: u64) -> Option<OffsetDateTime> {
    let nanos = i128::from(ms).checked_mul(1_000_000)?;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// An instant as Unix milliseconds; 0 before 1970.
#[must_use]
pub fn to_unix_ms(at: OffsetDateTime) -> u64 {
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn p(s: &str) -> Period {
        s.parse().unwrap()
    }

    #[test]
    fn summer_time_follows_the_eu_rule() {
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(stockholm_offset(datetime!(2026-03-29 00:59:59 UTC)), CET);
        assert_eq!(stockholm_offset(datetime!(2026-03-29 01:00:00 UTC)), CEST);
        assert_eq!(stockholm_offset(datetime!(2026-10-25 00:59:59 UTC)), CEST);
        assert_eq!(stockholm_offset(datetime!(2026-10-25 01:00:00 UTC)), CET);
        assert_eq!(stockholm_offset(datetime!(2026-01-15 12:00 UTC)), CET);
        assert_eq!(stockholm_offset(datetime!(2026-07-15 12:00 UTC)), CEST);
        // 2025: 30 March and 26 October.
        assert_eq!(stockholm_offset(datetime!(2025-03-30 01:00 UTC)), CEST);
        assert_eq!(stockholm_offset(datetime!(2025-10-26 00:30 UTC)), CEST);
        assert_eq!(stockholm_offset(datetime!(2025-10-26 01:30 UTC)), CET);
    }

    #[test]
    fn deadlines_are_the_end_of_the_15th_swedish_time() {
        // March's report: due by the end of 15 April (summer time), i.e. before 15 April 22:00 UTC.
        assert_eq!(
            report_deadline(p("2026-03")),
            datetime!(2026-04-15 22:00 UTC)
        );
        // November's report: due by the end of 15 December (winter time): 23:00 UTC.
        assert_eq!(
            report_deadline(p("2026-11")),
            datetime!(2026-12-15 23:00 UTC)
        );
        // December's report: due in January of the next year.
        assert_eq!(
            report_deadline(p("2025-12")),
            datetime!(2026-01-15 23:00 UTC)
        );
        // September's report is due on 15 October, still summer time.
        assert_eq!(
            report_deadline(p("2026-09")),
            datetime!(2026-10-15 22:00 UTC)
        );
    }

    #[test]
    fn periods_begin_at_swedish_midnight() {
        assert_eq!(period_start(p("2026-01")), datetime!(2025-12-31 23:00 UTC));
        assert_eq!(period_start(p("2026-04")), datetime!(2026-03-31 22:00 UTC));
        // The month of the change to summer time starts in winter time.
        assert_eq!(period_start(p("2026-03")), datetime!(2026-02-28 23:00 UTC));
        assert_eq!(period_end(p("2026-03")), datetime!(2026-03-31 22:00 UTC));
        // Midnight UTC on 1 April is already April in Sweden.
        assert_eq!(
            period_at(datetime!(2026-03-31 22:30 UTC)),
            Some(p("2026-04"))
        );
        assert_eq!(
            period_at(datetime!(2026-03-31 21:59 UTC)),
            Some(p("2026-03"))
        );
        assert_eq!(period_at(datetime!(1999-06-01 00:00 UTC)), None);
    }

    #[test]
    fn unix_milliseconds_round_trip() {
        let t = datetime!(2026-04-15 21:59:59.999 UTC);
        assert_eq!(from_unix_ms(to_unix_ms(t)), Some(t));
        assert_eq!(from_unix_ms(u64::MAX), None);
        assert_eq!(to_unix_ms(datetime!(1960-01-01 0:00 UTC)), 0);
    }
}
