//! `GET /healthz`: whether this server can reach its database, for load balancers and operators.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{ApiError, ApiState};

/// The server's health when it can serve.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok` in a 200 answer.
    pub status: String,
    /// Always `reachable` in a 200 answer: the latest checkpoint was just read from it.
    pub database: String,
    /// The size of the latest checkpoint.
    pub size: u64,
}

/// Reads the latest checkpoint from the database: 200 when that works, 503 problem+json with
/// `Retry-After` when the database cannot be reached (nothing can be stored then either).
#[utoipa::path(get, path = "/healthz", tag = "log",
    responses((status = 200, body = Health),
              (status = 503, description = "The database cannot be reached", body = crate::error::Problem, content_type = "application/problem+json")))]
pub(crate) async fn healthz(State(s): State<ApiState>) -> Result<Json<Health>, ApiError> {
    let size = s.store.latest_checkpoint().await?.map_or(0, |c| c.size);
    Ok(Json(Health {
        status: "ok".to_owned(),
        database: "reachable".to_owned(),
        size,
    }))
}
