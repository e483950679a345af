use insyn_ledger::entry::Decision;
use insyn_ledger::id::{Period, Sek};
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::calendar::to_unix_ms;
use crate::report::{Report, example_report_json, validate_report};

fn p(s: &str) -> Period {
    s.parse().unwrap()
}

fn report(period: &str, f: impl FnOnce(&mut Report)) -> Report {
    let mut r = validate_report(example_report_json().as_bytes()).unwrap();
    r.period = p(period);
    r.costs_sek.staff = 60_000;
    r.costs_sek.housing = 30_000;
    r.costs_sek.treatment = 5_000;
    r.costs_sek.other = 5_000;
    r.costs_sek.total_invoiced = 100_000;
    f(&mut r);
    r
}

fn event(
    index: u64,
    period: &str,
    at: OffsetDateTime,
    supersedes: Option<u64>,
    r: Option<Report>,
) -> ReportEvent {
    ReportEvent {
        index,
        period: p(period),
        integrated_at_ms: to_unix_ms(at),
        supersedes,
        report: r.map(Box::new),
    }
}

fn terms() -> ContractTerms {
    ContractTerms {
        first: p("2025-09"),
        last: p("2026-08"),
        budget: Sek(1_200_000),
    }
}

fn history() -> (Vec<ReportEvent>, Vec<ReviewEvent>) {
    let reports = vec![
        event(
            10,
            "2025-09",
            datetime!(2025-10-10 09:00 UTC),
            None,
            Some(report("2025-09", |_| {})),
        ),
        // Due 15 November 23:00 UTC; 30 minutes late.
        event(
            11,
            "2025-10",
            datetime!(2025-11-15 23:30 UTC),
            None,
            Some(report("2025-10", |r| {
                r.costs_sek.other = 35_000;
                r.costs_sek.total_invoiced = 130_000;
            })),
        ),
        event(
            12,
            "2025-11",
            datetime!(2025-12-01 09:00 UTC),
            None,
            Some(report("2025-11", |_| {})),
        ),
        event(
            13,
            "2025-12",
            datetime!(2026-01-05 09:00 UTC),
            None,
            Some(report("2025-12", |r| r.caseload.active = 40)),
        ),
        event(
            14,
            "2025-12",
            datetime!(2026-01-07 09:00 UTC),
            Some(13),
            Some(report("2025-12", |r| r.caseload.active = 40)),
        ),
        event(
            15,
            "2026-01",
            datetime!(2026-02-01 09:00 UTC),
            None,
            Some(report("2026-01", |r| {
                r.caseload.active = 40;
                r.services.relocation_support_moves = 0;
            })),
        ),
        event(
            16,
            "2026-02",
            datetime!(2026-03-02 09:00 UTC),
            None,
            Some(report("2026-02", |r| {
                r.caseload.active = 40;
                r.incidents.deviations.serious = 2;
                r.incidents.reported_to_ivo = 1;
            })),
        ),
        // Outside the contract: ignored.
        event(17, "2026-09", datetime!(2026-03-02 09:00 UTC), None, None),
    ];
    let reviews = vec![
        ReviewEvent {
            index: 20,
            report: 12,
            decision: Decision::Accepted,
        },
        // A question about the original December report, then a correction: "corrected" wins.
        ReviewEvent {
            index: 21,
            report: 13,
            decision: Decision::Question,
        },
        ReviewEvent {
            index: 22,
            report: 15,
            decision: Decision::Question,
        },
        ReviewEvent {
            index: 23,
            report: 16,
            decision: Decision::Accepted,
        },
        // The latest review counts: February is flagged after being accepted.
        ReviewEvent {
            index: 24,
            report: 16,
            decision: Decision::Flagged,
        },
    ];
    (reports, reviews)
}

#[test]
fn every_state_of_a_period() {
    use ReportingState as S;
    let (reports, reviews) = history();
    let s = contract_status(
        &terms(),
        &reports,
        &reviews,
        datetime!(2026-05-10 12:00 UTC),
    );
    let states: Vec<(String, S)> = s
        .periods
        .iter()
        .map(|p| (p.period.to_string(), p.state))
        .collect();
    let expected = [
        ("2025-09", S::OnTime),
        ("2025-10", S::Late),
        ("2025-11", S::Accepted),
        ("2025-12", S::Corrected),
        ("2026-01", S::UnderReview),
        ("2026-02", S::Flagged),
        ("2026-03", S::Missing),
        ("2026-04", S::Due),
        ("2026-05", S::Upcoming),
        ("2026-06", S::Upcoming),
        ("2026-07", S::Upcoming),
        ("2026-08", S::Upcoming),
    ];
    assert_eq!(states, expected.map(|(p, s)| (p.to_owned(), s)));
    assert_eq!(
        s.period(p("2025-10")).unwrap().timeliness,
        Some(Timeliness::Late { days: 1 })
    );
    assert_eq!(
        s.period(p("2025-09")).unwrap().timeliness,
        Some(Timeliness::OnTime)
    );
    let dec = s.period(p("2025-12")).unwrap();
    assert_eq!(
        (dec.original, dec.latest, dec.corrections),
        (Some(13), Some(14), 1)
    );
    assert_eq!(s.counts()["upcoming"], 4);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["periods"][2]["state"], "accepted");
    assert_eq!(
        json["periods"][2]["review"],
        serde_json::json!({ "decision": "accepted", "report": 12 })
    );
    assert_eq!(
        json["periods"][1]["timeliness"],
        serde_json::json!({ "kind": "late", "days": 1 })
    );
    assert_eq!(json["periods"][0]["due"], "2025-10-16T00:00:00+02:00");
    // After 15 May (Swedish time), April is missing too.
    let later = contract_status(
        &terms(),
        &reports,
        &reviews,
        datetime!(2026-05-15 22:00:01 UTC),
    );
    assert_eq!(later.period(p("2026-04")).unwrap().state, S::Missing);
    let just_before = contract_status(
        &terms(),
        &reports,
        &reviews,
        datetime!(2026-05-15 21:59:59 UTC),
    );
    assert_eq!(just_before.period(p("2026-04")).unwrap().state, S::Due);
}

#[test]
fn anomaly_flags_explain_themselves() {
    let (reports, reviews) = history();
    let s = contract_status(
        &terms(),
        &reports,
        &reviews,
        datetime!(2026-05-10 12:00 UTC),
    );
    let flags = |period: &str| -> Vec<FlagCode> {
        s.period(p(period))
            .unwrap()
            .flags
            .iter()
            .map(|f| f.code)
            .collect()
    };
    assert_eq!(flags("2025-09"), vec![]);
    assert_eq!(flags("2025-10"), vec![FlagCode::CostsOverBudget]);
    assert_eq!(flags("2025-11"), vec![]);
    assert_eq!(flags("2025-12"), vec![FlagCode::CaseloadJump]);
    assert_eq!(flags("2026-01"), vec![FlagCode::RelocationsWithoutSupport]);
    assert_eq!(
        flags("2026-02"),
        vec![FlagCode::SeriousDeviationsNotReported]
    );
    let oct = &s.period(p("2025-10")).unwrap().flags[0];
    assert_eq!(
        oct.explanation,
        "130000 kr was invoiced for 2025-10, 30% more than the month's share of the budget (100000 kr)."
    );
    let dec = &s.period(p("2025-12")).unwrap().flags[0];
    assert_eq!(
        dec.explanation,
        "Active participants went from 23 in 2025-11 to 40 in 2025-12."
    );
    assert!(s.flags.is_empty());
}

#[test]
fn costs_against_the_budget() {
    let (reports, reviews) = history();
    let s = contract_status(
        &terms(),
        &reports,
        &reviews,
        datetime!(2026-05-10 12:00 UTC),
    );
    assert_eq!(
        s.budget,
        BudgetSummary {
            budget: 1_200_000,
            months: 12,
            months_invoiced: 6,
            invoiced: 630_000,
            budget_for_months_invoiced: 600_000,
            budget_to_date: 800_000,
        }
    );
    // Half the budget: everything is over budget, month by month and in total.
    let tight = ContractTerms {
        budget: Sek(600_000),
        ..terms()
    };
    let s = contract_status(&tight, &reports, &reviews, datetime!(2026-05-10 12:00 UTC));
    assert_eq!(s.flags.len(), 1);
    assert_eq!(s.flags[0].code, FlagCode::CumulativeCostsOverBudget);
    assert!(
        s.flags[0]
            .explanation
            .contains("630000 kr has been invoiced for 6 month(s), 110% more"),
        "{}",
        s.flags[0].explanation
    );
}

#[test]
fn monthly_shares_add_up_to_the_budget() {
    let t = ContractTerms {
        first: p("2026-01"),
        last: p("2026-03"),
        budget: Sek(1_000_000),
    };
    assert_eq!(t.months(), 3);
    assert_eq!(
        [
            t.monthly_budget(1),
            t.monthly_budget(2),
            t.monthly_budget(3)
        ],
        [333_333, 333_333, 333_334]
    );
    assert_eq!(t.cumulative_budget(3), 1_000_000);
    assert_eq!(t.cumulative_budget(99), 1_000_000);
    let across_years = ContractTerms {
        first: p("2025-11"),
        last: p("2027-02"),
        budget: Sek(0),
    };
    assert_eq!(across_years.months(), 16);
}

#[test]
fn missing_payloads_still_give_a_reporting_state() {
    let reports = vec![event(
        1,
        "2025-09",
        datetime!(2025-10-01 09:00 UTC),
        None,
        None,
    )];
    let s = contract_status(&terms(), &reports, &[], datetime!(2026-05-10 12:00 UTC));
    let sep = s.period(p("2025-09")).unwrap();
    assert_eq!((sep.state, sep.invoiced), (ReportingState::OnTime, None));
    assert_eq!(s.budget.months_invoiced, 0);
}

#[test]
fn every_flag_is_documented_for_providers() {
    let doc = include_str!("../../../../docs/REPORT-SCHEMA.md");
    for code in [
        FlagCode::CostsOverBudget,
        FlagCode::CumulativeCostsOverBudget,
        FlagCode::CaseloadJump,
        FlagCode::SeriousDeviationsNotReported,
        FlagCode::RelocationsWithoutSupport,
        FlagCode::CostsWithoutParticipants,
    ] {
        let name = serde_json::to_value(code).unwrap();
        let name = name.as_str().unwrap();
        assert!(doc.contains(&format!("`{name}`")), "{name}");
    }
}

#[test]
fn events_are_collected_from_statements_in_log_order() {
    use insyn_ledger::entry::{Actor, AuditorRef, Body, ContractRef, Statement};
    use insyn_ledger::keys::KeyId;

    let mine = ContractRef {
        municipality: "0180".parse().unwrap(),
        reference: "A".parse().unwrap(),
    };
    let other = ContractRef {
        municipality: "0180".parse().unwrap(),
        reference: "B".parse().unwrap(),
    };
    let prov = Actor::Provider("5599123451".parse().unwrap());
    let muni = Actor::Municipality("0180".parse().unwrap());
    let auditor: AuditorRef = "a-1".parse().unwrap();
    let st = |actor: &Actor, body: Body, payload: bool| {
        Statement::new(
            actor.clone(),
            KeyId([0; 32]),
            body,
            payload.then_some([1; 32]),
        )
        .unwrap()
    };
    let log = [
        st(
            &prov,
            Body::ReportSubmitted {
                contract: mine.clone(),
                period: p("2026-01"),
            },
            true,
        ),
        st(
            &prov,
            Body::ReportSubmitted {
                contract: other.clone(),
                period: p("2026-01"),
            },
            true,
        ),
        st(
            &prov,
            Body::ReportCorrected {
                contract: mine.clone(),
                period: p("2026-01"),
                supersedes: 0,
            },
            true,
        ),
        st(
            &muni,
            Body::ReportReviewed {
                report: 1,
                decision: Decision::Accepted,
                auditor: auditor.clone(),
            },
            false,
        ),
        st(
            &muni,
            Body::ReportReviewed {
                report: 2,
                decision: Decision::Flagged,
                auditor,
            },
            false,
        ),
    ];
    let (reports, reviews) = events_for_contract(
        &mine,
        log.iter()
            .enumerate()
            .map(|(i, s)| (i as u64, s, 1_000 * i as u64)),
    );
    assert_eq!(
        reports
            .iter()
            .map(|r| (r.index, r.supersedes))
            .collect::<Vec<_>>(),
        vec![(0, None), (2, Some(0))]
    );
    assert_eq!(reviews.len(), 1);
    assert_eq!(
        (reviews[0].index, reviews[0].report, reviews[0].decision),
        (4, 2, Decision::Flagged)
    );
}
