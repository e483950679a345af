//! Witness cosignatures (C2SP tlog-cosignature/v1): witnesses post their cosignature of a
//! published checkpoint; the server checks it against the key the witness names, stores it, and
//! publishes the checkpoint with every cosignature appended. Readers decide which witnesses they
//! trust by their keys, so a cosignature from an unknown witness is harmless: it is only ever a
//! claim that the named key signed this checkpoint, and that claim is checked here and by them.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use insyn_ledger::note::CosignerVerifier;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::JsonBody;
use crate::{ApiError, ApiState};

/// A witness's cosignature of one published checkpoint.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CosignatureSubmission {
    /// The witness's cosigner verifier key, `name+keyhash+base64` (signature type 0x04).
    pub(crate) witness_key: String,
    /// The size of the published checkpoint it cosigns.
    pub(crate) checkpoint_size: u64,
    /// The cosignature line, `— name base64(keyhash || timestamp || signature)`.
    pub(crate) cosignature: String,
}

/// Accepts a witness's cosignature of a published checkpoint after verifying it.
#[utoipa::path(post, path = "/api/v1/cosignatures", tag = "log", request_body = CosignatureSubmission,
    responses((status = 201, description = "Stored"), (status = 200, description = "Already stored"),
              (status = 400, description = "Malformed"), (status = 404, description = "No such checkpoint"),
              (status = 409, description = "The witness already cosigned this checkpoint differently"),
              (status = 422, description = "The cosignature does not verify")))]
pub(crate) async fn add_cosignature(
    State(s): State<ApiState>,
    JsonBody(sub): JsonBody<CosignatureSubmission>,
) -> Result<StatusCode, ApiError> {
    let witness = CosignerVerifier::from_verifier_key(&sub.witness_key)
        .map_err(|e| ApiError::BadRequest(format!("witness_key: {e}")))?;
    let line = sub.cosignature.trim_end_matches('\n');
    if line.contains('\n') || !line.starts_with(&format!("\u{2014} {} ", witness.name())) {
        return Err(ApiError::BadRequest(
            "cosignature must be one signature line of the named witness".into(),
        ));
    }
    let line = format!("{line}\n");
    let cp = s
        .store
        .checkpoint(sub.checkpoint_size)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!("no checkpoint of size {}", sub.checkpoint_size))
        })?;
    let mut note = cp.note.into_bytes();
    note.extend_from_slice(line.as_bytes());
    let verified = s
        .log
        .verify_cosigned_checkpoint(&note, std::slice::from_ref(&witness))
        .ok()
        .is_some_and(|v| v.cosignatures.iter().any(|c| c.name == witness.name()));
    if !verified {
        return Err(ApiError::Invalid {
            message: "the cosignature does not verify with the witness key over this checkpoint"
                .into(),
            problems: Vec::new(),
        });
    }
    match s
        .store
        .add_cosignature(witness.name(), sub.checkpoint_size, &line)
        .await
    {
        Ok(true) => Ok(StatusCode::CREATED),
        Ok(false) => Ok(StatusCode::OK),
        Err(insyn_store::StoreError::InvalidInput(msg)) => Err(ApiError::Conflict(msg)),
        Err(e) => Err(e.into()),
    }
}

/// The latest checkpoint with every stored cosignature appended (a C2SP signed note).
#[utoipa::path(get, path = "/api/v1/checkpoints/latest/cosigned", tag = "log",
    responses((status = 200, description = "The cosigned checkpoint note", content_type = "text/plain"),
              (status = 404, description = "No checkpoint yet")))]
pub(crate) async fn latest_cosigned(State(s): State<ApiState>) -> Result<Response, ApiError> {
    let cp = s
        .store
        .latest_checkpoint()
        .await?
        .ok_or_else(|| ApiError::NotFound("the log has no checkpoint yet".into()))?;
    let mut text = cp.note;
    for c in s.store.cosignatures(cp.size).await? {
        text.push_str(&c.signature);
        if !c.signature.ends_with('\n') {
            text.push('\n');
        }
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}
