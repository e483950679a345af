//! Server-rendered SVG charts (line and grouped bar), readable without JavaScript.
//!
//! Every chart is an `<svg role="img">` labelled by its own `<title>` and `<desc>`, drawn with
//! presentation attributes only (the CSP forbids inline styles), in colours that keep at least
//! 3:1 contrast against white (WCAG 2.1 AA, 1.4.11) and, for lines, distinct dash patterns so the
//! series differ without colour. Each chart also yields a [`DataTable`] with the same figures,
//! which pages show next to it as the text alternative.
//!
//! All text that goes into the SVG is escaped here; the output is safe to insert as markup.

use std::fmt::Write as _;

use serde::Serialize;

use crate::format;
use crate::i18n::Language;

/// The kind of chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// One line per series over the categories (e.g. months).
    Line,
    /// One group of bars per category, one bar per series.
    Bar,
}

/// What the values measure; decides how axis labels and table cells are formatted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Plain counts.
    Count,
    /// Whole kronor.
    Sek,
}

/// One named series of values, one per category; `None` is a gap (no data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// The series' name, shown in the legend and as a table column.
    pub name: String,
    /// The values, in category order.
    pub values: Vec<Option<i64>>,
}

/// A chart to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// Line or bar.
    pub kind: ChartKind,
    /// A page-unique id (letters, digits, `-`), used for `aria-labelledby`.
    pub id: String,
    /// The chart's title.
    pub title: String,
    /// A sentence saying what the chart shows (the SVG's `<desc>`).
    pub description: String,
    /// The header of the category column in the data table (e.g. "Month").
    pub category_label: String,
    /// The categories along the x axis (e.g. periods), as the data table shows them.
    pub categories: Vec<String>,
    /// Shorter labels for the x axis, one per category; empty to use `categories`.
    pub axis_labels: Vec<String>,
    /// The series.
    pub series: Vec<Series>,
    /// What the values measure.
    pub unit: Unit,
}

/// The data-table alternative of a chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataTable {
    /// The table caption (the chart's title).
    pub caption: String,
    /// Column headers: the category label, then each series' name.
    pub headers: Vec<String>,
    /// One row per category: its label, then each formatted value (`–` for no data).
    pub rows: Vec<Vec<String>>,
}

/// A chart ready for a template: the SVG markup and its table.
#[derive(Debug, Clone, Serialize)]
pub struct RenderedChart {
    /// The id given to the chart.
    pub id: String,
    /// The chart's title.
    pub title: String,
    /// The SVG markup (already escaped; insert as-is).
    pub svg: String,
    /// The table alternative.
    pub table: DataTable,
}

/// Series colours: each has at least 3:1 contrast against white.
const COLOURS: [&str; 4] = ["#1d4f91", "#a34400", "#2b6e2f", "#6a2c91"];
/// Line dash patterns, so that series differ without colour.
const DASHES: [&str; 4] = ["", "8 4", "2 4", "10 4 2 4"];

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 84.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 72.0;

impl Chart {
    /// Renders the chart for `lang`.
    #[must_use]
    pub fn render(&self, lang: Language) -> RenderedChart {
        RenderedChart {
            id: self.id.clone(),
            title: self.title.clone(),
            svg: self.svg(lang),
            table: self.table(lang),
        }
    }

    fn format_value(&self, v: i64, lang: Language) -> String {
        match self.unit {
            Unit::Count => format::number(v, lang),
            Unit::Sek => format::sek(v, lang),
        }
    }

    /// The table alternative.
    #[must_use]
    pub fn table(&self, lang: Language) -> DataTable {
        let mut headers = vec![self.category_label.clone()];
        headers.extend(self.series.iter().map(|s| s.name.clone()));
        let rows = self
            .categories
            .iter()
            .enumerate()
            .map(|(i, cat)| {
                let mut row = vec![cat.clone()];
                row.extend(self.series.iter().map(|s| {
                    s.values
                        .get(i)
                        .copied()
                        .flatten()
                        .map_or_else(|| "–".to_owned(), |v| self.format_value(v, lang))
                }));
                row
            })
            .collect();
        DataTable {
            caption: self.title.clone(),
            headers,
            rows,
        }
    }

    /// The SVG markup.
    #[must_use]
    pub fn svg(&self, lang: Language) -> String {
        let id = sanitize_id(&self.id);
        let values = self.series.iter().flat_map(|s| s.values.iter().flatten());
        let (lo, hi) = values.fold((0i64, 0i64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let scale = Scale::new(lo, hi);
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let n = self.categories.len().max(1);
        #[allow(clippy::cast_precision_loss)] // category counts are small
        let band = plot_w / n as f64;
        #[allow(clippy::cast_precision_loss)] // values beyond 2^53 only lose sub-pixel precision
        let y_of = |v: i64| TOP + plot_h * (1.0 - (v - scale.lo) as f64 / scale.span() as f64);

        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}-title {id}-desc"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
            escape(&self.title),
            escape(&self.description)
        );

        // Grid lines and y-axis labels.
        for tick in scale.ticks() {
            let y = y_of(tick);
            let _ = write!(
                s,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#c9cdd2" stroke-width="1"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="12" fill="#33383d">{}</text>"##,
                WIDTH - RIGHT,
                LEFT - 8.0,
                y + 4.0,
                escape(&self.axis_label(tick, lang))
            );
        }
        // The baseline (zero, or the scale's bottom).
        let base_y = y_of(0i64.clamp(scale.lo, scale.hi));
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{base_y:.1}" x2="{:.1}" y2="{base_y:.1}" stroke="#33383d" stroke-width="1.5"/>"##,
            WIDTH - RIGHT
        );

        // Category labels; with many categories only every k-th is labelled.
        let every = n.div_ceil(12);
        for (i, cat) in self.categories.iter().enumerate() {
            if i % every != 0 {
                continue;
            }
            let cat = self.axis_labels.get(i).unwrap_or(cat);
            #[allow(clippy::cast_precision_loss)]
            let x = LEFT + band * (i as f64 + 0.5);
            let _ = write!(
                s,
                r##"<text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="12" fill="#33383d">{}</text>"##,
                TOP + plot_h + 18.0,
                escape(cat)
            );
        }

        match self.kind {
            ChartKind::Line => self.draw_lines(&mut s, band, &y_of),
            ChartKind::Bar => self.draw_bars(&mut s, band, base_y, &y_of),
        }
        self.draw_legend(&mut s);
        s.push_str("</svg>");
        s
    }

    fn axis_label(&self, v: i64, lang: Language) -> String {
        match self.unit {
            Unit::Count => format::number(v, lang),
            Unit::Sek => format::sek(v, lang),
        }
    }

    fn draw_lines(&self, s: &mut String, band: f64, y_of: &dyn Fn(i64) -> f64) {
        for (k, series) in self.series.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            let dash = DASHES[k % DASHES.len()];
            let dash_attr = if dash.is_empty() {
                String::new()
            } else {
                format!(r#" stroke-dasharray="{dash}""#)
            };
            // A gap (None) breaks the line into separate runs.
            let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for (i, v) in series.values.iter().enumerate().take(self.categories.len()) {
                #[allow(clippy::cast_precision_loss)]
                let x = LEFT + band * (i as f64 + 0.5);
                match v {
                    Some(v) => runs.last_mut().map_or((), |r| r.push((x, y_of(*v)))),
                    None => runs.push(Vec::new()),
                }
            }
            for run in runs.iter().filter(|r| r.len() > 1) {
                let points: Vec<String> =
                    run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                let _ = write!(
                    s,
                    r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2.5"{dash_attr}/>"#,
                    points.join(" ")
                );
            }
            for (x, y) in runs.iter().flatten() {
                let _ = write!(
                    s,
                    r##"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{colour}" stroke="#ffffff" stroke-width="1"/>"##
                );
            }
        }
    }

    fn draw_bars(&self, s: &mut String, band: f64, base_y: f64, y_of: &dyn Fn(i64) -> f64) {
        let groups = self.series.len().max(1);
        let inner = band * 0.8;
        #[allow(clippy::cast_precision_loss)]
        let bar_w = inner / groups as f64;
        for (k, series) in self.series.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            for (i, v) in series.values.iter().enumerate().take(self.categories.len()) {
                let Some(v) = v else { continue };
                #[allow(clippy::cast_precision_loss)]
                let x = LEFT + band * i as f64 + band * 0.1 + bar_w * k as f64;
                let y = y_of(*v);
                let (top, h) = if y < base_y {
                    (y, base_y - y)
                } else {
                    (base_y, y - base_y)
                };
                let _ = write!(
                    s,
                    r#"<rect x="{x:.1}" y="{top:.1}" width="{:.1}" height="{h:.1}" fill="{colour}"/>"#,
                    (bar_w - 2.0).max(1.0)
                );
            }
        }
    }

    fn draw_legend(&self, s: &mut String) {
        let y = HEIGHT - 20.0;
        let mut x = LEFT;
        for (k, series) in self.series.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            match self.kind {
                ChartKind::Line => {
                    let dash = DASHES[k % DASHES.len()];
                    let dash_attr = if dash.is_empty() {
                        String::new()
                    } else {
                        format!(r#" stroke-dasharray="{dash}""#)
                    };
                    let _ = write!(
                        s,
                        r#"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2.5"{dash_attr}/>"#,
                        y - 4.0,
                        x + 28.0,
                        y - 4.0
                    );
                }
                ChartKind::Bar => {
                    let _ = write!(
                        s,
                        r#"<rect x="{x:.1}" y="{:.1}" width="14" height="14" fill="{colour}"/>"#,
                        y - 12.0
                    );
                }
            }
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{y:.1}" font-size="13" fill="#1b1e21">{}</text>"##,
                x + 34.0,
                escape(&series.name)
            );
            // A rough width estimate; legends are short names.
            #[allow(clippy::cast_precision_loss)]
            let advance = 34.0 + 7.5 * series.name.chars().count() as f64 + 24.0;
            x += advance;
        }
    }
}

/// A "nice" linear scale from `lo` to `hi` with round tick steps (1, 2 or 5 × 10ⁿ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Scale {
    lo: i64,
    hi: i64,
    step: i64,
}

impl Scale {
    fn new(lo: i64, hi: i64) -> Self {
        let lo = lo.min(0);
        let hi = hi.max(0);
        let range = hi.saturating_sub(lo).max(1);
        // About five intervals.
        let rough = (range / 5).max(1);
        let mut magnitude: i64 = 1;
        while magnitude <= rough / 10 {
            magnitude = magnitude.saturating_mul(10);
        }
        let step = [1, 2, 5, 10]
            .iter()
            .map(|m| magnitude.saturating_mul(*m))
            .find(|s| s.saturating_mul(5) >= range)
            .unwrap_or_else(|| magnitude.saturating_mul(10));
        let lo = if lo < 0 {
            -(lo.unsigned_abs().div_ceil(step.unsigned_abs()) as i64).saturating_mul(step)
        } else {
            0
        };
        let hi = if hi > 0 {
            (hi.unsigned_abs().div_ceil(step.unsigned_abs()) as i64).saturating_mul(step)
        } else {
            step
        };
        Scale { lo, hi, step }
    }

    fn span(self) -> i64 {
        self.hi.saturating_sub(self.lo).max(1)
    }

    fn ticks(self) -> impl Iterator<Item = i64> {
        let mut next = Some(self.lo);
        std::iter::from_fn(move || {
            let current = next?;
            if current > self.hi {
                return None;
            }
            next = current.checked_add(self.step);
            Some(current)
        })
    }
}

fn sanitize_id(id: &str) -> String {
    let cleaned: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    if cleaned.is_empty() {
        "chart".to_owned()
    } else {
        cleaned
    }
}

/// Escapes text for XML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(kind: ChartKind) -> Chart {
        Chart {
            kind,
            id: "costs".to_owned(),
            title: "Kostnader <per månad>".to_owned(),
            description: "Fakturerat & budget".to_owned(),
            category_label: "Månad".to_owned(),
            categories: vec!["2026-01".into(), "2026-02".into(), "2026-03".into()],
            axis_labels: Vec::new(),
            series: vec![
                Series {
                    name: "Fakturerat".into(),
                    values: vec![Some(120_000), None, Some(180_500)],
                },
                Series {
                    name: "Budget".into(),
                    values: vec![Some(150_000), Some(150_000), Some(150_000)],
                },
            ],
            unit: Unit::Sek,
        }
    }

    #[test]
    fn scale_is_round_and_covers_the_data() {
        let s = Scale::new(0, 180_500);
        assert_eq!((s.lo, s.hi, s.step), (0, 200_000, 50_000));
        assert_eq!(s.ticks().count(), 5);
        let s = Scale::new(0, 0);
        assert_eq!((s.lo, s.hi), (0, 1));
        let s = Scale::new(-7, 23);
        assert!(s.lo <= -7 && s.hi >= 23 && (s.hi - s.lo) % s.step == 0);
        let s = Scale::new(0, i64::MAX);
        assert!(s.hi >= s.lo && s.ticks().count() >= 2);
    }

    #[test]
    fn svg_is_labelled_and_escaped() {
        for kind in [ChartKind::Line, ChartKind::Bar] {
            let svg = sample(kind).svg(Language::Sv);
            assert!(svg.starts_with("<svg "));
            assert!(svg.contains(r#"role="img" aria-labelledby="costs-title costs-desc""#));
            assert!(svg.contains("<title id=\"costs-title\">Kostnader &lt;per månad&gt;</title>"));
            assert!(svg.contains("<desc id=\"costs-desc\">Fakturerat &amp; budget</desc>"));
            assert!(!svg.contains("style="), "no inline styles under the CSP");
            assert!(svg.ends_with("</svg>"));
        }
    }

    #[test]
    fn a_gap_breaks_the_line() {
        let svg = sample(ChartKind::Line).svg(Language::Sv);
        // Series one has a gap in the middle: no polyline of its own (runs of one point), but two
        // points; series two is one run of three points.
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 5);
    }

    #[test]
    fn table_alternative_has_every_value() {
        let t = sample(ChartKind::Bar).table(Language::Sv);
        assert_eq!(t.headers, ["Månad", "Fakturerat", "Budget"]);
        assert_eq!(
            t.rows[0],
            ["2026-01", "120\u{a0}000\u{a0}kr", "150\u{a0}000\u{a0}kr"]
        );
        assert_eq!(t.rows[1][1], "–");
    }

    #[test]
    fn svg_snapshot() {
        insta::assert_snapshot!(sample(ChartKind::Line).svg(Language::Sv));
    }
}
