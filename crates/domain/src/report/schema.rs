//! The published JSON Schema (draft 2020-12) of the activity report, version 1.
//!
//! Written by hand so that every field carries a description a provider can read; the tests in
//! `report::tests` keep it in agreement with the Rust types (every example validates against both;
//! every document the types refuse, the schema refuses too, except the checks JSON Schema cannot
//! express: Luhn check digits and personal numbers in text, which [`super::validate_report`] adds).

use insyn_ledger::id::{CountyCode, MunicipalityCode};
use serde_json::{Map, Value, json};

use super::{
    MAX_CONTRACT_REFERENCE_CHARS, MAX_COUNT, MAX_DELIVERED_CHARS, MAX_FTE_HUNDREDTHS, MAX_HOURS,
    MAX_MESSAGE_CHARS, MAX_NARRATIVE_CHARS, MAX_SEK, MAX_SUBCONTRACTORS, SCHEMA_VERSION,
};

/// The schema's `$id`.
pub const REPORT_SCHEMA_ID: &str = "urn:insyn:schema:activity-report:1";

/// The pattern of a period, `YYYY-MM` with a year from 2000.
pub(crate) const PERIOD_PATTERN: &str = "^(20[0-9]{2}|[2-9][0-9]{3})-(0[1-9]|1[0-2])$";
/// The pattern of an organisation number: ten digits, optionally `NNNNNN-NNNN`.
pub(crate) const ORG_NUMBER_PATTERN: &str = "^[0-9]{6}-?[0-9]{4}$";
/// The characters a contract reference may use.
pub(crate) const REFERENCE_PATTERN: &str = "^[A-Za-z0-9._-]*$";

fn count(description: &str) -> Value {
    json!({ "type": "integer", "minimum": 0, "maximum": MAX_COUNT, "description": description })
}

fn sek(description: &str) -> Value {
    json!({ "type": "integer", "minimum": 0, "maximum": MAX_SEK, "description": description })
}

fn text(max: usize, description: &str) -> Value {
    json!({ "type": "string", "maxLength": max, "description": description })
}

/// A closed object: every listed property required, nothing else allowed.
fn object(description: &str, properties: &[(&str, Value)]) -> Value {
    let mut props = Map::new();
    for (name, schema) in properties {
        props.insert((*name).to_owned(), schema.clone());
    }
    let required: Vec<&str> = properties.iter().map(|(n, _)| *n).collect();
    json!({
        "type": "object",
        "description": description,
        "properties": props,
        "required": required,
        "additionalProperties": false,
    })
}

fn org_number(description: &str) -> Value {
    json!({ "type": "string", "pattern": ORG_NUMBER_PATTERN, "description": description })
}

/// The activity report's JSON Schema (draft 2020-12), as published by the API.
#[must_use]
pub fn report_schema_json() -> Value {
    let municipalities: Vec<&str> = MunicipalityCode::all()
        .map(MunicipalityCode::code)
        .collect();
    let counties: Vec<String> = CountyCode::all().map(|c| c.to_string()).collect();
    let no_people = "No names or personal numbers.";

    let mut root = object(
        "A monthly activity report from a provider of a municipal exit program, for one contract \
         and one calendar month. Counts only: a report never identifies a person.",
        &[
            (
                "schema_version",
                json!({ "const": SCHEMA_VERSION, "description": "The schema version: 1." }),
            ),
            (
                "contract",
                object(
                    "The contract reported on.",
                    &[
                        (
                            "municipality",
                            json!({
                                "type": "string",
                                "enum": municipalities,
                                "description": "The contracting municipality's four-digit SCB code, e.g. 0180 (Stockholm).",
                            }),
                        ),
                        (
                            "reference",
                            json!({
                                "type": "string",
                                "minLength": 1,
                                "maxLength": MAX_CONTRACT_REFERENCE_CHARS,
                                "pattern": REFERENCE_PATTERN,
                                "description": "The municipality's reference for the contract: letters A-Z a-z, digits, '.', '_' and '-'.",
                            }),
                        ),
                    ],
                ),
            ),
            (
                "period",
                json!({
                    "type": "string",
                    "pattern": PERIOD_PATTERN,
                    "description": "The calendar month reported on, YYYY-MM.",
                }),
            ),
            (
                "provider",
                org_number(
                    "The reporting provider's organisation number (10 digits, Luhn check digit).",
                ),
            ),
            (
                "caseload",
                object(
                    "Participants by stage during the month.",
                    &[
                        (
                            "in_intake_assessment",
                            count(
                                "People in intake assessment during the month, not (yet) enrolled.",
                            ),
                        ),
                        (
                            "active",
                            count(
                                "Enrolled participants during the month, including those who completed or left during it.",
                            ),
                        ),
                        (
                            "completed",
                            count(
                                "Participants who completed the program (exit achieved) during the month.",
                            ),
                        ),
                        (
                            "interrupted",
                            count("Participants whose program was interrupted during the month."),
                        ),
                        (
                            "new_this_period",
                            count("People who came to the provider for the first time this month."),
                        ),
                    ],
                ),
            ),
            (
                "services",
                object(
                    "Services delivered during the month.",
                    &[
                        (
                            "protected_housing_nights",
                            count(
                                "Nights of protected or temporary housing (one person, one night = 1).",
                            ),
                        ),
                        (
                            "relocation_support_moves",
                            count("Moves to a new home that the provider supported."),
                        ),
                        (
                            "counselling_sessions",
                            count("Counselling and therapy sessions held."),
                        ),
                        (
                            "work_or_study_support_participants",
                            count("Participants supported towards work or studies."),
                        ),
                        (
                            "addiction_treatment_referrals",
                            count("Referrals to addiction treatment made."),
                        ),
                        (
                            "addiction_treatment_participants",
                            count("Participants in addiction treatment during the month."),
                        ),
                        (
                            "psychiatric_care_referrals",
                            count("Referrals to psychiatric care made."),
                        ),
                        (
                            "debt_counselling_cases",
                            count("Participants with an open debt or finance counselling case."),
                        ),
                        (
                            "police_exit_coordinator_contacts",
                            count("Contacts with the police's exit coordinators."),
                        ),
                    ],
                ),
            ),
            (
                "relocations_by_county",
                json!({
                    "type": "object",
                    "description": "Participants helped to move, by destination county (län) code. Never a municipality or an address. Counties without moves are left out.",
                    "propertyNames": { "enum": counties },
                    "additionalProperties": {
                        "type": "integer", "minimum": 1, "maximum": MAX_COUNT,
                        "description": "Moves to this county during the month.",
                    },
                }),
            ),
            (
                "staff",
                object(
                    "Staffing on the contract during the month.",
                    &[
                        (
                            "fte_hundredths",
                            json!({
                                "type": "integer", "minimum": 0, "maximum": MAX_FTE_HUNDREDTHS,
                                "description": "Full-time equivalents in hundredths: 6.5 FTE is 650.",
                            }),
                        ),
                        (
                            "hours_worked",
                            json!({
                                "type": "integer", "minimum": 0, "maximum": MAX_HOURS,
                                "description": "Hours worked on the contract.",
                            }),
                        ),
                        (
                            "with_lived_experience",
                            count(
                                "Staff members with lived experience of leaving a criminal environment.",
                            ),
                        ),
                        (
                            "joined",
                            count("Staff members who joined during the month."),
                        ),
                        ("left", count("Staff members who left during the month.")),
                        (
                            "qualification_changes",
                            count(
                                "Changes in qualifications: a certification gained or lost, a licensed role filled or vacated.",
                            ),
                        ),
                    ],
                ),
            ),
            (
                "subcontractors",
                json!({
                    "type": "array",
                    "maxItems": MAX_SUBCONTRACTORS,
                    "description": "Subcontractors that delivered part of the service this month.",
                    "items": object(
                        "A subcontractor and what it delivered.",
                        &[
                            ("org_number", org_number("The subcontractor's organisation number.")),
                            ("delivered", text(MAX_DELIVERED_CHARS, &format!("What it delivered this month. {no_people}"))),
                        ],
                    ),
                }),
            ),
            (
                "costs_sek",
                object(
                    "Costs invoiced to the municipality for the month, in whole kronor (SEK).",
                    &[
                        ("staff", sek("Salaries and other staff costs.")),
                        ("housing", sek("Protected and temporary housing.")),
                        ("treatment", sek("Treatment bought for participants.")),
                        ("other", sek("Everything else.")),
                        (
                            "total_invoiced",
                            sek("The amount invoiced: the sum of the four categories."),
                        ),
                    ],
                ),
            ),
            (
                "incidents",
                object(
                    "Incidents during the month.",
                    &[
                        (
                            "deviations",
                            object(
                                "Deviations found (lex Sarah), by severity.",
                                &[
                                    ("minor", count("Tangible risks of an irregularity.")),
                                    ("significant", count("Irregularities.")),
                                    (
                                        "serious",
                                        count(
                                            "Serious irregularities or a tangible risk of one; these must be reported to IVO.",
                                        ),
                                    ),
                                ],
                            ),
                        ),
                        (
                            "reported_to_ivo",
                            count("How many of the deviations were reported on to IVO."),
                        ),
                        (
                            "threats_or_violence_against_participants",
                            count("Threats or violence against participants."),
                        ),
                        (
                            "threats_or_violence_against_staff",
                            count("Threats or violence against staff."),
                        ),
                    ],
                ),
            ),
            (
                "complaints",
                object(
                    "Complaints during the month.",
                    &[
                        ("received", count("Complaints received.")),
                        (
                            "resolved",
                            count("Complaints resolved, including ones received earlier."),
                        ),
                    ],
                ),
            ),
            (
                "free_text",
                object(
                    "The provider's own words. Keep to aggregates.",
                    &[
                        (
                            "narrative",
                            text(
                                MAX_NARRATIVE_CHARS,
                                &format!(
                                    "A short narrative of the month (may be empty). {no_people}"
                                ),
                            ),
                        ),
                        (
                            "message_to_municipality",
                            text(
                                MAX_MESSAGE_CHARS,
                                &format!(
                                    "Anything the provider wants the municipality to know (may be empty). {no_people}"
                                ),
                            ),
                        ),
                    ],
                ),
            ),
        ],
    );
    if let Value::Object(map) = &mut root {
        map.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        map.insert("$id".into(), json!(REPORT_SCHEMA_ID));
        map.insert("title".into(), json!("Insyn activity report, version 1"));
    }
    root
}
