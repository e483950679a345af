//! Reporting status of a contract: per period, whether the report came on time, late or not at all,
//! whether it was corrected or reviewed; costs invoiced against the budget; and simple anomaly
//! flags, each with a plain-language explanation an auditor can check by hand.
//!
//! Deadline: the report for month M is due by the end of the 15th day of month M+1, Swedish time
//! ([`crate::calendar::report_deadline`]). What counts is the log's integration time of the
//! original report; a correction does not make a report late or on time.
//!
//! Budget: the contract's budget spread evenly over its months, in whole kronor; the cumulative
//! budget after k of n months is ⌊budget × k / n⌋, so the monthly shares add up to the budget exactly.
//!
//! Flags (thresholds chosen to be explainable, not clever):
//! - `costs_over_budget`: a month's invoice is more than 20 % above that month's share of the budget;
//! - `cumulative_costs_over_budget`: everything invoiced so far is more than 20 % above the budget's
//!   share for the months reported so far;
//! - `caseload_jump`: active participants changed by more than half, and by at least 5, from the
//!   previous month's report;
//! - `serious_deviations_not_reported`: more serious deviations than reports to IVO;
//! - `relocations_without_support`: relocations reported but no relocation-support moves;
//! - `costs_without_participants`: money invoiced for a month with nobody in the caseload.

use std::collections::BTreeMap;

use insyn_ledger::entry::{Body, ContractRef, Decision, Statement};
use insyn_ledger::id::{Period, Sek};
use serde::Serialize;
use time::OffsetDateTime;

use crate::calendar;
use crate::report::Report;

/// A contract's terms, as registered in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractTerms {
    /// First reporting period.
    pub first: Period,
    /// Last reporting period.
    pub last: Period,
    /// Budget for the whole contract, in whole kronor.
    pub budget: Sek,
}

impl ContractTerms {
    /// Number of months the contract covers (at least 1 when `first <= last`).
    #[must_use]
    pub fn months(&self) -> u32 {
        let count = |p: Period| u32::from(p.year()) * 12 + u32::from(p.month());
        (count(self.last) + 1).saturating_sub(count(self.first))
    }

    /// The budget share of the first `k` months, ⌊budget × k / n⌋.
    #[must_use]
    pub fn cumulative_budget(&self, k: u32) -> i64 {
        let n = self.months();
        if n == 0 {
            return 0;
        }
        let k = k.min(n);
        i64::try_from(i128::from(self.budget.0) * i128::from(k) / i128::from(n)).unwrap_or(i64::MAX)
    }

    /// The budget share of the `k`-th month (1-based).
    #[must_use]
    pub fn monthly_budget(&self, k: u32) -> i64 {
        self.cumulative_budget(k) - self.cumulative_budget(k.saturating_sub(1))
    }
}

/// A report or correction in the log, as the status needs it.
#[derive(Debug, Clone)]
pub struct ReportEvent {
    /// Its leaf index.
    pub index: u64,
    /// The period it covers.
    pub period: Period,
    /// When the log integrated it (Unix milliseconds).
    pub integrated_at_ms: u64,
    /// For a correction, the leaf it supersedes.
    pub supersedes: Option<u64>,
    /// Its contents, when the payload is available (it may have been withheld or erased).
    pub report: Option<Box<Report>>,
}

/// A review in the log.
#[derive(Debug, Clone, Copy)]
pub struct ReviewEvent {
    /// Its leaf index.
    pub index: u64,
    /// The reviewed report or correction.
    pub report: u64,
    /// The decision.
    pub decision: Decision,
}

/// Where one period stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportingState {
    /// The month has not ended yet.
    Upcoming,
    /// The month has ended; the report is not due yet and has not come.
    Due,
    /// Reported by the deadline.
    OnTime,
    /// Reported after the deadline.
    Late,
    /// The deadline has passed without a report.
    Missing,
    /// Corrected since it was reported, and the latest version has not been reviewed.
    Corrected,
    /// The municipality has asked a question about the latest version.
    UnderReview,
    /// The municipality accepted the latest version.
    Accepted,
    /// The municipality flagged the latest version for follow-up.
    Flagged,
}

impl ReportingState {
    /// A stable code, e.g. `"on_time"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upcoming => "upcoming",
            Self::Due => "due",
            Self::OnTime => "on_time",
            Self::Late => "late",
            Self::Missing => "missing",
            Self::Corrected => "corrected",
            Self::UnderReview => "under_review",
            Self::Accepted => "accepted",
            Self::Flagged => "flagged",
        }
    }
}

/// Which anomaly a [`Flag`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagCode {
    /// A month's invoice more than 20 % above its budget share.
    CostsOverBudget,
    /// Everything invoiced so far more than 20 % above the budget share so far.
    CumulativeCostsOverBudget,
    /// Active participants changed by more than half (and by at least 5) from the previous report.
    CaseloadJump,
    /// More serious deviations than reports to IVO.
    SeriousDeviationsNotReported,
    /// Relocations but no relocation-support moves.
    RelocationsWithoutSupport,
    /// Money invoiced with nobody in the caseload.
    CostsWithoutParticipants,
}

/// An anomaly worth a look, with its explanation in plain English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    /// Which anomaly.
    pub code: FlagCode,
    /// What was seen, with the figures.
    pub explanation: String,
}

/// How late a report was, or that it was on time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Timeliness {
    /// Integrated by the deadline.
    OnTime,
    /// Integrated after the deadline, by this many started days.
    Late {
        /// Days after the deadline (a report one minute late is 1 day late).
        days: u32,
    },
}

/// One period of a contract.
#[derive(Debug, Clone, Serialize)]
pub struct PeriodStatus {
    /// The month.
    pub period: Period,
    /// Where it stands.
    pub state: ReportingState,
    /// When its report is due.
    #[serde(with = "time::serde::rfc3339")]
    pub due: OffsetDateTime,
    /// Whether the original report came on time.
    pub timeliness: Option<Timeliness>,
    /// Leaf index of the original report.
    pub original: Option<u64>,
    /// Leaf index of the latest version.
    pub latest: Option<u64>,
    /// Number of corrections.
    pub corrections: u32,
    /// The latest review: its decision and the version it was about.
    #[serde(serialize_with = "serialize_review")]
    pub review: Option<(Decision, u64)>,
    /// This month's share of the budget, in kronor.
    pub budget_share: i64,
    /// Invoiced this month according to the latest version, when its payload is available.
    pub invoiced: Option<u64>,
    /// Anomalies in the latest version.
    pub flags: Vec<Flag>,
}

/// Costs against the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BudgetSummary {
    /// The contract's whole budget.
    pub budget: i64,
    /// Months in the contract.
    pub months: u32,
    /// Months whose reports carry an invoice (latest version, payload available).
    pub months_invoiced: u32,
    /// Everything invoiced so far.
    pub invoiced: u64,
    /// The budget's share for the months invoiced.
    pub budget_for_months_invoiced: i64,
    /// The budget's share up to the last month that has ended.
    pub budget_to_date: i64,
}

/// The status of a whole contract.
#[derive(Debug, Clone, Serialize)]
pub struct ContractStatus {
    /// Every period of the contract, in order.
    pub periods: Vec<PeriodStatus>,
    /// Costs against the budget.
    pub budget: BudgetSummary,
    /// Anomalies across months.
    pub flags: Vec<Flag>,
}

impl ContractStatus {
    /// How many periods are in each state.
    #[must_use]
    pub fn counts(&self) -> BTreeMap<&'static str, u32> {
        let mut m = BTreeMap::new();
        for p in &self.periods {
            *m.entry(p.state.as_str()).or_insert(0) += 1;
        }
        m
    }

    /// The status of one period.
    #[must_use]
    pub fn period(&self, p: Period) -> Option<&PeriodStatus> {
        self.periods.iter().find(|s| s.period == p)
    }
}

/// A decision's stable name, e.g. `"accepted"`.
#[must_use]
pub fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Accepted => "accepted",
        Decision::Question => "question",
        Decision::Flagged => "flagged",
    }
}

fn serialize_review<S: serde::Serializer>(
    review: &Option<(Decision, u64)>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    match review {
        None => s.serialize_none(),
        Some((decision, report)) => {
            let mut st = s.serialize_struct("Review", 2)?;
            st.serialize_field("decision", decision_name(*decision))?;
            st.serialize_field("report", report)?;
            st.end()
        }
    }
}

/// The reports, corrections and reviews of one contract, from statements in log order
/// (`(leaf index, statement, integrated_at_ms)`). Report contents are left empty (`report: None`):
/// the caller fills them in from the payloads it may read.
#[must_use]
pub fn events_for_contract<'a>(
    contract: &ContractRef,
    statements: impl IntoIterator<Item = (u64, &'a Statement, u64)>,
) -> (Vec<ReportEvent>, Vec<ReviewEvent>) {
    let mut reports: Vec<ReportEvent> = Vec::new();
    let mut reviews = Vec::new();
    for (index, statement, integrated_at_ms) in statements {
        match statement.body() {
            Body::ReportSubmitted {
                contract: c,
                period,
            } if c == contract => {
                reports.push(ReportEvent {
                    index,
                    period: *period,
                    integrated_at_ms,
                    supersedes: None,
                    report: None,
                });
            }
            Body::ReportCorrected {
                contract: c,
                period,
                supersedes,
            } if c == contract => reports.push(ReportEvent {
                index,
                period: *period,
                integrated_at_ms,
                supersedes: Some(*supersedes),
                report: None,
            }),
            Body::ReportReviewed {
                report, decision, ..
            } if reports.iter().any(|r| r.index == *report) => {
                reviews.push(ReviewEvent {
                    index,
                    report: *report,
                    decision: *decision,
                });
            }
            _ => {}
        }
    }
    (reports, reviews)
}

/// `a` is more than 20 % above `b` (in whole numbers: 100·a > 120·b).
fn over_20_percent(a: u64, b: i64) -> bool {
    i128::from(a) * 100 > i128::from(b) * 120
}

fn percent_above(a: u64, b: i64) -> i128 {
    if b <= 0 {
        0
    } else {
        (i128::from(a) - i128::from(b)) * 100 / i128::from(b)
    }
}

/// The status of one contract at `now`, from its reports, corrections and reviews (in any order;
/// events outside the contract's periods are ignored).
#[must_use]
pub fn contract_status(
    terms: &ContractTerms,
    reports: &[ReportEvent],
    reviews: &[ReviewEvent],
    now: OffsetDateTime,
) -> ContractStatus {
    let mut by_period: BTreeMap<Period, Vec<&ReportEvent>> = BTreeMap::new();
    for r in reports
        .iter()
        .filter(|r| r.period >= terms.first && r.period <= terms.last)
    {
        by_period.entry(r.period).or_default().push(r);
    }
    for chain in by_period.values_mut() {
        chain.sort_by_key(|r| r.index);
    }

    let mut periods = Vec::new();
    let mut previous_active: Option<(Period, u32)> = None;
    let mut invoiced_total: u64 = 0;
    let mut months_invoiced = 0u32;
    let mut budget_for_invoiced: i64 = 0;
    let mut months_ended = 0u32;
    for (k, period) in (1u32..).zip(terms.first.through(terms.last)) {
        let due = calendar::report_deadline(period);
        let ended = calendar::period_end(period) <= now;
        if ended {
            months_ended = k;
        }
        let budget_share = terms.monthly_budget(k);
        let chain = by_period
            .get(&period)
            .map(Vec::as_slice)
            .unwrap_or_default();
        // The original: the first report that is not a correction (or, in a damaged history, the first).
        let original = chain
            .iter()
            .find(|r| r.supersedes.is_none())
            .or(chain.first())
            .copied();
        let latest = chain.last().copied();
        let corrections = u32::try_from(chain.iter().filter(|r| r.supersedes.is_some()).count())
            .unwrap_or(u32::MAX);
        let review = reviews
            .iter()
            .filter(|v| chain.iter().any(|r| r.index == v.report))
            .max_by_key(|v| v.index)
            .map(|v| (v.decision, v.report));

        let timeliness = original.map(|o| match calendar::from_unix_ms(o.integrated_at_ms) {
            Some(at) if at > due => {
                let late = at - due;
                let days = late.whole_days()
                    + i64::from(
                        late.whole_seconds() % 86_400 != 0 || late.subsec_nanoseconds() != 0,
                    );
                Timeliness::Late {
                    days: u32::try_from(days).unwrap_or(u32::MAX),
                }
            }
            _ => Timeliness::OnTime,
        });
        let state = match (latest, review, timeliness) {
            (None, _, _) if !ended => ReportingState::Upcoming,
            (None, _, _) if now <= due => ReportingState::Due,
            (None, _, _) => ReportingState::Missing,
            (Some(l), Some((decision, reviewed)), _) if reviewed == l.index => match decision {
                Decision::Accepted => ReportingState::Accepted,
                Decision::Question => ReportingState::UnderReview,
                Decision::Flagged => ReportingState::Flagged,
            },
            (Some(_), _, _) if corrections > 0 => ReportingState::Corrected,
            (Some(_), _, Some(Timeliness::Late { .. })) => ReportingState::Late,
            (Some(_), _, _) => ReportingState::OnTime,
        };

        let mut flags = Vec::new();
        let content = latest.and_then(|l| l.report.as_ref());
        let invoiced = content.map(|r| r.costs_sek.total_invoiced);
        if let Some(r) = content {
            invoiced_total = invoiced_total.saturating_add(r.costs_sek.total_invoiced);
            months_invoiced += 1;
            budget_for_invoiced += budget_share;
            flags = report_flags(r, budget_share, previous_active);
            previous_active = Some((period, r.caseload.active));
        }
        periods.push(PeriodStatus {
            period,
            state,
            due,
            timeliness,
            original: original.map(|r| r.index),
            latest: latest.map(|r| r.index),
            corrections,
            review,
            budget_share,
            invoiced,
            flags,
        });
    }

    let budget = BudgetSummary {
        budget: terms.budget.0,
        months: terms.months(),
        months_invoiced,
        invoiced: invoiced_total,
        budget_for_months_invoiced: budget_for_invoiced,
        budget_to_date: terms.cumulative_budget(months_ended),
    };
    let mut flags = Vec::new();
    if months_invoiced > 0 && over_20_percent(invoiced_total, budget_for_invoiced) {
        flags.push(Flag {
            code: FlagCode::CumulativeCostsOverBudget,
            explanation: format!(
                "{invoiced_total} kr has been invoiced for {months_invoiced} month(s), {}% more than the budget's share for those months ({budget_for_invoiced} kr).",
                percent_above(invoiced_total, budget_for_invoiced)
            ),
        });
    }
    ContractStatus {
        periods,
        budget,
        flags,
    }
}

/// Anomalies in one month's report.
fn report_flags(
    r: &Report,
    budget_share: i64,
    previous_active: Option<(Period, u32)>,
) -> Vec<Flag> {
    let mut flags = Vec::new();
    let invoiced = r.costs_sek.total_invoiced;
    if over_20_percent(invoiced, budget_share) {
        flags.push(Flag {
            code: FlagCode::CostsOverBudget,
            explanation: format!(
                "{invoiced} kr was invoiced for {}, {}% more than the month's share of the budget ({budget_share} kr).",
                r.period,
                percent_above(invoiced, budget_share)
            ),
        });
    }
    if let Some((prev_period, before)) = previous_active {
        let now = r.caseload.active;
        let change = now.abs_diff(before);
        if change >= 5 && u64::from(change) * 2 > u64::from(before) {
            flags.push(Flag {
                code: FlagCode::CaseloadJump,
                explanation: format!(
                    "Active participants went from {before} in {prev_period} to {now} in {}.",
                    r.period
                ),
            });
        }
    }
    let serious = r.incidents.deviations.serious;
    if serious > r.incidents.reported_to_ivo {
        flags.push(Flag {
            code: FlagCode::SeriousDeviationsNotReported,
            explanation: format!(
                "{serious} serious deviation(s) were reported but only {} report(s) to IVO; serious irregularities must be reported to IVO.",
                r.incidents.reported_to_ivo
            ),
        });
    }
    let relocations = r.relocations_total();
    if relocations > 0 && r.services.relocation_support_moves == 0 {
        flags.push(Flag {
            code: FlagCode::RelocationsWithoutSupport,
            explanation: format!(
                "{relocations} relocation(s) were reported, but no relocation-support moves."
            ),
        });
    }
    if invoiced > 0 && r.caseload_total() == 0 {
        flags.push(Flag {
            code: FlagCode::CostsWithoutParticipants,
            explanation: format!(
                "{invoiced} kr was invoiced for a month with nobody in intake or enrolled."
            ),
        });
    }
    flags
}

#[cfg(test)]
mod tests;
