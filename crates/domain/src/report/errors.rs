//! Report validation errors: a JSON pointer, a stable code and an English message for each problem.

use std::fmt;

use serde::Serialize;

/// What kind of problem a [`ReportError`] is. The code is stable (it is part of the API and the
/// portal translates it); the message beside it may be reworded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReportErrorCode {
    /// The report is larger than [`super::MAX_REPORT_BYTES`].
    ReportTooLarge,
    /// The bytes are not JSON (or not UTF-8).
    InvalidJson,
    /// `schema_version` is not a version this server reads.
    UnsupportedSchemaVersion,
    /// A required field is missing.
    MissingField,
    /// A field the schema does not know.
    UnknownField,
    /// A value of the wrong JSON type (e.g. a string where a number belongs).
    WrongType,
    /// A number with decimals where a whole number belongs.
    NotAWholeNumber,
    /// A number below its minimum (counts and amounts are never negative).
    ValueTooSmall,
    /// A number above its maximum.
    ValueTooLarge,
    /// A text longer than its limit.
    TextTooLong,
    /// A text shorter than its minimum (e.g. an empty contract reference).
    TextTooShort,
    /// A list with too many items.
    TooManyItems,
    /// A value in the wrong format (period, organisation number, contract reference).
    BadFormat,
    /// A municipality code that is not one of SCB's.
    UnknownMunicipality,
    /// A county code that is not one of SCB's.
    UnknownCounty,
    /// An organisation number whose check digit is wrong.
    OrgNumberCheckDigit,
    /// Text containing something shaped like a Swedish personal identity number.
    PersonalNumberInText,
    /// Any other schema violation.
    SchemaViolation,
    /// The four cost categories do not add up to `total_invoiced`.
    CostsDoNotSum,
    /// More participants completed or interrupted than were in the caseload.
    OutcomesExceedCaseload,
    /// More new people than in the caseload.
    NewExceedCaseload,
    /// More participants in a service than in the caseload.
    ParticipantsExceedCaseload,
    /// More housing nights than the caseload could have used in the month.
    HousingNightsExceedCaseload,
    /// More deviations reported to IVO than deviations.
    IvoReportsExceedDeviations,
    /// The same subcontractor listed twice.
    DuplicateSubcontractor,
    /// The provider listed as its own subcontractor.
    SubcontractorIsProvider,
    /// The report's contract, period or provider differ from the signed statement's.
    StatementMismatch,
    /// The payload is not the one whose SHA-256 the statement signs.
    PayloadHashMismatch,
    /// The report could not be read for a reason not listed above (should not happen).
    Internal,
}

impl ReportErrorCode {
    /// The stable code as a string, e.g. `"costs_do_not_sum"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReportTooLarge => "report_too_large",
            Self::InvalidJson => "invalid_json",
            Self::UnsupportedSchemaVersion => "unsupported_schema_version",
            Self::MissingField => "missing_field",
            Self::UnknownField => "unknown_field",
            Self::WrongType => "wrong_type",
            Self::NotAWholeNumber => "not_a_whole_number",
            Self::ValueTooSmall => "value_too_small",
            Self::ValueTooLarge => "value_too_large",
            Self::TextTooLong => "text_too_long",
            Self::TextTooShort => "text_too_short",
            Self::TooManyItems => "too_many_items",
            Self::BadFormat => "bad_format",
            Self::UnknownMunicipality => "unknown_municipality",
            Self::UnknownCounty => "unknown_county",
            Self::OrgNumberCheckDigit => "org_number_check_digit",
            Self::PersonalNumberInText => "personal_number_in_text",
            Self::SchemaViolation => "schema_violation",
            Self::CostsDoNotSum => "costs_do_not_sum",
            Self::OutcomesExceedCaseload => "outcomes_exceed_caseload",
            Self::NewExceedCaseload => "new_exceed_caseload",
            Self::ParticipantsExceedCaseload => "participants_exceed_caseload",
            Self::HousingNightsExceedCaseload => "housing_nights_exceed_caseload",
            Self::IvoReportsExceedDeviations => "ivo_reports_exceed_deviations",
            Self::DuplicateSubcontractor => "duplicate_subcontractor",
            Self::SubcontractorIsProvider => "subcontractor_is_provider",
            Self::StatementMismatch => "statement_mismatch",
            Self::PayloadHashMismatch => "payload_hash_mismatch",
            Self::Internal => "internal",
        }
    }

    /// Every code, for documentation and translation tables.
    pub const ALL: [ReportErrorCode; 29] = [
        Self::ReportTooLarge,
        Self::InvalidJson,
        Self::UnsupportedSchemaVersion,
        Self::MissingField,
        Self::UnknownField,
        Self::WrongType,
        Self::NotAWholeNumber,
        Self::ValueTooSmall,
        Self::ValueTooLarge,
        Self::TextTooLong,
        Self::TextTooShort,
        Self::TooManyItems,
        Self::BadFormat,
        Self::UnknownMunicipality,
        Self::UnknownCounty,
        Self::OrgNumberCheckDigit,
        Self::PersonalNumberInText,
        Self::SchemaViolation,
        Self::CostsDoNotSum,
        Self::OutcomesExceedCaseload,
        Self::NewExceedCaseload,
        Self::ParticipantsExceedCaseload,
        Self::HousingNightsExceedCaseload,
        Self::IvoReportsExceedDeviations,
        Self::DuplicateSubcontractor,
        Self::SubcontractorIsProvider,
        Self::StatementMismatch,
        Self::PayloadHashMismatch,
        Self::Internal,
    ];
}

impl fmt::Display for ReportErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportError {
    /// Where: a JSON pointer (RFC 6901) into the report, `""` for the whole document.
    pub path: String,
    /// What kind of problem, stable for translation.
    pub code: ReportErrorCode,
    /// What is wrong, in English, for a person. Never echoes the offending text, which could
    /// itself be personal data.
    pub message: String,
}

impl ReportError {
    pub(crate) fn new(
        path: impl Into<String>,
        code: ReportErrorCode,
        message: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        write!(f, "{path}: {} ({})", self.message, self.code)
    }
}

/// Every problem found in a report, in document order as far as possible; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(transparent)]
pub struct ReportErrors(pub Vec<ReportError>);

impl ReportErrors {
    /// The problems.
    #[must_use]
    pub fn errors(&self) -> &[ReportError] {
        &self.0
    }

    /// Whether any problem has this code.
    #[must_use]
    pub fn has(&self, code: ReportErrorCode) -> bool {
        self.0.iter().any(|e| e.code == code)
    }
}

impl fmt::Display for ReportErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the report has {} problem(s)", self.0.len())?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}
