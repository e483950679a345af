//! Payloads (report contents, profiles, review comments) for those allowed to read them. Every read
//! is recorded (who, what, when) in the same transaction that reads it.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use insyn_domain::access::{Role, can_read_payload};
use insyn_ledger::entry::{Actor, Body};
use insyn_ledger::id::OrgNumber;
use insyn_store::{Page, PayloadContent, PayloadReader, StoredEntry};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::extract::{PathParam, QueryParams};
use crate::{ApiError, ApiState};

/// A payload by its SHA-256 (hex). Needs an API credential whose role may read it.
#[utoipa::path(get, path = "/api/v1/payloads/{sha256}", tag = "payloads",
    params(("sha256" = String, Path, description = "SHA-256 of the payload, 64 hex characters")),
    security(("bearer" = [])),
    responses((status = 200, description = "The payload's bytes, exactly as signed"),
              (status = 401, description = "No or unknown credential"),
              (status = 403, description = "The credential's role may not read this payload"),
              (status = 404, description = "No entry names this payload"),
              (status = 410, description = "The payload was erased; the entry still verifies")))]
pub(crate) async fn payload(
    State(s): State<ApiState>,
    caller: Caller,
    PathParam(hash): PathParam<String>,
) -> Result<Response, ApiError> {
    let sha256 = parse_hash(&hash)?;
    let entries = s.store.entries_with_payload(&sha256).await?;
    if entries.is_empty() {
        return Err(ApiError::NotFound(
            "no entry names a payload with that hash".into(),
        ));
    }
    let mut allowed = false;
    for e in &entries {
        if may_read(&s, &caller.role, e).await? {
            allowed = true;
            break;
        }
    }
    if !allowed {
        return Err(ApiError::Forbidden(
            "your credential does not allow reading this payload".into(),
        ));
    }
    let reader = PayloadReader {
        who: caller.reference(),
        role: caller.role_name().to_owned(),
    };
    match s.store.read_payload(&sha256, &reader).await? {
        Some(PayloadContent::Present(bytes)) => Ok((
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (header::CACHE_CONTROL, "private, no-store"),
            ],
            bytes,
        )
            .into_response()),
        Some(PayloadContent::Erased { .. }) => Err(ApiError::Gone(
            "this payload was erased; its entry and signature still verify".into(),
        )),
        None => Err(ApiError::NotFound(
            "the payload is not stored on this server".into(),
        )),
    }
}

/// The provider an entry's payload is by or about, if any.
async fn provider_of(s: &ApiState, e: &StoredEntry) -> Result<Option<OrgNumber>, ApiError> {
    let st = e.entry.statement();
    if let Actor::Provider(p) = st.actor() {
        return Ok(Some(*p));
    }
    Ok(match st.body() {
        Body::ProviderRegistered { provider } | Body::ContractRegistered { provider, .. } => {
            Some(*provider)
        }
        Body::ReportReviewed { report, .. } => match s.store.entry(*report).await? {
            Some(r) => match r.entry.statement().actor() {
                Actor::Provider(p) => Some(*p),
                _ => None,
            },
            None => None,
        },
        _ => None,
    })
}

async fn may_read(s: &ApiState, role: &Role, e: &StoredEntry) -> Result<bool, ApiError> {
    let Some(provider) = provider_of(s, e).await? else {
        // Operator payloads concern no provider: only roles that see everything read them.
        return Ok(matches!(role, Role::Inspector));
    };
    let contracting = match role {
        Role::Auditor(m) if s.store.has_contract(*m, &provider).await? => vec![*m],
        _ => Vec::new(),
    };
    Ok(can_read_payload(role, &provider, &contracting))
}

fn parse_hash(hash: &str) -> Result<[u8; 32], ApiError> {
    hex::decode(hash)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ApiError::BadRequest("the payload hash must be 64 hex characters".into()))
}

/// One recorded read of a payload.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PayloadRead {
    /// The audit row's number (increasing; use it as `after` for the next page).
    pub id: u64,
    /// Who read it: a pseudonymous reference such as `credential:3` or `account:7`.
    pub reader: String,
    /// The reader's role.
    pub role: String,
    /// When, Unix milliseconds.
    pub at_ms: u64,
}

/// A page of the read audit.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadsQuery {
    /// Return reads after this audit id.
    pub after: Option<u64>,
    /// At most this many (1 to 1000, default 100).
    pub limit: Option<u64>,
}

/// Every recorded read of a payload (who, role, when). Inspectors only.
#[utoipa::path(get, path = "/api/v1/payloads/{sha256}/reads", tag = "payloads",
    params(("sha256" = String, Path, description = "SHA-256 of the payload, hex"), ReadsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = [PayloadRead]), (status = 401, description = "No credential"),
              (status = 403, description = "Not an inspector")))]
pub(crate) async fn reads(
    State(s): State<ApiState>,
    caller: Caller,
    PathParam(hash): PathParam<String>,
    QueryParams(q): QueryParams<ReadsQuery>,
) -> Result<Json<Vec<PayloadRead>>, ApiError> {
    if !insyn_domain::access::can_see_access_log(&caller.role) {
        return Err(ApiError::Forbidden(
            "only inspectors see who read a payload".into(),
        ));
    }
    let sha256 = parse_hash(&hash)?;
    let page = Page {
        after: q.after,
        limit: q.limit.unwrap_or(100),
    };
    let rows = s.store.payload_reads(&sha256, page).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| PayloadRead {
                id: r.id,
                reader: r.reader.who,
                role: r.reader.role,
                at_ms: r.at_ms,
            })
            .collect(),
    ))
}
