//! Finding text shaped like a Swedish personal identity number (personnummer) or coordination
//! number (samordningsnummer), so that reports never carry one.
//!
//! Shapes recognised, each standing alone (no digit directly before or after):
//! `YYMMDD-NNNN`, `YYMMDD+NNNN`, `YYYYMMDDNNNN`, `YYYYMMDD-NNNN`, `YYYYMMDD+NNNN`, where the date
//! part is a plausible date (month 01–12, day 01–31, or 61–91 for coordination numbers), the
//! century is 18, 19 or 20, and the last digit is the Luhn check digit of the ten digits
//! `YYMMDDNNNN`. Ten digits written together (`YYMMDDNNNN`) are deliberately not matched: that is
//! also how organisation numbers and telephone numbers are written, and refusing those would refuse
//! honest reports.

use std::ops::Range;

/// Where the first personal-number-shaped run in `text` is, as a byte range.
#[must_use]
pub fn find_personal_number(text: &str) -> Option<Range<usize>> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let starts_run = b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_digit());
        if starts_run && let Some(end) = match_at(b, i) {
            return Some(i..end);
        }
        i += 1;
    }
    None
}

/// Tries the recognised shapes at `start`; returns the end of the match.
fn match_at(b: &[u8], start: usize) -> Option<usize> {
    let digits = b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
    let sep_then_four = |at: usize| -> bool {
        matches!(b.get(at), Some(b'-' | b'+'))
            && b.len() >= at + 5
            && b[at + 1..at + 5].iter().all(u8::is_ascii_digit)
            && b.get(at + 5).is_none_or(|c| !c.is_ascii_digit())
    };
    let mut ten = [0u8; 10];
    match digits {
        // YYMMDD-NNNN / YYMMDD+NNNN
        6 if sep_then_four(start + 6) => {
            ten[..6].copy_from_slice(&b[start..start + 6]);
            ten[6..].copy_from_slice(&b[start + 7..start + 11]);
            plausible(&ten).then_some(start + 11)
        }
        // YYYYMMDD-NNNN / YYYYMMDD+NNNN
        8 if sep_then_four(start + 8) => {
            let century = &b[start..start + 2];
            ten[..6].copy_from_slice(&b[start + 2..start + 8]);
            ten[6..].copy_from_slice(&b[start + 9..start + 13]);
            (century_ok(century) && plausible(&ten)).then_some(start + 13)
        }
        // YYYYMMDDNNNN
        12 => {
            let century = &b[start..start + 2];
            ten.copy_from_slice(&b[start + 2..start + 12]);
            (century_ok(century) && plausible(&ten)).then_some(start + 12)
        }
        _ => None,
    }
}

fn century_ok(c: &[u8]) -> bool {
    matches!(c, b"18" | b"19" | b"20")
}

fn two(d: &[u8]) -> u8 {
    (d[0] - b'0') * 10 + (d[1] - b'0')
}

/// A plausible date and a correct Luhn digit over `YYMMDDNNNN`.
fn plausible(ten: &[u8; 10]) -> bool {
    let month = two(&ten[2..4]);
    let day = two(&ten[4..6]);
    (1..=12).contains(&month)
        && ((1..=31).contains(&day) || (61..=91).contains(&day))
        && insyn_ledger::id::luhn_ok(ten)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Synthetic numbers with valid check digits (the well-known test number 811218-9876 and
    // numbers derived from it); none is meant to belong to anyone.
    #[test]
    fn finds_every_recognised_shape() {
        for (text, found) in [
            ("811218-9876", "811218-9876"),
            ("born 811218+9876.", "811218+9876"),
            ("x 198112189876 y", "198112189876"),
            ("19811218-9876", "19811218-9876"),
            ("(20811218+9876)", "20811218+9876"),
            // A coordination number: day + 60.
            ("811278-9873", "811278-9873"),
        ] {
            let r = find_personal_number(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(&text[r], found);
        }
    }

    #[test]
    fn leaves_other_numbers_alone() {
        for text in [
            "811218-9875",       // wrong check digit
            "811318-9876",       // month 13
            "811200-9876",       // day 00
            "8112189876",        // ten digits together: also how org numbers are written
            "5599123451",        // an organisation number
            "1811218-9876",      // a digit before
            "811218-98761",      // a digit after
            "171811218-9876",    // longer run
            "2026-03",           // a period
            "tel 08-123 456 78", // a telephone number
            "17811218-9876",     // century 17
            "",
            "12 nights, 3 moves, 458000 kr",
        ] {
            assert_eq!(find_personal_number(text), None, "{text}");
        }
    }

    #[test]
    fn works_on_any_text_without_panicking() {
        let texts = [
            "811218-",
            "811218-987",
            "19811218-98",
            "åäö811218-9876",
            "1981121898",
        ];
        for t in texts {
            let _ = find_personal_number(t);
        }
        assert!(find_personal_number("åäö811218-9876").is_some());
    }
}
