//! The activity report, schema version 1: what a provider reports about one contract and one month.
//!
//! The types here are the report's meaning; [`report_schema_json`] is the same shape published as a
//! JSON Schema (draft 2020-12) for anyone who writes reports outside Rust; [`validate_report`] is the
//! one entry point that turns untrusted bytes into a [`Report`], listing every problem it finds.
//! `docs/REPORT-SCHEMA.md` explains every field to providers.
//!
//! No report ever names a person: only counts, by design. Free-text fields are bounded and are
//! checked for anything shaped like a Swedish personal identity number.

mod errors;
mod pnr;
mod schema;
mod validate;

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use insyn_ledger::entry::{ContractRef, ContractReference};
use insyn_ledger::id::{CountyCode, MunicipalityCode, OrgNumber, Period};
use serde::{Deserialize, Serialize};

pub use errors::{ReportError, ReportErrorCode, ReportErrors};
pub use pnr::find_personal_number;
pub use schema::{REPORT_SCHEMA_ID, report_schema_json};
pub use validate::{check_against_statement, days_in_month, validate_report, validate_report_for};

/// The only report schema version this crate reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// Largest report accepted, in bytes of JSON. A real monthly report is a few kilobytes; anything
/// larger is refused before it is parsed, so hostile input costs little.
pub const MAX_REPORT_BYTES: usize = 64 * 1024;
/// Longest `free_text.narrative`, in Unicode characters.
pub const MAX_NARRATIVE_CHARS: usize = 4000;
/// Longest `free_text.message_to_municipality`, in Unicode characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;
/// Longest `subcontractors[].delivered`, in Unicode characters.
pub const MAX_DELIVERED_CHARS: usize = 500;
/// Most subcontractors in one report.
pub const MAX_SUBCONTRACTORS: usize = 50;
/// Longest contract reference, as in the ledger's `ContractRef`.
pub const MAX_CONTRACT_REFERENCE_CHARS: usize = 64;
/// Largest count of people, sessions, nights, moves or events in one field.
pub const MAX_COUNT: u32 = 1_000_000;
/// Largest number of staff hours in one month.
pub const MAX_HOURS: u32 = 10_000_000;
/// Largest staffing, in hundredths of a full-time equivalent (100 000 FTE).
pub const MAX_FTE_HUNDREDTHS: u32 = 10_000_000;
/// Largest amount in one cost field, in whole kronor (one thousand billion).
pub const MAX_SEK: u64 = 1_000_000_000_000;

/// One monthly activity report for one contract, schema version 1.
///
/// Build one from untrusted bytes only with [`validate_report`]: deserialising directly skips the
/// size limits and business checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Always [`SCHEMA_VERSION`] (1).
    #[serde(deserialize_with = "bounded::version")]
    pub schema_version: u32,
    /// The contract reported on.
    pub contract: ContractId,
    /// The calendar month reported on.
    pub period: Period,
    /// The reporting provider's organisation number.
    pub provider: OrgNumber,
    /// Participants, by stage.
    pub caseload: Caseload,
    /// Services delivered during the month.
    pub services: Services,
    /// Participants helped to move, by destination county (län) code. Never a municipality or an
    /// address. Counties with no moves are left out.
    pub relocations_by_county: BTreeMap<CountyCode, NonZeroU32>,
    /// Staffing during the month.
    pub staff: Staff,
    /// Subcontractors that delivered part of the service this month (at most [`MAX_SUBCONTRACTORS`]).
    #[serde(deserialize_with = "bounded::subcontractors")]
    pub subcontractors: Vec<Subcontractor>,
    /// Costs invoiced to the municipality for the month, in whole kronor.
    pub costs_sek: Costs,
    /// Deviations, reports to IVO, threats and violence.
    pub incidents: Incidents,
    /// Complaints from participants, relatives or others.
    pub complaints: Complaints,
    /// The provider's own words. No names or personal numbers.
    pub free_text: FreeText,
}

/// The contract a report is about: the municipality that signed it and its reference there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractId {
    /// The contracting municipality.
    pub municipality: MunicipalityCode,
    /// The municipality's reference for the contract: 1 to 64 characters of `A-Z a-z 0-9 . _ -`,
    /// the ledger's own type, so a report and a statement can never spell a contract differently.
    pub reference: ContractReference,
}

impl ContractId {
    /// The ledger's name for the same contract.
    #[must_use]
    pub fn to_contract_ref(&self) -> ContractRef {
        ContractRef {
            municipality: self.municipality,
            reference: self.reference.clone(),
        }
    }
}

impl From<&ContractRef> for ContractId {
    fn from(c: &ContractRef) -> Self {
        Self {
            municipality: c.municipality,
            reference: c.reference.clone(),
        }
    }
}

/// Participants by stage during the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caseload {
    /// People in intake assessment at some time during the month, not (yet) enrolled.
    pub in_intake_assessment: u32,
    /// Enrolled participants at some time during the month, including those who completed or
    /// left during it.
    pub active: u32,
    /// Participants who completed the program (exit achieved) during the month.
    pub completed: u32,
    /// Participants whose program was interrupted during the month (they left, or were excluded).
    pub interrupted: u32,
    /// People who came to the provider for the first time during the month (in intake or enrolled).
    pub new_this_period: u32,
}

/// Services delivered during the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Services {
    /// Nights of protected or temporary housing provided (one person, one night = 1).
    pub protected_housing_nights: u32,
    /// Moves to a new home that the provider supported.
    pub relocation_support_moves: u32,
    /// Individual or group counselling and therapy sessions held.
    pub counselling_sessions: u32,
    /// Participants supported towards work or studies.
    pub work_or_study_support_participants: u32,
    /// Referrals to addiction treatment made.
    pub addiction_treatment_referrals: u32,
    /// Participants in addiction treatment during the month.
    pub addiction_treatment_participants: u32,
    /// Referrals to psychiatric care made.
    pub psychiatric_care_referrals: u32,
    /// Participants with an open debt or finance counselling case.
    pub debt_counselling_cases: u32,
    /// Contacts with the police's exit coordinators (avhopparsamordnare).
    pub police_exit_coordinator_contacts: u32,
}

/// Staffing during the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Staff {
    /// Full-time equivalents working on the contract, in hundredths (6.5 FTE = 650).
    pub fte_hundredths: u32,
    /// Hours worked on the contract.
    pub hours_worked: u32,
    /// Staff members with lived experience of leaving a criminal environment.
    pub with_lived_experience: u32,
    /// Staff members who joined during the month.
    pub joined: u32,
    /// Staff members who left during the month.
    pub left: u32,
    /// Changes in qualifications (a certification gained or lost, a licensed role filled or vacated).
    pub qualification_changes: u32,
}

/// A subcontractor and what it delivered this month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subcontractor {
    /// The subcontractor's organisation number.
    pub org_number: OrgNumber,
    /// What it delivered, e.g. "12 nights of protected housing". No names or personal numbers.
    #[serde(deserialize_with = "bounded::delivered")]
    pub delivered: String,
}

/// Costs invoiced for the month, in whole kronor (SEK), by category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Costs {
    /// Salaries and other staff costs.
    pub staff: u64,
    /// Protected and temporary housing.
    pub housing: u64,
    /// Treatment bought for participants.
    pub treatment: u64,
    /// Everything else.
    pub other: u64,
    /// The amount invoiced to the municipality: the sum of the four categories.
    pub total_invoiced: u64,
}

/// Deviations by severity, in the sense of lex Sarah (SoL 14 kap. 3 §, 7 §).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deviations {
    /// Risks of an irregularity (påtaglig risk för missförhållande).
    pub minor: u32,
    /// Irregularities (missförhållanden).
    pub significant: u32,
    /// Serious irregularities or a tangible risk of one (allvarligt missförhållande), which the
    /// law says must be reported to IVO.
    pub serious: u32,
}

impl Deviations {
    /// All deviations, whatever their severity.
    #[must_use]
    pub fn total(&self) -> u64 {
        u64::from(self.minor) + u64::from(self.significant) + u64::from(self.serious)
    }
}

/// Incidents during the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incidents {
    /// Deviations found during the month, by severity.
    pub deviations: Deviations,
    /// How many of those deviations were reported on to IVO (Inspektionen för vård och omsorg).
    pub reported_to_ivo: u32,
    /// Threats or violence against participants.
    pub threats_or_violence_against_participants: u32,
    /// Threats or violence against staff.
    pub threats_or_violence_against_staff: u32,
}

/// Complaints during the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Complaints {
    /// Complaints received.
    pub received: u32,
    /// Complaints resolved (including ones received in earlier months).
    pub resolved: u32,
}

/// The provider's own words, bounded in length. Never names or personal numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreeText {
    /// A short narrative of the month (may be empty).
    #[serde(deserialize_with = "bounded::narrative")]
    pub narrative: String,
    /// Anything the provider wants the municipality to know (may be empty).
    #[serde(deserialize_with = "bounded::message")]
    pub message_to_municipality: String,
}

impl Report {
    /// The report as canonical JSON bytes (fields in schema order, no whitespace).
    ///
    /// Serialising these types cannot fail (every map key is a string), so this returns bytes.
    #[must_use]
    pub fn to_json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Everyone counted in the caseload: intake plus enrolled.
    #[must_use]
    pub fn caseload_total(&self) -> u64 {
        u64::from(self.caseload.in_intake_assessment) + u64::from(self.caseload.active)
    }

    /// Relocations to all counties.
    #[must_use]
    pub fn relocations_total(&self) -> u64 {
        self.relocations_by_county
            .values()
            .map(|&n| u64::from(n.get()))
            .sum()
    }
}

/// A complete, valid example report, as published in `docs/REPORT-SCHEMA.md`.
#[must_use]
pub fn example_report_json() -> &'static str {
    include_str!("example-v1.json")
}

/// Length and charset limits enforced by the types too, so the types refuse what the schema refuses.
mod bounded {
    use serde::{Deserialize, Deserializer, de::Error};

    fn text<'de, D: Deserializer<'de>>(d: D, max: usize, what: &str) -> Result<String, D::Error> {
        let s = String::deserialize(d)?;
        if s.chars().count() > max {
            return Err(D::Error::custom(format!(
                "{what} must be at most {max} characters long"
            )));
        }
        Ok(s)
    }

    pub(super) fn version<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let v = u32::deserialize(d)?;
        if v != super::SCHEMA_VERSION {
            return Err(D::Error::custom(format!(
                "this server reads schema version {}",
                super::SCHEMA_VERSION
            )));
        }
        Ok(v)
    }

    pub(super) fn subcontractors<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<super::Subcontractor>, D::Error> {
        let v = Vec::<super::Subcontractor>::deserialize(d)?;
        if v.len() > super::MAX_SUBCONTRACTORS {
            return Err(D::Error::custom(format!(
                "at most {} subcontractors",
                super::MAX_SUBCONTRACTORS
            )));
        }
        Ok(v)
    }

    pub(super) fn narrative<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        text(d, super::MAX_NARRATIVE_CHARS, "narrative")
    }

    pub(super) fn message<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        text(d, super::MAX_MESSAGE_CHARS, "message_to_municipality")
    }

    pub(super) fn delivered<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        text(d, super::MAX_DELIVERED_CHARS, "delivered")
    }
}

#[cfg(test)]
mod tests;
