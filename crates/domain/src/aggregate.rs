//! Aggregate figures over many reports (per municipality, provider, contract or month), and the
//! public version of them, in which small counts of people are hidden.
//!
//! The public sees aggregate figures, never a person. A total of 1 or 2 (one relocation to a small
//! county, two participants who left) can point at someone who is known locally, so the public view
//! shows any count of people or events from 1 to [`SMALL_COUNT_LIMIT`] − 1 as "fewer than 3"
//! ([`Cell::FewerThan`]); zero, larger counts, money, hours and staffing are shown as they are. This
//! is the usual small-cell rule of official statistics, applied after summing, so it protects the
//! sums people actually see. Auditors and inspectors, who may read the reports themselves, get the
//! exact [`Totals`].

use std::collections::BTreeMap;

use insyn_ledger::id::CountyCode;
use serde::{Serialize, Serializer};

use crate::report::Report;

/// Counts below this (and above zero) are hidden in public figures.
pub const SMALL_COUNT_LIMIT: u64 = 3;

/// Exact sums over a set of reports (use the latest version of each report).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Reports summed.
    pub reports: u64,
    /// Sum of `caseload.in_intake_assessment`.
    pub in_intake_assessment: u64,
    /// Sum of `caseload.active`.
    pub active: u64,
    /// Sum of `caseload.completed`.
    pub completed: u64,
    /// Sum of `caseload.interrupted`.
    pub interrupted: u64,
    /// Sum of `caseload.new_this_period`.
    pub new_this_period: u64,
    /// Sum of `services.protected_housing_nights`.
    pub protected_housing_nights: u64,
    /// Sum of `services.relocation_support_moves`.
    pub relocation_support_moves: u64,
    /// Sum of `services.counselling_sessions`.
    pub counselling_sessions: u64,
    /// Sum of `services.work_or_study_support_participants`.
    pub work_or_study_support_participants: u64,
    /// Sum of `services.addiction_treatment_referrals`.
    pub addiction_treatment_referrals: u64,
    /// Sum of `services.addiction_treatment_participants`.
    pub addiction_treatment_participants: u64,
    /// Sum of `services.psychiatric_care_referrals`.
    pub psychiatric_care_referrals: u64,
    /// Sum of `services.debt_counselling_cases`.
    pub debt_counselling_cases: u64,
    /// Sum of `services.police_exit_coordinator_contacts`.
    pub police_exit_coordinator_contacts: u64,
    /// Relocations by destination county.
    pub relocations_by_county: BTreeMap<CountyCode, u64>,
    /// Sum of `staff.fte_hundredths`.
    pub fte_hundredths: u64,
    /// Sum of `staff.hours_worked`.
    pub hours_worked: u64,
    /// Sum of `costs_sek.staff`.
    pub cost_staff_sek: u64,
    /// Sum of `costs_sek.housing`.
    pub cost_housing_sek: u64,
    /// Sum of `costs_sek.treatment`.
    pub cost_treatment_sek: u64,
    /// Sum of `costs_sek.other`.
    pub cost_other_sek: u64,
    /// Sum of `costs_sek.total_invoiced`.
    pub invoiced_sek: u64,
    /// Sum of all deviations.
    pub deviations: u64,
    /// Sum of serious deviations.
    pub serious_deviations: u64,
    /// Sum of `incidents.reported_to_ivo`.
    pub reported_to_ivo: u64,
    /// Sum of threats or violence against participants and staff.
    pub threats_or_violence: u64,
    /// Sum of `complaints.received`.
    pub complaints_received: u64,
    /// Sum of `complaints.resolved`.
    pub complaints_resolved: u64,
}

impl Totals {
    /// Totals of no reports.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one report (saturating: sums never wrap).
    pub fn add(&mut self, r: &Report) {
        fn add(sum: &mut u64, n: impl Into<u64>) {
            *sum = sum.saturating_add(n.into());
        }
        add(&mut self.reports, 1u64);
        add(
            &mut self.in_intake_assessment,
            r.caseload.in_intake_assessment,
        );
        add(&mut self.active, r.caseload.active);
        add(&mut self.completed, r.caseload.completed);
        add(&mut self.interrupted, r.caseload.interrupted);
        add(&mut self.new_this_period, r.caseload.new_this_period);
        let s = &r.services;
        add(
            &mut self.protected_housing_nights,
            s.protected_housing_nights,
        );
        add(
            &mut self.relocation_support_moves,
            s.relocation_support_moves,
        );
        add(&mut self.counselling_sessions, s.counselling_sessions);
        add(
            &mut self.work_or_study_support_participants,
            s.work_or_study_support_participants,
        );
        add(
            &mut self.addiction_treatment_referrals,
            s.addiction_treatment_referrals,
        );
        add(
            &mut self.addiction_treatment_participants,
            s.addiction_treatment_participants,
        );
        add(
            &mut self.psychiatric_care_referrals,
            s.psychiatric_care_referrals,
        );
        add(&mut self.debt_counselling_cases, s.debt_counselling_cases);
        add(
            &mut self.police_exit_coordinator_contacts,
            s.police_exit_coordinator_contacts,
        );
        for (county, n) in &r.relocations_by_county {
            add(
                self.relocations_by_county.entry(*county).or_insert(0),
                n.get(),
            );
        }
        add(&mut self.fte_hundredths, r.staff.fte_hundredths);
        add(&mut self.hours_worked, r.staff.hours_worked);
        let c = &r.costs_sek;
        add(&mut self.cost_staff_sek, c.staff);
        add(&mut self.cost_housing_sek, c.housing);
        add(&mut self.cost_treatment_sek, c.treatment);
        add(&mut self.cost_other_sek, c.other);
        add(&mut self.invoiced_sek, c.total_invoiced);
        let i = &r.incidents;
        add(&mut self.deviations, i.deviations.total());
        add(&mut self.serious_deviations, i.deviations.serious);
        add(&mut self.reported_to_ivo, i.reported_to_ivo);
        add(
            &mut self.threats_or_violence,
            i.threats_or_violence_against_participants,
        );
        add(
            &mut self.threats_or_violence,
            i.threats_or_violence_against_staff,
        );
        add(&mut self.complaints_received, r.complaints.received);
        add(&mut self.complaints_resolved, r.complaints.resolved);
    }

    /// Totals of many reports.
    #[must_use]
    pub fn of<'a>(reports: impl IntoIterator<Item = &'a Report>) -> Self {
        let mut t = Self::new();
        for r in reports {
            t.add(r);
        }
        t
    }

    /// The figures the public may see: small counts of people and events hidden.
    #[must_use]
    pub fn public(&self) -> PublicTotals {
        PublicTotals {
            reports: self.reports,
            in_intake_assessment: Cell::of(self.in_intake_assessment),
            active: Cell::of(self.active),
            completed: Cell::of(self.completed),
            interrupted: Cell::of(self.interrupted),
            new_this_period: Cell::of(self.new_this_period),
            protected_housing_nights: Cell::of(self.protected_housing_nights),
            relocation_support_moves: Cell::of(self.relocation_support_moves),
            counselling_sessions: Cell::of(self.counselling_sessions),
            work_or_study_support_participants: Cell::of(self.work_or_study_support_participants),
            addiction_treatment_participants: Cell::of(self.addiction_treatment_participants),
            debt_counselling_cases: Cell::of(self.debt_counselling_cases),
            relocations_by_county: self
                .relocations_by_county
                .iter()
                .map(|(c, n)| (*c, Cell::of(*n)))
                .collect(),
            fte_hundredths: self.fte_hundredths,
            hours_worked: self.hours_worked,
            invoiced_sek: self.invoiced_sek,
            deviations: Cell::of(self.deviations),
            reported_to_ivo: Cell::of(self.reported_to_ivo),
            threats_or_violence: Cell::of(self.threats_or_violence),
            complaints_received: Cell::of(self.complaints_received),
        }
    }
}

/// One public figure: exact, or hidden because it is small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// The exact figure (zero, or at least [`SMALL_COUNT_LIMIT`]).
    Exact(u64),
    /// Between 1 and the limit − 1; shown as "fewer than" the limit.
    FewerThan(u64),
}

impl Cell {
    /// The public cell for a count.
    #[must_use]
    pub fn of(n: u64) -> Self {
        if n == 0 || n >= SMALL_COUNT_LIMIT {
            Cell::Exact(n)
        } else {
            Cell::FewerThan(SMALL_COUNT_LIMIT)
        }
    }
}

impl Serialize for Cell {
    /// A number when exact, the string `"<3"` when hidden.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Exact(n) => s.serialize_u64(*n),
            Cell::FewerThan(limit) => s.collect_str(&format_args!("<{limit}")),
        }
    }
}

/// Aggregate figures for the public: counts of people and events as [`Cell`]s; money, hours and
/// staffing exact. Fields the public does not need (fine-grained referral counts) are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicTotals {
    /// Reports summed.
    pub reports: u64,
    /// People in intake assessment.
    pub in_intake_assessment: Cell,
    /// Enrolled participants.
    pub active: Cell,
    /// Exits achieved.
    pub completed: Cell,
    /// Programs interrupted.
    pub interrupted: Cell,
    /// New people.
    pub new_this_period: Cell,
    /// Nights of protected housing.
    pub protected_housing_nights: Cell,
    /// Supported moves.
    pub relocation_support_moves: Cell,
    /// Counselling sessions.
    pub counselling_sessions: Cell,
    /// Participants in work or study support.
    pub work_or_study_support_participants: Cell,
    /// Participants in addiction treatment.
    pub addiction_treatment_participants: Cell,
    /// Debt counselling cases.
    pub debt_counselling_cases: Cell,
    /// Relocations by county.
    pub relocations_by_county: BTreeMap<CountyCode, Cell>,
    /// Staffing in hundredths of a full-time equivalent (summed over months).
    pub fte_hundredths: u64,
    /// Hours worked.
    pub hours_worked: u64,
    /// Invoiced, in kronor.
    pub invoiced_sek: u64,
    /// Deviations.
    pub deviations: Cell,
    /// Deviations reported to IVO.
    pub reported_to_ivo: Cell,
    /// Threats or violence.
    pub threats_or_violence: Cell,
    /// Complaints received.
    pub complaints_received: Cell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{example_report_json, validate_report};

    fn example() -> Report {
        validate_report(example_report_json().as_bytes()).unwrap()
    }

    #[test]
    fn totals_add_up() {
        let r = example();
        let t = Totals::of([&r, &r, &r]);
        assert_eq!(t.reports, 3);
        assert_eq!(t.active, 69);
        assert_eq!(t.invoiced_sek, 3 * 458_000);
        assert_eq!(
            t.cost_staff_sek + t.cost_housing_sek + t.cost_treatment_sek + t.cost_other_sek,
            t.invoiced_sek
        );
        assert_eq!(t.relocations_by_county.values().sum::<u64>(), 6);
        assert_eq!(t.threats_or_violence, 3);
    }

    #[test]
    fn small_counts_are_hidden_from_the_public() {
        let r = example();
        let one = Totals::of([&r]).public();
        // 2 completed, 1 interrupted, one relocation each to two counties: all hidden.
        assert_eq!(one.completed, Cell::FewerThan(3));
        assert_eq!(one.interrupted, Cell::FewerThan(3));
        assert!(
            one.relocations_by_county
                .values()
                .all(|c| *c == Cell::FewerThan(3))
        );
        // Zero and larger figures are exact; money is never hidden.
        assert_eq!(one.active, Cell::Exact(23));
        assert_eq!(one.reported_to_ivo, Cell::Exact(0));
        assert_eq!(one.invoiced_sek, 458_000);
        let json = serde_json::to_value(&one).unwrap();
        assert_eq!(json["completed"], "<3");
        assert_eq!(json["active"], 23);
        assert_eq!(json["relocations_by_county"]["12"], "<3");
        // Summed over three months the same counts can be shown.
        let three = Totals::of([&r, &r, &r]).public();
        assert_eq!(three.completed, Cell::Exact(6));
        assert_eq!(three.interrupted, Cell::Exact(3));
    }

    #[test]
    fn cells_at_the_limit() {
        assert_eq!(Cell::of(0), Cell::Exact(0));
        assert_eq!(Cell::of(1), Cell::FewerThan(3));
        assert_eq!(Cell::of(2), Cell::FewerThan(3));
        assert_eq!(Cell::of(3), Cell::Exact(3));
        assert_eq!(Cell::of(u64::MAX), Cell::Exact(u64::MAX));
    }
}
