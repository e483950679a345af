//! CSV export of the tables a person sees (RFC 4180), safe to open in a spreadsheet.
//!
//! Spreadsheet programs treat a cell that starts with `=`, `+`, `-`, `@`, tab or carriage return
//! as a formula, so text from providers or users could run as one ("CSV injection"). Such text
//! cells are prefixed with `'`, which spreadsheets show as text. Numbers are written as plain
//! digits (no grouping) so they stay numbers. Files are UTF-8 with a byte-order mark, which Excel
//! needs to read å, ä and ö correctly, and use `;` as the separator as Swedish Excel expects.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// A CSV cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Text, quoted as needed and protected against formula injection.
    Text(String),
    /// A whole number, written as plain digits.
    Int(i64),
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_owned())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        Cell::Int(n)
    }
}

/// The field separator (Swedish spreadsheets use `,` as the decimal mark).
const SEPARATOR: char = ';';

/// A CSV document being built: a header row, then data rows.
#[derive(Debug, Clone, Default)]
pub struct Csv {
    text: String,
}

impl Csv {
    /// A document with this header row.
    #[must_use]
    pub fn new<I, C>(headers: I) -> Self
    where
        I: IntoIterator<Item = C>,
        C: Into<Cell>,
    {
        let mut csv = Csv {
            text: String::from('\u{feff}'),
        };
        csv.row(headers);
        csv
    }

    /// Appends a row.
    pub fn row<I, C>(&mut self, cells: I)
    where
        I: IntoIterator<Item = C>,
        C: Into<Cell>,
    {
        for (i, cell) in cells.into_iter().enumerate() {
            if i > 0 {
                self.text.push(SEPARATOR);
            }
            match cell.into() {
                Cell::Int(n) => self.text.push_str(&n.to_string()),
                Cell::Text(s) => push_text(&mut self.text, &s),
            }
        }
        self.text.push_str("\r\n");
    }

    /// The document's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// More rows of a document whose header is already written: no byte-order mark, no header
    /// (for downloads streamed in parts, see [`download_stream`]).
    #[must_use]
    pub fn continuation() -> Self {
        Csv::default()
    }

    /// The document's text, taken.
    #[must_use]
    pub fn into_string(self) -> String {
        self.text
    }

    /// A download response named `filename` (ASCII letters, digits, `-`, `_`, `.`).
    #[must_use]
    pub fn into_download(self, filename: &str) -> Response {
        (download_headers(filename), self.text).into_response()
    }
}

fn download_headers(filename: &str) -> [(header::HeaderName, HeaderValue); 2] {
    let safe: String = filename
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        ),
        (header::CONTENT_DISPOSITION, disposition),
    ]
}

/// A download named `filename` whose text comes in parts (a [`Csv::new`] first, then
/// [`Csv::continuation`]s), so a long table is never held in memory whole. A part that fails
/// ends the download early (the client sees a broken transfer, not a short file posing as whole).
pub fn download_stream<S>(filename: &str, parts: S) -> Response
where
    S: futures_util::Stream<Item = Result<String, std::io::Error>> + Send + 'static,
{
    (
        download_headers(filename),
        axum::body::Body::from_stream(parts),
    )
        .into_response()
}

fn push_text(out: &mut String, s: &str) {
    let formula = s
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    let needs_quotes = formula
        || s.contains([SEPARATOR, ',', '"', '\n', '\r'])
        || s.starts_with(' ')
        || s.ends_with(' ');
    if !needs_quotes {
        out.push_str(s);
        return;
    }
    out.push('"');
    if formula {
        out.push('\'');
    }
    for c in s.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        let mut csv = Csv::new(["Namn", "Antal"]);
        csv.row([Cell::from("Åsa; \"Ö\""), Cell::from(-1234)]);
        csv.row([Cell::from("=HYPERLINK(\"http://x\")"), Cell::from(0)]);
        csv.row([Cell::from("-5"), Cell::from("@SUM(A1)")]);
        csv.row([Cell::from("rad\nbrytning"), Cell::from("vanlig text")]);
        assert_eq!(
            csv.as_str(),
            "\u{feff}Namn;Antal\r\n\"Åsa; \"\"Ö\"\"\";-1234\r\n\"'=HYPERLINK(\"\"http://x\"\")\";0\r\n\"'-5\";\"'@SUM(A1)\"\r\n\"rad\nbrytning\";vanlig text\r\n"
        );
    }

    #[test]
    fn downloads_have_a_safe_file_name() {
        let r = Csv::new(["a"]).into_download("konton 2026\"/../x.csv");
        assert_eq!(
            r.headers()
                .get(header::CONTENT_DISPOSITION)
                .and_then(|v| v.to_str().ok()),
            Some("attachment; filename=\"konton2026..x.csv\"")
        );
        assert_eq!(
            r.headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("text/csv; charset=utf-8")
        );
    }
}
