//! Submissions: a signed statement and its payload in, a receipt out.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use insyn_ledger::entry::{Kind, SignedStatement};
use insyn_store::{Candidate, ReportFigures, SubmitError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::JsonBody;
use crate::ratelimit::RateLimits;
use crate::{ApiError, ApiState, FieldProblem};

/// A signed statement as a provider, municipality or operator submits it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// The canonical statement bytes, base64 (see docs/FORMAT.md).
    pub statement: String,
    /// The Ed25519 signature over `insyn/entry/v1\n || statement`, base64.
    pub signature: String,
    /// The payload whose SHA-256 the statement names (the report JSON, say), base64; `null` when
    /// the statement names none.
    pub payload: Option<String>,
}

fn b64(field: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    B64.decode(text)
        .map_err(|_| ApiError::BadRequest(format!("`{field}` is not valid base64")))
}

/// Submits a signed statement. The answer is a receipt: the entry, its index, a signed checkpoint
/// that contains it and the inclusion proof (`insyn-receipt/v1`, see docs/FORMAT.md). The same
/// signed statement sent again returns the same receipt (200) instead of a second entry (201).
#[utoipa::path(post, path = "/api/v1/entries", tag = "submissions", request_body = Submission,
    responses(
        (status = 201, description = "Integrated; the body is the receipt", content_type = "application/json"),
        (status = 200, description = "Already in the log; the body is its receipt", content_type = "application/json"),
        (status = 400, description = "Malformed request", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused; every problem is listed, nothing was stored", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address or in this signer's name; retry after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The ledger cannot store anything right now; retry", body = crate::error::Problem, content_type = "application/problem+json")))]
pub(crate) async fn submit(
    State(s): State<ApiState>,
    limits: Option<Extension<Arc<RateLimits>>>,
    JsonBody(sub): JsonBody<Submission>,
) -> Result<Response, ApiError> {
    let statement = b64("statement", &sub.statement)?;
    let signature = b64("signature", &sub.signature)?;
    let payload = sub
        .payload
        .as_deref()
        .map(|p| b64("payload", p))
        .transpose()?;
    let signed = SignedStatement::from_parts(&statement, &signature)
        .map_err(|e| ApiError::BadRequest(format!("the statement does not decode: {e}")))?;
    if let Some(Extension(limits)) = limits {
        limits.check_actor(signed.statement().actor())?;
    }

    // Stateless checks first, so a bad report never waits for the sequencer.
    let candidate = candidate(signed, payload)?;
    match s.sequencer.try_submit(candidate).await {
        Ok(accepted) => {
            let status = if accepted.duplicate {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            Ok((
                status,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                accepted.receipt.to_json(),
            )
                .into_response())
        }
        Err(SubmitError::Rejected(problems)) => Err(ApiError::Invalid {
            message: format!(
                "the statement breaks {} rule(s) of the ledger; nothing was stored",
                problems.len()
            ),
            problems: problems
                .into_iter()
                .map(|p| FieldProblem::new("", p.code.as_str(), p.message))
                .collect(),
        }),
        Err(SubmitError::Unavailable(why)) => {
            tracing::warn!(%why, "a submission's batch could not be stored");
            Err(ApiError::Unavailable(
                "the ledger cannot store submissions right now; nothing was stored, try again shortly".into(),
            ))
        }
        Err(SubmitError::Overloaded) => Err(ApiError::Unavailable(
            "the ledger is overloaded; nothing was stored, try again shortly".into(),
        )),
        Err(SubmitError::Closed) => Err(ApiError::Unavailable(
            "the ledger is shutting down; nothing was stored, try again shortly".into(),
        )),
    }
}

/// A submission's checks that need no ledger state, and the candidate they make: a report or
/// correction must carry a payload that is a valid report for its statement (every problem is
/// listed), and the payload must hash to what the statement names. A report's candidate carries
/// its figures for the portal's charts. The API and the demo both submit through this.
///
/// # Errors
/// [`ApiError::Invalid`] with every problem found; nothing is stored.
pub fn candidate(signed: SignedStatement, payload: Option<Vec<u8>>) -> Result<Candidate, ApiError> {
    let mut figures = None;
    if matches!(
        signed.statement().kind(),
        Kind::ReportSubmitted | Kind::ReportCorrected
    ) {
        let bytes = payload.as_deref().ok_or_else(|| ApiError::Invalid {
            message: "a report statement needs its report as the payload; nothing was stored"
                .into(),
            problems: vec![FieldProblem::new(
                "/payload",
                "payload.missing",
                "the report JSON is missing",
            )],
        })?;
        let report = insyn_domain::report::validate_report_for(bytes, signed.statement()).map_err(
            |errors| {
                let problems: Vec<FieldProblem> = errors
                    .errors()
                    .iter()
                    .map(|e| {
                        FieldProblem::new(
                            format!("/payload{}", e.path),
                            e.code.as_str(),
                            e.message.clone(),
                        )
                    })
                    .collect();
                ApiError::Invalid {
                    message: format!(
                        "the report has {} problem(s); nothing was stored",
                        problems.len()
                    ),
                    problems,
                }
            },
        )?;
        figures = Some(ReportFigures {
            invoiced_sek: report.costs_sek.total_invoiced,
            active: report.caseload.active,
        });
    }
    let candidate = Candidate::new(signed, payload).map_err(|e| ApiError::Invalid {
        message: format!("{e}; nothing was stored"),
        problems: vec![FieldProblem::new("/payload", "payload.hash", e.to_string())],
    })?;
    Ok(match figures {
        Some(f) => candidate.with_figures(f),
        None => candidate,
    })
}
