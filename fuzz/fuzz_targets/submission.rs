//! Fuzz target: the body of `POST /api/v1/entries`, through the steps the handler takes
//! (`crates/api/src/submit.rs`) with the same types and functions: the API's `Submission` JSON,
//! base64, `SignedStatement::from_parts`, the report checks for report statements, and the
//! payload hash check of `Candidate::new`. Nothing may panic.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use insyn_ledger::entry::{Kind, SignedStatement};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sub) = serde_json::from_slice::<insyn_api::Submission>(data) else {
        return;
    };
    let (Ok(statement), Ok(signature)) = (B64.decode(&sub.statement), B64.decode(&sub.signature))
    else {
        return;
    };
    let Ok(payload) = sub.payload.as_deref().map(|p| B64.decode(p)).transpose() else {
        return;
    };
    let Ok(signed) = SignedStatement::from_parts(&statement, &signature) else {
        return;
    };
    if matches!(
        signed.statement().kind(),
        Kind::ReportSubmitted | Kind::ReportCorrected
    ) && let Some(bytes) = &payload
    {
        let _ = insyn_domain::report::validate_report_for(bytes, signed.statement());
    }
    let _ = insyn_store::Candidate::new(signed, payload);
});
