//! Formatting of numbers, money, percentages, dates and periods the way Swedish (and English)
//! readers expect them. Pure functions; the template filters (module `render`) call these.
//!
//! Swedish conventions (Språkrådet, and what `Intl` in `sv-SE` produces): thousands grouped with
//! a non-breaking space (`1 234 567`), a decimal comma, the minus sign U+2212, `kr` after the
//! amount and a non-breaking space before `%`. Dates are ISO 8601 (`2026-03-15`) in tables and
//! `15 mars 2026` in running text. Times are shown in Swedish local time (CET/CEST).

use time::{Date, Month, OffsetDateTime, UtcOffset, Weekday};

use crate::i18n::Language;

/// The non-breaking space used between digit groups and before units.
pub const NBSP: char = '\u{a0}';
/// The typographic minus sign.
const MINUS: char = '\u{2212}';

/// Groups the digits of `n` in threes: `1 234 567` in Swedish (non-breaking spaces),
/// `1,234,567` in English.
#[must_use]
pub fn number(n: i64, lang: Language) -> String {
    let digits = n.unsigned_abs().to_string();
    let separator = match lang {
        Language::Sv => NBSP,
        Language::En => ',',
    };
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push(match lang {
            Language::Sv => MINUS,
            Language::En => '-',
        });
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

/// An amount in whole kronor: `1 234 567 kr` in Swedish, `SEK 1,234,567` in English.
#[must_use]
pub fn sek(kronor: i64, lang: Language) -> String {
    match lang {
        Language::Sv => format!("{}{NBSP}kr", number(kronor, lang)),
        Language::En => format!("SEK{NBSP}{}", number(kronor, lang)),
    }
}

/// A ratio (`0.125`) as a percentage with at most `decimals` decimals: `12,5 %` in Swedish,
/// `12.5%` in English. Trailing zero decimals are dropped. Non-finite input gives `–`.
#[must_use]
pub fn percent(ratio: f64, decimals: u8, lang: Language) -> String {
    if !ratio.is_finite() {
        return "–".to_owned();
    }
    let decimals = usize::from(decimals.min(4));
    let text = format!("{:.*}", decimals, (ratio * 100.0).abs());
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    };
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text.as_str(), None),
    };
    let int: i64 = int_part.parse().unwrap_or(0);
    let negative = ratio < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0');
    let mut out = number(if negative { -int } else { int }, lang);
    if negative && int == 0 {
        out.insert(
            0,
            match lang {
                Language::Sv => MINUS,
                Language::En => '-',
            },
        );
    }
    if let Some(frac) = frac_part {
        out.push(match lang {
            Language::Sv => ',',
            Language::En => '.',
        });
        out.push_str(frac);
    }
    match lang {
        Language::Sv => format!("{out}{NBSP}%"),
        Language::En => format!("{out}%"),
    }
}

const MONTHS_SV: [&str; 12] = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The name of a month (1–12) in running text: `mars`, `March`.
#[must_use]
pub fn month_name(month: Month, lang: Language) -> &'static str {
    let i = usize::from(u8::from(month)) - 1;
    match lang {
        Language::Sv => MONTHS_SV[i],
        Language::En => MONTHS_EN[i],
    }
}

/// A date as ISO 8601: `2026-03-15` (the same in both languages, as Swedish forms use).
#[must_use]
pub fn date_iso(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// A date in running text: `15 mars 2026`, `15 March 2026`.
#[must_use]
pub fn date_long(date: Date, lang: Language) -> String {
    format!(
        "{} {} {}",
        date.day(),
        month_name(date.month(), lang),
        date.year()
    )
}

/// A reporting period (`YYYY-MM`) in running text: `mars 2026`, `March 2026`.
#[must_use]
pub fn period_long(year: u16, month: u8, lang: Language) -> Option<String> {
    let month = Month::try_from(month).ok()?;
    Some(format!("{} {year}", month_name(month, lang)))
}

/// Swedish local time for a UTC instant: CET (UTC+1), or CEST (UTC+2) from 01:00 UTC on the last
/// Sunday of March until 01:00 UTC on the last Sunday of October (the EU rule since 1996).
#[must_use]
pub fn stockholm_time(utc: OffsetDateTime) -> OffsetDateTime {
    let utc = utc.to_offset(UtcOffset::UTC);
    let year = utc.year();
    let summer_start = last_sunday(year, Month::March).and_then(|d| d.with_hms(1, 0, 0).ok());
    let summer_end = last_sunday(year, Month::October).and_then(|d| d.with_hms(1, 0, 0).ok());
    let summer = match (summer_start, summer_end) {
        (Some(start), Some(end)) => {
            let t = utc.date().with_time(utc.time());
            t >= start && t < end
        }
        _ => false,
    };
    let hours = if summer { 2 } else { 1 };
    match UtcOffset::from_hms(hours, 0, 0) {
        Ok(offset) => utc.to_offset(offset),
        Err(_) => utc,
    }
}

fn last_sunday(year: i32, month: Month) -> Option<Date> {
    let days = time::util::days_in_month(month, year);
    let last = Date::from_calendar_date(year, month, days).ok()?;
    let back = last.weekday().number_days_from_sunday();
    let sunday = last.checked_sub(time::Duration::days(i64::from(back)))?;
    debug_assert_eq!(sunday.weekday(), Weekday::Sunday);
    Some(sunday)
}

/// A moment as Swedish local date and time: `2026-03-15 14:05`.
#[must_use]
pub fn datetime(utc: OffsetDateTime) -> String {
    let local = stockholm_time(utc);
    format!(
        "{} {:02}:{:02}",
        date_iso(local.date()),
        local.hour(),
        local.minute()
    )
}

/// A Unix time in milliseconds as a UTC instant, if it is in range.
#[must_use]
pub fn from_unix_ms(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn numbers_group_with_non_breaking_spaces() {
        assert_eq!(number(0, Language::Sv), "0");
        assert_eq!(number(999, Language::Sv), "999");
        assert_eq!(number(1000, Language::Sv), "1\u{a0}000");
        assert_eq!(number(1_234_567, Language::Sv), "1\u{a0}234\u{a0}567");
        assert_eq!(number(-1_234, Language::Sv), "\u{2212}1\u{a0}234");
        assert_eq!(number(1_234_567, Language::En), "1,234,567");
        assert_eq!(number(i64::MIN, Language::En), "-9,223,372,036,854,775,808");
    }

    #[test]
    fn kronor() {
        assert_eq!(sek(1_234_567, Language::Sv), "1\u{a0}234\u{a0}567\u{a0}kr");
        assert_eq!(sek(0, Language::Sv), "0\u{a0}kr");
        assert_eq!(sek(1_234_567, Language::En), "SEK\u{a0}1,234,567");
    }

    #[test]
    fn percentages() {
        assert_eq!(percent(0.125, 1, Language::Sv), "12,5\u{a0}%");
        assert_eq!(percent(0.5, 1, Language::Sv), "50\u{a0}%");
        assert_eq!(percent(12.346, 0, Language::Sv), "1\u{a0}235\u{a0}%");
        assert_eq!(percent(0.125, 1, Language::En), "12.5%");
        assert_eq!(percent(-0.05, 1, Language::Sv), "\u{2212}5\u{a0}%");
        assert_eq!(percent(-0.001, 1, Language::Sv), "\u{2212}0,1\u{a0}%");
        assert_eq!(percent(-0.0001, 1, Language::Sv), "0\u{a0}%");
        assert_eq!(percent(f64::NAN, 1, Language::Sv), "–");
    }

    #[test]
    fn dates() {
        assert_eq!(date_iso(date!(2026 - 03 - 15)), "2026-03-15");
        assert_eq!(
            date_long(date!(2026 - 03 - 15), Language::Sv),
            "15 mars 2026"
        );
        assert_eq!(
            date_long(date!(2026 - 03 - 15), Language::En),
            "15 March 2026"
        );
        assert_eq!(
            period_long(2026, 5, Language::Sv).as_deref(),
            Some("maj 2026")
        );
        assert_eq!(period_long(2026, 13, Language::Sv), None);
    }

    #[test]
    fn stockholm_summer_time_follows_the_eu_rule() {
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(
            datetime(datetime!(2026-01-15 12:00 UTC)),
            "2026-01-15 13:00"
        );
        assert_eq!(
            datetime(datetime!(2026-03-29 00:59 UTC)),
            "2026-03-29 01:59"
        );
        assert_eq!(
            datetime(datetime!(2026-03-29 01:00 UTC)),
            "2026-03-29 03:00"
        );
        assert_eq!(
            datetime(datetime!(2026-10-25 00:59 UTC)),
            "2026-10-25 02:59"
        );
        assert_eq!(
            datetime(datetime!(2026-10-25 01:00 UTC)),
            "2026-10-25 02:00"
        );
        assert_eq!(
            datetime(datetime!(2026-12-31 23:30 UTC)),
            "2027-01-01 00:30"
        );
    }
}
