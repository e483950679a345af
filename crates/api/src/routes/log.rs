//! The C2SP tlog-tiles read endpoints (`/checkpoint`, `/tile/…`) and the log's verifier key.

use axum::extract::State;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use insyn_ledger::tile::Tile;

use crate::{ApiError, ApiState};

const TEXT: &str = "text/plain; charset=utf-8";

/// The latest signed checkpoint, a C2SP signed note whose key name is the log's origin.
#[utoipa::path(get, path = "/checkpoint", tag = "tlog-tiles",
    responses((status = 200, description = "The latest checkpoint as a signed note", content_type = "text/plain"),
              (status = 404, description = "The log has no checkpoint yet")))]
pub(crate) async fn checkpoint(State(s): State<ApiState>) -> Result<Response, ApiError> {
    let cp = s
        .store
        .latest_checkpoint()
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::NotFound("the log has no checkpoint yet".into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(TEXT)),
            // Clients poll the checkpoint; a second of caching spares the database under load.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=1"),
            ),
        ],
        cp.note,
    )
        .into_response())
}

/// The log's note verifier key, `name+keyhash+base64`.
#[utoipa::path(get, path = "/verifier-key", tag = "tlog-tiles",
    responses((status = 200, description = "The log's verifier key", content_type = "text/plain")))]
pub(crate) async fn verifier_key(State(s): State<ApiState>) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(TEXT))],
        format!("{}\n", s.log.verifier_key()),
    )
        .into_response()
}

/// A hash tile or an entry bundle at its C2SP tlog-tiles path.
#[utoipa::path(get, path = "/tile/{path}", tag = "tlog-tiles",
    params(("path" = String, Path, description = "`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`, N in the x001/x234/067 encoding")),
    responses((status = 200, description = "The tile's bytes", content_type = "application/octet-stream"),
              (status = 400, description = "Not a tile path"),
              (status = 404, description = "The log is not yet that large")))]
pub(crate) async fn tile(State(s): State<ApiState>, uri: Uri) -> Result<Response, ApiError> {
    // The path as sent, not percent-decoded: a tile has exactly one URL, so `x001%2F234` is not
    // another name for `x001/234` (caches and mirrors key tiles by their URL).
    let raw = uri.path().strip_prefix('/').unwrap_or_default();
    let tile = Tile::parse_path(raw).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let data = s
        .store
        .tile(&tile)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::NotFound(format!("{} does not exist yet", tile.path())))?;
    // The bytes at a tile path never change (the log only grows, and a partial tile names its
    // width), so every tile that exists may be cached forever.
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        data,
    )
        .into_response())
}
