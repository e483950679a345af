//! [`validate_report`]: untrusted bytes in, a [`Report`] or every problem out.
//!
//! Stages, each adding to one list of problems:
//! 1. size: more than [`MAX_REPORT_BYTES`] is refused at once, before parsing;
//! 2. JSON syntax: a document that does not parse is refused at once (there is nothing to point into);
//! 3. checks on the parsed document: numbers with decimals, organisation-number check digits,
//!    county codes, and personal-number-shaped text anywhere;
//! 4. the published JSON Schema, every violation;
//! 5. only if the document has the right shape: the business rules below, which need the typed report.
//!
//! Business rules (each one a municipality can check by hand from the report alone):
//! - `costs_do_not_sum`: staff + housing + treatment + other = total_invoiced;
//! - `outcomes_exceed_caseload`: completed + interrupted <= in_intake_assessment + active;
//! - `new_exceed_caseload`: new_this_period <= in_intake_assessment + active;
//! - `participants_exceed_caseload`: each service counted in participants (work or study support,
//!   addiction treatment participants, debt counselling cases) <= in_intake_assessment + active;
//! - `housing_nights_exceed_caseload`: protected_housing_nights <= (in_intake_assessment + active)
//!   × days in the month;
//! - `ivo_reports_exceed_deviations`: reported_to_ivo <= all deviations;
//! - `duplicate_subcontractor`, `subcontractor_is_provider`: each subcontractor once, never the
//!   provider itself.
//!
//! Deliberately not rules: complaints resolved may exceed complaints received (older complaints are
//! resolved too); relocations may exceed relocation-support moves (a participant may move without
//! the provider's help) — the status module flags the surprising cases instead of refusing them.

use std::sync::LazyLock;

use insyn_ledger::entry::ContractRef;
use insyn_ledger::id::{CountyCode, IdError, OrgNumber, Period};
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use super::errors::{ReportError, ReportErrorCode as Code, ReportErrors};
use super::pnr::find_personal_number;
use super::schema::report_schema_json;
use super::{MAX_REPORT_BYTES, Report};

/// The compiled schema, built once. Building can only fail if the hand-written schema is broken,
/// which a unit test rules out; the error is kept so that validation then reports it.
static VALIDATOR: LazyLock<Result<(Value, jsonschema::Validator), String>> = LazyLock::new(|| {
    let schema = report_schema_json();
    jsonschema::draft202012::new(&schema)
        .map(|v| (schema, v))
        .map_err(|e| e.to_string())
});

/// Reads and checks a report from untrusted bytes, listing every problem found.
///
/// # Errors
/// [`ReportErrors`], never empty, each with a JSON pointer, a stable code and an English message.
pub fn validate_report(bytes: &[u8]) -> Result<Report, ReportErrors> {
    let fail = |e: ReportError| Err(ReportErrors(vec![e]));
    if bytes.len() > MAX_REPORT_BYTES {
        return fail(ReportError::new(
            "",
            Code::ReportTooLarge,
            format!(
                "the report is {} bytes; the limit is {MAX_REPORT_BYTES} bytes",
                bytes.len()
            ),
        ));
    }
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return fail(ReportError::new(
                "",
                Code::InvalidJson,
                format!("the report is not valid JSON: {e}"),
            ));
        }
    };

    let mut errors = Vec::new();
    check_document(&value, &mut errors);
    check_schema(&value, &mut errors);
    if !errors.is_empty() {
        return Err(ReportErrors(errors));
    }
    let report: Report = match serde_json::from_value(value) {
        Ok(r) => r,
        Err(e) => {
            // The schema and the types agree (tested), so this is a bug, reported rather than hidden.
            return fail(ReportError::new(
                "",
                Code::Internal,
                format!("the report could not be read: {e}"),
            ));
        }
    };
    check_business_rules(&report, &mut errors);
    if errors.is_empty() {
        Ok(report)
    } else {
        Err(ReportErrors(errors))
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
/// A field name that contains a personal number is shown with that part replaced by `*`s: error
/// messages are logged and displayed, and must not spread what they refuse.
fn segment(name: &str) -> String {
    let masked;
    let name = match find_personal_number(name) {
        Some(r) => {
            masked = format!(
                "{}{}{}",
                &name[..r.start],
                "*".repeat(r.len()),
                &name[r.end..]
            );
            masked.as_str()
        }
        None => name,
    };
    name.replace('~', "~0").replace('/', "~1")
}

/// Checks that need the parsed document but not its shape.
fn check_document(value: &Value, errors: &mut Vec<ReportError>) {
    walk(value, &mut Vec::new(), errors);
    check_org_number(value, "/provider", errors);
    if let Some(Value::Array(items)) = value.get("subcontractors") {
        for i in 0..items.len() {
            check_org_number(value, &format!("/subcontractors/{i}/org_number"), errors);
        }
    }
    if let Some(Value::Object(counties)) = value.get("relocations_by_county") {
        for key in counties.keys() {
            if key.parse::<CountyCode>().is_err() {
                errors.push(ReportError::new(
                    format!("/relocations_by_county/{}", segment(key)),
                    Code::UnknownCounty,
                    "relocations are counted by county (län) code, two digits as SCB assigns them, e.g. 14",
                ));
            }
        }
    }
}

fn check_org_number(value: &Value, path: &str, errors: &mut Vec<ReportError>) {
    if let Some(Value::String(s)) = value.pointer(path)
        && let Err(IdError::OrgNumberCheckDigit(_)) = s.parse::<OrgNumber>()
    {
        errors.push(ReportError::new(
            path,
            Code::OrgNumberCheckDigit,
            "this organisation number's last digit is not its check digit; check for a typing error",
        ));
    }
}

/// One step of the path `walk` is at: a field name or an array position.
#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The JSON pointer of `steps` (only built for a problem found, not for every field walked).
fn pointer(steps: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in steps {
        out.push('/');
        match step {
            Step::Key(key) => out.push_str(&segment(key)),
            Step::Index(i) => out.push_str(&i.to_string()),
        }
    }
    out
}

/// Every string (values and keys) and every number, recursively.
fn walk<'a>(value: &'a Value, path: &mut Vec<Step<'a>>, errors: &mut Vec<ReportError>) {
    match value {
        Value::String(s) => {
            if find_personal_number(s).is_some() {
                errors.push(ReportError::new(
                    pointer(path),
                    Code::PersonalNumberInText,
                    "this text contains something shaped like a Swedish personal identity number; \
                     reports must never name or identify a person, so remove it",
                ));
            }
        }
        Value::Number(n) => {
            if !(n.is_i64() || n.is_u64()) {
                errors.push(ReportError::new(
                    pointer(path),
                    Code::NotAWholeNumber,
                    "must be a whole number, written without decimals",
                ));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Step::Index(i));
                walk(item, path, errors);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                path.push(Step::Key(key));
                if find_personal_number(key).is_some() {
                    errors.push(ReportError::new(
                        pointer(path),
                        Code::PersonalNumberInText,
                        "this field name contains something shaped like a Swedish personal identity number",
                    ));
                }
                walk(item, path, errors);
                path.pop();
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}

fn type_phrase(schema_type: Option<&Value>) -> &'static str {
    match schema_type.and_then(Value::as_str) {
        Some("integer") => "a whole number",
        Some("string") => "text (a JSON string)",
        Some("object") => "an object",
        Some("array") => "a list (a JSON array)",
        _ => "another type",
    }
}

fn pattern_message(path: &str) -> &'static str {
    if path == "/period" {
        "must be a calendar month written YYYY-MM, e.g. 2026-03"
    } else if path.ends_with("/reference") {
        "a contract reference may only use the letters A-Z and a-z, digits, '.', '_' and '-'"
    } else if path == "/provider" || path.ends_with("/org_number") {
        "must be an organisation number: 10 digits, written NNNNNNNNNN or NNNNNN-NNNN"
    } else {
        "has the wrong format"
    }
}

fn check_schema(value: &Value, errors: &mut Vec<ReportError>) {
    let (schema, validator) = match &*VALIDATOR {
        Ok(pair) => pair,
        Err(e) => {
            errors.push(ReportError::new(
                "",
                Code::Internal,
                format!("the report schema is broken: {e}"),
            ));
            return;
        }
    };
    // The common case, a valid report, takes the fast path; only invalid ones collect errors.
    if validator.is_valid(value) {
        return;
    }
    // Problems stage 3 already reported in a clearer way.
    let already = |path: &str, code: Code| errors.iter().any(|e| e.path == path && e.code == code);
    let mut found = Vec::new();
    for e in validator.iter_errors(value) {
        let path = e.instance_path().as_str().to_owned();
        let error = match e.kind() {
            ValidationErrorKind::Required { property } => ReportError::new(
                format!("{path}/{}", segment(property.as_str().unwrap_or_default())),
                Code::MissingField,
                "this field is required (write 0 or \"\" when there is nothing to report)",
            ),
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for name in unexpected {
                    found.push(ReportError::new(
                        format!("{path}/{}", segment(name)),
                        Code::UnknownField,
                        "this field is not part of the report schema, version 1",
                    ));
                }
                continue;
            }
            ValidationErrorKind::Type { .. } => {
                if already(&path, Code::NotAWholeNumber) {
                    continue;
                }
                let expected = type_phrase(schema.pointer(e.schema_path().as_str()));
                ReportError::new(path, Code::WrongType, format!("must be {expected}"))
            }
            ValidationErrorKind::Minimum { limit } => ReportError::new(
                path,
                Code::ValueTooSmall,
                format!("must be at least {limit}"),
            ),
            ValidationErrorKind::Maximum { limit } => ReportError::new(
                path,
                Code::ValueTooLarge,
                format!("must be at most {limit}"),
            ),
            ValidationErrorKind::MaxLength { limit } => ReportError::new(
                path,
                Code::TextTooLong,
                format!("must be at most {limit} characters long"),
            ),
            ValidationErrorKind::MinLength { .. } => {
                ReportError::new(path, Code::TextTooShort, "must not be empty")
            }
            ValidationErrorKind::MaxItems { limit }
            | ValidationErrorKind::MaxProperties { limit } => ReportError::new(
                path,
                Code::TooManyItems,
                format!("may hold at most {limit} items"),
            ),
            ValidationErrorKind::Pattern { .. } => {
                let message = pattern_message(&path);
                ReportError::new(path, Code::BadFormat, message)
            }
            ValidationErrorKind::Enum { .. } if path.ends_with("/municipality") => {
                ReportError::new(
                    path,
                    Code::UnknownMunicipality,
                    "must be a Swedish municipality code: four digits as SCB assigns them, e.g. 0180 for Stockholm",
                )
            }
            // Reported per key by stage 3.
            ValidationErrorKind::PropertyNames { .. } => continue,
            ValidationErrorKind::Constant { .. } if path == "/schema_version" => ReportError::new(
                path,
                Code::UnsupportedSchemaVersion,
                "this server reads schema version 1; write \"schema_version\": 1",
            ),
            _ => ReportError::new(path, Code::SchemaViolation, e.masked().to_string()),
        };
        found.push(error);
    }
    errors.extend(found);
}

fn check_business_rules(r: &Report, errors: &mut Vec<ReportError>) {
    let mut push =
        |path: &str, code, message: String| errors.push(ReportError::new(path, code, message));
    let c = &r.costs_sek;
    let sum =
        u128::from(c.staff) + u128::from(c.housing) + u128::from(c.treatment) + u128::from(c.other);
    if sum != u128::from(c.total_invoiced) {
        push(
            "/costs_sek/total_invoiced",
            Code::CostsDoNotSum,
            format!(
                "total_invoiced is {} kr but staff + housing + treatment + other add up to {sum} kr",
                c.total_invoiced
            ),
        );
    }

    let caseload = r.caseload_total();
    let k = &r.caseload;
    let outcomes = u64::from(k.completed) + u64::from(k.interrupted);
    if outcomes > caseload {
        push(
            "/caseload",
            Code::OutcomesExceedCaseload,
            format!(
                "completed + interrupted is {outcomes}, more than the {caseload} people in the caseload \
                 (in_intake_assessment + active); people who left during the month still count as active"
            ),
        );
    }
    if u64::from(k.new_this_period) > caseload {
        push(
            "/caseload/new_this_period",
            Code::NewExceedCaseload,
            format!(
                "new_this_period is {}, more than the {caseload} people in the caseload \
                 (in_intake_assessment + active)",
                k.new_this_period
            ),
        );
    }
    let s = &r.services;
    for (field, n) in [
        (
            "work_or_study_support_participants",
            s.work_or_study_support_participants,
        ),
        (
            "addiction_treatment_participants",
            s.addiction_treatment_participants,
        ),
        ("debt_counselling_cases", s.debt_counselling_cases),
    ] {
        if u64::from(n) > caseload {
            push(
                &format!("/services/{field}"),
                Code::ParticipantsExceedCaseload,
                format!("{field} is {n}, more than the {caseload} people in the caseload"),
            );
        }
    }
    let days = u64::from(days_in_month(r.period));
    if u64::from(s.protected_housing_nights) > caseload * days {
        push(
            "/services/protected_housing_nights",
            Code::HousingNightsExceedCaseload,
            format!(
                "{} nights is more than {caseload} people could use in a month of {days} days",
                s.protected_housing_nights
            ),
        );
    }

    let i = &r.incidents;
    if u64::from(i.reported_to_ivo) > i.deviations.total() {
        push(
            "/incidents/reported_to_ivo",
            Code::IvoReportsExceedDeviations,
            format!(
                "reported_to_ivo is {}, more than the {} deviations reported",
                i.reported_to_ivo,
                i.deviations.total()
            ),
        );
    }

    for (n, sub) in r.subcontractors.iter().enumerate() {
        let path = format!("/subcontractors/{n}/org_number");
        if sub.org_number == r.provider {
            push(
                &path,
                Code::SubcontractorIsProvider,
                "the provider cannot be its own subcontractor".into(),
            );
        }
        if r.subcontractors[..n]
            .iter()
            .any(|earlier| earlier.org_number == sub.org_number)
        {
            push(
                &path,
                Code::DuplicateSubcontractor,
                "this subcontractor is already listed; describe everything it delivered in one entry".into(),
            );
        }
    }
}

/// Days in the period's month (28 to 31).
#[must_use]
pub fn days_in_month(p: Period) -> u8 {
    let month = time::Month::try_from(p.month()).unwrap_or(time::Month::January);
    time::util::days_in_month(month, i32::from(p.year()))
}

/// Checks that a report is about what the signed statement says: the same contract, period and
/// provider. The statement is what the ledger indexes, so they must never disagree.
///
/// # Errors
/// One [`ReportError`] per field that differs (codes `statement_mismatch`).
pub fn check_against_statement(
    report: &Report,
    contract: &ContractRef,
    period: Period,
    provider: &OrgNumber,
) -> Result<(), ReportErrors> {
    let mut errors = Vec::new();
    if report.contract.to_contract_ref() != *contract {
        errors.push(ReportError::new(
            "/contract",
            Code::StatementMismatch,
            format!(
                "the report is about contract {}, but the signed statement names {contract}",
                report.contract.to_contract_ref()
            ),
        ));
    }
    if report.period != period {
        errors.push(ReportError::new(
            "/period",
            Code::StatementMismatch,
            format!(
                "the report is about {}, but the signed statement names {period}",
                report.period
            ),
        ));
    }
    if report.provider != *provider {
        errors.push(ReportError::new(
            "/provider",
            Code::StatementMismatch,
            format!(
                "the report is from {}, but the statement is signed by {provider}",
                report.provider
            ),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ReportErrors(errors))
    }
}

/// Everything the API checks about a report submission's payload, in one call: the payload's
/// SHA-256 is the one the statement signs, the report is valid ([`validate_report`]), and it is
/// about the statement's contract, period and provider ([`check_against_statement`]). For
/// statements that are not reports or corrections, says so.
///
/// # Errors
/// Every problem found, as [`ReportErrors`].
pub fn validate_report_for(
    bytes: &[u8],
    statement: &insyn_ledger::entry::Statement,
) -> Result<Report, ReportErrors> {
    use insyn_ledger::entry::{Actor, Body};
    use sha2::{Digest, Sha256};

    let (contract, period) = match statement.body() {
        Body::ReportSubmitted { contract, period }
        | Body::ReportCorrected {
            contract, period, ..
        } => (contract, *period),
        _ => {
            return Err(ReportErrors(vec![ReportError::new(
                "",
                Code::StatementMismatch,
                "only report and correction statements carry an activity report",
            )]));
        }
    };
    let digest: [u8; 32] = Sha256::digest(bytes).into();
    if statement.payload_sha256() != Some(digest) {
        return Err(ReportErrors(vec![ReportError::new(
            "",
            Code::PayloadHashMismatch,
            "the payload's SHA-256 is not the one the signed statement names; sign the exact bytes you send",
        )]));
    }
    let report = validate_report(bytes)?;
    let Actor::Provider(provider) = statement.actor() else {
        return Err(ReportErrors(vec![ReportError::new(
            "",
            Code::StatementMismatch,
            "reports are signed by their provider",
        )]));
    };
    check_against_statement(&report, contract, period, provider)?;
    Ok(report)
}
