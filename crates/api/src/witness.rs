//! Witness cosignatures (C2SP tlog-cosignature/v1): witnesses post their cosignature of a
//! published checkpoint; the server checks it against the key the witness names, stores it, and
//! publishes the checkpoint with every cosignature appended. Readers decide which witnesses they
//! trust by their keys, so a cosignature from an unknown witness is harmless: it is only ever a
//! claim that the named key signed this checkpoint, and that claim is checked here and by them.
//!
//! The server can also fetch cosignatures itself: [`push`] sends each new checkpoint to the
//! witnesses it is configured with (C2SP tlog-witness) and stores what they return.

pub(crate) mod push;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use insyn_ledger::note::{CosignerVerifier, LogVerifier};
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
    let created = accept_cosignature(
        &s.store,
        &s.log,
        &witness,
        sub.checkpoint_size,
        &sub.cosignature,
    )
    .await?;
    Ok(if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}

/// Checks one cosignature line of `witness` over the published checkpoint of `checkpoint_size`
/// and stores it: the one way a cosignature reaches the store, whether a witness posts it
/// (`POST /api/v1/cosignatures`) or the server fetched it by pushing its checkpoint
/// ([`push`]). Returns whether it is new (`false`: the same line was stored before).
///
/// # Errors
/// [`ApiError::BadRequest`] for anything but one signature line of the witness,
/// [`ApiError::NotFound`] for an unknown checkpoint, [`ApiError::Invalid`] when it does not
/// verify, [`ApiError::Conflict`] when the witness cosigned this checkpoint differently before,
/// database errors otherwise.
pub(crate) async fn accept_cosignature(
    store: &insyn_store::Store,
    log: &LogVerifier,
    witness: &CosignerVerifier,
    checkpoint_size: u64,
    cosignature: &str,
) -> Result<bool, ApiError> {
    let line = cosignature.trim_end_matches('\n');
    if line.contains('\n') || !line.starts_with(&format!("\u{2014} {} ", witness.name())) {
        return Err(ApiError::BadRequest(
            "cosignature must be one signature line of the named witness".into(),
        ));
    }
    let line = format!("{line}\n");
    let cp = store
        .checkpoint(checkpoint_size)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no checkpoint of size {checkpoint_size}")))?;
    let mut note = cp.note.into_bytes();
    note.extend_from_slice(line.as_bytes());
    let verified = log
        .verify_cosigned_checkpoint(&note, std::slice::from_ref(witness))
        .ok()
        .is_some_and(|v| v.cosignatures.iter().any(|c| c.name == witness.name()));
    if !verified {
        return Err(ApiError::Invalid {
            message: "the cosignature does not verify with the witness key over this checkpoint"
                .into(),
            problems: Vec::new(),
        });
    }
    match store
        .add_cosignature(witness.name(), checkpoint_size, &line)
        .await
    {
        Ok(created) => Ok(created),
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
