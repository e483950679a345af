//! JSON reads of the log: entries by index, inclusion and consistency proofs, the log's state.

use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use insyn_ledger::entry::Entry;
use insyn_ledger::hash::{Hash, from_base64, from_hex};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{PathParam, QueryParams};
use crate::{ApiError, ApiState};

/// The log's identity and current state.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogInfo {
    /// The checkpoint origin (the note key name).
    pub origin: String,
    /// The note verifier key, `name+keyhash+base64`.
    pub verifier_key: String,
    /// The number of entries.
    pub size: u64,
    /// The latest signed checkpoint note, if any.
    pub checkpoint: Option<String>,
}

/// The log's identity, size and latest checkpoint.
#[utoipa::path(get, path = "/api/v1/log", tag = "log", responses((status = 200, body = LogInfo)))]
pub(crate) async fn log_info(State(s): State<ApiState>) -> Result<Json<LogInfo>, ApiError> {
    let cp = s.store.latest_checkpoint().await?;
    Ok(Json(LogInfo {
        origin: s.log.name().to_owned(),
        verifier_key: s.log.verifier_key(),
        size: cp.as_ref().map_or(0, |c| c.size),
        checkpoint: cp.map(|c| c.note),
    }))
}

/// One entry, with its statement's fields decoded for convenience. `entry` is authoritative.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntryView {
    /// The leaf index.
    pub index: u64,
    /// The canonical entry bytes, base64: what the leaf hash covers.
    pub entry: String,
    /// The RFC 6962 leaf hash, base64.
    pub leaf_hash: String,
    /// The entry kind, e.g. `report-submitted`.
    pub kind: String,
    /// Who signed it, e.g. `provider:5560360793`.
    pub actor: String,
    /// The signing key's ID (hex).
    pub key_id: String,
    /// SHA-256 of the payload (hex), when the entry has one.
    pub payload_sha256: Option<String>,
    /// When the log integrated it, Unix milliseconds.
    pub integrated_at_ms: u64,
}

impl EntryView {
    pub(crate) fn new(index: u64, entry: &Entry, bytes: &[u8], leaf_hash: &Hash) -> Self {
        let st = entry.statement();
        Self {
            index,
            entry: B64.encode(bytes),
            leaf_hash: leaf_hash.to_string(),
            kind: st.kind().name().to_owned(),
            actor: insyn_store::actor_key(st.actor()),
            key_id: st.key_id().to_string(),
            payload_sha256: st.payload_sha256().map(hex::encode),
            integrated_at_ms: entry.integrated_at_ms(),
        }
    }
}

/// The entry at a leaf index.
#[utoipa::path(get, path = "/api/v1/entries/{index}", tag = "log",
    params(("index" = u64, Path, description = "Leaf index")),
    responses((status = 200, body = EntryView), (status = 404, description = "No such entry")))]
pub(crate) async fn entry(
    State(s): State<ApiState>,
    PathParam(index): PathParam<u64>,
) -> Result<Json<EntryView>, ApiError> {
    let e = s
        .store
        .entry(index)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("the log has no entry {index}")))?;
    Ok(Json(EntryView::new(
        e.index,
        &e.entry,
        &e.bytes,
        &e.leaf_hash,
    )))
}

/// Which leaf to prove, and in which tree.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The leaf index (give this or `leaf_hash`).
    pub index: Option<u64>,
    /// The leaf hash, hex or base64 (give this or `index`).
    pub leaf_hash: Option<String>,
    /// The tree size to prove against; default: the latest checkpoint's.
    pub size: Option<u64>,
}

/// An inclusion proof.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InclusionProof {
    /// The leaf index.
    pub index: u64,
    /// The tree size the proof is for.
    pub size: u64,
    /// The RFC 6962 audit path, base64 hashes, leaf to root.
    pub proof: Vec<String>,
}

/// Proves that an entry is in the tree of a given size.
#[utoipa::path(get, path = "/api/v1/proofs/inclusion", tag = "proofs", params(InclusionQuery),
    responses((status = 200, body = InclusionProof), (status = 400, description = "Bad query"),
              (status = 404, description = "No such leaf in that tree")))]
pub(crate) async fn inclusion(
    State(s): State<ApiState>,
    QueryParams(q): QueryParams<InclusionQuery>,
) -> Result<Json<InclusionProof>, ApiError> {
    let size = match q.size {
        Some(size) => size,
        None => s.store.latest_checkpoint().await?.map_or(0, |c| c.size),
    };
    let (index, proof) = match (q.index, q.leaf_hash) {
        (Some(index), None) => {
            if index >= size {
                return Err(ApiError::NotFound(format!(
                    "leaf {index} is not in the tree of size {size}"
                )));
            }
            (index, s.store.inclusion_proof(index, size).await?)
        }
        (None, Some(h)) => {
            let hash = from_hex(&h).or_else(|_| from_base64(&h)).map_err(|_| {
                ApiError::BadRequest("leaf_hash must be 32 bytes in hex or base64".into())
            })?;
            s.store
                .inclusion_proof_by_leaf_hash(&hash, size)
                .await?
                .ok_or_else(|| {
                    ApiError::NotFound(format!(
                        "no entry with that leaf hash in the tree of size {size}"
                    ))
                })?
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give exactly one of `index` and `leaf_hash`".into(),
            ));
        }
    };
    Ok(Json(InclusionProof {
        index,
        size,
        proof: proof.iter().map(ToString::to_string).collect(),
    }))
}

/// The two tree sizes of a consistency proof.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The older, smaller tree size.
    pub from: u64,
    /// The newer, larger tree size; default: the latest checkpoint's.
    pub to: Option<u64>,
}

/// A consistency proof.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProof {
    /// The older tree size.
    pub from: u64,
    /// The newer tree size.
    pub to: u64,
    /// The RFC 6962 consistency proof, base64 hashes.
    pub proof: Vec<String>,
}

/// Proves that the tree of size `to` extends the tree of size `from`.
#[utoipa::path(get, path = "/api/v1/proofs/consistency", tag = "proofs", params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProof), (status = 400, description = "Bad sizes")))]
pub(crate) async fn consistency(
    State(s): State<ApiState>,
    QueryParams(q): QueryParams<ConsistencyQuery>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let to = match q.to {
        Some(to) => to,
        None => s.store.latest_checkpoint().await?.map_or(0, |c| c.size),
    };
    if q.from > to {
        return Err(ApiError::BadRequest(format!(
            "from ({}) must not be larger than to ({to})",
            q.from
        )));
    }
    let proof = s.store.consistency_proof(q.from, to).await?;
    Ok(Json(ConsistencyProof {
        from: q.from,
        to,
        proof: proof.iter().map(ToString::to_string).collect(),
    }))
}

/// The published JSON Schema of activity reports, version 1.
#[utoipa::path(get, path = "/api/v1/schema/report-v1.json", tag = "reports",
    responses((status = 200, description = "JSON Schema (draft 2020-12)", content_type = "application/schema+json")))]
pub(crate) async fn report_schema() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/schema+json")],
        Json(insyn_domain::report::report_schema_json()),
    )
}
