//! Swedish public identifiers that appear in ledger entries and reports: organisation numbers,
//! municipality and county codes, reporting periods and amounts in kronor.
//!
//! Each is a newtype whose constructor rejects bad values, so a value that exists is valid.

mod municipalities;

use std::fmt;
use std::str::FromStr;

use municipalities::MUNICIPALITIES;

/// Why an identifier was rejected. The messages are shown to people as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// An organisation number that is not 10 digits (optionally `NNNNNN-NNNN`).
    #[error("organisation number {0:?} must be 10 digits, written NNNNNNNNNN or NNNNNN-NNNN")]
    OrgNumberFormat(String),
    /// An organisation number whose last digit is not its Luhn check digit.
    #[error("organisation number {0:?} has a wrong check digit")]
    OrgNumberCheckDigit(String),
    /// A municipality code that is not one of SCB's 290 four-digit codes.
    #[error(
        "{0:?} is not a Swedish municipality code (four digits, as SCB assigns them, e.g. 0180 Stockholm)"
    )]
    Municipality(String),
    /// A county code that is not one of SCB's 21 two-digit codes.
    #[error(
        "{0:?} is not a Swedish county code (two digits, as SCB assigns them, e.g. 01 Stockholms län)"
    )]
    County(String),
    /// A period that is not `YYYY-MM` with a month from 01 to 12.
    #[error("period {0:?} must be a calendar month written YYYY-MM, e.g. 2026-03")]
    Period(String),
}

/// A Swedish organisation number (organisationsnummer): ten digits, the last a Luhn check digit.
///
/// Parsed from `5560360793` or `556036-0793`; displayed in the usual `NNNNNN-NNNN` form and
/// encoded canonically as its ten digits ([`OrgNumber::digits`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrgNumber([u8; 10]);

impl OrgNumber {
    /// The ten digits without a separator, the canonical form inside entries.
    #[must_use]
    pub fn digits(&self) -> &str {
        // The array only ever holds ASCII digits (checked by the constructor).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Luhn (mod 10) check over ASCII digits, as used for Swedish organisation and personal numbers.
/// Anything other than ASCII digits fails the check.
#[must_use]
pub fn luhn_ok(digits: &[u8]) -> bool {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let v = u32::from(d - b'0');
            if i % 2 == 1 {
                let doubled = v * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                v
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

impl FromStr for OrgNumber {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        let compact: Vec<u8> = match bytes.len() {
            10 => bytes.to_vec(),
            11 if bytes[6] == b'-' => bytes[..6].iter().chain(&bytes[7..]).copied().collect(),
            _ => return Err(IdError::OrgNumberFormat(s.to_owned())),
        };
        let digits: [u8; 10] = compact
            .try_into()
            .map_err(|_| IdError::OrgNumberFormat(s.to_owned()))?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(IdError::OrgNumberFormat(s.to_owned()));
        }
        if !luhn_ok(&digits) {
            return Err(IdError::OrgNumberCheckDigit(s.to_owned()));
        }
        Ok(Self(digits))
    }
}

impl fmt::Display for OrgNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.digits();
        write!(f, "{}-{}", &d[..6], &d[6..])
    }
}

impl fmt::Debug for OrgNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgNumber({self})")
    }
}

/// A Swedish municipality (kommun), by SCB's four-digit code, e.g. `0180` Stockholm.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MunicipalityCode(u16);

impl MunicipalityCode {
    fn entry(self) -> (&'static str, &'static str) {
        // The constructor only admits codes from the table, so the search always succeeds.
        let i = MUNICIPALITIES
            .binary_search_by_key(&self.0, |(c, _)| c.parse().unwrap_or(0))
            .unwrap_or(0);
        MUNICIPALITIES[i]
    }

    /// The four-digit code, e.g. `"0180"`.
    #[must_use]
    pub fn code(self) -> &'static str {
        self.entry().0
    }

    /// The municipality's name, e.g. `"Stockholm"`.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.entry().1
    }

    /// The county (län) the municipality belongs to: the first two digits of its code.
    #[must_use]
    pub fn county(self) -> CountyCode {
        CountyCode((self.0 / 100) as u8)
    }

    /// Every municipality, in code order.
    pub fn all() -> impl Iterator<Item = MunicipalityCode> {
        MUNICIPALITIES
            .iter()
            .filter_map(|(c, _)| c.parse().ok().map(MunicipalityCode))
    }
}

impl FromStr for MunicipalityCode {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match MUNICIPALITIES.binary_search_by(|(c, _)| (*c).cmp(s)) {
            Ok(i) => MUNICIPALITIES[i]
                .0
                .parse()
                .map(MunicipalityCode)
                .map_err(|_| IdError::Municipality(s.to_owned())),
            Err(_) => Err(IdError::Municipality(s.to_owned())),
        }
    }
}

impl fmt::Display for MunicipalityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for MunicipalityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MunicipalityCode({} {})", self.code(), self.name())
    }
}

/// SCB's county (län) codes and names.
const COUNTIES: [(u8, &str); 21] = [
    (1, "Stockholms län"),
    (3, "Uppsala län"),
    (4, "Södermanlands län"),
    (5, "Östergötlands län"),
    (6, "Jönköpings län"),
    (7, "Kronobergs län"),
    (8, "Kalmar län"),
    (9, "Gotlands län"),
    (10, "Blekinge län"),
    (12, "Skåne län"),
    (13, "Hallands län"),
    (14, "Västra Götalands län"),
    (17, "Värmlands län"),
    (18, "Örebro län"),
    (19, "Västmanlands län"),
    (20, "Dalarnas län"),
    (21, "Gävleborgs län"),
    (22, "Västernorrlands län"),
    (23, "Jämtlands län"),
    (24, "Västerbottens län"),
    (25, "Norrbottens län"),
];

/// A Swedish county (län), by SCB's two-digit code, e.g. `14` Västra Götalands län.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountyCode(u8);

impl CountyCode {
    /// The county's name, e.g. `"Skåne län"`.
    #[must_use]
    pub fn name(self) -> &'static str {
        COUNTIES
            .iter()
            .find(|(c, _)| *c == self.0)
            .map_or("", |(_, n)| n)
    }

    /// The numeric code (1 to 25).
    #[must_use]
    pub fn number(self) -> u8 {
        self.0
    }

    /// Every county, in code order.
    pub fn all() -> impl Iterator<Item = CountyCode> {
        COUNTIES.iter().map(|(c, _)| CountyCode(*c))
    }
}

impl FromStr for CountyCode {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IdError::County(s.to_owned());
        if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let n: u8 = s.parse().map_err(|_| err())?;
        if COUNTIES.iter().any(|(c, _)| *c == n) {
            Ok(Self(n))
        } else {
            Err(err())
        }
    }
}

impl fmt::Display for CountyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

impl fmt::Debug for CountyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountyCode({:02} {})", self.0, self.name())
    }
}

/// A reporting period: one calendar month, written `YYYY-MM`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    year: u16,
    month: u8,
}

impl Period {
    /// A period from a year (2000 to 9999) and a month (1 to 12).
    ///
    /// # Errors
    /// Returns [`IdError::Period`] when either is out of range.
    pub fn new(year: u16, month: u8) -> Result<Self, IdError> {
        if (2000..=9999).contains(&year) && (1..=12).contains(&month) {
            Ok(Self { year, month })
        } else {
            Err(IdError::Period(format!("{year:04}-{month:02}")))
        }
    }

    /// The year.
    #[must_use]
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month, 1 to 12.
    #[must_use]
    pub fn month(self) -> u8 {
        self.month
    }

    /// The month after this one.
    #[must_use]
    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year.saturating_add(1),
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Every period from `self` to `last`, both included; empty when `last` is earlier.
    pub fn through(self, last: Period) -> impl Iterator<Item = Period> {
        std::iter::successors(Some(self), |p| Some(p.next())).take_while(move |p| *p <= last)
    }
}

impl FromStr for Period {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IdError::Period(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 7 || b[4] != b'-' {
            return Err(err());
        }
        if !b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit) {
            return Err(err());
        }
        let year = s[..4].parse().map_err(|_| err())?;
        let month = s[5..].parse().map_err(|_| err())?;
        Self::new(year, month).map_err(|_| err())
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl fmt::Debug for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Period({self})")
    }
}

/// An amount in whole Swedish kronor. Money is never a floating-point number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Sek(pub i64);

impl fmt::Display for Sek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} kr", self.0)
    }
}

macro_rules! serde_via_str {
    ($($t:ty),*) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_via_str!(MunicipalityCode, CountyCode, Period);

impl serde::Serialize for OrgNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.digits())
    }
}

impl<'de> serde::Deserialize<'de> for OrgNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_numbers_with_valid_check_digits_parse_in_both_forms() {
        // Synthetic numbers with correct Luhn digits, and two well-known public authorities.
        for s in ["5560360793", "556036-0793", "2021005489", "202100-5489"] {
            let n: OrgNumber = s.parse().unwrap();
            assert_eq!(n.digits().len(), 10);
        }
        let n: OrgNumber = "2021005489".parse().unwrap();
        assert_eq!(n.to_string(), "202100-5489");
        assert_eq!(n.digits(), "2021005489");
    }

    #[test]
    fn org_number_errors_say_what_is_wrong() {
        assert_eq!(
            "5560360794".parse::<OrgNumber>().unwrap_err().to_string(),
            "organisation number \"5560360794\" has a wrong check digit"
        );
        for bad in [
            "",
            "556036079",
            "55603607930",
            "556036+0793",
            "55603a0793",
            "５５６０３６０７９３",
        ] {
            assert!(
                matches!(bad.parse::<OrgNumber>(), Err(IdError::OrgNumberFormat(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn luhn_refuses_what_is_not_digits() {
        assert!(luhn_ok(b"5560360793"));
        assert!(!luhn_ok(b"5560360794"));
        assert!(!luhn_ok(b""));
        assert!(!luhn_ok(b"55603607a3"));
    }

    #[test]
    fn municipality_codes_are_scb_codes() {
        let sthlm: MunicipalityCode = "0180".parse().unwrap();
        assert_eq!(sthlm.name(), "Stockholm");
        assert_eq!(sthlm.county().name(), "Stockholms län");
        assert_eq!(
            "1480".parse::<MunicipalityCode>().unwrap().name(),
            "Göteborg"
        );
        assert_eq!(
            "1280"
                .parse::<MunicipalityCode>()
                .unwrap()
                .county()
                .to_string(),
            "12"
        );
        assert_eq!(MunicipalityCode::all().count(), 290);
        for bad in ["180", "0100", "9999", "01800", "abcd", ""] {
            assert!(bad.parse::<MunicipalityCode>().is_err(), "{bad}");
        }
    }

    #[test]
    fn county_codes_are_scb_codes() {
        assert_eq!(
            "14".parse::<CountyCode>().unwrap().name(),
            "Västra Götalands län"
        );
        assert_eq!(CountyCode::all().count(), 21);
        for bad in ["02", "11", "26", "1", "001", "+1"] {
            assert!(bad.parse::<CountyCode>().is_err(), "{bad}");
        }
        // Every municipality lies in a known county.
        assert!(MunicipalityCode::all().all(|m| !m.county().name().is_empty()));
    }

    #[test]
    fn periods_are_calendar_months() {
        let p: Period = "2025-12".parse().unwrap();
        assert_eq!(p.next().to_string(), "2026-01");
        assert_eq!(
            "2025-11"
                .parse::<Period>()
                .unwrap()
                .through("2026-02".parse().unwrap())
                .count(),
            4
        );
        for bad in [
            "2025-13", "2025-00", "2025-1", "25-01", "2025/01", "1999-12", "+025-01",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
        assert_eq!(
            "2025-13".parse::<Period>().unwrap_err().to_string(),
            "period \"2025-13\" must be a calendar month written YYYY-MM, e.g. 2026-03"
        );
    }
}
